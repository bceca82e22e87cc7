package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServerLimits checks the server's limits on what one client may
// send or hold, on the real binary: header size (431), body size (413
// with an AWS error in the request's protocol), bodies that break off
// (400, never an empty 200), and --max-connections.
func TestServerLimits(t *testing.T) {
	srv := startServer(t)
	hc := rawHTTPClient(t)

	t.Run("Headers", func(t *testing.T) {
		for _, tc := range []struct {
			size   int
			status int
		}{{60 << 10, http.StatusOK}, {80 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
			req, _ := http.NewRequest(http.MethodPost, srv.endpoint()+"/", strings.NewReader(`{}`))
			req.Header.Set("Content-Type", ctJSON)
			req.Header.Set("X-Amz-Target", targetBase+"ListStreams")
			req.Header.Set("X-Pad", strings.Repeat("h", tc.size))
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("%d bytes of headers: %v", tc.size, err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%d bytes of headers: status %d, want %d", tc.size, resp.StatusCode, tc.status)
			}
		}
	})

	t.Run("BodyTooLarge", func(t *testing.T) {
		for _, ct := range []string{ctJSON, ctCBOR} {
			for _, chunked := range []bool{false, true} {
				const size = 16<<20 + 1
				var body io.Reader = &repeatReader{b: ' ', n: size}
				req, _ := http.NewRequest(http.MethodPost, srv.endpoint()+"/", body)
				if !chunked {
					req.ContentLength = size
				}
				req.Header.Set("Content-Type", ct)
				req.Header.Set("X-Amz-Target", targetBase+"PutRecord")
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatalf("%s chunked=%v: %v", ct, chunked, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				r := rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
				const msg = "Request body is larger than 16777216 bytes."
				if ct == ctCBOR {
					expectCBORError(t, r, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", msg)
				} else if got := expectJSONError(t, r, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException"); got != msg {
					t.Errorf("message %q, want %q", got, msg)
				}
				if resp.Header.Get("X-Amzn-ErrorType") != "RequestEntityTooLargeException" {
					t.Errorf("X-Amzn-ErrorType %q", resp.Header.Get("X-Amzn-ErrorType"))
				}
			}
		}
	})

	t.Run("BrokenBody", func(t *testing.T) {
		head := "POST / HTTP/1.1\r\nHost: sluice\r\nContent-Type: " + ctJSON + "\r\nX-Amz-Target: " + targetBase + "ListStreams\r\n"
		for name, raw := range map[string]string{
			"bad chunk size": head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
			"cut short":      head + "Content-Length: 50\r\n\r\n{}",
		} {
			c, err := net.DialTimeout("tcp", srv.addr, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(30 * time.Second))
			io.WriteString(c, raw)
			c.(*net.TCPConn).CloseWrite()
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				c.Close()
				t.Fatalf("%s: %v", name, err)
			}
			b, _ := io.ReadAll(resp.Body)
			c.Close()
			expectJSONError(t, rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}, http.StatusBadRequest, "MalformedHttpRequestException")
		}
	})

	t.Run("MaxConnections", func(t *testing.T) {
		srv := startServer(t, "--max-connections", "3")
		// Three connections, each shown to be served. The server may not
		// yet have seen the start-up health check's connection close, so
		// a refusal is retried.
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for len(held) < 3 {
			c, err := healthzServed(t, srv.addr)
			if err != nil {
				t.Fatalf("connection %d: %v", len(held)+1, err)
			}
			held = append(held, c)
		}
		// The fourth is closed by the server.
		c, err := net.DialTimeout("tcp", srv.addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("a fourth connection was kept open over --max-connections 3")
		}
		c.Close()
		// A closed one frees its slot: a new connection is served once
		// the server has seen the close.
		held[0].Close()
		c, err = healthzServed(t, srv.addr)
		if err != nil {
			t.Fatalf("no connection served after one was closed: %v", err)
		}
		held = append(held[1:], c)
	})
}

// healthzServed retries healthzOn until a connection is served, while the
// server is releasing closed connections' slots.
func healthzServed(t *testing.T, addr string) (net.Conn, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := healthzOn(addr)
		if err == nil || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(20 * time.Millisecond) // the server noticing a close
	}
}

// healthzOn opens a connection, asks GET /healthz on it and returns the
// connection, still open, if it was answered.
func healthzOn(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: sluice\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, []byte("ok\n")) {
		c.Close()
		return nil, fmt.Errorf("healthz: %d %q", resp.StatusCode, b)
	}
	return c, nil
}
