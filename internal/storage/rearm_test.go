package storage

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicedata/sluice/internal/testwait"
	"github.com/sluicedata/sluice/internal/vfs"
)

func isSegPath(p string) bool { return strings.HasSuffix(p, segmentSuffix) }

// diskFault fails the operations of one kind on matching paths numbered
// [from, from+count), counting from 1, as a disk that fills up or fails
// would: a write writes part of its bytes and fails with ENOSPC, a sync
// fails with EIO after the kernel has dropped the file's dirty pages
// (vfs.MemFS.FailWriteback), anything else fails with ENOSPC.
type diskFault struct {
	mem         *vfs.MemFS
	op          vfs.Op
	match       func(string) bool
	from, count int64
	n, fired    atomic.Int64
}

func (f *diskFault) MaybeError(op vfs.Op, path string) error {
	if op != f.op || (f.match != nil && !f.match(path)) {
		return nil
	}
	if c := f.n.Add(1); c < f.from || c >= f.from+f.count {
		return nil
	}
	f.fired.Add(1)
	return diskError(f.mem, op, path)
}

func diskError(mem *vfs.MemFS, op vfs.Op, path string) error {
	switch op {
	case vfs.OpWrite:
		return &vfs.ShortWriteError{N: 17, Err: syscall.ENOSPC}
	case vfs.OpSync:
		if err := mem.FailWriteback(path); err != nil {
			return err
		}
		return &os.PathError{Op: "sync", Path: path, Err: syscall.EIO}
	}
	return &os.PathError{Op: op.String(), Path: path, Err: syscall.ENOSPC}
}

func isDiskError(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO)
}

// TestRearmAtEveryFault fails, in turn, each write, sync, create and
// directory sync a rolling workload makes (two in a row, so a re-arm can
// fail too), and checks that the log re-arms once the fault is gone: every
// acknowledged record is readable throughout, appends continue at the next
// offset, nothing unacknowledged is left behind, and a crash afterwards
// keeps exactly the acknowledged records.
func TestRearmAtEveryFault(t *testing.T) {
	opts := Options{SegmentBytes: 600, IndexIntervalBytes: 100}
	inShard := func(p string) bool { return strings.HasPrefix(p, shardPath+"/") }
	isTmp := func(p string) bool { return inShard(p) && strings.HasSuffix(p, tmpSuffix) }
	kinds := []struct {
		name  string
		op    vfs.Op
		match func(string) bool
	}{
		{"segment write", vfs.OpWrite, isSegPath},
		{"segment sync", vfs.OpSync, isSegPath},
		{"segment create", vfs.OpCreate, isSegPath},
		{"index write", vfs.OpWrite, isTmp},
		{"index sync", vfs.OpSync, isTmp},
		{"index rename", vfs.OpRename, inShard},
		{"dir sync", vfs.OpSyncDir, func(p string) bool { return p == shardPath }},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			for from := int64(1); ; from++ {
				if !rearmWorkload(t, opts, k.op, k.match, from) {
					if from < 3 {
						t.Fatalf("the workload makes only %d such operations", from-1)
					}
					return
				}
			}
		})
	}
}

