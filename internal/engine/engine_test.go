package engine

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicedata/sluice/internal/keyring"
	"github.com/sluicedata/sluice/internal/storage"
	"github.com/sluicedata/sluice/internal/vfs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t     *testing.T
	dir   string
	clock *fakeClock
	cfg   Config
	store *storage.Store
	eng   *Engine
	// noKeys opens the engine without a key ring.
	noKeys bool
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clock: &fakeClock{now: time.UnixMilli(1764095000000)}, cfg: cfg}
	h.cfg.Clock = h.clock
	h.open()
	t.Cleanup(h.close)
	return h
}

// testMasterKey protects the harness's key ring.
var testMasterKey = bytes.Repeat([]byte{0x5a}, 32)

func (h *harness) open() {
	h.t.Helper()
	ring, err := keyring.Open(h.dir, testMasterKey, keyring.Options{Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		h.t.Fatal(err)
	}
	// Segments roll after a minute, so retention can trim at that grain.
	st, err := storage.Open(vfs.Default(), h.dir, storage.Options{SegmentMaxAge: time.Minute, DataKeys: ring})
	if err != nil {
		h.t.Fatal(err)
	}
	cfg := h.cfg
	if !h.noKeys {
		cfg.Keys = ring
	}
	eng, err := Open(cfg, st)
	if err != nil {
		st.Close()
		h.t.Fatal(err)
	}
	h.store, h.eng = st, eng
}

func (h *harness) close() {
	if h.eng == nil {
		return
	}
	if err := h.eng.Close(); err != nil {
		h.t.Error(err)
	}
	if err := h.store.Close(); err != nil {
		h.t.Error(err)
	}
	h.eng, h.store = nil, nil
}

func (h *harness) restart() {
	h.close()
	h.open()
}

func wantCode(t *testing.T, err error, code string) *Error {
	t.Helper()
	var ee *Error
	if !errors.As(err, &ee) || ee.Code != code {
		t.Fatalf("got error %v, want %s", err, code)
	}
	return ee
}

func (h *harness) put(stream, key string, data string) PutResult {
	h.t.Helper()
	res, err := h.eng.PutRecord(stream, PutEntry{PartitionKey: key, Data: []byte(data)}, "")
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *harness) iterator(stream, shard, typ, seq string, ts *int64) string {
	h.t.Helper()
	it, err := h.eng.GetShardIterator(IteratorParams{Stream: stream, ShardID: shard, Type: typ, StartingSequence: seq, TimestampMillis: ts})
	if err != nil {
		h.t.Fatal(err)
	}
	return it
}

func (h *harness) read(it string) GetRecordsResult {
	h.t.Helper()
	res, err := h.eng.GetRecords(it, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func TestPutGetAcrossRestart(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	var want []PutResult
	for i := range 5 {
		h.clock.Advance(time.Second)
		want = append(want, h.put("s", "user_123", fmt.Sprint("r", i)))
	}
	for i := 1; i < len(want); i++ {
		if want[i].ShardID != want[0].ShardID || want[i].SequenceNumber <= want[i-1].SequenceNumber {
			t.Fatalf("results not ordered in one shard: %+v", want)
		}
	}
	// MD5("user_123") lies just below 2^127: the lower half, shard 0.
	if want[0].ShardID != "shardId-000000000000" {
		t.Fatalf("routed to %s", want[0].ShardID)
	}
	h.restart()
	got := h.read(h.iterator("s", want[0].ShardID, IteratorTrimHorizon, "", nil))
	if len(got.Records) != 5 || got.NextShardIterator == "" || got.MillisBehindLatest != 0 {
		t.Fatalf("read %+v", got)
	}
	for i, r := range got.Records {
		if r.SequenceNumber != want[i].SequenceNumber || string(r.Data) != fmt.Sprint("r", i) || r.PartitionKey != "user_123" {
			t.Errorf("record %d = %+v, want seq %s", i, r, want[i].SequenceNumber)
		}
	}
	// The next iterator waits at the tip and sees a new record.
	h.put("s", "user_123", "late")
	if next := h.read(got.NextShardIterator); len(next.Records) != 1 || string(next.Records[0].Data) != "late" {
		t.Fatalf("read after tip: %+v", next)
	}
}

func TestIteratorTypes(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	var res []PutResult
	var times []int64
	for i := range 4 {
		h.clock.Advance(time.Second)
		times = append(times, h.clock.Now().UnixMilli())
		res = append(res, h.put("s", "k", fmt.Sprint(i)))
	}
	shard := "shardId-000000000000"
	first := func(it string) string {
		r := h.read(it)
		if len(r.Records) == 0 {
			return ""
		}
		return string(r.Records[0].Data)
	}
	for _, c := range []struct {
		typ, seq string
		ts       *int64
		want     string
	}{
		{IteratorTrimHorizon, "", nil, "0"},
		{IteratorLatest, "", nil, ""},
		{IteratorAtSequence, res[2].SequenceNumber, nil, "2"},
		{IteratorAfterSequence, res[2].SequenceNumber, nil, "3"},
		{IteratorAtTimestamp, "", &times[1], "1"},
		{IteratorAtTimestamp, "", new(int64), "0"},
	} {
		if got := first(h.iterator("s", shard, c.typ, c.seq, c.ts)); got != c.want {
			t.Errorf("%s %s: first record %q, want %q", c.typ, c.seq, got, c.want)
		}
	}
	info, _ := h.eng.DescribeStream("s")
	if got := first(h.iterator("s", "1-0", IteratorAtSequence, info.Shards[0].StartingSequence, nil)); got != "0" {
		t.Errorf("AT StartingSequenceNumber: %q", got)
	}
	future := h.clock.Now().UnixMilli() + 1000
	for _, c := range []struct {
		p    IteratorParams
		code string
	}{
		{IteratorParams{Stream: "s", ShardID: shard, Type: IteratorAtSequence}, CodeInvalidArgument},
		{IteratorParams{Stream: "s", ShardID: shard, Type: IteratorLatest, StartingSequence: res[0].SequenceNumber}, CodeInvalidArgument},
		{IteratorParams{Stream: "s", ShardID: shard, Type: IteratorAtTimestamp}, CodeInvalidArgument},
		{IteratorParams{Stream: "s", ShardID: shard, Type: IteratorAtTimestamp, TimestampMillis: &future}, CodeInvalidArgument},
		{IteratorParams{Stream: "s", ShardID: shard, Type: IteratorAtSequence, StartingSequence: "12345"}, CodeInvalidArgument},
		{IteratorParams{Stream: "s", ShardID: "shardId-000000000001", Type: IteratorLatest}, CodeResourceNotFound},
		{IteratorParams{Stream: "nope", ShardID: shard, Type: IteratorLatest}, CodeResourceNotFound},
		{IteratorParams{Stream: "s", ShardID: "abc", Type: IteratorLatest}, CodeResourceNotFound},
	} {
		_, err := h.eng.GetShardIterator(c.p)
		wantCode(t, err, c.code)
	}
}

func TestSequenceNumberFromAnotherShard(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	r := h.put("s", "user_123", "x") // shard 0
	_, err := h.eng.GetShardIterator(IteratorParams{Stream: "s", ShardID: "shardId-000000000001", Type: IteratorAtSequence, StartingSequence: r.SequenceNumber})
	e := wantCode(t, err, CodeInvalidArgument)
	want := "Invalid StartingSequenceNumber. It encodes shardId-000000000000, while it was used in a call to a shard with shardId-000000000001"
	if e.Message != want {
		t.Errorf("message %q", e.Message)
	}
}

func TestIteratorExpiry(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	it := h.iterator("s", "shardId-000000000000", IteratorTrimHorizon, "", nil)
	h.clock.Advance(5 * time.Minute)
	next := h.read(it).NextShardIterator // exactly 5 minutes old is still valid
	h.clock.Advance(5*time.Minute + time.Millisecond)
	_, err := h.eng.GetRecords(next, 0)
	e := wantCode(t, err, CodeExpiredIterator)
	want := "Iterator expired. The iterator was created at time Tue Nov 25 18:28:20 UTC 2025 while right now it is Tue Nov 25 18:33:20 UTC 2025 which is further in the future than the tolerated delay of 300000 milliseconds."
	if e.Message != want {
		t.Errorf("message %q", e.Message)
	}
	_, err = h.eng.GetRecords("AAAAAAAAAAEgarbage", 0)
	wantCode(t, err, CodeInvalidArgument)
}

func TestStateDelayAndDelete(t *testing.T) {
	h := newHarness(t, Config{StateDelay: 2 * time.Second})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}), CodeResourceInUse)
	info, _ := h.eng.DescribeStream("s")
	if info.Status != StatusCreating {
		t.Fatalf("status %s", info.Status)
	}
	_, err := h.eng.PutRecord("s", PutEntry{PartitionKey: "k"}, "")
	wantCode(t, err, CodeResourceInUse)
	h.clock.Advance(2 * time.Second)
	info, _ = h.eng.DescribeStream("s")
	if info.Status != StatusActive {
		t.Fatalf("status %s", info.Status)
	}
	h.put("s", "k", "v")
	if err := h.eng.DeleteStream("s", false); err != nil {
		t.Fatal(err)
	}
	info, _ = h.eng.DescribeStream("s")
	if info.Status != StatusDeleting {
		t.Fatalf("status %s", info.Status)
	}
	h.restart() // the pending deletion survives a restart
	h.clock.Advance(2 * time.Second)
	_, err = h.eng.DescribeStream("s")
	wantCode(t, err, CodeResourceNotFound)
	if len(h.eng.ListStreams()) != 0 {
		t.Fatal("deleted stream still listed")
	}
	// The name is free again, and the new stream starts empty.
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Second)
	if r := h.read(h.iterator("s", "shardId-000000000000", IteratorTrimHorizon, "", nil)); len(r.Records) != 0 {
		t.Fatalf("re-created stream has %d records", len(r.Records))
	}
}

