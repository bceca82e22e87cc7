package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/sluicedata/sluice/internal/eventstream"
)

// Flow control of the subscribers' HTTP/2 connections. The KCL's client
// (Netty, as the AWS SDK for Java configures it for the KCL) gives each
// stream a 512 KiB window and returns credit once half of a window has
// been consumed. net/http's client returns it every 4 KiB read, a
// WINDOW_UPDATE per event or so, each a write for the load generator and a
// frame for the server to read: costs of the client, not of the server
// under test. The connection's credit goes back as often as a stream's,
// every 256 KiB, though its window is larger: kinesis-mock stops sending on
// a connection whose credit comes back only at half of a 4 MiB window.
const (
	h2StreamWindow = 512 << 10
	h2ConnWindow   = 4 << 20
	h2CreditEvery  = h2StreamWindow / 2
	// h2DefaultWindow is HTTP/2's initial window (RFC 9113, 6.9.2),
	// which the connection's window starts from.
	h2DefaultWindow = 65535
	// h2MaxErrorBody bounds the body of an answer other than 200 kept.
	h2MaxErrorBody = 1 << 20
	// h2HeaderTableSize is the HPACK decoder's dynamic table size
	// (HTTP/2's default).
	h2HeaderTableSize = 4096
	// h2WriteTimeout bounds one flush of frames.
	h2WriteTimeout = 10 * time.Second
)

// h2Pool is one consumer's HTTP/2 connections (h2c, prior knowledge, for
// http://; TLS with ALPN h2 for https://). A connection carries as many
// subscriptions as its server allows at once; another is dialled when none
// has room. Each connection's frames are read by one goroutine, which also
// decodes every event and hands it to its subscription's handler, so an
// event is not passed between goroutines on its way.
type h2Pool struct {
	c         *client
	frameSize int // SETTINGS_MAX_FRAME_SIZE the subscribers accept

	dialMu sync.Mutex     // held while dialling
	loops  sync.WaitGroup // the connections' reading goroutines
	mu     sync.Mutex
	conns  []*h2Conn
	closed bool
}

var errClientClosed = errors.New("client closed")

func (c *client) h2Pool(frameSize int) *h2Pool { return &h2Pool{c: c, frameSize: frameSize} }

// close closes every connection, their streams ending with an error, and
// waits for their reading goroutines to return. No stream may be opening.
func (p *h2Pool) close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, hc := range conns {
		hc.fail(errClientClosed)
	}
	p.loops.Wait()
}

// open sends a POST of body with req's headers on a connection with room
// and returns its stream. onEvent is called with each event-stream message
// of a 200 answer, on the connection's goroutine, until it returns an
// error, the stream ends or the stream is cancelled.
func (p *h2Pool) open(ctx context.Context, req *http.Request, body []byte, onEvent func(*eventstream.Message) error) (*h2Stream, error) {
	for {
		hc, err := p.conn(ctx)
		if err != nil {
			return nil, err
		}
		st, full, err := hc.open(req, body, onEvent)
		if !full {
			return st, err
		}
	}
}

// conn returns a live connection with room for a stream, dialling one if
// there is none. Dials are made one at a time, so subscriptions that
// start together share one connection.
func (p *h2Pool) conn(ctx context.Context) (*h2Conn, error) {
	if hc, err := p.pick(); hc != nil || err != nil {
		return hc, err
	}
	p.dialMu.Lock()
	defer p.dialMu.Unlock()
	if hc, err := p.pick(); hc != nil || err != nil {
		return hc, err // another caller dialled meanwhile
	}
	hc, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		hc.fail(errClientClosed)
		return nil, errClientClosed
	}
	p.conns = append(p.conns, hc)
	return hc, nil
}

// pick returns a live connection with room, or nil, dropping dead ones.
func (p *h2Pool) pick() (*h2Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errClientClosed
	}
	live := p.conns[:0]
	var pick *h2Conn
	for _, hc := range p.conns {
		if hc.dead() {
			continue
		}
		live = append(live, hc)
		if pick == nil && hc.hasRoom() {
			pick = hc
		}
	}
	clear(p.conns[len(live):])
	p.conns = live
	return pick, nil
}

