package storage

import (
	"errors"
	"fmt"
)

// More errors a caller can act on, beside those in api.go.
var (
	// ErrBatchTooLarge: an Append whose encoded batch would exceed
	// maxBatchBytes. The log is not failed; the caller split too little.
	ErrBatchTooLarge = errors.New("batch too large")
	// ErrOffsetBeyondEnd: a Read from an offset greater than End().
	ErrOffsetBeyondEnd = errors.New("offset is beyond the log end")
	// ErrBusy: an Append waited Options.AppendWait for room under
	// Options.MaxPendingAppendBytes and wrote nothing. The log is not
	// failed; the disk is slower than the writers, and the caller may
	// retry later.
	ErrBusy = errors.New("shard log is busy: too many appends are waiting for the disk")
)

// CorruptionError reports data on disk that is not what Sluice wrote: a bad
// checksum, an impossible field, or a hole between segments. It names the
// file and the byte offset of the damaged frame so an operator can look at
// it; storage never skips past it. Prometheus' wlog.CorruptionErr is the
// model.
type CorruptionError struct {
	File   string // path of the damaged file, as given to vfs
	Offset int64  // byte offset of the damaged frame in File
	Reason string // what check failed
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("corruption in %s at byte %d: %s", e.File, e.Offset, e.Reason)
}
