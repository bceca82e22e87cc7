package storage

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluicedata/sluice/internal/vfs"
)

// countingFS counts the bytes read from each segment file, to tell an open
// that trusted the active segment's index files from one that scanned it.
type countingFS struct {
	vfs.FS
	mu   sync.Mutex
	read map[string]int64
}

func newCountingFS(fs vfs.FS) *countingFS { return &countingFS{FS: fs, read: map[string]int64{}} }

func (c *countingFS) Open(name string) (vfs.File, error) { return c.wrap(name)(c.FS.Open(name)) }
func (c *countingFS) OpenReadWrite(name string) (vfs.File, error) {
	return c.wrap(name)(c.FS.OpenReadWrite(name))
}

func (c *countingFS) wrap(name string) func(vfs.File, error) (vfs.File, error) {
	return func(f vfs.File, err error) (vfs.File, error) {
		if err != nil || !strings.HasSuffix(name, segmentSuffix) {
			return f, err
		}
		return &countingFile{File: f, fs: c, name: name}, nil
	}
}

func (c *countingFS) bytesRead(name string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read[name]
}

type countingFile struct {
	vfs.File
	fs   *countingFS
	name string
}

func (f *countingFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(b, off)
	f.fs.mu.Lock()
	f.fs.read[f.name] += int64(n)
	f.fs.mu.Unlock()
	return n, err
}

func (f *countingFile) Read(b []byte) (int, error) {
	n, err := f.File.Read(b)
	f.fs.mu.Lock()
	f.fs.read[f.name] += int64(n)
	f.fs.mu.Unlock()
	return n, err
}

// startupCase is a log closed cleanly: batches of 1 to 5 records, under
// keyRef if set.
type startupCase struct {
	name    string
	opts    Options
	batches int
	keyRef  string
}

var startupCases = []startupCase{
	{"one segment", Options{IndexIntervalBytes: 1024}, 300, ""},
	{"after rolls", Options{IndexIntervalBytes: 700, SegmentBytes: 30000}, 300, ""},
	{"one entry", Options{}, 5, ""},
	{"encrypted", Options{IndexIntervalBytes: 1024, SegmentBytes: 40000}, 300, "k1"},
}

func (c startupCase) options() Options {
	o := c.opts
	if c.keyRef != "" && o.DataKeys == nil {
		o.DataKeys = newTestKeys(c.keyRef)
	}
	return o
}

func batchCount(i int) int { return 1 + i%5 }

// appendStartupBatches appends batches [from, to) of the workload to l,
// starting at record offset first; it returns the next record offset.
func appendStartupBatches(t *testing.T, l *ShardLog, from, to, first int, keyRef string) int {
	t.Helper()
	for i := from; i < to; i++ {
		c := batchCount(i)
		appendWithKey(t, l, entries(first, c, 40), int64(1000+i), keyRef)
		first += c
	}
	return first
}

// cleanLog writes the case's workload to a new shard and closes the store.
func cleanLog(t *testing.T, c startupCase, o Options) (*vfs.MemFS, int) {
	t.Helper()
	mem := vfs.NewMem()
	s := openStore(t, mem, o)
	l := createShard(t, s, crashKey)
	n := appendStartupBatches(t, l, 0, c.batches, 0, c.keyRef)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return mem, n
}

func activeBase(t *testing.T, fs vfs.FS) uint64 {
	t.Helper()
	names, err := fs.List(shardPath)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for _, n := range names {
		if b, ok := parseSegmentName(n); ok {
			last = b
		}
	}
	return last
}

func removeActiveIndex(t *testing.T, fs vfs.FS, base uint64) {
	t.Helper()
	for _, suffix := range []string{offsetIndexSuffix, timeIndexSuffix} {
		if err := fs.Remove(filepath.Join(shardPath, segmentName(base, suffix))); err != nil {
			t.Fatal(err)
		}
	}
}

// activeState is what recovery rebuilds for the active segment.
type activeState struct {
	writePos, sinceIndex int64
	nextOffset           uint64
	lastArrival          int64
	entries              []indexEntry
	dataStart            int64
}

func stateOf(l *ShardLog) activeState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return activeState{l.mu.writePos, l.mu.sinceIndex, l.mu.nextOffset, l.mu.lastArrival,
		slices.Clone(l.mu.entries), l.activeSegment().dataStart}
}

