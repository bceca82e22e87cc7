package storage

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicedata/sluice/internal/testwait"
	"github.com/sluicedata/sluice/internal/vfs"
)

// TestCrashAtEverySyncShared is the crash workload with the shared
// filesystem sync: the clone is taken before each syncfs as well.
func TestCrashAtEverySyncShared(t *testing.T) {
	crashAtEverySync(t, Options{SegmentBytes: 600, IndexIntervalBytes: 100, SharedSync: true}, nil)
}

// TestSharedSyncOneRoundForManyLogs: batches of seven logs written while
// the sync of an eighth's runs are made durable by the next one, together:
// two syncs for eight logs.
func TestSharedSyncOneRoundForManyLogs(t *testing.T) {
	const logs = 8
	mem := vfs.NewMem()
	var syncs atomic.Int64
	var s *Store
	started, release := make(chan struct{}), make(chan struct{})
	inj := vfs.InjectorFunc(func(op vfs.Op, path string) error {
		if op == vfs.OpSyncFS && syncs.Add(1) == 1 {
			close(started)
			<-release
		}
		return nil
	})
	s = openStore(t, vfs.NewErrorFS(mem, inj), Options{SharedSync: true})
	if s.syncer == nil {
		t.Fatal("SharedSync store has no syncer")
	}
	ls := make([]*ShardLog, logs)
	for i := range ls {
		ls[i] = createShard(t, s, fmt.Sprintf("s/%d", i))
	}
	var wg sync.WaitGroup
	appendTo := func(i int, l *ShardLog) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mustAppendAsync(t, l, entries(0, 3, 20), int64(i))
		}()
	}
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	// The first log's batch starts a round whose sync holds; the other
	// seven are written while it runs. (Started all at once, they could
	// all join the first round before its sync began: one sync.)
	appendTo(0, ls[0])
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the first batch started no sync")
	}
	for i, l := range ls[1:] {
		appendTo(i+1, l)
	}
	testwait.Until(t, 10*time.Second, "every log in a round", func() bool {
		for _, l := range ls {
			l.mu.Lock()
			joined := l.mu.syncRound != 0
			l.mu.Unlock()
			if !joined {
				return false
			}
		}
		return true
	})
	for _, l := range ls {
		if l.End() != 0 {
			// The first round's sync has not returned.
			t.Fatalf("%s published %d records before its sync", l.Key(), l.End())
		}
	}
	unblock()
	wg.Wait()
	if n := syncs.Load(); n != 2 {
		t.Fatalf("%d syncs for %d logs, want 2", n, logs)
	}
	for i, l := range ls {
		if l.End() != 3 {
			t.Fatalf("log %d: End %d, want 3", i, l.End())
		}
		checkRecords(t, readAll(t, l, 0), 0, 20)
	}
	checkCrashKeeps3(t, mem, s, ls)
}

// checkCrashKeeps3 checks that each of ls, opened from a crash clone of
// mem, holds its 3 records of 20 bytes.
func checkCrashKeeps3(t *testing.T, mem *vfs.MemFS, s *Store, ls []*ShardLog) {
	t.Helper()
	crash := mem.CrashClone()
	for i, l := range ls {
		o, _ := quietOptions(t, Options{}).withDefaults()
		r, err := openShardLog(crash, s.shardDir(l.Key()), l.Key(), o)
		if err != nil {
			t.Fatal(err)
		}
		if r.End() != 3 {
			t.Fatalf("log %d after crash: End %d, want 3", i, r.End())
		}
		checkRecords(t, readAll(t, r, 0), 0, 20)
		r.Close()
	}
}

// TestSharedSyncFailure: a failed filesystem sync fails every log whose
// batch it covered, and only those; nothing it covered is acknowledged or
// published, even when a later sync succeeds; the logs re-arm and go on.
func TestSharedSyncFailure(t *testing.T) {
	mem := vfs.NewMem()
	var fail atomic.Bool
	inj := vfs.InjectorFunc(func(op vfs.Op, path string) error {
		if op == vfs.OpSyncFS && fail.Load() {
			return fmt.Errorf("syncfs %s: %w", path, vfs.ErrInjected)
		}
		return nil
	})
	s, a, b, c := threeLogs(t, vfs.NewErrorFS(mem, inj))
	fail.Store(true)
	for _, l := range []*ShardLog{a, b} {
		if _, err := l.Append(entries(2, 2, 20), 2); !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("%s: Append during failing syncs: %v, want the injected error", l.Key(), err)
		}
		if !errors.Is(l.Err(), vfs.ErrInjected) || l.End() != 2 {
			t.Fatalf("%s: Err %v End %d after the failed sync", l.Key(), l.Err(), l.End())
		}
	}
	if c.Err() != nil || c.End() != 2 {
		t.Fatalf("untouched log: Err %v End %d", c.Err(), c.End())
	}
	fail.Store(false)
	// c's batch joins a good round; a and b stay failed until an Append
	// re-arms them, cutting their lost batches off.
	mustAppend(t, c, entries(2, 2, 20), 3)
	if a.End() != 2 || b.End() != 2 {
		t.Fatalf("a good sync published a failed round: ends %d %d", a.End(), b.End())
	}
	rearmAndCrash(t, mem, s, []*ShardLog{a, b}, c)
}

