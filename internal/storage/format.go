package storage

import (
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

func encodeSegmentHeader(base uint64) []byte {
	b := make([]byte, segmentHeaderBytes)
	copy(b, segmentMagic)
	b[4] = segmentVersion
	le.PutUint16(b[6:], segmentHeaderBytes)
	le.PutUint64(b[8:], base)
	le.PutUint32(b[20:], crc32.Checksum(b[:20], castagnoli))
	return b
}

// checkSegmentHeader returns "" if b is a valid header for base, or why not.
func checkSegmentHeader(b []byte, base uint64) string {
	switch {
	case len(b) < segmentHeaderBytes:
		return "short segment header"
	case string(b[:4]) != segmentMagic:
		return fmt.Sprintf("bad segment magic %q", b[:4])
	case le.Uint32(b[20:]) != crc32.Checksum(b[:20], castagnoli):
		return "segment header checksum mismatch"
	case b[4] != segmentVersion:
		return fmt.Sprintf("unsupported segment version %d", b[4])
	case le.Uint16(b[6:]) != segmentHeaderBytes || b[5] != 0 || le.Uint32(b[16:]) != 0:
		return "bad segment header fields"
	case le.Uint64(b[8:]) != base:
		return fmt.Sprintf("segment header base offset %d does not match file name %d", le.Uint64(b[8:]), base)
	}
	return ""
}

// batchHeader is the fixed part of a batch frame.
type batchHeader struct {
	length       uint32 // bytes after the length field
	crc          uint32
	firstOffset  uint64
	count        uint32
	firstArrival int64
	lastArrival  int64
}

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
	}
	switch {
	case h.size() > maxBatchBytes:
		return h, fmt.Sprintf("batch length %d exceeds %d bytes", h.size(), maxBatchBytes)
	case h.count == 0:
		return h, "batch has no records"
	case h.size() < batchHeaderBytes+minRecordBytes*int64(h.count):
		return h, fmt.Sprintf("batch length %d too small for %d records", h.size(), h.count)
	case le.Uint16(b[36:]) != 0 || le.Uint16(b[38:]) != 0:
		return h, "unknown batch attributes"
	case h.firstArrival > h.lastArrival:
		return h, "batch arrival times out of order"
	case h.firstOffset > math.MaxUint64-uint64(h.count):
		return h, "batch offsets overflow"
	}
	return h, ""
}

// recordFunc receives one decoded record; key and data alias the batch.
type recordFunc func(i int, arrival int64, key, data []byte) bool

// walkRecords checks the CRC of the whole frame b and decodes its records,
// calling fn (if not nil) for each until fn returns false. It returns "" if
// the frame is valid, or why not; the whole frame is checked even when fn
// stops early, so a bad frame is never half used.
func walkRecords(b []byte, h *batchHeader, fn recordFunc) string {
	if int64(len(b)) != h.size() {
		return "batch truncated"
	}
	if crc32.Checksum(b[8:], castagnoli) != h.crc {
		return "batch checksum mismatch"
	}
	p := b[batchHeaderBytes:]
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

// encodedBatchBytes is the frame size Append will write for entries.
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

// encodeRecords writes entries after the batch header into b, which must be
// exactly encodedBatchBytes long. The header is filled in by sealBatch once
// the offset and arrival time are known.
func encodeRecords(b []byte, entries []Entry) {
	p := batchHeaderBytes
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

// sealBatch fills in the batch header and its CRC.
func sealBatch(b []byte, firstOffset uint64, count int, arrival int64) {
	le.PutUint32(b[0:], uint32(len(b)-4))
	le.PutUint64(b[8:], firstOffset)
	le.PutUint32(b[16:], uint32(count))
	le.PutUint64(b[20:], uint64(arrival))
	le.PutUint64(b[28:], uint64(arrival))
	le.PutUint32(b[36:], 0)
	le.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
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
