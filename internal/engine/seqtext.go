package engine

import (
	"encoding/binary"
	"unsafe"
)

// seqCounterStep is 2^80 in decimal: the counter field of a sequence
// number starts at bit 80 (seqShiftCounter), so two records of a shard
// with consecutive counters and the same arrival second have numbers
// exactly this far apart.
const seqCounterStep = "1208925819614629174706176"

// seqStepGroups is seqCounterStep in base 10^8, least significant first.
var seqStepGroups = decimalGroups(seqCounterStep)

// seqTexts formats the sequence numbers of one read's records, which come
// in counter order from one shard. Each number after the first is the one
// before it plus seqCounterStep when it shares its arrival second: an
// addition on the last 32 digits, held as four base-10^8 groups, rather
// than SeqNum.String's 192-bit divisions. The texts share one buffer
// rather than taking an allocation each: they are strings over it, which
// never change, as the buffer is only ever appended to (growing it copies
// the texts to a new array and leaves the old one as it is), unless its
// owner reuses it (readScratch), when nothing may use the texts any more.
// Not safe for concurrent use.
type seqTexts struct {
	sh *shard
	b  []byte
	// digits[p:] is the previous number; p == len(digits) before the
	// first. 64 digits hold any 188-bit number (at most 57).
	digits [64]byte
	p      int
	// groups are the last 32 digits in base 10^8, least significant
	// first, when the number has that many (a sequence number has 56).
	groups  [4]uint32
	counter uint64
	sec     int64
}

// SeqTextBytes is the length of a sequence number's text today, by which
// callers size the buffers they give for them (PutRecordsInto).
const SeqTextBytes = 56

func newSeqTexts(sh *shard, records int) *seqTexts {
	return newSeqTextsIn(sh, make([]byte, 0, records*SeqTextBytes))
}

// newSeqTextsIn returns seqTexts writing the texts into buf from its start.
func newSeqTextsIn(sh *shard, buf []byte) *seqTexts {
	t := &seqTexts{sh: sh, b: buf[:0]}
	t.p = len(t.digits)
	return t
}

// next returns the sequence number of the record with counter counter
// that arrived at arrivalMillis.
func (t *seqTexts) next(counter uint64, arrivalMillis int64) string {
	sec := arrivalMillis / 1000 // as shard.seq takes it
	if t.p < len(t.digits) && counter == t.counter+1 && sec == t.sec {
		t.step()
	} else {
		t.set(t.sh.seq(counter, arrivalMillis).String())
	}
	t.counter, t.sec = counter, sec
	n := len(t.digits) - t.p
	t.b = append(t.b, t.digits[t.p:]...)
	return unsafe.String(&t.b[len(t.b)-n], n)
}

// set makes s, a decimal number without leading zeros, the one held.
func (t *seqTexts) set(s string) {
	t.p = len(t.digits) - copy(t.digits[len(t.digits)-len(s):], s)
	t.loadGroups()
}

func (t *seqTexts) loadGroups() {
	if len(t.digits)-t.p < 32 {
		return
	}
	for k := range t.groups {
		t.groups[k] = parse8(t.digits[len(t.digits)-8*(k+1):])
	}
}

// step adds seqCounterStep to the number held. Only a carry out of the
// last 32 digits, once in about 10^8 steps, takes the digit by digit
// addition.
func (t *seqTexts) step() {
	if len(t.digits)-t.p >= 32 {
		// Group by group in registers: a copy of the groups through an
		// array on the stack, stored in 4-byte parts and loaded in one
		// 16-byte move, stalled on store forwarding for half of the time
		// this took (perf annotate).
		g0, c := addGroup(t.groups[0], seqStepGroups[0], 0)
		g1, c := addGroup(t.groups[1], seqStepGroups[1], c)
		g2, c := addGroup(t.groups[2], seqStepGroups[2], c)
		g3, c := addGroup(t.groups[3], seqStepGroups[3], c)
		if c == 0 {
			t.groups[0], t.groups[1], t.groups[2], t.groups[3] = g0, g1, g2, g3
			d := t.digits[len(t.digits)-32:]
			put8(d[24:], g0)
			put8(d[16:], g1)
			put8(d[8:], g2)
			put8(d, g3)
			return
		}
	}
	t.p = addDecimal(t.digits[:], t.p, seqCounterStep)
	t.loadGroups()
}

// addGroup adds two base 10^8 digits and a carry.
func addGroup(a, b, carry uint32) (sum, carryOut uint32) {
	v := a + b + carry
	if v < 1e8 {
		return v, 0
	}
	return v - 1e8, 1
}

// decimalGroups splits a decimal number of at most 32 digits into base
// 10^8 groups, least significant first.
func decimalGroups(s string) (g [4]uint32) {
	var d [32]byte
	for i := range d {
		d[i] = '0'
	}
	copy(d[32-len(s):], s)
	for k := range g {
		g[k] = parse8(d[32-8*(k+1):])
	}
	return g
}

// parse8 reads eight decimal digits.
func parse8(d []byte) uint32 {
	var v uint32
	for _, c := range d[:8] {
		v = v*10 + uint32(c-'0')
	}
	return v
}

// put8 writes v < 10^8 as eight decimal digits, all of them at once:
// the halves v/10^4 and v%10^4 sit in the two 32-bit lanes of a word,
// are split into 2-digit numbers in 16-bit lanes, then into digits in
// bytes, with multiplications by reciprocals that are exact in range
// (n*10486>>20 == n/100 for n < 10^4, m*103>>10 == m/10 for m < 100).
func put8(d []byte, v uint32) {
	x := uint64(v/10000) | uint64(v%10000)<<32
	q := (x * 10486 >> 20) & 0x0000007f0000007f
	y := q | (x-q*100)<<16
	t := (y * 103 >> 10) & 0x000f000f000f000f
	binary.LittleEndian.PutUint64(d, t|(y-t*10)<<8|0x3030303030303030)
}

// addDecimal adds the decimal number step to the one in d[p:], digits
// right-aligned in d, and returns where the sum starts. A sum that does
// not fit in d is a programmer error (panic).
func addDecimal(d []byte, p int, step string) int {
	i, carry := len(d)-1, byte(0)
	for j := len(step) - 1; j >= 0 || carry != 0; j, i = j-1, i-1 {
		if i < p {
			d[i], p = '0', i // the sum has a digit more
		}
		v := int(d[i]) + int(carry)
		if j >= 0 {
			v += int(step[j] - '0')
		}
		// Without a branch: whether a digit carries is a coin toss.
		carry = byte(1 + (v-('9'+1))>>63) // 1 if v > '9', else 0
		d[i] = byte(v - 10*int(carry))
	}
	return p
}
