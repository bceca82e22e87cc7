package storage

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// readArenaBytes is the block size in which Read copies record data out of
// its read buffer: one allocation per block rather than per record.
const (
	readArenaBytes   = 32 << 10
	minArenaBytes    = 1 << 10
	minKeyBlockBytes = 256
	minReadRecords   = 64 // the least Read makes room for
)

// Read returns records with offsets in [from, End()), in offset order: at
// most maxRecords, and stopping before the sum of len(PartitionKey)+len(Data)
// would exceed maxBytes, except that the first record is always returned.
// Only durable (acknowledged) records are visible. from == End() returns
// nil, nil; from < Start() returns ErrOffsetTrimmed and from > End()
// ErrOffsetBeyondEnd. Damaged data returns a *CorruptionError, after any
// good records before it (a Read that returns records returns no error).
// The returned records belong to the caller. Safe to call concurrently with
// anything, TrimBefore included: a Read is served from the log as it was
// when the Read started or later, so it may return records that a
// concurrent TrimBefore is deleting (their files stay open until it is
// done) but never a partial or closed file's bytes. maxRecords < 1 or
// maxBytes < 0 is a programmer error (panic).
func (l *ShardLog) Read(from uint64, maxRecords, maxBytes int) ([]Record, error) {
	return l.ReadAppend(nil, from, maxRecords, maxBytes)
}

// ReadAppend is Read appending the records to dst and returning the
// extended slice (dst as it was, with an error): a caller that reads
// often can reuse one slice, and the records slice of a big Read is
// hundreds of KiB. The limits count the appended records only. The
// appended records belong to the caller, as Read's do.
func (l *ShardLog) ReadAppend(dst []Record, from uint64, maxRecords, maxBytes int) ([]Record, error) {
	return l.ReadInto(dst, nil, from, maxRecords, maxBytes)
}

// ReadInto is ReadAppend copying the records' data into arena, from its
// start, while it has room (and then into new blocks, as Read does): a
// caller that reads often can give the same arena to its next read once it
// no longer uses the records of this one.
func (l *ShardLog) ReadInto(dst []Record, arena []byte, from uint64, maxRecords, maxBytes int) ([]Record, error) {
	if maxRecords < 1 || maxBytes < 0 {
		panic(fmt.Sprintf("storage: Read(from=%d, maxRecords=%d, maxBytes=%d)", from, maxRecords, maxBytes))
	}
	// Each pass that fails to pin a segment saw a trim or Close complete
	// after it loaded its view, so the loop ends: with ErrClosed, with
	// ErrOffsetTrimmed, or on a view whose segments are all still there.
	for {
		if l.closed.Load() {
			return dst, fmt.Errorf("read %s: %w", l.key, ErrClosed)
		}
		v := l.view.Load()
		switch {
		case from < v.start:
			return dst, fmt.Errorf("read %s at %d (start %d): %w", l.key, from, v.start, ErrOffsetTrimmed)
		case from > v.end:
			return dst, fmt.Errorf("read %s at %d (end %d): %w", l.key, from, v.end, ErrOffsetBeyondEnd)
		case from == v.end:
			return dst, nil
		}
		if recs, ok, err := l.readView(v, dst, arena[:0], from, maxRecords, maxBytes); ok {
			return recs, err
		}
	}
}

// readView reads from v; ok is false if the segment holding from was
// trimmed (or the log closed) after v was loaded, and the caller must
// retry on a fresh view.
func (l *ShardLog) readView(v *logView, dst []Record, arena []byte, from uint64, maxRecords, maxBytes int) (recs []Record, ok bool, err error) {
	r := &recordReader{next: from, maxRecords: maxRecords, maxBytes: maxBytes, out: dst, base: len(dst), arena: arena}
	for i := v.segmentFor(from); i < len(v.segs) && !r.full; i++ {
		if !v.segs[i].acquire() {
			// Trims go oldest first, so the records already taken were
			// all in v's log; they are returned as a shorter Read.
			return r.out, r.count() > 0, nil
		}
		err := l.readSegment(v, i, r)
		v.segs[i].release()
		if err != nil {
			if r.count() > 0 {
				break
			}
			return dst, true, err
		}
	}
	return r.out, true, nil
}

