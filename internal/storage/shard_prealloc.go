package storage

import "fmt"

const (
	// Options.PreallocBytes default and bound.
	defaultPreallocBytes = 1 << 20
	maxPreallocBytes     = 16 << 20
)

// zeroBlock is the source of preallocation writes. It is never written,
// so its pages stay the kernel's shared zero page and cost no memory.
var zeroBlock [1 << 20]byte

// preallocLocked writes zeros ahead of the active segment's last batch
// once the segment holds Options.PreallocBytes of batches and the room
// ahead has fallen below half of that. Batches written later overwrite
// blocks the file already has, so the fdatasync that makes them durable
// writes data only: a file that grows needs a journal commit in every
// fdatasync as well (on ext4 about half of each sync's CPU and latency).
// The zeros reach the disk with the next sync, one per PreallocBytes.
//
// Zeros never pass Options.SegmentBytes, and rollLocked, Close and a
// re-arm cut them off, so sealed segments end at their last batch. After
// a crash, recovery cuts them off as it cuts a torn tail: a frame of
// zeros is not a valid batch, and no valid batch follows it.
//
// A failed write of zeros (a full disk) is not an error of the log: the
// file may have grown by part of them, which fileEnd assumes, and the
// batches that follow fail or succeed on their own.
func (l *ShardLog) preallocLocked() {
	chunk := l.opts.PreallocBytes
	if chunk <= 0 || l.mu.writePos-l.activeSegment().dataStart < chunk || l.mu.fileEnd-l.mu.writePos >= chunk/2 {
		return
	}
	n := min(chunk, l.opts.SegmentBytes-l.mu.fileEnd)
	if n <= 0 {
		return
	}
	for off := int64(0); off < n; {
		w := min(n-off, int64(len(zeroBlock)))
		if _, err := l.mu.active.WriteAt(zeroBlock[:w], l.mu.fileEnd+off); err != nil {
			l.logger.Debug("storage: preallocation failed", "shard", l.key, "err", err)
			break
		}
		off += w
	}
	l.mu.fileEnd += n
}

// cutPreallocLocked truncates the active segment file to its last batch
// if zeros may lie beyond it; the caller syncs.
func (l *ShardLog) cutPreallocLocked() error {
	if l.mu.fileEnd <= l.mu.writePos {
		return nil
	}
	if err := l.mu.active.Truncate(l.mu.writePos); err != nil {
		return fmt.Errorf("cut preallocated space of %s: %w", l.activeSegment().path, err)
	}
	l.mu.fileEnd = l.mu.writePos
	return nil
}
