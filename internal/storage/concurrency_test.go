package storage

import (
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/sluicedata/sluice/internal/vfs"
)

// TestConcurrentAppend has many goroutines append to one log while readers
// tail it: every result's offsets must be its own and contiguous, together
// covering [0, total), readers must only ever see contiguous durable
// records, and everything reads back in order with the right content.
func TestConcurrentAppend(t *testing.T) {
	filesystems := map[string]func(t *testing.T) (vfs.FS, string){
		"mem": func(t *testing.T) (vfs.FS, string) { return vfs.NewMem(), memDir },
		"os":  func(t *testing.T) (vfs.FS, string) { return vfs.Default(), t.TempDir() },
	}
	const writers, appendsPerWriter, readers = 8, 60, 2
	for name, mk := range filesystems {
		t.Run(name, func(t *testing.T) {
			fs, dir := mk(t)
			s, err := Open(fs, dir, quietOptions(t, Options{SegmentBytes: 8 << 10, IndexIntervalBytes: 512}))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			l := createShard(t, s, "c")
			spans := make(chan span, writers*appendsPerWriter)
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < appendsPerWriter; i++ {
						n := 1 + (w+i)%5
						es := make([]Entry, n)
						for j := range es {
							es[j] = Entry{PartitionKey: fmt.Sprintf("w%d", w), Data: []byte(fmt.Sprintf("%d/%d/%d", w, i, j))}
						}
						res, err := l.Append(es, int64(i))
						if err != nil {
							t.Error(err)
							return
						}
						spans <- span{int(res.FirstOffset), n, w, i}
					}
				}()
			}
			total := 0
			for w := 0; w < writers; w++ {
				for i := 0; i < appendsPerWriter; i++ {
					total += 1 + (w+i)%5
				}
			}
			var rwg sync.WaitGroup
			for r := 0; r < readers; r++ {
				rwg.Add(1)
				go func() {
					defer rwg.Done()
					tail(t, l, uint64(total))
				}()
			}
			wg.Wait()
			close(spans)
			rwg.Wait()
			checkSpans(t, l, spans, total)
		})
	}
}

// tail reads l from 0 until it has seen total records, checking offsets are
// contiguous and never beyond End. It spins on Read rather than sleeping:
// there is no notification API, and the writers finish quickly.
func tail(t *testing.T, l *ShardLog, total uint64) {
	next := uint64(0)
	for next < total && !t.Failed() {
		recs, err := l.Read(next, 50, 1<<20)
		if err != nil {
			t.Error(err)
			return
		}
		for _, r := range recs {
			if r.Offset != next {
				t.Errorf("reader saw offset %d, want %d", r.Offset, next)
				return
			}
			next++
		}
	}
}

// span is one acknowledged batch: its offsets and who wrote it.
type span struct{ first, n, writer, seq int }

func checkSpans(t *testing.T, l *ShardLog, spans chan span, total int) {
	var all []span
	for sp := range spans {
		all = append(all, sp)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].first < all[j].first })
	next := 0
	for _, sp := range all {
		if sp.first != next {
			t.Fatalf("batch at %d, want %d: offsets overlap or have a hole", sp.first, next)
		}
		next += sp.n
	}
	if next != total || l.End() != uint64(total) {
		t.Fatalf("covered %d, End %d, want %d", next, l.End(), total)
	}
	recs := readAll(t, l, 0)
	for _, sp := range all {
		for j := 0; j < sp.n; j++ {
			r := recs[sp.first+j]
			want := fmt.Sprintf("%d/%d/%d", sp.writer, sp.seq, j)
			if string(r.Data) != want || r.PartitionKey != fmt.Sprintf("w%d", sp.writer) {
				t.Fatalf("offset %d = %q/%q, want %q", r.Offset, r.PartitionKey, r.Data, want)
			}
		}
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].ArrivalMillis < recs[i-1].ArrivalMillis {
			t.Fatalf("arrival goes back at offset %d", i)
		}
	}
}

// TestCloseDuringAppends closes a log while writers are appending: each
// Append either succeeds (and its records are durable) or fails with
// ErrClosed.
func TestCloseDuringAppends(t *testing.T) {
	mem := vfs.NewMem()
	s := openStore(t, mem, Options{SegmentBytes: 4 << 10})
	l := createShard(t, s, crashKey)
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if _, err := l.Append(entries(0, 1, 50), 1); err != nil {
					return
				}
				mu.Lock()
				acked++
				mu.Unlock()
				if i == 20 && w == 0 {
					l.Close()
				}
			}
		}()
	}
	wg.Wait()
	r := reopen(t, mem.CrashClone(), Options{})
	if r.End() != uint64(acked) {
		t.Fatalf("after Close: End %d, acknowledged %d", r.End(), acked)
	}
}