// dial opens a connection and starts its reading goroutine.
func (p *h2Pool) dial(ctx context.Context) (*h2Conn, error) {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	var nc net.Conn
	var err error
	scheme := p.c.endpoint.Scheme
	if scheme == "https" {
		tc, terr := (&tls.Dialer{NetDialer: d, Config: p.c.tlsConfig("h2")}).DialContext(ctx, "tcp", p.c.addr)
		if terr == nil && tc.(*tls.Conn).ConnectionState().NegotiatedProtocol != "h2" {
			tc.Close()
			terr = fmt.Errorf("%s did not offer HTTP/2 (ALPN h2)", p.c.addr)
		}
		nc, err = tc, terr
	} else {
		nc, err = d.DialContext(ctx, "tcp", p.c.addr)
	}
	if err != nil {
		return nil, err
	}
	hc := &h2Conn{
		nc:         nc,
		bw:         bufio.NewWriterSize(nc, 16<<10),
		scheme:     scheme,
		authority:  p.c.endpoint.Host,
		nextID:     1,
		maxStreams: 100, // until the server's SETTINGS say (RFC 9113 recommends at least 100)
		peerFrame:  16384,
		streams:    make(map[uint32]*h2Stream),
	}
	hc.fr = http2.NewFramer(hc.bw, bufio.NewReaderSize(nc, 64<<10))
	hc.fr.SetMaxReadFrameSize(uint32(p.frameSize))
	hc.fr.ReadMetaHeaders = hpack.NewDecoder(h2HeaderTableSize, nil)
	hc.fr.MaxHeaderListSize = 1 << 20
	hc.henc = hpack.NewEncoder(&hc.hbuf)
	if _, err := hc.bw.WriteString(http2.ClientPreface); err != nil {
		nc.Close()
		return nil, err
	}
	err = hc.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2StreamWindow},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: uint32(p.frameSize)},
	)
	if err == nil {
		err = hc.fr.WriteWindowUpdate(0, h2ConnWindow-h2DefaultWindow)
	}
	if err == nil {
		err = hc.flush()
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	p.loops.Go(hc.readLoop)
	return hc, nil
}

// h2Conn is one HTTP/2 connection of a pool.
type h2Conn struct {
	nc        net.Conn
	scheme    string
	authority string
	fr        *http2.Framer // reads on readLoop only; writes under wmu

	// wmu orders writes: frames, and stream ids, which must rise on the
	// wire in the order streams open.
	wmu  sync.Mutex
	bw   *bufio.Writer
	henc *hpack.Encoder
	hbuf bytes.Buffer

	mu         sync.Mutex
	streams    map[uint32]*h2Stream
	nextID     uint32
	maxStreams uint32 // the server's SETTINGS_MAX_CONCURRENT_STREAMS
	peerFrame  uint32 // the server's SETTINGS_MAX_FRAME_SIZE
	goingAway  bool
	err        error // why the connection ended; set once
	failed     bool  // its streams were ended

	// Receive credit consumed but not yet returned to the server; read
	// loop only.
	connUnsent uint32
}

func (hc *h2Conn) dead() bool {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	return hc.err != nil || hc.goingAway
}

func (hc *h2Conn) hasRoom() bool {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	return hc.roomLocked()
}

// roomLocked reports whether a stream may open now; hc.mu is held.
func (hc *h2Conn) roomLocked() bool {
	return hc.err == nil && !hc.goingAway && uint32(len(hc.streams)) < hc.maxStreams && hc.nextID < 1<<31-1
}

