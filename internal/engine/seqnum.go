package engine

import (
	"math/bits"
)

// Sequence numbers follow the layout AWS's are observed to have (see
// docs/format/sequence-numbers.md): a 188-bit integer printed in decimal,
// about 56 digits, made of, from the most significant end:
//
//	version (4 bits, always 2)
//	shard creation time, seconds (36 bits)
//	low 4 bits of the shard index (4 bits)
//	per-shard counter (64 bits)
//	reserved (8 bits, zero)
//	record arrival time, seconds (36 bits)
//	shard index (32 bits)
//	trailer (4 bits, always 2)
//
// The counter sits above the record time, so numbers grow strictly with the
// counter within a shard; the shard creation time sits above the counter,
// so a child shard, created later than its parents, numbers above them.
// Counter 0 is the shard's StartingSequenceNumber; the record at log offset
// o carries counter o+1; counterShardEnd marks a closed shard's
// EndingSequenceNumber.
type SeqNum struct {
	ShardCreatedSec int64
	ShardIndex      uint32
	Counter         uint64
	RecordSec       int64
}

const (
	seqVersion      = 2
	seqTrailer      = 2
	counterShardEnd = 1<<63 - 1

	seqShiftTrailer    = 0
	seqShiftShardIndex = 4
	seqShiftRecordSec  = 36
	seqShiftReserved   = 72
	seqShiftCounter    = 80
	seqShiftIndexLow   = 144
	seqShiftCreated    = 148
	seqShiftVersion    = 184
	seqSecondsMask     = 1<<36 - 1
)

type uint192 [3]uint64 // little-endian words

func (w *uint192) put(shift uint, val uint64) {
	i, off := shift/64, shift%64
	w[i] |= val << off
	if off != 0 && i+1 < 3 {
		w[i+1] |= val >> (64 - off)
	}
}

func (w uint192) get(shift, width uint) uint64 {
	i, off := shift/64, shift%64
	v := w[i] >> off
	if off != 0 && i+1 < 3 {
		v |= w[i+1] << (64 - off)
	}
	if width < 64 {
		v &= 1<<width - 1
	}
	return v
}

// String formats the sequence number in decimal.
func (s SeqNum) String() string { return s.uint192().decimal() }

const (
	pow10_19 = 10_000_000_000_000_000_000

	// seqDigits is the most digits a sequence number has: 10^57 > 2^188.
	seqDigits = 57
)

func (w uint192) decimal() string {
	var buf [seqDigits]byte
	w.digits(&buf)
	return string(trimZeros(buf[:]))
}

// digits writes w in decimal into buf, right-aligned, with leading zeros.
func (w uint192) digits(buf *[seqDigits]byte) {
	var chunks [3]uint64 // three base-10^19 digits suffice
	for c := range chunks {
		var rem uint64
		for i := 2; i >= 0; i-- {
			w[i], rem = bits.Div64(rem, w[i], pow10_19)
		}
		chunks[c] = rem
	}
	p := len(buf)
	for c := 0; c < 3; c++ {
		v := chunks[c]
		for i := 0; i < 19; i++ {
			p--
			buf[p] = byte('0' + v%10)
			v /= 10
		}
	}
}

// trimZeros drops the leading zeros of a decimal, keeping at least one digit.
func trimZeros(d []byte) []byte {
	p := 0
	for p < len(d)-1 && d[p] == '0' {
		p++
	}
	return d[p:]
}

func (s SeqNum) uint192() uint192 {
	var w uint192
	w.put(seqShiftVersion, seqVersion)
	w.put(seqShiftCreated, uint64(s.ShardCreatedSec)&seqSecondsMask)
	w.put(seqShiftIndexLow, uint64(s.ShardIndex&0xf))
	w.put(seqShiftCounter, s.Counter)
	w.put(seqShiftRecordSec, uint64(s.RecordSec)&seqSecondsMask)
	w.put(seqShiftShardIndex, uint64(s.ShardIndex))
	w.put(seqShiftTrailer, seqTrailer)
	return w
}

// ParseSeqNum decodes a sequence number this server issued. ok is false for
// anything that is not a well-formed number in this layout; callers then
// answer InvalidArgumentException.
func ParseSeqNum(s string) (SeqNum, bool) {
	if s == "" || len(s) > 60 {
		return SeqNum{}, false
	}
	var w uint192
	for i := 0; i < len(s); i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return SeqNum{}, false
		}
		var carry uint64
		for j := range w {
			hi, lo := bits.Mul64(w[j], 10)
			lo, c := bits.Add64(lo, carry, 0)
			w[j], carry = lo, hi+c
		}
		if carry != 0 {
			return SeqNum{}, false
		}
		var c uint64
		w[0], c = bits.Add64(w[0], uint64(d-'0'), 0)
		w[1], c = bits.Add64(w[1], 0, c)
		w[2], c = bits.Add64(w[2], 0, c)
		if c != 0 {
			return SeqNum{}, false
		}
	}
	if w.get(188, 4) != 0 || w.get(seqShiftVersion, 4) != seqVersion ||
		w.get(seqShiftTrailer, 4) != seqTrailer || w.get(seqShiftReserved, 8) != 0 {
		return SeqNum{}, false
	}
	sn := SeqNum{
		ShardCreatedSec: int64(w.get(seqShiftCreated, 36)),
		ShardIndex:      uint32(w.get(seqShiftShardIndex, 32)),
		Counter:         w.get(seqShiftCounter, 64),
		RecordSec:       int64(w.get(seqShiftRecordSec, 36)),
	}
	if w.get(seqShiftIndexLow, 4) != uint64(sn.ShardIndex&0xf) {
		return SeqNum{}, false
	}
	return sn, true
}