// checkTrusted checks that opening through fs read at most the header
// and the batches from the last index entry on of the active segment.
func checkTrusted(t *testing.T, fs *countingFS, base uint64, st activeState, o Options) {
	t.Helper()
	last := st.entries[len(st.entries)-1]
	bound := int64(maxSegmentHeader) + st.writePos - int64(last.pos)
	if got := fs.bytesRead(segPath(base)); got > bound || st.writePos-int64(last.pos) > int64(o.IndexIntervalBytes)+1024 {
		t.Fatalf("open read %d bytes of the %d-byte active segment, want at most %d (tail from %d)",
			got, st.writePos, bound, last.pos)
	}
}

// checkScanned checks that opening through fs read the whole active
// segment.
func checkScanned(t *testing.T, fs *countingFS, base uint64, st activeState) {
	t.Helper()
	if got := fs.bytesRead(segPath(base)); got < st.writePos-st.dataStart {
		t.Fatalf("open read %d bytes of the %d-byte active segment: not scanned", got, st.writePos)
	}
}

// TestOpenTrustsActiveIndex opens a cleanly closed log twice, once with
// the active segment's index files and once without: the first must read
// only the tail of the active segment, and both must recover the same
// state, answer reads and SeekTime alike, and, after the same appends,
// write the same index files (and, in plaintext, the same segments).
func TestOpenTrustsActiveIndex(t *testing.T) {
	for _, c := range startupCases {
		t.Run(c.name, func(t *testing.T) {
			o := c.options()
			memA, n := cleanLog(t, c, o)
			memB := memA.CrashClone() // everything was synced
			base := activeBase(t, memA)
			if (base == 0) != (c.opts.SegmentBytes == 0) {
				t.Fatalf("active segment at %d", base)
			}
			removeActiveIndex(t, memB, base)
			fsA, fsB := newCountingFS(memA), newCountingFS(memB)
			a, b := reopen(t, fsA, o), reopen(t, fsB, o)
			stA, stB := stateOf(a), stateOf(b)
			optsA, _ := quietOptions(t, o).withDefaults()
			checkTrusted(t, fsA, base, stA, optsA)
			checkScanned(t, fsB, base, stB)
			if fmt.Sprint(stA) != fmt.Sprint(stB) {
				t.Fatalf("trusted open state\n%+v\nscanned open state\n%+v", stA, stB)
			}
			if a.End() != uint64(n) || a.Err() != nil || a.LastArrivalMillis() != b.LastArrivalMillis() {
				t.Fatalf("End %d Err %v LastArrival %d/%d; want %d", a.End(), a.Err(),
					a.LastArrivalMillis(), b.LastArrivalMillis(), n)
			}
			checkRecords(t, readAll(t, a, 0), 0, 40)
			checkRecords(t, readAll(t, a, uint64(n)-7), n-7, 40)
			for ms := int64(990); ms <= int64(1000+c.batches+1); ms++ {
				sa, errA := a.SeekTime(ms)
				sb, errB := b.SeekTime(ms)
				if sa != sb || errA != nil || errB != nil {
					t.Fatalf("SeekTime(%d) = %d, %v trusted; %d, %v scanned", ms, sa, errA, sb, errB)
				}
			}
			// The same appends from here must index the same batches.
			na := appendStartupBatches(t, a, c.batches, c.batches+150, n, c.keyRef)
			appendStartupBatches(t, b, c.batches, c.batches+150, n, c.keyRef)
			if stA, stB := stateOf(a), stateOf(b); fmt.Sprint(stA) != fmt.Sprint(stB) {
				t.Fatalf("after appends: trusted open state\n%+v\nscanned open state\n%+v", stA, stB)
			}
			checkRecords(t, readAll(t, a, 0), 0, 40)
			if a.End() != uint64(na) {
				t.Fatalf("End %d, want %d", a.End(), na)
			}
			if err := errors.Join(a.Close(), b.Close()); err != nil {
				t.Fatal(err)
			}
			compareShardFiles(t, memA, memB, c.keyRef == "")
		})
	}
}

// compareShardFiles checks that two shard directories hold the same files
// with the same contents; segments are compared by size only unless
// segments is set (encrypted batches have random nonces).
func compareShardFiles(t *testing.T, a, b vfs.FS, segments bool) {
	t.Helper()
	na, _ := a.List(shardPath)
	nb, _ := b.List(shardPath)
	if !slices.Equal(na, nb) {
		t.Fatalf("files differ: %v vs %v", na, nb)
	}
	for _, n := range na {
		p := filepath.Join(shardPath, n)
		ba, bb := readFileBytes(t, a, p), readFileBytes(t, b, p)
		if strings.HasSuffix(n, segmentSuffix) && !segments {
			if len(ba) != len(bb) {
				t.Fatalf("%s: %d bytes vs %d", n, len(ba), len(bb))
			}
			continue
		}
		if !bytes.Equal(ba, bb) {
			t.Fatalf("%s differs", n)
		}
	}
}

