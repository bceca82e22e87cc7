package e2e

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestProtoFuzz drives two live servers (--auth none and --auth sigv4)
// with random and mutated requests for every operation, in JSON and CBOR,
// over HTTP/1.1, h2c and raw TCP, and holds every answer to the oracle in
// check and checkRaw: a well-formed AWS success or error (4xx with an AWS
// body in the request's protocol), never a 5xx, never a hang; the
// servers stay up and healthy, and at the end hold no more file
// descriptors than they started with.
//
// SLUICE_PROTOFUZZ_SECONDS sets the duration (default 20),
// SLUICE_PROTOFUZZ_SEED the seed (logged; each worker's generator is
// seeded from it), SLUICE_PROTOFUZZ_WORKERS the concurrency (default 3).
// Failing requests are written to a directory named in the log.
func TestProtoFuzz(t *testing.T) {
	duration := time.Duration(pfEnvInt(t, "SLUICE_PROTOFUZZ_SECONDS", 20)) * time.Second
	workers := pfEnvInt(t, "SLUICE_PROTOFUZZ_WORKERS", 3)
	seed := uint64(pfEnvInt(t, "SLUICE_PROTOFUZZ_SEED", 0))
	if seed == 0 {
		var b [8]byte
		crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:]) >> 1
	}
	t.Logf("protofuzz: seed %d (SLUICE_PROTOFUZZ_SEED=%d to replay), %v, %d workers", seed, seed, duration, workers)

	cat, err := pfLoadCatalogue()
	if err != nil {
		t.Fatalf("exception catalogue: %v", err)
	}
	creds := filepath.Join(t.TempDir(), "credentials.json")
	writeCredentials(t, creds, pfCredentials)
	f := &pfFuzzer{t: t, seed: seed, catalogue: cat}
	f.mu.labels, f.mu.kinds, f.mu.seen = map[string]int{}, map[string]int{}, map[string]int{}
	f.mu.busy = map[string]time.Duration{}
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	f.targets = []*pfTarget{
		newPFTarget(t, "auth-none", startServer(t), false, ""),
		newPFTarget(t, "auth-sigv4", startServer(t, "--auth", "sigv4", "--credentials-file", creds, "--tls-listen", tlsAddr), true, tlsAddr),
	}
	start := map[*pfTarget]pfProc{}
	for _, tg := range f.targets {
		start[tg] = tg.stats(t)
		if err := f.tidy(tg, true); err != nil {
			t.Fatalf("%s: fixtures: %v", tg.name, err)
		}
	}
	f.checkSeeds(t, f.targets[0])
	f.checkSeeds(t, f.targets[1])

	abort, cancelAbort := context.WithCancel(context.Background())
	defer cancelAbort()
	stop, cancelStop := context.WithTimeout(abort, duration)
	defer cancelStop()
	began := time.Now()
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.worker(stop, abort, i)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.watch(stop, cancelAbort, began)
	}()
	wg.Wait()
	elapsed := time.Since(began)
	if abort.Err() != nil {
		t.Fatalf("protofuzz aborted (seed %d)", seed)
	}

	// The end: no streams, no client connections; what the servers still
	// hold must be what they held at the start.
	for _, tg := range f.targets {
		if err := f.wipe(tg); err != nil {
			t.Errorf("%s: delete the streams: %v", tg.name, err)
		}
		tg.closeClients()
	}
	f.report(t, elapsed)
	for _, tg := range f.targets {
		f.checkLeaks(t, tg, start[tg])
		f.checkOutput(t, tg)
	}
	if n := f.failures.Load(); n > 0 {
		t.Errorf("protofuzz: %d failing answers (seed %d); requests in %s", n, seed, f.failDir)
	}
}

func pfEnvInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// pfTarget is one server under fuzz, with its clients and fixtures.
type pfTarget struct {
	name    string
	srv     *server
	sigv4   bool
	names   atomic.Pointer[pfNames]
	h1, h2  *http.Client // the fuzzer's
	tls     *http.Client // the fuzzer's on the TLS port (HTTP/2 or HTTP/1.1 by ALPN); nil without one
	tlsAddr string
	ctl     *http.Client // the janitor's and the watchdog's
	trs     []*http.Transport
	// fixturesAt is when the fixture stream was last made afresh; the
	// janitor's own.
	fixturesAt time.Time
}

func newPFTarget(t *testing.T, name string, s *server, sigv4 bool, tlsAddr string) *pfTarget {
	tg := &pfTarget{name: name, srv: s, sigv4: sigv4, tlsAddr: tlsAddr}
	h1 := &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second, DisableCompression: true}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2 := &http.Transport{Protocols: &p, IdleConnTimeout: 30 * time.Second, DisableCompression: true}
	ctl := &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}
	tg.trs = []*http.Transport{h1, h2, ctl}
	tg.h1, tg.h2, tg.ctl = &http.Client{Transport: h1}, &http.Client{Transport: h2}, &http.Client{Transport: ctl, Timeout: pfTimeout}
	if tlsAddr != "" {
		// The server's certificate is its own, self-signed.
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true,
			MaxIdleConnsPerHost: 8, IdleConnTimeout: 30 * time.Second, DisableCompression: true}
		tg.trs = append(tg.trs, tr)
		tg.tls = &http.Client{Transport: tr}
	}
	t.Cleanup(tg.closeClients)
	return tg
}

func (tg *pfTarget) closeClients() {
	for _, tr := range tg.trs {
		tr.CloseIdleConnections()
	}
}

func (tg *pfTarget) pid() int {
	tg.srv.mu.Lock()
	defer tg.srv.mu.Unlock()
	return tg.srv.cmd.Process.Pid
}

// pfProc is what the kernel says a server process holds.
type pfProc struct {
	rssKB, threads, fds int
}

func (p pfProc) String() string {
	return fmt.Sprintf("RSS %.1f MiB, %d threads, %d fds", float64(p.rssKB)/1024, p.threads, p.fds)
}

func (tg *pfTarget) stats(t *testing.T) pfProc {
	t.Helper()
	p, err := pfProcStats(tg.pid())
	if err != nil {
		t.Fatalf("%s: %v", tg.name, err)
	}
	return p
}

// pfProcStats reads VmRSS and Threads from /proc/<pid>/status and counts
// /proc/<pid>/fd.
func pfProcStats(pid int) (pfProc, error) {
	var p pfProc
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			p.rssKB, _ = strconv.Atoi(fields[0])
		case "Threads":
			p.threads, _ = strconv.Atoi(fields[0])
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return p, err
	}
	p.fds = len(fds)
	return p, nil
}

// pfOpenFiles lists what a process's descriptors point at.
func pfOpenFiles(pid int) []string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out = append(out, e.Name()+" -> "+l)
	}
	return out
}

// pfFuzzer is one fuzzing run.
type pfFuzzer struct {
	t         *testing.T
	seed      uint64
	catalogue map[string]pfException
	targets   []*pfTarget
	sent      atomic.Int64
	failures  atomic.Int64

	mu struct {
		sync.Mutex
		labels map[string]int           // status and exception pfHistogram
		kinds  map[string]int           // requests by kind
		seen   map[string]int           // failures by shape, to log each shape a few times
		busy   map[string]time.Duration // time spent by kind of request
	}
	failDir string // created on the first failure
}

