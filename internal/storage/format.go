package storage

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// The byte layouts here are specified in docs/format/segment.md; keep the two
// in step.

const (
	segmentMagic       = "SLSG"
	segmentVersion     = 1
	segmentHeaderBytes = 24
	// An encrypted segment's header carries an extension after the fixed
	// 24 bytes: the key reference and the wrapped data key.
	encExtMagic      = "SLEK"
	maxKeyRefBytes   = 2048
	maxWrappedBytes  = 1024
	maxSegmentHeader = segmentHeaderBytes + 4 + 2 + maxKeyRefBytes + 2 + maxWrappedBytes + 4

	// batchAttrEncrypted marks a batch whose records are sealed with
	// AES-256-GCM under its segment's data key: the records area is a
	// 12-byte nonce, the ciphertext and the 16-byte tag.
	batchAttrEncrypted = 1
	gcmNonceBytes      = 12
	gcmTagBytes        = 16
	encOverheadBytes   = gcmNonceBytes + gcmTagBytes

	batchHeaderBytes = 40
	// minRecordBytes is the smallest encoded record: attributes byte and
	// three one-byte uvarints (arrival delta, key length, data length).
	minRecordBytes = 4
	// maxBatchBytes bounds one batch on disk (length field included) and so
	// the largest buffer a reader ever allocates for a frame it has not yet
	// checksummed. A PutRecords call is at most 5 MiB of data.
	maxBatchBytes = 16 << 20

	// maxSegmentBytes is the largest Options.SegmentBytes: index positions
	// are u32, and a segment is at most SegmentBytes + maxBatchBytes.
	maxSegmentBytes           = 1 << 30
	defaultSegmentBytes       = 64 << 20
	defaultIndexIntervalBytes = 4096

	offsetIndexMagic      = "SLIX"
	timeIndexMagic        = "SLTX"
	indexVersion          = 1
	indexHeaderBytes      = 48
	offsetIndexEntryBytes = 8
	timeIndexEntryBytes   = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var le = binary.LittleEndian

// segmentKeyInfo is what an encrypted segment's header says of its key:
// the reference the data key was made under (as the caller gave it) and
// the data key wrapped by that key. Both empty for a plaintext segment.
type segmentKeyInfo struct {
	keyRef  string
	wrapped []byte
}

// encodeSegmentHeader renders a segment header: 24 bytes for a plaintext
// segment, more with the key extension for an encrypted one.
func encodeSegmentHeader(base uint64, k segmentKeyInfo) []byte {
	n := segmentHeaderBytes
	if k.keyRef != "" {
		if len(k.keyRef) > maxKeyRefBytes || len(k.wrapped) == 0 || len(k.wrapped) > maxWrappedBytes {
			panic("storage: segment key extension out of bounds")
		}
		n += 4 + 2 + len(k.keyRef) + 2 + len(k.wrapped) + 4
	}
	b := make([]byte, n)
	copy(b, segmentMagic)
	b[4] = segmentVersion
	le.PutUint16(b[6:], uint16(n))
	le.PutUint64(b[8:], base)
	le.PutUint32(b[20:], crc32.Checksum(b[:20], castagnoli))
	if k.keyRef != "" {
		p := segmentHeaderBytes
		p += copy(b[p:], encExtMagic)
		le.PutUint16(b[p:], uint16(len(k.keyRef)))
		p += 2
		p += copy(b[p:], k.keyRef)
		le.PutUint16(b[p:], uint16(len(k.wrapped)))
		p += 2
		p += copy(b[p:], k.wrapped)
		le.PutUint32(b[p:], crc32.Checksum(b[:p], castagnoli))
	}
	return b
}

// segmentHeaderLen checks the fixed 24 bytes of a segment header and
// returns the whole header's length, or why the bytes are not a header.
func segmentHeaderLen(b []byte, base uint64) (int, string) {
	switch {
	case len(b) < segmentHeaderBytes:
		return 0, "short segment header"
	case string(b[:4]) != segmentMagic:
		return 0, fmt.Sprintf("bad segment magic %q", b[:4])
	case le.Uint32(b[20:]) != crc32.Checksum(b[:20], castagnoli):
		return 0, "segment header checksum mismatch"
	case b[4] != segmentVersion:
		return 0, fmt.Sprintf("unsupported segment version %d", b[4])
	case b[5] != 0 || le.Uint32(b[16:]) != 0:
		return 0, "bad segment header fields"
	case le.Uint64(b[8:]) != base:
		return 0, fmt.Sprintf("segment header base offset %d does not match file name %d", le.Uint64(b[8:]), base)
	}
	n := int(le.Uint16(b[6:]))
	if n != segmentHeaderBytes && (n < segmentHeaderBytes+4+2+1+2+1+4 || n > maxSegmentHeader) {
		return 0, fmt.Sprintf("bad segment header length %d", n)
	}
	return n, ""
}

// parseSegmentHeader checks a whole segment header (of the length
// segmentHeaderLen returned) and returns its key extension.
func parseSegmentHeader(b []byte, base uint64) (segmentKeyInfo, string) {
	n, reason := segmentHeaderLen(b, base)
	if reason != "" {
		return segmentKeyInfo{}, reason
	}
	if len(b) != n {
		return segmentKeyInfo{}, "short segment header"
	}
	if n == segmentHeaderBytes {
		return segmentKeyInfo{}, ""
	}
	if le.Uint32(b[n-4:]) != crc32.Checksum(b[:n-4], castagnoli) {
		return segmentKeyInfo{}, "segment key extension checksum mismatch"
	}
	p := b[segmentHeaderBytes : n-4]
	if string(p[:4]) != encExtMagic {
		return segmentKeyInfo{}, fmt.Sprintf("bad segment extension magic %q", p[:4])
	}
	p = p[4:]
	r := int(le.Uint16(p))
	if r == 0 || r > maxKeyRefBytes || 2+r+2 > len(p) {
		return segmentKeyInfo{}, "bad segment key reference length"
	}
	keyRef := string(p[2 : 2+r])
	p = p[2+r:]
	w := int(le.Uint16(p))
	if w == 0 || w > maxWrappedBytes || 2+w != len(p) {
		return segmentKeyInfo{}, "bad segment wrapped key length"
	}
	return segmentKeyInfo{keyRef: keyRef, wrapped: bytes.Clone(p[2:])}, ""
}

// batchHeader is the fixed part of a batch frame.
type batchHeader struct {
	length       uint32 // bytes after the length field
	crc          uint32
	firstOffset  uint64
	count        uint32
	firstArrival int64
	lastArrival  int64
	attributes   uint16
}

// encrypted reports whether the batch's records are sealed.
func (h *batchHeader) encrypted() bool { return h.attributes&batchAttrEncrypted != 0 }

// size is the whole frame's size in bytes.
func (h *batchHeader) size() int64 { return 4 + int64(h.length) }

// end is one past the batch's last offset.
func (h *batchHeader) end() uint64 { return h.firstOffset + uint64(h.count) }

// parseBatchHeader decodes and checks what can be checked without the body.
// It returns "" if the header is plausible, or why not.
func parseBatchHeader(b []byte) (batchHeader, string) {
	if len(b) < batchHeaderBytes {
		return batchHeader{}, "short batch header"
	}
	h := batchHeader{
		length:       le.Uint32(b[0:]),
		crc:          le.Uint32(b[4:]),
		firstOffset:  le.Uint64(b[8:]),
		count:        le.Uint32(b[16:]),
		firstArrival: int64(le.Uint64(b[20:])),
		lastArrival:  int64(le.Uint64(b[28:])),
		attributes:   le.Uint16(b[36:]),
	}
	switch {
	case h.size() > maxBatchBytes:
		return h, fmt.Sprintf("batch length %d exceeds %d bytes", h.size(), maxBatchBytes)
	case h.count == 0:
		return h, "batch has no records"
	case h.size() < batchHeaderBytes+minRecordBytes*int64(h.count):
		return h, fmt.Sprintf("batch length %d too small for %d records", h.size(), h.count)
	case h.attributes&^batchAttrEncrypted != 0 || le.Uint16(b[38:]) != 0:
		return h, "unknown batch attributes"
	case h.encrypted() && h.size() < batchHeaderBytes+encOverheadBytes+minRecordBytes*int64(h.count):
		return h, fmt.Sprintf("encrypted batch length %d too small for %d records", h.size(), h.count)
	case h.firstArrival > h.lastArrival:
		return h, "batch arrival times out of order"
	case h.firstOffset > math.MaxUint64-uint64(h.count):
		return h, "batch offsets overflow"
	}
	return h, ""
}

// recordFunc receives one decoded record; key and data alias the batch.
type recordFunc func(i int, arrival int64, key, data []byte) bool

// checkFrame checks the length and CRC of the whole frame b. That is all
// that can be checked of an encrypted batch without its key.
func checkFrame(b []byte, h *batchHeader) string {
	if int64(len(b)) != h.size() {
		return "batch truncated"
	}
	if crc32.Checksum(b[8:], castagnoli) != h.crc {
		return "batch checksum mismatch"
	}
	return ""
}

// checkFrameRecords checks a frame as recovery does: the CRC, and for a
// plaintext batch its records too.
func checkFrameRecords(b []byte, h *batchHeader) string {
	if h.encrypted() {
		return checkFrame(b, h)
	}
	return walkRecords(b, h, nil)
}

// walkRecords checks the CRC of the whole plaintext frame b and decodes its
// records, calling fn (if not nil) for each until fn returns false. It
// returns "" if the frame is valid, or why not; the whole frame is checked
// even when fn stops early, so a bad frame is never half used.
func walkRecords(b []byte, h *batchHeader, fn recordFunc) string {
	if reason := checkFrame(b, h); reason != "" {
		return reason
	}
	if h.encrypted() {
		return "encrypted batch read without its key"
	}
	return walkPlainRecords(b[batchHeaderBytes:], h, fn)
}

// walkPlainRecords decodes the records area p of a batch (already checked,
// and decrypted if it was sealed).
func walkPlainRecords(p []byte, h *batchHeader, fn recordFunc) string {
	for i := 0; i < int(h.count); i++ {
		if len(p) < minRecordBytes {
			return fmt.Sprintf("record %d truncated", i)
		}
		if p[0] != 0 {
			return fmt.Sprintf("record %d has unknown attributes %#x", i, p[0])
		}
		p = p[1:]
		delta, n := binary.Uvarint(p)
		if n <= 0 || delta > uint64(h.lastArrival-h.firstArrival) {
			return fmt.Sprintf("record %d has a bad arrival delta", i)
		}
		p = p[n:]
		key, rest, ok := lengthPrefixed(p)
		if !ok {
			return fmt.Sprintf("record %d has a bad key length", i)
		}
		data, rest, ok := lengthPrefixed(rest)
		if !ok {
			return fmt.Sprintf("record %d has a bad data length", i)
		}
		p = rest
		if fn != nil && !fn(i, h.firstArrival+int64(delta), key, data) {
			fn = nil
		}
	}
	if len(p) != 0 {
		return fmt.Sprintf("%d stray bytes after the last record", len(p))
	}
	return ""
}

func lengthPrefixed(p []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return nil, nil, false
	}
	return p[k : k+int(n)], p[k+int(n):], true
}