// segmentFor returns the index of the segment holding offset off.
func (v *logView) segmentFor(off uint64) int {
	return max(sort.Search(len(v.segs), func(i int) bool { return v.segs[i].base > off })-1, 0)
}

// recordReader collects records for one Read.
type recordReader struct {
	next       uint64 // offset of the next record wanted
	maxRecords int
	maxBytes   int
	bytes      int
	full       bool
	encrypted  bool     // the batch being walked was sealed under a key
	out        []Record // the records read are out[base:]
	base       int
	arena      []byte
	// keys holds the partition keys: PartitionKey strings are slices of
	// its String(), so a Read allocates per block of keys, not per record.
	// A strings.Builder never changes bytes it has handed out, and a full
	// one is replaced, not grown, so earlier keys stay where they are.
	keys strings.Builder
}

// add takes a record if it is wanted and fits, and reports whether to go on.
func (r *recordReader) add(off uint64, end uint64, arrival int64, key, data []byte) bool {
	if off < r.next {
		return true
	}
	n := len(key) + len(data)
	if off >= end || r.count() >= r.maxRecords || (r.count() > 0 && r.bytes+n > r.maxBytes) {
		r.full = true
		return false
	}
	if r.count() == 0 {
		// Sized once, from the first record, for as many of its size as
		// the limits let in: this saves a 10,000-record Read the
		// doubling copies, without a big slice for a few big records.
		r.out = slices.Grow(r.out, min(r.maxRecords, max(minReadRecords, r.maxBytes/max(n, 1)+1)))
	}
	r.out = append(r.out, Record{Offset: off, ArrivalMillis: arrival, PartitionKey: r.key(key), Data: r.copy(data), Encrypted: r.encrypted})
	r.bytes += n
	r.next = off + 1
	return true
}

// copy moves data into the arena, which the caller then owns. Blocks
// double from minArenaBytes up to readArenaBytes, so a one-record Read
// allocates little and a big one allocates few times.
func (r *recordReader) copy(d []byte) []byte {
	if cap(r.arena)-len(r.arena) < len(d) {
		block := min(readArenaBytes, max(minArenaBytes, 2*cap(r.arena)), max(r.maxBytes-r.bytes, 0))
		r.arena = make([]byte, 0, max(len(d), block))
	}
	start := len(r.arena)
	r.arena = append(r.arena, d...)
	return r.arena[start:len(r.arena):len(r.arena)]
}

// count returns the number of records read.
func (r *recordReader) count() int { return len(r.out) - r.base }

// key returns k as a string in the key block, which is replaced by a new
// one when full. Blocks double from minKeyBlockBytes up to
// readArenaBytes, as the data arena's do.
func (r *recordReader) key(k []byte) string {
	if len(k) == 0 {
		return ""
	}
	if r.keys.Cap()-r.keys.Len() < len(k) {
		block := min(readArenaBytes, max(minKeyBlockBytes, 2*r.keys.Cap()))
		r.keys = strings.Builder{}
		r.keys.Grow(max(len(k), block))
	}
	r.keys.Write(k)
	s := r.keys.String()
	return s[len(s)-len(k):]
}

// indexStart returns where to start scanning segment i of v for offset
// off, by its sparse index: the byte position and first offset of a batch
// at or before off.
func (v *logView) indexStart(i int, off uint64) (int64, uint64, error) {
	s := v.segs[i]
	before := func(e indexEntry) bool { return s.base+uint64(e.rel) <= off }
	var e indexEntry
	var ok bool
	var err error
	if s.sealed != nil {
		e, ok, err = searchIndex(s.sealed.count, s.sealed.offsetEntry, before)
	} else {
		e, ok, err = searchIndex(len(v.entries), func(i int) (indexEntry, error) { return v.entries[i], nil }, before)
	}
	if err != nil || !ok {
		return s.dataStart, s.base, err
	}
	return int64(e.pos), s.base + uint64(e.rel), nil
}

