package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// maxPaceLag is how far a paced producer may fall behind its schedule
// before it gives up catching up: past it, a slow server would otherwise
// get a burst of every missed call at once.
const maxPaceLag = time.Second

// putPlan is one write phase: for how long, at what rate, and how many
// records at most.
type putPlan struct {
	duration time.Duration
	rate     int   // records/s over all producers; 0: as fast as possible
	records  int64 // stop once this many are acknowledged; 0: no limit
}

// putPhase is the state the producers of one phase share.
type putPhase struct {
	cfg      *Config
	ctr      *counters
	start    time.Time
	end      time.Time
	interval time.Duration // between one producer's calls; 0: none
	limit    int64
	reserved atomic.Int64 // records acknowledged or in flight
}

// producer writes one pre-built body after another.
type producer struct {
	k      *caller
	bodies *putBodies
	lat    Histogram
}

// runPut runs a write phase with cfg.Producers producers, counting into
// ctr, and returns its duration (from the first send to the last answer)
// and the call latencies.
func (r *runner) runPut(ctx context.Context, plan putPlan, ctr *counters) (time.Duration, *Histogram, error) {
	cfg := r.cfg
	producers := make([]*producer, cfg.Producers)
	for i := range producers {
		bodies, err := buildPutBodies(r.cl.proto, cfg.API, cfg.Stream, r.keys, cfg.RecordSize, cfg.Batch, i)
		if err != nil {
			return 0, nil, err
		}
		producers[i] = &producer{k: r.cl.caller(), bodies: bodies}
	}
	ph := &putPhase{cfg: cfg, ctr: ctr, limit: plan.records}
	if plan.rate > 0 {
		// Each producer sends Batch records per call and gets an equal
		// share of the rate.
		ph.interval = time.Duration(float64(time.Second) * float64(cfg.Batch*cfg.Producers) / float64(plan.rate))
	}
	ph.start = time.Now()
	ph.end = ph.start.Add(plan.duration)
	var wg sync.WaitGroup
	for i, p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Paced producers start spread over one interval, not together.
			p.run(ctx, ph, ph.start.Add(ph.interval*time.Duration(i)/time.Duration(len(producers))))
		}()
	}
	wg.Wait()
	elapsed := time.Since(ph.start)
	var lat Histogram
	for _, p := range producers {
		lat.Merge(&p.lat)
	}
	return elapsed, &lat, nil
}

// run sends until the phase's end, its record limit, or ctx's end; next is
// when the first call is due.
func (p *producer) run(ctx context.Context, ph *putPhase, next time.Time) {
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(ph.end) {
			return
		}
		if ph.interval > 0 {
			if wait := next.Sub(now); wait > 0 {
				if sleepCtx(ctx, min(wait, ph.end.Sub(now))) != nil {
					return
				}
				continue
			}
			next = next.Add(ph.interval)
			if now.Sub(next) > maxPaceLag {
				next = now
			}
		}
		n := int64(p.bodies.records)
		if ph.limit > 0 && ph.reserved.Add(n)-n >= ph.limit {
			return
		}
		acked := p.send(ctx, ph)
		if ph.limit > 0 {
			ph.reserved.Add(acked - n)
		}
	}
}

// send makes one call and counts its outcome; it returns the records
// acknowledged.
func (p *producer) send(ctx context.Context, ph *putPhase) int64 {
	start := time.Now()
	b := p.bodies.take(start.UnixNano())
	resp, err := p.k.call(ctx, p.bodies.op, b.body)
	if ctx.Err() != nil {
		return 0 // cut off by the run's end, not the server's doing
	}
	p.lat.Record(time.Since(start))
	ph.ctr.calls.Add(1)
	records := int64(p.bodies.records)
	var acked int64
	switch {
	case throttled(err):
		ph.ctr.throttles.Add(records)
	case err != nil:
		ph.ctr.fail(fmt.Sprintf("%s: %v", p.bodies.op, err))
	case p.bodies.op == "PutRecord":
		acked = 1
	default:
		a, perr := parsePutRecords(p.k.c.proto, resp)
		switch {
		case perr != nil:
			ph.ctr.fail("PutRecords: " + perr.Error())
		case int64(a.entries) != records:
			ph.ctr.fail(fmt.Sprintf("PutRecords: %d entries answered for %d records", a.entries, records))
		default:
			acked = records - int64(a.throttled+a.failed)
			ph.ctr.throttles.Add(int64(a.throttled))
			if a.failed > 0 {
				ph.ctr.errors.Add(int64(a.failed - 1))
				ph.ctr.fail(a.firstError)
			}
		}
	}
	ph.ctr.records.Add(acked)
	ph.ctr.bytes.Add(acked * int64(ph.cfg.RecordSize))
	return acked
}
