package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicedata/sluice/internal/storage"
	"github.com/sluicedata/sluice/internal/vfs"
)

func isSegFile(p string) bool { return strings.HasSuffix(p, ".seg") }

// newFaultHarness is newHarness with the shard logs on the OS filesystem
// behind inj, and the given storage options. restart reopens without
// faults.
func newFaultHarness(t *testing.T, inj vfs.Injector, sopts storage.Options) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clock: &fakeClock{now: time.UnixMilli(1764095000000)}, noKeys: true}
	h.cfg.Clock = h.clock
	st, err := storage.Open(vfs.NewErrorFS(vfs.Default(), inj), h.dir, sopts)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := Open(h.cfg, st)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	h.store, h.eng = st, eng
	t.Cleanup(h.close)
	return h
}

// putEntries makes n entries whose data is prefix + index, padded to size
// bytes, all with partition key key.
func putEntries(key, prefix string, n, size int) []PutEntry {
	out := make([]PutEntry, n)
	for i := range out {
		d := make([]byte, size)
		copy(d, fmt.Sprintf("%s-%d|", prefix, i))
		out[i] = PutEntry{PartitionKey: key, Data: d}
	}
	return out
}

// readShard reads a shard from TRIM_HORIZON to its tip.
func (h *harness) readShard(stream, shard string) []Record {
	h.t.Helper()
	var out []Record
	it := h.iterator(stream, shard, IteratorTrimHorizon, "", nil)
	for {
		res := h.read(it)
		out = append(out, res.Records...)
		if len(res.Records) == 0 || res.NextShardIterator == "" {
			return out
		}
		it = res.NextShardIterator
	}
}

// TestPutRecordsDiskFull, under both sync modes: while the disk is full
// (writes fail with ENOSPC, then syncs do), PutRecords answers InternalFailure per entry and
// PutRecord InternalFailureException, reads keep serving every
// acknowledged record, and once space returns writes go on by themselves,
// with nothing acknowledged lost, before or after a restart.
func TestPutRecordsDiskFull(t *testing.T) {
	for _, m := range syncModes {
		t.Run(m.name, func(t *testing.T) { putRecordsDiskFull(t, m) })
	}
}

// syncMode is a way the store makes appends durable, and the filesystem
// operation (with the paths it sees) that does it.
type syncMode struct {
	name  string
	opts  storage.Options
	op    vfs.Op
	match func(string) bool
}

var syncModes = []syncMode{
	{"fdatasync per shard", storage.Options{}, vfs.OpSync, isSegFile},
	{"one syncfs per round", storage.Options{SharedSync: true}, vfs.OpSyncFS, nil},
}

func putRecordsDiskFull(t *testing.T, m syncMode) {
	var faults vfs.Faults
	h := newFaultHarness(t, &faults, m.opts)
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	const shard = "shardId-000000000000"
	var acked []PutResult
	var ackedData []string
	put := func(prefix string, wantOK bool) {
		t.Helper()
		h.clock.Advance(10 * time.Second) // past the re-arm backoff
		es := putEntries("k", prefix, 5, 100)
		res, err := h.eng.PutRecords("s", es)
		if err != nil {
			t.Fatalf("PutRecords: %v", err)
		}
		for i, r := range res {
			switch {
			case wantOK && r.ErrorCode == "":
				acked = append(acked, r)
				ackedData = append(ackedData, string(es[i].Data))
			case !wantOK && r.ErrorCode == "InternalFailure" && r.ErrorMessage == "Internal service failure." && r.SequenceNumber == "":
			default:
				t.Fatalf("%s entry %d = %+v, want success %v", prefix, i, r, wantOK)
			}
		}
	}
	check := func(what string) {
		t.Helper()
		got := h.readShard("s", shard)
		if len(got) != len(acked) {
			t.Fatalf("%s: read %d records, acknowledged %d", what, len(got), len(acked))
		}
		for i, r := range got {
			if r.SequenceNumber != acked[i].SequenceNumber || string(r.Data) != ackedData[i] {
				t.Fatalf("%s: record %d = %s %q, want %s %q", what, i, r.SequenceNumber, r.Data[:8], acked[i].SequenceNumber, ackedData[i][:8])
			}
		}
	}
	put("before", true)
	put("before2", true)

	faults.Fail(vfs.OpWrite, isSegFile, &vfs.ShortWriteError{N: 50, Err: syscall.ENOSPC})
	put("write-full", false)
	put("write-full2", false)
	if _, err := h.eng.PutRecord("s", PutEntry{PartitionKey: "k", Data: []byte("x")}, ""); err != nil {
		wantCode(t, err, CodeInternalFailure)
	} else {
		t.Fatal("PutRecord succeeded on a full disk")
	}
	check("writes failing")

	faults.Clear()
	faults.Fail(m.op, m.match, syscall.ENOSPC)
	put("sync-full", false)
	check("syncs failing")

	faults.Clear()
	put("after", true)
	put("after2", true)
	check("space back")
	h.restart()
	check("after restart")
}

