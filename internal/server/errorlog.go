package server

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// clientCaused are the beginnings of net/http's log lines about what a
// client did wrong: a bad TLS handshake, HTTP/2 garbage, a query with
// semicolons. Any client can cause one per connection, so they are
// logged at debug level rather than as warnings.
var clientCaused = []string{
	"http: TLS handshake error from",
	"http: URL query contains semicolon",
	"http2: server connection error from",
	"http2: server closing client connection",
	"http2: server: error reading preface from client",
	"http2: server rejecting conn",
	"http2: timeout waiting for SETTINGS frames",
	"timeout waiting for SETTINGS frames",
	"protocol error: received",
}

// newErrorLog returns the http.Server ErrorLog: a handler's panic (which
// net/http recovers) is an error, a client's fault is debug, anything
// else a warning.
func newErrorLog(l *slog.Logger) *log.Logger {
	return log.New(errorLogWriter{l}, "", 0)
}

type errorLogWriter struct{ log *slog.Logger }

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\n")
	level := slog.LevelWarn
	switch {
	case strings.Contains(msg, "panic serving"):
		level = slog.LevelError
	case hasAnyPrefix(msg, clientCaused):
		level = slog.LevelDebug
	}
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
