package storage

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicedata/sluice/internal/testwait"
	"github.com/sluicedata/sluice/internal/vfs"
)

func TestAppendRead(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		batches []int // records per batch
		size    int   // data bytes per record
	}{
		{"one record", Options{}, []int{1}, 10},
		{"small batches", Options{}, []int{1, 2, 3, 4, 5}, 100},
		{"big batch", Options{}, []int{500}, 1000},
		{"empty data", Options{}, []int{3, 3}, 0},
		{"rolls every batch", Options{SegmentBytes: 100}, []int{1, 1, 2, 1, 5}, 50},
		{"rolls and sparse index", Options{SegmentBytes: 4096, IndexIntervalBytes: 300}, []int{3, 7, 1, 20, 2, 9, 40, 1}, 60},
		{"dense index", Options{IndexIntervalBytes: 1}, []int{1, 1, 1, 1, 1, 1}, 5},
		{"no sync", Options{NoSync: true}, []int{1, 2, 3, 4, 5}, 100},
		{"no sync, rolls", Options{NoSync: true, SegmentBytes: 4096, IndexIntervalBytes: 300}, []int{3, 7, 1, 20, 2, 9, 40, 1}, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := vfs.NewMem()
			s := openStore(t, fs, tt.opts)
			l := createShard(t, s, "stream1/000000000000")
			n := 0
			for i, c := range tt.batches {
				res := mustAppend(t, l, entries(n, c, tt.size), int64(1000+i))
				if res.FirstOffset != uint64(n) || res.ArrivalMillis != int64(1000+i) {
					t.Fatalf("batch %d: %+v, want first %d arrival %d", i, res, n, 1000+i)
				}
				n += c
			}
			if l.End() != uint64(n) || l.Start() != 0 || l.Err() != nil {
				t.Fatalf("End %d Start %d Err %v; want %d 0 nil", l.End(), l.Start(), l.Err(), n)
			}
			checkRecords(t, readAll(t, l, 0), 0, tt.size)
			for from := 0; from < n; from++ {
				recs, err := l.Read(uint64(from), 1, 0)
				if err != nil || len(recs) != 1 {
					t.Fatalf("Read(%d, 1) = %d records, %v", from, len(recs), err)
				}
				checkRecords(t, recs, from, tt.size)
			}
			// Reopen: everything comes back, from the index files for
			// sealed segments and a scan for the last one.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2, err := s.OpenShard("stream1/000000000000")
			if err != nil {
				t.Fatal(err)
			}
			if l2.End() != uint64(n) || l2.LastArrivalMillis() != int64(1000+len(tt.batches)-1) {
				t.Fatalf("after reopen End %d LastArrival %d", l2.End(), l2.LastArrivalMillis())
			}
			checkRecords(t, readAll(t, l2, 0), 0, tt.size)
		})
	}
}

func TestReadLimits(t *testing.T) {
	s := openStore(t, vfs.NewMem(), Options{SegmentBytes: 1000})
	l := createShard(t, s, "s/1")
	for i := 0; i < 10; i++ {
		mustAppend(t, l, entries(i*5, 5, 18), 1) // key "kN" + 18 bytes = 20 bytes/record
	}
	tests := []struct {
		from       uint64
		maxRecords int
		maxBytes   int
		want       int
	}{
		{0, 100, 1 << 20, 50},
		{0, 3, 1 << 20, 3},
		{3, 100, 100, 5}, // 20 bytes each
		{3, 100, 99, 4},
		{7, 100, 0, 1}, // always at least one
		{7, 100, 5, 1},
		{48, 100, 1 << 20, 2},
		{22, 13, 1 << 20, 13},
	}
	for _, tt := range tests {
		recs, err := l.Read(tt.from, tt.maxRecords, tt.maxBytes)
		if err != nil {
			t.Fatalf("Read(%d, %d, %d): %v", tt.from, tt.maxRecords, tt.maxBytes, err)
		}
		if len(recs) != tt.want {
			t.Errorf("Read(%d, %d, %d) = %d records, want %d", tt.from, tt.maxRecords, tt.maxBytes, len(recs), tt.want)
		}
		checkRecords(t, recs, int(tt.from), 18)
	}
	if recs, err := l.Read(50, 1, 1); recs != nil || err != nil {
		t.Errorf("Read(End) = %v, %v; want nil, nil", recs, err)
	}
	if _, err := l.Read(51, 1, 1); !errors.Is(err, ErrOffsetBeyondEnd) {
		t.Errorf("Read(End+1) error = %v, want ErrOffsetBeyondEnd", err)
	}
}

