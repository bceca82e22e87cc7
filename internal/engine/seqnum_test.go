package engine

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestSeqNumRoundTrip(t *testing.T) {
	cases := []SeqNum{
		{ShardCreatedSec: 1764095000, ShardIndex: 0, Counter: 0, RecordSec: 1764095000},
		{ShardCreatedSec: 1764095000, ShardIndex: 1, Counter: 1, RecordSec: 1764095010},
		{ShardCreatedSec: 1764095000, ShardIndex: 17, Counter: 1 << 40, RecordSec: 1764099999},
		{ShardCreatedSec: 1764095000, ShardIndex: 2147483647, Counter: counterShardEnd, RecordSec: 1764095001},
	}
	for _, c := range cases {
		s := c.String()
		if len(s) != 56 {
			t.Errorf("%+v: %q has %d digits, want 56", c, s, len(s))
		}
		got, ok := ParseSeqNum(s)
		if !ok || got != c {
			t.Errorf("ParseSeqNum(%q) = %+v, %v; want %+v", s, got, ok, c)
		}
		// The decimal must equal the big-integer value of the layout.
		want := new(big.Int)
		for _, f := range []struct {
			v     uint64
			width uint
		}{{2, 4}, {uint64(c.ShardCreatedSec), 36}, {uint64(c.ShardIndex & 0xf), 4}, {c.Counter, 64}, {0, 8}, {uint64(c.RecordSec), 36}, {uint64(c.ShardIndex), 32}, {2, 4}} {
			want.Lsh(want, f.width)
			want.Or(want, new(big.Int).SetUint64(f.v))
		}
		if s != want.String() {
			t.Errorf("%+v: got %s, want %s", c, s, want)
		}
	}
}

func TestSeqNumOrder(t *testing.T) {
	// Within a shard, order follows the counter even when record time
	// goes backwards; a later-created shard numbers above an older one.
	a := SeqNum{ShardCreatedSec: 100, ShardIndex: 3, Counter: 5, RecordSec: 900}.String()
	b := SeqNum{ShardCreatedSec: 100, ShardIndex: 3, Counter: 6, RecordSec: 800}.String()
	child := SeqNum{ShardCreatedSec: 101, ShardIndex: 4, Counter: 1, RecordSec: 101}.String()
	end := SeqNum{ShardCreatedSec: 100, ShardIndex: 3, Counter: counterShardEnd, RecordSec: 1000}.String()
	less := func(x, y string) bool {
		bx, _ := new(big.Int).SetString(x, 10)
		by, _ := new(big.Int).SetString(y, 10)
		return bx.Cmp(by) < 0
	}
	if !less(a, b) || !less(b, end) || !less(end, child) {
		t.Fatalf("order broken: a=%s b=%s end=%s child=%s", a, b, end, child)
	}
}

func TestParseSeqNumRejects(t *testing.T) {
	good := SeqNum{ShardCreatedSec: 100, ShardIndex: 3, Counter: 5, RecordSec: 900}.String()
	for _, s := range []string{
		"", "0", "1", "abc", "-1", strings.Repeat("9", 60), strings.Repeat("9", 129),
		good[:len(good)-1] + "3", // trailer nibble changes
		"49546986683135544286507457936321625675700192471156785154x",
	} {
		if _, ok := ParseSeqNum(s); ok {
			t.Errorf("ParseSeqNum(%q) accepted", s)
		}
	}
}

func TestHashKeys(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"0", true}, {"1", true}, {"18446744073709551616", true},
		{"340282366920938463463374607431768211455", true},
		{"340282366920938463463374607431768211456", false}, {"", false}, {"1a", false},
	} {
		k, ok := ParseHashKey(c.in)
		if ok != c.ok {
			t.Errorf("ParseHashKey(%q) ok=%v, want %v", c.in, ok, c.ok)
			continue
		}
		if ok && k.String() != c.in {
			t.Errorf("ParseHashKey(%q).String() = %q", c.in, k.String())
		}
	}
	r := evenRanges(2)
	if r[0].End.String() != "170141183460469231731687303715884105727" || r[1].Start.String() != "170141183460469231731687303715884105728" || r[1].End != MaxHashKey {
		t.Errorf("evenRanges(2) = %v", r)
	}
	r3 := evenRanges(3)
	if r3[0].End.String() != "113427455640312821154458202477256070484" || r3[2].End != MaxHashKey {
		t.Errorf("evenRanges(3) = %v", r3)
	}
	for i := 1; i < len(r3); i++ {
		if r3[i].Start != r3[i-1].End.Add1() {
			t.Errorf("ranges not contiguous at %d", i)
		}
	}
	// MD5("user_123") read as a big-endian 128-bit integer.
	if got := PartitionKeyHash("user_123").String(); got != "168096406440122715113802693324276668488" {
		t.Errorf("PartitionKeyHash = %s", got)
	}
}

