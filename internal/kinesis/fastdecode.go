package kinesis

import "encoding/base64"

// fastPutRecords decodes the JSON body of a PutRecords call written the way
// SDKs write it (the members StreamName, StreamARN and Records; records with
// Data, PartitionKey and ExplicitHashKey; strings of printable ASCII without
// escapes; no duplicate members) into in, without reflection and with three
// allocations for the whole call. On anything else it returns false with in
// untouched, and the caller decodes with the general decoder, which gives
// every malformed input its exact AWS error: the fast path only ever accepts
// what the general decoder would decode to the same value.
func fastPutRecords(body []byte, in *putRecordsInput) bool {
	p := fastParser{b: body}
	if !p.byte('{') {
		return false
	}
	var streamName, streamARN string
	var haveName, haveARN, haveRecords bool
	type rawEntry struct {
		data                     []byte
		key, hashKey             string
		hasData, hasKey, hasHash bool
	}
	var raw []rawEntry
	// Decoded data is at most 3/4 of the body: one buffer that never moves.
	buf := make([]byte, 0, len(body)/4*3+3)
	// Strings share one copy of the body.
	text := string(body)
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
		name, ok := p.str(text)
		if !ok || !p.byte(':') {
			return false
		}
		switch {
		case name == "StreamName" && !haveName:
			if streamName, ok = p.str(text); !ok {
				return false
			}
			haveName = true
		case name == "StreamARN" && !haveARN:
			if streamARN, ok = p.str(text); !ok {
				return false
			}
			haveARN = true
		case name == "Records" && !haveRecords:
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
					m, ok := p.str(text)
					if !ok || !p.byte(':') {
						return false
					}
					lo, hi, ok := p.span()
					if !ok {
						return false
					}
					v := text[lo:hi]
					switch {
					case m == "Data" && !e.hasData:
						// AWS takes standard base64 with padding only.
						if len(v)%4 != 0 {
							return false
						}
						start := len(buf)
						n, err := base64.StdEncoding.Strict().Decode(buf[start:start+base64.StdEncoding.DecodedLen(len(v))], body[lo:hi])
						if err != nil {
							return false
						}
						buf = buf[:start+n]
						e.data, e.hasData = buf[start:start+n:start+n], true
					case m == "PartitionKey" && !e.hasKey:
						e.key, e.hasKey = v, true
					case m == "ExplicitHashKey" && !e.hasHash:
						e.hashKey, e.hasHash = v, true
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
	p.ws()
	if p.i != len(body) || !haveRecords {
		return false
	}
	keys := make([]string, 2*len(raw))
	recs := make([]putRecordsEntry, len(raw))
	for i := range raw {
		e := &raw[i]
		if e.hasData {
			recs[i].Data = e.data
		}
		if e.hasKey {
			keys[2*i] = e.key
			recs[i].PartitionKey = &keys[2*i]
		}
		if e.hasHash {
			keys[2*i+1] = e.hashKey
			recs[i].ExplicitHashKey = &keys[2*i+1]
		}
	}
	*in = putRecordsInput{Records: recs}
	if haveName {
		in.StreamName = &streamName
	}
	if haveARN {
		in.StreamARN = &streamARN
	}
	return true
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

// str reads a string of printable ASCII without escapes and returns it as
// a substring of text (the body as a string).
func (p *fastParser) str(text string) (string, bool) {
	lo, hi, ok := p.span()
	return text[lo:hi], ok
}

// span reads such a string and returns where its contents lie in the body.
func (p *fastParser) span() (lo, hi int, ok bool) {
	if !p.byte('"') {
		return 0, 0, false
	}
	start := p.i
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
