package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// lineCollector gathers a subprocess's stdout lines.
type lineCollector struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineCollector) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// TestSluiceTail runs `sluice tail` by polling and through a consumer while
// records are put and a shard is split: every record is printed exactly
// once, across the split.
func TestSluiceTail(t *testing.T) {
	for _, mode := range []string{"polling", "consumer"} {
		t.Run(mode, func(t *testing.T) {
			srv := startServer(t)
			c := srv.client()
			ctx := context.Background()
			createStream(t, c, "tailed", 2)
			put := func(from, to int) {
				for i := from; i < to; i++ {
					if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("tailed"),
						PartitionKey: aws.String(fmt.Sprint("k", i)), Data: []byte(fmt.Sprint("record-", i))}); err != nil {
						t.Fatal(err)
					}
				}
			}
			put(0, 10)
			args := []string{"tail", "--endpoint", srv.endpoint(), "--from", "trim-horizon", "--poll", "100ms"}
			if mode == "consumer" {
				args = append(args, "--consumer", "tailer")
			}
			cmd := exec.Command(sluiceBin, append(args, "tailed")...)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var got lineCollector
			done := make(chan struct{})
			go func() {
				defer close(done)
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					got.mu.Lock()
					got.lines = append(got.lines, sc.Text())
					got.mu.Unlock()
				}
			}()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-done
				cmd.Wait()
			})
			waitLines := func(n int) {
				deadline := time.Now().Add(20 * time.Second)
				for len(got.snapshot()) < n {
					if time.Now().After(deadline) {
						t.Fatalf("sluice tail printed %d lines, want %d; stderr: %s", len(got.snapshot()), n, stderr.String())
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			waitLines(10)
			put(10, 20)
			if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("tailed"), ShardToSplit: aws.String(shardID(0)),
				NewStartingHashKey: aws.String(evenRanges(4)[1][0].String())}); err != nil {
				t.Fatal(err)
			}
			put(20, 40)
			waitLines(40)
			seen := map[string]int{}
			for _, l := range got.snapshot() {
				seen[l]++
			}
			for i := range 40 {
				if n := seen[fmt.Sprint("record-", i)]; n != 1 {
					t.Errorf("record-%d printed %d times", i, n)
				}
			}
		})
	}
}
