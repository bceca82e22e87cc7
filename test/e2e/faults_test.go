package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

const (
	// faultRecordBytes is the data size of the disk-full test's records.
	faultRecordBytes = 1024
	// faultBatch is the number of records per PutRecords call there.
	faultBatch = 100
	// faultRecoverTimeout bounds how long writes may take to resume once
	// space is back: the server retries at most every 5 s.
	faultRecoverTimeout = 30 * time.Second
)

// mountSmallTmpfs mounts a tmpfs of the given size (mount's syntax: "8m")
// for the test and unmounts it when the test ends, after the server the
// test starts on it has stopped. It skips the test unless it runs as root
// and mount works here.
func mountSmallTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "sluice-e2e", mnt).CombinedOutput(); err != nil {
		t.Skipf("mount a tmpfs: %v: %s", err, out)
	}
	// Registered before the server starts, so it runs after the server's
	// stop (cleanups run last first).
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// fillDisk writes path until the filesystem is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the disk: %v", err)
			}
			return
		}
	}
}

// faultLedger is what the disk-full test's writer knows: the sequence
// number of each acknowledged record id, and every id it sent.
type faultLedger struct {
	next  int
	acked map[int]string
	sent  map[int]bool
}

// put sends one PutRecords call of faultBatch new records and returns how
// many were written and how many failed with InternalFailure; any other
// answer fails the test.
func (l *faultLedger) put(t *testing.T, c *kinesis.Client, stream string) (ok, failed int) {
	t.Helper()
	in := &kinesis.PutRecordsInput{StreamName: aws.String(stream)}
	ids := make([]int, faultBatch)
	for i := range ids {
		ids[i] = l.next
		l.sent[l.next] = true
		d := make([]byte, faultRecordBytes)
		copy(d, fmt.Sprintf("id-%08d|", l.next))
		in.Records = append(in.Records, types.PutRecordsRequestEntry{Data: d, PartitionKey: aws.String("k")})
		l.next++
	}
	out, err := c.PutRecords(context.Background(), in)
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	for i, r := range out.Records {
		switch code := aws.ToString(r.ErrorCode); code {
		case "":
			l.acked[ids[i]] = aws.ToString(r.SequenceNumber)
			ok++
		case "InternalFailure":
			failed++
		default:
			t.Fatalf("PutRecords entry %d: %s %s", i, code, aws.ToString(r.ErrorMessage))
		}
	}
	if int(aws.ToInt32(out.FailedRecordCount)) != failed {
		t.Fatalf("FailedRecordCount %d, %d entries failed", aws.ToInt32(out.FailedRecordCount), failed)
	}
	return ok, failed
}

// check reads the shard and checks that every acknowledged record is there
// with its sequence number, in order, and nothing that was never sent.
func (l *faultLedger) check(t *testing.T, c *kinesis.Client, stream, shard, when string) {
	t.Helper()
	recs := readShard(t, c, stream, shard)
	checkOrdered(t, recs)
	seen := map[int]bool{}
	for _, r := range recs {
		id, err := strconv.Atoi(strings.TrimPrefix(strings.SplitN(string(r.Data), "|", 2)[0], "id-"))
		if err != nil || !l.sent[id] || seen[id] {
			t.Fatalf("%s: unexpected record %q (duplicate %v)", when, r.Data[:16], seen[id])
		}
		seen[id] = true
		if seq, ok := l.acked[id]; ok && seq != aws.ToString(r.SequenceNumber) {
			t.Fatalf("%s: record %d has sequence number %s, acknowledged as %s", when, id, aws.ToString(r.SequenceNumber), seq)
		}
	}
	for id := range l.acked {
		if !seen[id] {
			t.Fatalf("%s: acknowledged record %d is missing (%d records read, %d acknowledged)", when, id, len(recs), len(l.acked))
		}
	}
}

