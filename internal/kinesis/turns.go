package kinesis

import (
	"runtime"
	"sync/atomic"
)

// turns bounds how many GetRecords calls read and encode their answers at
// once. An answer of 10,000 records is milliseconds of CPU; consumers
// catching up on a backlog, or many polling together, otherwise take every
// processor, and the writes waiting behind them for a processor (to append,
// to answer once durable) double their latency. With turns for half the
// processors, reads keep their throughput on the half they get and writes
// always find the rest. Nothing is held across I/O to a client: the answer
// is written out after the turn is given back. A read the page cache
// cannot serve waits for the disk inside its turn, which delays other
// readers (with one turn, all of them), never writers.
type turns struct {
	ch      chan struct{}
	waiting atomic.Int32 // callers in take; for tests
}

// readTurns is the number of turns a Service gives GetRecords: half of the
// processors Go schedules on, at least one.
func readTurns() int { return max(1, runtime.GOMAXPROCS(0)/2) }

func newTurns(n int) *turns { return &turns{ch: make(chan struct{}, n)} }

// take waits for a turn.
func (t *turns) take() {
	t.waiting.Add(1)
	t.ch <- struct{}{}
	t.waiting.Add(-1)
}

// give returns a turn taken.
func (t *turns) give() { <-t.ch }
