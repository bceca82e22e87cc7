package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// writeMasterKey writes a fresh master key, 64 hex characters, to a file
// outside any data directory and returns its path.
func writeMasterKey(t testing.TB) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ringKey is one entry of `sluice keys list --json`.
type ringKey struct {
	KeyId    string
	Arn      string
	Aliases  []string
	Versions int
}

func listRingKeys(t testing.TB, dataDir, keyFile string) []ringKey {
	t.Helper()
	code, out, errOut := runSluice(t, time.Minute, "keys", "list", "--json", "--data-dir", dataDir, "--master-key-file", keyFile)
	if code != 0 {
		t.Fatalf("sluice keys list: exit %d: %s", code, errOut)
	}
	var keys []ringKey
	if err := json.Unmarshal([]byte(out), &keys); err != nil {
		t.Fatalf("sluice keys list --json: %v\n%s", err, out)
	}
	return keys
}

// fileState is what a directory's files are: name -> size, mtime, hash.
func fileState(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fmt.Sprintf("dir %v", fi.Mode())
		if !d.IsDir() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			v = fmt.Sprintf("%d %d %x", fi.Size(), fi.ModTime().UnixNano(), sha256.Sum256(b))
		}
		out[path] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// filesContaining lists the files under dir that contain needle.
func filesContaining(t testing.TB, dir string, needle string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(needle)) {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func putMarked(t testing.TB, c *kinesis.Client, stream, marker string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{
			StreamName:   aws.String(stream),
			PartitionKey: aws.String(fmt.Sprintf("key-%s-%d", marker, i)),
			Data:         []byte(fmt.Sprintf("%s-%03d payload", marker, i)),
		}); err != nil {
			t.Fatalf("PutRecord %s %d: %v", marker, i, err)
		}
	}
}

// readStream reads every shard of stream from TRIM_HORIZON and returns the
// records' data, sorted.
func readStream(t testing.TB, c *kinesis.Client, stream string) []string {
	t.Helper()
	shards, err := c.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, sh := range shards.Shards {
		for _, r := range readShard(t, c, stream, aws.ToString(sh.ShardId)) {
			out = append(out, string(r.Data))
		}
	}
	sort.Strings(out)
	return out
}

func wantMarked(markers map[string]int) []string {
	var out []string
	for m, n := range markers {
		for i := 0; i < n; i++ {
			out = append(out, fmt.Sprintf("%s-%03d payload", m, i))
		}
	}
	sort.Strings(out)
	return out
}

func startEncryption(t testing.TB, c *kinesis.Client, stream, keyID string) error {
	t.Helper()
	_, err := c.StartStreamEncryption(context.Background(), &kinesis.StartStreamEncryptionInput{
		StreamName: aws.String(stream), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(keyID),
	})
	return err
}