func TestReadOwnership(t *testing.T) {
	s := openStore(t, vfs.NewMem(), Options{})
	l := createShard(t, s, "s")
	mustAppend(t, l, entries(0, 3, 10), 1)
	recs, _ := l.Read(0, 10, 1<<20)
	for i := range recs {
		for j := range recs[i].Data {
			recs[i].Data[j] = 'X'
		}
		recs[i].Data = append(recs[i].Data, 'Y') // must not clobber the next record
	}
	checkRecords(t, readAll(t, l, 0), 0, 10)
}

// TestReadPartitionKeys reads keys of every length from empty to 256
// bytes, in Reads big enough to fill several key blocks and in Reads
// that start mid-batch, and checks each key against what was appended.
func TestReadPartitionKeys(t *testing.T) {
	s := openStore(t, vfs.NewMem(), Options{})
	l := createShard(t, s, "s")
	var want []Entry
	for b := range 10 {
		batch := make([]Entry, 300)
		for i := range batch {
			n := b*len(batch) + i
			batch[i] = Entry{PartitionKey: strings.Repeat(string(rune('a'+n%26)), n%257), Data: []byte{byte(n)}}
		}
		mustAppend(t, l, batch, int64(b))
		want = append(want, batch...)
	}
	for _, step := range []int{1, 7, 450, 3000} {
		for from := 0; from < len(want); from += step {
			recs, err := l.Read(uint64(from), step, 10<<20)
			if err != nil || len(recs) != min(step, len(want)-from) {
				t.Fatalf("Read(%d, %d) = %d records, %v", from, step, len(recs), err)
			}
			for i, r := range recs {
				if w := want[from+i]; r.PartitionKey != w.PartitionKey || !bytes.Equal(r.Data, w.Data) {
					t.Fatalf("Read(%d, %d) record %d: key %q data %x, want %q %x", from, step, i, r.PartitionKey, r.Data, w.PartitionKey, w.Data)
				}
			}
		}
	}
}

// TestReadAppend checks that ReadAppend keeps what dst held, counts its
// limits over the appended records only, and returns dst unchanged at
// the end of the log and on errors.
func TestReadAppend(t *testing.T) {
	s := openStore(t, vfs.NewMem(), Options{})
	l := createShard(t, s, "s")
	mustAppend(t, l, entries(0, 10, 10), 1)
	dst := make([]Record, 1, 4)
	dst[0] = Record{Offset: 99, PartitionKey: "mine"}
	got, err := l.ReadAppend(dst, 2, 3, 1<<20)
	if err != nil || len(got) != 4 || got[0].PartitionKey != "mine" {
		t.Fatalf("ReadAppend = %d records, %v", len(got), err)
	}
	checkRecords(t, got[1:], 2, 10)
	// The byte limit counts from the first appended record: one fits
	// over the limit, as in Read.
	if got, err := l.ReadAppend(dst, 0, 10, 1); err != nil || len(got) != 2 || got[1].Offset != 0 {
		t.Errorf("byte-limited ReadAppend = %+v, %v", got, err)
	}
	if got, err := l.ReadAppend(dst, 10, 10, 1<<20); err != nil || len(got) != 1 || got[0].Offset != 99 {
		t.Errorf("ReadAppend at the end = %+v, %v", got, err)
	}
	if got, err := l.ReadAppend(dst, 11, 10, 1<<20); !errors.Is(err, ErrOffsetBeyondEnd) || len(got) != 1 || got[0].Offset != 99 {
		t.Errorf("ReadAppend past the end = %+v, %v", got, err)
	}
}

func TestArrivalMonotonic(t *testing.T) {
	s := openStore(t, vfs.NewMem(), Options{})
	l := createShard(t, s, "s")
	nows := []int64{100, 50, 200, 200, 10, 300}
	want := []int64{100, 100, 200, 200, 200, 300}
	for i, now := range nows {
		res := mustAppend(t, l, entries(i, 1, 1), now)
		if res.ArrivalMillis != want[i] {
			t.Fatalf("append %d at %d: arrival %d, want %d", i, now, res.ArrivalMillis, want[i])
		}
	}
	recs := readAll(t, l, 0)
	for i, r := range recs {
		if r.ArrivalMillis != want[i] {
			t.Fatalf("record %d arrival %d, want %d", i, r.ArrivalMillis, want[i])
		}
	}
	if l.LastArrivalMillis() != 300 {
		t.Fatalf("LastArrivalMillis = %d", l.LastArrivalMillis())
	}
}

