package storage

import (
	"slices"
	"sync"
	"testing"

	"github.com/sluicedata/sluice/internal/vfs"
)

// writebackFS is a filesystem whose files record the ranges whose
// writeback they are asked to start.
type writebackFS struct {
	vfs.FS
	mu     sync.Mutex
	starts []writebackRange
}

type writebackRange struct {
	name   string
	off, n int64
}

func (w *writebackFS) Create(name string) (vfs.File, error) { return w.wrap(name)(w.FS.Create(name)) }
func (w *writebackFS) OpenReadWrite(name string) (vfs.File, error) {
	return w.wrap(name)(w.FS.OpenReadWrite(name))
}

func (w *writebackFS) wrap(name string) func(vfs.File, error) (vfs.File, error) {
	return func(f vfs.File, err error) (vfs.File, error) {
		if err != nil {
			return nil, err
		}
		return &writebackFile{File: f, fs: w, name: name}, nil
	}
}

// taken returns the ranges recorded since the last call.
func (w *writebackFS) taken() []writebackRange {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.starts
	w.starts = nil
	return out
}

type writebackFile struct {
	vfs.File
	fs   *writebackFS
	name string
}

func (f *writebackFile) StartWriteback(off, n int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.fs.starts = append(f.fs.starts, writebackRange{f.name, off, n})
	return nil
}

// TestWritebackOfBigBatches: a batch of writebackBatchBytes or more starts
// the writeback of exactly its bytes in the active segment as soon as it
// is written; smaller batches, and every batch with NoSync, leave it to
// the sync. The records read back whole either way.
func TestWritebackOfBigBatches(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		fs := &writebackFS{FS: vfs.NewMem()}
		s := openStore(t, fs, Options{NoSync: noSync, PreallocBytes: -1})
		l := createShard(t, s, "wb")
		fs.taken() // whatever creating the shard did

		mustAppend(t, l, entries(0, 10, 100), 1000) // about 1 KiB
		if got := fs.taken(); len(got) != 0 {
			t.Fatalf("NoSync %v: a small batch started writeback of %v", noSync, got)
		}
		before := l.mu.writePos
		const bigRecords = 70 // 70 x 1000 bytes of data: over 64 KiB
		mustAppend(t, l, entries(10, bigRecords, 1000), 1001)
		got := fs.taken()
		if noSync {
			if len(got) != 0 {
				t.Fatalf("NoSync: a big batch started writeback of %v", got)
			}
		} else {
			want := []writebackRange{{l.activeSegment().path, before, l.mu.writePos - before}}
			if !slices.Equal(got, want) || want[0].n < writebackBatchBytes {
				t.Fatalf("a big batch of %d bytes started writeback of %v, want %v", l.mu.writePos-before, got, want)
			}
		}
		recs := readAll(t, l, 0)
		checkRecords(t, recs[:10], 0, 100)
		checkRecords(t, recs[10:], 10, 1000)
		if len(recs) != 10+bigRecords {
			t.Fatalf("NoSync %v: read %d records back, want %d", noSync, len(recs), 10+bigRecords)
		}
	}
}