// threeLogs opens a SharedSync store on fs with three logs, s/a, s/b and
// s/c, of 2 records each.
func threeLogs(t *testing.T, fs vfs.FS) (s *Store, a, b, c *ShardLog) {
	t.Helper()
	s = openStore(t, fs, Options{SharedSync: true})
	a, b, c = createShard(t, s, "s/a"), createShard(t, s, "s/b"), createShard(t, s, "s/c")
	for _, l := range []*ShardLog{a, b, c} {
		mustAppend(t, l, entries(0, 2, 20), 1)
	}
	return s, a, b, c
}

// rearmAndCrash re-arms the failed logs, each holding 2 records, with an
// Append of 3 more, and checks that every log, ok included, keeps what it
// acknowledged, in place and after a crash.
func rearmAndCrash(t *testing.T, mem *vfs.MemFS, s *Store, failed []*ShardLog, ok *ShardLog) {
	t.Helper()
	for _, l := range failed {
		mustAppend(t, l, entries(2, 3, 20), 2+200)
		if l.Err() != nil || l.End() != 5 {
			t.Fatalf("%s after re-arm: Err %v End %d", l.Key(), l.Err(), l.End())
		}
	}
	crash := mem.CrashClone()
	for _, l := range append(failed, ok) {
		checkRecords(t, readAll(t, l, 0), 0, 20)
		o, _ := quietOptions(t, Options{}).withDefaults()
		r, err := openShardLog(crash, s.shardDir(l.Key()), l.Key(), o)
		if err != nil {
			t.Fatal(err)
		}
		if r.End() != l.End() || r.Err() != nil {
			t.Fatalf("%s after crash: End %d Err %v, want %d", l.Key(), r.End(), r.Err(), l.End())
		}
		checkRecords(t, readAll(t, r, 0), 0, 20)
		r.Close()
	}
}

// TestSharedSyncFailureCoversNextRound: a batch written while a sync that
// fails runs joins the next round, and its pages may have been lost with
// that sync's; syncfs reports the error once, so the next round's sync
// succeeds. The batch must fail all the same, and its log with it, while a
// batch written after the failure was reported is acknowledged.
func TestSharedSyncFailureCoversNextRound(t *testing.T) {
	mem := vfs.NewMem()
	var armed atomic.Bool
	started, release := make(chan struct{}), make(chan struct{})
	inj := vfs.InjectorFunc(func(op vfs.Op, path string) error {
		if op == vfs.OpSyncFS && armed.CompareAndSwap(true, false) {
			close(started)
			<-release
			return fmt.Errorf("syncfs %s: %w", path, vfs.ErrInjected)
		}
		return nil
	})
	s, a, b, c := threeLogs(t, vfs.NewErrorFS(mem, inj))
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	armed.Store(true)
	errs := make(chan error, 2)
	appendAsync := func(l *ShardLog) {
		go func() {
			_, err := l.Append(entries(2, 2, 20), 2)
			errs <- err
		}()
	}
	appendAsync(a) // its round's sync will fail
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("a's batch started no sync")
	}
	appendAsync(b) // written while that sync runs: the next round
	testwait.Until(t, 10*time.Second, "b's batch in the next round", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.mu.pending) == 1
	})
	unblock()
	for range 2 {
		if err := <-errs; !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("Append written before the failed sync returned: %v, want the injected error", err)
		}
	}
	for _, l := range []*ShardLog{a, b} {
		if !errors.Is(l.Err(), vfs.ErrInjected) || l.End() != 2 {
			t.Fatalf("%s: Err %v End %d after the failed sync", l.Key(), l.Err(), l.End())
		}
	}
	// Written after the failure was reported: acknowledged.
	mustAppend(t, c, entries(2, 2, 20), 3)
	if c.Err() != nil || c.End() != 4 {
		t.Fatalf("log written after the failure: Err %v End %d", c.Err(), c.End())
	}
	rearmAndCrash(t, mem, s, []*ShardLog{a, b}, c)
}