// readSegment adds segment i's records from r.next on to r.
func (l *ShardLog) readSegment(v *logView, i int, r *recordReader) error {
	size, end := v.limits(i)
	if r.next >= end {
		return nil
	}
	pos, off, err := v.indexStart(i, r.next)
	if err != nil {
		return fmt.Errorf("read %s: %w", l.key, err)
	}
	seg := v.segs[i]
	dec := decrypter{keys: l.opts.DataKeys}
	defer dec.release()
	err = l.scanBatches(seg, pos, off, size, func(h batchHeader, frame []byte) (bool, string) {
		if h.end() <= r.next {
			return true, ""
		}
		n := len(r.out)
		r.encrypted = h.encrypted()
		reason := dec.walk(seg, frame, &h, func(j int, arrival int64, key, data []byte) bool {
			return r.add(h.firstOffset+uint64(j), end, arrival, key, data)
		})
		if reason != "" {
			r.out, r.full = r.out[:n], false // never serve part of a bad batch
		}
		return !r.full, reason
	})
	if err == nil {
		err = dec.err
	}
	return err
}

// decrypter walks the records of frames that may be encrypted, decrypting
// sealed ones into a pooled buffer. A missing or unknown data key is not
// corruption: it is kept in err (and the walk stops) for the caller.
type decrypter struct {
	keys DataKeys
	buf  *[]byte
	err  error
}

var plainPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func (d *decrypter) walk(seg *segment, frame []byte, h *batchHeader, fn recordFunc) string {
	if !h.encrypted() {
		return walkRecords(frame, h, fn)
	}
	if reason := checkFrame(frame, h); reason != "" {
		return reason
	}
	if seg.key == nil {
		return "encrypted batch in a plaintext segment"
	}
	aead, err := seg.key.cipher(d.keys)
	if err != nil {
		d.err = fmt.Errorf("read %s: %w", seg.path, err)
		return errKeyReason
	}
	if d.buf == nil {
		d.buf = plainPool.Get().(*[]byte)
	}
	plain, err := openBatch(*d.buf, frame, aead)
	if err != nil {
		return "encrypted batch fails authentication"
	}
	*d.buf = plain[:0]
	return walkPlainRecords(plain, h, fn)
}

func (d *decrypter) release() {
	if d.buf != nil && cap(*d.buf) <= maxPooledBatchBytes {
		plainPool.Put(d.buf)
	}
	d.buf = nil
}

// errKeyReason is the walk result that stands for decrypter.err: the scan
// stops without reporting corruption.
const errKeyReason = "\x00key"

// batchFunc sees each frame of a scan; it returns whether to go on, and a
// reason if the frame's records are bad.
// The header is passed by value: a pointer into the scan loop would make
// every scanned header escape to the heap.
type batchFunc func(h batchHeader, frame []byte) (bool, string)

// scanBatches calls fn for each batch of seg from byte pos (whose batch
// starts at offset off) up to byte limit. A sparse-index entry that does not
// point at the batch it names is not trusted: the scan restarts from the
// segment's first batch.
func (l *ShardLog) scanBatches(seg *segment, pos int64, off uint64, limit int64, fn batchFunc) error {
	sc := newScanner(seg.f, pos, limit, readChunkBytes)
	defer sc.release()
	first, want := true, off
	for {
		framePos := sc.pos
		h, frame, st, reason, err := sc.next()
		if err != nil {
			return fmt.Errorf("read %s: %w", seg.path, err)
		}
		if st == scanEnd {
			return nil
		}
		if st == scanOK && h.firstOffset != want {
			reason = fmt.Sprintf("batch first offset %d, want %d", h.firstOffset, want)
		}
		if st == scanBad || reason != "" {
			if first && pos != seg.dataStart {
				l.warnBadIndex(seg, pos, reason)
				sc.release()
				pos, want = seg.dataStart, seg.base
				sc = newScanner(seg.f, pos, limit, readChunkBytes)
				continue
			}
			return &CorruptionError{File: seg.path, Offset: framePos, Reason: reason}
		}
		first = false
		goOn, reason := fn(h, frame)
		if reason == errKeyReason {
			return nil
		}
		if reason != "" {
			return &CorruptionError{File: seg.path, Offset: framePos, Reason: reason}
		}
		if !goOn {
			return nil
		}
		want = h.end()
	}
}