// TestPutRecordsPrepared, under both sync modes: prepare sees the results
// a call will answer before its batches are durable, and changed says
// when a batch failed after that. A sync that fails turns the sequence
// numbers prepare saw into InternalFailure (changed true); a write that
// fails at once is in the results prepare sees (changed false); with the
// disk back, what prepare saw is the answer, and exactly the records
// acknowledged are read back.
func TestPutRecordsPrepared(t *testing.T) {
	for _, m := range syncModes {
		t.Run(m.name, func(t *testing.T) { putRecordsPrepared(t, m) })
	}
}

func putRecordsPrepared(t *testing.T, m syncMode) {
	var faults vfs.Faults
	h := newFaultHarness(t, &faults, m.opts)
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	var acked []PutResult
	// put runs a call of 20 entries over both shards and returns what
	// prepare saw, the results and changed.
	put := func(prefix string) (seen, got []PutResult, changed bool) {
		t.Helper()
		h.clock.Advance(10 * time.Second) // past the re-arm backoff
		es := make([]PutEntry, 20)
		for i := range es {
			es[i] = PutEntry{PartitionKey: fmt.Sprintf("%s-%d", prefix, i), Data: []byte(prefix)}
		}
		got = make([]PutResult, len(es))
		calls := 0
		changed, err := h.eng.PutRecordsPrepared("s", es, got, nil, func() {
			calls++
			seen = append([]PutResult(nil), got...)
		})
		if err != nil || calls != 1 {
			t.Fatalf("PutRecordsPrepared: %v, prepare called %d times", err, calls)
		}
		return seen, got, changed
	}
	allOK := func(what string, rs []PutResult) {
		t.Helper()
		shards := map[string]bool{}
		for i, r := range rs {
			if _, ok := ParseSeqNum(r.SequenceNumber); !ok || r.ErrorCode != "" {
				t.Fatalf("%s: entry %d = %+v, want a sequence number", what, i, r)
			}
			shards[r.ShardID] = true
		}
		if len(shards) != 2 {
			t.Fatalf("%s: the call went to %d shards, want 2", what, len(shards))
		}
	}
	allFailed := func(what string, rs []PutResult) {
		t.Helper()
		for i, r := range rs {
			if r.ErrorCode != "InternalFailure" || r.SequenceNumber != "" || r.ShardID != "" {
				t.Fatalf("%s: entry %d = %+v, want InternalFailure", what, i, r)
			}
		}
	}

	seen, got, changed := put("ok")
	allOK("ok", got)
	if changed || !slices.Equal(seen, got) {
		t.Fatalf("ok: changed %v, prepare saw %+v, answered %+v", changed, seen, got)
	}
	acked = append(acked, got...)

	faults.Fail(m.op, m.match, syscall.EIO)
	seen, got, changed = put("sync-failed")
	allOK("sync-failed, as prepare saw it", seen)
	allFailed("sync-failed", got)
	if !changed {
		t.Fatal("sync-failed: changed false after every batch failed")
	}

	faults.Clear()
	faults.Fail(vfs.OpWrite, isSegFile, &vfs.ShortWriteError{N: 50, Err: syscall.ENOSPC})
	seen, got, changed = put("write-full")
	allFailed("write-full", got)
	if changed || !slices.Equal(seen, got) {
		t.Fatalf("write-full: changed %v, prepare saw %+v, answered %+v", changed, seen, got)
	}

	faults.Clear()
	seen, got, changed = put("after")
	allOK("after", got)
	if changed || !slices.Equal(seen, got) {
		t.Fatalf("after: changed %v, prepare saw %+v, answered %+v", changed, seen, got)
	}
	acked = append(acked, got...)

	// Exactly the acknowledged records are stored, with the numbers
	// prepare saw.
	var read []Record
	for _, shard := range []string{"shardId-000000000000", "shardId-000000000001"} {
		read = append(read, h.readShard("s", shard)...)
	}
	want := map[string]bool{}
	for _, r := range acked {
		want[r.SequenceNumber] = true
	}
	if len(read) != len(want) {
		t.Fatalf("read %d records, acknowledged %d", len(read), len(want))
	}
	for _, r := range read {
		if !want[r.SequenceNumber] {
			t.Fatalf("read %s, which was not acknowledged", r.SequenceNumber)
		}
	}
}