// open starts a stream; full reports a connection that had no room (or
// had died) before the request was sent, so another may take it.
func (hc *h2Conn) open(req *http.Request, body []byte, onEvent func(*eventstream.Message) error) (st *h2Stream, full bool, err error) {
	hc.wmu.Lock()
	defer hc.wmu.Unlock()
	hc.mu.Lock()
	if !hc.roomLocked() {
		hc.mu.Unlock()
		return nil, true, nil
	}
	st = &h2Stream{
		hc:      hc,
		id:      hc.nextID,
		onEvent: onEvent,
		header:  make(chan struct{}),
		done:    make(chan struct{}),
		window:  h2StreamWindow,
	}
	st.dec = eventstream.NewDecoder(&st.in)
	hc.nextID += 2
	hc.streams[st.id] = st
	frame := int(hc.peerFrame)
	hc.mu.Unlock()

	hc.hbuf.Reset()
	field := func(name, value string) { hc.henc.WriteField(hpack.HeaderField{Name: name, Value: value}) }
	field(":method", http.MethodPost)
	field(":scheme", hc.scheme)
	field(":authority", hc.authority)
	field(":path", "/")
	for name, values := range req.Header {
		for _, v := range values {
			field(strings.ToLower(name), v)
		}
	}
	field("content-length", strconv.Itoa(len(body)))
	block := hc.hbuf.Bytes()
	err = hc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id, BlockFragment: block[:min(len(block), frame)], EndHeaders: len(block) <= frame})
	for block = block[min(len(block), frame):]; err == nil && len(block) > 0; block = block[min(len(block), frame):] {
		err = hc.fr.WriteContinuation(st.id, len(block) <= frame, block[:min(len(block), frame)])
	}
	// The request bodies here (a SubscribeToShard input) are far below
	// HTTP/2's initial window of 65,535 bytes, so no send window is kept.
	for err == nil {
		n := min(len(body), frame)
		err = hc.fr.WriteData(st.id, n == len(body), body[:n])
		if body = body[n:]; len(body) == 0 {
			break
		}
	}
	if err == nil {
		err = hc.flush()
	}
	if err != nil {
		hc.failLocked(err)
		return nil, false, err
	}
	return st, false, nil
}

// write writes frames under the write lock and flushes them; a failure
// ends the connection.
func (hc *h2Conn) write(f func(fr *http2.Framer) error) {
	hc.wmu.Lock()
	defer hc.wmu.Unlock()
	err := f(hc.fr)
	if err == nil {
		err = hc.flush()
	}
	if err != nil {
		hc.failLocked(err)
	}
}

// flush sends the buffered frames; the write lock is held. A server that
// stops reading fails the connection after h2WriteTimeout rather than
// holding every writer of the connection.
func (hc *h2Conn) flush() error {
	if hc.bw.Buffered() == 0 {
		return nil
	}
	if err := hc.nc.SetWriteDeadline(time.Now().Add(h2WriteTimeout)); err != nil {
		return err
	}
	return hc.bw.Flush()
}

// fail ends the connection and every stream on it with err.
func (hc *h2Conn) fail(err error) {
	hc.mu.Lock()
	if hc.failed {
		hc.mu.Unlock()
		return
	}
	hc.failed = true
	if hc.err == nil {
		hc.err = err
	}
	err = hc.err
	streams := hc.streams
	hc.streams = map[uint32]*h2Stream{}
	hc.mu.Unlock()
	hc.nc.Close()
	for _, st := range streams {
		st.end(fmt.Errorf("connection: %w", err))
	}
}

// failLocked is fail for a caller that holds the write lock: the
// connection is closed, which ends the reading goroutine, and that ends
// the streams.
func (hc *h2Conn) failLocked(err error) {
	hc.mu.Lock()
	if hc.err == nil {
		hc.err = err
	}
	hc.mu.Unlock()
	hc.nc.Close()
}

// stream returns the open stream id, or nil.
func (hc *h2Conn) stream(id uint32) *h2Stream {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	return hc.streams[id]
}

// remove forgets a stream that ended.
func (hc *h2Conn) remove(st *h2Stream) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.streams[st.id] == st {
		delete(hc.streams, st.id)
	}
}

