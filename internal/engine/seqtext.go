package engine

import "strings"

// seqCounterStep is 2^80 in decimal: the counter field of a sequence
// number starts at bit 80 (seqShiftCounter), so two records of a shard
// with consecutive counters and the same arrival second have numbers
// exactly this far apart.
const seqCounterStep = "1208925819614629174706176"

// seqTexts formats the sequence numbers of one read's records, which come
// in counter order from one shard. Each number after the first is the one
// before it plus seqCounterStep when it shares its arrival second, a
// decimal addition on the previous digits rather than SeqNum.String's
// 192-bit divisions; the texts share one string rather than taking an
// allocation each. Not safe for concurrent use.
type seqTexts struct {
	sh *shard
	b  strings.Builder
	// digits[p:] is the previous number; p == len(digits) before the
	// first. 64 digits hold any 188-bit number (at most 57).
	digits  [64]byte
	p       int
	counter uint64
	sec     int64
}

func newSeqTexts(sh *shard, records int) *seqTexts {
	t := &seqTexts{sh: sh}
	t.p = len(t.digits)
	t.b.Grow(records * 56) // the length of a number today
	return t
}

// next returns the sequence number of the record with counter counter
// that arrived at arrivalMillis.
func (t *seqTexts) next(counter uint64, arrivalMillis int64) string {
	sec := arrivalMillis / 1000 // as shard.seq takes it
	if t.p < len(t.digits) && counter == t.counter+1 && sec == t.sec {
		t.p = addDecimal(t.digits[:], t.p, seqCounterStep)
	} else {
		s := t.sh.seq(counter, arrivalMillis).String()
		t.p = len(t.digits) - copy(t.digits[len(t.digits)-len(s):], s)
	}
	t.counter, t.sec = counter, sec
	n := len(t.digits) - t.p
	t.b.Write(t.digits[t.p:])
	s := t.b.String()
	return s[len(s)-n:]
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
