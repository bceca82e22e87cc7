package storage

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/sluicedata/sluice/internal/vfs"
)

// fuzzInputTimeout is far above any sane input's time: segments the fuzzer
// makes are kilobytes, and recovery is linear.
const fuzzInputTimeout = 10 * time.Second

var writeFuzzSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzSegmentReader seeds")

// fuzzKeys has one key, "a", fixed so that seeds stay readable.
var fuzzKeys = &testKeys{keks: map[string][]byte{"a": make([]byte, 32)}}

// fuzzSeeds are segment files: valid ones made by the log itself, and
// damaged variants of them.
func fuzzSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{
		"empty":       {},
		"header-only": encodeSegmentHeader(0, segmentKeyInfo{}),
	}
	for _, c := range []struct {
		name          string
		batches, size int
		keyRef        string
	}{{"one-batch", 1, 5, ""}, {"many-batches", 6, 40, ""}, {"empty-data", 3, 0, ""}, {"encrypted", 4, 30, "a"}} {
		mem := vfs.NewMem()
		o, _ := Options{IndexIntervalBytes: 64, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DataKeys: fuzzKeys}.withDefaults()
		if err := createShardFiles(mem, shardPath, memDir); err != nil {
			t.Fatal(err)
		}
		l, err := openShardLog(mem, shardPath, crashKey, o)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < c.batches; i++ {
			if _, err := l.AppendWithKey(entries(i*3, 1+i%3, c.size), int64(1000+i*7), c.keyRef); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		f, _ := mem.Open(segPath(0))
		b, _ := io.ReadAll(f)
		f.Close()
		seeds[c.name] = b
		seeds[c.name+"-torn"] = b[:len(b)-3]
		flipped := append([]byte(nil), b...)
		flipped[len(flipped)/2] ^= 0x08
		seeds[c.name+"-flipped"] = flipped
	}
	return seeds
}

// FuzzSegmentReader feeds arbitrary bytes to recovery and the reader as a
// shard's only segment. It must never panic; the log must open (failed with
// a *CorruptionError, or healthy), serve records or a *CorruptionError, and
// if healthy take an append and read it back.
func FuzzSegmentReader(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	debug.SetTraceback("all")
	f.Fuzz(func(t *testing.T, data []byte) {
		// Go's fuzzer has no per-input timeout; a hang would stall it
		// silently, so crash with every goroutine's stack instead.
		defer time.AfterFunc(fuzzInputTimeout, func() {
			panic(fmt.Sprintf("FuzzSegmentReader: input of %d bytes ran over %v", len(data), fuzzInputTimeout))
		}).Stop()
		mem := vfs.NewMem()
		if err := mem.MkdirAll(shardPath, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFileBytes(t, mem, segPath(0), data)
		o, _ := Options{IndexIntervalBytes: 64, SegmentBytes: 4096, Logger: logger, DataKeys: fuzzKeys}.withDefaults()
		l, err := openShardLog(mem, shardPath, crashKey, o)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer l.Close()
		if err := l.Err(); err != nil {
			asCorruption(t, err)
		}
		readFuzzed(t, l)
		if l.Err() != nil {
			return
		}
		end := l.End()
		res, err := l.Append([]Entry{{PartitionKey: "p", Data: []byte("d")}}, 5)
		if err != nil || res.FirstOffset != end {
			t.Fatalf("append to recovered log: %+v, %v (End was %d)", res, err, end)
		}
		recs, err := l.Read(end, 1, 1)
		if err != nil || len(recs) != 1 || string(recs[0].Data) != "d" {
			t.Fatalf("read back append: %v, %v", recs, err)
		}
	})
}

func readFuzzed(t *testing.T, l *ShardLog) {
	var prev int64
	for from := l.Start(); from < l.End(); {
		recs, err := l.Read(from, 3, 100)
		if errors.Is(err, errUnwrap) {
			return // a damaged wrapped key: the provider refused it
		}
		if err != nil {
			asCorruption(t, err)
			return
		}
		for _, r := range recs {
			if r.Offset != from || r.ArrivalMillis < prev {
				t.Fatalf("record %d (arrival %d) after %d (arrival %d)", r.Offset, r.ArrivalMillis, from, prev)
			}
			from, prev = from+1, r.ArrivalMillis
		}
	}
	for _, ms := range []int64{-1, 0, 1000, 1010, 1 << 62} {
		off, err := l.SeekTime(ms)
		if errors.Is(err, errUnwrap) {
			continue
		}
		if err != nil {
			asCorruption(t, err)
		} else if off < l.Start() || off > l.End() {
			t.Fatalf("SeekTime(%d) = %d outside [%d, %d]", ms, off, l.Start(), l.End())
		}
	}
	_, err := l.Read(l.End()+1, 1, 1)
	if !errors.Is(err, ErrOffsetBeyondEnd) {
		t.Fatalf("Read past End: %v", err)
	}
}

// TestWriteFuzzSeeds regenerates the committed seed corpus when run with
// -write-fuzz-seeds; the seeds are also added by FuzzSegmentReader itself.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeFuzzSeeds {
		t.Skip("run with -write-fuzz-seeds to regenerate testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzSegmentReader")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range fuzzSeeds(t) {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