// TestSharedSyncFailureAnyOrder: a batch takes the count of returned
// syncs before its log's lock, so a log's batches can join in the opposite
// order of their counts; publishing checks each of them against the last
// failed sync, not only the first.
func TestSharedSyncFailureAnyOrder(t *testing.T) {
	s := openStore(t, vfs.NewMem(), Options{SharedSync: true})
	l := createShard(t, s, "s/0")
	mustAppend(t, l, entries(0, 2, 20), 1)
	y := l.syncer
	l.mu.Lock()
	defer l.mu.Unlock()
	// Two batches of the same round, the second written before a sync
	// that failed, the first after it.
	k := y.returned.Load()
	round := y.durable.Load() + 1
	base := pendingSync{round: round, pos: l.mu.writePos, arrival: l.mu.lastArrival, entries: l.mu.entries}
	first, second := base, base
	first.end, first.written = l.mu.durableEnd+1, k+1
	second.end, second.written = l.mu.durableEnd+2, k
	l.mu.pending = append(l.mu.pending, first, second)
	failure := fmt.Errorf("syncfs: %w", vfs.ErrInjected)
	y.failure.Store(&syncFailure{at: k + 1, err: failure})
	y.durable.Store(round)
	end := l.mu.durableEnd
	l.publishDurableLocked()
	if !errors.Is(l.mu.err, vfs.ErrInjected) || l.mu.durableEnd != end {
		t.Fatalf("published to %d (from %d) with err %v; want the failed sync's error and nothing published", l.mu.durableEnd, end, l.mu.err)
	}
}

// TestSharedSyncConcurrent: many writers on many logs, with rolls; every
// acknowledged record is durable and in order. Run it under -race.
func TestSharedSyncConcurrent(t *testing.T) {
	mem := vfs.NewMem()
	s := openStore(t, mem, Options{SharedSync: true, SegmentBytes: 2000})
	const logs, writers, batches = 4, 3, 40
	ls := make([]*ShardLog, logs)
	for i := range ls {
		ls[i] = createShard(t, s, fmt.Sprintf("s/%d", i))
	}
	var wg sync.WaitGroup
	var acked [logs]atomic.Int64
	for i, l := range ls {
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range batches {
					res, err := l.Append(entries(0, 2, 30), 1)
					if err != nil {
						t.Errorf("Append: %v", err)
						return
					}
					if l.End() < res.FirstOffset+2 {
						t.Errorf("acknowledged %d but End is %d", res.FirstOffset+2, l.End())
					}
					acked[i].Add(2)
				}
			}()
		}
	}
	wg.Wait()
	crash := mem.CrashClone()
	for i, l := range ls {
		if got := l.End(); got != uint64(acked[i].Load()) {
			t.Fatalf("log %d: End %d, acknowledged %d", i, got, acked[i].Load())
		}
		o, _ := quietOptions(t, Options{SegmentBytes: 2000}).withDefaults()
		r, err := openShardLog(crash, s.shardDir(l.Key()), l.Key(), o)
		if err != nil {
			t.Fatal(err)
		}
		if r.End() != l.End() {
			t.Fatalf("log %d after crash: End %d, want %d", i, r.End(), l.End())
		}
		recs := readAll(t, r, 0)
		for j, rec := range recs {
			if rec.Offset != uint64(j) {
				t.Fatalf("log %d after crash: record %d has offset %d", i, j, rec.Offset)
			}
		}
		r.Close()
	}
}