// worker sends requests until stop; abort cancels the ones in flight.
func (f *pfFuzzer) worker(stop, abort context.Context, id int) {
	rng := rand.New(rand.NewPCG(f.seed, uint64(id)))
	for stop.Err() == nil {
		tg := f.targets[rng.IntN(len(f.targets))]
		began := time.Now()
		if rng.IntN(8) == 0 {
			label, problem, dump := f.raw(abort, rng, tg)
			if abort.Err() != nil {
				return
			}
			f.record(tg, "raw", label, problem, dump)
			f.took("raw", time.Since(began))
			continue
		}
		r := f.gen(rng, tg)
		if stop.Err() != nil {
			return // the run ended while the request was made
		}
		ctx, cancel := context.WithCancel(abort)
		gone := rng.IntN(25) == 0
		if gone {
			// The client goes away during the request: mid-body, waiting
			// for the answer, or reading it. Nothing to check but that the
			// server stays healthy and lets go of the connection.
			r.slow = r.slow || rng.IntN(2) == 0
			time.AfterFunc(time.Duration(rng.IntN(60))*time.Millisecond, cancel)
		}
		a := f.send(ctx, tg, r)
		cancel()
		f.took(r.kind, time.Since(began))
		if abort.Err() != nil {
			return
		}
		kind := r.kind
		if r.variant != "" {
			kind += "+" + r.variant
		}
		if gone && a.err != nil {
			f.record(tg, kind+"+gone", "client gone", "", nil)
			continue
		}
		label, problem := f.check(r, a)
		f.record(tg, kind, label, problem, func(w io.Writer) { r.dump(w, a) })
	}
}

// took adds to the time spent on a kind of request.
func (f *pfFuzzer) took(kind string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.busy[kind] += d
}

// record counts an answer and reports a failing one.
func (f *pfFuzzer) record(tg *pfTarget, kind, label, problem string, dump func(io.Writer)) {
	f.sent.Add(1)
	f.mu.Lock()
	f.mu.labels[label]++
	f.mu.kinds[kind]++
	shape := ""
	if problem != "" {
		shape = pfShape(problem)
		f.mu.seen[shape]++
	}
	n := f.mu.seen[shape]
	f.mu.Unlock()
	if problem == "" {
		return
	}
	id := f.failures.Add(1)
	if n > 3 || id > 200 {
		return // enough of this one
	}
	path := f.saveFailure(id, tg, problem, dump)
	f.t.Errorf("protofuzz %s: %s [%s]: %s (request: %s)", tg.name, kind, label, problem, path)
}

var pfDigits = regexp.MustCompile(`[0-9]+`)

// pfShape is a failure's message without its numbers and quotes, so that
// one bug is counted once.
// pfWarnShape is a server log line's message, quoted or not, with its
// numbers replaced, so that warnings of one kind count together.
func pfWarnShape(line string) string {
	msg := line
	if i := strings.Index(line, "msg="); i >= 0 {
		msg = line[i+len("msg="):]
		if q, err := strconv.QuotedPrefix(msg); err == nil {
			msg, _ = strconv.Unquote(q)
		} else if j := strings.IndexByte(msg, ' '); j >= 0 {
			msg = msg[:j]
		}
	}
	return pfDigits.ReplaceAllString(msg, "N")
}

func pfShape(problem string) string {
	if i := strings.IndexAny(problem, `"`); i >= 0 {
		problem = problem[:i]
	}
	return pfDigits.ReplaceAllString(problem, "N")
}

func (f *pfFuzzer) saveFailure(id int64, tg *pfTarget, problem string, dump func(io.Writer)) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failDir == "" {
		dir, err := os.MkdirTemp("", "sluice-protofuzz-")
		if err != nil {
			return "(not saved: " + err.Error() + ")"
		}
		f.failDir = dir
	}
	path := filepath.Join(f.failDir, fmt.Sprintf("failure-%03d.txt", id))
	file, err := os.Create(path)
	if err != nil {
		return "(not saved: " + err.Error() + ")"
	}
	defer file.Close()
	fmt.Fprintf(file, "seed %d, server %s\nproblem: %s\n\n", f.seed, tg.name, problem)
	dump(file)
	return path
}

