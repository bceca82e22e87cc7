package e2e

// The protocol fuzzer's raw TCP cases: malformed HTTP/1.1 (framing,
// request lines, headers, lengths, chunking, pipelining) and HTTP/2
// prior-knowledge garbage, which no HTTP client library would send.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	// pfRawTimeout bounds one raw exchange: the server must answer and
	// close within it once the client has half-closed.
	pfRawTimeout = 30 * time.Second
	pfH2Preface  = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
)

// pfRaw is one raw exchange.
type pfRawCase struct {
	variant string
	data    []byte
	// answer: the case must get at least one answer from the handler
	// (a well-formed request).
	answer bool
}

// rawHead serializes a request's head as a client would.
func pfRawHead(method, path, version string, headers [][2]string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", method, path, version)
	for _, h := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// genRaw makes a raw case from a generated request.
func (f *pfFuzzer) genRaw(rng *rand.Rand, tg *pfTarget) pfRawCase {
	r := f.gen(rng, tg)
	for r.op == "SubscribeToShard" || r.bodyLen() > 1<<20 {
		// A subscription streams until the client goes; a half-closed
		// pipelined one would never end. Big bodies belong to the HTTP
		// cases.
		r = f.gen(rng, tg)
	}
	body := r.body
	headers := [][2]string{{"Host", "127.0.0.1"}, {"Content-Type", pfContentType(r.proto)}}
	if r.target != "" {
		headers = append(headers, [2]string{"X-Amz-Target", r.target})
	}
	headers = append(headers, [2]string{"X-Amz-Date", time.Now().UTC().Format("20060102T150405Z")},
		[2]string{"Authorization", fakeSigV4(time.Now())})
	withCL := func(cl string) [][2]string {
		return append(append([][2]string{}, headers...), [2]string{"Content-Length", cl})
	}
	clean := func() []byte {
		return append(pfRawHead("POST", "/", "HTTP/1.1", withCL(strconv.Itoa(len(body)))), body...)
	}
	c := pfRawCase{}
	switch rng.IntN(19) {
	case 0:
		c.variant, c.data, c.answer = "clean", clean(), true
	case 1:
		c.variant = "head-bytes"
		head := pfRawHead("POST", "/", "HTTP/1.1", withCL(strconv.Itoa(len(body))))
		c.data = append(pfMutateBytes(rng, head, nil), body...)
	case 2:
		c.variant = "lf-only"
		c.data = bytes.ReplaceAll(clean(), []byte("\r\n"), []byte("\n"))
	case 3:
		c.variant = "cl-more"
		c.data = append(pfRawHead("POST", "/", "HTTP/1.1", withCL(strconv.Itoa(len(body)+1+rng.IntN(100)))), body...)
	case 4:
		c.variant = "cl-less"
		c.data = append(pfRawHead("POST", "/", "HTTP/1.1", withCL(strconv.Itoa(max(0, len(body)-1-rng.IntN(10))))), body...)
	case 5:
		c.variant = "cl-bad"
		cl := pfPick(rng, "-1", "abc", "1e3", " 5", "5, 5", "5,6", "99999999999999999999", "0x10", "+5", "", "18446744073709551616")
		c.data = append(pfRawHead("POST", "/", "HTTP/1.1", withCL(cl)), body...)
	case 6:
		c.variant = "cl-dup"
		h := withCL(strconv.Itoa(len(body)))
		h = append(h, [2]string{"Content-Length", pfPick(rng, strconv.Itoa(len(body)), strconv.Itoa(len(body)+1))})
		c.data = append(pfRawHead("POST", "/", "HTTP/1.1", h), body...)
	case 7:
		c.variant = "chunked"
		c.data = append(pfRawHead("POST", "/", "HTTP/1.1", append(headers, [2]string{"Transfer-Encoding", "chunked"})),
			pfChunk(rng, body, false)...)
		c.answer = true
	case 8:
		c.variant = "chunked-bad"
		c.data = append(pfRawHead("POST", "/", "HTTP/1.1", append(headers, [2]string{"Transfer-Encoding", "chunked"})),
			pfChunk(rng, body, true)...)
	case 9:
		c.variant = "te"
		te := pfPick(rng, "gzip, chunked", "chunked, chunked", "identity", "Chunked", "chunked;q=1", "xchunked", "\tchunked")
		h := append(withCL(strconv.Itoa(len(body))), [2]string{"Transfer-Encoding", te})
		c.data = append(pfRawHead("POST", "/", "HTTP/1.1", h), pfChunk(rng, body, false)...)
	case 10:
		c.variant = "version"
		v := pfPick(rng, "HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/11", "HTTP/1.1 x", "HTTP/3.0", "http/1.1", "HTTP/1.01")
		c.data = append(pfRawHead("POST", "/", v, withCL(strconv.Itoa(len(body)))), body...)
	case 11:
		c.variant = "request-line"
		line := pfPick(rng, "POST * HTTP/1.1", "POST http://127.0.0.1/ HTTP/1.1", "POST /%zz HTTP/1.1", "post / HTTP/1.1",
			"POST  / HTTP/1.1", "POST /\x00 HTTP/1.1", "POST", "\r\nPOST / HTTP/1.1", "CONNECT 127.0.0.1:1 HTTP/1.1",
			"POST /"+strings.Repeat("a", 80<<10)+" HTTP/1.1", "POST /\xff HTTP/1.1", "GET /healthz?"+strings.Repeat("q=1&", 100)+" HTTP/1.1")
		var b bytes.Buffer
		b.WriteString(line + "\r\n")
		for _, h := range withCL(strconv.Itoa(len(body))) {
			b.WriteString(h[0] + ": " + h[1] + "\r\n")
		}
		b.WriteString("\r\n")
		c.data = append(b.Bytes(), body...)
	case 12:
		c.variant = "host"
		h := withCL(strconv.Itoa(len(body)))[1:]
		switch rng.IntN(4) {
		case 0: // none
		case 1:
			h = append(h, [2]string{"Host", "a"}, [2]string{"Host", "b"})
		case 2:
			h = append(h, [2]string{"Host", pfPick(rng, "a b", "[::1", "a/b", "\x01", strings.Repeat("h", 10000))})
		default:
			h = append(h, [2]string{"Host", ""})
		}
		c.data = append(pfRawHead("POST", "/", "HTTP/1.1", h), body...)
	case 13:
		c.variant = "header-syntax"
		bad := pfPick(rng, "X-Bad Header: v", "X-Fold: a\r\n b", ": novalue", "NoColon", "X-Nul: a\x00b", "X-Del: \x7f",
			"X-High: \xff\xfe", "X-Long: "+strings.Repeat("l", 80<<10), "X-Tab\t: v", "Content-Type : application/x-amz-json-1.1",
			"X-Amz-Target:\t"+r.target, "X-Amz-Target: "+r.target+"\x00")
		head := pfRawHead("POST", "/", "HTTP/1.1", withCL(strconv.Itoa(len(body))))
		head = append(head[:len(head)-2], []byte(bad+"\r\n\r\n")...)
		c.data = append(head, body...)
	case 14:
		c.variant = "expect"
		h := append(withCL(strconv.Itoa(len(body))), [2]string{"Expect", pfPick(rng, "100-continue", "bogus", "100-Continue")})
		c.data = append(pfRawHead("POST", "/", "HTTP/1.1", h), body...)
	case 15:
		c.variant, c.answer = "pipeline", true
		for range 2 + rng.IntN(3) {
			c.data = append(c.data, clean()...)
		}
		if rng.IntN(2) == 0 {
			c.data = append(c.data, pfRandBytes(rng, 1+rng.IntN(64))...)
		}
	case 16:
		c.variant = "garbage"
		c.data = pfRandBytes(rng, 1+rng.IntN(4096))
		if rng.IntN(2) == 0 {
			c.data = append(c.data, "\r\n\r\n"...)
		}
	case 17:
		c.variant = "h2-garbage"
		c.data = append([]byte(pfH2Preface), pfRandBytes(rng, rng.IntN(2048))...)
	default:
		c.variant = "h2-frames"
		c.data = append([]byte(pfH2Preface), pfH2Frames(rng, r)...)
	}
	return c
}

// pfChunk encodes body in chunked transfer coding: random chunk sizes,
// sometimes extensions and trailers; broken=true damages it.
func pfChunk(rng *rand.Rand, body []byte, broken bool) []byte {
	var b bytes.Buffer
	for rest := body; len(rest) > 0; {
		n := 1 + rng.IntN(len(rest))
		fmt.Fprintf(&b, "%x", n)
		if rng.IntN(8) == 0 {
			b.WriteString(";ext=1")
		}
		b.WriteString("\r\n")
		b.Write(rest[:n])
		b.WriteString("\r\n")
		rest = rest[n:]
	}
	b.WriteString("0\r\n")
	if rng.IntN(6) == 0 {
		b.WriteString("X-Trailer: t\r\n")
	}
	b.WriteString("\r\n")
	out := b.Bytes()
	if !broken {
		return out
	}
	switch rng.IntN(5) {
	case 0:
		return append([]byte(pfPick(rng, "zz", "ffffffffffffffffffff", "-1", "0x5", " 5"))[:], append([]byte("\r\n"), out...)...)
	case 1:
		return out[:rng.IntN(len(out))] // cut off
	case 2:
		return bytes.Replace(out, []byte("\r\n"), []byte("\n"), 1)
	case 3:
		return append([]byte("1000\r\nshort\r\n"), out...) // a chunk longer than its data
	default:
		return pfMutateBytes(rng, out, nil)
	}
}

// pfH2Frames makes HTTP/2 frames: a SETTINGS frame, then frames of random
// type, flags, stream and payload, sometimes a HEADERS frame with random
// HPACK bytes.
func pfH2Frames(rng *rand.Rand, r *pfReq) []byte {
	frame := func(typ, flags byte, stream uint32, payload []byte) []byte {
		var h [9]byte
		h[0], h[1], h[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
		h[3], h[4] = typ, flags
		binary.BigEndian.PutUint32(h[5:], stream)
		return append(h[:], payload...)
	}
	out := frame(0x4, 0, 0, nil) // empty SETTINGS
	for range 1 + rng.IntN(6) {
		switch rng.IntN(4) {
		case 0:
			out = append(out, frame(0x1, 0x4, 1, pfRandBytes(rng, rng.IntN(256)))...) // HEADERS, END_HEADERS
		case 1:
			out = append(out, frame(0x0, byte(rng.IntN(2)), 1, r.body[:min(len(r.body), 16000)])...) // DATA
		case 2:
			out = append(out, frame(byte(rng.IntN(12)), byte(rng.Uint32()), rng.Uint32()&0x7fffffff, pfRandBytes(rng, rng.IntN(64)))...)
		default:
			out = append(out, pfRandBytes(rng, rng.IntN(32))...)
		}
	}
	return out
}

// raw runs one raw case against tg and checks the answers.
func (f *pfFuzzer) raw(ctx context.Context, rng *rand.Rand, tg *pfTarget) (label, problem string, dump func(io.Writer)) {
	c := f.genRaw(rng, tg)
	addr := tg.srv.addr
	if tg.tlsAddr != "" && rng.IntN(10) == 0 {
		// Not TLS, or TLS cut short, on the TLS port: the server must let
		// go of the connection.
		addr = tg.tlsAddr
		c = pfRawCase{variant: "tls-garbage", data: pfRandBytes(rng, rng.IntN(1024))}
		if rng.IntN(2) == 0 {
			// A handshake record header and a ClientHello's start.
			c.data = append([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, c.data...)
		}
	}
	var got []byte
	var readErr error
	dump = func(w io.Writer) {
		fmt.Fprintf(w, "raw %s to %s\n--- sent (Go quoted):\n%q\n--- received (err %v):\n%q\n", c.variant, tg.name, c.data, readErr, truncate(got, 8192))
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return "raw cancelled", "", dump
		}
		return "raw dial", fmt.Sprintf("dial: %v", err), dump
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(pfRawTimeout))
	// The server may close before it has read everything (a 431, a bad
	// request line): a failed write is not a finding.
	_, _ = conn.Write(c.data)
	_ = conn.(*net.TCPConn).CloseWrite()
	got, readErr = io.ReadAll(io.LimitReader(conn, pfMaxResponse))
	var ne net.Error
	if errors.As(readErr, &ne) && ne.Timeout() {
		return "raw hang", fmt.Sprintf("raw %s: the server neither answered nor closed within %v", c.variant, pfRawTimeout), dump
	}
	label, problem = f.checkRaw(c, got)
	return label, problem, dump
}

// checkRaw checks the bytes a raw case got back: HTTP/1.x answers from
// the handler (AWS shaped) or from net/http (400, 431, 417, 501, 505),
// HTTP/2 frames for HTTP/2 cases, or nothing for a request that never
// ended.
func (f *pfFuzzer) checkRaw(c pfRawCase, got []byte) (string, string) {
	label := "raw " + c.variant
	if len(got) == 0 {
		if c.answer {
			return label, fmt.Sprintf("raw %s: no answer to a well-formed request", c.variant)
		}
		return label + " no-answer", ""
	}
	if !bytes.HasPrefix(got, []byte("HTTP/1.")) {
		if strings.HasPrefix(c.variant, "h2") || c.variant == "tls-garbage" {
			return label + " binary", ""
		}
		return label, fmt.Sprintf("raw %s: an answer that is not HTTP/1.x: %q", c.variant, truncate(got, 100))
	}
	br := bufio.NewReader(bytes.NewReader(got))
	handled := 0
	for n := 0; ; n++ {
		if _, err := br.Peek(1); err != nil {
			break
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return label, fmt.Sprintf("raw %s: answer %d does not parse: %v", c.variant, n, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return label, fmt.Sprintf("raw %s: answer %d body: %v", c.variant, n, err)
		}
		status := resp.StatusCode
		label = fmt.Sprintf("raw %s %d", c.variant, status)
		if status >= 100 && status < 200 {
			continue
		}
		if resp.Header.Get("x-amzn-RequestId") == "" {
			// net/http's own answers to what it could not parse.
			switch status {
			case 400, 417, 431, 501, 505:
				// 501 (unknown transfer coding) and 505 (HTTP version) are
				// what RFC 9112 §6.1 and RFC 9110 §15.6.6 prescribe.
				continue
			}
			return label, fmt.Sprintf("raw %s: status %d without a request id: %q", c.variant, status, truncate(body, 200))
		}
		handled++
		if status >= 500 {
			return label, fmt.Sprintf("raw %s: status %d from the handler: %q", c.variant, status, truncate(body, 300))
		}
		if p := f.checkRawAWS(resp, body); p != "" {
			return label, fmt.Sprintf("raw %s: %s", c.variant, p)
		}
	}
	if c.answer && handled == 0 {
		return label, fmt.Sprintf("raw %s: no answer from the handler to a well-formed request", c.variant)
	}
	return label, ""
}

// checkRawAWS checks a handler's answer to a raw request.
func (f *pfFuzzer) checkRawAWS(resp *http.Response, body []byte) string {
	ct := resp.Header.Get("Content-Type")
	proto := pfProtoOf(ct)
	switch {
	case resp.StatusCode == http.StatusOK && ct == "":
		return fmt.Sprintf("an empty 200 (%d bytes, no Content-Type)", len(body))
	case proto == "":
		if resp.StatusCode == http.StatusOK && ct != "text/plain; charset=utf-8" {
			return fmt.Sprintf("200 with Content-Type %q", ct)
		}
		return "" // XML answers, /healthz
	}
	m, err := pfDecodeMap(proto, body)
	if err != nil {
		return fmt.Sprintf("%d body is not a %s map: %v: %q", resp.StatusCode, proto, err, truncate(body, 200))
	}
	if resp.StatusCode == http.StatusOK {
		return ""
	}
	typ, _ := m["__type"].(string)
	if ex, ok := f.catalogue[typ]; !ok || ex.Status != resp.StatusCode || resp.Header.Get("X-Amzn-ErrorType") != typ {
		return fmt.Sprintf("%d error %q (X-Amzn-ErrorType %q) does not match the catalogue", resp.StatusCode, typ, resp.Header.Get("X-Amzn-ErrorType"))
	}
	return ""
}
