package testwait

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	Until(t, 10*time.Second, "three increments", func() bool { return n.Load() == 3 })
}

// fatalT records a Fatalf instead of stopping the test.
type fatalT struct {
	testing.TB
	failed bool
}

func (f *fatalT) Helper() {}
func (f *fatalT) Fatalf(string, ...any) {
	f.failed = true
	panic(f)
}

func TestUntilTimesOut(t *testing.T) {
	f := &fatalT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != f {
				panic(r)
			}
		}()
		Until(f, 20*time.Millisecond, "nothing", func() bool { return false })
	}()
	if !f.failed {
		t.Fatal("Until returned for a condition that never held")
	}
}
