package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
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

const (
	crashStream = "crash"
	crashShards = 4
	// crashWriters is the number of concurrent PutRecords/PutRecord callers.
	crashWriters = 6
	// crashMaxKillDelay bounds the random time from the start of writing to
	// the SIGKILL.
	crashMaxKillDelay = 1500 * time.Millisecond
	// crashMaxRecordsPerRound stops writers early so that the data set, which
	// is read back in full after every round, stays bounded.
	crashMaxRecordsPerRound = 40000
)

// crashRounds is SLUICE_CRASH_ROUNDS, else 20 under CI, else 3.
func crashRounds(t *testing.T) int {
	if v := os.Getenv("SLUICE_CRASH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("bad SLUICE_CRASH_ROUNDS %q", v)
		}
		return n
	}
	if inCI() {
		return 20
	}
	return 3
}

// crashSeed is SLUICE_CRASH_SEED, else the clock.
func crashSeed(t *testing.T) uint64 {
	if v := os.Getenv("SLUICE_CRASH_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("bad SLUICE_CRASH_SEED %q", v)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// ack is where an acknowledged record was placed.
type ack struct {
	shard string
	seq   string
}

// crashLedger is what the writers know about every record id they sent.
type crashLedger struct {
	mu       sync.Mutex
	acked    map[int64]ack  // PutRecord(s) returned success for this id
	sent     map[int64]bool // a request carrying this id was sent
	observed map[int64]ack  // unacknowledged ids read back after a restart
	genuine  []string       // errors seen before the kill
}

func newCrashLedger() *crashLedger {
	return &crashLedger{acked: map[int64]ack{}, sent: map[int64]bool{}, observed: map[int64]ack{}}
}

// crashPayload encodes the id at the front of the data; the rest is padding
// of a size that varies with the id. One record in a thousand is 64 KiB, so
// that some batches span many pages and a kill can land inside one.
func crashPayload(id int64) []byte {
	pad := int(id % 173)
	if id%1000 == 7 {
		pad += 64 << 10
	}
	return []byte(fmt.Sprintf("%d|%s", id, strings.Repeat("x", pad)))
}

func crashID(data []byte) (int64, bool) {
	s := string(data)
	i := strings.IndexByte(s, '|')
	if i <= 0 {
		return 0, false
	}
	id, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || string(crashPayload(id)) != s {
		return 0, false
	}
	return id, true
}

// TestCrashDurability puts records from several concurrent writers, kills
// the server with SIGKILL at a random moment, restarts it on the same data
// directory and reads every shard back: every acknowledged record must be
// there exactly once, on its shard, with the sequence number it was given,
// in order. Unacknowledged records may or may not be there, but never twice.
func TestCrashDurability(t *testing.T) {
	rounds := crashRounds(t)
	seed := crashSeed(t)
	t.Logf("crash test: %d rounds, seed %d (rerun with SLUICE_CRASH_SEED=%d SLUICE_CRASH_ROUNDS=%d)", rounds, seed, seed, rounds)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	srv := startServerDir(t, t.TempDir(), "--shard-limits", "off")
	// Our own transport, so that connections to the killed process can be
	// dropped before the next round instead of failing its first requests.
	newClient := func() (*http.Transport, *kinesis.Client) {
		tr := newTransport()
		return tr, srv.client(func(o *kinesis.Options) { o.HTTPClient = &http.Client{Transport: tr, Timeout: sdkCallTimeout} })
	}
	tr, c := newClient()
	createStream(t, c, crashStream, crashShards)
	ledger := newCrashLedger()
	catalog := newCatalogLedger()
	var nextID atomic.Int64

	for round := 1; round <= rounds; round++ {
		delay := time.Duration(rng.Int64N(int64(crashMaxKillDelay)))
		writerSeeds := make([]uint64, crashWriters)
		for i := range writerSeeds {
			writerSeeds[i] = rng.Uint64()
		}
		before := len(ledger.acked)

		var killing atomic.Bool
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var perRound atomic.Int64
		for w := 0; w < crashWriters; w++ {
			wg.Add(1)
			go func(wseed uint64) {
				defer wg.Done()
				crashWriter(ctx, c, rand.New(rand.NewPCG(wseed, 1)), &nextID, &perRound, &killing, ledger)
			}(writerSeeds[w])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			catalog.churn(ctx, c, round, &killing)
		}()
		start := time.Now()
		time.Sleep(delay) // the random moment of the crash is the point of the test
		killing.Store(true)
		srv.kill9()
		cancel()
		wg.Wait()
		wrote := time.Since(start)
		// Requests cut off by the kill may leave the transport with
		// connections in odd states; start the next phase on a fresh one.
		tr.CloseIdleConnections()
		tr, c = newClient()

		srv.restart()
		waitActive(t, c, crashStream)
		ok := verifyCrashRound(t, c, ledger)
		ok = catalog.verify(t, c) && ok
		t.Logf("round %d: killed after %v (planned %v); acked %d new, %d total; %d ids sent; %d unacknowledged ids found after restarts",
			round, wrote.Round(time.Millisecond), delay.Round(time.Millisecond), len(ledger.acked)-before, len(ledger.acked),
			len(ledger.sent), len(ledger.observed))
		if len(catalog.genuine) > 0 {
			t.Errorf("round %d: %d control-plane errors before the kill, first: %s", round, len(catalog.genuine), catalog.genuine[0])
			ok = false
		}
		if len(ledger.genuine) > 0 {
			t.Errorf("round %d: %d write errors before the kill, first: %s", round, len(ledger.genuine), ledger.genuine[0])
			ok = false
		}
		if !ok {
			t.Fatalf("round %d failed (seed %d)", round, seed)
		}
		if len(ledger.acked) == before {
			t.Logf("round %d: no write was acknowledged before the kill", round)
		}
	}
	if len(ledger.acked) == 0 {
		t.Fatalf("no record was acknowledged in %d rounds", rounds)
	}
}

// crashWriter puts records until ctx is cancelled, recording outcomes.
func crashWriter(ctx context.Context, c *kinesis.Client, rng *rand.Rand, nextID, perRound *atomic.Int64,
	killing *atomic.Bool, ledger *crashLedger) {
	for ctx.Err() == nil && !killing.Load() && perRound.Load() < crashMaxRecordsPerRound {
		n := 1 + rng.IntN(100)
		single := rng.IntN(5) == 0
		if single {
			n = 1
		}
		ids := make([]int64, n)
		for i := range ids {
			ids[i] = nextID.Add(1)
		}
		perRound.Add(int64(n))
		ledger.mu.Lock()
		for _, id := range ids {
			ledger.sent[id] = true
		}
		ledger.mu.Unlock()

		if single {
			id := ids[0]
			out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(crashStream),
				PartitionKey: aws.String(fmt.Sprintf("pk-%d", id%997)), Data: crashPayload(id)}, noRetries)
			if err != nil {
				crashWriteError(err, killing, ledger)
				continue
			}
			ledger.mu.Lock()
			ledger.acked[id] = ack{aws.ToString(out.ShardId), aws.ToString(out.SequenceNumber)}
			ledger.mu.Unlock()
			continue
		}
		entries := make([]types.PutRecordsRequestEntry, n)
		for i, id := range ids {
			entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("pk-%d", id%997)), Data: crashPayload(id)}
		}
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(crashStream), Records: entries}, noRetries)
		if err != nil {
			crashWriteError(err, killing, ledger)
			continue
		}
		ledger.mu.Lock()
		if len(out.Records) != n {
			ledger.genuine = append(ledger.genuine, fmt.Sprintf("PutRecords returned %d results for %d entries", len(out.Records), n))
		}
		for i, r := range out.Records {
			if i >= n {
				break
			}
			if r.ErrorCode != nil {
				if !killing.Load() {
					ledger.genuine = append(ledger.genuine, fmt.Sprintf("entry failed: %s: %s", aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage)))
				}
				continue
			}
			ledger.acked[ids[i]] = ack{aws.ToString(r.ShardId), aws.ToString(r.SequenceNumber)}
		}
		ledger.mu.Unlock()
	}
}

