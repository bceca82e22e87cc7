package engine

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestAddDecimal(t *testing.T) {
	tests := []struct{ n, step, want string }{
		{"0", "1", "1"},
		{"9", "1", "10"},
		{"999", "1", "1000"},
		{"1", "999", "1000"},
		{"5", seqCounterStep, "1208925819614629174706181"},
		{strings.Repeat("9", 40), seqCounterStep, "1" + strings.Repeat("0", 15) + "1208925819614629174706175"},
	}
	for _, tt := range tests {
		var d [64]byte
		p := len(d) - copy(d[len(d)-len(tt.n):], tt.n)
		p = addDecimal(d[:], p, tt.step)
		if got := string(d[p:]); got != tt.want {
			t.Errorf("%s + %s = %s, want %s", tt.n, tt.step, got, tt.want)
		}
	}
	// Random numbers, checked against math/big.
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		a, b := randDecimal(r, 57), randDecimal(r, 30)
		var d [64]byte
		p := addDecimal(d[:], len(d)-copy(d[len(d)-len(a):], a), b)
		x, _ := new(big.Int).SetString(a, 10)
		y, _ := new(big.Int).SetString(b, 10)
		if want := x.Add(x, y).String(); string(d[p:]) != want {
			t.Fatalf("%s + %s = %s, want %s", a, b, d[p:], want)
		}
	}
	if got := seqStepBig().String(); got != seqCounterStep {
		t.Errorf("seqCounterStep = %s, 2^%d = %s", seqCounterStep, seqShiftCounter, got)
	}
}

func seqStepBig() *big.Int { return new(big.Int).Lsh(big.NewInt(1), seqShiftCounter) }

// randDecimal returns a decimal number of up to n digits, often with runs
// of nines so that carries travel far.
func randDecimal(r *rand.Rand, n int) string {
	b := make([]byte, 1+r.IntN(n))
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
		if r.IntN(2) == 0 {
			b[i] = '9'
		}
	}
	s := strings.TrimLeft(string(b), "0")
	if s == "" {
		return "0"
	}
	return s
}

// TestSeqTextsStep adds seqCounterStep to numbers of 20 to 60 digits,
// many with runs of nines so that carries cross the base-10^8 groups and
// leave the last 32 digits, and checks against math/big.
func TestSeqTextsStep(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	step := seqStepBig()
	for range 5000 {
		n := randDecimal(r, 60)
		if r.IntN(3) == 0 { // nines from digit 25 up to 32 or beyond
			n = "1" + strings.Repeat("9", 1+r.IntN(30)) + randDecimal(r, 25)
		}
		texts := newSeqTexts(nil, 0)
		texts.set(n)
		x, _ := new(big.Int).SetString(n, 10)
		for range 3 {
			texts.step()
			x.Add(x, step)
			if got := string(texts.digits[texts.p:]); got != x.String() {
				t.Fatalf("%s + k*step = %s, want %s", n, got, x)
			}
		}
	}
}

func TestPut8(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	vs := []uint32{0, 1, 9, 10, 99, 100, 9999, 10000, 10001, 99999999, 12345678, 100000, 99990000}
	for range 100000 {
		vs = append(vs, r.Uint32N(1e8))
	}
	for _, v := range vs {
		var d [8]byte
		put8(d[:], v)
		if want := fmt.Sprintf("%08d", v); string(d[:]) != want {
			t.Fatalf("put8(%d) = %q, want %s", v, d, want)
		}
		if got := parse8(d[:]); got != v {
			t.Fatalf("parse8(%s) = %d", d, got)
		}
	}
}

// TestSeqTexts checks the formatted runs against SeqNum.String: runs of
// consecutive counters within a second, across seconds, with gaps in the
// counters, from many shards.
func TestSeqTexts(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		sh := &shard{meta: shardMeta{Index: r.Uint32N(1 << 20), CreatedMillis: r.Int64N(4e12)}}
		if r.IntN(4) == 0 {
			sh.meta.SeqSec = r.Int64N(1 << 36)
		}
		counter := 1 + r.Uint64N(1<<62)
		if r.IntN(4) == 0 {
			counter = 1 + r.Uint64N(100)
		}
		millis := r.Int64N(4e12)
		n := 1 + r.IntN(300)
		texts := newSeqTexts(sh, n/2) // too small: the builder must cope
		got, want := make([]string, n), make([]string, n)
		for i := range n {
			got[i] = texts.next(counter, millis)
			want[i] = sh.seq(counter, millis).String()
			counter++
			if r.IntN(20) == 0 {
				counter += r.Uint64N(1000)
			}
			millis += r.Int64N(3) * r.Int64N(400)
		}
		for i := range n { // after all: earlier texts must not change
			if got[i] != want[i] {
				t.Fatalf("record %d: %s, want %s", i, got[i], want[i])
			}
		}
	}
}

// BenchmarkSeqTextsNext formats the sequence numbers of a 125-record
// batch, as each shard's group of a 500-record PutRecords call does.
func BenchmarkSeqTextsNext(b *testing.B) {
	sh := &shard{meta: shardMeta{Index: 3, CreatedMillis: 1764095000000}}
	buf := make([]byte, 0, 125*SeqTextBytes)
	counter := uint64(1 << 30)
	for b.Loop() {
		t := newSeqTextsIn(sh, buf)
		for range 125 {
			counter++
			t.next(counter, 1764099999000)
		}
	}
}
