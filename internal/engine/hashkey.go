package engine

import (
	"crypto/md5"
	"encoding/binary"
	"math/big"
	"math/bits"
	"strconv"
)

// HashKey is an unsigned 128-bit hash key: the space Kinesis shards divide
// between them. Hi holds the upper 64 bits.
type HashKey struct{ Hi, Lo uint64 }

// MaxHashKey is 2^128-1, the top of the hash key space.
var MaxHashKey = HashKey{Hi: ^uint64(0), Lo: ^uint64(0)}

// Cmp returns -1, 0 or +1 as k is less than, equal to or greater than o.
func (k HashKey) Cmp(o HashKey) int {
	switch {
	case k.Hi < o.Hi:
		return -1
	case k.Hi > o.Hi:
		return 1
	case k.Lo < o.Lo:
		return -1
	case k.Lo > o.Lo:
		return 1
	}
	return 0
}

// Add1 returns k+1, wrapping at 2^128.
func (k HashKey) Add1() HashKey {
	lo, carry := bits.Add64(k.Lo, 1, 0)
	return HashKey{Hi: k.Hi + carry, Lo: lo}
}

// Sub1 returns k-1, wrapping at 0.
func (k HashKey) Sub1() HashKey {
	lo, borrow := bits.Sub64(k.Lo, 1, 0)
	return HashKey{Hi: k.Hi - borrow, Lo: lo}
}

// String formats k in decimal, as the Kinesis API carries hash keys.
func (k HashKey) String() string {
	if k.Hi == 0 {
		return strconv.FormatUint(k.Lo, 10)
	}
	return k.big().String()
}

func (k HashKey) big() *big.Int {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.Hi)
	binary.BigEndian.PutUint64(b[8:], k.Lo)
	return new(big.Int).SetBytes(b[:])
}

func hashKeyFromBig(n *big.Int) HashKey {
	var b [16]byte
	n.FillBytes(b[:])
	return HashKey{Hi: binary.BigEndian.Uint64(b[:8]), Lo: binary.BigEndian.Uint64(b[8:])}
}

// ParseHashKey parses a decimal hash key. ok is false when s is not a
// non-negative decimal integer or is above 2^128-1.
func ParseHashKey(s string) (k HashKey, ok bool) {
	if s == "" || len(s) > 40 {
		return HashKey{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return HashKey{}, false
		}
	}
	if len(s) <= 19 {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return HashKey{}, false
		}
		return HashKey{Lo: v}, true
	}
	n, good := new(big.Int).SetString(s, 10)
	if !good || n.BitLen() > 128 {
		return HashKey{}, false
	}
	return hashKeyFromBig(n), true
}

// PartitionKeyHash maps a partition key to its hash key: MD5 over the key's
// UTF-8 bytes read as a big-endian unsigned 128-bit integer, as AWS does.
func PartitionKeyHash(partitionKey string) HashKey {
	sum := md5.Sum([]byte(partitionKey))
	return HashKey{Hi: binary.BigEndian.Uint64(sum[:8]), Lo: binary.BigEndian.Uint64(sum[8:])}
}

// HashRange is an inclusive range of hash keys [Start, End].
type HashRange struct{ Start, End HashKey }

// Contains reports whether k lies in r.
func (r HashRange) Contains(k HashKey) bool { return r.Start.Cmp(k) <= 0 && k.Cmp(r.End) <= 0 }

// evenRanges splits the hash key space into n contiguous ranges the way AWS
// lays out a new stream: each range is floor(2^128/n) keys wide and the last
// one runs to 2^128-1.
func evenRanges(n int) []HashRange {
	if n < 1 {
		panic("evenRanges: n must be at least 1, got " + strconv.Itoa(n))
	}
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	width := new(big.Int).Div(space, big.NewInt(int64(n)))
	out := make([]HashRange, n)
	start := new(big.Int)
	for i := range n {
		end := new(big.Int).Add(start, width)
		end.Sub(end, big.NewInt(1))
		if i == n-1 {
			end.Sub(space, big.NewInt(1))
		}
		out[i] = HashRange{Start: hashKeyFromBig(start), End: hashKeyFromBig(end)}
		start = new(big.Int).Add(end, big.NewInt(1))
	}
	return out
}