// watch checks every second that the servers are alive and healthy,
// tidies the fixtures every 15 s and logs progress every minute. A dead
// or unhealthy server aborts the run.
func (f *pfFuzzer) watch(stop context.Context, abort context.CancelFunc, began time.Time) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastTidy, lastLog := time.Now(), time.Now()
	for {
		select {
		case <-stop.Done():
			return
		case <-tick.C:
		}
		for _, tg := range f.targets {
			if tg.srv.exited() {
				f.t.Errorf("protofuzz %s: the server exited", tg.name)
				abort()
				return
			}
			if err := f.healthy(tg); err != nil {
				f.t.Errorf("protofuzz %s: not healthy: %v", tg.name, err)
				abort()
				return
			}
		}
		if time.Since(lastTidy) >= 15*time.Second {
			lastTidy = time.Now()
			for _, tg := range f.targets {
				if err := f.tidy(tg, time.Since(tg.fixturesAt) > 3*time.Minute); err != nil {
					f.t.Logf("protofuzz %s: tidy: %v", tg.name, err)
				}
			}
		}
		if time.Since(lastLog) >= time.Minute {
			lastLog = time.Now()
			line := fmt.Sprintf("protofuzz: %v, %d requests, %d failures", time.Since(began).Round(time.Second), f.sent.Load(), f.failures.Load())
			for _, tg := range f.targets {
				if p, err := pfProcStats(tg.pid()); err == nil {
					line += fmt.Sprintf("; %s: %s", tg.name, p)
				}
			}
			f.t.Log(line)
		}
	}
}

func (f *pfFuzzer) healthy(tg *pfTarget) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tg.srv.endpoint()+"/healthz", nil)
	resp, err := tg.ctl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "ok\n" {
		return fmt.Errorf("GET /healthz: %d %q", resp.StatusCode, b)
	}
	return nil
}

// call makes one well-formed JSON call for the janitor, signed by the
// administrator on the sigv4 server. A 5xx counts as a failure.
func (f *pfFuzzer) call(tg *pfTarget, op string, in pfObj) (int, map[string]any, error) {
	body := (&pfEncoder{}).JSON(in)
	req, _ := http.NewRequest(http.MethodPost, tg.srv.endpoint()+"/", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", ctJSON)
	req.Header.Set("X-Amz-Target", targetBase+op)
	now := time.Now()
	if tg.sigv4 {
		if err := pfSign(req, body, pfAdminKey, testRegion, now); err != nil {
			return 0, nil, err
		}
	} else {
		req.Header.Set("X-Amz-Date", now.UTC().Format("20060102T150405Z"))
		req.Header.Set("Authorization", fakeSigV4(now))
	}
	resp, err := tg.ctl.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	if resp.StatusCode >= 500 {
		f.record(tg, "janitor", strconv.Itoa(resp.StatusCode), fmt.Sprintf("janitor %s: status %d: %q", op, resp.StatusCode, truncate(b, 300)),
			func(w io.Writer) { fmt.Fprintf(w, "%s %s\n%s\n", op, body, b) })
	}
	return resp.StatusCode, m, nil
}

func pfSign(req *http.Request, body []byte, key aws.Credentials, region string, at time.Time) error {
	return v4.NewSigner().SignHTTP(req.Context(), key, req, pfSHA256(body), "kinesis", region, at)
}

// pfErrType is an error answer's __type.
func pfErrType(m map[string]any) string {
	s, _ := m["__type"].(string)
	return s
}

// listStreams returns every stream's name.
func (f *pfFuzzer) listStreams(tg *pfTarget) ([]string, error) {
	var names []string
	in := pfObj{{"Limit", int64(100)}}
	for range 100 {
		status, m, err := f.call(tg, "ListStreams", in)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("ListStreams: %d %v", status, m)
		}
		ss, _ := m["StreamNames"].([]any)
		for _, s := range ss {
			if n, ok := s.(string); ok {
				names = append(names, n)
			}
		}
		if more, _ := m["HasMoreStreams"].(bool); !more || len(ss) == 0 {
			return names, nil
		}
		in = pfObj{{"Limit", int64(100)}, {"ExclusiveStartStreamName", names[len(names)-1]}}
	}
	return names, fmt.Errorf("ListStreams: more than 100 pages")
}

