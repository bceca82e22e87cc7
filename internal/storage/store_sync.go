package storage

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sluicedata/sluice/internal/vfs"
)

// storeSyncer is the group commit of a Store with Options.SharedSync: one
// sync of the whole filesystem (vfs.Syncer, syncfs(2)) makes the batches
// of every shard log written before it durable, in place of one fdatasync
// per log. A PutRecords call spread over N shards then costs one sync, not
// N, and concurrent calls share it.
//
// Writes join rounds. A log registers each batch, after its pwrite
// returned, with the open round (join); the syncer's goroutine closes the
// open round, syncs, publishes each joined log's durable state (its
// OnPublish wakes readers waiting for the records before any writer has
// run), and reports to everyone who joined it. So a
// round's sync starts only after every batch in it was written, and a
// batch that joins after the round closed waits for the next one.
//
// A failed sync may have lost any page written since the last good one
// (Linux marks pages whose writeback failed clean), so it fails every log
// that joined the round before the round is reported and before the next
// round starts: a later good sync must not make such a log publish data
// after the lost pages. Pages of batches written while the failed sync ran,
// which joined the next round, may have been lost with them, and syncfs
// reports a writeback error once, to the first sync that returns after it:
// the next round's sync can succeed without those pages on the disk. So a
// batch is published only if no sync failed after it was written
// (pendingSync.written, checked in publishDurableLocked); otherwise its
// log fails as the round's did.
type storeSyncer struct {
	s       vfs.Syncer
	dir     string
	durable atomic.Uint64 // id of the last round synced without error
	// returned counts the syncs that have returned; failure is the last
	// that failed, if any.
	returned atomic.Uint64
	failure  atomic.Pointer[syncFailure]

	mu struct {
		sync.Mutex
		cond   sync.Cond
		open   *syncRound // the round batches join; nil until one does
		nextID uint64
		closed bool
	}
	done chan struct{} // closed when run returns
}

// syncFailure is a failed sync: the returned count it made, and its error.
type syncFailure struct {
	at  uint64
	err error
}

// syncRound is one sync of the filesystem and the logs that wait for it.
type syncRound struct {
	id   uint64
	logs []*ShardLog // each log once
	err  error       // set before done is closed
	done chan struct{}
}

func newStoreSyncer(s vfs.Syncer, dir string) *storeSyncer {
	y := &storeSyncer{s: s, dir: dir, done: make(chan struct{})}
	y.mu.cond.L = &y.mu.Mutex
	y.mu.nextID = 1
	go y.run()
	return y
}

// join registers a batch l has just written with the open round and
// returns the round; the caller holds l.mu (lock order: ShardLog.mu, then
// storeSyncer.mu). l.mu.syncRound remembers the last round l joined, so a
// log is listed once per round however many batches it adds.
func (y *storeSyncer) join(l *ShardLog) *syncRound {
	y.mu.Lock()
	r := y.mu.open
	if r == nil {
		r = &syncRound{id: y.mu.nextID, done: make(chan struct{})}
		y.mu.nextID++
		y.mu.open = r
		y.mu.cond.Signal()
	}
	if l.mu.syncRound != r.id {
		l.mu.syncRound = r.id
		r.logs = append(r.logs, l)
	}
	y.mu.Unlock()
	return r
}

// run syncs rounds one at a time until close, finishing any round that
// batches have joined.
func (y *storeSyncer) run() {
	defer close(y.done)
	for {
		y.mu.Lock()
		for y.mu.open == nil && !y.mu.closed {
			y.mu.cond.Wait()
		}
		r := y.mu.open
		y.mu.open = nil
		y.mu.Unlock()
		if r == nil {
			return
		}
		err := y.s.Sync()
		at := y.returned.Add(1)
		if err != nil {
			r.err = fmt.Errorf("sync the filesystem of %s: %w", y.dir, err)
			// Before any later round publishes.
			y.failure.Store(&syncFailure{at: at, err: r.err})
			for _, l := range r.logs {
				l.mu.Lock()
				l.failLocked(r.err)
				l.mu.Unlock()
			}
		} else {
			y.durable.Store(r.id)
			// Publish before the writers are woken: a reader waiting for
			// the records then need not wait for a writer to run first.
			for _, l := range r.logs {
				l.mu.Lock()
				if !l.mu.closed && l.mu.err == nil {
					l.publishDurableLocked()
				}
				l.mu.Unlock()
			}
		}
		close(r.done)
	}
}

