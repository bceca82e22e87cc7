package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicedata/sluice/internal/vfs"
)

// smallWriteBytes is the write before each of disk's single fdatasyncs:
// the size of a small group commit.
const smallWriteBytes = 4 << 10

// runDisk measures the disk under Dir as storage uses it: through vfs,
// whose File.Sync is fdatasync. It writes DiskBytes sequentially with an
// fdatasync after each DiskBlock (bandwidth, and the latency of a large
// sync), then times DiskSyncs single fdatasyncs after a 4 KiB write each
// (the latency of a small group commit). Its files are removed at the end.
func runDisk(ctx context.Context, cfg *Config) (*Result, error) {
	fs := vfs.Default()
	dir, err := os.MkdirTemp(cfg.Dir, "sluice-bench-disk-")
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	defer os.RemoveAll(dir)
	ctr := &counters{}
	p := startProgress(cfg.Progress, "disk", ctr)
	elapsed, blockLat, err := writeSynced(ctx, fs, filepath.Join(dir, "sequential"), cfg.DiskBytes, cfg.DiskBlock, ctr)
	if err == nil {
		// Free the space first: the single syncs should not pay for it.
		err = os.Remove(filepath.Join(dir, "sequential"))
	}
	var syncLat *Histogram
	if err == nil {
		_, syncLat, err = writeSynced(ctx, fs, filepath.Join(dir, "small"), int64(cfg.DiskSyncs)*smallWriteBytes, smallWriteBytes, &counters{})
	}
	p.end()
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	res := ctr.result(ModeDisk, elapsed)
	res.Calls = int64(blockLat.Count() + syncLat.Count())
	res.Latency.BlockFsync = blockLat.Summary()
	res.Latency.Fsync = syncLat.Summary()
	res.Settings = cfg.settings()
	return &res, nil
}

// writeSynced writes size bytes to a new file in blocks, with an
// fdatasync after each, and returns the time taken and the syncs'
// latencies. It stops early, without error, when ctx ends.
func writeSynced(ctx context.Context, fs vfs.FS, name string, size int64, block int, ctr *counters) (time.Duration, *Histogram, error) {
	f, err := fs.Create(name)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	// Random bytes, so that a compressing filesystem writes them all.
	buf := make([]byte, block)
	rng := rand.NewChaCha8([32]byte{'s', 'l', 'u', 'i', 'c', 'e'})
	rng.Read(buf)
	var lat Histogram
	start := time.Now()
	for off := int64(0); off < size && ctx.Err() == nil; off += int64(block) {
		n := int(min(int64(block), size-off))
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return 0, nil, fmt.Errorf("write %s at %d: %w", name, off, err)
		}
		t := time.Now()
		if err := f.Sync(); err != nil {
			return 0, nil, fmt.Errorf("fdatasync %s: %w", name, err)
		}
		lat.Record(time.Since(t))
		ctr.bytes.Add(int64(n))
	}
	return time.Since(start), &lat, nil
}