// deleteStream deletes a stream and its consumers.
func (f *pfFuzzer) deleteStream(tg *pfTarget, name string) error {
	status, m, err := f.call(tg, "DeleteStream", pfObj{{"StreamName", name}, {"EnforceConsumerDeletion", true}})
	if err != nil {
		return err
	}
	if status != http.StatusOK && pfErrType(m) != "ResourceNotFoundException" && pfErrType(m) != "ResourceInUseException" {
		return fmt.Errorf("DeleteStream %s: %d %v", name, status, m)
	}
	return nil
}

// ensureStream creates a stream unless it exists, retrying while an old
// one of the name is still being deleted.
func (f *pfFuzzer) ensureStream(tg *pfTarget, name string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, m, err := f.call(tg, "DescribeStreamSummary", pfObj{{"StreamName", name}})
		if err != nil {
			return err
		}
		if status == http.StatusOK {
			sum, _ := m["StreamDescriptionSummary"].(map[string]any)
			if sum["StreamStatus"] != "DELETING" {
				return nil
			}
		}
		status, m, err = f.call(tg, "CreateStream", pfObj{{"StreamName", name}, {"ShardCount", int64(2)}})
		if err != nil {
			return err
		}
		if status == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("CreateStream %s: %d %v", name, status, m)
		}
		time.Sleep(100 * time.Millisecond) // a deletion finishing; a quota freed by the next tidy
	}
}

// tidy deletes the streams the fuzzer created, puts the fixtures back
// (afresh, shedding their data, when fresh) and refreshes the names the
// seeds use: shards, sequence numbers, iterators, the consumer.
func (f *pfFuzzer) tidy(tg *pfTarget, fresh bool) error {
	names, err := f.listStreams(tg)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !fresh && (n == pfStream || n == pfScratch) {
			continue
		}
		if err := f.deleteStream(tg, n); err != nil {
			return err
		}
	}
	if fresh {
		tg.fixturesAt = time.Now()
	}
	for _, n := range []string{pfStream, pfScratch} {
		if err := f.ensureStream(tg, n); err != nil {
			return err
		}
	}
	nm := &pfNames{streamARN: pfARN(pfStream), scratchARN: pfARN(pfScratch)}
	status, m, err := f.call(tg, "DescribeStreamSummary", pfObj{{"StreamName", pfStream}})
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("DescribeStreamSummary: %d %v %v", status, m, err)
	}
	sum, _ := m["StreamDescriptionSummary"].(map[string]any)
	created, _ := sum["StreamCreationTimestamp"].(float64)
	nm.created = time.UnixMilli(int64(created * 1000))
	status, m, err = f.call(tg, "DescribeStreamConsumer", pfObj{{"StreamARN", nm.streamARN}, {"ConsumerName", pfConsumer}})
	if err == nil && status != http.StatusOK {
		status, m, err = f.call(tg, "RegisterStreamConsumer", pfObj{{"StreamARN", nm.streamARN}, {"ConsumerName", pfConsumer}})
	}
	if err != nil {
		return err
	}
	for _, k := range []string{"ConsumerDescription", "Consumer"} {
		if c, ok := m[k].(map[string]any); ok {
			nm.consumerARN, _ = c["ConsumerARN"].(string)
		}
	}
	if nm.consumerARN == "" {
		return fmt.Errorf("consumer: %d %v", status, m)
	}
	if status, m, err = f.call(tg, "ListShards", pfObj{{"StreamName", pfStream}}); err != nil || status != http.StatusOK {
		return fmt.Errorf("ListShards: %d %v %v", status, m, err)
	}
	shards, _ := m["Shards"].([]any)
	for _, s := range shards {
		if sm, ok := s.(map[string]any); ok {
			id, _ := sm["ShardId"].(string)
			nm.shards = append(nm.shards, id)
		}
	}
	recs := []any{}
	for i := range 4 {
		recs = append(recs, pfObj{{"Data", pfBlob("fixture")}, {"PartitionKey", "pk-" + strconv.Itoa(i)}})
	}
	if status, m, err = f.call(tg, "PutRecords", pfObj{{"StreamName", pfStream}, {"Records", recs}}); err != nil || status != http.StatusOK {
		return fmt.Errorf("PutRecords: %d %v %v", status, m, err)
	}
	out, _ := m["Records"].([]any)
	for _, r := range out {
		if rm, ok := r.(map[string]any); ok {
			if s, ok := rm["SequenceNumber"].(string); ok {
				nm.seqs = append(nm.seqs, s)
			}
		}
	}
	for _, sh := range nm.shards {
		for _, typ := range []string{"TRIM_HORIZON", "LATEST"} {
			status, m, err := f.call(tg, "GetShardIterator", pfObj{{"StreamName", pfStream}, {"ShardId", sh}, {"ShardIteratorType", typ}})
			if err != nil || status != http.StatusOK {
				return fmt.Errorf("GetShardIterator: %d %v %v", status, m, err)
			}
			if it, ok := m["ShardIterator"].(string); ok {
				nm.iterators = append(nm.iterators, it)
			}
		}
	}
	tg.names.Store(nm)
	return nil
}

