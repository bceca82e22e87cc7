package e2e

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// BenchmarkStartup fills a stream of 4 shards with SLUICE_STARTUP_GIB GiB
// (default 1) of ~4 KiB records, 500 to a PutRecords call, stops the
// server, and times restarts until /healthz answers: one per b.N. The
// metric to watch is restart-s, which should not grow with the data size.
// Run it alone, it is not part of CI:
//
//	SLUICE_STARTUP_GIB=20 go test -run '^$' -bench Startup -benchtime 3x ./test/e2e/
//
// SLUICE_STARTUP_DIR keeps the data directory (and reuses a filled one,
// skipping the fill), so that two binaries (SLUICE_E2E_BIN) can be timed
// on the same data; delete it afterwards. SLUICE_STARTUP_COLD=1 drops the
// page cache before each restart (root only), timing reads from disk.
func BenchmarkStartup(b *testing.B) {
	gib := envInt("SLUICE_STARTUP_GIB", 1)
	const (
		stream       = "startup"
		shards       = 4
		recordBytes  = 4 << 10
		perCall      = 500
		writers      = 4
		callsPerGiB  = (1 << 30) / (recordBytes * perCall)
		filledMarker = "startup-bench-filled"
	)
	dir := os.Getenv("SLUICE_STARTUP_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	marker := filepath.Join(dir, filledMarker)
	filled := false
	if m, err := os.ReadFile(marker); err == nil {
		if n, _ := strconv.Atoi(string(m)); n != gib {
			b.Fatalf("%s holds %s GiB, not %d; use another SLUICE_STARTUP_DIR", dir, m, gib)
		}
		filled = true
	}
	srv := startServerDir(b, dir, withLimitsOff([]string{"--log-level", "warn"})...)
	if !filled {
		fillStartupStream(b, srv, stream, shards, gib*callsPerGiB, perCall, recordBytes, writers)
		if err := os.WriteFile(marker, []byte(strconv.Itoa(gib)), 0o644); err != nil {
			b.Fatal(err)
		}
	}

	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		srv.stop()
		if os.Getenv("SLUICE_STARTUP_COLD") == "1" {
			dropPageCache(b)
		}
		start := time.Now()
		srv.restart()
		took := time.Since(start)
		total += took
		b.Logf("restart %d with %d GiB in %d shards: healthy after %v", i, gib, shards, took)
	}
	b.StopTimer()
	b.ReportMetric(total.Seconds()/float64(b.N), "restart-s")
	b.ReportMetric(float64(gib), "GiB")

	// The data is still there: the last record of each shard reads back.
	c := srv.client()
	for _, sh := range listAllShards(b, c, stream) {
		it := iterator(b, c, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream),
			ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeLatest})
		if it == "" {
			b.Fatalf("no iterator for %s", aws.ToString(sh.ShardId))
		}
	}
}

// fillStartupStream creates stream with shards shards and writes calls
// PutRecords calls of perCall records of recordBytes each, from writers
// goroutines, with random partition keys spreading them over the shards.
func fillStartupStream(b *testing.B, srv *server, stream string, shards, calls, perCall, recordBytes, writers int) {
	b.Helper()
	ctx := context.Background()
	c := srv.client()
	createStream(b, c, stream, int32(shards))
	wc := srv.client(exactWrites)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 11))
			data := make([]byte, recordBytes)
			for i := range data {
				data[i] = byte(r.Uint32())
			}
			entries := make([]types.PutRecordsRequestEntry, perCall)
			for next.Add(1) <= int64(calls) {
				for i := range entries {
					entries[i] = types.PutRecordsRequestEntry{Data: data,
						PartitionKey: aws.String(strconv.FormatUint(r.Uint64(), 36))}
				}
				out, err := wc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
				if err != nil {
					b.Error(err)
					return
				}
				if n := aws.ToInt32(out.FailedRecordCount); n != 0 {
					b.Errorf("PutRecords: %d records failed", n)
					return
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	took := time.Since(start)
	mib := float64(calls) * float64(perCall*recordBytes) / (1 << 20)
	b.Logf("filled %.0f MiB in %v (%.0f MiB/s)", mib, took, mib/took.Seconds())
}

// dropPageCache asks the kernel to drop clean cached pages, so that the
// next restart reads its files from disk.
func dropPageCache(b *testing.B) {
	b.Helper()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1\n"), 0); err != nil {
		b.Fatalf("drop page cache (SLUICE_STARTUP_COLD needs root): %v", err)
	}
	// Only pages already written back are dropped; the server fsynced
	// everything before it stopped.
}
