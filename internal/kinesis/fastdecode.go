package kinesis

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math/bits"
	"strings"
	"sync"

	asmbase64 "github.com/segmentio/asm/base64"

	"github.com/sluicedata/sluice/internal/engine"
)

// putScratch holds a PutRecords call's working memory, reused from call to
// call through putScratchPool: the fast path's decoded data and records,
// the entries handed to the engine and its results, about 180 KB for 500
// records of 100 bytes. Fresh buffers of that size each call cost more in page
// faults, zeroing and GC than the decoding itself. The records' Data alias
// data, so nothing may keep them once the call is over: the engine copies
// them into its batch and keeps no entry after PutRecords returns.
type putScratch struct {
	data    []byte // decoded Data of every record, back to back
	raw     []rawEntry
	recs    []putRecordsEntry
	keys    []string // the targets of recs' PartitionKey and ExplicitHashKey
	entries []engine.PutEntry
	results []engine.PutResult
	texts   []byte // the results' sequence numbers
	outs    []putRecordsResultEntry
}

// maxPooledPutBytes bounds the data buffer kept for reuse, so that one
// large call does not pin megabytes for small ones.
const maxPooledPutBytes = 1 << 20

var putScratchPool = sync.Pool{New: func() any { return new(putScratch) }}

func getPutScratch() *putScratch { return putScratchPool.Get().(*putScratch) }

// release returns sc to the pool, dropping its references to the call's
// records and strings so that the pool pins none of them.
func (sc *putScratch) release() {
	clear(sc.recs)
	clear(sc.keys)
	clear(sc.entries)
	clear(sc.results)
	clear(sc.outs)
	sc.recs, sc.keys, sc.entries, sc.results, sc.outs = sc.recs[:0], sc.keys[:0], sc.entries[:0], sc.results[:0], sc.outs[:0]
	if cap(sc.data) > maxPooledPutBytes {
		sc.data = nil
	}
	putScratchPool.Put(sc)
}

// rawEntry is one record as the fast path scans it: where its members lie,
// data in putScratch.data and the strings in the body.
type rawEntry struct {
	dataLo, dataHi int
	keyLo, keyHi   int
	hashLo, hashHi int
	hasData        bool
	hasKey         bool
	hasHash        bool
}

