package eventstream

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// headersLen validates m's headers and returns their encoded size.
func headersLen(m *Message) (int, error) {
	n := 0
	for i := range m.Headers {
		h := &m.Headers[i]
		if len(h.Name) == 0 || len(h.Name) > MaxHeaderNameBytes {
			return 0, fmt.Errorf("%w: name %.32q is %d bytes, want 1..%d", ErrBadHeader, h.Name, len(h.Name), MaxHeaderNameBytes)
		}
		vn, err := h.Value.encodedLen()
		if err != nil {
			return 0, fmt.Errorf("header %q: %w", h.Name, err)
		}
		n += 1 + len(h.Name) + 1 + vn
		// Checking as we go keeps n far from overflow however many
		// headers there are.
		if n > MaxHeadersBytes {
			return 0, fmt.Errorf("%w: over %d bytes", ErrHeadersTooLarge, MaxHeadersBytes)
		}
	}
	if err := checkUniqueNames(m.Headers); err != nil {
		return 0, err
	}
	return n, nil
}

// AppendMessage appends the encoding of m to dst and returns the extended
// slice. It allocates only to grow dst, so a caller that reuses dst with
// enough capacity encodes without allocating. It returns dst unchanged and
// an error wrapping ErrBadHeader, ErrHeadersTooLarge or ErrMessageTooLarge
// if m is outside the limits.
func AppendMessage(dst []byte, m *Message) ([]byte, error) {
	hlen, err := headersLen(m)
	if err != nil {
		return dst, err
	}
	total := MinMessageBytes + hlen + len(m.Payload)
	if total > MaxMessageBytes {
		return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, total, MaxMessageBytes)
	}

	start := len(dst)
	out := slices.Grow(dst, total)
	out = binary.BigEndian.AppendUint32(out, uint32(total))
	out = binary.BigEndian.AppendUint32(out, uint32(hlen))
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	for i := range m.Headers {
		out = appendHeader(out, &m.Headers[i])
	}
	out = append(out, m.Payload...)
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	if len(out)-start != total {
		panic(fmt.Sprintf("eventstream: encoded %d bytes, computed %d", len(out)-start, total))
	}
	return out, nil
}

// appendHeader appends one header; headersLen has validated it.
func appendHeader(b []byte, h *Header) []byte {
	b = append(b, byte(len(h.Name)))
	b = append(b, h.Name...)
	v := &h.Value
	t := v.Type()
	b = append(b, byte(t))
	switch t {
	case TypeBoolTrue, TypeBoolFalse:
	case TypeByte:
		b = append(b, byte(v.num))
	case TypeInt16:
		b = binary.BigEndian.AppendUint16(b, uint16(v.num))
	case TypeInt32:
		b = binary.BigEndian.AppendUint32(b, uint32(v.num))
	case TypeInt64, TypeTimestamp:
		b = binary.BigEndian.AppendUint64(b, uint64(v.num))
	case TypeBytes:
		b = binary.BigEndian.AppendUint16(b, uint16(len(v.raw)))
		b = append(b, v.raw...)
	case TypeString:
		b = binary.BigEndian.AppendUint16(b, uint16(len(v.str)))
		b = append(b, v.str...)
	case TypeUUID:
		b = append(b, v.uuid[:]...)
	default:
		panic(fmt.Sprintf("eventstream: header %q has unvalidated type %d", h.Name, t))
	}
	return b
}

// retainBytesMax bounds the buffer an Encoder keeps between messages. A
// SubscribeToShardEvent is usually well under it; a rare larger message
// gets a buffer of its own that is dropped after the write, so that an
// idle subscription does not pin up to MaxMessageBytes.
const retainBytesMax = 4 << 20

// An Encoder writes messages to an io.Writer, one Write call per message,
// reusing one buffer. It is not safe for concurrent use.
type Encoder struct {
	w   io.Writer
	buf []byte
	// err is the first write error. After it the stream may end inside a
	// message, so the Encoder refuses to write more.
	err error
}

// NewEncoder returns an Encoder that writes to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Encode writes m. A message outside the limits is refused with the error
// of AppendMessage and nothing is written; the Encoder stays usable. A
// write error is returned wrapped, and again by every later Encode.
func (e *Encoder) Encode(m *Message) error {
	if e.err != nil {
		return e.err
	}
	buf, err := AppendMessage(e.buf[:0], m)
	if err != nil {
		return err
	}
	if cap(buf) <= retainBytesMax {
		e.buf = buf
	}
	if _, err := e.w.Write(buf); err != nil {
		e.err = fmt.Errorf("eventstream: write message: %w", err)
		return e.err
	}
	return nil
}