func crashWriteError(err error, killing *atomic.Bool, ledger *crashLedger) {
	if killing.Load() || errors.Is(err, context.Canceled) {
		return
	}
	ledger.mu.Lock()
	ledger.genuine = append(ledger.genuine, err.Error())
	ledger.mu.Unlock()
}

// verifyCrashRound reads every shard from TRIM_HORIZON and checks the
// ledger. It reports problems with t.Errorf and returns false if any.
func verifyCrashRound(t *testing.T, c *kinesis.Client, ledger *crashLedger) bool {
	t.Helper()
	ledger.mu.Lock()
	defer ledger.mu.Unlock()

	shards := listAllShards(t, c, crashStream)
	if len(shards) != crashShards {
		t.Errorf("after restart: %d shards, want %d", len(shards), crashShards)
		return false
	}
	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		} else if len(problems) == 20 {
			problems = append(problems, "...")
		}
	}
	seen := map[int64]ack{}
	for _, s := range shards {
		shard := aws.ToString(s.ShardId)
		recs := readShard(t, c, crashStream, shard)
		var prev *big.Int
		for i, r := range recs {
			seq := aws.ToString(r.SequenceNumber)
			v, okSeq := new(big.Int).SetString(seq, 10)
			if !okSeq || !seqRE.MatchString(seq) {
				report("%s record %d: malformed sequence number %q", shard, i, seq)
				continue
			}
			if prev != nil && prev.Cmp(v) >= 0 {
				report("%s record %d: sequence number %s not above previous %s", shard, i, seq, prev)
			}
			prev = v
			id, okID := crashID(r.Data)
			if !okID {
				report("%s record %d (seq %s): data %q is not a record the test wrote", shard, i, seq, truncate(r.Data, 40))
				continue
			}
			if first, dup := seen[id]; dup {
				report("id %d read twice: %s %s and %s %s", id, first.shard, first.seq, shard, seq)
				continue
			}
			seen[id] = ack{shard, seq}
			if !ledger.sent[id] {
				report("id %d on %s was never sent", id, shard)
				continue
			}
			if a, ok := ledger.acked[id]; ok {
				if a.shard != shard || a.seq != seq {
					report("id %d acknowledged as %s %s, read back as %s %s", id, a.shard, a.seq, shard, seq)
				}
			} else if o, ok := ledger.observed[id]; ok {
				if o.shard != shard || o.seq != seq {
					report("unacknowledged id %d was %s %s after an earlier restart, now %s %s", id, o.shard, o.seq, shard, seq)
				}
			} else {
				ledger.observed[id] = ack{shard, seq}
			}
		}
	}
	lost := 0
	for id, a := range ledger.acked {
		if _, ok := seen[id]; !ok {
			lost++
			report("acknowledged id %d (%s %s) lost", id, a.shard, a.seq)
		}
	}
	for id, o := range ledger.observed {
		if _, ok := seen[id]; !ok {
			report("unacknowledged id %d, read back after an earlier restart as %s %s, has disappeared", id, o.shard, o.seq)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged records lost", lost, len(ledger.acked))
	}
	for _, p := range problems {
		t.Error(p)
	}
	return len(problems) == 0
}

