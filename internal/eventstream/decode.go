package eventstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// readChunkBytes is how much of a message body the Decoder allocates
// before any of it has arrived. A body up to this size (a typical
// SubscribeToShardEvent is about 1 MiB) is read into one exact allocation;
// a larger one is read into a buffer that doubles as data arrives, so a
// peer that announces 16 MiB and then stops costs at most
// max(readChunkBytes, twice what it sent).
const readChunkBytes = 4 << 20

// A Decoder reads messages from an io.Reader. It reads exactly the bytes
// of each message and nothing beyond, so the reader can be handed on after
// any Decode that returned a message. It is not safe for concurrent use.
type Decoder struct {
	r      io.Reader
	offset int64 // stream offset of the next message
	// err is the first error. After a bad message the stream position
	// inside it is unknown (and the specification says the stream MUST
	// be terminated), so every later Decode returns the same error.
	err     error
	prelude [preludeBytes]byte

	// DecodeShared's message and memory, reused from one call to the next.
	shared  Message
	body    []byte
	headers []Header
}

// NewDecoder returns a Decoder that reads from r. Wrap r in a bufio.Reader
// if it is costly to call: Decode makes two reads per message.
func NewDecoder(r io.Reader) *Decoder { return &Decoder{r: r} }

// Decode reads the next message. It returns io.EOF, unwrapped, if the
// stream ends cleanly between messages. Every other error is final: a
// *FormatError wrapping ErrPreludeChecksum, ErrBadPrelude,
// ErrMessageTooLarge, ErrHeadersTooLarge, ErrMessageChecksum, ErrBadHeader
// or io.ErrUnexpectedEOF (the stream ends inside a message), or the
// reader's own error, wrapped.
//
// The returned message belongs to the caller; the Decoder keeps no
// reference to it. Its payload and byte-array header values share one
// allocation.
func (d *Decoder) Decode() (*Message, error) {
	return d.next(false)
}

// DecodeShared reads the next message as Decode does, with the same errors,
// but into memory the Decoder keeps: the message, its headers, its payload
// and its byte-array header values are good only until the next call to
// DecodeShared or Decode. A reader that is done with each message before
// it reads the next (a SubscribeToShard consumer) saves an allocation of
// the message's size per message.
func (d *Decoder) DecodeShared() (*Message, error) {
	return d.next(true)
}

func (d *Decoder) next(shared bool) (*Message, error) {
	if d.err != nil {
		return nil, d.err
	}
	m, n, err := d.decode(shared)
	if err != nil {
		if err != io.EOF {
			if errors.Is(err, io.ErrUnexpectedEOF) || isFormat(err) {
				err = &FormatError{Offset: d.offset, Err: err}
			} else {
				err = fmt.Errorf("eventstream: read message at offset %d: %w", d.offset, err)
			}
		}
		d.err = err
		return nil, err
	}
	d.offset += int64(n)
	return m, nil
}

func isFormat(err error) bool {
	for _, e := range [...]error{ErrPreludeChecksum, ErrMessageChecksum, ErrBadPrelude, ErrMessageTooLarge, ErrHeadersTooLarge, ErrBadHeader} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// decode reads one message and returns it with its size on the wire; if
// shared, into d.shared and the Decoder's buffers.
func (d *Decoder) decode(shared bool) (*Message, int, error) {
	p := d.prelude[:]
	if n, err := io.ReadFull(d.r, p); err != nil {
		if err == io.EOF && n == 0 {
			return nil, 0, io.EOF
		}
		return nil, 0, err
	}
	total, hlen, err := parsePrelude(p)
	if err != nil {
		return nil, 0, err
	}
	var buf []byte
	if shared {
		buf = d.body
	}
	body, err := readBody(d.r, total-preludeBytes, buf)
	if shared && cap(body) > cap(d.body) && cap(body) <= readChunkBytes {
		d.body = body[:0] // kept for the next message; a larger one is not
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, 0, err
	}
	crc := crc32.Update(crc32.ChecksumIEEE(p), crc32.IEEETable, body[:len(body)-messageCRCBytes])
	if got := binary.BigEndian.Uint32(body[len(body)-messageCRCBytes:]); got != crc {
		return nil, 0, fmt.Errorf("%w: message_crc %08x, computed %08x", ErrMessageChecksum, got, crc)
	}
	var m *Message
	var hs []Header
	if shared {
		d.shared = Message{}
		m, hs = &d.shared, d.headers[:0]
	} else {
		m = new(Message)
	}
	if hlen > 0 {
		if m.Headers, err = parseHeaders(body[:hlen], hs); err != nil {
			return nil, 0, err
		}
		if shared {
			d.headers = m.Headers
		}
	}
	if payload := body[hlen : len(body)-messageCRCBytes]; len(payload) > 0 {
		m.Payload = payload[:len(payload):len(payload)]
	}
	return m, total, nil
}

// parsePrelude checks the 12-byte prelude and returns total_length and
// headers_length. The checksum comes first: lengths are not believed, let
// alone allocated for, until it matches.
func parsePrelude(p []byte) (total, hlen int, err error) {
	if got, want := binary.BigEndian.Uint32(p[8:]), crc32.ChecksumIEEE(p[:8]); got != want {
		return 0, 0, fmt.Errorf("%w: prelude_crc %08x, computed %08x", ErrPreludeChecksum, got, want)
	}
	t, h := binary.BigEndian.Uint32(p[0:]), binary.BigEndian.Uint32(p[4:])
	switch {
	case t < MinMessageBytes:
		return 0, 0, fmt.Errorf("%w: total_length %d is under %d", ErrBadPrelude, t, MinMessageBytes)
	case t > MaxMessageBytes:
		return 0, 0, fmt.Errorf("%w: total_length %d, limit %d", ErrMessageTooLarge, t, MaxMessageBytes)
	case h > MaxHeadersBytes:
		return 0, 0, fmt.Errorf("%w: headers_length %d, limit %d", ErrHeadersTooLarge, h, MaxHeadersBytes)
	case h > t-MinMessageBytes:
		return 0, 0, fmt.Errorf("%w: headers_length %d does not fit in total_length %d", ErrBadPrelude, h, t)
	}
	return int(t), int(h), nil
}

// readBody reads the n bytes that follow the prelude, into buf if it has
// room for them, growing a new buffer as data arrives rather than trusting
// n up front.
func readBody(r io.Reader, n int, buf []byte) ([]byte, error) {
	if n <= cap(buf) {
		b := buf[:n]
		_, err := io.ReadFull(r, b)
		return b, err
	}
	if n <= readChunkBytes {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, 0, readChunkBytes)
	for len(b) < n {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(n, 2*cap(b)))
			copy(nb, b)
			b = nb
		}
		m, err := io.ReadFull(r, b[len(b):min(cap(b), n)])
		b = b[:len(b)+m]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return b, nil
}

