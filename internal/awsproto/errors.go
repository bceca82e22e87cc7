package awsproto

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Error is an AWS error envelope: what WriteError sends and what Unmarshal
// returns for a body it cannot decode.
type Error struct {
	// Type is the exception name (__type), a catalogue entry.
	Type string
	// Message is the human text; empty means the body has no message
	// member, as AWS sends for SerializationException on malformed bodies,
	// UnknownOperationException and InternalFailure.
	Message string
	// Status is the HTTP status, from the catalogue.
	Status int
	// Retryable is the catalogue's retryable flag.
	Retryable bool
	// Code, when set, is sent as an extra "code" member: Firehose's
	// InvalidKMSResourceException and InvalidSourceException carry one.
	Code string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Type
	}
	return e.Type + ": " + e.Message
}

// Errorf builds an *Error of the catalogue type typ. The message is format
// formatted with args, or format as is when there are no args (so messages
// quoting a '%' are safe). Status and Retryable come from the catalogue; a
// type not in the catalogue is a programmer error and panics.
func Errorf(typ, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return newError(typ, msg)
}

// newError builds an *Error of catalogue type typ with message msg.
func newError(typ, msg string) *Error {
	ex, ok := catalogue[typ]
	if !ok {
		panic(fmt.Sprintf("awsproto: exception type %q is not in errors.json", typ))
	}
	return &Error{Type: typ, Message: msg, Status: ex.Status, Retryable: ex.Retryable}
}

// serializationError is the SerializationException Unmarshal returns; msg
// may be empty (malformed body).
func serializationError(msg string) *Error {
	return newError("SerializationException", msg)
}

// The envelope's members in AWS's order. The message member's name
// depends on the exception (messageKey in errors.json), hence two shapes.
type envelope struct {
	Type    string `json:"__type"`
	Message string `json:"message,omitempty"`
	Code    string `json:"code,omitempty"`
}

type envelopeCapital struct {
	Type    string `json:"__type"`
	Message string `json:"Message,omitempty"`
	Code    string `json:"code,omitempty"`
}

// errorBody is the envelope of e, for either encoder.
func errorBody(e *Error) any {
	if ex, ok := catalogue[e.Type]; ok && ex.MessageKey == "Message" {
		return envelopeCapital{Type: e.Type, Message: e.Message, Code: e.Code}
	}
	return envelope{Type: e.Type, Message: e.Message, Code: e.Code}
}

