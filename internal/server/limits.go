package server

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Limits on what one client can hold. Each has a Config field; zero there
// means the default here.
const (
	// DefaultMaxHeaderBytes bounds a request's header block (HTTP/1.1
	// request line and headers, or an HTTP/2 header list). net/http allows
	// 4 KiB of slack above it on HTTP/1.1 and answers 431 beyond; SDKs send
	// under 2 KiB.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxConnections bounds the open client connections, both ports
	// together. Connections beyond it are closed as soon as they are
	// accepted.
	DefaultMaxConnections = 10_000
	// DefaultBodyTimeout is how long a request body may take to arrive, and
	// a response to be taken, on top of the time MinBodyBytesPerSecond
	// allows for its size.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultMinBodyBytesPerSecond is the slowest transfer rate a body is
	// allowed once DefaultBodyTimeout has passed: a 16 MiB body may take
	// 30 s + 1024 s; a client trickling bytes is cut off after about 30 s.
	DefaultMinBodyBytesPerSecond = 16 << 10
	// DefaultIdleTimeout is how long a keep-alive connection may sit idle
	// between requests. It is longer than the SDKs' own idle timeouts (Go
	// 90 s, Java 60 s), so that a client never sends on a connection the
	// server is closing.
	DefaultIdleTimeout = 5 * time.Minute
	// readHeaderTimeout bounds the time to send the request line and
	// headers.
	readHeaderTimeout = 30 * time.Second
	// refusedLogInterval spaces the warnings about refused connections.
	refusedLogInterval = 10 * time.Second
)

// transferDeadline is when a transfer of n bytes that began at start must
// be done: grace plus n at rate bytes a second.
func transferDeadline(start time.Time, n int64, grace time.Duration, rate int64) time.Time {
	return start.Add(grace + time.Duration(n)*time.Second/time.Duration(rate))
}

// deadlineReader reads a request body with a read deadline that moves
// forward with every byte received: a body must arrive within BodyTimeout
// plus its size at MinBodyBytesPerSecond. http.Server.ReadTimeout would
// bound the whole request instead, which a SubscribeToShard stream outlives.
type deadlineReader struct {
	r     io.Reader
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  int64
	n     int64     // bytes read so far
	set   time.Time // the deadline last set
}

// deadlineStep is how far the deadline must have moved before it is set
// again. On HTTP/2 each change is a message to the connection's goroutine;
// at the default rate this sets it once every 16 KiB, and a body gets at
// most one second less than its due.
const deadlineStep = time.Second

func (d *deadlineReader) Read(p []byte) (int, error) {
	if dl := transferDeadline(d.start, d.n, d.grace, d.rate); dl.Sub(d.set) >= deadlineStep {
		// A writer without deadlines (a test's recorder) answers
		// ErrNotSupported; the body is then read without one.
		_ = d.rc.SetReadDeadline(dl)
		d.set = dl
	}
	n, err := d.r.Read(p)
	d.n += int64(n)
	return n, err
}

// isTimeout reports whether err is a read or write deadline passing.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// deadlineWriter sets a write deadline before each write of a response:
// BodyTimeout plus the write's size at MinBodyBytesPerSecond, so that a
// client that stops reading cannot hold a handler forever. net/http clears
// the deadline once the response is done. A streamed response keeps its
// own (eventWriter): on HTTP/2 a deadline that passes resets the stream
// even when nothing is being written.
type deadlineWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	grace time.Duration
	rate  int64
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.setDeadline(len(p))
	return d.ResponseWriter.Write(p)
}

// setDeadline allows n more bytes, from now.
func (d *deadlineWriter) setDeadline(n int) {
	_ = d.rc.SetWriteDeadline(transferDeadline(time.Now(), int64(n), d.grace, d.rate))
}

// Unwrap lets http.ResponseController reach the connection.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// connLimiter counts the open connections of every port a server has and
// refuses those beyond max.
type connLimiter struct {
	max  int64
	log  *slog.Logger
	open atomic.Int64

	mu struct {
		sync.Mutex
		refused    int64     // refused since the last warning
		lastWarned time.Time // when the last warning was logged
	}
}

// limitListener is a listener whose connections count against a
// connLimiter. Accept closes a connection over the limit at once and
// accepts the next: the client sees the connection closed and retries (the
// SDKs retry a closed connection), and the backlog keeps draining, rather
// than waiting unanswered in it.
type limitListener struct {
	net.Listener
	lim *connLimiter
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.lim.open.Add(1) <= l.lim.max {
			return &limitedConn{Conn: c, lim: l.lim}, nil
		}
		l.lim.open.Add(-1)
		c.Close()
		l.lim.refused()
	}
}

// refused counts a refused connection and logs a warning at most every
// refusedLogInterval.
func (l *connLimiter) refused() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.refused++
	if now := time.Now(); now.Sub(l.mu.lastWarned) >= refusedLogInterval {
		l.log.Warn("connection limit reached; closing new connections", "max-connections", l.max, "refused", l.mu.refused)
		l.mu.refused = 0
		l.mu.lastWarned = now
	}
}

// limitedConn gives its slot back when closed (once, however many times
// Close is called).
type limitedConn struct {
	net.Conn
	lim    *connLimiter
	closed atomic.Bool
}

// CloseWrite half-closes a TCP connection: net/http does so before it
// closes one whose request it did not read to the end (a 413, a 431), so
// that the client reads the answer instead of a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *limitedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.lim.open.Add(-1)
	}
	return c.Conn.Close()
}
