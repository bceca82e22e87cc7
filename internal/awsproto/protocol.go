package awsproto

import (
	"fmt"
	"strings"
)

// Protocol is a request/response body encoding.
type Protocol uint8

const (
	// JSON is AWS JSON 1.1 (requests in 1.0 are accepted too).
	JSON Protocol = iota + 1
	// CBOR is application/x-amz-cbor-1.1, the AWS Java SDKs' default for
	// Kinesis.
	CBOR
)

// Content types, as AWS spells them.
const (
	contentTypeJSON11 = "application/x-amz-json-1.1"
	contentTypeJSON10 = "application/x-amz-json-1.0"
	contentTypeCBOR11 = "application/x-amz-cbor-1.1"
)

// ParseContentType maps a request Content-Type to a protocol:
// application/x-amz-json-1.1 and application/x-amz-json-1.0 are JSON,
// application/x-amz-cbor-1.1 is CBOR. Parameters (";charset=...") and case
// are ignored. Anything else, including plain application/json (which AWS
// answers with a legacy Coral envelope), reports ok=false.
func ParseContentType(ct string) (Protocol, bool) {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	switch {
	case strings.EqualFold(ct, contentTypeJSON11), strings.EqualFold(ct, contentTypeJSON10):
		return JSON, true
	case strings.EqualFold(ct, contentTypeCBOR11):
		return CBOR, true
	}
	return 0, false
}

// ContentType is the Content-Type that responses in p carry. JSON
// responses always say 1.1, also to 1.0 requests: SDKs do not check it.
func (p Protocol) ContentType() string {
	switch p {
	case JSON:
		return contentTypeJSON11
	case CBOR:
		return contentTypeCBOR11
	}
	panic(fmt.Sprintf("awsproto: unknown protocol %d", uint8(p)))
}

// String names the protocol for logs.
func (p Protocol) String() string {
	switch p {
	case JSON:
		return "json"
	case CBOR:
		return "cbor"
	}
	return fmt.Sprintf("Protocol(%d)", uint8(p))
}