// TestCrashAfterTrustedOpen crashes, before every sync, a log that opened
// from its active segment's index files and then took appends (rolling
// too). The index files then describe an older size of the segment: an
// open after the crash must scan it unless the crash left it exactly at
// that size, and keep every acknowledged record.
func TestCrashAfterTrustedOpen(t *testing.T) {
	for _, c := range []startupCase{startupCases[0], startupCases[1], startupCases[3]} {
		t.Run(c.name, func(t *testing.T) {
			o := c.options()
			for n := 1; ; n++ {
				mem, first := cleanLog(t, c, o)
				base := activeBase(t, mem)
				acked := first
				cp := &crashPoint{mem: mem, n: n, acked: &acked}
				ofs := newCountingFS(vfs.NewErrorFS(mem, cp))
				l := reopen(t, ofs, o)
				optsL, _ := quietOptions(t, o).withDefaults()
				checkTrusted(t, ofs, base, stateOf(l), optsL)
				inFlight := map[int]int{}
				for i := c.batches; i < c.batches+40; i++ {
					k := batchCount(i)
					inFlight[acked] = k
					appendWithKey(t, l, entries(acked, k, 40), int64(1000+i), c.keyRef)
					acked += k
				}
				l.Close()
				if cp.clone == nil {
					if n < 10 {
						t.Fatalf("workload made only %d syncs", cp.calls)
					}
					return
				}
				cfs := newCountingFS(cp.clone)
				r := reopen(t, cfs, o)
				end := int(r.End())
				if r.Err() != nil || (end != cp.at && end != cp.at+inFlight[cp.at]) {
					t.Fatalf("crash before sync %d: End %d Err %v; acknowledged %d, in flight %d",
						n, end, r.Err(), cp.at, inFlight[cp.at])
				}
				checkRecords(t, readAll(t, r, 0), 0, 40)
				if end > first && activeBase(t, cp.clone) == base {
					// The segment grew since its index was written.
					checkScanned(t, cfs, base, stateOf(r))
				}
				mustAppend(t, r, entries(end, 2, 40), 2000)
				checkRecords(t, readAll(t, r, 0), 0, 40)
				r.Close()
			}
		})
	}
}

// TestDamagedActiveIndex damages the active segment's index files of a
// cleanly closed log: every damage makes the open scan the segment and
// recover what a scan recovers.
func TestDamagedActiveIndex(t *testing.T) {
	c := startupCases[0]
	idx := filepath.Join(shardPath, segmentName(0, offsetIndexSuffix))
	tix := filepath.Join(shardPath, segmentName(0, timeIndexSuffix))
	flip := func(path string, at int) func(t *testing.T, fs vfs.FS) {
		return func(t *testing.T, fs vfs.FS) {
			b := readFileBytes(t, fs, path)
			if at < 0 {
				at += len(b)
			}
			b[at] ^= 0x08
			writeFileBytes(t, fs, path, b)
		}
	}
	// rewriteHeader changes a header field of both files and fixes their
	// CRCs: only the check against the segment can tell.
	rewriteHeader := func(change func(h *indexHeader)) func(t *testing.T, fs vfs.FS) {
		return func(t *testing.T, fs vfs.FS) {
			for _, k := range []struct{ path, magic string }{{idx, offsetIndexMagic}, {tix, timeIndexMagic}} {
				b := readFileBytes(t, fs, k.path)
				h, ok := parseIndexHeader(b, k.magic)
				if !ok {
					t.Fatal("bad header")
				}
				change(&h)
				copy(b, encodeIndexHeader(k.magic, h))
				writeFileBytes(t, fs, k.path, b)
			}
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, fs vfs.FS)
	}{
		{".idx header end offset", flip(idx, 16)},
		{".idx header CRC", flip(idx, 45)},
		{".tix header size", flip(tix, 25)},
		{".idx entry position", flip(idx, indexHeaderBytes+5*offsetIndexEntryBytes+4)},
		{".tix last entry position", flip(tix, -2)},
		{".idx last entry offset", flip(idx, -8)},
		{".tix missing", func(t *testing.T, fs vfs.FS) { fs.Remove(tix) }},
		{".idx cut short", func(t *testing.T, fs vfs.FS) {
			b := readFileBytes(t, fs, idx)
			writeFileBytes(t, fs, idx, b[:len(b)-offsetIndexEntryBytes])
		}},
		{"end offset one short", rewriteHeader(func(h *indexHeader) { h.end-- })},
		{"last arrival later", rewriteHeader(func(h *indexHeader) { h.lastArrival++ })},
		{"segment size one more", rewriteHeader(func(h *indexHeader) { h.segmentSize++ })},
	}
	o := c.options()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem, n := cleanLog(t, c, o)
			scanned := mem.CrashClone()
			removeActiveIndex(t, scanned, 0)
			tt.damage(t, mem)
			cfs := newCountingFS(mem)
			l := reopen(t, cfs, o)
			want := stateOf(reopen(t, scanned, o))
			st := stateOf(l)
			checkScanned(t, cfs, 0, st)
			if fmt.Sprint(st) != fmt.Sprint(want) || l.End() != uint64(n) || l.Err() != nil {
				t.Fatalf("state\n%+v\nwant\n%+v (End %d Err %v)", st, want, l.End(), l.Err())
			}
			checkRecords(t, readAll(t, l, 0), 0, 40)
		})
	}
}

