package awsproto

import "testing"

func TestParseContentType(t *testing.T) {
	tests := []struct {
		ct   string
		want Protocol
		ok   bool
	}{
		{"application/x-amz-json-1.1", JSON, true},
		{"application/x-amz-json-1.0", JSON, true},
		{"application/x-amz-cbor-1.1", CBOR, true},
		{"Application/X-Amz-Json-1.1", JSON, true},
		{"APPLICATION/X-AMZ-CBOR-1.1", CBOR, true},
		{"application/x-amz-json-1.1; charset=utf-8", JSON, true},
		{" application/x-amz-cbor-1.1 ;charset=binary", CBOR, true},
		{"application/json", 0, false},
		{"application/cbor", 0, false},
		{"application/x-amz-cbor-1.0", 0, false},
		{"application/x-amz-json-1.2", 0, false},
		{"", 0, false},
		{"text/plain", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseContentType(tt.ct)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseContentType(%q) = %v, %v; want %v, %v", tt.ct, got, ok, tt.want, tt.ok)
		}
	}
}

func TestContentType(t *testing.T) {
	if got := JSON.ContentType(); got != "application/x-amz-json-1.1" {
		t.Errorf("JSON.ContentType() = %q", got)
	}
	if got := CBOR.ContentType(); got != "application/x-amz-cbor-1.1" {
		t.Errorf("CBOR.ContentType() = %q", got)
	}
	for _, p := range []Protocol{JSON, CBOR} {
		if got, ok := ParseContentType(p.ContentType()); !ok || got != p {
			t.Errorf("ParseContentType(%v.ContentType()) = %v, %v", p, got, ok)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("ContentType of an unknown protocol did not panic")
		}
	}()
	Protocol(0).ContentType()
}
