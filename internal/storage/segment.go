package storage

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluicedata/sluice/internal/vfs"
)

const (
	segmentSuffix     = ".seg"
	offsetIndexSuffix = ".idx"
	timeIndexSuffix   = ".tix"
	tmpSuffix         = ".tmp"
	// segmentNameDigits is the zero-padded width of a segment's base offset
	// in its file name; 20 digits hold any uint64, and sort as numbers.
	segmentNameDigits = 20

	// readChunkBytes is how much a Read or SeekTime reads per pread. Each
	// concurrent reader holds one such buffer (pooled) plus, for a batch
	// larger than it, one buffer of that batch's size (at most maxBatchBytes).
	readChunkBytes = 64 << 10
	// scanChunkBytes is the pread size of recovery scans, which read whole
	// segments and gain from larger reads.
	scanChunkBytes = 1 << 20
)

func segmentName(base uint64, suffix string) string {
	return fmt.Sprintf("%0*d%s", segmentNameDigits, base, suffix)
}

// parseSegmentName returns the base offset of a "<20 digits>.seg" name.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(digits) != segmentNameDigits {
		return 0, false
	}
	base, err := strconv.ParseUint(digits, 10, 64)
	return base, err == nil
}

// parseIndexName returns the base offset of a "<20 digits>.idx" or
// "<20 digits>.tix" name.
func parseIndexName(name string) (uint64, bool) {
	for _, suffix := range []string{offsetIndexSuffix, timeIndexSuffix} {
		if digits, ok := strings.CutSuffix(name, suffix); ok && len(digits) == segmentNameDigits {
			base, err := strconv.ParseUint(digits, 10, 64)
			return base, err == nil
		}
	}
	return 0, false
}

// segment describes one segment file as of a logView. It is immutable:
// sealing the active segment publishes a new segment value, so readers
// holding an old view never see fields change under them.
type segment struct {
	base   uint64
	path   string
	f      vfs.File    // read handle; for the active segment, the writer's handle
	sealed *sealedInfo // nil for the active segment
	// dataStart is the byte position of the first batch: the header's
	// length, 24 for a plaintext segment.
	dataStart int64
	// key is the segment's data key; nil for a plaintext segment. Shared by
	// every value published for the file, like refs.
	key *segmentKey
	// refs is shared by every value published for this file (active, then
	// sealed): its files stay open while anyone holds a reference.
	refs *segmentRefs
}

// segmentRefs counts who holds a segment's files open: the log, while the
// segment is in ShardLog.mu.segs, and each Read or SeekTime working in it.
// When the count reaches zero the files are closed, and it never rises
// again: a trimmed segment's files stay readable (unlinked) until its last
// reader is done, and a reader that comes too late finds out and reloads
// its view instead of reading a closed file.
type segmentRefs struct {
	n atomic.Int64
	// last is the segment's latest value, whose close closes every file
	// (a sealed value also has the index files). The log sets it before it
	// drops its reference; a reader that drops the count to zero sees it
	// through the atomic.
	last *segment
}

func newSegment(base uint64, path string, f vfs.File, sealed *sealedInfo, hdr segmentKeyInfo) *segment {
	s := &segment{base: base, path: path, f: f, sealed: sealed, refs: &segmentRefs{}, dataStart: segmentHeaderBytes}
	if hdr.keyRef != "" {
		s.key = &segmentKey{info: hdr}
		s.dataStart = int64(len(encodeSegmentHeader(base, hdr)))
	}
	s.refs.n.Store(1)
	return s
}

// keyRef is the key reference the segment is encrypted under; "" if it
// is plaintext.
func (s *segment) keyRef() string {
	if s.key == nil {
		return ""
	}
	return s.key.info.keyRef
}

// segmentKey is an encrypted segment's data key. The writer knows it from
// the start; a reader unwraps it through DataKeys the first time it needs
// it.
type segmentKey struct {
	info segmentKeyInfo
	once sync.Once
	aead cipher.AEAD
	err  error
}