// readLoop reads the connection's frames until it fails or closes.
func (hc *h2Conn) readLoop() {
	for {
		f, err := hc.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				if st := hc.stream(se.StreamID); st != nil {
					st.reset(http2.ErrCodeProtocol, fmt.Errorf("stream %d: %v", se.StreamID, se))
				}
				continue
			}
			hc.fail(err) // a failure already recorded stays the reason
			return
		}
		hc.frame(f)
	}
}

// frame handles one frame on the reading goroutine.
func (hc *h2Conn) frame(f http2.Frame) {
	switch f := f.(type) {
	case *http2.DataFrame:
		n := f.Header().Length // padding included: all of it counts against the windows
		if st := hc.stream(f.StreamID); st != nil {
			st.data(f.Data(), n, f.StreamEnded())
		}
		hc.connUnsent += n
		if hc.connUnsent >= h2CreditEvery {
			inc := hc.connUnsent
			hc.connUnsent = 0
			hc.write(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, inc) })
		}
	case *http2.MetaHeadersFrame:
		if st := hc.stream(f.StreamID); st != nil {
			st.headers(f)
		}
	case *http2.RSTStreamFrame:
		if st := hc.stream(f.StreamID); st != nil {
			st.end(fmt.Errorf("stream reset by the server: %v", f.ErrCode))
		}
	case *http2.SettingsFrame:
		if f.IsAck() {
			return
		}
		hc.mu.Lock()
		if v, ok := f.Value(http2.SettingMaxConcurrentStreams); ok {
			hc.maxStreams = v
		}
		if v, ok := f.Value(http2.SettingMaxFrameSize); ok {
			hc.peerFrame = v
		}
		hc.mu.Unlock()
		hc.write(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
	case *http2.PingFrame:
		if !f.IsAck() {
			hc.write(func(fr *http2.Framer) error { return fr.WritePing(true, f.Data) })
		}
	case *http2.GoAwayFrame:
		hc.mu.Lock()
		hc.goingAway = true
		var gone []*h2Stream
		for id, st := range hc.streams {
			if id > f.LastStreamID {
				gone = append(gone, st)
			}
		}
		hc.mu.Unlock()
		for _, st := range gone {
			st.end(fmt.Errorf("server going away: %v", f.ErrCode))
		}
	}
	// WINDOW_UPDATE needs nothing: requests fit the initial send window.
}

// h2Stream is one request and its answer.
type h2Stream struct {
	hc      *h2Conn
	id      uint32
	onEvent func(*eventstream.Message) error

	header chan struct{} // closed once status is set, or the stream ended
	status int
	done   chan struct{} // closed once the stream ended; then err says why

	// mu is held while onEvent runs; after cancel no call begins.
	mu           sync.Mutex
	cancelled    bool
	ended        bool
	headerClosed bool
	err          error

	// Reading goroutine only.
	in       frameBuf
	dec      *eventstream.Decoder
	errBody  []byte // a non-200 answer's body
	gotHead  bool
	window   uint32 // receive credit the server has
	unsent   uint32 // credit consumed but not yet returned
	eventErr error  // onEvent's error: the rest of the stream is dropped
}

// frameBuf is a stream's received bytes not yet decoded; the decoder reads
// it only when a whole message is there.
type frameBuf struct {
	b   []byte
	off int
}

func (f *frameBuf) Read(p []byte) (int, error) {
	if f.off == len(f.b) {
		return 0, io.EOF
	}
	n := copy(p, f.b[f.off:])
	f.off += n
	return n, nil
}

func (f *frameBuf) append(p []byte) {
	if f.off > 0 && f.off == len(f.b) {
		f.b, f.off = f.b[:0], 0
	} else if f.off > 0 && len(f.b)+len(p) > cap(f.b) {
		f.b = f.b[:copy(f.b, f.b[f.off:])]
		f.off = 0
	}
	f.b = append(f.b, p...)
}

// message reports whether a whole event-stream message is buffered, or a
// prelude the decoder will refuse (which it reads without waiting for
// more).
func (f *frameBuf) message() bool {
	b := f.b[f.off:]
	if len(b) < 12 {
		return false
	}
	total := binary.BigEndian.Uint32(b)
	return total < eventstream.MinMessageBytes || total > eventstream.MaxMessageBytes || uint32(len(b)) >= total
}

