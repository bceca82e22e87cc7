package engine

import (
	"math/big"
)

// Capacity-mode limits (AWS's defaults).
const (
	maxModeChangesPerDay  = 2
	hotShardSeconds       = 3  // distinct seconds with throttled writes ...
	hotShardWindowSeconds = 10 // ... within this window make a shard hot
)

// UpdateStreamMode switches a stream between PROVISIONED and ON_DEMAND. The
// shards stay as they are; an ON_DEMAND stream then splits hot shards by
// itself.
func (e *Engine) UpdateStreamMode(name, mode string, warmThroughputMiBps *int) error {
	onDemand := 0
	if mode == ModeOnDemand {
		onDemand = e.onDemandStreamCount()
	}
	return e.updateStream(name, true, func(st *stream, now int64) (bool, error) {
		if st.meta.Mode == mode {
			return false, errorf(CodeInvalidArgument, "Stream %s under account %s is already in %s mode.", name, e.cfg.AccountID, mode)
		}
		if len(recentTimes(st.meta.ModeChanges, now)) >= maxModeChangesPerDay {
			return false, errorf(CodeLimitExceeded, "Stream %s under account %s has exceeded the limit of %d capacity mode changes in a rolling 24-hour period.",
				name, e.cfg.AccountID, maxModeChangesPerDay)
		}
		if mode == ModeOnDemand && onDemand >= onDemandStreamCountLimit {
			return false, errorf(CodeLimitExceeded, "This request would exceed the limit on the number of On-Demand streams for the account %s in %s. Current On-Demand streams count: %d. Limit: %d.",
				e.cfg.AccountID, e.cfg.Region, onDemand, onDemandStreamCountLimit)
		}
		st.meta.ModeChanges = append(recentTimes(st.meta.ModeChanges, now), now)
		st.meta.Mode = mode
		if warmThroughputMiBps != nil && mode == ModeOnDemand {
			w := *warmThroughputMiBps
			st.meta.WarmThroughputMiBps = &w
		}
		return true, nil
	})
}

func (e *Engine) onDemandStreamCount() int {
	n := 0
	for _, s := range e.ListStreams() {
		if s.Mode == ModeOnDemand {
			n++
		}
	}
	return n
}

// noteThrottle records that sh refused writes at now and reports whether it
// has become hot: throttled in hotShardSeconds distinct seconds within the
// last hotShardWindowSeconds. A hot shard's history is cleared.
func (l *shardLimiter) noteThrottle(now int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	sec := now / 1000
	if n := len(l.throttledSecs); n > 0 && l.throttledSecs[n-1] == sec {
		return false
	}
	kept := l.throttledSecs[:0]
	for _, s := range l.throttledSecs {
		if sec-s < hotShardWindowSeconds {
			kept = append(kept, s)
		}
	}
	l.throttledSecs = append(kept, sec)
	if len(l.throttledSecs) >= hotShardSeconds {
		l.throttledSecs = l.throttledSecs[:0]
		return true
	}
	return false
}

// scaleHotShard splits a hot shard of an ON_DEMAND stream at the middle of
// its range, within the account's shard quota. It runs on its own goroutine,
// owned by the engine, because the caller holds the stream's read lock.
func (e *Engine) scaleHotShard(name string, index uint32) {
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		err := e.updateStream(name, false, func(st *stream, now int64) (bool, error) {
			sh := st.shardByIndex(index)
			if st.meta.Mode != ModeOnDemand || sh == nil || sh.meta.ClosedMillis != 0 {
				return false, nil
			}
			mid := midpoint(sh.rng)
			if mid.Cmp(sh.rng.Start.Add1()) <= 0 {
				return false, nil // too narrow to split
			}
			if err := e.reserveShards(1); err != nil {
				return false, err
			}
			e.log.Info("splitting hot shard of on-demand stream", "stream", name, "shard", sh.id)
			if err := e.splitLocked(st, sh, mid, now); err != nil {
				e.releaseShards(1)
				return false, err
			}
			return false, nil
		})
		if err != nil {
			e.log.Warn("on-demand scaling", "stream", name, "shard", ShardID(index), "err", err)
		}
	}()
}

// midpoint is the first key of the upper half of r.
func midpoint(r HashRange) HashKey {
	sum := new(big.Int).Add(r.Start.big(), r.End.big())
	sum.Add(sum, big.NewInt(1))
	return hashKeyFromBig(sum.Rsh(sum, 1))
}