// rearmWorkload runs the workload with operations from and from+1 of kind
// op failing, and reports whether any fault fired.
func rearmWorkload(t *testing.T, opts Options, op vfs.Op, match func(string) bool, from int64) bool {
	t.Helper()
	batchSizes := []int{1, 3, 2, 5, 1, 1, 4, 2, 6, 1, 3, 3}
	mem := vfs.NewMem()
	f := &diskFault{mem: mem, op: op, match: match, from: from, count: 2}
	s := openStore(t, vfs.NewErrorFS(mem, f), opts)
	l, err := s.CreateShard(crashKey)
	if err != nil {
		if !isDiskError(err) {
			t.Fatalf("fault %d: CreateShard: %v", from, err)
		}
		return true // the fault hit the shard's creation, which is not retried
	}
	acked, now := 0, int64(0)
	for _, c := range batchSizes {
		for attempt := 0; ; attempt++ {
			now += 10_000 // past any backoff
			res, err := l.Append(entries(acked, c, 40), now)
			if err == nil {
				if res.FirstOffset != uint64(acked) {
					t.Fatalf("fault %d: batch acknowledged at %d, want %d", from, res.FirstOffset, acked)
				}
				acked += c
				break
			}
			if !isDiskError(err) || !isDiskError(l.Err()) {
				t.Fatalf("fault %d: Append: %v, Err() %v; want the injected error", from, err, l.Err())
			}
			// Durable records stay readable while the log is failed.
			if l.End() != uint64(acked) {
				t.Fatalf("fault %d: failed log End %d, acknowledged %d", from, l.End(), acked)
			}
			checkRecords(t, readAll(t, l, 0), 0, 40)
			if attempt == 5 {
				t.Fatalf("fault %d: the log did not re-arm after the fault ended: %v", from, err)
			}
		}
	}
	if f.fired.Load() == 0 {
		return false
	}
	if l.Err() != nil || l.End() != uint64(acked) {
		t.Fatalf("fault %d: after re-arming Err %v End %d, acknowledged %d", from, l.Err(), l.End(), acked)
	}
	checkRecords(t, readAll(t, l, 0), 0, 40)
	crashed := mem.CrashClone()
	if err := s.Close(); err != nil {
		t.Fatalf("fault %d: Close: %v", from, err)
	}
	for name, fs := range map[string]*vfs.MemFS{"crash": crashed, "clean restart": mem} {
		r := reopen(t, fs, opts)
		if r.Err() != nil || r.End() != uint64(acked) {
			t.Fatalf("fault %d: after %s Err %v End %d, acknowledged %d", from, name, r.Err(), r.End(), acked)
		}
		checkRecords(t, readAll(t, r, 0), 0, 40)
		mustAppend(t, r, entries(acked, 2, 40), now+1)
		checkRecords(t, readAll(t, r, 0), 0, 40)
		r.Close()
	}
	return true
}

// TestDiskFullThenSpaceReturns walks through a full disk: writes fail with
// ENOSPC, then syncs fail (dropping dirty pages), then space returns.
// Reads keep serving what was acknowledged; appends resume by themselves.
func TestDiskFullThenSpaceReturns(t *testing.T) {
	mem := vfs.NewMem()
	var faults vfs.Faults
	inj := vfs.InjectorFunc(func(op vfs.Op, path string) error {
		err := faults.MaybeError(op, path)
		if err != nil && op == vfs.OpSync {
			if ferr := mem.FailWriteback(path); ferr != nil {
				return ferr
			}
		}
		return err
	})
	s := openStore(t, vfs.NewErrorFS(mem, inj), Options{})
	l := createShard(t, s, crashKey)
	now := int64(1000)
	acked := 0
	for i := 0; i < 3; i++ {
		mustAppend(t, l, entries(acked, 4, 50), now)
		acked += 4
	}
	fail := func(what string) {
		t.Helper()
		now += 10_000
		if _, err := l.Append(entries(acked, 4, 50), now); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("%s: Append = %v, want ENOSPC", what, err)
		}
		if !errors.Is(l.Err(), syscall.ENOSPC) || l.End() != uint64(acked) {
			t.Fatalf("%s: Err %v End %d, acknowledged %d", what, l.Err(), l.End(), acked)
		}
		checkRecords(t, readAll(t, l, 0), 0, 50)
	}
	faults.Fail(vfs.OpWrite, isSegPath, &vfs.ShortWriteError{N: 100, Err: syscall.ENOSPC})
	fail("write ENOSPC")
	fail("write ENOSPC again")
	faults.Clear()
	faults.Fail(vfs.OpSync, isSegPath, syscall.ENOSPC)
	fail("sync ENOSPC") // the re-arm's own sync fails
	fail("sync ENOSPC again")
	faults.Clear()
	now += 10_000
	res := mustAppend(t, l, entries(acked, 4, 50), now)
	if res.FirstOffset != uint64(acked) || l.Err() != nil {
		t.Fatalf("after space returned: first offset %d Err %v, want %d nil", res.FirstOffset, l.Err(), acked)
	}
	acked += 4
	checkRecords(t, readAll(t, l, 0), 0, 50)
	r := reopen(t, mem.CrashClone(), Options{})
	if r.Err() != nil || r.End() != uint64(acked) {
		t.Fatalf("after crash Err %v End %d, acknowledged %d", r.Err(), r.End(), acked)
	}
	checkRecords(t, readAll(t, r, 0), 0, 50)
}