// headers takes the answer's head.
func (st *h2Stream) headers(f *http2.MetaHeadersFrame) {
	if st.gotHead {
		// Trailers: the answer ends here.
		if f.StreamEnded() {
			st.finish()
		}
		return
	}
	status, err := strconv.Atoi(f.PseudoValue("status"))
	if err != nil || status < 200 {
		if status >= 100 && status < 200 {
			return // an informational head; the final one follows
		}
		st.reset(http2.ErrCodeProtocol, fmt.Errorf("answer with :status %q", f.PseudoValue("status")))
		return
	}
	st.gotHead = true
	st.status = status
	st.mu.Lock()
	st.closeHeader()
	st.mu.Unlock()
	if f.StreamEnded() {
		st.finish()
	}
}

// data takes a DATA frame's payload, n bytes of window with its padding.
func (st *h2Stream) data(p []byte, n uint32, end bool) {
	if !st.gotHead {
		st.reset(http2.ErrCodeProtocol, errors.New("DATA before the answer's head"))
		return
	}
	if n > st.window {
		st.reset(http2.ErrCodeFlowControl, errors.New("server overran the stream's window"))
		return
	}
	st.window -= n
	switch {
	case st.status != http.StatusOK:
		if len(st.errBody) < h2MaxErrorBody {
			st.errBody = append(st.errBody, p[:min(len(p), h2MaxErrorBody-len(st.errBody))]...)
		}
	case st.eventErr == nil:
		st.in.append(p)
		for st.eventErr == nil && st.in.message() {
			m, err := st.dec.DecodeShared()
			if err == nil {
				err = st.deliver(m)
			}
			st.eventErr = err
		}
		if st.eventErr != nil {
			st.reset(http2.ErrCodeCancel, st.eventErr)
			return
		}
	}
	if end {
		st.finish()
		return
	}
	st.unsent += n
	if st.unsent >= h2CreditEvery {
		inc := st.unsent
		st.unsent = 0
		st.window += inc
		st.hc.write(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(st.id, inc) })
	}
}

// deliver hands m to onEvent unless the stream was cancelled.
func (st *h2Stream) deliver(m *eventstream.Message) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cancelled {
		return context.Canceled
	}
	return st.onEvent(m)
}

// finish ends a stream the server ended: cleanly if its event stream
// stopped between messages.
func (st *h2Stream) finish() {
	var err error
	if st.status == http.StatusOK && st.in.off < len(st.in.b) {
		err = fmt.Errorf("answer ended inside an event-stream message: %w", io.ErrUnexpectedEOF)
	}
	st.end(err)
}

// reset ends the stream with err and tells the server with RST_STREAM.
func (st *h2Stream) reset(code http2.ErrCode, err error) {
	st.end(err)
	st.hc.write(func(fr *http2.Framer) error { return fr.WriteRSTStream(st.id, code) })
}

// end marks the stream ended with err (nil: a clean end) and forgets it;
// only the first call counts.
func (st *h2Stream) end(err error) {
	st.hc.remove(st)
	st.mu.Lock()
	if st.ended {
		st.mu.Unlock()
		return
	}
	st.ended = true
	st.err = err
	st.closeHeader()
	st.mu.Unlock()
	close(st.done)
}

// closeHeader closes header once; st.mu is held.
func (st *h2Stream) closeHeader() {
	if !st.headerClosed {
		st.headerClosed = true
		close(st.header)
	}
}

// cancel stops the stream from the caller's side: once it returns,
// onEvent is not running and will not be called again.
func (st *h2Stream) cancel() {
	st.mu.Lock()
	st.cancelled = true
	ended := st.ended
	st.mu.Unlock()
	if !ended {
		st.reset(http2.ErrCodeCancel, context.Canceled)
	}
}

// result returns why the stream ended, once done is closed.
func (st *h2Stream) result() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}
