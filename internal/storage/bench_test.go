package storage

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicedata/sluice/internal/vfs"
)

// Benchmarks run on the real OS filesystem in b.TempDir(), so they measure
// the disk's fdatasync. Compare BenchmarkAppend/…/writers=1 with
// BenchmarkRawWriteSync of the same shape: the raw one is one write and one
// fdatasync of the same bytes, the floor the log can approach.

var benchShapes = []struct{ recordBytes, batch int }{{100, 1}, {100, 500}, {1024, 1}, {1024, 500}}

// countSyncs wraps the OS filesystem to count fdatasyncs and syncfs calls.
func countSyncs(n *atomic.Int64) vfs.FS {
	return vfs.NewErrorFS(vfs.Default(), vfs.InjectorFunc(func(op vfs.Op, path string) error {
		if op == vfs.OpSync || op == vfs.OpSyncFS {
			n.Add(1)
		}
		return nil
	}))
}

func benchEntries(batch, recordBytes int) []Entry {
	es := make([]Entry, batch)
	for i := range es {
		es[i] = Entry{PartitionKey: fmt.Sprintf("partition-%d", i), Data: make([]byte, recordBytes)}
	}
	return es
}

func BenchmarkAppend(b *testing.B) {
	for _, sh := range benchShapes {
		for _, writers := range []int{1, 8} {
			name := fmt.Sprintf("record=%dB/batch=%d/writers=%d", sh.recordBytes, sh.batch, writers)
			b.Run(name, func(b *testing.B) { benchAppend(b, sh.recordBytes, sh.batch, writers) })
		}
	}
}

func benchAppend(b *testing.B, recordBytes, batch, writers int) {
	var syncs atomic.Int64
	s, err := Open(countSyncs(&syncs), filepath.Join(b.TempDir(), "data"), quietOptions(b, Options{}))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l := createShard(b, s, "bench/0")
	es := benchEntries(batch, recordBytes)
	b.SetBytes(int64(recordBytes * batch))
	b.ReportAllocs()
	syncs.Store(0)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := l.Append(es, time.Now().UnixMilli()); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/float64(max(syncs.Load(), 1)), "batches/sync")
}

// BenchmarkAppendShards is a PutRecords of 500 x 100 B spread over N
// shards, from 4 callers at once: each op appends N batches of 500/N
// records, one per shard, in parallel, and returns when all are durable.
// sync=file is an fdatasync per shard log (with preallocation, as served),
// sync=filesystem one syncfs per round for all of them (SharedSync).
func BenchmarkAppendShards(b *testing.B) {
	for _, shards := range []int{4, 16} {
		for _, mode := range []string{"file", "filesystem"} {
			b.Run(fmt.Sprintf("shards=%d/sync=%s", shards, mode), func(b *testing.B) {
				opts := Options{PreallocBytes: defaultPreallocBytes}
				if mode == "filesystem" {
					opts = Options{SharedSync: true, PreallocBytes: -1}
				}
				benchAppendShards(b, shards, opts)
			})
		}
	}
}

func benchAppendShards(b *testing.B, shards int, opts Options) {
	const callers, records, recordBytes = 4, 500, 100
	var syncs atomic.Int64
	s, err := Open(countSyncs(&syncs), filepath.Join(b.TempDir(), "data"), quietOptions(b, opts))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	logs := make([]*ShardLog, shards)
	for i := range logs {
		logs[i] = createShard(b, s, fmt.Sprintf("bench/%d", i))
	}
	es := benchEntries(records/shards, recordBytes)
	b.SetBytes(int64(records / shards * shards * recordBytes))
	syncs.Store(0)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var call sync.WaitGroup
			for next.Add(1) <= int64(b.N) {
				for _, l := range logs {
					call.Add(1)
					go func() {
						defer call.Done()
						if _, err := l.Append(es, time.Now().UnixMilli()); err != nil {
							b.Error(err)
						}
					}()
				}
				call.Wait()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*records/shards*shards)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(syncs.Load())/float64(b.N), "syncs/op")
}

