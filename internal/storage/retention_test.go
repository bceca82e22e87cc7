package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicedata/sluice/internal/vfs"
)

// trimFilesystems are the filesystems every retention test runs on.
var trimFilesystems = []struct {
	name string
	mk   func(t *testing.T) (vfs.FS, string)
}{
	{"mem", func(t *testing.T) (vfs.FS, string) { return vfs.NewMem(), memDir }},
	{"os", func(t *testing.T) (vfs.FS, string) { return vfs.Default(), t.TempDir() }},
}

// trimOptions make segments of three one-record batches of entry(n, 40).
var trimOptions = Options{SegmentBytes: 300, IndexIntervalBytes: 100}

const trimRecords = 20

// trimArrival is the arrival time of record n in a trimLog.
func trimArrival(n uint64) int64 { return 1000 + 10*int64(n) }

// openDirStore opens a Store on fs at dir and closes it when the test ends.
func openDirStore(t *testing.T, fs vfs.FS, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(fs, dir, quietOptions(t, o))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// trimLog appends trimRecords one-record batches, record n arriving at
// trimArrival(n), to a new shard crashKey.
func trimLog(t *testing.T, s *Store) *ShardLog {
	t.Helper()
	l := createShard(t, s, crashKey)
	for n := uint64(0); n < trimRecords; n++ {
		mustAppend(t, l, entries(int(n), 1, 40), trimArrival(n))
	}
	return l
}

// listShard returns the bases of the segment files in a shard directory,
// and the names of its other files.
func listShard(t *testing.T, fs vfs.FS, dir string) (bases []uint64, others []string) {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if b, ok := parseSegmentName(n); ok {
			bases = append(bases, b)
		} else {
			others = append(others, n)
		}
	}
	return bases, others
}

// wantTrimStart is what TrimBefore(millis) must return on a log whose
// segments start at bases and which ends at end: the base of the first
// segment holding a record that arrived at or after millis, or end.
func wantTrimStart(bases []uint64, end uint64, millis int64) uint64 {
	for i, b := range bases {
		next := end
		if i+1 < len(bases) {
			next = bases[i+1]
		}
		if next > b && trimArrival(next-1) >= millis {
			return b
		}
	}
	return end
}

// checkTrimmed checks that l starts at start, that reads below it fail
// with ErrOffsetTrimmed, that everything from it reads back, and that the
// shard directory holds exactly the segments from start on with their
// index files.
func checkTrimmed(t *testing.T, l *ShardLog, fs vfs.FS, dir string, start uint64) {
	t.Helper()
	if l.Start() != start || l.Err() != nil {
		t.Fatalf("Start %d Err %v, want %d nil", l.Start(), l.Err(), start)
	}
	if start > 0 {
		for _, from := range []uint64{0, start - 1} {
			if _, err := l.Read(from, 1, 1<<20); !errors.Is(err, ErrOffsetTrimmed) {
				t.Fatalf("Read(%d) below start %d = %v, want ErrOffsetTrimmed", from, start, err)
			}
		}
	}
	checkRecords(t, readAll(t, l, start), int(start), 40)
	if off, err := l.SeekTime(0); err != nil || off != start {
		t.Fatalf("SeekTime(0) = %d, %v; want Start %d", off, err, start)
	}
	bases, others := listShard(t, fs, dir)
	if len(bases) == 0 || bases[0] != start {
		t.Fatalf("segments on disk %v, want the first at %d", bases, start)
	}
	for _, n := range others {
		if b, ok := parseIndexName(n); !ok || b < start {
			t.Fatalf("file %s left in the shard directory (start %d)", n, start)
		}
	}
}

