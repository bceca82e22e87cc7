package engine

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