// TestRearmAfterFailedSyncDropsUnsyncedPages is the fsyncgate case: a
// batch whose fsync failed stays in the page cache but never reaches the
// disk. Had the log trusted what it reads back (as a plain reopen would),
// the batch would be served, the next batches written after it, and a
// crash would leave a hole of zeros followed by acknowledged records:
// corruption. The re-arm cuts it off instead.
func TestRearmAfterFailedSyncDropsUnsyncedPages(t *testing.T) {
	mem := vfs.NewMem()
	f := &diskFault{mem: mem, op: vfs.OpSync, match: isSegPath, count: 1}
	s := openStore(t, vfs.NewErrorFS(mem, f), Options{})
	l := createShard(t, s, crashKey)
	mustAppend(t, l, entries(0, 3, 5000), 1000) // spans pages
	f.from = f.n.Load() + 1                     // the next sync fails
	if _, err := l.Append(entries(3, 3, 5000), 2000); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append with a failing sync = %v", err)
	}
	// The failed batch is in the file (and the page cache), past End.
	if l.End() != 3 {
		t.Fatalf("End %d after a failed sync, want 3", l.End())
	}
	mustAppend(t, l, entries(3, 3, 5000), 20_000)
	mustAppend(t, l, entries(6, 3, 5000), 20_001)
	checkRecords(t, readAll(t, l, 0), 0, 5000)
	r := reopen(t, mem.CrashClone(), Options{})
	if r.Err() != nil || r.End() != 9 {
		t.Fatalf("after crash Err %v End %d, want nil 9", r.Err(), r.End())
	}
	checkRecords(t, readAll(t, r, 0), 0, 5000)
}

// TestCloseAfterFailedSyncCutsBack: a log closed while failed by an fsync
// error is cut back to its durable end first, because the next open trusts
// what it reads, and the page cache may hold a batch the disk never got.
func TestCloseAfterFailedSyncCutsBack(t *testing.T) {
	mem := vfs.NewMem()
	f := &diskFault{mem: mem, op: vfs.OpSync, match: isSegPath, count: 1}
	s := openStore(t, vfs.NewErrorFS(mem, f), Options{})
	l := createShard(t, s, crashKey)
	mustAppend(t, l, entries(0, 3, 5000), 1000)
	f.from = f.n.Load() + 1
	if _, err := l.Append(entries(3, 3, 5000), 2000); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append with a failing sync = %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r := reopen(t, mem, Options{}) // a restart: the page cache survives
	if r.Err() != nil || r.End() != 3 {
		t.Fatalf("after restart Err %v End %d, want nil 3", r.Err(), r.End())
	}
	mustAppend(t, r, entries(3, 2, 5000), 3000)
	c := reopen(t, mem.CrashClone(), Options{})
	if c.Err() != nil || c.End() != 5 {
		t.Fatalf("after crash Err %v End %d, want nil 5", c.Err(), c.End())
	}
	checkRecords(t, readAll(t, c, 0), 0, 5000)
}

// TestRearmBackoff checks when a failed log tries again: not before the
// backoff, which starts at 100 ms when the first Append finds the log
// failed, doubles after each attempt that does not end in a successful
// fsync, and starts over after one.
func TestRearmBackoff(t *testing.T) {
	var faults vfs.Faults
	s := openStore(t, vfs.NewErrorFS(vfs.NewMem(), &faults), Options{})
	l := createShard(t, s, crashKey)
	mustAppend(t, l, entries(0, 1, 10), 1000)
	faults.Fail(vfs.OpWrite, isSegPath, syscall.ENOSPC)
	acked := 1
	steps := []struct {
		now     int64
		fault   bool // the write fault is on
		attempt bool // the Append tries to write
	}{
		{1000, true, true},   // fails the log
		{1000, true, true},   // the first to find it failed re-arms at once; the write fails: wait 100 ms
		{1099, true, false},  //
		{1100, true, true},   // wait 200 ms
		{1299, true, false},  //
		{1300, true, true},   // wait 400 ms
		{1699, false, false}, // space is back, but the backoff holds
		{1700, false, true},  // re-arms and appends
		{1701, true, true},   // a new failure
		{1701, true, true},   // starts over: at once, then 100 ms
		{1800, true, false},  //
		{1801, true, true},   //
		{900, true, true},    // a clock that went back does not hold the log failed
	}
	for i, st := range steps {
		if !st.fault {
			faults.Clear()
		} else if faults.Fired() == 0 || i > 0 && !steps[i-1].fault {
			faults.Clear()
			faults.Fail(vfs.OpWrite, isSegPath, syscall.ENOSPC)
		}
		before := faults.Fired()
		_, err := l.Append(entries(acked, 1, 10), st.now)
		attempted := faults.Fired() > before || err == nil
		if success := st.attempt && !st.fault; attempted != st.attempt || (err == nil) != success {
			t.Fatalf("step %d (now %d): attempted %v err %v; want attempted %v, success %v",
				i, st.now, attempted, err, st.attempt, success)
		}
		if err == nil {
			acked++
		}
	}
	checkRecords(t, readAll(t, l, 0), 0, 10)
}

