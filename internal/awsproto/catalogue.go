package awsproto

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// Exception is one entry of the exception catalogue (errors.json).
type Exception struct {
	// Type is the exception name clients see in __type and X-Amzn-ErrorType.
	Type string `json:"type"`
	// Status is the HTTP status AWS answers with.
	Status int `json:"status"`
	// Retryable reports whether the SDKs' standard retry strategy retries
	// the error (a throttle code, or a 5xx status).
	Retryable bool `json:"retryable"`
	// Services lists where the exception occurs: kinesis, firehose,
	// kinesisanalytics, dynamodb, protocol.
	Services []string `json:"services"`
	// MessageKey is the body member carrying the message: "message", or
	// "Message" for SerializationException.
	MessageKey string `json:"messageKey,omitempty"`
	// Description says when the exception is answered.
	Description string `json:"description"`
}

//go:embed errors.json
var catalogueJSON []byte

// catalogue is loaded once at init and read-only afterwards.
var catalogue = mustLoadCatalogue(catalogueJSON)

var (
	knownServices = []string{"kinesis", "firehose", "kinesisanalytics", "dynamodb", "protocol"}
	knownStatuses = []int{400, 403, 404, 408, 409, 413, 429, 500, 502, 503, 504}
)

// mustLoadCatalogue parses and checks errors.json. Bad data is a
// programmer error, so it panics with the offending entry.
func mustLoadCatalogue(data []byte) map[string]Exception {
	var file struct {
		Comment    []string    `json:"_comment"`
		Exceptions []Exception `json:"exceptions"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		panic(fmt.Sprintf("awsproto: errors.json: %v", err))
	}
	if len(file.Exceptions) == 0 {
		panic("awsproto: errors.json: no exceptions")
	}
	m := make(map[string]Exception, len(file.Exceptions))
	for i, e := range file.Exceptions {
		if err := checkException(e); err != nil {
			panic(fmt.Sprintf("awsproto: errors.json entry %d (%q): %v", i, e.Type, err))
		}
		if _, dup := m[e.Type]; dup {
			panic(fmt.Sprintf("awsproto: errors.json entry %d: duplicate type %q", i, e.Type))
		}
		if e.MessageKey == "" {
			e.MessageKey = "message"
		}
		m[e.Type] = e
	}
	return m
}

func checkException(e Exception) error {
	if !isExceptionName(e.Type) {
		return fmt.Errorf("type %q is not an exception name", e.Type)
	}
	if !slices.Contains(knownStatuses, e.Status) {
		return fmt.Errorf("status %d is not one AWS uses", e.Status)
	}
	if e.Status >= 500 && !e.Retryable {
		return fmt.Errorf("status %d is retried by every SDK but retryable is false", e.Status)
	}
	if len(e.Services) == 0 {
		return fmt.Errorf("no services")
	}
	for _, s := range e.Services {
		if !slices.Contains(knownServices, s) {
			return fmt.Errorf("unknown service %q", s)
		}
	}
	switch e.MessageKey {
	case "", "message", "Message":
	default:
		return fmt.Errorf("messageKey %q is neither message nor Message", e.MessageKey)
	}
	if e.Description == "" {
		return fmt.Errorf("no description")
	}
	return nil
}

// isExceptionName reports whether s looks like an AWS error code:
// an upper-case letter followed by letters and digits.
func isExceptionName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// LookupException returns the catalogue entry for an exception name.
func LookupException(typ string) (Exception, bool) {
	e, ok := catalogue[typ]
	if ok {
		e.Services = slices.Clone(e.Services)
	}
	return e, ok
}

// Exceptions returns every catalogue entry, sorted by type. The slice is
// the caller's.
func Exceptions() []Exception {
	out := make([]Exception, 0, len(catalogue))
	for _, e := range catalogue {
		e.Services = slices.Clone(e.Services)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}