// TestEncryptionAtRest: records written after StartStreamEncryption are
// nowhere in the data directory as plaintext, read back as plaintext, and
// survive a restart with the master key; a wrong or missing master key
// stops the server at start without touching a file; StopStreamEncryption
// writes plaintext again; unknown keys get KMS's NotFoundException texts.
func TestEncryptionAtRest(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	keyFile := writeMasterKey(t)
	srv := startServerDir(t, dataDir, "--shard-limits", "off", "--master-key-file", keyFile)
	c := srv.client()
	ctx := context.Background()
	createStream(t, c, "vault", 2)
	putMarked(t, c, "vault", "PLAIN", 20)

	// Unknown keys, each reference form.
	expectErr(t, startEncryption(t, c, "vault", "alias/nope"), "KMSNotFoundException",
		"Alias arn:aws:kms:us-east-1:000000000000:alias/nope is not found.")
	expectErr(t, startEncryption(t, c, "vault", "arn:aws:kms:us-east-1:000000000000:alias/nope"), "KMSNotFoundException",
		"Alias arn:aws:kms:us-east-1:000000000000:alias/nope is not found.")
	const unknownKey = "1234abcd-12ab-34cd-56ef-1234567890ab"
	expectErr(t, startEncryption(t, c, "vault", unknownKey), "KMSNotFoundException",
		"Key 'arn:aws:kms:us-east-1:000000000000:key/"+unknownKey+"' does not exist")
	expectErr(t, startEncryption(t, c, "vault", "arn:aws:kms:us-east-1:000000000000:key/"+unknownKey), "KMSNotFoundException",
		"Key 'arn:aws:kms:us-east-1:000000000000:key/"+unknownKey+"' does not exist")
	if d, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("vault")}); err != nil ||
		d.StreamDescriptionSummary.EncryptionType != types.EncryptionTypeNone {
		t.Fatalf("a refused StartStreamEncryption changed the stream: %v %+v", err, d)
	}

	if err := startEncryption(t, c, "vault", "alias/aws/kinesis"); err != nil {
		t.Fatalf("StartStreamEncryption: %v", err)
	}
	waitStatus(t, c, "vault", types.StreamStatusActive)
	putMarked(t, c, "vault", "SECRET", 30)
	want := wantMarked(map[string]int{"PLAIN": 20, "SECRET": 30})
	if got := readStream(t, c, "vault"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("read %d records, want %d:\n%q", len(got), len(want), got)
	}

	// A key made with `sluice keys` while the server runs is usable at
	// once, by alias and by ARN.
	code, out, errOut := runSluice(t, time.Minute, "keys", "create", "--alias", "alias/team-a",
		"--description", "team A", "--data-dir", dataDir, "--master-key-file", keyFile)
	if code != 0 {
		t.Fatalf("sluice keys create: exit %d: %s %s", code, out, errOut)
	}
	var team ringKey
	for _, k := range listRingKeys(t, dataDir, keyFile) {
		if len(k.Aliases) > 0 && k.Aliases[0] == "alias/team-a" {
			team = k
		}
	}
	if team.Arn == "" {
		t.Fatalf("keys list does not show alias/team-a")
	}
	createStream(t, c, "team", 1)
	if err := startEncryption(t, c, "team", team.Arn); err != nil {
		t.Fatalf("StartStreamEncryption with a new key's ARN: %v", err)
	}
	waitStatus(t, c, "team", types.StreamStatusActive)
	putMarked(t, c, "team", "TEAMSECRET", 5)
	srv.stop()

	for _, m := range []string{"SECRET-0", "TEAMSECRET-0", "key-SECRET-", "key-TEAMSECRET-"} {
		if hits := filesContaining(t, dataDir, m); len(hits) > 0 {
			t.Errorf("plaintext %q found in %v", m, hits)
		}
	}
	if hits := filesContaining(t, dataDir, "PLAIN-000"); len(hits) == 0 {
		t.Errorf("records written before StartStreamEncryption not found in plaintext: the scan would miss plaintext")
	}

	// A wrong master key, or none, stops the server at start and changes
	// no file.
	before := fileState(t, dataDir)
	wrongKey := writeMasterKey(t)
	code, _, errOut = runSluice(t, time.Minute, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--master-key-file", wrongKey)
	if code != 1 || !strings.Contains(errOut, "master key") || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
		t.Errorf("wrong master key: exit %d, stderr:\n%s", code, errOut)
	}
	code, _, errOut = runSluice(t, time.Minute, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	if code != 1 || !strings.Contains(errOut, "has a key ring") {
		t.Errorf("no master key: exit %d, stderr:\n%s", code, errOut)
	}
	after := fileState(t, dataDir)
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s changed: %s -> %s", p, v, after[p])
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s created", p)
		}
	}

	// The right key reads everything, and writes go on encrypted.
	srv.restart()
	c = srv.client()
	if got := readStream(t, c, "vault"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after restart read %d records, want %d", len(got), len(want))
	}
	if got := readStream(t, c, "team"); len(got) != 5 {
		t.Fatalf("after restart read %d records of team, want 5", len(got))
	}
	putMarked(t, c, "vault", "LATESECRET", 5)
	if _, err := c.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{
		StreamName: aws.String("vault"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/aws/kinesis"),
	}); err != nil {
		t.Fatalf("StopStreamEncryption: %v", err)
	}
	waitStatus(t, c, "vault", types.StreamStatusActive)
	putMarked(t, c, "vault", "LATEPLAIN", 5)
	want = wantMarked(map[string]int{"PLAIN": 20, "SECRET": 30, "LATESECRET": 5, "LATEPLAIN": 5})
	if got := readStream(t, c, "vault"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after StopStreamEncryption read %d records, want %d", len(got), len(want))
	}
	srv.stop()
	if hits := filesContaining(t, dataDir, "LATESECRET-0"); len(hits) > 0 {
		t.Errorf("plaintext LATESECRET found in %v", hits)
	}
	if hits := filesContaining(t, dataDir, "LATEPLAIN-000"); len(hits) == 0 {
		t.Errorf("records after StopStreamEncryption are not plaintext")
	}
	srv.restart()
	if got := readStream(t, srv.client(), "vault"); len(got) != len(want) {
		t.Fatalf("after the last restart read %d records, want %d", len(got), len(want))
	}
}