// TestTrustedIndexDamagedSegment damages the active segment of a cleanly
// closed log without changing its size. Damage at or after the last index
// entry is found at open (the open scans, and cuts a torn last batch);
// damage before it is found by the Read that reaches it, as in a sealed
// segment.
func TestTrustedIndexDamagedSegment(t *testing.T) {
	c := startupCases[0]
	o := c.options()
	t.Run("before the last entry", func(t *testing.T) {
		mem, n := cleanLog(t, c, o)
		pos := batchPositions(t, mem, segPath(0))
		b := readFileBytes(t, mem, segPath(0))
		b[pos[3]+50] ^= 1
		writeFileBytes(t, mem, segPath(0), b)
		l := reopen(t, mem, o)
		if l.Err() != nil || l.End() != uint64(n) {
			t.Fatalf("Err %v End %d", l.Err(), l.End())
		}
		if recs, err := l.Read(0, 1000, 1<<20); err != nil || len(recs) != 6 {
			t.Fatalf("Read(0) = %d records, %v; want the 6 before the damage", len(recs), err)
		}
		_, err := l.Read(6, 1000, 1<<20)
		if ce := asCorruption(t, err); ce.File != segPath(0) || ce.Offset != pos[3] {
			t.Fatalf("Read corruption at %s:%d, want %d", ce.File, ce.Offset, pos[3])
		}
		checkRecords(t, readAll(t, l, uint64(n-3)), n-3, 40)
	})
	t.Run("last batch", func(t *testing.T) {
		mem, n := cleanLog(t, c, o)
		pos := batchPositions(t, mem, segPath(0))
		b := readFileBytes(t, mem, segPath(0))
		b[len(b)-3] ^= 1
		writeFileBytes(t, mem, segPath(0), b)
		l := reopen(t, mem, o)
		last := batchCount(c.batches - 1)
		if l.Err() != nil || l.End() != uint64(n-last) {
			t.Fatalf("Err %v End %d, want %d", l.Err(), l.End(), n-last)
		}
		if fi, _ := mem.Stat(segPath(0)); fi.Size() != pos[len(pos)-1] {
			t.Fatalf("torn last batch not cut: size %d, want %d", fi.Size(), pos[len(pos)-1])
		}
		checkRecords(t, readAll(t, l, 0), 0, 40)
	})
}

// TestTrustedIndexIntervalChanged reopens a cleanly closed log with a
// different IndexIntervalBytes: the loaded entries, spaced by the old
// interval, are still valid hints, and new ones follow the new interval.
func TestTrustedIndexIntervalChanged(t *testing.T) {
	c := startupCases[0]
	mem, n := cleanLog(t, c, c.options())
	for _, interval := range []int{300, 5000} {
		o := c.options()
		o.IndexIntervalBytes = interval
		l := reopen(t, mem.CrashClone(), o)
		checkRecords(t, readAll(t, l, 0), 0, 40)
		for from := 0; from < n; from += 37 {
			checkRecords(t, readAll(t, l, uint64(from)), from, 40)
		}
		m := appendStartupBatches(t, l, c.batches, c.batches+100, n, "")
		checkRecords(t, readAll(t, l, uint64(n-5)), n-5, 40)
		if l.End() != uint64(m) {
			t.Fatalf("End %d, want %d", l.End(), m)
		}
		if l.warnedIndex.Load() {
			t.Fatal("a read found an index entry that does not match its batch")
		}
	}
}