// parseHeaders decodes a headers section of 1..MaxHeadersBytes bytes,
// appending to hs (new memory when nil). Byte-array values alias b.
func parseHeaders(b []byte, hs []Header) ([]Header, error) {
	if hs == nil {
		// Three bytes is the smallest header (1-byte name, boolean);
		// counting first would cost a second pass, so start small and let
		// append grow.
		hs = make([]Header, 0, min(len(b)/3, 8))
	}
	for off := 0; off < len(b); {
		h, n, err := parseHeader(b[off:])
		if err != nil {
			return nil, fmt.Errorf("%w (header %d at headers offset %d)", err, len(hs), off)
		}
		hs = append(hs, h)
		off += n
	}
	if err := checkUniqueNames(hs); err != nil {
		return nil, err
	}
	return hs, nil
}

// parseHeader decodes the header at the start of b and returns it with
// its encoded size.
func parseHeader(b []byte) (Header, int, error) {
	var h Header
	if len(b) < 1 {
		return h, 0, fmt.Errorf("%w: truncated", ErrBadHeader)
	}
	nameLen := int(b[0])
	if nameLen == 0 {
		return h, 0, fmt.Errorf("%w: empty name", ErrBadHeader)
	}
	if len(b) < 1+nameLen+1 {
		return h, 0, fmt.Errorf("%w: name overruns the headers", ErrBadHeader)
	}
	h.Name = string(b[1 : 1+nameLen])
	off := 1 + nameLen
	t := ValueType(b[off])
	off++
	rest := b[off:]
	v := tagged(t)
	switch n := fixedValueBytes(t); n {
	case -2:
		return h, 0, fmt.Errorf("%w: %q has unknown value type %d", ErrBadHeader, h.Name, t)
	case -1:
		if len(rest) < 2 {
			return h, 0, fmt.Errorf("%w: %q value length overruns the headers", ErrBadHeader, h.Name)
		}
		l := int(binary.BigEndian.Uint16(rest))
		if l > MaxHeaderValueBytes {
			return h, 0, fmt.Errorf("%w: %q value is %d bytes, limit %d", ErrBadHeader, h.Name, l, MaxHeaderValueBytes)
		}
		if len(rest) < 2+l {
			return h, 0, fmt.Errorf("%w: %q value overruns the headers", ErrBadHeader, h.Name)
		}
		if t == TypeString {
			v.str = string(rest[2 : 2+l])
		} else {
			v.raw = rest[2 : 2+l : 2+l]
		}
		off += 2 + l
	default:
		if len(rest) < n {
			return h, 0, fmt.Errorf("%w: %q value overruns the headers", ErrBadHeader, h.Name)
		}
		switch t {
		case TypeByte:
			v.num = int64(int8(rest[0]))
		case TypeInt16:
			v.num = int64(int16(binary.BigEndian.Uint16(rest)))
		case TypeInt32:
			v.num = int64(int32(binary.BigEndian.Uint32(rest)))
		case TypeInt64, TypeTimestamp:
			v.num = int64(binary.BigEndian.Uint64(rest))
		case TypeUUID:
			copy(v.uuid[:], rest)
		}
		off += n
	}
	h.Value = v
	return h, off, nil
}