// WriteError writes e as AWS does: the status (e.Status, or the
// catalogue's when zero), Content-Type of p, X-Amzn-ErrorType: <Type>, and
// a body {"__type": Type, "message": Message} in JSON or the same map in
// CBOR. SerializationException spells the key "Message" as AWS does; an
// empty Message sends no message member. A zero p writes JSON.
func WriteError(w http.ResponseWriter, p Protocol, e *Error) {
	if p != CBOR {
		p = JSON
	}
	status := e.Status
	if status == 0 {
		if ex, ok := catalogue[e.Type]; ok {
			status = ex.Status
		} else {
			status = http.StatusBadRequest
		}
	}
	if p == CBOR && !(utf8.ValidString(e.Message) && utf8.ValidString(e.Code)) {
		// A message may quote what the client sent (its Authorization
		// header, say), and CBOR text must be UTF-8: invalid bytes become
		// U+FFFD, as encoding/json makes them in JSON.
		valid := *e
		valid.Message, valid.Code = validString([]byte(e.Message)), validString([]byte(e.Code))
		e = &valid
	}
	body, err := Marshal(p, errorBody(e))
	if err != nil {
		// Three strings always encode; failing here is a bug.
		panic(fmt.Sprintf("awsproto: encode error envelope: %v", err))
	}
	h := w.Header()
	h.Set("Content-Type", p.ContentType())
	h.Set("X-Amzn-ErrorType", e.Type)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// WriteResponse writes HTTP 200 with v marshaled in p; a nil v sends "{}"
// (JSON) or an empty map (CBOR). If v does not encode, nothing has been
// written yet: it answers InternalFailure and returns the error so the
// caller can log it.
func WriteResponse(w http.ResponseWriter, p Protocol, v any) error {
	if e, ok := v.(Encoded); ok {
		e.must(p)
		err := writeBody(w, p, e.body)
		if err == nil { // as below: a failed Write may still hold the buffer
			responseBuffers.put(e.body)
		}
		return err
	}
	if encodesItself(p, v) {
		body := AppendSelf(p, v, responseBuffers.get())
		err := writeBody(w, p, body)
		// A Write that failed may have left body with the connection: Go's
		// HTTP/2 server can still be writing it out after a stream reset
		// (golang/go#20704). Only a buffer known to be free is reused.
		if err == nil {
			responseBuffers.put(body)
		}
		return err
	}
	body, err := Marshal(p, v)
	if err != nil {
		WriteError(w, p, newError("InternalFailure", ""))
		return fmt.Errorf("encode %s response: %w", p, err)
	}
	return writeBody(w, p, body)
}

// Encoded is an answer already encoded in its protocol (EncodeSelf), in a
// buffer of the cache below; WriteResponse writes it as it is. An
// operation encodes its own answer when that work has to happen inside a
// bound the operation holds, as GetRecords does inside its read turn.
type Encoded struct {
	p    Protocol
	body []byte
}

// EncodeSelf encodes v, which must be a CBORAppender for CBOR and a
// JSONAppender for JSON, in p.
func EncodeSelf(p Protocol, v any) Encoded {
	return Encoded{p: p, body: AppendSelf(p, v, responseBuffers.get())}
}

// Bytes returns the encoding.
func (e Encoded) Bytes() []byte { return e.body }

// AppendJSON appends the encoding, which must be JSON.
func (e Encoded) AppendJSON(b []byte) []byte { e.must(JSON); return append(b, e.body...) }

// AppendCBOR appends the encoding, which must be CBOR.
func (e Encoded) AppendCBOR(b []byte) []byte { e.must(CBOR); return append(b, e.body...) }

func (e Encoded) must(p Protocol) {
	if (e.p == CBOR) != (p == CBOR) { // as AppendSelf, anything but CBOR is JSON
		panic(fmt.Sprintf("awsproto: an answer encoded in %s written as %s", e.p, p))
	}
}

// responseBuffers holds the buffers that self-encoding (JSONAppender)
// responses are built in. A GetRecords answer runs to megabytes; a fresh
// buffer per call cost an allocation the runtime must zero, and that was
// a fifth of the call's CPU time. A sync.Pool did not keep them: at a
// GetRecords drain's allocation rate the collector runs every few calls
// and empties it. A buffer goes back once written without error.
var responseBuffers = bufferCache{maxBuffers: maxCachedResponses, maxBytes: maxCachedResponseBytes}

// The bounds of responseBuffers: enough for a few concurrent full
// 10,000-record answers of small records, or two answers of 10 MiB of
// data.
const (
	maxCachedResponses     = 16
	maxCachedResponseBytes = 32 << 20
)

// bufferCache keeps up to maxBuffers buffers for reuse, of up to maxBytes
// of capacity in all; a buffer put when it is full is left to the garbage
// collector. Safe for concurrent use.
type bufferCache struct {
	maxBuffers int
	maxBytes   int
	mu         struct {
		sync.Mutex
		bufs  [][]byte
		bytes int
	}
}

// get returns an empty buffer, nil when there is none.
func (c *bufferCache) get() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.mu.bufs)
	if n == 0 {
		return nil
	}
	b := c.mu.bufs[n-1]
	c.mu.bufs[n-1] = nil
	c.mu.bufs = c.mu.bufs[:n-1]
	c.mu.bytes -= cap(b)
	return b[:0]
}

// put gives b to the cache; the caller must not use it again.
func (c *bufferCache) put(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.mu.bufs) >= c.maxBuffers || c.mu.bytes+cap(b) > c.maxBytes {
		return
	}
	c.mu.bufs = append(c.mu.bufs, b)
	c.mu.bytes += cap(b)
}

func writeBody(w http.ResponseWriter, p Protocol, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", p.ContentType())
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}