// crashMaxStreamsPerRound bounds how many streams the control-plane churn
// creates in one round.
const crashMaxStreamsPerRound = 20

// catalogLedger tracks CreateStream and DeleteStream calls made while the
// server is being killed: an acknowledged create must survive the crash, and
// an acknowledged delete must not be undone by it.
type catalogLedger struct {
	mu      sync.Mutex
	created map[string]bool // CreateStream acknowledged, not deleted since
	deleted map[string]bool // DeleteStream acknowledged
	genuine []string
}

func newCatalogLedger() *catalogLedger {
	return &catalogLedger{created: map[string]bool{}, deleted: map[string]bool{}}
}

// churn creates streams one after another and deletes every other one it
// created, until ctx ends or the kill starts.
func (l *catalogLedger) churn(ctx context.Context, c *kinesis.Client, round int, killing *atomic.Bool) {
	for i := 0; i < crashMaxStreamsPerRound && ctx.Err() == nil && !killing.Load(); i++ {
		name := fmt.Sprintf("cp-%d-%d", round, i)
		_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1)}, noRetries)
		if err != nil {
			l.failed("CreateStream "+name, err, killing)
			return
		}
		l.mu.Lock()
		l.created[name] = true
		l.mu.Unlock()
		if i%2 == 1 {
			continue
		}
		// From here until DeleteStream answers, the stream may or may not exist.
		l.mu.Lock()
		delete(l.created, name)
		l.mu.Unlock()
		_, err = c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)}, noRetries)
		if err != nil {
			l.failed("DeleteStream "+name, err, killing)
			return
		}
		l.mu.Lock()
		l.deleted[name] = true
		l.mu.Unlock()
	}
}

func (l *catalogLedger) failed(what string, err error, killing *atomic.Bool) {
	if killing.Load() || errors.Is(err, context.Canceled) {
		return
	}
	l.mu.Lock()
	l.genuine = append(l.genuine, what+": "+err.Error())
	l.mu.Unlock()
}

// verify lists the streams after a restart and checks the ledger.
func (l *catalogLedger) verify(t *testing.T, c *kinesis.Client) bool {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	status := map[string]types.StreamStatus{}
	p := kinesis.NewListStreamsPaginator(c, &kinesis.ListStreamsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Errorf("ListStreams after restart: %v", err)
			return false
		}
		for _, s := range page.StreamSummaries {
			status[aws.ToString(s.StreamName)] = s.StreamStatus
		}
	}
	ok := true
	if status[crashStream] != types.StreamStatusActive {
		t.Errorf("stream %s is %q after restart", crashStream, status[crashStream])
		ok = false
	}
	for name := range l.created {
		if st, found := status[name]; !found {
			t.Errorf("acknowledged CreateStream %s lost in the crash", name)
			ok = false
		} else if st != types.StreamStatusActive && st != types.StreamStatusCreating {
			t.Errorf("acknowledged new stream %s is %s after restart", name, st)
			ok = false
		}
	}
	for name := range l.deleted {
		if st, found := status[name]; found && st != types.StreamStatusDeleting {
			t.Errorf("acknowledged DeleteStream %s undone by the crash: stream is %s", name, st)
			ok = false
		}
	}
	return ok
}