func BenchmarkRawWriteSync(b *testing.B) {
	for _, sh := range benchShapes {
		size := encodedBatchBytes(benchEntries(sh.batch, sh.recordBytes))
		b.Run(fmt.Sprintf("record=%dB/batch=%d", sh.recordBytes, sh.batch), func(b *testing.B) {
			f, err := vfs.Default().Create(filepath.Join(b.TempDir(), "raw"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, size)
			b.SetBytes(int64(sh.recordBytes * sh.batch)) // same payload accounting as BenchmarkAppend
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := f.WriteAt(buf, int64(i)*size); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N*sh.batch)/elapsed.Seconds(), "records/s")
		})
	}
}

// BenchmarkRead reads a prefilled log from the page cache: each op is one
// Read of up to one batch's worth of records, at offsets spread over the
// log. The log is filled with batches of the same shape (fewer records for
// batch=1, which costs one fdatasync per record to fill).
func BenchmarkRead(b *testing.B) {
	for _, sh := range benchShapes {
		b.Run(fmt.Sprintf("record=%dB/batch=%d", sh.recordBytes, sh.batch), func(b *testing.B) {
			total := 100_000
			if sh.batch == 1 {
				total = 2_000
			}
			s, err := Open(vfs.Default(), filepath.Join(b.TempDir(), "data"), quietOptions(b, Options{}))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			l := createShard(b, s, "bench/0")
			fill := benchEntries(sh.batch, sh.recordBytes)
			for n := 0; n < total; n += len(fill) {
				if _, err := l.Append(fill, int64(n)); err != nil {
					b.Fatal(err)
				}
			}
			for _, readers := range []int{1, 8} {
				b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) { benchRead(b, l, sh.recordBytes, sh.batch, readers) })
			}
		})
	}
}

func benchRead(b *testing.B, l *ShardLog, recordBytes, batch, readers int) {
	end := l.End()
	b.SetBytes(int64((recordBytes + len("partition-000")) * batch))
	b.ReportAllocs()
	var next, records atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				from := uint64(i*7919) % end // spread reads over the log
				recs, err := l.Read(from, batch, 10<<20)
				if err != nil {
					b.Error(err)
					return
				}
				records.Add(int64(len(recs)))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(records.Load())/elapsed.Seconds(), "records/s")
}

// BenchmarkEncryptionCost appends and reads batches of 500 x 100 B with and
// without encryption, on an in-memory filesystem (the CPU cost alone) and
// on the real disk (with fdatasync). Compare plain and encrypted ns/op.
func BenchmarkEncryptionCost(b *testing.B) {
	keys := newTestKeys("k")
	for _, disk := range []bool{false, true} {
		for _, ref := range []string{"", "k"} {
			name := fmt.Sprintf("fs=%s/enc=%v", map[bool]string{false: "mem", true: "disk"}[disk], ref != "")
			b.Run(name, func(b *testing.B) {
				var fs vfs.FS = vfs.NewMem()
				dir := memDir
				if disk {
					fs, dir = vfs.Default(), filepath.Join(b.TempDir(), "data")
				}
				s, err := Open(fs, dir, quietOptions(b, Options{DataKeys: keys}))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				l := createShard(b, s, "bench/0")
				es := benchEntries(500, 100)
				b.Run("append", func(b *testing.B) {
					b.SetBytes(500 * 100)
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						if _, err := l.AppendWithKey(es, int64(i), ref); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("read", func(b *testing.B) {
					end := l.End()
					b.SetBytes(500 * 100)
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						from := uint64(i*500) % end / 500 * 500
						if recs, err := l.Read(from, 500, 10<<20); err != nil || len(recs) == 0 {
							b.Fatal(len(recs), err)
						}
					}
				})
			})
		}
	}
}
