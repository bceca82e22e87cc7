// Package awsproto speaks the wire protocols of the AWS JSON services that
// Sluice imitates: AWS JSON 1.1 (application/x-amz-json-1.1) and the CBOR
// variant the AWS Java SDKs use (application/x-amz-cbor-1.1). It decodes
// request bodies into plain Go structs, encodes responses, writes AWS error
// envelopes from a catalogue of exceptions, and builds the Coral-style
// validation messages that AWS services answer with.
//
// It knows nothing about Kinesis operations: callers (internal/kinesis,
// internal/firehose, ...) define request and response structs with
// `json:"Member,omitempty"` tags, pointer fields for optional scalars, []byte
// for blobs and Timestamp for timestamps, and call Unmarshal, Marshal,
// WriteResponse and WriteError.
//
// # Decoding rules
//
// Both decoders share one reflection plan per Go type (see codec.go) and
// follow what AWS's Coral front end answers, as reverse-engineered by
// kinesalite (mhart/kinesalite, validations/index.js and test/helpers.js,
// whose tests run against the real service):
//
//   - Member names match exactly (case-sensitive). Unknown members are
//     ignored. A null member is absent. An empty list or blob that is
//     present decodes as a non-nil empty slice, so callers can tell it from
//     an absent one (nil). A null element of a list is a zero element.
//   - A body that is not well-formed JSON/CBOR, or whose top level is not an
//     object/map, answers SerializationException with no message, as AWS
//     does. A top-level array answers "Start of list found where not
//     expected". An empty body decodes as {} (AWS itself answers an empty
//     JSON body with a bare SerializationException, kinesalite
//     test/connection.js; a server that wants that checks len(body) first).
//   - A member of the wrong type answers SerializationException with the
//     Coral text, e.g. "class java.lang.Boolean can not be converted to an
//     String" or "Start of structure or map found where not expected.".
//     When several members are wrong, the first one in body order is
//     reported; a syntax error anywhere wins over a type error, because AWS
//     parses the whole document before it binds it.
//   - Integer members accept any JSON number: fractions are floored and
//     values out of range are clamped (kinesalite: Math.floor, Math.min).
//   - Blobs are base64 text in JSON with AWS's three checks and messages;
//     byte strings (or base64 text) in CBOR. Decoded blobs never alias the
//     request body. Several blobs may share one backing array (one
//     allocation for many records); each slice has cap == len, so an append
//     never writes into a neighbour.
//   - Strings with invalid UTF-8 get U+FFFD for each bad byte.
//   - Nesting deeper than maxDepth (1000, Jackson's default limit) is a
//     syntax error.
//
// Timestamps are described on the Timestamp type.
package awsproto
