package e2e

import (
	"context"
	"errors"
	"fmt"
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
	// crashWriters is the number of concurrent PutRecords/PutRecord callers.
	crashWriters = 6
	// crashKeysPerWriter is how many partition keys each writer owns. A key
	// belongs to one writer, whose calls are sequential, so the order of
	// its acknowledgements is the order its records must be read in.
	crashKeysPerWriter = 40
	// crashMaxKillDelay bounds the random time from the start of a round's
	// load to the SIGKILL.
	crashMaxKillDelay = 1500 * time.Millisecond
	// crashMaxRecordsPerRound stops writers early so that the data set, which
	// is read back in full after every round, stays bounded.
	crashMaxRecordsPerRound = 40000
	// crashStateDelay is the server's --state-delay: how long a reshard
	// keeps a stream UPDATING. Resharders start a new reshard as soon as
	// the stream is ACTIVE again, so most kills land while some stream is
	// UPDATING, and some while a reshard request is being served.
	crashStateDelay = 300 * time.Millisecond
	// crashPoll is the interval of the condition polls (stream ACTIVE).
	crashPoll = 15 * time.Millisecond
	// crashWaitMax bounds every condition wait of the crash test.
	crashWaitMax = 30 * time.Second
)

// crashStreamShards are the data streams and their shard counts at creation.
var crashStreamShards = []struct {
	name   string
	shards int
}{{"crash-a", 4}, {"crash-b", 2}, {"crash-c", 1}}

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

// ack is where a record was placed: by an acknowledgement, or as a reader
// found it.
type ack struct {
	shard string
	seq   string
}

// sentRec is what a writer sent under a record id: the stream (index into
// crashStreamShards), the partition key (index into crashKeys) and the
// record's place in the order of that key's records in that stream,
// counting from 1.
type sentRec struct {
	stream uint8
	key    uint16
	n      uint32
}

// crashKeys are the partition keys; writer w owns
// crashKeys[w*crashKeysPerWriter:(w+1)*crashKeysPerWriter].
var crashKeys = func() []string {
	keys := make([]string, crashWriters*crashKeysPerWriter)
	for i := range keys {
		keys[i] = fmt.Sprintf("w%d-k%d", i/crashKeysPerWriter, i%crashKeysPerWriter)
	}
	return keys
}()

// crashLedger is what the writers know about every record id they sent.
type crashLedger struct {
	mu       sync.Mutex
	sent     map[int64]sentRec // a request carrying this id was sent
	acked    map[int64]ack     // PutRecord(s) returned success for this id
	observed map[int64]ack     // unacknowledged ids read back after a restart
	shardIDs map[string]string // interned shard ids
	genuine  []string          // errors seen before the kill
}

func newCrashLedger() *crashLedger {
	return &crashLedger{sent: map[int64]sentRec{}, acked: map[int64]ack{}, observed: map[int64]ack{}, shardIDs: map[string]string{}}
}

// internLocked returns one shared copy of a shard id: a million acks
// should not hold a million copies of a handful of strings.
func (l *crashLedger) internLocked(id string) string {
	if s, ok := l.shardIDs[id]; ok {
		return s
	}
	l.shardIDs[id] = id
	return id
}

