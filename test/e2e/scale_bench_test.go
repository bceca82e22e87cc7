package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// procStats is what /proc says of the server process.
type procStats struct {
	cpu     time.Duration // user + system
	rssKiB  int64
	threads int64
	fds     int
}

func readProcStats(b testing.TB, pid int) procStats {
	b.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	var ps procStats
	ps.cpu = time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, _ := strconv.ParseInt(strings.Fields(v + " 0")[0], 10, 64)
		switch k {
		case "VmRSS":
			ps.rssKiB = n
		case "Threads":
			ps.threads = n
		}
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	ps.fds = len(fds)
	return ps
}

func (s *server) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

// BenchmarkScale10kShards creates 200 streams of 50 shards (10,000 shards)
// on one server and reports creation time, idle CPU and memory, put
// throughput with writes spread over every shard, and restart time. Run it
// alone: go test -run '^$' -bench Scale10kShards -benchtime 1x ./test/e2e/
// SLUICE_SCALE_STREAMS and SLUICE_SCALE_SHARDS change the shape.
func BenchmarkScale10kShards(b *testing.B) {
	streams, shards := envInt("SLUICE_SCALE_STREAMS", 200), envInt("SLUICE_SCALE_SHARDS", 50)
	total := streams * shards
	srv := startServer(b, "--shard-quota", strconv.Itoa(total), "--log-level", "warn")
	c := srv.client()
	ctx := context.Background()
	base := readProcStats(b, srv.pid())

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(streams) {
					return
				}
				name := fmt.Sprintf("scale-%03d", i)
				for {
					_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))})
					if err == nil {
						break
					}
					if !strings.Contains(err.Error(), "LimitExceededException") {
						b.Error(err)
						return
					}
					// 5 streams in CREATING at once is AWS's limit; wait for one.
					time.Sleep(10 * time.Millisecond)
				}
				waitStatus(b, c, name, types.StreamStatusActive)
			}
		}()
	}
	wg.Wait()
	created := time.Since(start)
	after := readProcStats(b, srv.pid())
	b.ReportMetric(created.Seconds(), "create-s")
	b.ReportMetric(float64(after.rssKiB-base.rssKiB)*1024/float64(total), "B-rss/shard")
	b.Logf("created %d shards in %d streams in %v; RSS %d MiB (from %d), %d threads, %d fds",
		total, streams, created, after.rssKiB/1024, base.rssKiB/1024, after.threads, after.fds)

	// Idle: the measurement is the CPU time used over a fixed window.
	const idleWindow = 30 * time.Second
	idle0 := readProcStats(b, srv.pid())
	time.Sleep(idleWindow)
	idle1 := readProcStats(b, srv.pid())
	idleCPU := float64(idle1.cpu-idle0.cpu) / float64(idleWindow) * 100
	b.ReportMetric(idleCPU, "idle-cpu-%")
	b.Logf("idle for %v: %.2f%% of one core, RSS %d MiB", idleWindow, idleCPU, idle1.rssKiB/1024)

	// Writes spread over every shard: random partition keys, random streams.
	const putWindow = 20 * time.Second
	var records atomic.Int64
	wc := srv.client(exactWrites)
	deadline := time.Now().Add(putWindow)
	put0 := readProcStats(b, srv.pid())
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			entries := make([]types.PutRecordsRequestEntry, 500)
			data := make([]byte, 100)
			for time.Now().Before(deadline) {
				for i := range entries {
					entries[i] = types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(strconv.FormatUint(r.Uint64(), 36))}
				}
				out, err := wc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(fmt.Sprintf("scale-%03d", r.IntN(streams))), Records: entries})
				if err != nil {
					b.Error(err)
					return
				}
				records.Add(int64(len(entries)) - int64(aws.ToInt32(out.FailedRecordCount)))
			}
		}()
	}
	wg.Wait()
	put1 := readProcStats(b, srv.pid())
	rate := float64(records.Load()) / putWindow.Seconds()
	b.ReportMetric(rate, "put-records/s")
	b.Logf("puts over all shards: %d records in %v = %.0f records/s; server CPU %.1f s; RSS %d MiB",
		records.Load(), putWindow, rate, (put1.cpu - put0.cpu).Seconds(), put1.rssKiB/1024)

	srv.stop()
	restart := time.Now()
	srv.restart()
	took := time.Since(restart)
	b.ReportMetric(took.Seconds(), "restart-s")
	b.Logf("restart with %d shards: healthy after %v", total, took)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
