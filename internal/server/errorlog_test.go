package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestErrorLogLevels: net/http's lines about a client's faults are debug,
// a recovered handler panic is an error (also on the TLS port, whose log
// was all debug before), anything else a warning.
func TestErrorLogLevels(t *testing.T) {
	for _, tc := range []struct {
		line, level string
	}{
		{"http2: server connection error from 127.0.0.1:1234: connection error: COMPRESSION_ERROR", "DEBUG"},
		{"http: TLS handshake error from 127.0.0.1:1234: EOF", "DEBUG"},
		{"http: URL query contains semicolon, which is no longer a supported separator", "DEBUG"},
		{"http: panic serving 127.0.0.1:1234: boom\ngoroutine 1 [running]:", "ERROR"},
		{"http2: panic serving 127.0.0.1:1234: boom", "ERROR"},
		{"http: superfluous response.WriteHeader call from x (y:1)", "WARN"},
		{"http: Accept error: too many open files; retrying in 5ms", "WARN"},
	} {
		var buf bytes.Buffer
		l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		newErrorLog(l).Print(tc.line)
		if !strings.Contains(buf.String(), "level="+tc.level) {
			t.Errorf("%q logged as %q, want level %s", tc.line, buf.String(), tc.level)
		}
	}
}