// TestTrimBefore trims a log of several segments at various times, checks
// what is left and what reads see, and that a restart keeps it.
func TestTrimBefore(t *testing.T) {
	tests := []struct {
		name   string
		millis []int64 // successive TrimBefore calls
	}{
		{"before everything", []int64{0, trimArrival(0)}},
		{"first record's time", []int64{trimArrival(0) + 1}},
		{"middle of a segment", []int64{trimArrival(7) + 5}},
		{"a segment's last record", []int64{trimArrival(8)}},
		{"just after a segment's last record", []int64{trimArrival(8) + 1}},
		{"in steps", []int64{trimArrival(2), trimArrival(5) + 1, trimArrival(5) + 1, trimArrival(12)}},
		{"backwards is a no-op", []int64{trimArrival(12), trimArrival(3)}},
		{"last sealed segment", []int64{trimArrival(trimRecords - 3)}},
		{"active segment's last record", []int64{trimArrival(trimRecords - 1)}},
		{"everything: active segment rolled", []int64{trimArrival(trimRecords-1) + 1}},
		{"everything, twice", []int64{1 << 50, 1 << 50}},
	}
	for _, fsys := range trimFilesystems {
		for _, tt := range tests {
			t.Run(fsys.name+"/"+tt.name, func(t *testing.T) {
				fs, dir := fsys.mk(t)
				s := openDirStore(t, fs, dir, trimOptions)
				l := trimLog(t, s)
				shardDir := filepath.Join(dir, shardsDirName, crashKey)
				bases, _ := listShard(t, fs, shardDir)
				if len(bases) < 5 {
					t.Fatalf("only %d segments: %v", len(bases), bases)
				}
				var want uint64
				for _, m := range tt.millis {
					want = max(want, wantTrimStart(bases, trimRecords, m))
					start, err := l.TrimBefore(m)
					if err != nil || start != want {
						t.Fatalf("TrimBefore(%d) = %d, %v; want %d", m, start, err, want)
					}
					checkTrimmed(t, l, fs, shardDir, want)
				}
				if l.End() != trimRecords || l.LastArrivalMillis() != trimArrival(trimRecords-1) {
					t.Fatalf("End %d LastArrival %d changed by trimming", l.End(), l.LastArrivalMillis())
				}
				// The log takes appends after any trim, including one that
				// left it empty.
				mustAppend(t, l, entries(trimRecords, 2, 40), trimArrival(trimRecords))
				checkTrimmed(t, l, fs, shardDir, want)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = openDirStore(t, fs, dir, trimOptions)
				l, err := s.OpenShard(crashKey)
				if err != nil {
					t.Fatal(err)
				}
				if l.End() != trimRecords+2 {
					t.Fatalf("after restart End %d, want %d", l.End(), trimRecords+2)
				}
				checkTrimmed(t, l, fs, shardDir, want)
			})
		}
	}
}

// TestTrimEmptyLog: nothing to roll or delete in a log without records,
// nor in one trimmed to empty.
func TestTrimEmptyLog(t *testing.T) {
	mem := vfs.NewMem()
	s := openStore(t, mem, trimOptions)
	l := createShard(t, s, crashKey)
	for i := 0; i < 2; i++ {
		if start, err := l.TrimBefore(1 << 50); err != nil || start != 0 {
			t.Fatalf("TrimBefore on an empty log = %d, %v", start, err)
		}
		if bases, _ := listShard(t, mem, shardPath); !slices.Equal(bases, []uint64{0}) {
			t.Fatalf("segments %v after trimming an empty log", bases)
		}
	}
}

// TestTrimAfterClose: TrimBefore on a closed log returns ErrClosed and
// deletes nothing.
func TestTrimAfterClose(t *testing.T) {
	mem := vfs.NewMem()
	s := openStore(t, mem, trimOptions)
	l := trimLog(t, s)
	before, _ := listShard(t, mem, shardPath)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.TrimBefore(1 << 50); !errors.Is(err, ErrClosed) {
		t.Fatalf("TrimBefore after Close = %v, want ErrClosed", err)
	}
	if after, _ := listShard(t, mem, shardPath); !slices.Equal(before, after) {
		t.Fatalf("segments %v after a trim of a closed log, had %v", after, before)
	}
}

