package bench

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// delivery tracks what the consumers of e2e and fanout have read, and
// tells the run when they have read everything the producers wrote.
type delivery struct {
	ctr     *counters
	target  atomic.Int64  // records to read over all consumers; MaxInt64 until the writers stop
	reached chan struct{} // signalled (buffer 1) when delivered may have reached target
	// measureFrom is the send time (Unix nanoseconds) from which records'
	// latencies are measured: the end of the warm-up.
	measureFrom atomic.Int64
}

func newDelivery(ctr *counters) *delivery {
	d := &delivery{ctr: ctr, reached: make(chan struct{}, 1)}
	d.target.Store(math.MaxInt64)
	return d
}

// add counts n records read and signals when the target is met.
func (d *delivery) add(n int) {
	if n == 0 {
		return
	}
	if d.ctr.delivered.Add(int64(n)) >= d.target.Load() {
		d.signal()
	}
}

func (d *delivery) signal() {
	select {
	case d.reached <- struct{}{}:
	default:
	}
}

// wait sets the target and waits until it is met, until within has
// passed, or until ctx ends.
func (d *delivery) wait(ctx context.Context, target int64, within time.Duration) bool {
	d.target.Store(target)
	t := time.NewTimer(within)
	defer t.Stop()
	for d.ctr.delivered.Load() < target {
		select {
		case <-d.reached:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// consumerTask is one consumer's reading of one shard; run ends when ctx
// does. Each task keeps its own latency histogram.
type consumerTask interface {
	run(ctx context.Context, ready func(error))
	latencies() *Histogram
}

// e2e is the e2e and fanout modes: consumers start on every shard from
// LATEST, then producers write at Rate for Warmup, unmeasured, and for
// Duration, measured; then the run waits up to Drain for the consumers to
// read every acknowledged record. The consumers read the warm-up's records
// too, but only records sent after it count in the latencies.
func (r *runner) e2e(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	ctr := &counters{}
	d := newDelivery(ctr)
	tasks, closeTasks, err := r.consumerTasks(ctx, d)
	if err != nil {
		return nil, err
	}
	defer closeTasks()
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan error, len(tasks))
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			t.run(cctx, func(err error) { once.Do(func() { ready <- err }) })
		}()
	}
	defer wg.Wait()
	defer stop()
	if err := waitReady(ctx, ready, len(tasks)); err != nil {
		return nil, err
	}
	var warm int64 // records the warm-up wrote
	if cfg.Warmup > 0 {
		d.measureFrom.Store(math.MaxInt64)
		var wctr counters
		if _, _, err := r.runPut(ctx, putPlan{duration: cfg.Warmup, rate: cfg.Rate}, &wctr); err != nil {
			return nil, err
		}
		warm = wctr.records.Load()
		ctr.addFailures(&wctr, "warm-up: ")
	}
	d.measureFrom.Store(time.Now().UnixNano())
	cpu, err := startCPU(cfg.ServerPID)
	if err != nil {
		return nil, err
	}
	p := startProgress(cfg.Progress, string(cfg.Mode), ctr)
	elapsed, lat, err := r.runPut(ctx, putPlan{duration: cfg.Duration, rate: cfg.Rate}, ctr)
	target := (warm + ctr.records.Load()) * int64(cfg.Consumers)
	complete := err == nil && d.wait(ctx, target, cfg.Drain)
	stop()
	wg.Wait()
	p.end()
	if err != nil {
		return nil, err
	}
	if !complete && ctx.Err() == nil {
		ctr.fail(fmt.Sprintf("consumers read %d of %d records within %v of the writers' end", ctr.delivered.Load(), target, cfg.Drain))
	}
	// Delivered reports the measured phase's records.
	ctr.delivered.Store(max(0, ctr.delivered.Load()-warm*int64(cfg.Consumers)))
	res := ctr.result(cfg.Mode, elapsed)
	res.Latency.Calls = lat.Summary()
	var e2e Histogram
	for _, t := range tasks {
		e2e.Merge(t.latencies())
	}
	res.Latency.E2E = e2e.Summary()
	return &res, cpu.finish(&res)
}

// waitReady waits until n tasks have said they are reading.
func waitReady(ctx context.Context, ready <-chan error, n int) error {
	t := time.NewTimer(streamReadyWithin)
	defer t.Stop()
	for range n {
		select {
		case err := <-ready:
			if err != nil {
				return err
			}
		case <-t.C:
			return fmt.Errorf("consumers not reading within %v", streamReadyWithin)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// consumerTasks makes a task per consumer and shard. Polling tasks get
// their LATEST iterator here, so that they read everything written after
// this returns; subscribers register their consumer here.
func (r *runner) consumerTasks(ctx context.Context, d *delivery) ([]consumerTask, func(), error) {
	cfg := r.cfg
	if n := cfg.Consumers * len(r.shards); n > maxConsumerTasks {
		return nil, func() {}, fmt.Errorf("%d consumers x %d open shards is over %d readers", cfg.Consumers, len(r.shards), maxConsumerTasks)
	}
	var tasks []consumerTask
	var pools []*h2Pool
	closeAll := func() {
		for _, p := range pools {
			p.close()
		}
	}
	for c := range cfg.Consumers {
		if cfg.Mode == ModeFanout || cfg.Consume == "subscribe" {
			name := fmt.Sprintf("sluice-bench-%d", c)
			arn, err := r.k.registerConsumer(ctx, r.streamARN, name)
			if err != nil {
				return nil, closeAll, err
			}
			r.consumers = append(r.consumers, name)
			// One HTTP/2 connection per consumer, as separate applications
			// would have; its shards' subscriptions share it.
			pool := r.cl.h2Pool(cfg.FrameSize)
			pools = append(pools, pool)
			for _, sh := range r.shards {
				tasks = append(tasks, &subscriber{k: r.cl.caller(), pool: pool, consumerARN: arn, shard: sh.id, d: d})
			}
			continue
		}
		for _, sh := range r.shards {
			it, err := r.k.shardIterator(ctx, cfg.Stream, sh.id, "LATEST")
			if err != nil {
				return nil, closeAll, err
			}
			tasks = append(tasks, &poller{reader: reader{k: r.cl.caller(), shard: sh.id}, it: it, cfg: cfg, d: d})
		}
	}
	return tasks, closeAll, nil
}

// poller reads one shard with GetRecords, as a polling consumer
// application does: at once while it gets full answers, else after
// PollInterval.
type poller struct {
	reader
	it   string
	cfg  *Config
	d    *delivery
	e2e  Histogram
	sink latencySink
}

func (p *poller) latencies() *Histogram { return &p.e2e }

func (p *poller) run(ctx context.Context, ready func(error)) {
	ready(nil)
	p.sink.hist, p.sink.from = &p.e2e, &p.d.measureFrom
	var scratch counters // consumers' calls are not counted with the writers'
	for ctx.Err() == nil {
		start := time.Now()
		a, err := p.getRecords(ctx, p.it, p.cfg.Limit, &scratch, &p.sink)
		switch {
		case ctx.Err() != nil:
			return
		case throttled(err):
			p.d.ctr.throttles.Add(1)
		case err != nil:
			p.d.ctr.fail(fmt.Sprintf("GetRecords on shard %s: %v", p.shard, err))
		default:
			p.d.add(a.records)
			if !a.hasNext || a.next == "" {
				return
			}
			p.it = a.next
			if a.records >= p.cfg.Limit {
				continue
			}
		}
		if sleepCtx(ctx, time.Until(start.Add(p.cfg.PollInterval))) != nil {
			return
		}
	}
}