func TestTokens(t *testing.T) {
	s, err := newSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	it := iteratorState{CreatedMillis: 1764095000123, StreamCreatedMillis: 1764090000000, ShardIndex: 7, Offset: 42, StreamName: "orders.v1"}
	tok := s.sealIterator(it)
	if !strings.HasPrefix(tok, "AAAAAAAAAAE") || len(tok) > 512 {
		t.Fatalf("iterator %q: wrong shape", tok)
	}
	got, err := s.openIterator(tok)
	if err != nil || got != it {
		t.Fatalf("openIterator = %+v, %v; want %+v", got, err, it)
	}
	long := it
	long.StreamName = strings.Repeat("n", 128)
	if tok := s.sealIterator(long); len(tok) > 512 {
		t.Errorf("iterator for a 128-character name is %d characters", len(tok))
	}
	// Any change to the token is detected.
	b := []byte(tok)
	b[20] ^= 1
	if _, err := s.openIterator(string(b)); err == nil {
		t.Error("tampered iterator accepted")
	}
	other, _ := newSealer(append(make([]byte, 31), 1))
	if _, err := other.openIterator(tok); err == nil {
		t.Error("iterator opened under another key")
	}
}

// seqNumBig is the layout's value computed with math/big: the reference
// the formatters are held to.
func seqNumBig(s SeqNum) *big.Int {
	v := new(big.Int)
	for _, f := range []struct {
		v     uint64
		width uint
	}{{2, 4}, {uint64(s.ShardCreatedSec) & seqSecondsMask, 36}, {uint64(s.ShardIndex & 0xf), 4}, {s.Counter, 64}, {0, 8}, {uint64(s.RecordSec) & seqSecondsMask, 36}, {uint64(s.ShardIndex), 32}, {2, 4}} {
		v.Lsh(v, f.width)
		v.Or(v, new(big.Int).SetUint64(f.v))
	}
	return v
}

func TestSeqFormatterMatchesString(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	counters := []uint64{0, 1, 9, counterShardEnd - 3, math.MaxUint64 - 4, 1<<63 - 1}
	var f seqFormatter
	var checked, stepped int
	for run := 0; run < 3000; run++ {
		s := SeqNum{
			ShardCreatedSec: rng.Int64N(1 << 37), // beyond 36 bits too: the layout masks
			ShardIndex:      rng.Uint32(),
			Counter:         rng.Uint64(),
			RecordSec:       rng.Int64N(1 << 37),
		}
		switch run % 4 {
		case 0:
			s.Counter = counters[rng.IntN(len(counters))]
		case 1:
			s.Counter = rng.Uint64N(1 << 20)
		}
		if run%5 == 0 {
			f = seqFormatter{} // a fresh formatter as well as a long-lived one
		}
		for n := rng.IntN(200); n >= 0; n-- {
			switch rng.IntN(20) {
			case 0:
				s.RecordSec++ // a GetRecords run crosses a second
			case 1:
				s.Counter += 2 // a gap: formatted in full
			case 2:
				// the same number again
			default:
				s.Counter++
				stepped++
			}
			got := f.format(s)
			if want := seqNumBig(s).String(); got != want || s.String() != want {
				t.Fatalf("%+v: format %s, String %s, want %s", s, got, s.String(), want)
			}
			checked++
		}
	}
	if stepped < checked/2 {
		t.Fatalf("only %d of %d numbers took the step", stepped, checked)
	}
}

func TestAddCounterStep(t *testing.T) {
	// Decimals with long runs of nines, which carry far past the step's
	// 25 digits, and random ones.
	rng := rand.New(rand.NewPCG(3, 4))
	limit := new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(seqDigits), nil), new(big.Int).Lsh(big.NewInt(1), 80))
	step := new(big.Int).Lsh(big.NewInt(1), 80)
	for i := 0; i < 20000; i++ {
		var d [seqDigits]byte
		for j := range d {
			d[j] = byte('0' + rng.IntN(10))
		}
		if i%2 == 0 {
			lo, hi := rng.IntN(seqDigits), rng.IntN(seqDigits)
			for j := min(lo, hi); j < max(lo, hi); j++ {
				d[j] = '9'
			}
		}
		v, _ := new(big.Int).SetString(string(d[:]), 10)
		if v.Cmp(limit) >= 0 {
			continue
		}
		addCounterStep(&d)
		want := fmt.Sprintf("%057s", v.Add(v, step).String())
		if string(d[:]) != want {
			t.Fatalf("%s + 2^80 = %s, want %s", v.Sub(v, step), d[:], want)
		}
	}
}

func BenchmarkSeqNumString(b *testing.B) {
	s := SeqNum{ShardCreatedSec: 1764095000, ShardIndex: 3, Counter: 1 << 30, RecordSec: 1764099999}
	for b.Loop() {
		s.Counter++
		_ = s.String()
	}
}

func BenchmarkSeqFormatter(b *testing.B) {
	s := SeqNum{ShardCreatedSec: 1764095000, ShardIndex: 3, Counter: 1 << 30, RecordSec: 1764099999}
	b.ReportAllocs()
	var f seqFormatter
	for b.Loop() {
		s.Counter++
		_ = f.format(s)
	}
}