func (l *ShardLog) warnBadIndex(seg *segment, pos int64, reason string) {
	if l.warnedIndex.CompareAndSwap(false, true) {
		l.logger.Warn("storage: index entry does not match its segment; scanning from the segment start",
			"file", seg.path, "position", pos, "reason", reason)
	}
}

// SeekTime returns the first retained offset whose arrival time is at
// least millis, or End() if there is none, using the time indexes. Like
// Read it sees only durable records. The result is at least Start() as of
// the call's return (a trim racing with it moves the answer up to the new
// Start(), which is then the first retained record at or after millis). It
// is safe to call concurrently with anything.
func (l *ShardLog) SeekTime(millis int64) (uint64, error) {
	for {
		if l.closed.Load() {
			return 0, fmt.Errorf("seek %s: %w", l.key, ErrClosed)
		}
		v := l.view.Load()
		// Arrival times never decrease, so the answer is in the last
		// segment that starts before millis, or is the start of the one
		// after it.
		i := sort.Search(len(v.segs), func(i int) bool {
			first, ok := v.firstArrival(i)
			return !ok || first >= millis
		}) - 1
		off := v.start
		if i >= 0 {
			if !v.segs[i].acquire() {
				continue // trimmed or closed since v was loaded: as in Read
			}
			var err error
			off, err = l.seekInSegment(v, i, millis)
			v.segs[i].release()
			if err != nil {
				return 0, err
			}
		}
		return max(off, l.view.Load().start), nil
	}
}

// firstArrival returns the arrival time of segment i's first durable
// record, and false if it has none.
func (v *logView) firstArrival(i int) (int64, bool) {
	s := v.segs[i]
	if s.sealed != nil {
		return s.sealed.firstArrival, s.sealed.end > s.base
	}
	if len(v.entries) == 0 || v.end == s.base {
		return 0, false
	}
	return v.entries[0].arrival, true
}

func (l *ShardLog) seekInSegment(v *logView, i int, millis int64) (uint64, error) {
	s := v.segs[i]
	size, end := v.limits(i)
	before := func(e indexEntry) bool { return e.arrival < millis }
	var e indexEntry
	var ok bool
	var err error
	if s.sealed != nil {
		e, ok, err = searchIndex(s.sealed.count, s.sealed.timeEntry, before)
	} else {
		e, ok, err = searchIndex(len(v.entries), func(i int) (indexEntry, error) { return v.entries[i], nil }, before)
	}
	if err != nil {
		return 0, fmt.Errorf("seek %s: %w", l.key, err)
	}
	pos, off := s.dataStart, s.base
	if ok {
		pos, off = int64(e.pos), s.base+uint64(e.rel)
	}
	found := end
	dec := decrypter{keys: l.opts.DataKeys}
	defer dec.release()
	err = l.scanBatches(s, pos, off, size, func(h batchHeader, frame []byte) (bool, string) {
		if h.lastArrival < millis {
			return true, ""
		}
		reason := dec.walk(s, frame, &h, func(j int, arrival int64, _, _ []byte) bool {
			if arrival >= millis {
				found = h.firstOffset + uint64(j)
				return false
			}
			return true
		})
		return false, reason
	})
	if err == nil {
		err = dec.err
	}
	if err != nil {
		return 0, err
	}
	return found, nil
}