func TestSeekTime(t *testing.T) {
	for _, opts := range []Options{{}, {SegmentBytes: 300, IndexIntervalBytes: 100}} {
		s := openStore(t, vfs.NewMem(), opts)
		l := createShard(t, s, "s")
		if off, err := l.SeekTime(0); off != 0 || err != nil {
			t.Fatalf("SeekTime on empty log = %d, %v", off, err)
		}
		// Batch i (2 records) arrives at 1000 + 10*i; offsets 2i, 2i+1.
		for i := 0; i < 30; i++ {
			mustAppend(t, l, entries(2*i, 2, 20), int64(1000+10*i))
		}
		for _, reopen := range []bool{false, true} {
			if reopen {
				l.Close()
				var err error
				if l, err = s.OpenShard("s"); err != nil {
					t.Fatal(err)
				}
			}
			tests := []struct {
				millis int64
				want   uint64
			}{
				{0, 0}, {1000, 0}, {1001, 2}, {1010, 2}, {1011, 4}, {1155, 32},
				{1290, 58}, {1291, 60}, {99999, 60},
			}
			for _, tt := range tests {
				got, err := l.SeekTime(tt.millis)
				if err != nil || got != tt.want {
					t.Errorf("opts %+v reopen %v: SeekTime(%d) = %d, %v; want %d", opts, reopen, tt.millis, got, err, tt.want)
				}
			}
		}
	}
}

func TestAppendErrors(t *testing.T) {
	s := openStore(t, vfs.NewMem(), Options{})
	l := createShard(t, s, "s")
	big := []Entry{{PartitionKey: "k", Data: make([]byte, maxBatchBytes)}}
	if _, err := l.Append(big, 1); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("Append(too large) = %v", err)
	}
	if l.Err() != nil {
		t.Fatalf("a too-large batch failed the log: %v", l.Err())
	}
	mustAppend(t, l, entries(0, 1, 1), 1)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Append(nil) did not panic")
			}
		}()
		l.Append(nil, 1)
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(entries(1, 1, 1), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	if _, err := l.Read(0, 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close = %v", err)
	}
}

// TestNoSync: with Options.NoSync an Append is readable at once but not
// durable until a roll or Close syncs it: a crash clone taken before Close
// lacks it, one taken after has everything.
func TestNoSync(t *testing.T) {
	mem := vfs.NewMem()
	opts := Options{NoSync: true}
	s := openStore(t, mem, opts)
	l := createShard(t, s, crashKey)
	mustAppend(t, l, entries(0, 5, 40), 1000)
	mustAppend(t, l, entries(5, 5, 40), 1001)
	if l.End() != 10 {
		t.Fatalf("End %d after two appends of 5, want 10", l.End())
	}
	checkRecords(t, readAll(t, l, 0), 0, 40)
	before := mem.CrashClone()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	after := mem.CrashClone()
	if r := reopen(t, before, opts); r.End() != 0 || r.Err() != nil {
		t.Fatalf("crash before any sync: End %d Err %v, want 0 nil (nothing was synced)", r.End(), r.Err())
	}
	r := reopen(t, after, opts)
	if r.End() != 10 || r.Err() != nil {
		t.Fatalf("crash after Close: End %d Err %v, want 10 nil", r.End(), r.Err())
	}
	checkRecords(t, readAll(t, r, 0), 0, 40)
}

// TestNoSyncBackgroundFlush: with NoSync, the active segment is synced in
// the background every noSyncFlushBytes, so a crash loses at most about
// that much, and a roll's sync has little left; a failed background sync
// fails the log.
func TestNoSyncBackgroundFlush(t *testing.T) {
	mem := vfs.NewMem()
	var fail atomic.Bool
	var syncs atomic.Int64
	inj := vfs.InjectorFunc(func(op vfs.Op, path string) error {
		if op != vfs.OpSync || !strings.HasSuffix(path, segmentSuffix) {
			return nil
		}
		syncs.Add(1)
		if fail.Load() {
			return fmt.Errorf("sync %s: %w", path, vfs.ErrInjected)
		}
		return nil
	})
	opts := Options{NoSync: true}
	s := openStore(t, vfs.NewErrorFS(mem, inj), opts)
	l := createShard(t, s, crashKey)
	base := syncs.Load() // CreateShard's
	const size, per = 1000, 100
	n := 0
	for int64(n*size) < noSyncFlushBytes+2*per*size {
		mustAppend(t, l, entries(n, per, size), 1)
		n += per
	}
	testwait.Until(t, 10*time.Second, "a background sync", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return syncs.Load() > base && !l.mu.syncing
	})
	r := reopen(t, mem.CrashClone(), opts)
	if got := r.End(); got < uint64(noSyncFlushBytes/size)-per || got > uint64(n) {
		t.Fatalf("after a crash End %d; want at least %d of the %d written", got, noSyncFlushBytes/size-per, n)
	}
	checkRecords(t, readAll(t, r, 0), 0, size)

	fail.Store(true)
	for l.Err() == nil && int64(n*size) < 3*noSyncFlushBytes {
		if _, err := l.Append(entries(n, per, size), 2); err != nil {
			break
		}
		n += per
	}
	testwait.Until(t, 10*time.Second, "the failed background sync to fail the log", func() bool { return errors.Is(l.Err(), vfs.ErrInjected) })
}