// fastPutRecords decodes the JSON body of a PutRecords call written the way
// SDKs write it (the members StreamName, StreamARN and Records; records with
// Data, PartitionKey and ExplicitHashKey; strings of printable ASCII without
// escapes; no duplicate members) into in, without reflection and with one
// allocation for the whole call (the strings) besides sc's buffers, which
// the records' Data alias. On anything else it returns false with in
// untouched, and the caller decodes with the general decoder, which gives
// every malformed input its exact AWS error: the fast path only ever accepts
// what the general decoder would decode to the same value.
func fastPutRecords(body []byte, in *putRecordsInput, sc *putScratch) bool {
	p := fastParser{b: body}
	if !p.byte('{') {
		return false
	}
	var nameLo, nameHi, arnLo, arnHi int
	var haveName, haveARN, haveRecords bool
	raw := sc.raw[:0]
	// Decoded data is at most 3/4 of the body: one buffer that never moves.
	if n := len(body)/4*3 + 3; cap(sc.data) < n {
		sc.data = make([]byte, 0, n)
	}
	buf := sc.data[:0]
	textBytes := 0 // the strings' total length
	first := true
	for {
		if p.peek('}') {
			p.i++
			break
		}
		if !first && !p.byte(',') {
			return false
		}
		first = false
		lo, hi, ok := p.span()
		if !ok || !p.byte(':') {
			return false
		}
		switch name := body[lo:hi]; {
		case string(name) == "StreamName" && !haveName:
			if nameLo, nameHi, ok = p.span(); !ok {
				return false
			}
			haveName = true
			textBytes += nameHi - nameLo
		case string(name) == "StreamARN" && !haveARN:
			if arnLo, arnHi, ok = p.span(); !ok {
				return false
			}
			haveARN = true
			textBytes += arnHi - arnLo
		case string(name) == "Records" && !haveRecords:
			haveRecords = true
			if !p.byte('[') || p.peek(']') {
				return false // an empty list: the general decoder's business
			}
			for {
				var e rawEntry
				if !p.byte('{') {
					return false
				}
				for firstMember := true; ; firstMember = false {
					if p.peek('}') {
						p.i++
						break
					}
					if !firstMember && !p.byte(',') {
						return false
					}
					var m []byte
					switch {
					case p.name(`"Data"`):
						m = memberData
					case p.name(`"PartitionKey"`):
						m = memberPartitionKey
					default:
						mlo, mhi, ok := p.span()
						if !ok {
							return false
						}
						m = body[mlo:mhi]
					}
					if !p.byte(':') {
						return false
					}
					if string(m) == "Data" && !e.hasData {
						start := len(buf)
						n, ok := p.base64(buf[start:cap(buf)])
						if !ok {
							return false
						}
						buf = buf[:start+n]
						e.dataLo, e.dataHi, e.hasData = start, start+n, true
						continue
					}
					lo, hi, ok := p.span()
					if !ok {
						return false
					}
					switch {
					case string(m) == "PartitionKey" && !e.hasKey:
						e.keyLo, e.keyHi, e.hasKey = lo, hi, true
						textBytes += hi - lo
					case string(m) == "ExplicitHashKey" && !e.hasHash:
						e.hashLo, e.hashHi, e.hasHash = lo, hi, true
						textBytes += hi - lo
					default:
						return false
					}
				}
				raw = append(raw, e)
				if p.peek(']') {
					p.i++
					break
				}
				if !p.byte(',') {
					return false
				}
			}
		default:
			return false
		}
	}
	sc.raw = raw // keeps what append grew, for the next call
	p.ws()
	if p.i != len(body) || !haveRecords {
		return false
	}
	sc.fill(in, raw, body, buf, textBytes, textSpan{nameLo, nameHi, haveName}, textSpan{arnLo, arnHi, haveARN})
	return true
}

// textSpan is where a string a fast path found lies in the body; ok is false
// when the member was absent.
type textSpan struct {
	lo, hi int
	ok     bool
}

// fill sets *in from the records a fast path scanned: the strings copied
// out of body into one allocation of textBytes (they are short, and live
// as long as the call), each record's Data a slice of data.
func (sc *putScratch) fill(in *putRecordsInput, raw []rawEntry, body, data []byte, textBytes int, name, arn textSpan) {
	var text strings.Builder
	text.Grow(textBytes)
	str := func(lo, hi int) string {
		start := text.Len()
		text.Write(body[lo:hi])
		return text.String()[start:]
	}
	sc.keys = grow(sc.keys, 2*len(raw))
	sc.recs = grow(sc.recs, len(raw))
	keys, recs := sc.keys, sc.recs
	for i := range raw {
		e := &raw[i]
		if e.hasData {
			recs[i].Data = data[e.dataLo:e.dataHi:e.dataHi]
		}
		if e.hasKey {
			keys[2*i] = str(e.keyLo, e.keyHi)
			recs[i].PartitionKey = &keys[2*i]
		}
		if e.hasHash {
			keys[2*i+1] = str(e.hashLo, e.hashHi)
			recs[i].ExplicitHashKey = &keys[2*i+1]
		}
	}
	*in = putRecordsInput{Records: recs}
	if name.ok {
		s := str(name.lo, name.hi)
		in.StreamName = &s
	}
	if arn.ok {
		s := str(arn.lo, arn.hi)
		in.StreamARN = &s
	}
}

// The record members fastParser.name matches without a scan.
var memberData, memberPartitionKey = []byte("Data"), []byte("PartitionKey")

// grow returns s resized to n zero elements, reusing its array when it is
// large enough. s's elements beyond its length must be zero, so only
// those within it are cleared: a scratch slice comes back from
// putScratch.release with length 0, already cleared, and a call of 500
// records spent more time clearing its slices twice than decoding keys.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	clear(s)
	return s[:n]
}