// genuineErr records a write error unless the kill explains it; killing
// is nil for errors no kill explains.
func (l *crashLedger) genuineErr(killing *atomic.Bool, format string, args ...any) {
	if killing != nil && killing.Load() {
		return
	}
	l.mu.Lock()
	l.genuine = append(l.genuine, fmt.Sprintf(format, args...))
	l.mu.Unlock()
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

// crashTransport is an HTTP/2 (h2c) transport of the crash test's own, so
// that its connections to a killed server can be dropped before the next
// round. h2c, because Go's HTTP/1.1 client can close a connection under a
// response it is reading (aws/aws-sdk-go-v2#2737), and the writes here
// must not be retried.
func crashTransport() *http.Transport {
	tr := newTransport()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	return tr
}

// crashTotals are the numbers the test reports at its end.
type crashTotals struct {
	checked, subscribed              int
	splits, merges, updates          int
	updatesRefused, retention, cons  int
	afterRestart                     int
	killsUpdating, killsInFlight     int
	restartsUpdating, killsQuiet     int
	killedAfter, verifyTime, restart time.Duration
}

// crashRun is the state of TestCrashDurability that lives across rounds.
type crashRun struct {
	t       *testing.T
	seed    uint64
	rng     *rand.Rand
	srv     *server
	trs     []*http.Transport
	c       *kinesis.Client // writes, control calls and reads
	subC    *kinesis.Client // SubscribeToShard
	ledger  *crashLedger
	catalog *catalogLedger
	streams []*crashStream
	writers []*crashWriter
	nextID  atomic.Int64
	totals  crashTotals
}

// TestCrashDurability puts records from several concurrent writers into
// several streams while each stream is resharded (SplitShard, MergeShards,
// UpdateShardCount), has its retention changed and consumers registered,
// is read live with SubscribeToShard, and streams are created and deleted;
// it kills the server with SIGKILL at a random moment, often while a
// reshard keeps a stream UPDATING, restarts it on the same data directory
// and checks:
//
//   - the shard graph: open shards tile the hash-key space, closed shards
//     have an EndingSequenceNumber and children that split or merge them,
//     and the open layout is the one the last acknowledged reshard left
//     (or, for a reshard the kill cut off, the one before or after it);
//   - reading every stream parents before children (ListShards'
//     ParentShardId and AdjacentParentShardId), every acknowledged record
//     is there exactly once with the shard and sequence number it was
//     given, and per partition key in the order of its acknowledgements;
//     unacknowledged records may be there, never twice, never corrupted,
//     and once read back they stay; a record SubscribeToShard delivered
//     before the kill is there;
//   - acknowledged retention, consumer and CreateStream/DeleteStream
//     changes survived, and the streams can be resharded again.
func TestCrashDurability(t *testing.T) {
	rounds := crashRounds(t)
	seed := crashSeed(t)
	t.Logf("crash test: %d rounds, seed %d (rerun with SLUICE_CRASH_SEED=%d SLUICE_CRASH_ROUNDS=%d)", rounds, seed, seed, rounds)
	r := &crashRun{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		ledger: newCrashLedger(), catalog: newCatalogLedger()}
	r.srv = startServerDir(t, t.TempDir(), "--shard-limits", "off", "--state-delay", crashStateDelay.String())
	t.Cleanup(r.closeClients)
	r.newClients()
	r.setup()

	start := time.Now()
	for round := 1; round <= rounds; round++ {
		if !r.round(round) {
			t.Fatalf("round %d failed (replay with SLUICE_CRASH_SEED=%d SLUICE_CRASH_ROUNDS=%d)", round, seed, round)
		}
	}
	r.ledger.mu.Lock()
	acked := len(r.ledger.acked)
	r.ledger.mu.Unlock()
	if acked == 0 {
		t.Fatalf("no record was acknowledged in %d rounds", rounds)
	}
	tt := r.totals
	t.Logf("crash test: %d rounds in %v (writing %v, restarting %v, checking %v); %d records acknowledged, %d ids sent, "+
		"%d record reads checked, %d records delivered by SubscribeToShard",
		rounds, time.Since(start).Round(time.Second), tt.killedAfter.Round(time.Millisecond), tt.restart.Round(time.Millisecond),
		tt.verifyTime.Round(time.Millisecond), acked, r.nextID.Load(), tt.checked, tt.subscribed)
	t.Logf("crash test: reshards acknowledged under load: %d SplitShard, %d MergeShards, %d UpdateShardCount (%d refused by the daily limit); "+
		"%d reshards after restarts; %d retention and %d consumer changes",
		tt.splits, tt.merges, tt.updates, tt.updatesRefused, tt.afterRestart, tt.retention, tt.cons)
	t.Logf("crash test: %d kills while a stream was UPDATING, %d with a reshard request unanswered, %d while every stream was ACTIVE "+
		"and no reshard unanswered; %d restarts found a stream still UPDATING",
		tt.killsUpdating, tt.killsInFlight, tt.killsQuiet, tt.restartsUpdating)
}

// newClients replaces the clients with ones on fresh transports.
func (r *crashRun) newClients() {
	r.closeClients()
	tr, subTr := crashTransport(), crashTransport()
	r.trs = []*http.Transport{tr, subTr}
	r.c = r.srv.client(func(o *kinesis.Options) { o.HTTPClient = &http.Client{Transport: tr, Timeout: sdkCallTimeout} })
	r.subC = r.srv.client(func(o *kinesis.Options) { o.HTTPClient = &http.Client{Transport: subTr, Timeout: sdkCallTimeout} })
}

func (r *crashRun) closeClients() {
	for _, tr := range r.trs {
		tr.CloseIdleConnections()
	}
}

// setup creates the data streams, registers each one's live reader and
// makes the writers.
func (r *crashRun) setup() {
	for i, sc := range crashStreamShards {
		createStream(r.t, r.c, sc.name, int32(sc.shards))
		s := newCrashStream(i, sc.name, sc.shards)
		s.consumerARN = registerActive(r.t, r.c, sc.name, crashReaderConsumer)
		layout, err := listOpenLayout(context.Background(), r.c, sc.name)
		if err != nil {
			r.t.Fatalf("list %s: %v", sc.name, err)
		}
		s.layout = layout
		r.streams = append(r.streams, s)
	}
	for w := 0; w < crashWriters; w++ {
		r.writers = append(r.writers, &crashWriter{id: w, last: map[[2]int]uint32{}})
	}
}

// crashPlan is a round's random schedule, drawn from the seed before
// anything runs, so that SLUICE_CRASH_SEED replays it.
type crashPlan struct {
	delay       time.Duration // from the start of the load to the SIGKILL
	writerSeeds []uint64
	churnSeeds  []uint64
	// quiet rounds have writes and readers only, so that some kills find
	// every stream ACTIVE.
	quiet bool
}

func (r *crashRun) plan() crashPlan {
	p := crashPlan{delay: time.Duration(r.rng.Int64N(int64(crashMaxKillDelay)))}
	for range crashWriters {
		p.writerSeeds = append(p.writerSeeds, r.rng.Uint64())
	}
	for range r.streams {
		p.churnSeeds = append(p.churnSeeds, r.rng.Uint64())
	}
	p.quiet = r.rng.IntN(5) == 0
	return p
}

// round runs one round: load, kill, restart, check. It returns false if a
// check failed.
func (r *crashRun) round(round int) bool {
	p := r.plan()
	before := r.snapshot()
	var killing atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	subs := r.load(ctx, round, p, &killing, &wg)
	start := time.Now()
	time.Sleep(p.delay) // the random moment of the crash is the point of the test
	killing.Store(true)
	r.srv.kill9()
	killedAt := time.Now()
	cancel()
	wg.Wait()
	wrote := killedAt.Sub(start)
	kill := r.noteKill(killedAt)

	r.newClients()
	restartStart := time.Now()
	r.srv.restart()
	r.totals.restart += time.Since(restartStart)
	verifyStart := time.Now()
	ok := r.verify(round, subs)
	r.totals.verifyTime += time.Since(verifyStart)
	r.totals.killedAfter += wrote
	r.logRound(round, p.quiet, wrote, p.delay, kill, before, subs)
	if ok {
		ok = r.reshardAfterRestart(round)
	}
	return ok && !r.t.Failed()
}

// load starts a round's goroutines on wg: the SubscribeToShard readers, the
// writers and, unless the round is quiet, the resharders and the catalog
// churn. They stop at the kill or when ctx is cancelled.
func (r *crashRun) load(ctx context.Context, round int, p crashPlan, killing *atomic.Bool, wg *sync.WaitGroup) []*crashSubscriber {
	subs := make([]*crashSubscriber, len(r.streams))
	for i, s := range r.streams {
		subs[i] = newCrashSubscriber(ctx, s, r.subC, r.ledger, killing, wg)
		subs[i].start()
	}
	perRound := new(atomic.Int64)
	for w, wr := range r.writers {
		wg.Go(func() {
			wr.run(ctx, r.c, rand.New(rand.NewPCG(p.writerSeeds[w], 1)), r.streams, &r.nextID, perRound, killing, r.ledger)
		})
	}
	if p.quiet {
		return subs
	}
	for i, s := range r.streams {
		wg.Go(func() { s.churn(ctx, r.c, rand.New(rand.NewPCG(p.churnSeeds[i], 2)), round, killing) })
	}
	wg.Go(func() { r.catalog.churn(ctx, r.c, round, killing) })
	return subs
}

// crashKill is what was going on when the server was killed.
type crashKill struct {
	updating []string // streams certainly UPDATING: an acknowledged reshard's state delay had not passed
	inFlight []string // reshard requests sent and not answered
}

// noteKill records, after the kill, which streams were UPDATING and which
// reshards were unanswered at killedAt (taken after the process was gone).
func (r *crashRun) noteKill(killedAt time.Time) crashKill {
	var k crashKill
	for _, s := range r.streams {
		s.mu.Lock()
		// The server set the UPDATING transition at or after the request
		// was sent, so it ends no earlier than sent + state delay.
		if !s.lastReshardSent.IsZero() && killedAt.Before(s.lastReshardSent.Add(crashStateDelay)) {
			k.updating = append(k.updating, s.name)
		}
		if s.pending != nil {
			k.inFlight = append(k.inFlight, s.name+": "+s.pending.what)
		}
		s.mu.Unlock()
	}
	switch {
	case len(k.updating) > 0:
		r.totals.killsUpdating++
		if len(k.inFlight) > 0 {
			r.totals.killsInFlight++
		}
	case len(k.inFlight) > 0:
		r.totals.killsInFlight++
	default:
		r.totals.killsQuiet++
	}
	return k
}

// crashSnapshot holds counters at the start of a round.
type crashSnapshot struct {
	acked, reshards int
}

func (r *crashRun) snapshot() crashSnapshot {
	r.ledger.mu.Lock()
	n := len(r.ledger.acked)
	r.ledger.mu.Unlock()
	return crashSnapshot{acked: n, reshards: r.reshardsAcked()}
}

func (r *crashRun) reshardsAcked() int {
	n := 0
	for _, s := range r.streams {
		s.mu.Lock()
		n += s.stats.splits + s.stats.merges + s.stats.updates
		s.mu.Unlock()
	}
	return n
}

func (r *crashRun) logRound(round int, quiet bool, wrote, delay time.Duration, k crashKill, before crashSnapshot, subs []*crashSubscriber) {
	r.ledger.mu.Lock()
	acked, sent, observed := len(r.ledger.acked), len(r.ledger.sent), len(r.ledger.observed)
	r.ledger.mu.Unlock()
	delivered := 0
	for _, sub := range subs {
		delivered += sub.delivered()
	}
	r.totals.subscribed += delivered
	var shards []string
	for _, s := range r.streams {
		s.mu.Lock()
		shards = append(shards, fmt.Sprintf("%s %d/%d", s.name, len(s.layout), s.shardCount))
		s.mu.Unlock()
	}
	load := "writes, reshards, control calls"
	if quiet {
		load = "writes only"
	}
	r.t.Logf("round %d (%s): killed after %v (planned %v); acked %d new, %d total; %d ids sent; %d unacknowledged found; "+
		"%d reshards acked; UPDATING at kill %v; unanswered %v; %d records from SubscribeToShard; open/all shards: %s",
		round, load, wrote.Round(time.Millisecond), delay.Round(time.Millisecond), acked-before.acked, acked, sent, observed,
		r.reshardsAcked()-before.reshards, k.updating, k.inFlight, delivered, strings.Join(shards, ", "))
}

// verify checks everything after a restart. It reports problems with
// t.Errorf and returns false if there were any.
func (r *crashRun) verify(round int, subs []*crashSubscriber) bool {
	t := r.t
	ok := r.catalog.verify(t, r.c)
	for _, s := range r.streams {
		if s.settle(t, r.c) {
			r.totals.restartsUpdating++
		}
	}
	ok = r.verifyRecords(subs) && ok
	for _, s := range r.streams {
		ok = s.verifyControl(t, r.c) && ok
		s.mu.Lock()
		r.totals.splits += s.stats.splits - s.reported.splits
		r.totals.merges += s.stats.merges - s.reported.merges
		r.totals.updates += s.stats.updates - s.reported.updates
		r.totals.updatesRefused += s.stats.updatesRefused - s.reported.updatesRefused
		r.totals.retention += s.stats.retention - s.reported.retention
		r.totals.cons += s.stats.consumers - s.reported.consumers
		s.reported = s.stats
		for _, g := range s.genuine {
			t.Errorf("round %d: %s: before the kill: %s", round, s.name, g)
			ok = false
		}
		s.genuine = nil
		s.mu.Unlock()
	}
	for _, sub := range subs {
		for _, p := range sub.problemsList() {
			t.Errorf("round %d: SubscribeToShard reader of %s: %s", round, sub.s.name, p)
			ok = false
		}
	}
	if len(r.catalog.genuine) > 0 {
		t.Errorf("round %d: %d control-plane errors before the kill, first: %s", round, len(r.catalog.genuine), r.catalog.genuine[0])
		ok = false
	}
	if len(r.ledger.genuine) > 0 {
		t.Errorf("round %d: %d write errors before the kill, first: %s", round, len(r.ledger.genuine), r.ledger.genuine[0])
		ok = false
	}
	return ok
}

// verifyRecords reads every stream parents before children and checks the
// records against the ledger and what the live readers were given.
func (r *crashRun) verifyRecords(subs []*crashSubscriber) bool {
	t := r.t
	// What the live readers were given; they have stopped.
	given := make([]map[int64]ack, len(subs))
	for i, sub := range subs {
		sub.mu.Lock()
		given[i] = sub.seen
		sub.mu.Unlock()
	}
	r.ledger.mu.Lock()
	defer r.ledger.mu.Unlock()
	v := &crashVerifier{ledger: r.ledger, seen: map[int64]ack{}}
	for _, s := range r.streams {
		s.verifyGraphAndRead(t, r.c, v)
	}
	r.totals.checked += v.read
	lost := 0
	for id, a := range r.ledger.acked {
		if _, ok := v.seen[id]; !ok {
			lost++
			v.report("acknowledged id %d (%s %s, %s) lost", id, a.shard, a.seq, r.ledger.sent[id].describe())
		}
	}
	for id, o := range r.ledger.observed {
		if _, ok := v.seen[id]; !ok {
			v.report("unacknowledged id %d, read back after an earlier restart as %s %s, has disappeared", id, o.shard, o.seq)
		}
	}
	for i, sub := range subs {
		for id, a := range given[i] {
			if got, ok := v.seen[id]; !ok || got != a {
				v.report("id %d was delivered by SubscribeToShard on %s %s %s before the kill; after the restart it is at %q %q",
					id, sub.s.name, a.shard, a.seq, got.shard, got.seq)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged records lost", lost, len(r.ledger.acked))
	}
	for _, p := range v.problems {
		t.Error(p)
	}
	return len(v.problems) == 0
}

// describe names what was sent, for messages.
func (s sentRec) describe() string {
	return fmt.Sprintf("%s key %s #%d", crashStreamShards[s.stream].name, crashKeys[s.key], s.n)
}

// crashWriter puts records with its own partition keys; its state lives
// across rounds, so that each key's order runs on through the crashes.
type crashWriter struct {
	id   int
	last map[[2]int]uint32 // (stream, key) -> n of the last record sent
}

// run puts records until ctx is cancelled or the kill starts, recording
// outcomes in the ledger.
func (w *crashWriter) run(ctx context.Context, c *kinesis.Client, rng *rand.Rand, streams []*crashStream,
	nextID, perRound *atomic.Int64, killing *atomic.Bool, ledger *crashLedger) {
	for ctx.Err() == nil && !killing.Load() && perRound.Load() < crashMaxRecordsPerRound {
		si := rng.IntN(len(streams))
		n := 1 + rng.IntN(100)
		single := rng.IntN(5) == 0
		if single {
			n = 1
		}
		ids := make([]int64, n)
		recs := make([]sentRec, n)
		for i := range ids {
			ids[i] = nextID.Add(1)
			k := w.id*crashKeysPerWriter + rng.IntN(crashKeysPerWriter)
			w.last[[2]int{si, k}]++
			recs[i] = sentRec{stream: uint8(si), key: uint16(k), n: w.last[[2]int{si, k}]}
		}
		perRound.Add(int64(n))
		ledger.mu.Lock()
		for i, id := range ids {
			ledger.sent[id] = recs[i]
		}
		ledger.mu.Unlock()
		if single {
			w.putOne(ctx, c, streams[si].name, ids[0], recs[0], killing, ledger)
		} else {
			w.putMany(ctx, c, streams[si].name, ids, recs, killing, ledger)
		}
	}
}

func (w *crashWriter) putOne(ctx context.Context, c *kinesis.Client, stream string, id int64, rec sentRec,
	killing *atomic.Bool, ledger *crashLedger) {
	out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(stream),
		PartitionKey: aws.String(crashKeys[rec.key]), Data: crashPayload(id)}, noRetries)
	if err != nil {
		ledger.genuineErr(killing, "PutRecord %s: %v", stream, err)
		return
	}
	ledger.mu.Lock()
	ledger.acked[id] = ack{ledger.internLocked(aws.ToString(out.ShardId)), aws.ToString(out.SequenceNumber)}
	ledger.mu.Unlock()
}

func (w *crashWriter) putMany(ctx context.Context, c *kinesis.Client, stream string, ids []int64, recs []sentRec,
	killing *atomic.Bool, ledger *crashLedger) {
	entries := make([]types.PutRecordsRequestEntry, len(ids))
	for i, id := range ids {
		entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(crashKeys[recs[i].key]), Data: crashPayload(id)}
	}
	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries}, noRetries)
	if err != nil {
		ledger.genuineErr(killing, "PutRecords %s: %v", stream, err)
		return
	}
	if len(out.Records) != len(ids) {
		ledger.genuineErr(nil, "PutRecords %s returned %d results for %d entries", stream, len(out.Records), len(ids))
	}
	ledger.mu.Lock()
	defer ledger.mu.Unlock()
	for i, r := range out.Records {
		if i >= len(ids) {
			break
		}
		if r.ErrorCode != nil {
			if !killing.Load() {
				ledger.genuine = append(ledger.genuine, fmt.Sprintf("PutRecords %s entry failed: %s: %s", stream,
					aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage)))
			}
			continue
		}
		ledger.acked[ids[i]] = ack{ledger.internLocked(aws.ToString(r.ShardId)), aws.ToString(r.SequenceNumber)}
	}
}

