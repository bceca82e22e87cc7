package kinesis

import "encoding/binary"

// fastPutRecordsCBOR is fastPutRecords for a CBOR body, as the AWS SDK for
// Java (and with it the KCL and most Java producers) sends PutRecords by
// default: a map of StreamName, StreamARN and Records; records that are
// maps of Data (a byte string), PartitionKey and ExplicitHashKey; maps
// and arrays of definite or indefinite length (Jackson's generator writes
// both); strings of definite length and of ASCII only; no tags, nulls or
// duplicate members. Data aliases the body, which outlives the call's
// records as sc does. On anything else it returns false with in
// untouched, and the general decoder gives the body its exact answer: the
// fast path only accepts what the general decoder decodes to the same
// value.
func fastPutRecordsCBOR(body []byte, in *putRecordsInput, sc *putScratch) bool {
	p := cborParser{b: body}
	n, ok := p.open(0xa0)
	if !ok {
		return false
	}
	var nameLo, nameHi, arnLo, arnHi int
	var haveName, haveARN, haveRecords bool
	raw := sc.raw[:0]
	textBytes := 0
	for seen := 0; p.more(n, &seen); {
		lo, hi, ok := p.text()
		if !ok {
			return false
		}
		switch name := body[lo:hi]; {
		case string(name) == "StreamName" && !haveName:
			if nameLo, nameHi, ok = p.text(); !ok {
				return false
			}
			haveName = true
			textBytes += nameHi - nameLo
		case string(name) == "StreamARN" && !haveARN:
			if arnLo, arnHi, ok = p.text(); !ok {
				return false
			}
			haveARN = true
			textBytes += arnHi - arnLo
		case string(name) == "Records" && !haveRecords:
			haveRecords = true
			m, ok := p.open(0x80)
			if !ok || m == 0 || p.at(0xff) {
				return false // an empty list: the general decoder's business
			}
			for seenR := 0; p.more(m, &seenR); {
				var e rawEntry
				k, ok := p.open(0xa0)
				if !ok {
					return false
				}
				for seenE := 0; p.more(k, &seenE); {
					mlo, mhi, ok := p.text()
					if !ok {
						return false
					}
					switch member := body[mlo:mhi]; {
					case string(member) == "Data" && !e.hasData:
						if e.dataLo, e.dataHi, ok = p.str(0x40); !ok {
							return false
						}
						e.hasData = true
					case string(member) == "PartitionKey" && !e.hasKey:
						if e.keyLo, e.keyHi, ok = p.text(); !ok {
							return false
						}
						e.hasKey = true
						textBytes += e.keyHi - e.keyLo
					case string(member) == "ExplicitHashKey" && !e.hasHash:
						if e.hashLo, e.hashHi, ok = p.text(); !ok {
							return false
						}
						e.hasHash = true
						textBytes += e.hashHi - e.hashLo
					default:
						return false
					}
				}
				if p.bad {
					return false
				}
				raw = append(raw, e)
			}
		default:
			return false
		}
	}
	sc.raw = raw // keeps what append grew, for the next call
	if p.bad || p.i != len(body) || !haveRecords {
		return false
	}
	sc.fill(in, raw, body, body, textBytes, textSpan{nameLo, nameHi, haveName}, textSpan{arnLo, arnHi, haveARN})
	return true
}

// cborParser reads the subset of CBOR fastPutRecordsCBOR accepts. bad
// records a failure found where the caller only asked whether to go on.
type cborParser struct {
	b   []byte
	i   int
	bad bool
}

// indefinite marks a map or array of indefinite length in open's count.
const indefinite = -1

// arg reads the head at p.i if its major type is the one of initial byte
// base (0x40 bytes, 0x60 text, 0x80 array, 0xa0 map) and its argument is
// a definite count or length; indef allows the indefinite form, returned
// as indefinite.
func (p *cborParser) arg(base byte, indef bool) (int, bool) {
	if p.i >= len(p.b) || p.b[p.i]&0xe0 != base {
		return 0, false
	}
	info := p.b[p.i] & 31
	p.i++
	var v uint64
	switch {
	case info < 24:
		return int(info), true
	case info == 24 && p.i+1 <= len(p.b):
		v = uint64(p.b[p.i])
		p.i++
	case info == 25 && p.i+2 <= len(p.b):
		v = uint64(binary.BigEndian.Uint16(p.b[p.i:]))
		p.i += 2
	case info == 26 && p.i+4 <= len(p.b):
		v = uint64(binary.BigEndian.Uint32(p.b[p.i:]))
		p.i += 4
	case info == 27 && p.i+8 <= len(p.b):
		v = binary.BigEndian.Uint64(p.b[p.i:])
		p.i += 8
	case info == 31 && indef:
		return indefinite, true
	default:
		return 0, false
	}
	if v > uint64(len(p.b)) { // no count or length can exceed the body
		return 0, false
	}
	return int(v), true
}

// open reads the head of a map (0xa0) or array (0x80): its count, or
// indefinite.
func (p *cborParser) open(base byte) (int, bool) { return p.arg(base, true) }

// more reports whether another entry of a map or array of n entries
// follows, seen being how many did: it consumes the break that ends an
// indefinite one.
func (p *cborParser) more(n int, seen *int) bool {
	if p.bad {
		return false
	}
	if n != indefinite {
		*seen++
		return *seen <= n
	}
	if p.i >= len(p.b) {
		p.bad = true
		return false
	}
	if p.b[p.i] == 0xff {
		p.i++
		return false
	}
	return true
}

// at reports whether byte c comes next.
func (p *cborParser) at(c byte) bool { return p.i < len(p.b) && p.b[p.i] == c }

// str reads a string of definite length of the major type of base and
// returns where its contents lie in the body.
func (p *cborParser) str(base byte) (lo, hi int, ok bool) {
	n, ok := p.arg(base, false)
	if !ok || len(p.b)-p.i < n {
		return 0, 0, false
	}
	lo = p.i
	p.i += n
	return lo, p.i, true
}

// text reads a text string of definite length whose bytes are all ASCII,
// so that it is valid UTF-8 and its string is its bytes.
func (p *cborParser) text() (lo, hi int, ok bool) {
	lo, hi, ok = p.str(0x60)
	if !ok {
		return 0, 0, false
	}
	s := p.b[lo:hi]
	for len(s) >= 8 {
		if binary.LittleEndian.Uint64(s)&0x8080808080808080 != 0 {
			return 0, 0, false
		}
		s = s[8:]
	}
	for _, c := range s {
		if c >= 0x80 {
			return 0, 0, false
		}
	}
	return lo, hi, true
}