// encodedBatchBytes is the frame size Append will write for entries, not
// counting encOverheadBytes if the batch is encrypted.
func encodedBatchBytes(entries []Entry) int64 {
	n := int64(batchHeaderBytes)
	for i := range entries {
		k, d := len(entries[i].PartitionKey), len(entries[i].Data)
		n += 2 + int64(uvarintLen(uint64(k))+k+uvarintLen(uint64(d))+d)
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// encodeRecords writes entries from byte p of b (after the batch header,
// and the nonce if the batch is encrypted) to the end of b. The header is
// filled in by sealBatch once the offset and arrival time are known.
func encodeRecords(b []byte, p int, entries []Entry) {
	for i := range entries {
		b[p], b[p+1] = 0, 0 // attributes, arrival delta 0
		p += 2
		p += binary.PutUvarint(b[p:], uint64(len(entries[i].PartitionKey)))
		p += copy(b[p:], entries[i].PartitionKey)
		p += binary.PutUvarint(b[p:], uint64(len(entries[i].Data)))
		p += copy(b[p:], entries[i].Data)
	}
	if p != len(b) {
		panic(fmt.Sprintf("storage: encoded %d bytes into a %d-byte batch", p, len(b)))
	}
}

// sealBatch fills in the batch header and its CRC. With aead, b's records
// (after a nonce-sized gap, with room for the tag at the end) are first
// encrypted in place under a random nonce, with header bytes [8, 40) as
// the additional data, so a sealed batch cannot be moved to another offset
// or time unnoticed.
func sealBatch(b []byte, firstOffset uint64, count int, arrival int64, aead cipher.AEAD) error {
	le.PutUint32(b[0:], uint32(len(b)-4))
	le.PutUint64(b[8:], firstOffset)
	le.PutUint32(b[16:], uint32(count))
	le.PutUint64(b[20:], uint64(arrival))
	le.PutUint64(b[28:], uint64(arrival))
	le.PutUint32(b[36:], 0)
	if aead != nil {
		le.PutUint16(b[36:], batchAttrEncrypted)
		nonce := b[batchHeaderBytes : batchHeaderBytes+gcmNonceBytes]
		if _, err := rand.Read(nonce); err != nil {
			return fmt.Errorf("batch nonce: %w", err)
		}
		plain := b[batchHeaderBytes+gcmNonceBytes : len(b)-gcmTagBytes]
		aead.Seal(plain[:0], nonce, plain, b[8:batchHeaderBytes])
	}
	le.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
	return nil
}

// openBatch decrypts the records area of the checked, encrypted frame b
// into dst (reused if large enough) and returns the plaintext records.
func openBatch(dst, b []byte, aead cipher.AEAD) ([]byte, error) {
	nonce := b[batchHeaderBytes : batchHeaderBytes+gcmNonceBytes]
	return aead.Open(dst[:0], nonce, b[batchHeaderBytes+gcmNonceBytes:], b[8:batchHeaderBytes])
}

// indexEntry is one sparse index point: the batch starting at byte pos of
// the segment has first offset base+rel and first arrival time arrival.
type indexEntry struct {
	arrival int64
	rel     uint32
	pos     uint32
}

// indexHeader is the header shared by .idx and .tix files.
type indexHeader struct {
	base        uint64
	end         uint64
	segmentSize int64
	lastArrival int64
	count       uint32
}

func encodeIndexHeader(magic string, h indexHeader) []byte {
	b := make([]byte, indexHeaderBytes)
	copy(b, magic)
	b[4] = indexVersion
	le.PutUint64(b[8:], h.base)
	le.PutUint64(b[16:], h.end)
	le.PutUint64(b[24:], uint64(h.segmentSize))
	le.PutUint64(b[32:], uint64(h.lastArrival))
	le.PutUint32(b[40:], h.count)
	le.PutUint32(b[44:], crc32.Checksum(b[:44], castagnoli))
	return b
}

func parseIndexHeader(b []byte, magic string) (indexHeader, bool) {
	if len(b) < indexHeaderBytes || string(b[:4]) != magic || b[4] != indexVersion ||
		b[5] != 0 || b[6] != 0 || b[7] != 0 || le.Uint32(b[44:]) != crc32.Checksum(b[:44], castagnoli) {
		return indexHeader{}, false
	}
	return indexHeader{
		base:        le.Uint64(b[8:]),
		end:         le.Uint64(b[16:]),
		segmentSize: int64(le.Uint64(b[24:])),
		lastArrival: int64(le.Uint64(b[32:])),
		count:       le.Uint32(b[40:]),
	}, true
}

// encodeIndexes renders the .idx and .tix files for a sealed segment.
func encodeIndexes(h indexHeader, entries []indexEntry) (idx, tix []byte) {
	h.count = uint32(len(entries))
	idx = append(encodeIndexHeader(offsetIndexMagic, h), make([]byte, offsetIndexEntryBytes*len(entries))...)
	tix = append(encodeIndexHeader(timeIndexMagic, h), make([]byte, timeIndexEntryBytes*len(entries))...)
	for i, e := range entries {
		o := indexHeaderBytes + i*offsetIndexEntryBytes
		le.PutUint32(idx[o:], e.rel)
		le.PutUint32(idx[o+4:], e.pos)
		t := indexHeaderBytes + i*timeIndexEntryBytes
		le.PutUint64(tix[t:], uint64(e.arrival))
		le.PutUint32(tix[t+8:], e.rel)
		le.PutUint32(tix[t+12:], e.pos)
	}
	return idx, tix
}
