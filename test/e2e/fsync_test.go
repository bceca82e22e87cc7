package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TestFsyncModes: under each --fsync mode records are acknowledged and
// readable at once, and a clean shutdown (SIGTERM) leaves every one on disk
// for the next start; with --fsync off the server warns. A value other
// than the modes is refused at start.
func TestFsyncModes(t *testing.T) {
	code, _, stderr := runSluice(t, 30*time.Second, "serve", "--fsync", "sometimes", "--data-dir", t.TempDir())
	if code != 2 || !strings.Contains(stderr, `--fsync must be filesystem, file or off, not "sometimes"`) {
		t.Fatalf("--fsync sometimes: exit %d, stderr %q; want 2 and the flag's message", code, stderr)
	}
	for _, mode := range []string{"filesystem", "file", "off"} {
		t.Run(mode, func(t *testing.T) { fsyncMode(t, mode) })
	}
}

func fsyncMode(t *testing.T, mode string) {
	srv := startServer(t, "--fsync", mode)
	if warned := strings.Contains(srv.out.String(), "--fsync off"); warned != (mode == "off") {
		t.Errorf("--fsync %s: warning about --fsync off %v in the server's log:\n%s", mode, warned, srv.out.String())
	}
	c := srv.client(exactWrites) // a retried PutRecords would be applied twice
	createStream(t, c, "nosync", 2)
	ctx := context.Background()
	const calls, per = 20, 50
	for i := range calls {
		entries := make([]types.PutRecordsRequestEntry, per)
		for j := range entries {
			entries[j] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("k%d", j)),
				Data: fmt.Appendf(nil, "record %d/%d", i, j)}
		}
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("nosync"), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords %d: %v (failed %d)", i, err, aws.ToInt32(out.FailedRecordCount))
		}
	}
	count := func(c *kinesis.Client) int {
		n := 0
		for _, sh := range listAllShards(t, c, "nosync") {
			recs := readShard(t, c, "nosync", aws.ToString(sh.ShardId))
			checkOrdered(t, recs)
			n += len(recs)
		}
		return n
	}
	if n := count(c); n != calls*per {
		t.Fatalf("read %d records right after the puts, want %d", n, calls*per)
	}
	srv.stop()
	srv.restart()
	if n := count(srv.client()); n != calls*per {
		t.Fatalf("read %d records after a clean restart, want %d", n, calls*per)
	}
}
