package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sluicedata/sluice/internal/awsproto"
)

// Every record the benchmark writes starts with a stamp of stampBytes:
// the send time in Unix nanoseconds (8 bytes, big-endian), then
// stampMagic. A reader that finds the magic after 8 bytes takes the first
// 8 as the time the record was sent; records without it (written by
// someone else) are counted but not timed.
const stampMagic = 0xb5

const throttleCode = "ProvisionedThroughputExceededException"

// stampOf returns the send time stamped into a record's data.
func stampOf(data []byte) (int64, bool) {
	if len(data) < stampBytes || data[8] != stampMagic {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(data)), true
}

// stampOfBase64 returns the send time stamped into a record's data given
// as base64 text: the stamp is the first 12 characters, 72 bits. Read
// through a table, not encoding/base64, whose call cost more than the
// rest of a record's scan in a subscriber (about 40 ns for 12
// characters).
func stampOfBase64(text []byte) (int64, bool) {
	if len(text) < 12 {
		return 0, false
	}
	var bits uint64 // the first 10 characters: 60 bits
	var bad byte
	for _, c := range text[:10] {
		v := base64Values[c]
		bad |= v
		bits = bits<<6 | uint64(v)
	}
	v10, v11 := base64Values[text[10]], base64Values[text[11]]
	if (bad|v10|v11)&0xc0 != 0 || (v10&3)<<6|v11 != stampMagic {
		return 0, false
	}
	return int64(bits<<4 | uint64(v10>>2)), true
}

// base64Values maps each character of the standard base64 alphabet to
// its value, and every other byte to 0xff.
var base64Values = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range t {
		t[i] = 0xff
	}
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// base64Len is the decoded size of padded base64 text.
func base64Len(text []byte) int64 {
	n := int64(len(text)) / 4 * 3
	for i := len(text) - 1; i >= 0 && i >= len(text)-2 && text[i] == '='; i-- {
		n--
	}
	return max(n, 0) // "=" alone is not base64, and holds nothing
}

// latencySink records put-to-read latency: now minus each record's stamp.
// A nil *latencySink records nothing.
type latencySink struct {
	hist *Histogram
	now  int64 // when the answer arrived, Unix nanoseconds
	// from, when set, is the first stamp measured: records sent before it,
	// in a warm-up, are read but not measured.
	from *atomic.Int64
}

func (l *latencySink) add(stamp int64) {
	if l.from != nil && stamp < l.from.Load() {
		return
	}
	l.hist.Record(time.Duration(l.now - stamp))
}

// putAnswer is what a PutRecords answer says: how many entries it has,
// how many were throttled, how many failed otherwise, and the first such
// failure.
type putAnswer struct {
	entries, throttled, failed int
	firstError                 string
}

func parsePutRecords(p awsproto.Protocol, body []byte) (putAnswer, error) {
	if p == awsproto.CBOR {
		if n, ok := cleanPutRecordsCBOR(body); ok {
			return putAnswer{entries: n}, nil
		}
		return parsePutRecordsCBOR(body)
	}
	if n, ok := cleanPutRecords(body); ok {
		return putAnswer{entries: n}, nil
	}
	return scanPutRecords(body)
}

// scanPutRecords reads a JSON PutRecords answer member by member.
func scanPutRecords(body []byte) (putAnswer, error) {
	var a putAnswer
	s := jsonScan{b: body}
	s.open('{')
	for s.more('}') {
		if k := s.key(); s.null() {
			continue
		} else if string(k) != "Records" {
			s.skip()
			continue
		}
		s.open('[')
		for s.more(']') {
			var code, msg string
			s.open('{')
			for s.more('}') {
				switch k := s.key(); {
				case s.null():
				case string(k) == "ErrorCode":
					code = s.text()
				case string(k) == "ErrorMessage":
					msg = s.text()
				default:
					s.skip()
				}
			}
			a.entry(code, msg)
		}
	}
	return a, s.err
}

// cleanPutRecords counts the entries of a JSON PutRecords answer that
// starts by saying no record failed, and in which every entry starts with
// its sequence number, as Sluice writes it: two vector counts over the
// answer instead of a scan of its every member. Each answer is on the
// producer's path to its next call. ok is false for any other answer,
// which the scan reads.
func cleanPutRecords(body []byte) (entries int, ok bool) {
	const head, tail = `{"FailedRecordCount":0,"Records":[`, `]}`
	if !bytes.HasPrefix(body, []byte(head)) || !bytes.HasSuffix(body, []byte(tail)) {
		return 0, false
	}
	recs := body[len(head) : len(body)-len(tail)]
	// Nothing in an entry of sequence number and shard id holds a brace.
	n := bytes.Count(recs, []byte(`{"SequenceNumber":"`))
	if n == 0 || n != bytes.Count(recs, []byte("{")) || n != bytes.Count(recs, []byte("}")) {
		return 0, false
	}
	return n, true
}

