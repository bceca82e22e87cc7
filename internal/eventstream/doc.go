// Package eventstream encodes and decodes the AWS event-stream framing
// (media type application/vnd.amazon.eventstream). Kinesis SubscribeToShard
// answers with a body made of these messages: an initial-response event,
// then SubscribeToShardEvent events, and possibly an exception at the end.
//
// # Wire format
//
// A body is a sequence of self-delimiting messages. All integers are
// big-endian and both checksums are CRC-32/IEEE (the gzip polynomial):
//
//	+----------------+------------------+---------------+
//	| total_length 4 | headers_length 4 | prelude_crc 4 |   prelude (12 bytes)
//	+----------------+------------------+---------------+
//	| headers (headers_length bytes)                    |
//	| payload (total_length - headers_length - 16)      |
//	+---------------------------------------------------+
//	| message_crc 4                                     |
//	+---------------------------------------------------+
//
// total_length counts the whole message including both CRCs, so the
// smallest message (no headers, no payload) is 16 bytes. prelude_crc covers
// the first 8 bytes and message_crc covers every byte before it. Checking
// prelude_crc before believing the lengths means a corrupted length is
// caught before anything is allocated for it.
//
// Each header is
//
//	name_len u8 | name (1..255 bytes) | value_type u8 | value
//
// where the value depends on value_type: 0 boolean true and 1 boolean false
// (no bytes), 2 int8, 3 int16, 4 int32, 5 int64, 6 byte array and 7 UTF-8
// string (u16 length, then at most 32767 bytes), 8 timestamp (int64
// milliseconds since the Unix epoch) and 9 UUID (16 bytes). Kinesis only
// sends string headers: :message-type, :event-type or :exception-type,
// :content-type, and :error-code and :error-message on generic errors.
//
// # Limits
//
// A message is at most MaxMessageBytes (16 MiB) and its encoded headers at
// most MaxHeadersBytes (128 KiB), the limits the AWS SDK decoders apply; a
// header name is 1..255 bytes and a byte-array or string value at most
// MaxHeaderValueBytes (32767). The encoder refuses to produce a message
// outside these limits and the decoder refuses to accept one, so anything
// one side writes the other reads back byte for byte. A header name may
// appear only once per message (the smithy specification says MUST); both
// sides enforce that too.
//
// The specification (smithy docs/source-2.0/aws/amazon-eventstream.rst)
// writes byte arrays and strings as 1..32767 bytes; this package accepts
// and writes empty ones, as the AWS SDKs do.
package eventstream