// blockingRead stops the first read of one file once armed, until
// released: it holds a Read or SeekTime inside a segment while the test
// trims that segment.
type blockingRead struct {
	path    string
	armed   atomic.Bool
	entered chan struct{}
	resume  chan struct{}
}

func (b *blockingRead) MaybeError(op vfs.Op, path string) error {
	if op == vfs.OpRead && path == b.path && b.armed.CompareAndSwap(true, false) {
		close(b.entered)
		<-b.resume
	}
	return nil
}

// TestTrimWhileReading trims the segment a Read or SeekTime is reading: the
// trim does not wait for it, the reader gets good records (or the new
// start), later reads get ErrOffsetTrimmed, and the segment's files are
// closed only when the reader is done.
func TestTrimWhileReading(t *testing.T) {
	tests := []struct {
		name string
		// read runs in the blocked goroutine and checks its result; start
		// is the log's start after the trim.
		read func(t *testing.T, l *ShardLog, start uint64)
	}{
		{"Read", func(t *testing.T, l *ShardLog, start uint64) {
			recs, err := l.Read(0, 100, 1<<20)
			if err != nil || len(recs) == 0 {
				t.Errorf("Read(0) across a trim = %d records, %v", len(recs), err)
				return
			}
			checkRecords(t, recs, 0, 40)
		}},
		{"SeekTime", func(t *testing.T, l *ShardLog, start uint64) {
			if off, err := l.SeekTime(trimArrival(1)); err != nil || off != start {
				t.Errorf("SeekTime across a trim = %d, %v; want the new start %d", off, err, start)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := vfs.NewMem()
			br := &blockingRead{path: segPath(0), entered: make(chan struct{}), resume: make(chan struct{})}
			s := openStore(t, vfs.NewErrorFS(mem, br), trimOptions)
			l := trimLog(t, s)
			seg0 := l.view.Load().segs[0]
			const start = 3 // segment [3, 6) holds trimArrival(5)
			br.armed.Store(true)
			done := make(chan struct{})
			go func() {
				defer close(done)
				tt.read(t, l, start)
			}()
			<-br.entered
			if got, err := l.TrimBefore(trimArrival(5)); err != nil || got != start {
				t.Fatalf("TrimBefore with a reader in the segment = %d, %v; want %d", got, err, start)
			}
			if _, err := l.Read(0, 1, 1<<20); !errors.Is(err, ErrOffsetTrimmed) {
				t.Fatalf("Read(0) after trim = %v, want ErrOffsetTrimmed", err)
			}
			if n := seg0.refs.n.Load(); n != 1 {
				t.Fatalf("trimmed segment has %d references while its reader runs, want 1", n)
			}
			close(br.resume)
			<-done
			if n := seg0.refs.n.Load(); n != 0 {
				t.Fatalf("trimmed segment has %d references after its reader finished, want 0", n)
			}
			if _, err := seg0.f.ReadAt(make([]byte, 1), 0); err == nil {
				t.Fatal("trimmed segment's file is still open")
			}
		})
	}
}

// trimPayload is the data of a record keyed key in TestTrimConcurrent: a
// reader can check any record it gets without knowing its offset.
func trimPayload(key string) []byte { return bytes.Repeat([]byte(key), 3) }

// TestTrimConcurrent appends, reads, seeks and trims one log at once. Readers
// must only ever see whole, correct records in offset order or
// ErrOffsetTrimmed; the trimmer's starts never go back; in the end no record
// at or after the last trim time was deleted, everything from Start() reads
// back, and a restart keeps Start().
func TestTrimConcurrent(t *testing.T) {
	const writers, appendsPerWriter, readers = 2, 150, 2
	for _, fsys := range trimFilesystems {
		t.Run(fsys.name, func(t *testing.T) {
			fs, dir := fsys.mk(t)
			opts := Options{SegmentBytes: 1 << 10, IndexIntervalBytes: 200}
			s := openDirStore(t, fs, dir, opts)
			l := createShard(t, s, crashKey)
			var clock atomic.Int64
			clock.Store(1000)
			results := make(chan trimAcked, writers*appendsPerWriter)
			var writing, others sync.WaitGroup
			var stop atomic.Bool
			for w := 0; w < writers; w++ {
				writing.Add(1)
				go func() {
					defer writing.Done()
					appendForTrim(t, l, &clock, w, appendsPerWriter, results)
				}()
			}
			var lastMillis atomic.Int64
			others.Add(1)
			go func() {
				defer others.Done()
				trimLoop(t, l, &clock, &stop, &lastMillis)
			}()
			for r := 0; r < readers; r++ {
				others.Add(1)
				go func() {
					defer others.Done()
					rng := rand.New(rand.NewPCG(uint64(r), 1))
					for !stop.Load() && !t.Failed() {
						readRacingTrim(t, l, rng)
					}
				}()
			}
			writing.Wait()
			stop.Store(true)
			others.Wait()
			close(results)
			if t.Failed() {
				return
			}
			start, total := checkTrimKept(t, l, lastMillis.Load(), results)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openDirStore(t, fs, dir, opts)
			l, err := s.OpenShard(crashKey)
			if err != nil {
				t.Fatal(err)
			}
			if l.Start() != start || l.End() != total {
				t.Fatalf("after restart Start %d End %d, want %d %d", l.Start(), l.End(), start, total)
			}
			checkTrimRecords(t, readAll(t, l, start), start)
		})
	}
}

// trimAcked is one acknowledged batch of TestTrimConcurrent.
type trimAcked struct {
	first   uint64
	n       int
	arrival int64
}

// appendForTrim appends count batches of 1 to 4 self-checking records,
// each at the next tick of clock.
func appendForTrim(t *testing.T, l *ShardLog, clock *atomic.Int64, w, count int, results chan<- trimAcked) {
	for i := 0; i < count; i++ {
		es := make([]Entry, 1+(w+i)%4)
		for j := range es {
			key := fmt.Sprintf("w%d-%d-%d", w, i, j)
			es[j] = Entry{PartitionKey: key, Data: trimPayload(key)}
		}
		res, err := l.Append(es, clock.Add(1))
		if err != nil {
			t.Error(err)
			return
		}
		results <- trimAcked{res.FirstOffset, len(es), res.ArrivalMillis}
	}
}

// trimLoop trims everything older than the last 40 ticks of clock until
// stopped, checking that the start never goes back, and records the time
// of its last trim.
func trimLoop(t *testing.T, l *ShardLog, clock *atomic.Int64, stop *atomic.Bool, lastMillis *atomic.Int64) {
	const window = 40
	var prev uint64
	for !stop.Load() {
		m := clock.Load() - window
		start, err := l.TrimBefore(m)
		if err != nil || start < prev {
			t.Errorf("TrimBefore(%d) = %d, %v; previous start %d", m, start, err, prev)
			return
		}
		prev = start
		lastMillis.Store(m)
		runtime.Gosched()
	}
}

// checkTrimKept checks that the last trim, at millis, kept every batch
// that arrived at or after millis, and that everything from Start() reads
// back. It returns Start() and End().
func checkTrimKept(t *testing.T, l *ShardLog, millis int64, results <-chan trimAcked) (start, end uint64) {
	t.Helper()
	start = l.Start()
	total := 0
	for a := range results {
		total += a.n
		if a.arrival >= millis && a.first < start {
			t.Fatalf("batch at %d arrived at %d, but the trim before %d left start %d", a.first, a.arrival, millis, start)
		}
	}
	if l.End() != uint64(total) || l.Err() != nil {
		t.Fatalf("End %d Err %v, want %d nil", l.End(), l.Err(), total)
	}
	checkTrimRecords(t, readAll(t, l, start), start)
	return start, uint64(total)
}

// readRacingTrim reads and seeks at random places around Start(), which a
// trimmer is moving.
func readRacingTrim(t *testing.T, l *ShardLog, rng *rand.Rand) {
	start, end := l.Start(), l.End()
	from := start + rng.Uint64N(end-start+1)
	if start > 0 && rng.IntN(4) == 0 {
		from = start - 1 - rng.Uint64N(start)
	}
	recs, err := l.Read(from, 1+rng.IntN(30), 1<<20)
	switch {
	case errors.Is(err, ErrOffsetTrimmed):
	case err != nil:
		t.Errorf("Read(%d) racing a trim: %v", from, err)
	case len(recs) > 0 && recs[0].Offset != from:
		t.Errorf("Read(%d) started at %d", from, recs[0].Offset)
	default:
		checkTrimRecords(t, recs, from)
	}
	millis := int64(1000 + rng.IntN(int(max(l.LastArrivalMillis()-1000, 1))))
	before := l.Start()
	if off, err := l.SeekTime(millis); err != nil || off < before {
		t.Errorf("SeekTime(%d) = %d, %v; Start was %d", millis, off, err, before)
	}
}

// checkTrimRecords checks records read in TestTrimConcurrent: contiguous
// offsets from first, data that matches the key, time never going back.
func checkTrimRecords(t *testing.T, recs []Record, first uint64) {
	t.Helper()
	for i, r := range recs {
		if r.Offset != first+uint64(i) || !bytes.Equal(r.Data, trimPayload(r.PartitionKey)) ||
			(i > 0 && r.ArrivalMillis < recs[i-1].ArrivalMillis) {
			t.Errorf("record %d of a read from %d: offset %d key %q data %q arrival %d", i, first, r.Offset,
				r.PartitionKey, r.Data, r.ArrivalMillis)
			return
		}
	}
}

// armedInjector passes operations to inner only once armed, so that a
// counting injector counts from the part of a test that matters.
type armedInjector struct {
	armed atomic.Bool
	inner vfs.Injector
}

func (a *armedInjector) MaybeError(op vfs.Op, path string) error {
	if !a.armed.Load() {
		return nil
	}
	return a.inner.MaybeError(op, path)
}

// cloneBefore clones mem's durable state before the nth Sync, SyncDir or
// Remove it sees: a crash at that point.
type cloneBefore struct {
	mem   *vfs.MemFS
	n     int
	calls int
	clone *vfs.MemFS
}

func (c *cloneBefore) MaybeError(op vfs.Op, path string) error {
	if op != vfs.OpSync && op != vfs.OpSyncDir && op != vfs.OpRemove {
		return nil
	}
	c.calls++
	if c.calls == c.n {
		c.clone = c.mem.CrashClone()
	}
	return nil
}

// TestTrimCrash crashes at every sync and remove of a trim, some of which
// roll the active segment, and checks the recovered log: healthy, nothing
// acknowledged lost at the end, starting at a segment between the old and
// the new start, readable from there, and trimmable to the end.
func TestTrimCrash(t *testing.T) {
	for _, millis := range []int64{trimArrival(10), trimArrival(trimRecords-1) + 1} {
		for n := 1; ; n++ {
			mem := vfs.NewMem()
			cb := &cloneBefore{mem: mem, n: n}
			inj := &armedInjector{inner: cb}
			s := openStore(t, vfs.NewErrorFS(mem, inj), trimOptions)
			l := trimLog(t, s)
			bases, _ := listShard(t, mem, shardPath)
			want := wantTrimStart(bases, trimRecords, millis)
			inj.armed.Store(true)
			if start, err := l.TrimBefore(millis); err != nil || start != want {
				t.Fatalf("TrimBefore(%d) = %d, %v; want %d", millis, start, err, want)
			}
			inj.armed.Store(false)
			s.Close()
			if cb.clone == nil {
				if n < 4 {
					t.Fatalf("trim made only %d syncs and removes", cb.calls)
				}
				break
			}
			t.Run(fmt.Sprintf("trim before %d, crash before op %d", millis, n), func(t *testing.T) {
				r := reopen(t, cb.clone, trimOptions)
				start := r.Start()
				if r.Err() != nil || r.End() != trimRecords || start > want ||
					(start != want && !slices.Contains(bases, start)) {
					t.Fatalf("after crash: Start %d End %d Err %v; segments were %v, trim to %d",
						start, r.End(), r.Err(), bases, want)
				}
				checkTrimmed(t, r, cb.clone, shardPath, start)
				if got, err := r.TrimBefore(millis); err != nil || got != want {
					t.Fatalf("TrimBefore(%d) after crash = %d, %v; want %d", millis, got, err, want)
				}
				checkTrimmed(t, r, cb.clone, shardPath, want)
			})
		}
	}
}

// TestTrimErrors injects I/O errors into trims, on MemFS and the OS. A
// failed remove or directory fsync stops the trim with the error, keeps the
// log healthy and readable, and the next trim finishes the job; a failed
// roll of the active segment fails the log, as in Append, and the next trim
// deletes only sealed segments.
func TestTrimErrors(t *testing.T) {
	hasSuffix := func(suffix string) func(string) bool {
		return func(p string) bool { return strings.HasSuffix(p, suffix) }
	}
	tests := []struct {
		name   string
		inj    func(shardDir string) vfs.Injector
		millis int64
		// start after the failed trim; -1: the log is failed instead
		start int
	}{
		{"second segment remove fails", func(string) vfs.Injector {
			return vfs.FailNth(vfs.OpRemove, hasSuffix(segmentSuffix), 2)
		}, trimArrival(10), 3},
		{"offset index remove fails", func(string) vfs.Injector {
			return vfs.FailNth(vfs.OpRemove, hasSuffix(offsetIndexSuffix), 1)
		}, trimArrival(10), 0},
		{"time index remove fails", func(string) vfs.Injector {
			return vfs.FailNth(vfs.OpRemove, hasSuffix(timeIndexSuffix), 2)
		}, trimArrival(10), 3},
		{"dir sync fails", func(d string) vfs.Injector { return failSyncDir(d, 1) }, trimArrival(10), 0},
		{"third dir sync fails", func(d string) vfs.Injector { return failSyncDir(d, 3) }, trimArrival(10), 6},
		{"roll's sync fails", func(string) vfs.Injector {
			return vfs.FailNth(vfs.OpSync, hasSuffix(segmentSuffix), 1)
		}, 1 << 50, -1},
		{"roll's dir sync fails", func(d string) vfs.Injector { return failSyncDir(d, 1) }, 1 << 50, -1},
		{"dir sync after roll fails", func(d string) vfs.Injector { return failSyncDir(d, 3) }, 1 << 50, 0},
	}
	for _, fsys := range trimFilesystems {
		for _, tt := range tests {
			t.Run(fsys.name+"/"+tt.name, func(t *testing.T) {
				fs, dir := fsys.mk(t)
				shardDir := filepath.Join(dir, shardsDirName, crashKey)
				inj := &armedInjector{inner: tt.inj(shardDir)}
				s := openDirStore(t, vfs.NewErrorFS(fs, inj), dir, trimOptions)
				l := trimLog(t, s)
				bases, _ := listShard(t, fs, shardDir)
				inj.armed.Store(true)
				start, err := l.TrimBefore(tt.millis)
				inj.armed.Store(false)
				if !errors.Is(err, vfs.ErrInjected) {
					t.Fatalf("TrimBefore = %d, %v; want the injected error", start, err)
				}
				if tt.start < 0 {
					checkTrimFailedLog(t, s, l, fs, shardDir, bases, tt.millis)
					return
				}
				if start != uint64(tt.start) || l.Start() != start || l.Err() != nil {
					t.Fatalf("failed trim returned start %d, Start %d, Err %v; want %d nil", start, l.Start(), l.Err(), tt.start)
				}
				checkRecords(t, readAll(t, l, start), int(start), 40)
				// Arriving at millis, this record is kept by the trim again.
				mustAppend(t, l, entries(trimRecords, 1, 40), max(trimArrival(trimRecords), tt.millis))
				want := wantTrimStart(bases, trimRecords, tt.millis)
				if start, err = l.TrimBefore(tt.millis); err != nil || start != want {
					t.Fatalf("TrimBefore retried = %d, %v; want %d", start, err, want)
				}
				checkTrimmed(t, l, fs, shardDir, want)
				r := restartShard(t, s, fs, shardDir)
				if r.Start() != want || r.End() != trimRecords+1 || r.Err() != nil {
					t.Fatalf("after restart Start %d End %d Err %v, want %d %d nil", r.Start(), r.End(), r.Err(), want, trimRecords+1)
				}
			})
		}
	}
}

func failSyncDir(dir string, n int64) vfs.Injector {
	return vfs.FailNth(vfs.OpSyncDir, func(p string) bool { return p == dir }, n)
}

// checkTrimFailedLog checks a log whose active segment failed to roll in a
// trim: failed, still readable, trimmed of its sealed segments only, and
// re-armed by the next Append once the fault is gone.
func checkTrimFailedLog(t *testing.T, s *Store, l *ShardLog, fs vfs.FS, shardDir string, bases []uint64, millis int64) {
	t.Helper()
	if !errors.Is(l.Err(), vfs.ErrInjected) {
		t.Fatalf("failed roll: Err() = %v, want the injected error", l.Err())
	}
	checkRecords(t, readAll(t, l, l.Start()), int(l.Start()), 40)
	last := bases[len(bases)-1]
	if start, err := l.TrimBefore(millis); err != nil || start != last {
		t.Fatalf("TrimBefore on the failed log = %d, %v; want %d", start, err, last)
	}
	checkRecords(t, readAll(t, l, last), int(last), 40)
	if res, err := l.Append(entries(trimRecords, 1, 40), millis); err != nil || res.FirstOffset != trimRecords || l.Err() != nil {
		t.Fatalf("Append after a failed roll = %+v, %v, Err() %v; want it re-armed", res, err, l.Err())
	}
	r := restartShard(t, s, fs, shardDir)
	if r.Start() != last || r.End() != trimRecords+1 || r.Err() != nil {
		t.Fatalf("after restart Start %d End %d Err %v, want %d %d nil", r.Start(), r.End(), r.Err(), last, trimRecords+1)
	}
	checkRecords(t, readAll(t, r, last), int(last), 40)
}

// restartShard reopens the crashKey log in shardDir as a new process
// would: on MemFS after a crash (keeping only synced data), on the OS after
// closing s.
func restartShard(t *testing.T, s *Store, fs vfs.FS, shardDir string) *ShardLog {
	t.Helper()
	if mem, ok := fs.(*vfs.MemFS); ok {
		fs = mem.CrashClone()
	} else {
		s.Close()
	}
	o, _ := quietOptions(t, trimOptions).withDefaults()
	l, err := openShardLog(fs, shardDir, crashKey, o)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestTrimRemovesLeftoverIndexes: index files below the first segment, as
// a crash in a trim could leave on a filesystem that reorders removes, are
// deleted at open; others are kept.
func TestTrimRemovesLeftoverIndexes(t *testing.T) {
	mem := vfs.NewMem()
	s := openStore(t, mem, trimOptions)
	l := trimLog(t, s)
	if start, err := l.TrimBefore(trimArrival(7)); err != nil || start != 6 {
		t.Fatalf("TrimBefore = %d, %v", start, err)
	}
	s.Close()
	for _, base := range []uint64{0, 3} {
		for _, suffix := range []string{offsetIndexSuffix, timeIndexSuffix} {
			writeFileBytes(t, mem, filepath.Join(shardPath, segmentName(base, suffix)), []byte("stale"))
		}
	}
	if err := mem.SyncDir(shardPath); err != nil {
		t.Fatal(err)
	}
	clone := mem.CrashClone()
	r := reopen(t, clone, trimOptions)
	checkTrimmed(t, r, clone, shardPath, 6)
}

// TestSegmentMaxAge checks that Append rolls a segment whose first record
// has reached SegmentMaxAge, by the time Append is given, and that trims
// then work at that granularity.
func TestSegmentMaxAge(t *testing.T) {
	const minute, hour = int64(time.Minute / time.Millisecond), int64(time.Hour / time.Millisecond)
	tests := []struct {
		name      string
		maxAge    time.Duration
		times     []int64 // one one-record Append at each
		wantBases []uint64
		trim      int64 // TrimBefore this afterwards
		wantStart uint64
	}{
		{"one minute", time.Minute, []int64{0, 30000, minute - 1, minute, minute + 1, 200000},
			[]uint64{0, 3, 5}, minute, 3},
		{"default is an hour", 0, []int64{0, hour - 1, hour, 2*hour - 1, 2 * hour},
			[]uint64{0, 2, 4}, hour, 2},
		{"clock going back", time.Minute, []int64{5 * minute, 0, minute, 6*minute - 1, 6 * minute},
			[]uint64{0, 4}, 5*minute + 1, 0},
		{"trim to empty", time.Minute, []int64{0, minute, 3 * minute}, []uint64{0, 1, 2}, 3*minute + 1, 3},
	}
	for _, fsys := range trimFilesystems {
		for _, tt := range tests {
			t.Run(fsys.name+"/"+tt.name, func(t *testing.T) {
				fs, dir := fsys.mk(t)
				s := openDirStore(t, fs, dir, Options{SegmentMaxAge: tt.maxAge})
				l := createShard(t, s, crashKey)
				for i, now := range tt.times {
					mustAppend(t, l, entries(i, 1, 10), now)
				}
				shardDir := filepath.Join(dir, shardsDirName, crashKey)
				if bases, _ := listShard(t, fs, shardDir); !slices.Equal(bases, tt.wantBases) {
					t.Fatalf("segments %v, want %v", bases, tt.wantBases)
				}
				if start, err := l.TrimBefore(tt.trim); err != nil || start != tt.wantStart {
					t.Fatalf("TrimBefore(%d) = %d, %v; want %d", tt.trim, start, err, tt.wantStart)
				}
				checkRecords(t, readAll(t, l, tt.wantStart), int(tt.wantStart), 10)
			})
		}
	}
}

// blockingSyncDir stops the first SyncDir of one directory once armed,
// until released.
type blockingSyncDir struct {
	dir     string
	armed   atomic.Bool
	entered chan struct{}
	resume  chan struct{}
}

func (b *blockingSyncDir) MaybeError(op vfs.Op, path string) error {
	if op == vfs.OpSyncDir && path == b.dir && b.armed.CompareAndSwap(true, false) {
		close(b.entered)
		<-b.resume
	}
	return nil
}

// TestCloseDuringTrim closes a log while a trim is deleting its first
// segment: Close waits for that segment, the trim then stops with
// ErrClosed, and a restart finds the log starting after that segment.
func TestCloseDuringTrim(t *testing.T) {
	mem := vfs.NewMem()
	bs := &blockingSyncDir{dir: shardPath, entered: make(chan struct{}), resume: make(chan struct{})}
	s := openStore(t, vfs.NewErrorFS(mem, bs), trimOptions)
	l := trimLog(t, s)
	bs.armed.Store(true)
	type result struct {
		start uint64
		err   error
	}
	trimmed := make(chan result, 1)
	go func() {
		start, err := l.TrimBefore(trimArrival(10))
		trimmed <- result{start, err}
	}()
	<-bs.entered
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	for deadline := time.Now().Add(10 * time.Second); !l.closing.Load(); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("Close did not start")
		}
	}
	close(bs.resume)
	res := <-trimmed
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res.err, ErrClosed) || res.start != 3 {
		t.Fatalf("TrimBefore interrupted by Close = %d, %v; want 3, ErrClosed", res.start, res.err)
	}
	clone := mem.CrashClone()
	r := reopen(t, clone, trimOptions)
	if r.End() != trimRecords {
		t.Fatalf("after Close End %d, want %d", r.End(), trimRecords)
	}
	checkTrimmed(t, r, clone, shardPath, 3)
}