// The CBOR heads and member names Sluice's answers start with.
var (
	cborFailedZeroRecords = string(slices.Concat(cborName("FailedRecordCount"), []byte{0}, cborName("Records")))
	cborRecordHead        = string(cborName("SequenceNumber"))
	cborArrivalName       = string(cborName("ApproximateArrivalTimestamp"))
	cborDataName          = string(cborName("Data"))
	cborKeyName           = string(cborName("PartitionKey"))
	cborEncryptionName    = string(cborName("EncryptionType"))
	cborErrorCodeName     = cborName("ErrorCode")
)

// cborName encodes a member name, short enough for a one-byte length.
func cborName(name string) []byte {
	if len(name) < 24 {
		return append([]byte{cborText<<5 | byte(len(name))}, name...)
	}
	return append([]byte{cborText<<5 | 24, byte(len(name))}, name...)
}

// cleanPutRecordsCBOR counts the entries of a CBOR PutRecords answer that
// starts by saying no record failed, followed by its Records of definite
// length, as Sluice and the AWS SDKs' encoders write it, and in which no
// ErrorCode member name appears: the count is in the array's head, and
// one vector search stands for a scan of every entry. ok is false for any
// other answer, which the scan reads.
func cleanPutRecordsCBOR(body []byte) (entries int, ok bool) {
	if len(body) < 1 || body[0] != cborMap<<5|2 && body[0] != cborMap<<5|3 ||
		!hasPrefix(body[1:], cborFailedZeroRecords) {
		return 0, false
	}
	s := cborScan{b: body, i: 1 + len(cborFailedZeroRecords)}
	if s.i >= len(body) || body[s.i]>>5 != cborArray {
		return 0, false
	}
	n := s.open(cborArray)
	// Every entry takes a byte at least.
	if s.err != nil || n <= 0 || n > len(body)-s.i || bytes.Contains(body[s.i:], cborErrorCodeName) {
		return 0, false
	}
	return n, true
}

func parsePutRecordsCBOR(body []byte) (putAnswer, error) {
	var a putAnswer
	s := cborScan{b: body}
	n := s.open(cborMap)
	for seen := 0; s.more(n, &seen); {
		if k, _ := s.str(); s.null() {
			continue
		} else if string(k) != "Records" {
			s.skip()
			continue
		}
		m := s.open(cborArray)
		for seenR := 0; s.more(m, &seenR); {
			var code, msg string
			e := s.open(cborMap)
			for seenE := 0; s.more(e, &seenE); {
				switch k, _ := s.str(); {
				case s.null():
				case string(k) == "ErrorCode":
					v, _ := s.str()
					code = string(v)
				case string(k) == "ErrorMessage":
					v, _ := s.str()
					msg = string(v)
				default:
					s.skip()
				}
			}
			a.entry(code, msg)
		}
	}
	return a, s.err
}

func (a *putAnswer) entry(code, msg string) {
	a.entries++
	switch code {
	case "":
	case throttleCode:
		a.throttled++
	default:
		a.failed++
		if a.firstError == "" {
			a.firstError = fmt.Sprintf("PutRecords entry: %s: %s", code, msg)
		}
	}
}

// recordsAnswer is what a GetRecords answer or a SubscribeToShardEvent
// says: the records' count and data bytes, the iterator or continuation
// to go on from, and how far behind the reader is.
type recordsAnswer struct {
	records      int
	bytes        int64
	next         string // NextShardIterator or ContinuationSequenceNumber
	hasNext      bool
	millisBehind int64
}

// parseRecords reads an answer whose records are in Records and whose
// position is in the member nextKey. lat, if not nil, receives each
// stamped record's latency.
func parseRecords(p awsproto.Protocol, body []byte, nextKey string, lat *latencySink) (recordsAnswer, error) {
	if p == awsproto.CBOR {
		return parseRecordsCBOR(body, nextKey, lat)
	}
	var a recordsAnswer
	s := jsonScan{b: body}
	// An answer without a backslash has no escapes in any string, so
	// plainRecord need not look for one in each: one pass over the body
	// instead of one per string.
	noEscapes := bytes.IndexByte(body, '\\') < 0
	s.open('{')
	for s.more('}') {
		switch k := s.key(); {
		case s.null():
		case string(k) == "Records":
			s.open('[')
			for s.more(']') {
				a.records++
				if s.plainRecord(&a, lat, noEscapes) {
					continue
				}
				s.open('{')
				for s.more('}') {
					if k := s.key(); s.null() {
						continue
					} else if string(k) != "Data" {
						s.skip()
						continue
					}
					data, _ := s.str()
					a.addBase64Data(data, lat)
				}
			}
		case string(k) == nextKey:
			a.next, a.hasNext = s.text(), true
		case string(k) == "MillisBehindLatest":
			a.millisBehind = s.int()
		default:
			s.skip()
		}
	}
	return a, s.err
}

