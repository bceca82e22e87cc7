package eventstream

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Limits, from the AWS SDK decoders (aws-c-event-stream, which the Java and
// C++ SDKs use, applies the first two) and the Go SDK encoder (the third).
const (
	// MaxMessageBytes bounds a whole message, prelude and CRCs included.
	MaxMessageBytes = 16 << 20
	// MaxHeadersBytes bounds the encoded headers of one message.
	MaxHeadersBytes = 128 << 10
	// MaxHeaderValueBytes bounds a byte-array or string header value.
	MaxHeaderValueBytes = 1<<15 - 1
	// MaxHeaderNameBytes bounds a header name; names are at least 1 byte.
	MaxHeaderNameBytes = 255

	preludeBytes    = 12 // total_length, headers_length, prelude_crc
	messageCRCBytes = 4
	// MinMessageBytes is the size of a message without headers or payload.
	MinMessageBytes = preludeBytes + messageCRCBytes
)

// Errors returned by AppendMessage, Encoder.Encode and Decoder.Decode.
// Decoder errors arrive wrapped in a *FormatError; test them with
// errors.Is.
var (
	// ErrPreludeChecksum means prelude_crc does not match the first 8
	// bytes of the message.
	ErrPreludeChecksum = errors.New("eventstream: prelude checksum mismatch")
	// ErrMessageChecksum means message_crc does not match the message.
	ErrMessageChecksum = errors.New("eventstream: message checksum mismatch")
	// ErrBadPrelude means the prelude's lengths contradict each other:
	// total_length below 16, or headers that do not fit in it.
	ErrBadPrelude = errors.New("eventstream: inconsistent prelude lengths")
	// ErrMessageTooLarge means a message is over MaxMessageBytes.
	ErrMessageTooLarge = errors.New("eventstream: message too large")
	// ErrHeadersTooLarge means the encoded headers are over
	// MaxHeadersBytes.
	ErrHeadersTooLarge = errors.New("eventstream: headers too large")
	// ErrBadHeader means a header cannot be encoded or decoded: a name
	// that is empty or too long, a repeated name, an unknown value type, a
	// value over MaxHeaderValueBytes, or a header that overruns the
	// headers section.
	ErrBadHeader = errors.New("eventstream: bad header")
)

// A FormatError reports a message the Decoder could not accept: where in
// the stream the message starts and what is wrong with it (one of the Err*
// values above, or io.ErrUnexpectedEOF if the stream ends inside it).
type FormatError struct {
	// Offset is the stream offset of the message's first byte.
	Offset int64
	// Err says what is wrong; it is one of the package's Err* values or
	// io.ErrUnexpectedEOF, possibly wrapped with detail.
	Err error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("eventstream: message at offset %d: %v", e.Offset, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// Header is one message header.
type Header struct {
	// Name is 1..255 bytes and unique within its message.
	Name  string
	Value HeaderValue
}

// Message is one event-stream message.
type Message struct {
	// Headers are encoded in this order; the decoder keeps wire order.
	Headers []Header
	// Payload is opaque to this package (JSON for Kinesis events).
	Payload []byte
}

// Header returns the value of the header called name, and whether the
// message has one.
func (m *Message) Header(name string) (HeaderValue, bool) {
	for i := range m.Headers {
		if m.Headers[i].Name == name {
			return m.Headers[i].Value, true
		}
	}
	return HeaderValue{}, false
}

// Header names and values Kinesis uses (smithy amazon-eventstream.rst,
// "Amazon Event Semantics").
const (
	HeaderMessageType   = ":message-type"
	HeaderEventType     = ":event-type"
	HeaderExceptionType = ":exception-type"
	HeaderContentType   = ":content-type"
	HeaderErrorCode     = ":error-code"
	HeaderErrorMessage  = ":error-message"

	MessageTypeEvent     = "event"
	MessageTypeException = "exception"
	MessageTypeError     = "error"

	// ContentTypeJSON is the :content-type of JSON payloads.
	ContentTypeJSON = "application/json"
)

// EventMessage returns a modelled event: :message-type=event,
// :event-type=eventType, :content-type=application/json, and payload (not
// copied). Kinesis sends "initial-response" with payload {} first, then
// "SubscribeToShardEvent".
func EventMessage(eventType string, payload []byte) *Message {
	return EventMessageAs(eventType, ContentTypeJSON, payload)
}

// EventMessageAs is EventMessage with a payload of another content type:
// a SubscribeToShard made in CBOR gets its events in CBOR.
func EventMessageAs(eventType, contentType string, payload []byte) *Message {
	return &Message{
		Headers: []Header{
			{Name: HeaderMessageType, Value: String(MessageTypeEvent)},
			{Name: HeaderEventType, Value: String(eventType)},
			{Name: HeaderContentType, Value: String(contentType)},
		},
		Payload: payload,
	}
}

// ExceptionMessage returns a modelled error event:
// :message-type=exception, :exception-type=exceptionType,
// :content-type=application/json, and payload (not copied), which for
// Kinesis is {"message":"..."}.
func ExceptionMessage(exceptionType string, payload []byte) *Message {
	return ExceptionMessageAs(exceptionType, ContentTypeJSON, payload)
}

// ExceptionMessageAs is ExceptionMessage with a payload of another
// content type.
func ExceptionMessageAs(exceptionType, contentType string, payload []byte) *Message {
	return &Message{
		Headers: []Header{
			{Name: HeaderMessageType, Value: String(MessageTypeException)},
			{Name: HeaderExceptionType, Value: String(exceptionType)},
			{Name: HeaderContentType, Value: String(contentType)},
		},
		Payload: payload,
	}
}

// ErrorMessage returns an unmodelled error: :message-type=error,
// :error-code=code, :error-message=message, and no payload. A message
// longer than MaxHeaderValueBytes is cut at a UTF-8 boundary so that the
// result always encodes; the code is a short identifier and is kept as is.
func ErrorMessage(code, message string) *Message {
	return &Message{
		Headers: []Header{
			{Name: HeaderMessageType, Value: String(MessageTypeError)},
			{Name: HeaderErrorCode, Value: String(code)},
			{Name: HeaderErrorMessage, Value: String(truncateUTF8(message, MaxHeaderValueBytes))},
		},
	}
}

// truncateUTF8 returns the longest prefix of s of at most n bytes that
// does not end inside a multi-byte UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	// Back up over continuation bytes to the start of the rune that
	// straddles the cut; at most utf8.UTFMax-1 steps for valid UTF-8.
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// checkUniqueNames returns ErrBadHeader if two headers share a name. The
// quadratic scan is allocation-free and fast for the handful of headers
// real messages carry; many headers (a hostile peer can fit ~43,000 in 128
// KiB) switch to a set so that decoding stays linear.
func checkUniqueNames(hs []Header) error {
	const quadraticMax = 32
	if len(hs) <= quadraticMax {
		for i := 1; i < len(hs); i++ {
			for j := range i {
				if hs[i].Name == hs[j].Name {
					return fmt.Errorf("%w: %q appears twice", ErrBadHeader, hs[i].Name)
				}
			}
		}
		return nil
	}
	seen := make(map[string]struct{}, len(hs))
	for i := range hs {
		if _, dup := seen[hs[i].Name]; dup {
			return fmt.Errorf("%w: %q appears twice", ErrBadHeader, hs[i].Name)
		}
		seen[hs[i].Name] = struct{}{}
	}
	return nil
}
