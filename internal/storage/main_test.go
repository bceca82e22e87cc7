package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluicedata/sluice/internal/vfs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const memDir = "/data"

// quietOptions keeps expected recovery warnings out of test output.
func quietOptions(t testing.TB, o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.CatalogPath == "" {
		o.CatalogPath = filepath.Join(t.TempDir(), "catalog.db")
	}
	if o.PreallocBytes == 0 {
		// Tests write little: preallocate early and often, so that every
		// test runs with zeros after the last batch (shard_prealloc.go).
		o.PreallocBytes = testPreallocBytes
	}
	return o
}

// testPreallocBytes is the tests' Options.PreallocBytes unless they set it.
const testPreallocBytes = 256

// openStore opens a Store on fs at memDir and closes it when the test ends.
func openStore(t testing.TB, fs vfs.FS, o Options) *Store {
	t.Helper()
	s, err := Open(fs, memDir, quietOptions(t, o))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func createShard(t testing.TB, s *Store, key string) *ShardLog {
	t.Helper()
	l, err := s.CreateShard(key)
	if err != nil {
		t.Fatalf("CreateShard(%q): %v", key, err)
	}
	return l
}

// entry makes a recognisable record: key "k<n>", data of size bytes that
// encode n.
func entry(n, size int) Entry {
	d := bytes.Repeat([]byte{byte(n)}, size)
	copy(d, fmt.Sprintf("%d|", n))
	return Entry{PartitionKey: fmt.Sprintf("k%d", n), Data: d}
}

func entries(from, count, size int) []Entry {
	out := make([]Entry, count)
	for i := range out {
		out[i] = entry(from+i, size)
	}
	return out
}

func mustAppend(t testing.TB, l *ShardLog, es []Entry, now int64) AppendResult {
	t.Helper()
	res, err := l.Append(es, now)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

// readAll reads [from, End()) in pages of at most 7 records.
func readAll(t testing.TB, l *ShardLog, from uint64) []Record {
	t.Helper()
	var out []Record
	for from < l.End() {
		recs, err := l.Read(from, 7, 1<<20)
		if err != nil {
			t.Fatalf("Read(%d): %v", from, err)
		}
		if len(recs) == 0 {
			t.Fatalf("Read(%d) returned nothing before End %d", from, l.End())
		}
		out = append(out, recs...)
		from = recs[len(recs)-1].Offset + 1
	}
	return out
}

// checkRecords checks that recs are the records entry(first..) of the given
// size at offsets first...
func checkRecords(t testing.TB, recs []Record, first, size int) {
	t.Helper()
	for i, r := range recs {
		want := entry(first+i, size)
		if r.Offset != uint64(first+i) || r.PartitionKey != want.PartitionKey || !bytes.Equal(r.Data, want.Data) {
			t.Fatalf("record %d = {%d %q %q}, want {%d %q %q}", i, r.Offset, r.PartitionKey, r.Data,
				first+i, want.PartitionKey, want.Data)
		}
	}
}

func asCorruption(t testing.TB, err error) *CorruptionError {
	t.Helper()
	var ce *CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *CorruptionError", err)
	}
	return ce
}