// plainRecord reads the record at s in one pass if it is written as
// Sluice writes one,
//
//	{"SequenceNumber":"...","ApproximateArrivalTimestamp":...,"Data":"...","PartitionKey":"..."}
//
// with no escapes and nothing between the tokens, and reports whether it
// did; otherwise it consumed nothing and the member by member scan reads
// the record. Answers carry up to 10,000 records, events hundreds a
// second.
func (s *jsonScan) plainRecord(a *recordsAnswer, lat *latencySink, noEscapes bool) bool {
	b := s.b[s.i:]
	j := 0
	lit := func(l string) bool {
		if len(b)-j < len(l) || string(b[j:j+len(l)]) != l {
			return false
		}
		j += len(l)
		return true
	}
	str := func() ([]byte, bool) { // the rest of a string without escapes
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 || !noEscapes && bytes.IndexByte(b[j:j+q], '\\') >= 0 {
			return nil, false
		}
		v := b[j : j+q]
		j += q + 1
		return v, true
	}
	if !lit(`{"SequenceNumber":"`) {
		return false
	}
	if _, ok := str(); !ok || !lit(`,"ApproximateArrivalTimestamp":`) {
		return false
	}
	num := jsonScan{b: b, i: j}
	num.number()
	j = num.i
	if !lit(`,"Data":"`) {
		return false
	}
	data, ok := str()
	if !ok || !lit(`,"PartitionKey":"`) {
		return false
	}
	if _, ok := str(); !ok || !lit("}") {
		return false
	}
	s.i += j
	a.addBase64Data(data, lat)
	return true
}

// addBase64Data counts a record's Data given as base64 text.
func (a *recordsAnswer) addBase64Data(data []byte, lat *latencySink) {
	a.bytes += base64Len(data)
	if ts, ok := stampOfBase64(data); ok && lat != nil {
		lat.add(ts)
	}
}

func parseRecordsCBOR(body []byte, nextKey string, lat *latencySink) (recordsAnswer, error) {
	var a recordsAnswer
	s := cborScan{b: body}
	n := s.open(cborMap)
	for seen := 0; s.more(n, &seen); {
		switch k, _ := s.str(); {
		case s.null():
		case string(k) == "Records":
			m := s.open(cborArray)
			for seenR := 0; s.more(m, &seenR); {
				a.records++
				if s.plainRecord(&a, lat) {
					continue
				}
				e := s.open(cborMap)
				for seenE := 0; s.more(e, &seenE); {
					if k, _ := s.str(); s.null() {
						continue
					} else if string(k) != "Data" {
						s.skip()
						continue
					}
					a.addCBORData(&s, lat)
				}
			}
		case string(k) == nextKey:
			v, _ := s.str()
			a.next, a.hasNext = string(v), true
		case string(k) == "MillisBehindLatest":
			a.millisBehind = s.int()
		default:
			s.skip()
		}
	}
	return a, s.err
}

// addCBORData counts a record's Data: a byte string, or base64 text from
// a server that sends blobs as text.
func (a *recordsAnswer) addCBORData(s *cborScan, lat *latencySink) {
	data, major := s.str()
	if major == cborText {
		a.addBase64Data(data, lat)
		return
	}
	a.bytes += int64(len(data))
	if ts, ok := stampOf(data); ok && lat != nil {
		lat.add(ts)
	}
}

// plainRecord reads the record at s if it is written as Sluice writes
// one: a map of SequenceNumber, ApproximateArrivalTimestamp, Data (a byte
// string) and PartitionKey, then EncryptionType if it has five members,
// each name matched whole. It returns false, with s where it was, for
// anything else, which the member by member scan reads.
func (s *cborScan) plainRecord(a *recordsAnswer, lat *latencySink) bool {
	start := s.i
	if start >= len(s.b) || s.b[start] != cborMap<<5|4 && s.b[start] != cborMap<<5|5 {
		return false
	}
	five := s.b[start] == cborMap<<5|5
	s.i++
	name := func(n string) bool {
		if !hasPrefix(s.b[s.i:], n) {
			return false
		}
		s.i += len(n)
		return true
	}
	ok := name(cborRecordHead)
	if ok {
		_, major := s.str()
		ok = major == cborText && name(cborArrivalName)
	}
	if ok {
		s.skip()
		ok = name(cborDataName)
	}
	var data []byte
	if ok {
		var major byte
		data, major = s.str()
		ok = major == cborBytes && name(cborKeyName)
	}
	if ok {
		_, major := s.str()
		ok = major == cborText
	}
	if ok && five {
		ok = name(cborEncryptionName)
		if ok {
			_, major := s.str()
			ok = major == cborText
		}
	}
	if !ok || s.err != nil {
		s.i, s.err = start, nil
		return false
	}
	a.bytes += int64(len(data))
	if ts, ok := stampOf(data); ok && lat != nil {
		lat.add(ts)
	}
	return true
}

// hasPrefix is bytes.HasPrefix for a string prefix, without a copy of
// either.
func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}