// TestFaultDiskFull runs the server on an 8 MiB tmpfs and fills it: writes
// fail with InternalFailure (per PutRecords entry) and
// InternalFailureException with HTTP 500 (PutRecord), both of which SDKs
// retry; reads serve every acknowledged record meanwhile; once space is
// freed, writes succeed again without a restart, and nothing acknowledged
// is lost, then or after a restart.
func TestFaultDiskFull(t *testing.T) {
	mnt := mountSmallTmpfs(t, "8m")
	srv := startServerDir(t, filepath.Join(mnt, "data"), "--shard-limits", "off")
	c := srv.client(exactWrites) // a retried write could be applied twice
	const stream, shard = "full", "shardId-000000000000"
	createStream(t, c, stream, 1)
	l := &faultLedger{acked: map[int]string{}, sent: map[int]bool{}}
	for range 5 {
		if _, failed := l.put(t, c, stream); failed > 0 {
			t.Fatalf("%d records failed before the disk was full", failed)
		}
	}

	ballast := filepath.Join(mnt, "ballast")
	fillDisk(t, ballast)
	// A batch may still fit in the space the last page of the segment
	// has left; the disk is full within a few calls.
	for i := 0; ; i++ {
		if ok, _ := l.put(t, c, stream); ok == 0 {
			break
		}
		if i == 20 {
			t.Fatal("writes still succeed on a full disk")
		}
	}
	l.put(t, c, stream) // fails again, fast
	_, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String(stream),
		PartitionKey: aws.String("k"), Data: []byte("on a full disk")})
	apiErr(t, err, "InternalFailureException")
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Fatalf("PutRecord on a full disk: %v, want HTTP 500", err)
	}
	l.check(t, c, stream, shard, "disk full")

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(faultRecoverTimeout)
	for {
		if _, failed := l.put(t, c, stream); failed == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes did not resume within %v of space returning", faultRecoverTimeout)
		}
		time.Sleep(100 * time.Millisecond) // a client's retry backoff
	}
	l.put(t, c, stream)
	l.check(t, c, stream, shard, "space back")
	if !strings.Contains(srv.out.String(), "re-armed") {
		t.Error("the server did not log that it re-armed the shard log")
	}
	srv.stop()
	srv.restart()
	l.check(t, c, stream, shard, "after restart")
}

// TestFaultCorruptSegment damages a stopped server's data: a byte in the
// middle of a sealed segment of one shard, and one in the middle of the
// active segment of another. After a restart the server runs; the shard
// whose damage recovery found at start logs it with the file and byte
// offset, serves its records up to the damage and then answers
// InternalFailureException every time (never skipping), and refuses
// writes with HTTP 500; the shard whose sealed segment is damaged does the
// same for reads that reach the damage (found then, and logged with file
// and offset), while records after the damage stay readable and writes go
// on; other streams are untouched.
func TestFaultCorruptSegment(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	keyFile := writeMasterKey(t)
	srv := startServerDir(t, dataDir, "--shard-limits", "off", "--master-key-file", keyFile)
	c := srv.client(exactWrites) // a retried write could be applied twice
	ctx := context.Background()
	const damaged, healthy = "damaged", "healthy"
	createStream(t, c, damaged, 2)
	createStream(t, c, healthy, 1)
	shards := listAllShards(t, c, damaged)
	hashKeys := []string{aws.ToString(shards[0].HashKeyRange.StartingHashKey), aws.ToString(shards[1].HashKeyRange.StartingHashKey)}
	put := func(shard int, data string) string {
		t.Helper()
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(damaged), PartitionKey: aws.String("k"),
			ExplicitHashKey: aws.String(hashKeys[shard]), Data: []byte(data)})
		if err != nil {
			t.Fatalf("PutRecord to shard %d: %v", shard, err)
		}
		if aws.ToString(out.ShardId) != shardID(shard) {
			t.Fatalf("record went to %s, want %s", aws.ToString(out.ShardId), shardID(shard))
		}
		return aws.ToString(out.SequenceNumber)
	}
	// Six one-record batches in each shard's first segment; then shard 0
	// moves to an encrypted segment, which seals its first.
	var seq0 []string
	for i := range 6 {
		seq0 = append(seq0, put(0, fmt.Sprint("s0-", i)))
		put(1, fmt.Sprint("s1-", i))
	}
	if err := startEncryption(t, c, damaged, "alias/aws/kinesis"); err != nil {
		t.Fatalf("StartStreamEncryption: %v", err)
	}
	waitStatus(t, c, damaged, types.StreamStatusActive)
	for i := 6; i < 9; i++ {
		seq0 = append(seq0, put(0, fmt.Sprint("s0-", i)))
	}
	putMarked(t, c, healthy, "ok", 3)
	srv.stop()

	dir := streamShardDirs(t, dataDir, 2)
	sealed := filepath.Join(dir, "000000000000", segmentFileName(0))
	if _, err := os.Stat(filepath.Join(dir, "000000000000", segmentFileName(6))); err != nil {
		t.Fatalf("shard 0's first segment was not sealed: %v", err)
	}
	active := filepath.Join(dir, "000000000001", segmentFileName(0))
	sealedPos := corruptSegmentBatch(t, sealed, 3)
	activePos := corruptSegmentBatch(t, active, 2)
	srv.restart()

	// Found at start: logged with file and offset.
	if !logHas(srv.out.String(), "shard log is corrupt", active, fmt.Sprint("offset=", activePos)) {
		t.Errorf("no log line names %s at offset %d", active, activePos)
	}
	// Shard 1: records before the damage, then an error every time.
	it := iterator(t, c, &kinesis.GetShardIteratorInput{StreamName: aws.String(damaged), ShardId: aws.String(shardID(1)),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	next := expectReadUpToDamage(t, c, it, []string{"s1-0", "s1-1"})
	for range 2 {
		_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(next)})
		expectFault(t, err)
	}
	_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(damaged), PartitionKey: aws.String("k"),
		ExplicitHashKey: aws.String(hashKeys[1]), Data: []byte("after the damage")})
	expectFault(t, err)

	// Shard 0: the sealed segment's index was intact, so the damage is
	// found when a read reaches it.
	it = iterator(t, c, &kinesis.GetShardIteratorInput{StreamName: aws.String(damaged), ShardId: aws.String(shardID(0)),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	next = expectReadUpToDamage(t, c, it, []string{"s0-0", "s0-1", "s0-2"})
	for range 2 {
		_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(next)})
		expectFault(t, err)
	}
	if !logHas(srv.out.String(), sealed, fmt.Sprint("at byte ", sealedPos)) {
		t.Errorf("no log line names %s at byte %d", sealed, sealedPos)
	}
	after := iterator(t, c, &kinesis.GetShardIteratorInput{StreamName: aws.String(damaged), ShardId: aws.String(shardID(0)),
		ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String(seq0[4])})
	seqNew := put(0, "s0-new")
	want := []string{"s0-4", "s0-5", "s0-6", "s0-7", "s0-8", "s0-new"}
	if got := recordData(readFrom(t, c, after)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("shard 0 after the damage: %q, want %q", got, want)
	}
	if seqLess(seqNew, seq0[8]) {
		t.Fatalf("new record's sequence number %s is below the last one %s", seqNew, seq0[8])
	}

	// Another stream is untouched.
	putMarked(t, c, healthy, "ok2", 2)
	if got := readStream(t, c, healthy); len(got) != 5 {
		t.Fatalf("healthy stream: %d records, want 5", len(got))
	}
}

