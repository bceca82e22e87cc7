package engine

import (
	"math/big"
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

func BenchmarkSeqNumString(b *testing.B) {
	s := SeqNum{ShardCreatedSec: 1764095000, ShardIndex: 3, Counter: 1 << 30, RecordSec: 1764099999}
	for b.Loop() {
		s.Counter++
		_ = s.String()
	}
}