// TestStartAppendManyLogs: one caller starts an append on each of several
// logs and then waits for them. With the store's shared sync they share
// rounds: the syncer may take the first batch's round before the others
// join it, and holding that round's sync until every batch is started
// leaves the rest one round, so at most two syncs; nothing is visible
// before its Wait. With NoSync each is visible once started; with per-log
// syncs each Wait syncs its own log. Every acknowledged batch survives a
// crash.
func TestStartAppendManyLogs(t *testing.T) {
	const logs = 4
	for _, tc := range []struct {
		name          string
		opts          Options
		visibleAtOnce bool
		maxSyncFS     int64 // filesystem syncs, at least one if any
		wantFileSyncs int64 // file syncs
	}{
		{"shared", Options{SharedSync: true}, false, 2, 0},
		{"per-log", Options{}, false, 0, logs},
		{"nosync", Options{NoSync: true}, true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			var syncFS, fileSyncs atomic.Int64
			counting := atomic.Bool{}
			started := make(chan struct{}) // closed once every append is started
			inj := vfs.InjectorFunc(func(op vfs.Op, path string) error {
				if !counting.Load() {
					return nil
				}
				switch op {
				case vfs.OpSyncFS:
					if syncFS.Add(1) == 1 {
						<-started
					}
				case vfs.OpSync:
					fileSyncs.Add(1)
				}
				return nil
			})
			s := openStore(t, vfs.NewErrorFS(mem, inj), tc.opts)
			ls := make([]*ShardLog, logs)
			for i := range ls {
				ls[i] = createShard(t, s, fmt.Sprintf("s/%d", i))
			}
			counting.Store(true)
			pending := make([]PendingAppend, logs)
			for i, l := range ls {
				pending[i] = l.StartAppendWithKey(entries(0, 3, 20), int64(i), "")
			}
			// While the first sync is held nothing is durable, so nothing
			// is visible, unless the store does not sync.
			var startedEnd uint64 // End after the start, before any sync
			if tc.visibleAtOnce {
				startedEnd = 3
			}
			for i, l := range ls {
				if l.End() != startedEnd {
					t.Fatalf("log %d: End %d after its start, want %d", i, l.End(), startedEnd)
				}
			}
			close(started)
			for i := range pending {
				res, err := pending[i].Wait()
				if err != nil || res.FirstOffset != 0 {
					t.Fatalf("log %d: Wait = %+v, %v", i, res, err)
				}
				if ls[i].End() != 3 {
					t.Fatalf("log %d: End %d after Wait, want 3", i, ls[i].End())
				}
			}
			counting.Store(false)
			if n, m := syncFS.Load(), fileSyncs.Load(); n > tc.maxSyncFS || tc.maxSyncFS > 0 && n == 0 || m != tc.wantFileSyncs {
				t.Errorf("%d filesystem and %d file syncs for %d logs, want 1 to %d and %d", n, m, logs, tc.maxSyncFS, tc.wantFileSyncs)
			}
			if tc.opts.NoSync {
				return // acknowledged before any sync: a crash may lose it
			}
			checkCrashKeeps3(t, mem, s, ls)
		})
	}
}

// TestStartAppendRefused: an append refused before anything is written
// reports its error from Wait and leaves the log as it was.
func TestStartAppendRefused(t *testing.T) {
	s := openStore(t, vfs.NewMem(), Options{SharedSync: true})
	l := createShard(t, s, "s/0")
	p := l.StartAppendWithKey(entries(0, 1, maxBatchBytes), 1, "")
	if _, err := p.Wait(); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("Wait = %v, want ErrBatchTooLarge", err)
	}
	mustAppend(t, l, entries(0, 2, 20), 2)
	if l.End() != 2 {
		t.Fatalf("End %d, want 2", l.End())
	}
}

// TestSharedSyncPublishes: a shared sync makes the batches of its round
// visible, and calls the log's OnPublish, before their writer waits; a
// failed one does neither.
func TestSharedSyncPublishes(t *testing.T) {
	var fail atomic.Bool
	inj := vfs.InjectorFunc(func(op vfs.Op, path string) error {
		if op == vfs.OpSyncFS && fail.Load() {
			return syscall.EIO
		}
		return nil
	})
	s := openStore(t, vfs.NewErrorFS(vfs.NewMem(), inj), Options{SharedSync: true})
	l := createShard(t, s, "s/0")
	published := make(chan struct{}, 10)
	l.SetOnPublish(func() { published <- struct{}{} })

	p := l.StartAppendWithKey(entries(0, 3, 20), 1, "")
	select {
	case <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("no OnPublish within 10s of the batch being written")
	}
	if l.End() != 3 {
		t.Fatalf("End %d once published, before Wait; want 3", l.End())
	}
	if res, err := p.Wait(); err != nil || res.FirstOffset != 0 {
		t.Fatalf("Wait = %+v, %v", res, err)
	}

	fail.Store(true)
	p = l.StartAppendWithKey(entries(3, 2, 20), 2, "")
	if _, err := p.Wait(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Wait after a failed sync = %v, want EIO", err)
	}
	if l.End() != 3 {
		t.Fatalf("End %d after a failed sync, want 3", l.End())
	}
	select {
	case <-published:
		t.Fatal("OnPublish called for a failed sync")
	default:
	}
}