// cipher returns the segment's AEAD, unwrapping the data key on first use.
func (k *segmentKey) cipher(keys DataKeys) (cipher.AEAD, error) {
	k.once.Do(func() {
		if keys == nil {
			k.err = ErrNoDataKeys
			return
		}
		plain, err := keys.Decrypt(k.info.wrapped)
		if err != nil {
			k.err = fmt.Errorf("%w: %w", errUnwrap, err)
			return
		}
		k.aead, k.err = newAEAD(plain)
		clear(plain)
	})
	return k.aead, k.err
}

// setCipher records the AEAD of a key the writer made itself.
func (k *segmentKey) setCipher(aead cipher.AEAD) {
	if k != nil {
		k.once.Do(func() { k.aead = aead })
	}
}

// errUnwrap wraps what DataKeys.Decrypt returned for a segment's key.
var errUnwrap = errors.New("unwrap data key")

// newAEAD returns AES-256-GCM under key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("data key is %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// acquire takes a reference for a reader; it fails if the segment's files
// were closed (it was trimmed, or the log closed) since the reader's view
// was loaded.
func (s *segment) acquire() bool {
	for {
		n := s.refs.n.Load()
		if n <= 0 {
			return false
		}
		if s.refs.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reader's reference.
func (s *segment) release() {
	if s.refs.n.Add(-1) == 0 {
		// Closing a read handle reports nothing a reader could act on.
		_ = s.refs.last.close()
	}
}

// drop drops the log's reference; s must be the segment's latest value.
// It returns the error of closing the files if no reader holds them.
func (s *segment) drop() error {
	s.refs.last = s
	switch n := s.refs.n.Add(-1); {
	case n == 0:
		return s.close()
	case n < 0:
		panic(fmt.Sprintf("storage: segment %s dropped %d times too often", s.path, -n))
	}
	return nil
}

// sealedInfo is what is known of a segment that is no longer written.
type sealedInfo struct {
	end          uint64 // one past the last offset
	size         int64  // file size
	firstArrival int64  // of the first record; meaningless if end == base
	lastArrival  int64
	idx, tix     vfs.File
	count        int // entries in each index file
}

func (s *segment) close() error {
	err := s.f.Close()
	if s.sealed != nil {
		for _, f := range []vfs.File{s.sealed.idx, s.sealed.tix} {
			if f != nil {
				err = errors.Join(err, f.Close())
			}
		}
	}
	return err
}

// searchIndex returns the last of n entries (in key order) for which before
// holds, and false if there is none. before must be true for a prefix of
// the entries and false after it.
func searchIndex(n int, get func(i int) (indexEntry, error), before func(indexEntry) bool) (indexEntry, bool, error) {
	var ferr error
	i := sort.Search(n, func(i int) bool {
		if ferr != nil {
			return true
		}
		e, err := get(i)
		if err != nil {
			ferr = err
			return true
		}
		return !before(e)
	})
	if ferr != nil || i == 0 {
		return indexEntry{}, false, ferr
	}
	e, err := get(i - 1)
	return e, err == nil, err
}

func (s *sealedInfo) offsetEntry(i int) (indexEntry, error) {
	var b [offsetIndexEntryBytes]byte
	if _, err := s.idx.ReadAt(b[:], indexHeaderBytes+int64(i)*offsetIndexEntryBytes); err != nil {
		return indexEntry{}, fmt.Errorf("read offset index: %w", err)
	}
	return indexEntry{rel: le.Uint32(b[0:]), pos: le.Uint32(b[4:])}, nil
}

func (s *sealedInfo) timeEntry(i int) (indexEntry, error) {
	var b [timeIndexEntryBytes]byte
	if _, err := s.tix.ReadAt(b[:], indexHeaderBytes+int64(i)*timeIndexEntryBytes); err != nil {
		return indexEntry{}, fmt.Errorf("read time index: %w", err)
	}
	return indexEntry{arrival: int64(le.Uint64(b[0:])), rel: le.Uint32(b[8:]), pos: le.Uint32(b[12:])}, nil
}

// writeIndexFiles writes a sealed segment's .idx and .tix atomically (tmp,
// fsync, rename, directory fsync) and opens them for reading.
func writeIndexFiles(fs vfs.FS, dir string, h indexHeader, entries []indexEntry) (idx, tix vfs.File, err error) {
	idxData, tixData := encodeIndexes(h, entries)
	paths := []string{
		filepath.Join(dir, segmentName(h.base, offsetIndexSuffix)),
		filepath.Join(dir, segmentName(h.base, timeIndexSuffix)),
	}
	for i, data := range [][]byte{idxData, tixData} {
		if err := writeFileAtomicNoDirSync(fs, paths[i], data); err != nil {
			return nil, nil, err
		}
	}
	if err := fs.SyncDir(dir); err != nil {
		return nil, nil, fmt.Errorf("sync dir %s: %w", dir, err)
	}
	if idx, err = fs.Open(paths[0]); err != nil {
		return nil, nil, err
	}
	if tix, err = fs.Open(paths[1]); err != nil {
		idx.Close()
		return nil, nil, err
	}
	return idx, tix, nil
}

// writeFileAtomicNoDirSync writes data to path via path.tmp, fsync and
// rename; the caller fsyncs the directory, once for several files.
func writeFileAtomicNoDirSync(fs vfs.FS, path string, data []byte) error {
	tmp := path + tmpSuffix
	f, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := fs.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// openIndexFiles opens a sealed segment's index files and checks their
// headers against what the segment file says; ok is false if either is
// missing or does not match, and the index must be rebuilt.
func openIndexFiles(fs vfs.FS, dir string, base, end uint64, size int64) (si *sealedInfo, ok bool) {
	si = &sealedInfo{end: end, size: size}
	files := []*vfs.File{&si.idx, &si.tix}
	magics := []string{offsetIndexMagic, timeIndexMagic}
	entryBytes := []int64{offsetIndexEntryBytes, timeIndexEntryBytes}
	for i, suffix := range []string{offsetIndexSuffix, timeIndexSuffix} {
		f, err := fs.Open(filepath.Join(dir, segmentName(base, suffix)))
		if err != nil {
			si.closeIndexes()
			return nil, false
		}
		*files[i] = f
		var b [indexHeaderBytes]byte
		fi, err := f.Stat()
		if err != nil {
			si.closeIndexes()
			return nil, false
		}
		_, rerr := f.ReadAt(b[:], 0)
		h, valid := parseIndexHeader(b[:], magics[i])
		if rerr != nil || !valid || h.base != base || h.end != end || h.segmentSize != size ||
			fi.Size() != indexHeaderBytes+int64(h.count)*entryBytes[i] || (h.count == 0) != (end == base) ||
			(i == 1 && int(h.count) != si.count) {
			si.closeIndexes()
			return nil, false
		}
		si.count, si.lastArrival = int(h.count), h.lastArrival
	}
	if si.count > 0 {
		e, err := si.timeEntry(0)
		if err != nil {
			si.closeIndexes()
			return nil, false
		}
		si.firstArrival = e.arrival
	}
	return si, true
}

func (s *sealedInfo) closeIndexes() {
	if s.idx != nil {
		s.idx.Close()
	}
	if s.tix != nil {
		s.tix.Close()
	}
}

// scanStatus is what batchScanner.next found.
type scanStatus int

const (
	scanOK  scanStatus = iota // a frame of plausible size; walkRecords checks its CRC
	scanEnd                   // pos reached limit exactly
	scanBad                   // a frame that cannot be valid (short or bad header)
)

// batchScanner reads the frames of one segment file in order, from pos up to
// limit, with large preads into a reusable buffer.
type batchScanner struct {
	f          vfs.File
	pos, limit int64
	chunk      int
	pooled     *[]byte // the readChunkBytes buffer, for readers
	large      *[]byte // a framePools buffer, for readers' big batches
	buf        []byte  // file bytes [bufStart, bufStart+len(buf))
	bufStart   int64
}

var chunkPool = sync.Pool{New: func() any { b := make([]byte, readChunkBytes); return &b }}

// framePools hold buffers for batches larger than a read chunk, one pool
// per power-of-two size class from 2*readChunkBytes up to maxBatchBytes, so
// reading one record of a big batch does not allocate and zero the batch's
// size every time.
var framePools [frameClasses]sync.Pool

// frameClasses is log2(maxBatchBytes/readChunkBytes); TestFrameClasses
// keeps it in step with the two sizes.
const frameClasses = 8

// frameClass returns the pool index and buffer size for a frame of n bytes.
func frameClass(n int) (int, int) {
	c := bits.Len(uint((n - 1) / readChunkBytes))
	return c - 1, readChunkBytes << c
}

func newScanner(f vfs.File, pos, limit int64, chunk int) *batchScanner {
	s := &batchScanner{f: f, pos: pos, limit: limit, chunk: chunk}
	if chunk == readChunkBytes {
		s.pooled = chunkPool.Get().(*[]byte)
	}
	return s
}

// release returns the scanner's buffers to their pools; frames returned by
// next are invalid afterwards.
func (s *batchScanner) release() {
	if s.pooled != nil {
		chunkPool.Put(s.pooled)
		s.pooled = nil
	}
	if s.large != nil {
		c, _ := frameClass(cap(*s.large))
		framePools[c].Put(s.large)
		s.large = nil
	}
	s.buf = nil
}

// largeBuf returns a pooled buffer of at least n > readChunkBytes bytes.
func (s *batchScanner) largeBuf(n int) []byte {
	if s.large != nil && cap(*s.large) >= n {
		return (*s.large)[:n]
	}
	if s.large != nil {
		c, _ := frameClass(cap(*s.large))
		framePools[c].Put(s.large)
	}
	c, size := frameClass(n)
	if p, ok := framePools[c].Get().(*[]byte); ok {
		s.large = p
	} else {
		b := make([]byte, size)
		s.large = &b
	}
	return (*s.large)[:n]
}

// next returns the frame at s.pos and advances past it. The frame aliases
// the scanner's buffer and is valid until the next call. For scanBad,
// reason says what is wrong.
func (s *batchScanner) next() (h batchHeader, frame []byte, st scanStatus, reason string, err error) {
	if s.pos >= s.limit {
		return h, nil, scanEnd, "", nil
	}
	if s.limit-s.pos < batchHeaderBytes {
		return h, nil, scanBad, fmt.Sprintf("%d bytes left, short of a batch header", s.limit-s.pos), nil
	}
	hb, err := s.ensure(s.pos, batchHeaderBytes)
	if err != nil {
		return h, nil, 0, "", err
	}
	h, reason = parseBatchHeader(hb)
	if reason != "" {
		return h, nil, scanBad, reason, nil
	}
	if h.size() > s.limit-s.pos {
		return h, nil, scanBad, fmt.Sprintf("batch of %d bytes runs past the end at %d", h.size(), s.limit), nil
	}
	if frame, err = s.ensure(s.pos, int(h.size())); err != nil {
		return h, nil, 0, "", err
	}
	s.pos += h.size()
	return h, frame, scanOK, "", nil
}

// ensure returns file bytes [off, off+n), reading them if not buffered.
func (s *batchScanner) ensure(off int64, n int) ([]byte, error) {
	if off >= s.bufStart && off+int64(n) <= s.bufStart+int64(len(s.buf)) {
		return s.buf[off-s.bufStart : off-s.bufStart+int64(n)], nil
	}
	size := int(min(int64(max(n, s.chunk)), s.limit-off))
	var b []byte
	switch {
	case s.pooled != nil && size <= len(*s.pooled):
		b = (*s.pooled)[:size]
	case s.pooled != nil:
		b = s.largeBuf(size)
	case size <= cap(s.buf):
		b = s.buf[:size]
	default:
		b = make([]byte, size)
	}
	k, err := s.f.ReadAt(b, off)
	if k < size {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read at %d: %w", off, err)
	}
	s.buf, s.bufStart = b, off
	return b[:n], nil
}