// close stops the syncer once the rounds joined so far are synced, and
// closes its handle. The Store's logs are closed first, so nothing joins
// after.
func (y *storeSyncer) close() error {
	y.mu.Lock()
	y.mu.closed = true
	y.mu.cond.Signal()
	y.mu.Unlock()
	<-y.done
	return y.s.Close()
}

// pendingSync is a written state of a log, captured after a batch joined
// round, that becomes publishable once the round is durable.
type pendingSync struct {
	round        uint64
	end          uint64
	pos, arrival int64
	entries      []indexEntry
	written      uint64 // the syncer's returned count before the batch's write
}

// syncsReturned is the syncer's count of returned syncs, which a batch
// takes before it is written (joinStoreSyncLocked's written).
func (l *ShardLog) syncsReturned() uint64 { return l.syncer.returned.Load() }

// joinStoreSyncLocked joins the batch just written, ending at offset end,
// to the open round and remembers the state to publish once the round is
// durable; finishStoreSyncLocked, after the round is done, publishes it.
// written is syncsReturned from before the batch's write.
func (l *ShardLog) joinStoreSyncLocked(end, written uint64) *syncRound {
	r := l.syncer.join(l)
	l.mu.pending = append(l.mu.pending, pendingSync{round: r.id, end: end,
		pos: l.mu.writePos, arrival: l.mu.lastArrival, entries: l.mu.entries, written: written})
	return r
}

// finishStoreSyncLocked is called once round r, which the batch ending at
// end joined, is done: it publishes the newest state that is durable. It
// returns nil once offsets below end are durable, or the log's failure.
func (l *ShardLog) finishStoreSyncLocked(r *syncRound, end uint64) error {
	if l.mu.durableEnd >= end {
		return nil // published by a roll, Close or another waiter
	}
	if l.mu.err != nil {
		return fmt.Errorf("append to %s: %w", l.key, l.mu.err)
	}
	if r.err != nil {
		// run failed the log before reporting; only a re-arm since then
		// clears that, and a re-arm cuts the batch off.
		return fmt.Errorf("append to %s: %w", l.key, r.err)
	}
	l.publishDurableLocked()
	if l.mu.err != nil {
		// A failed sync after the batch was written (publishDurableLocked).
		return fmt.Errorf("append to %s: %w", l.key, l.mu.err)
	}
	if l.mu.durableEnd < end {
		// Our round is durable and the log has not failed, so our state
		// was among those published.
		panic(fmt.Sprintf("storage: %s: round %d durable but end %d unpublished (durable end %d)", l.key, r.id, end, l.mu.durableEnd))
	}
	return nil
}

// publishDurableLocked publishes the newest pending state whose round is
// durable, unless a sync failed after a batch it would publish was
// written: then it fails the log with that sync's error. The log has not
// failed.
func (l *ShardLog) publishDurableLocked() {
	durable := l.syncer.durable.Load()
	n := 0
	for n < len(l.mu.pending) && l.mu.pending[n].round <= durable {
		n++
	}
	if n == 0 {
		return
	}
	// Every batch not yet published (a roll or Close may have synced and
	// published some) is checked: the counts are taken before the log's
	// lock, so they need not rise in the order the batches joined.
	if f := l.syncer.failure.Load(); f != nil {
		for _, p := range l.mu.pending[:n] {
			if p.end > l.mu.durableEnd && f.at > p.written {
				l.failLocked(f.err)
				return
			}
		}
	}
	l.mu.rearm.succeeded()
	p := l.mu.pending[n-1]
	if p.end > l.mu.durableEnd {
		l.publishAtLocked(p.end, p.pos, p.arrival, p.entries)
	}
	l.mu.pending = append(l.mu.pending[:0], l.mu.pending[n:]...)
}

// SetOnPublish makes f be called each time more of l becomes visible to
// readers, whatever the sync mode; with Options.SharedSync that is when a
// round's sync ends, before its writers' Waits return. The engine wakes
// the shard's subscribers with it. f runs with l's lock held: it must be
// quick, must not block and must not call into l.
func (l *ShardLog) SetOnPublish(f func()) { l.onPublish.Store(&f) }
