package engine

// notActive is the error for a change asked of a stream that is not ACTIVE.
func (e *Engine) notActive(name, status string) *Error {
	return errorf(CodeResourceInUse, "Stream %s under account %s not ACTIVE, instead in state %s", name, e.cfg.AccountID, status)
}

// updateStream changes a stream under its write lock and persists the
// change. Any due transition is applied first; with requireActive, a stream
// that is not ACTIVE gets ResourceInUseException. fn changes st (it may
// create shard logs) and reports whether the change passes the stream
// through UPDATING; when fn returns an error it must have changed nothing.
func (e *Engine) updateStream(name string, requireActive bool, fn func(st *stream, now int64) (updating bool, err error)) error {
	st := e.lookup(name)
	if st == nil {
		return e.streamNotFound(name)
	}
	now := e.nowMillis()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gone {
		return e.streamNotFound(name)
	}
	st.settleLocked(now)
	if st.meta.Status == StatusDeleting || (requireActive && st.meta.Status != StatusActive) {
		return e.notActive(name, st.meta.Status)
	}
	updating, err := fn(st, now)
	if err != nil {
		return err
	}
	if updating && e.cfg.StateDelay > 0 {
		st.meta.Status = StatusUpdating
		st.meta.Transition = &transition{To: StatusActive, AtMillis: now + e.cfg.StateDelay.Milliseconds()}
	}
	if err := e.persistLocked(st); err != nil {
		return e.internalFailure(err)
	}
	return nil
}

// viewStream runs fn on a stream under its read lock.
func (e *Engine) viewStream(name string, fn func(st *stream, now int64) error) error {
	st := e.lookup(name)
	if st == nil {
		return e.streamNotFound(name)
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	if st.gone {
		return e.streamNotFound(name)
	}
	return fn(st, e.nowMillis())
}