// TestRearmConcurrent runs writers while faults come and go under them,
// and checks every acknowledged record at its offset, before and after a
// crash.
func TestRearmConcurrent(t *testing.T) {
	const writers, perWriter, size = 4, 60, 30
	mem := vfs.NewMem()
	var faults vfs.Faults
	inj := vfs.InjectorFunc(func(op vfs.Op, path string) error {
		err := faults.MaybeError(op, path)
		if err != nil && op == vfs.OpSync {
			if ferr := mem.FailWriteback(path); ferr != nil {
				return ferr
			}
		}
		return err
	})
	opts := Options{SegmentBytes: 2048, IndexIntervalBytes: 200}
	s := openStore(t, vfs.NewErrorFS(mem, inj), opts)
	l := createShard(t, s, crashKey)
	var clock atomic.Int64
	acked := make([]map[uint64]int, writers) // offset -> entry id
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		acked[w] = map[uint64]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			attempts := 0
			for i := 0; i < perWriter; i++ {
				id := w*perWriter + i
				for {
					attempts++
					if w == 0 {
						// Writer 0 switches the faults by its attempt count.
						switch attempts % 24 {
						case 4:
							faults.Fail(vfs.OpWrite, isSegPath, &vfs.ShortWriteError{N: 9, Err: syscall.ENOSPC})
						case 8, 20:
							faults.Clear()
						case 14:
							faults.Fail(vfs.OpSync, isSegPath, syscall.EIO)
						}
					}
					res, err := l.Append([]Entry{entry(id, size)}, clock.Add(40))
					if err == nil {
						acked[w][res.FirstOffset] = id
						break
					}
					if !isDiskError(err) {
						errs <- fmt.Errorf("writer %d: %v", w, err)
						return
					}
					if attempts > 100_000 {
						errs <- fmt.Errorf("writer %d: no success in %d attempts: %v", w, attempts, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	faults.Clear()
	check := func(name string, l *ShardLog) {
		t.Helper()
		recs := readAll(t, l, 0)
		n := 0
		for w := range writers {
			for off, id := range acked[w] {
				want := entry(id, size)
				if off >= uint64(len(recs)) || recs[off].PartitionKey != want.PartitionKey || string(recs[off].Data) != string(want.Data) {
					t.Fatalf("%s: acknowledged record %d at offset %d is missing or different", name, id, off)
				}
				n++
			}
		}
		if n != writers*perWriter {
			t.Fatalf("%s: %d acknowledged records, want %d", name, n, writers*perWriter)
		}
	}
	check("running", l)
	r := reopen(t, mem.CrashClone(), opts)
	if r.Err() != nil {
		t.Fatalf("after crash: %v", r.Err())
	}
	check("after crash", r)
}

// TestNoConcurrentFsyncOfActiveSegment checks that a roll does not fsync
// the active segment while the group commit does: Linux tells only one
// of two such fsyncs about a writeback error.
func TestNoConcurrentFsyncOfActiveSegment(t *testing.T) {
	var inSync atomic.Int32
	overlap := make(chan struct{}, 1)
	blocked, release := make(chan struct{}, 1), make(chan struct{})
	var armed atomic.Bool
	inj := vfs.InjectorFunc(func(op vfs.Op, path string) error {
		if op != vfs.OpSync || !isSegPath(path) {
			return nil
		}
		if inSync.Add(1) > 1 {
			select {
			case overlap <- struct{}{}:
			default:
			}
		}
		defer inSync.Add(-1)
		if armed.CompareAndSwap(true, false) {
			blocked <- struct{}{}
			<-release
		}
		return nil
	})
	s := openStore(t, vfs.NewErrorFS(vfs.NewMem(), inj), Options{SegmentBytes: 300})
	l := createShard(t, s, crashKey)
	armed.Store(true)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); mustAppendAsync(t, l, entries(0, 1, 200), 1) }()
	<-blocked                                                                     // the group commit's fsync is stuck
	go func() { defer wg.Done(); mustAppendAsync(t, l, entries(1, 1, 200), 2) }() // needs a roll
	select {
	case <-overlap:
		t.Error("a roll fsynced the active segment during the group commit's fsync")
	case <-time.After(200 * time.Millisecond):
		// No overlap within the window: the roll is waiting (or not
		// there yet, which proves nothing but cannot fail wrongly).
	}
	close(release)
	wg.Wait()
	checkRecords(t, readAll(t, l, 0), 0, 200)
}

func mustAppendAsync(t *testing.T, l *ShardLog, es []Entry, now int64) {
	if _, err := l.Append(es, now); err != nil {
		t.Errorf("Append: %v", err)
	}
}

// TestAppendGate checks the bound on batch bytes in progress: an Append
// past it waits for room, gets it when an earlier one finishes, or returns
// ErrBusy after AppendWait having written nothing; a lone batch larger
// than the bound still goes through.
func TestAppendGate(t *testing.T) {
	batch := entries(0, 1, 960)
	size := encodedBatchBytes(batch)
	for _, tt := range []struct {
		name     string
		wait     time.Duration
		wantBusy bool
	}{
		{"room comes", 10 * time.Second, false},
		{"wait runs out", 20 * time.Millisecond, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			blocked, release := make(chan struct{}, 1), make(chan struct{})
			var armed atomic.Bool
			var writes atomic.Int64
			inj := vfs.InjectorFunc(func(op vfs.Op, path string) error {
				if isSegPath(path) && op == vfs.OpWrite {
					writes.Add(1)
				}
				if op == vfs.OpSync && isSegPath(path) && armed.CompareAndSwap(true, false) {
					blocked <- struct{}{}
					<-release
				}
				return nil
			})
			s := openStore(t, vfs.NewErrorFS(vfs.NewMem(), inj),
				// No preallocation: the test counts the batches' writes.
				Options{MaxPendingAppendBytes: 2*size + size/2, AppendWait: tt.wait, PreallocBytes: -1})
			l := createShard(t, s, crashKey)
			var releaseOnce sync.Once
			unblock := func() { releaseOnce.Do(func() { close(release) }) }
			t.Cleanup(unblock) // before the store's Close, which waits for the fsync
			written := writes.Load()
			armed.Store(true)
			var wg sync.WaitGroup
			results := make(chan error, 3)
			appendOne := func(now int64) {
				defer wg.Done()
				_, err := l.Append(batch, now)
				results <- err
			}
			wg.Add(2)
			go appendOne(1)
			<-blocked // the first batch waits for its fsync
			go appendOne(2)
			testwait.Until(t, 10*time.Second, "two batches written", func() bool { return l.gate.pendingBytes() == 2*size && writes.Load() == written+2 })
			wg.Add(1)
			go appendOne(3) // past the bound
			if !tt.wantBusy {
				testwait.Until(t, 10*time.Second, "the third Append to wait", func() bool { return l.gate.waiting() == 1 })
				unblock()
			} else {
				err := <-results
				if !errors.Is(err, ErrBusy) {
					t.Errorf("Append past the bound = %v, want ErrBusy", err)
				}
				if n := writes.Load(); n != written+2 {
					t.Errorf("the busy Append wrote %d times", n-written-2)
				}
				unblock()
			}
			wg.Wait()
			close(results)
			for err := range results {
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
			}
			want := uint64(3)
			if tt.wantBusy {
				want = 2
			}
			if l.End() != want || l.gate.pendingBytes() != 0 {
				t.Fatalf("End %d pending %d, want %d 0", l.End(), l.gate.pendingBytes(), want)
			}
			// Alone, a batch over the bound is admitted.
			mustAppend(t, l, entries(0, 1, int(3*size)), 4)
		})
	}
}

// TestRearmNeverClearsCorruption: a log that opened corrupt stays failed.
func TestRearmNeverClearsCorruption(t *testing.T) {
	mem := fiveBatches(t, Options{})
	pos := batchPositions(t, mem, segPath(0))
	b := readFileBytes(t, mem, segPath(0))
	b[pos[1]+45] ^= 0xff // a record byte of the second of five batches
	writeFileBytes(t, mem, segPath(0), b)
	l := reopen(t, mem, Options{})
	d := l.Damage()
	if d == nil || d.Offset != pos[1] || l.End() != 2 {
		t.Fatalf("Damage %v End %d; want corruption at %d, End 2", d, l.End(), pos[1])
	}
	for _, now := range []int64{1000, 100_000, 1_000_000} {
		if _, err := l.Append(entries(2, 1, 30), now); !errors.As(err, new(*CorruptionError)) {
			t.Fatalf("Append at %d on a corrupt log = %v", now, err)
		}
	}
	if l.Damage() != d {
		t.Fatal("Damage changed")
	}
}