// TestEncryptionNeedsMasterKey: a server started without a master key
// refuses StartStreamEncryption with a KMS error that says what to do.
func TestEncryptionNeedsMasterKey(t *testing.T) {
	srv := startServer(t)
	c := srv.client()
	createStream(t, c, "plain", 1)
	expectErr(t, startEncryption(t, c, "plain", "alias/aws/kinesis"), "KMSInvalidStateException",
		"Encryption at rest is not enabled on this server: start sluice serve with --master-key-file or SLUICE_MASTER_KEY.")
}

// TestEncryptionTypeOnRecords: the EncryptionType member AWS sends with
// writes and records. PutRecord and PutRecords answer KMS while the stream
// is encrypted and leave it out otherwise; GetRecords and SubscribeToShard
// mark each record by how it was written, so records from before
// StartStreamEncryption and after StopStreamEncryption carry none.
func TestEncryptionTypeOnRecords(t *testing.T) {
	keyFile := writeMasterKey(t)
	srv := startServerDir(t, filepath.Join(t.TempDir(), "data"), "--shard-limits", "off", "--master-key-file", keyFile)
	c := srv.client(exactWrites)
	ctx := context.Background()
	const stream = "marked"
	createStream(t, c, stream, 1)
	arn := registerActive(t, c, stream, "reader")
	sub := subscribe(t, c, arn, shardID(0), &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})

	put := func(data string, want types.EncryptionType) {
		t.Helper()
		one, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("k"), Data: []byte(data + "-one")})
		if err != nil {
			t.Fatalf("PutRecord %s: %v", data, err)
		}
		if one.EncryptionType != want {
			t.Errorf("PutRecord %s: EncryptionType %q, want %q", data, one.EncryptionType, want)
		}
		many, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: []types.PutRecordsRequestEntry{
			{PartitionKey: aws.String("k"), Data: []byte(data + "-many")},
		}})
		if err != nil || aws.ToInt32(many.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords %s: %v %+v", data, err, many)
		}
		if many.EncryptionType != want {
			t.Errorf("PutRecords %s: EncryptionType %q, want %q", data, many.EncryptionType, want)
		}
	}
	put("plain", "")
	if err := startEncryption(t, c, stream, "alias/aws/kinesis"); err != nil {
		t.Fatalf("StartStreamEncryption: %v", err)
	}
	waitStatus(t, c, stream, types.StreamStatusActive)
	put("sealed", types.EncryptionTypeKms)
	if _, err := c.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{
		StreamName: aws.String(stream), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/aws/kinesis"),
	}); err != nil {
		t.Fatalf("StopStreamEncryption: %v", err)
	}
	waitStatus(t, c, stream, types.StreamStatusActive)
	put("again", "")

	want := []struct {
		data string
		enc  types.EncryptionType
	}{
		{"plain-one", ""}, {"plain-many", ""},
		{"sealed-one", types.EncryptionTypeKms}, {"sealed-many", types.EncryptionTypeKms},
		{"again-one", ""}, {"again-many", ""},
	}
	check := func(how string, recs []types.Record) {
		t.Helper()
		if len(recs) != len(want) {
			t.Fatalf("%s: %d records, want %d", how, len(recs), len(want))
		}
		for i, r := range recs {
			if string(r.Data) != want[i].data || r.EncryptionType != want[i].enc {
				t.Errorf("%s: record %d is %q with EncryptionType %q, want %q with %q", how, i, r.Data, r.EncryptionType, want[i].data, want[i].enc)
			}
		}
	}
	check("GetRecords", readShard(t, c, stream, shardID(0)))
	var delivered []types.Record
	for len(delivered) < len(want) {
		ev := sub.next(t, 20*time.Second)
		if ev == nil {
			t.Fatalf("the subscription ended after %d records", len(delivered))
		}
		delivered = append(delivered, ev.Records...)
	}
	check("SubscribeToShard", delivered)
}