func TestLimits(t *testing.T) {
	h := newHarness(t, Config{ShardQuota: 3})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "a", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	e := wantCode(t, h.eng.CreateStream(CreateStreamParams{Name: "b", ShardCount: 2}), CodeLimitExceeded)
	if want := "This request would exceed the shard limit for the account 000000000000 in us-east-1. Current shard count for the account: 2. Limit: 3. Number of additional shards that would have resulted from this request: 2."; e.Message[:len(want)] != want {
		t.Errorf("message %q", e.Message)
	}
	_, err := h.eng.PutRecords("a", []PutEntry{{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211456"}})
	wantCode(t, err, CodeInvalidArgument)
}

func TestPutRecordsRouting(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 4}); err != nil {
		t.Fatal(err)
	}
	var entries []PutEntry
	for i := range 100 {
		entries = append(entries, PutEntry{PartitionKey: fmt.Sprint("key-", i), Data: []byte(fmt.Sprint(i))})
	}
	entries = append(entries, PutEntry{PartitionKey: "x", ExplicitHashKey: "0"}, PutEntry{PartitionKey: "x", ExplicitHashKey: MaxHashKey.String()})
	res, err := h.eng.PutRecords("s", entries)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := h.eng.DescribeStream("s")
	perShard := map[string]int{}
	for i, r := range res {
		if r.ErrorCode != "" {
			t.Fatalf("entry %d failed: %+v", i, r)
		}
		k := PartitionKeyHash(entries[i].PartitionKey)
		if entries[i].ExplicitHashKey != "" {
			k, _ = ParseHashKey(entries[i].ExplicitHashKey)
		}
		var want string
		for _, sh := range info.Shards {
			if sh.HashKeyRange.Contains(k) {
				want = sh.ShardID
			}
		}
		if r.ShardID != want {
			t.Errorf("entry %d went to %s, want %s", i, r.ShardID, want)
		}
		perShard[r.ShardID]++
	}
	total := 0
	for _, sh := range info.Shards {
		got := h.read(h.iterator("s", sh.ShardID, IteratorTrimHorizon, "", nil))
		if len(got.Records) != perShard[sh.ShardID] {
			t.Errorf("%s holds %d records, want %d", sh.ShardID, len(got.Records), perShard[sh.ShardID])
		}
		// A shard holds its entries in call order, under the sequence
		// numbers the call answered.
		j := 0
		for i, r := range res {
			if r.ShardID != sh.ShardID || j >= len(got.Records) {
				continue
			}
			if g := got.Records[j]; g.SequenceNumber != r.SequenceNumber || !bytes.Equal(g.Data, entries[i].Data) {
				t.Errorf("%s record %d: %s %q, want entry %d: %s %q", sh.ShardID, j, g.SequenceNumber, g.Data, i, r.SequenceNumber, entries[i].Data)
			}
			j++
		}
		total += len(got.Records)
	}
	if total != len(entries) {
		t.Errorf("read %d records, want %d", total, len(entries))
	}
}

func TestListShardsAndStreams(t *testing.T) {
	h := newHarness(t, Config{})
	for i := range 5 {
		if err := h.eng.CreateStream(CreateStreamParams{Name: fmt.Sprint("s", i), ShardCount: 3}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := h.eng.ListStreamsPage(ListStreamsParams{Limit: 2})
	if err != nil || len(page.Streams) != 2 || !page.HasMore || page.NextToken == "" {
		t.Fatalf("page 1: %+v %v", page, err)
	}
	var names []string
	for {
		for _, s := range page.Streams {
			names = append(names, s.Name)
		}
		if page.NextToken == "" {
			break
		}
		if page, err = h.eng.ListStreamsPage(ListStreamsParams{Limit: 2, NextToken: page.NextToken}); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(names) != "[s0 s1 s2 s3 s4]" {
		t.Fatalf("streams %v", names)
	}
	shards, next, err := h.eng.ListShards(ListShardsParams{Stream: "s0", MaxResults: 2})
	if err != nil || len(shards) != 2 || next == "" {
		t.Fatalf("ListShards: %v %q %v", shards, next, err)
	}
	rest, next2, err := h.eng.ListShards(ListShardsParams{NextToken: next})
	if err != nil || len(rest) != 1 || rest[0].ShardID != "shardId-000000000002" || next2 != "" {
		t.Fatalf("ListShards page 2: %v %q %v", rest, next2, err)
	}
	after, _, _ := h.eng.ListShards(ListShardsParams{Stream: "s0", FilterType: FilterAfterShardID, FilterShardID: "shardId-000000000000"})
	if len(after) != 2 {
		t.Errorf("AFTER_SHARD_ID: %v", after)
	}
	for _, f := range []string{FilterAtLatest, FilterAtTrimHorizon, FilterFromTrimHorizon, FilterAtTimestamp, FilterFromTimestamp} {
		ts := h.clock.Now().UnixMilli()
		got, _, err := h.eng.ListShards(ListShardsParams{Stream: "s0", FilterType: f, FilterTimestampMillis: &ts})
		if err != nil || len(got) != 3 {
			t.Errorf("%s: %v %v", f, got, err)
		}
	}
	h.clock.Advance(6 * time.Minute)
	_, _, err = h.eng.ListShards(ListShardsParams{NextToken: next})
	wantCode(t, err, CodeExpiredNextToken)
	_, _, err = h.eng.ListShards(ListShardsParams{NextToken: "bogus"})
	wantCode(t, err, CodeInvalidArgument)
}

// TestPutRecordsIntoReusedResults: every result is written, so a caller
// may hand in a results slice left over from an earlier call.
func TestPutRecordsIntoReusedResults(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 3}); err != nil {
		t.Fatal(err)
	}
	entries := make([]PutEntry, 20)
	results := make([]PutResult, len(entries))
	for i := range entries {
		entries[i] = PutEntry{PartitionKey: fmt.Sprint("k", i), Data: []byte{byte(i)}}
		results[i] = PutResult{ShardID: "stale", SequenceNumber: "1", ErrorCode: "Stale", ErrorMessage: "stale"}
	}
	// Texts with room for every number, with room for some (the rest
	// go to new memory), and none.
	for _, room := range []int{len(entries), len(entries) / 3, 0} {
		texts := make([]byte, 0, room*SeqTextBytes)
		if err := h.eng.PutRecordsInto("s", entries, results, texts); err != nil {
			t.Fatal(err)
		}
		inTexts := 0
		seen := map[string]bool{}
		for i, r := range results {
			if _, ok := ParseSeqNum(r.SequenceNumber); !ok || r.ErrorCode != "" || r.ErrorMessage != "" || !strings.HasPrefix(r.ShardID, "shardId-") {
				t.Errorf("room %d, result %d: %+v", room, i, r)
			}
			if seen[r.SequenceNumber] {
				t.Errorf("room %d: sequence number %s twice", room, r.SequenceNumber)
			}
			seen[r.SequenceNumber] = true
			if bytes.Contains(texts[:cap(texts)], []byte(r.SequenceNumber)) {
				inTexts++
			}
		}
		if room == len(entries) && inTexts != len(entries) {
			t.Errorf("%d of %d sequence numbers written into texts with room for all", inTexts, len(entries))
		}
		// Every number is read back as the one of its record.
		for i, r := range results {
			got, err := h.eng.GetRecords(h.iterator("s", r.ShardID, "AT_SEQUENCE_NUMBER", r.SequenceNumber, nil), 1)
			if err != nil || len(got.Records) != 1 || !bytes.Equal(got.Records[0].Data, entries[i].Data) {
				t.Fatalf("room %d, record %d at %s: %v %+v", room, i, r.SequenceNumber, err, got)
			}
		}
	}
	if err := h.eng.PutRecordsInto("nope", entries, results, nil); err == nil {
		t.Error("no error for a missing stream")
	}
}
