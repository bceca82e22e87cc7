package storage

import (
	"bytes"
	"io"
	"testing"

	"github.com/sluicedata/sluice/internal/vfs"
)

// segmentFile returns the bytes of the segment file at path in fs.
func segmentFile(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b
}

// TestPrealloc: a busy active segment carries zeros after its last batch;
// rolls, Close and recovery from a crash all leave segments that end at
// their last batch, and nothing acknowledged is lost.
func TestPrealloc(t *testing.T) {
	const chunk = 1024
	mem := vfs.NewMem()
	opts := Options{PreallocBytes: chunk, SegmentBytes: 16 << 10}
	s := openStore(t, mem, opts)
	l := createShard(t, s, crashKey)
	n := 0
	for l.mu.fileEnd == l.mu.writePos {
		mustAppend(t, l, entries(n, 2, 100), int64(1000+n))
		n += 2
		if n > 100 {
			t.Fatalf("no preallocation after %d records (%d bytes of batches)", n, l.mu.writePos)
		}
	}
	if l.mu.writePos < chunk {
		t.Fatalf("preallocated with %d bytes of batches, before the %d the option asks for", l.mu.writePos, chunk)
	}
	b := segmentFile(t, mem, segPath(0))
	if int64(len(b)) != l.mu.fileEnd || len(b)-int(l.mu.writePos) < chunk/2 {
		t.Fatalf("file of %d bytes, last batch ends at %d, fileEnd %d", len(b), l.mu.writePos, l.mu.fileEnd)
	}
	if !bytes.Equal(b[l.mu.writePos:], make([]byte, len(b)-int(l.mu.writePos))) {
		t.Fatal("preallocated space is not zeros")
	}

	// A crash with synced zeros after the last batch: recovery cuts them.
	crashed := mem.CrashClone()
	r := reopen(t, crashed, opts)
	if r.Err() != nil || r.End() != uint64(n) {
		t.Fatalf("after a crash: Err %v End %d, want nil %d", r.Err(), r.End(), n)
	}
	checkRecords(t, readAll(t, r, 0), 0, 100)
	if got := len(segmentFile(t, crashed, segPath(0))); int64(got) != r.mu.writePos {
		t.Fatalf("after recovery the segment has %d bytes, its last batch ends at %d", got, r.mu.writePos)
	}

	// Write through several rolls: every sealed segment ends at its last
	// batch, so its index files match it.
	for len(l.mu.segs) < 4 {
		mustAppend(t, l, entries(n, 5, 100), int64(1000+n))
		n += 5
	}
	for _, seg := range l.mu.segs[:len(l.mu.segs)-1] {
		if got := int64(len(segmentFile(t, mem, seg.path))); got != seg.sealed.size {
			t.Fatalf("sealed segment %s: %d bytes, index says %d", seg.path, got, seg.sealed.size)
		}
	}
	mustAppend(t, l, entries(n, 9, 100), int64(1000+n))
	n += 9
	active := l.activeSegment().path
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Close cut and synced the zeros: even a crash right after it leaves
	// the segment at its last batch, as the index files say.
	for name, fs := range map[string]*vfs.MemFS{"clean": mem, "crash after Close": mem.CrashClone()} {
		b := segmentFile(t, fs, active)
		r := reopen(t, fs, opts)
		if r.Err() != nil || r.End() != uint64(n) || int64(len(b)) != r.mu.writePos {
			t.Fatalf("%s: Err %v End %d (want %d), file %d bytes, last batch ends at %d",
				name, r.Err(), r.End(), n, len(b), r.mu.writePos)
		}
		checkRecords(t, readAll(t, r, 0), 0, 100)
		r.Close()
	}
}

// TestPreallocCorruptionStillFound: zeros after the last batch do not hide
// damage before them. A flipped byte in a middle batch is corruption, not
// a torn tail, with preallocated space behind it.
func TestPreallocCorruptionStillFound(t *testing.T) {
	mem := vfs.NewMem()
	opts := Options{PreallocBytes: 1024}
	s := openStore(t, mem, opts)
	l := createShard(t, s, crashKey)
	for i := 0; i < 40; i++ {
		mustAppend(t, l, entries(i, 1, 100), int64(1000+i))
	}
	if l.mu.fileEnd <= l.mu.writePos {
		t.Fatal("no preallocated space after 40 batches")
	}
	pos := l.mu.entries[0].pos + 60 // inside the first batch's records
	crashed := mem.CrashClone()
	f, err := crashed.OpenReadWrite(segPath(0))
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0}
	f.ReadAt(b, int64(pos))
	b[0] ^= 0xff
	f.WriteAt(b, int64(pos))
	f.Sync()
	f.Close()
	o, _ := quietOptions(t, opts).withDefaults()
	r, err := openShardLog(crashed, shardPath, crashKey, o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	asCorruption(t, r.Err())
}
