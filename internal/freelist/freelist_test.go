package freelist

import (
	"sync"
	"testing"
)

func TestList(t *testing.T) {
	l := New[int](2)
	if _, ok := l.Get(); ok {
		t.Fatal("Get from an empty list succeeded")
	}
	if !l.Put(1) || !l.Put(2) {
		t.Fatal("Put below the bound refused")
	}
	if l.Put(3) {
		t.Fatal("Put over the bound kept the value")
	}
	for _, want := range []int{2, 1} {
		if v, ok := l.Get(); !ok || v != want {
			t.Fatalf("Get = %d, %v; want %d", v, ok, want)
		}
	}
	if _, ok := l.Get(); ok {
		t.Fatal("Get from a drained list succeeded")
	}
	var zero List[int]
	if zero.Put(1) {
		t.Fatal("the zero List kept a value")
	}
}

// TestListConcurrent: values are neither lost nor handed out twice while
// goroutines share the list (run with -race).
func TestListConcurrent(t *testing.T) {
	l := New[*int](4)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 1000 {
				p, ok := l.Get()
				if !ok {
					p = new(int)
				}
				if *p != 0 {
					t.Errorf("value handed out while in use: %d", *p)
					return
				}
				*p = i + 1
				*p = 0
				l.Put(p)
			}
		})
	}
	wg.Wait()
	n := 0
	for {
		if _, ok := l.Get(); !ok {
			break
		}
		n++
	}
	if n == 0 || n > 4 {
		t.Fatalf("%d values held, want 1 to 4", n)
	}
}