// streamShardDirs returns the storage directory of the one stream in
// dataDir with n shards.
func streamShardDirs(t *testing.T, dataDir string, n int) string {
	t.Helper()
	streams, err := filepath.Glob(filepath.Join(dataDir, "shards", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, s := range streams {
		if shards, _ := filepath.Glob(filepath.Join(s, "0*")); len(shards) == n {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("streams with %d shards under %s: %v", n, dataDir, found)
	}
	return found[0]
}

// segmentFileName is the name of the segment that starts at offset base
// (docs/format/segment.md).
func segmentFileName(base uint64) string { return fmt.Sprintf("%020d.seg", base) }

// corruptSegmentBatch flips a byte inside the first record of batch n
// (from 0) of a segment file and returns the batch's byte position. The
// batches are length-prefixed frames after a header whose length is at
// bytes 6-7; a batch header is 40 bytes.
func corruptSegmentBatch(t *testing.T, path string, n int) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pos := int(binary.LittleEndian.Uint16(b[6:]))
	for range n {
		pos += 4 + int(binary.LittleEndian.Uint32(b[pos:]))
	}
	if pos+44 > len(b) {
		t.Fatalf("%s has no batch %d", path, n)
	}
	b[pos+42] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return pos
}

// expectReadUpToDamage reads from it until a call fails, checks that the
// records read are want, and returns the iterator the failing call used.
func expectReadUpToDamage(t *testing.T, c *kinesis.Client, it string, want []string) string {
	t.Helper()
	var got []string
	for range 20 {
		out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if err != nil {
			expectFault(t, err)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("read %q before the damage, want %q", got, want)
			}
			return it
		}
		got = append(got, recordData(out.Records)...)
		it = aws.ToString(out.NextShardIterator)
	}
	t.Fatalf("read %q and never reached the damage", got)
	return ""
}

// expectFault asserts err is InternalFailureException with HTTP 500.
func expectFault(t *testing.T, err error) {
	t.Helper()
	apiErr(t, err, "InternalFailureException")
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Fatalf("%v: want HTTP 500", err)
	}
}

func recordData(recs []types.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Data)
	}
	return out
}

// logHas reports whether one line of the server's output holds every part.
func logHas(out string, parts ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