// TestPutRecordsSlowDisk: every sync (a shard's fdatasync, or the store's
// syncfs) stalls 2 s while 50 PutRecords calls
// of 500 records of 1 KiB each arrive at one shard. All of them complete
// after the stall, the heap grows by a bounded amount (the records the
// callers hold, plus at most MaxPendingAppendBytes of batches), and no
// goroutine is left behind. With a small bound, the calls past it wait and
// then get InternalFailure, which clients retry.
func TestPutRecordsSlowDisk(t *testing.T) {
	type bound struct {
		name     string
		opts     storage.Options
		wantBusy bool
	}
	for _, m := range syncModes {
		for _, tt := range []bound{
			{"default bound", m.opts, false},
			{"small bound", storage.Options{MaxPendingAppendBytes: 4 << 20, AppendWait: 300 * time.Millisecond, SharedSync: m.opts.SharedSync}, true},
		} {
			t.Run(m.name+"/"+tt.name, func(t *testing.T) { putRecordsSlowDisk(t, m, tt.opts, tt.wantBusy) })
		}
	}
}

func putRecordsSlowDisk(t *testing.T, m syncMode, opts storage.Options, wantBusy bool) {
	const calls, perCall, recordBytes = 50, 500, 1024
	var faults vfs.Faults
	h := newFaultHarness(t, &faults, opts)
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	h.put("s", "k", "warm") // the shard's first fsync, before the stall
	goroutines := runtime.NumGoroutine()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	faults.Stall(m.op, m.match, 2*time.Second)
	stop, sampled := make(chan struct{}), make(chan uint64)
	go func() { sampled <- peakHeap(stop) }()
	start := time.Now()
	var wg sync.WaitGroup
	ok, busy := make([]int, calls), make([]int, calls)
	errs := make(chan error, calls)
	for c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.eng.PutRecords("s", putEntries(fmt.Sprintf("k%d", c), fmt.Sprintf("c%d", c), perCall, recordBytes))
			if err != nil {
				errs <- err
				return
			}
			for _, r := range res {
				switch r.ErrorCode {
				case "":
					ok[c]++
				case "InternalFailure":
					busy[c]++
				default:
					errs <- fmt.Errorf("entry: %+v", r)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	peak := <-sampled
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	faults.Clear()
	nOK, nBusy := 0, 0
	for c := range calls {
		nOK += ok[c]
		nBusy += busy[c]
		if ok[c] != 0 && ok[c] != perCall {
			t.Fatalf("call %d: %d of %d records written: a shard's batch is written whole or not at all", c, ok[c], perCall)
		}
	}
	growth := int64(peak) - int64(before.HeapAlloc)
	t.Logf("%d calls in %v: %d records written, %d InternalFailure; heap %d MiB before, peak %d MiB (+%d MiB)",
		calls, elapsed.Round(time.Millisecond), nOK, nBusy, before.HeapAlloc>>20, peak>>20, growth>>20)
	if elapsed < 2*time.Second {
		t.Fatalf("the calls finished in %v, inside the 2 s stall", elapsed)
	}
	if growth > 200<<20 {
		t.Fatalf("heap grew by %d MiB", growth>>20)
	}
	if wantBusy != (nBusy > 0) || nOK == 0 {
		t.Fatalf("%d written, %d InternalFailure; want some written, InternalFailure %v", nOK, nBusy, wantBusy)
	}
	if got := len(h.readShard("s", "shardId-000000000000")); got != nOK+1 {
		t.Fatalf("read %d records, want %d", got, nOK+1)
	}
	// The busy calls' records can be sent again.
	if wantBusy {
		if _, err := h.eng.PutRecords("s", putEntries("k", "retry", perCall, recordBytes)); err != nil {
			t.Fatal(err)
		}
	}
	waitGoroutines(t, goroutines)
}

// peakHeap samples the heap every 10 ms until stop closes and returns the
// largest HeapAlloc seen.
func peakHeap(stop <-chan struct{}) uint64 {
	var peak uint64
	var ms runtime.MemStats
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
		select {
		case <-stop:
			return peak
		case <-tick.C:
		}
	}
}

// waitGoroutines waits until no more than n goroutines run.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, started with %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestGetRecordsAtDamage: a shard whose log opened corrupt serves its
// records up to the damage, then answers InternalFailureException every
// time rather than an empty page or a skip, and refuses writes; the other
// shard works as usual.
func TestGetRecordsAtDamage(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	// MD5("user_123") is in shard 0; find a key for shard 1.
	key1, probes0 := "", 0
	for i := 0; key1 == ""; i++ {
		if k := fmt.Sprint("key", i); h.put("s", k, "probe").ShardID == "shardId-000000000001" {
			key1 = k
		} else {
			probes0++
		}
	}
	for i := range 5 {
		h.put("s", "user_123", fmt.Sprint("r", i)) // one batch each
	}
	h.close()
	segs, err := filepath.Glob(filepath.Join(h.dir, "shards", "*", "000000000000", "*.seg"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments of shard 0: %v %v", segs, err)
	}
	corruptBatch(t, segs[0], probes0+2) // the batch of r2
	h.open()

	const shard0 = "shardId-000000000000"
	res := h.read(h.iterator("s", shard0, IteratorTrimHorizon, "", nil))
	if len(res.Records) != probes0+2 || string(res.Records[len(res.Records)-1].Data) != "r1" {
		t.Fatalf("read up to the damage: %d records %+v", len(res.Records), res.Records)
	}
	for range 2 {
		_, err := h.eng.GetRecords(res.NextShardIterator, 0)
		wantCode(t, err, CodeInternalFailure)
	}
	_, err = h.eng.GetRecords(h.iterator("s", shard0, IteratorLatest, "", nil), 0)
	wantCode(t, err, CodeInternalFailure)
	_, err = h.eng.PutRecord("s", PutEntry{PartitionKey: "user_123", Data: []byte("x")}, "")
	wantCode(t, err, CodeInternalFailure)

	h.put("s", key1, "fine")
	if got := h.readShard("s", "shardId-000000000001"); len(got) == 0 || string(got[len(got)-1].Data) != "fine" {
		t.Fatalf("shard 1 read %d records", len(got))
	}
}

// corruptBatch flips a byte in the records of batch n (from 0) of a
// segment file: its length-prefixed frames follow a header whose length
// is at bytes 6-7 (docs/format/segment.md).
func corruptBatch(t *testing.T, path string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pos := int(binary.LittleEndian.Uint16(b[6:]))
	for range n {
		pos += 4 + int(binary.LittleEndian.Uint32(b[pos:]))
	}
	if pos+44 >= len(b) || !bytes.Equal(b[:4], []byte("SLSG")) {
		t.Fatalf("%s has no batch %d", path, n)
	}
	b[pos+42] ^= 0xff // inside the first record (the batch header is 40 bytes)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