// crashMaxStreamsPerRound bounds how many streams the control-plane churn
// creates in one round.
const crashMaxStreamsPerRound = 20

// crashMaxKeptStreams bounds the churn's streams that are kept: beyond it
// the oldest is deleted, so that many rounds stay within the account's
// shard limit.
const crashMaxKeptStreams = 25

// catalogLedger tracks CreateStream and DeleteStream calls made while the
// server is being killed: an acknowledged create must survive the crash, and
// an acknowledged delete must not be undone by it.
type catalogLedger struct {
	mu      sync.Mutex
	created map[string]bool // CreateStream acknowledged, not deleted since
	kept    []string        // created streams to delete later, oldest first
	deleted map[string]bool // DeleteStream acknowledged
	genuine []string
}

func newCatalogLedger() *catalogLedger {
	return &catalogLedger{created: map[string]bool{}, deleted: map[string]bool{}}
}

// churn creates streams one after another, deletes every other one it
// created at once and the oldest kept ones beyond crashMaxKeptStreams,
// until ctx ends or the kill starts.
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
			l.mu.Lock()
			l.kept = append(l.kept, name)
			l.mu.Unlock()
			// The server refuses more than 5 streams in CREATING at once.
			if !waitStreamStatus(ctx, c, name, types.StreamStatusActive, killing, l.failed) {
				return
			}
			if !l.deleteOldest(ctx, c, killing) {
				return
			}
			continue
		}
		if !l.delete(ctx, c, name, killing) {
			return
		}
	}
}

