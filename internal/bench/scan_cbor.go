package bench

import (
	"encoding/binary"
	"fmt"
	"math"
)

// CBOR major types (RFC 8949 section 3.1).
const (
	cborUint   = 0
	cborNegint = 1
	cborBytes  = 2
	cborText   = 3
	cborArray  = 4
	cborMap    = 5
	cborTag    = 6
	cborSimple = 7

	cborBreak = 0xff
	cborNull  = 0xf6
	cborUndef = 0xf7
)

// cborScan walks a CBOR answer without building it, as jsonScan does for
// JSON. Tags are skipped wherever they appear (timestamps carry tag 1).
type cborScan struct {
	b     []byte
	i     int
	depth int
	info  byte // additional information of the last head read
	err   error
}

func (s *cborScan) fail(what string) {
	if s.err == nil {
		s.err = fmt.Errorf("CBOR answer at byte %d: %s", s.i, what)
	}
	s.i = len(s.b)
}

// head reads an initial byte and its argument. indef is set for the
// indefinite-length marker (additional information 31). The common case,
// an argument in the initial byte and no tag, is inlined at the callers.
func (s *cborScan) head() (major byte, arg uint64, indef bool) {
	if s.i < len(s.b) {
		if ib := s.b[s.i]; ib&31 < 24 && ib>>5 != cborTag {
			s.i++
			s.info = ib & 31
			return ib >> 5, uint64(ib & 31), false
		}
	}
	return s.longHead()
}

// longHead is head for arguments after the initial byte, indefinite
// lengths, tags and errors.
func (s *cborScan) longHead() (major byte, arg uint64, indef bool) {
	for {
		if s.i >= len(s.b) {
			s.fail("unexpected end")
			return cborSimple, 0, false
		}
		ib := s.b[s.i]
		s.i++
		major, info := ib>>5, ib&31
		s.info = info
		switch {
		case info < 24:
			arg = uint64(info)
		case info <= 27:
			n := 1 << (info - 24)
			if len(s.b)-s.i < n {
				s.fail("truncated head")
				return cborSimple, 0, false
			}
			switch n {
			case 1:
				arg = uint64(s.b[s.i])
			case 2:
				arg = uint64(binary.BigEndian.Uint16(s.b[s.i:]))
			case 4:
				arg = uint64(binary.BigEndian.Uint32(s.b[s.i:]))
			case 8:
				arg = binary.BigEndian.Uint64(s.b[s.i:])
			}
			s.i += n
		case info == 31 && major >= cborBytes && major <= cborMap:
			indef = true
		default:
			s.fail("bad additional information")
			return cborSimple, 0, false
		}
		if major != cborTag {
			return major, arg, indef
		}
	}
}

// open reads the head of a map or array (want) and returns its item
// count, or -1 when it is of indefinite length.
func (s *cborScan) open(want byte) int {
	major, n, indef := s.head()
	switch {
	case major != want:
		s.fail(fmt.Sprintf("want major type %d, have %d", want, major))
		return 0
	case indef:
		return -1
	case n > uint64(len(s.b)):
		s.fail("count beyond the answer")
		return 0
	}
	return int(n)
}

// more reports whether the container opened with n items (-1:
// indefinite) has another after *seen, counting it.
func (s *cborScan) more(n int, seen *int) bool {
	if s.err != nil {
		return false
	}
	if n < 0 {
		if s.i < len(s.b) && s.b[s.i] == cborBreak {
			s.i++
			return false
		}
		return s.i < len(s.b) || s.fail0("unexpected end")
	}
	if *seen >= n {
		return false
	}
	*seen++
	return true
}

func (s *cborScan) fail0(what string) bool { s.fail(what); return false }

// str reads a byte or text string and returns its bytes (aliasing the
// answer unless it was sent in chunks) and its major type. Strings shorter
// than 256 bytes (every member name, sequence number and key, and small
// records' data) are read without the general head.
func (s *cborScan) str() ([]byte, byte) {
	if s.i < len(s.b) {
		ib := s.b[s.i]
		if major := ib >> 5; major == cborBytes || major == cborText {
			lo, n := s.i+1, int(ib&31)
			if n == 24 && lo < len(s.b) {
				lo, n = lo+1, int(s.b[lo])
			}
			if n <= 0xff && lo-s.i == 1+btoi(n >= 24) && n <= len(s.b)-lo {
				s.i = lo + n
				return s.b[lo:s.i], major
			}
		}
	}
	return s.longStr()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// longStr is str for the rest: longer heads, chunks, tags and errors.
func (s *cborScan) longStr() ([]byte, byte) {
	major, n, indef := s.head()
	if major != cborBytes && major != cborText {
		s.fail("want a string")
		return nil, 0
	}
	if indef {
		return s.chunks(), major
	}
	if n > uint64(len(s.b)-s.i) {
		s.fail("string beyond the answer")
		return nil, 0
	}
	v := s.b[s.i : s.i+int(n)]
	s.i += int(n)
	return v, major
}

// null consumes a null or undefined and reports whether there was one.
func (s *cborScan) null() bool {
	if s.i < len(s.b) && (s.b[s.i] == cborNull || s.b[s.i] == cborUndef) {
		s.i++
		return true
	}
	return false
}

// int reads an integer (or a float, truncated).
func (s *cborScan) int() int64 {
	major, arg, _ := s.head()
	switch major {
	case cborUint:
		return int64(arg)
	case cborNegint:
		return -1 - int64(arg)
	case cborSimple:
		switch s.info {
		case 26:
			return int64(math.Float32frombits(uint32(arg)))
		case 27:
			return int64(math.Float64frombits(arg))
		}
	}
	s.fail("want a number")
	return 0
}

// chunks reads the chunks of a string of indefinite length, after its
// head, and returns them joined.
func (s *cborScan) chunks() []byte {
	var out []byte
	for s.i < len(s.b) && s.b[s.i] != cborBreak {
		chunk, _ := s.str()
		out = append(out, chunk...)
	}
	if s.i >= len(s.b) {
		s.fail("unexpected end")
		return nil
	}
	s.i++
	return out
}

// skip consumes one value of any kind. Only maps and arrays recurse.
func (s *cborScan) skip() {
	if s.i < len(s.b) {
		if major := s.b[s.i] >> 5; major == cborBytes || major == cborText {
			s.str()
			return
		}
	}
	major, n, indef := s.head()
	switch major {
	case cborBytes, cborText:
		switch {
		case indef:
			s.chunks()
		case n > uint64(len(s.b)-s.i):
			s.fail("string beyond the answer")
		default:
			s.i += int(n)
		}
	case cborArray, cborMap:
		s.skipItems(major, n, indef)
	}
}

// skipItems consumes the items of a map or array whose head skip read.
func (s *cborScan) skipItems(major byte, n uint64, indef bool) {
	if s.depth++; s.depth > maxScanDepth {
		s.fail("nested too deep")
		return
	}
	per := 1
	if major == cborMap {
		per = 2
	}
	count := -1
	if !indef {
		if n > uint64(len(s.b)) {
			s.fail("count beyond the answer")
			return
		}
		count = int(n) * per
	}
	for seen := 0; s.more(count, &seen); {
		s.skip()
	}
	s.depth--
}
