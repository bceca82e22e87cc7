package engine

import (
	"slices"
	"time"
)

// Retention limits, in hours.
const (
	minRetentionHours = 24
	maxRetentionHours = 8760
)

// IncreaseStreamRetentionPeriod raises the stream's retention. Data that
// already expired stays expired.
func (e *Engine) IncreaseStreamRetentionPeriod(name string, hours int) error {
	return e.changeRetention(name, hours, true)
}

// DecreaseStreamRetentionPeriod lowers the stream's retention; records older
// than the new period stop being readable at once.
func (e *Engine) DecreaseStreamRetentionPeriod(name string, hours int) error {
	return e.changeRetention(name, hours, false)
}

func (e *Engine) changeRetention(name string, hours int, increase bool) error {
	return e.updateStream(name, true, func(st *stream, now int64) (bool, error) {
		switch cur := st.meta.RetentionHours; {
		case hours < minRetentionHours:
			return false, errorf(CodeInvalidArgument, "Minimum allowed retention period is %d hours. Requested retention period (%d hours) is too short.", minRetentionHours, hours)
		case hours > maxRetentionHours:
			return false, errorf(CodeInvalidArgument, "Maximum allowed retention period is %d hours. Requested retention period (%d hours) is too long.", maxRetentionHours, hours)
		case increase && hours < cur:
			return false, errorf(CodeInvalidArgument, "Requested retention period (%d hours) for stream %s can not be shorter than existing retention period (%d hours). Use DecreaseRetentionPeriod API.", hours, name, cur)
		case !increase && hours > cur:
			return false, errorf(CodeInvalidArgument, "Requested retention period (%d hours) for stream %s can not be longer than existing retention period (%d hours). Use IncreaseRetentionPeriod API.", hours, name, cur)
		}
		if increase {
			// Records that expired under the old period stay expired: the
			// horizon never moves back.
			st.meta.RetainedFromMillis = max(st.meta.RetainedFromMillis, st.trimHorizonLocked(now))
		}
		st.meta.RetentionHours = hours
		return false, nil
	})
}

// retainedStartLocked is the first offset of sh that retention still lets a
// reader see: the log's start, or the first record that arrived at or after
// the stream's trim horizon.
func (e *Engine) retainedStartLocked(st *stream, sh *shard, now int64) (uint64, error) {
	start := sh.log.Start()
	horizon := st.trimHorizonLocked(now)
	if horizon <= sh.meta.CreatedMillis {
		return start, nil
	}
	off, err := sh.log.SeekTime(horizon)
	if err != nil {
		return 0, err
	}
	return max(start, off), nil
}

// trimmer deletes what retention no longer keeps, every
// RetentionCheckInterval: whole segments whose newest record is past the
// trim horizon, and closed shards all of whose records are.
func (e *Engine) trimmer() {
	defer e.wg.Done()
	ticker := time.NewTicker(e.cfg.RetentionCheckInterval)
	defer ticker.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-ticker.C:
			e.trimOnce()
		}
	}
}

// trimOnce runs one retention pass over every stream.
func (e *Engine) trimOnce() {
	for _, name := range e.streamNames() {
		st := e.lookup(name)
		if st == nil {
			continue
		}
		now := e.nowMillis()
		var expired []uint32
		st.mu.RLock()
		if !st.gone {
			horizon := st.trimHorizonLocked(now)
			for _, sh := range st.shards {
				if st.expiredLocked(sh, now) {
					expired = append(expired, sh.meta.Index)
					continue
				}
				if _, err := sh.log.TrimBefore(horizon); err != nil {
					e.log.Warn("trim shard log", "stream", name, "shard", sh.id, "err", err)
				}
			}
		}
		st.mu.RUnlock()
		if len(expired) > 0 {
			e.dropShards(name, expired)
		}
	}
}

// dropShards removes expired closed shards from a stream: the catalog
// record first, the logs after, so a crash in between leaves only
// unreferenced files.
func (e *Engine) dropShards(name string, indexes []uint32) {
	var dropped []*shard
	err := e.updateStream(name, false, func(st *stream, now int64) (bool, error) {
		kept := st.shards[:0:0]
		for _, sh := range st.shards {
			if slices.Contains(indexes, sh.meta.Index) && st.expiredLocked(sh, now) {
				dropped = append(dropped, sh)
				continue
			}
			kept = append(kept, sh)
		}
		st.shards = kept
		return false, nil
	})
	if err != nil {
		e.log.Warn("drop expired shards", "stream", name, "err", err)
		return
	}
	for _, sh := range dropped {
		sh.log.Close()
		if err := e.store.DeleteShard(sh.store); err != nil {
			e.log.Warn("delete expired shard log", "stream", name, "shard", sh.id, "err", err)
		}
	}
}
