package storage

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedata/sluice/internal/vfs"
)

const crashKey = "s/1"

var shardPath = filepath.Join(memDir, shardsDirName, crashKey)

func segPath(base uint64) string { return filepath.Join(shardPath, segmentName(base, segmentSuffix)) }

// reopen opens the crash key's log on fs directly, as a restarted process
// would, and closes it when the test ends.
func reopen(t *testing.T, fs vfs.FS, o Options) *ShardLog {
	t.Helper()
	o, _ = quietOptions(t, o).withDefaults()
	l, err := openShardLog(fs, shardPath, crashKey, o)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// crashPoint takes a CrashClone of mem just before the nth Sync, SyncDir
// or filesystem sync (any file), recording how many records were acknowledged at that moment.
type crashPoint struct {
	mem   *vfs.MemFS
	n     int
	calls int
	acked *int
	clone *vfs.MemFS
	at    int // acked records when cloned
}

func (c *crashPoint) MaybeError(op vfs.Op, path string) error {
	if op != vfs.OpSync && op != vfs.OpSyncDir && op != vfs.OpSyncFS {
		return nil
	}
	c.calls++
	if c.calls == c.n {
		c.clone, c.at = c.mem.CrashClone(), *c.acked
	}
	return nil
}

// TestCrashAtEverySync crashes (by cloning the synced state) before each
// sync of a workload that rolls segments, and checks that every
// acknowledged record survives, that at most the batch in flight is added,
// and that no partial batch is ever visible.
func TestCrashAtEverySync(t *testing.T) {
	crashAtEverySync(t, Options{SegmentBytes: 600, IndexIntervalBytes: 100}, nil)
}

// crashAtEverySync runs the crash workload; batch i is appended under
// keyRefs[i] if keyRefs is not nil.
func crashAtEverySync(t *testing.T, opts Options, keyRefs []string) {
	batchSizes := []int{1, 3, 2, 5, 1, 1, 4, 2, 6, 1, 3, 3}
	for n := 1; ; n++ {
		mem := vfs.NewMem()
		acked := -1 // the shard may not exist yet
		cp := &crashPoint{mem: mem, n: n, acked: &acked}
		s := openStore(t, vfs.NewErrorFS(mem, cp), opts)
		l := createShard(t, s, crashKey)
		acked = 0
		inFlight := map[int]int{} // acked count before a batch -> its size
		for i, c := range batchSizes {
			inFlight[acked] = c
			ref := ""
			if keyRefs != nil {
				ref = keyRefs[i]
			}
			appendWithKey(t, l, entries(acked, c, 40), int64(i), ref)
			acked += c
		}
		s.Close()
		if cp.clone == nil {
			if n < 10 {
				t.Fatalf("workload made only %d syncs", cp.calls)
			}
			return
		}
		t.Run(fmt.Sprintf("crash before sync %d", n), func(t *testing.T) {
			if cp.at < 0 {
				o, _ := quietOptions(t, opts).withDefaults()
				r, err := openShardLog(cp.clone, shardPath, crashKey, o)
				if errors.Is(err, ErrShardNotFound) {
					return
				}
				if err != nil || r.End() != 0 || r.Err() != nil {
					t.Fatalf("crash during CreateShard: %v", err)
				}
				r.Close()
				return
			}
			r := reopen(t, cp.clone, opts)
			end := int(r.End())
			if r.Err() != nil || (end != cp.at && end != cp.at+inFlight[cp.at]) {
				t.Fatalf("after crash: End %d Err %v; acknowledged %d, in flight %d", end, r.Err(), cp.at, inFlight[cp.at])
			}
			checkRecords(t, readAll(t, r, 0), 0, 40)
			// The recovered log takes appends again, and keeps them.
			mustAppend(t, r, entries(end, 2, 40), 100)
			checkRecords(t, readAll(t, r, 0), 0, 40)
		})
	}
}

// batchPositions returns the byte positions of the batches in a segment.
func batchPositions(t *testing.T, fs vfs.FS, path string) []int64 {
	t.Helper()
	b := readFileBytes(t, fs, path)
	var out []int64
	p := int64(le.Uint16(b[6:])) // the header's length
	for p < int64(len(b)) {
		h, reason := parseBatchHeader(b[p:])
		if reason != "" {
			t.Fatalf("%s at %d: %s", path, p, reason)
		}
		out = append(out, p)
		p += h.size()
	}
	return out
}

func readFileBytes(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFileBytes(t *testing.T, fs vfs.FS, path string, b []byte) {
	t.Helper()
	f, err := fs.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// fiveBatches writes batches of 2 records each (offsets 0..9) to one
// segment and closes the store, returning the filesystem.
func fiveBatches(t *testing.T, opts Options) *vfs.MemFS {
	mem := vfs.NewMem()
	s := openStore(t, mem, opts)
	l := createShard(t, s, crashKey)
	for i := 0; i < 5; i++ {
		mustAppend(t, l, entries(2*i, 2, 30), int64(i))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return mem
}

func TestTornTail(t *testing.T) {
	tests := []struct {
		name string
		// damage returns the file with its last batch (at last) damaged.
		damage func(b []byte, last int64) []byte
	}{
		{"only part of the length", func(b []byte, last int64) []byte { return b[:last+2] }},
		{"header cut", func(b []byte, last int64) []byte { return b[:last+20] }},
		{"records cut", func(b []byte, last int64) []byte { return b[:len(b)-10] }},
		{"last byte missing", func(b []byte, last int64) []byte { return b[:len(b)-1] }},
		{"pages never written (zeros)", func(b []byte, last int64) []byte {
			clear(b[last+8:])
			return b
		}},
		{"zeros after the end", func(b []byte, last int64) []byte { return append(b, make([]byte, 4096)...) }},
		{"bad crc on the last batch", func(b []byte, last int64) []byte {
			b[len(b)-3] ^= 0x40
			return b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := fiveBatches(t, Options{})
			pos := batchPositions(t, mem, segPath(0))
			b := readFileBytes(t, mem, segPath(0))
			writeFileBytes(t, mem, segPath(0), tt.damage(b, pos[4]))
			l := reopen(t, mem, Options{})
			wantEnd := uint64(8)
			if tt.name == "zeros after the end" {
				wantEnd = 10
			}
			if l.Err() != nil || l.End() != wantEnd {
				t.Fatalf("End %d Err %v, want %d nil", l.End(), l.Err(), wantEnd)
			}
			checkRecords(t, readAll(t, l, 0), 0, 30)
			fi, _ := mem.Stat(segPath(0))
			if wantEnd == 8 && fi.Size() != pos[4] {
				t.Fatalf("segment not truncated to %d: size %d", pos[4], fi.Size())
			}
			mustAppend(t, l, entries(int(wantEnd), 1, 30), 10)
			checkRecords(t, readAll(t, l, 0), 0, 30)
		})
	}
}

func TestCorruptionMidSegment(t *testing.T) {
	tests := []struct {
		name    string
		batch   int   // damaged batch
		at      int64 // byte within it to flip
		wantEnd uint64
	}{
		{"data byte in batch 2", 2, 60, 4},
		{"crc field in batch 0", 0, 5, 0},
		{"length field in batch 1", 1, 1, 2},
		{"first offset in batch 3", 3, 9, 6},
		{"record count in batch 2", 2, 16, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := fiveBatches(t, Options{})
			pos := batchPositions(t, mem, segPath(0))
			b := readFileBytes(t, mem, segPath(0))
			b[pos[tt.batch]+tt.at] ^= 0x10
			writeFileBytes(t, mem, segPath(0), b)
			l := reopen(t, mem, Options{})
			ce := asCorruption(t, l.Err())
			if ce.File != segPath(0) || ce.Offset != pos[tt.batch] {
				t.Fatalf("corruption at %s:%d, want %s:%d (%v)", ce.File, ce.Offset, segPath(0), pos[tt.batch], ce)
			}
			if l.End() != tt.wantEnd {
				t.Fatalf("End = %d, want %d", l.End(), tt.wantEnd)
			}
			checkRecords(t, readAll(t, l, 0), 0, 30)
			if _, err := l.Append(entries(0, 1, 1), 1); !errors.As(err, &ce) {
				t.Fatalf("Append on a corrupt log = %v", err)
			}
			if got := readFileBytes(t, mem, segPath(0)); len(got) != len(b) {
				t.Fatalf("corrupt segment was modified: %d bytes, had %d", len(got), len(b))
			}
		})
	}
}

// TestCorruptionSealedSegment damages a segment that is not the last one:
// with its index intact it opens and the damage is found by Read; with its
// index gone it is found at open.
func TestCorruptionSealedSegment(t *testing.T) {
	for _, dropIndex := range []bool{false, true} {
		t.Run(fmt.Sprintf("drop index %v", dropIndex), func(t *testing.T) {
			opts := Options{SegmentBytes: 300}
			mem := fiveBatches(t, opts) // 2 batches of ~120 bytes per segment
			names, _ := mem.List(shardPath)
			if !strings.Contains(strings.Join(names, ","), segmentName(4, segmentSuffix)) {
				t.Fatalf("expected a roll, have %v", names)
			}
			pos := batchPositions(t, mem, segPath(0))
			b := readFileBytes(t, mem, segPath(0))
			b[pos[1]+50] ^= 1
			writeFileBytes(t, mem, segPath(0), b)
			if dropIndex {
				mem.Remove(filepath.Join(shardPath, segmentName(0, offsetIndexSuffix)))
			}
			l := reopen(t, mem, opts)
			if dropIndex {
				ce := asCorruption(t, l.Err())
				if ce.File != segPath(0) || ce.Offset != pos[1] || l.End() != 2 {
					t.Fatalf("corruption %v, End %d", ce, l.End())
				}
				checkRecords(t, readAll(t, l, 0), 0, 30)
				return
			}
			if l.Err() != nil || l.End() != 10 {
				t.Fatalf("Err %v End %d", l.Err(), l.End())
			}
			recs, err := l.Read(0, 100, 1<<20)
			if err != nil || len(recs) != 2 {
				t.Fatalf("Read(0) = %d records, %v; want the 2 before the damage", len(recs), err)
			}
			_, err = l.Read(2, 100, 1<<20)
			if ce := asCorruption(t, err); ce.File != segPath(0) || ce.Offset != pos[1] {
				t.Fatalf("Read(2) corruption at %s:%d", ce.File, ce.Offset)
			}
			checkRecords(t, readAll(t, l, 4), 4, 30) // later segments still read
		})
	}
}

func TestCorruptSegmentHeader(t *testing.T) {
	mem := fiveBatches(t, Options{})
	b := readFileBytes(t, mem, segPath(0))
	b[2] = 'X'
	writeFileBytes(t, mem, segPath(0), b)
	l := reopen(t, mem, Options{})
	if ce := asCorruption(t, l.Err()); ce.Offset != 0 || l.End() != 0 {
		t.Fatalf("corruption %v End %d", ce, l.End())
	}
	if recs, err := l.Read(0, 1, 1); recs != nil || err != nil {
		t.Fatalf("Read = %v, %v", recs, err)
	}
}

// TestFailedIO checks failed writes and fsyncs: that Append fails, Err
// reports it, nothing was acknowledged that a crash would lose, and that
// the log re-arms at the next Append once the fault is gone (at once: the
// first attempt is not delayed) and stays failed while it is not.
// rearm_test.go covers re-arming in depth.
func TestFailedIO(t *testing.T) {
	isSeg := func(p string) bool { return strings.HasSuffix(p, segmentSuffix) }
	tests := []struct {
		name      string
		inj       func() vfs.Injector
		wantRearm bool
	}{
		// Sync 1 is CreateShard's; the log's syncs follow.
		{"sync fails once", func() vfs.Injector { return vfs.FailNth(vfs.OpSync, isSeg, 5) }, true},
		{"sync keeps failing", func() vfs.Injector { return vfs.FailFrom(vfs.OpSync, isSeg, 5) }, false},
		{"write fails", func() vfs.Injector { return vfs.FailNth(vfs.OpWrite, isSeg, 6) }, true},
		{"roll fails", func() vfs.Injector {
			return vfs.FailNth(vfs.OpSyncDir, func(p string) bool { return p == shardPath }, 3)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := vfs.NewMem()
			s := openStore(t, vfs.NewErrorFS(mem, tt.inj()), Options{SegmentBytes: 500})
			l := createShard(t, s, crashKey)
			acked, failedAt, rearmed := 0, -1, false
			for i := 0; i < 12; i++ {
				_, err := l.Append(entries(acked, 2, 30), int64(i))
				if err == nil {
					if failedAt >= 0 {
						if !tt.wantRearm {
							t.Fatalf("Append %d succeeded after the log failed at %d", i, failedAt)
						}
						if l.Err() != nil {
							t.Fatalf("Append %d succeeded, Err() %v", i, l.Err())
						}
						rearmed = true
					}
					acked += 2
					continue
				}
				if !errors.Is(err, vfs.ErrInjected) || !errors.Is(l.Err(), vfs.ErrInjected) {
					t.Fatalf("Append %d: err %v, Err() %v; want the injected error", i, err, l.Err())
				}
				if failedAt < 0 {
					failedAt = i
				}
			}
			if rearmed != tt.wantRearm {
				t.Fatalf("re-armed %v, want %v", rearmed, tt.wantRearm)
			}
			if failedAt < 0 {
				t.Fatal("no Append failed")
			}
			if l.End() != uint64(acked) {
				t.Fatalf("End %d, acknowledged %d", l.End(), acked)
			}
			checkRecords(t, readAll(t, l, 0), 0, 30)
			r := reopen(t, mem.CrashClone(), Options{SegmentBytes: 500})
			if r.End() < uint64(acked) || r.Err() != nil {
				t.Fatalf("after crash End %d Err %v, acknowledged %d", r.End(), r.Err(), acked)
			}
			checkRecords(t, readAll(t, r, 0), 0, 30)
		})
	}
}
