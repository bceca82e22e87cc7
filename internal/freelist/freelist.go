// Package freelist keeps values for reuse between calls. Unlike a
// sync.Pool, a garbage collection does not empty it: the buffers of big
// reads are kept for the next read however often the collector runs, which
// is what a GetRecords drain makes it do. Its size is bounded.
package freelist

import "sync"

// List holds up to a fixed number of values. Safe for concurrent use; the
// zero List holds none.
type List[T any] struct {
	max int
	mu  sync.Mutex
	// free is the values held, the most recently put last.
	free []T
}

// New returns a List that holds up to max values.
func New[T any](max int) *List[T] { return &List[T]{max: max} }

// Get removes and returns the value put most recently; ok is false when
// the list is empty.
func (l *List[T]) Get() (v T, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.free)
	if n == 0 {
		return v, false
	}
	v = l.free[n-1]
	var zero T
	l.free[n-1] = zero
	l.free = l.free[:n-1]
	return v, true
}

// Put keeps v for a later Get unless the list is full, and reports whether
// it did. The caller must not use v afterwards either way.
func (l *List[T]) Put(v T) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.free) >= l.max {
		return false
	}
	l.free = append(l.free, v)
	return true
}