func (l *catalogLedger) deleteOldest(ctx context.Context, c *kinesis.Client, killing *atomic.Bool) bool {
	l.mu.Lock()
	if len(l.kept) <= crashMaxKeptStreams {
		l.mu.Unlock()
		return true
	}
	name := l.kept[0]
	l.kept = l.kept[1:]
	l.mu.Unlock()
	return l.delete(ctx, c, name, killing)
}

func (l *catalogLedger) delete(ctx context.Context, c *kinesis.Client, name string, killing *atomic.Bool) bool {
	// From here until DeleteStream answers, the stream may or may not exist.
	l.mu.Lock()
	delete(l.created, name)
	l.mu.Unlock()
	_, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)}, noRetries)
	if err != nil {
		l.failed("DeleteStream "+name, err, killing)
		return false
	}
	l.mu.Lock()
	l.deleted[name] = true
	l.mu.Unlock()
	return true
}

func (l *catalogLedger) failed(what string, err error, killing *atomic.Bool) {
	if (killing != nil && killing.Load()) || errors.Is(err, context.Canceled) {
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
	for _, sc := range crashStreamShards {
		if st := status[sc.name]; st != types.StreamStatusActive && st != types.StreamStatusUpdating {
			t.Errorf("stream %s is %q after restart", sc.name, st)
			ok = false
		}
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