// fastParser reads the subset of JSON fastPutRecords accepts.
type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c after optional whitespace.
func (p *fastParser) byte(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// peek reports whether c comes next after optional whitespace, consuming
// only the whitespace.
func (p *fastParser) peek(c byte) bool {
	p.ws()
	return p.i < len(p.b) && p.b[p.i] == c
}

// base64 reads a string of standard base64 with padding (what AWS takes)
// and decodes it into dst, which must have room for it. The decoder
// refuses every byte base64 does not use (escapes, control characters,
// non-ASCII) except line breaks, which it skips: the decoded length shows
// those. The string's end is found with bytes.IndexByte, far faster than
// span's checks: data is most of a PutRecords body.
func (p *fastParser) base64(dst []byte) (int, bool) {
	if !p.byte('"') {
		return 0, false
	}
	end := bytes.IndexByte(p.b[p.i:], '"')
	if end < 0 {
		return 0, false
	}
	v := p.b[p.i : p.i+end]
	if len(v)%4 != 0 {
		return 0, false
	}
	n, err := strictBase64.Decode(dst[:base64.StdEncoding.DecodedLen(len(v))], v)
	pad := 0
	for pad < len(v) && v[len(v)-1-pad] == '=' {
		pad++
	}
	if err != nil || n != len(v)/4*3-pad {
		return 0, false
	}
	p.i += end + 1
	return n, true
}

// strictBase64 decodes standard base64 with padding, refusing set
// trailing bits as base64.StdEncoding.Strict does: segmentio/asm decodes
// the bulk with AVX2 (14.6 GB/s against encoding/base64's 2.2 on this
// project's 2-core test machine, for 1 KiB records) and hands the rest,
// padding and anything it does not take, to encoding/base64, so the
// results and the refusals are the standard library's. Made once: Strict
// returns a new Encoding each call.
var strictBase64 = asmbase64.StdEncoding.Strict()

// span reads such a string and returns where its contents lie in the body.
func (p *fastParser) span() (lo, hi int, ok bool) {
	if !p.byte('"') {
		return 0, 0, false
	}
	start := p.i
	// Eight bytes at a time: the first byte a JSON string does not hold
	// as it is ends the scan, at the closing quote or at something the
	// fast path leaves to the general decoder.
	for p.i+8 <= len(p.b) {
		m := specialJSON8(binary.LittleEndian.Uint64(p.b[p.i:]))
		if m == 0 {
			p.i += 8
			continue
		}
		p.i += bits.TrailingZeros64(m) >> 3
		if p.b[p.i] != '"' {
			return 0, 0, false
		}
		p.i++
		return start, p.i - 1, true
	}
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			p.i++
			return start, p.i - 1, true
		}
		if c < 0x20 || c > 0x7e || c == '\\' {
			return 0, 0, false
		}
		p.i++
	}
	return 0, 0, false
}

// name reads the member name lit, quotes included, if it comes next after
// optional whitespace: the names SDKs send, matched whole without a scan.
func (p *fastParser) name(lit string) bool {
	p.ws()
	if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
		p.i += len(lit)
		return true
	}
	return false
}

// specialJSON8 marks, in the high bit of each byte, the bytes of x that
// a JSON string does not hold as they are: control characters, '"', '\\'
// and anything above 0x7e. Each test is the classic SWAR one, whose
// borrows and carries can mark a byte above a marked one but never below
// it, so the lowest mark is the first such byte and a zero mask is exact.
func specialJSON8(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	less := func(x uint64, n uint64) uint64 { return (x - ones*n) &^ x & highs } // a byte < n
	control := less(x, 0x20)
	high := (x + ones*(0x7f-0x7e) | x) & highs // a byte > 0x7e
	quote := less(x^(ones*'"'), 1)
	backslash := less(x^(ones*'\\'), 1)
	return control | high | quote | backslash
}