// wipe deletes every stream and waits until none is left.
func (f *pfFuzzer) wipe(tg *pfTarget) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		names, err := f.listStreams(tg)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("streams left: %v", names)
		}
		for _, n := range names {
			if err := f.deleteStream(tg, n); err != nil {
				return err
			}
		}
		time.Sleep(50 * time.Millisecond) // deletions finishing
	}
}

// checkSeeds sends every operation's seed once, in both protocols, and
// checks the corpus itself: every implemented operation is known to the
// server, and no seed fails to decode.
func (f *pfFuzzer) checkSeeds(t *testing.T, tg *pfTarget) {
	rng := rand.New(rand.NewPCG(f.seed, 1<<32))
	names := tg.names.Load()
	ok := 0
	var answers []string
	for _, op := range pfOperations {
		for _, proto := range []string{"json", "cbor"} {
			enc := &pfEncoder{}
			seed := names.seed(rng, op)
			body := enc.JSON(seed)
			if proto == "cbor" {
				body = enc.CBOR(seed)
			}
			r := &pfReq{kind: "valid", method: http.MethodPost, path: "/", header: http.Header{}, body: body,
				target: targetBase + op, op: op, proto: proto, canonical: true}
			r.header.Set("Content-Type", pfContentType(proto))
			r.header.Set("X-Amz-Target", r.target)
			if tg.sigv4 {
				r.sign, r.region = &pfAdminKey, testRegion
			} else {
				r.header.Set("Authorization", fakeSigV4(time.Now()))
			}
			a := f.send(context.Background(), tg, r)
			label, problem := f.check(r, a)
			f.record(tg, "seed", label, problem, func(w io.Writer) { r.dump(w, a) })
			if op == "DeleteStream" {
				if err := f.tidy(tg, false); err != nil {
					t.Fatalf("%s: fixtures: %v", tg.name, err)
				}
				names = tg.names.Load()
			}
			if problem != "" {
				continue
			}
			typ := ""
			if a.status != http.StatusOK {
				m, _ := pfDecodeMap(proto, a.body)
				typ = pfErrType(m)
				answers = append(answers, fmt.Sprintf("%s/%s: %s %v", op, proto, typ, m["message"]))
			}
			switch {
			case a.status == http.StatusOK:
				ok++
			case typ == "UnknownOperationException" || typ == "ValidationException" || typ == "SerializationException":
				if slices.Index(pfOperations, op) < pfImplemented {
					t.Errorf("%s: the %s seed of %s gets %s: %q", tg.name, proto, op, typ, truncate(a.body, 300))
				}
			}
		}
	}
	t.Logf("protofuzz %s: %d of %d seed requests succeed; the others:\n  %s", tg.name, ok, 2*len(pfOperations), strings.Join(answers, "\n  "))
}

// report logs the run's numbers.
func (f *pfFuzzer) report(t *testing.T, elapsed time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sent := f.sent.Load()
	t.Logf("protofuzz: %d requests in %v (%.0f/s), %d failing, seed %d", sent, elapsed.Round(time.Second),
		float64(sent)/elapsed.Seconds(), f.failures.Load(), f.seed)
	t.Logf("protofuzz: answers:\n%s", pfHistogram(f.mu.labels))
	t.Logf("protofuzz: requests by kind:\n%s", pfHistogram(f.mu.kinds))
	busy := map[string]int{}
	for k, d := range f.mu.busy {
		busy[k] = int(d.Milliseconds())
	}
	t.Logf("protofuzz: milliseconds spent by kind (all workers):\n%s", pfHistogram(busy))
}

func pfHistogram(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %8d  %s\n", m[k], k)
	}
	return b.String()
}

// checkLeaks compares what a server holds now with what it held before
// the run. Descriptors must come back to the start (a connection or file
// left open is a leak); threads and RSS are bounded loosely, since Go
// keeps idle threads and returns memory to the kernel slowly.
func (f *pfFuzzer) checkLeaks(t *testing.T, tg *pfTarget, start pfProc) {
	const fdSlack = 2
	deadline := time.Now().Add(30 * time.Second)
	var end pfProc
	for {
		var err error
		if end, err = pfProcStats(tg.pid()); err != nil {
			t.Errorf("%s: %v", tg.name, err)
			return
		}
		if end.fds <= start.fds+fdSlack || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // connections closing
	}
	t.Logf("protofuzz %s: start %s; end %s", tg.name, start, end)
	if end.fds > start.fds+fdSlack {
		t.Errorf("%s: %d open descriptors at the end, %d at the start:\n%s", tg.name, end.fds, start.fds,
			strings.Join(pfOpenFiles(tg.pid()), "\n"))
	}
	if end.threads > start.threads+200 {
		t.Errorf("%s: %d threads at the end, %d at the start", tg.name, end.threads, start.threads)
	}
	if end.rssKB > 4*start.rssKB+(1<<20) {
		t.Errorf("%s: RSS grew from %d KiB to %d KiB", tg.name, start.rssKB, end.rssKB)
	}
}

// checkOutput looks for trouble in a server's log: a recovered handler
// panic, a data race, a response written twice.
func (f *pfFuzzer) checkOutput(t *testing.T, tg *pfTarget) {
	out := tg.srv.out.String()
	for _, bad := range []string{"panic", "DATA RACE", "fatal error", "superfluous", "unexpected error"} {
		if i := strings.Index(out, bad); i >= 0 {
			t.Errorf("%s: server log has %q: %s", tg.name, bad, out[max(0, i-300):min(len(out), i+700)])
		}
	}
	warns := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			warns[pfWarnShape(line)]++
		}
	}
	if len(warns) > 0 {
		t.Logf("protofuzz %s: server warnings:\n%s", tg.name, pfHistogram(warns))
	}
}

// TestPfWarnShape: warnings are counted by their message, quoted or not,
// with numbers replaced.
func TestPfWarnShape(t *testing.T) {
	for line, want := range map[string]string{
		`time=2026-11-27T09:00:00Z level=WARN msg="storage: slow client 12 ms" key=3`: "storage: slow client N ms",
		`time=2026-11-27T09:00:00Z level=WARN msg=closing conn=7`:                     "closing",
		`level=ERROR something without a message 42`:                                  "level=ERROR something without a message N",
	} {
		if got := pfWarnShape(line); got != want {
			t.Errorf("pfWarnShape(%q) = %q, want %q", line, got, want)
		}
	}
}
