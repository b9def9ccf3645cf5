package codearts

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"
)

// connTransport is the client's HTTP/1.1 transport: it writes each request
// and reads its answer on the calling goroutine, over a pool of kept-alive
// connections per host (docs/api-client.md, "Transport"). net/http's
// transport hands every request to a writer and a reader goroutine of the
// connection and back, and with small log pages those hand-offs and the
// wake-ups on the other core were a third of the client's CPU
// (docs/performance.md, "Ingest").
//
// The framing is the standard library's: http.Request.Write and
// http.ReadResponse. What a request needs that this transport does not do
// (a proxy from the environment, a scheme other than http and https) goes to
// fallback, net/http's transport with the same settings.
type connTransport struct {
	fallback *http.Transport

	dialer       net.Dialer
	tls          *tls.Config // nil = crypto/tls defaults; ALPN is always http/1.1
	tlsTimeout   time.Duration
	idleTimeout  time.Duration
	maxIdle      int   // idle connections kept per host
	maxHeaderLen int64 // status line and headers of one answer

	mu   sync.Mutex
	idle map[connKey][]*persistConn // most recently used last
}

// connKey names the connections that may carry a request.
type connKey struct {
	https bool
	addr  string // host:port
}

// maxResponseHeaderBytes bounds the status line and headers of an answer:
// ReadResponse alone would read headers without end.
const maxResponseHeaderBytes = 1 << 20

// newConnTransport makes a connTransport with fallback's timeouts, TLS
// settings and idle limits.
func newConnTransport(fallback *http.Transport) *connTransport {
	t := &connTransport{
		fallback:     fallback,
		dialer:       net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		tls:          fallback.TLSClientConfig,
		tlsTimeout:   fallback.TLSHandshakeTimeout,
		idleTimeout:  fallback.IdleConnTimeout,
		maxIdle:      fallback.MaxIdleConnsPerHost,
		maxHeaderLen: maxResponseHeaderBytes,
		idle:         map[connKey][]*persistConn{},
	}
	if t.maxIdle <= 0 {
		t.maxIdle = http.DefaultMaxIdleConnsPerHost
	}
	if n := fallback.MaxResponseHeaderBytes; n > 0 {
		t.maxHeaderLen = n
	}
	return t
}

// RoundTrip implements http.RoundTripper.
func (t *connTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	key, ok := t.handles(req)
	if !ok {
		return t.fallback.RoundTrip(req)
	}
	ctx := req.Context()
	// Transparent gzip as net/http does it: asked for only when the
	// caller did not ask for an encoding itself, decoded here.
	gz := req.Method != http.MethodHead && req.Header.Get("Accept-Encoding") == "" && req.Header.Get("Range") == ""
	for retried := false; ; retried = true {
		pc, err := t.get(ctx, key)
		if err != nil {
			closeRequestBody(req)
			return nil, err
		}
		resp, err := pc.roundTrip(ctx, req, gz)
		if err == nil {
			resp.Request = req
			return resp, nil
		}
		// A kept-alive connection the server closed while it was idle
		// fails before the answer's first byte: ask once more on a new
		// connection, when asking again is harmless.
		var nr *nothingReceived
		if !retried && pc.reused && errors.As(err, &nr) && ctx.Err() == nil && replayable(req) {
			continue
		}
		closeRequestBody(req)
		return nil, err
	}
}

var acceptGzip = []string{"gzip"}

// handles reports whether t sends req itself, and over which connections.
func (t *connTransport) handles(req *http.Request) (connKey, bool) {
	u := req.URL
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return connKey{}, false
	}
	if t.fallback.Proxy != nil {
		if p, err := t.fallback.Proxy(req); err != nil || p != nil {
			return connKey{}, false
		}
	}
	key := connKey{https: u.Scheme == "https", addr: u.Host}
	if u.Port() == "" {
		port := "80"
		if key.https {
			port = "443"
		}
		key.addr = net.JoinHostPort(u.Hostname(), port)
	}
	return key, true
}

// replayable reports whether req may be sent again after a failed attempt
// that got no answer: a GET or HEAD without a body.
func replayable(req *http.Request) bool {
	return (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		(req.Body == nil || req.Body == http.NoBody)
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// CloseIdleConnections closes every idle connection, its own and the
// fallback's. The transport stays usable.
func (t *connTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[connKey][]*persistConn{}
	t.mu.Unlock()
	for _, pcs := range idle {
		for _, pc := range pcs {
			pc.idleTimer.Stop()
			pc.close()
		}
	}
	t.fallback.CloseIdleConnections()
}

// get returns an idle connection for key, or dials a new one.
func (t *connTransport) get(ctx context.Context, key connKey) (*persistConn, error) {
	t.mu.Lock()
	if pcs := t.idle[key]; len(pcs) > 0 {
		pc := pcs[len(pcs)-1]
		pcs[len(pcs)-1] = nil
		t.idle[key] = pcs[:len(pcs)-1]
		t.mu.Unlock()
		pc.idleTimer.Stop()
		pc.reused = true
		return pc, nil
	}
	t.mu.Unlock()
	return t.dial(ctx, key)
}

// put keeps pc for the next request to its host, or closes it when enough
// are kept.
func (t *connTransport) put(pc *persistConn) {
	t.mu.Lock()
	pcs := t.idle[pc.key]
	if len(pcs) >= t.maxIdle {
		t.mu.Unlock()
		pc.close()
		return
	}
	t.idle[pc.key] = append(pcs, pc)
	if pc.idleTimer == nil {
		pc.idleTimer = time.AfterFunc(t.idleTimeout, pc.idleExpired)
	} else {
		pc.idleTimer.Reset(t.idleTimeout)
	}
	t.mu.Unlock()
}

// remove takes pc out of the idle connections; false if it was not there
// (a request took it).
func (t *connTransport) remove(pc *persistConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	pcs := t.idle[pc.key]
	for i, p := range pcs {
		if p == pc {
			t.idle[pc.key] = append(pcs[:i], pcs[i+1:]...)
			pcs[len(pcs)-1] = nil
			return true
		}
	}
	return false
}

func (t *connTransport) dial(ctx context.Context, key connKey) (*persistConn, error) {
	conn, err := t.dialer.DialContext(ctx, "tcp", key.addr)
	if err != nil {
		return nil, err
	}
	if key.https {
		cfg := &tls.Config{}
		if t.tls != nil {
			cfg = t.tls.Clone()
		}
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(key.addr)
			cfg.ServerName = host
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(conn, cfg)
		hctx := ctx
		if t.tlsTimeout > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, t.tlsTimeout)
			defer cancel()
		}
		if err := tc.HandshakeContext(hctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		conn = tc
	}
	pc := &persistConn{t: t, key: key, conn: conn}
	pc.lr.r = conn
	pc.lr.n = -1
	pc.br = bufio.NewReaderSize(&pc.lr, 16<<10)
	pc.bw = bufio.NewWriterSize(conn, 4<<10)
	return pc, nil
}

// persistConn is one kept-alive connection. It carries one request at a
// time: from get until its answer's body is read to the end (then put
// back) or closed early (then closed).
type persistConn struct {
	t         *connTransport
	key       connKey
	conn      net.Conn
	lr        headerLimit
	br        *bufio.Reader
	bw        *bufio.Writer
	idleTimer *time.Timer
	reused    bool // it carried an earlier request
}

func (pc *persistConn) close() { _ = pc.conn.Close() }

// idleExpired closes pc when it has been idle for the idle timeout.
func (pc *persistConn) idleExpired() {
	if pc.t.remove(pc) {
		pc.close()
	}
}

// nothingReceived is an error before the first byte of an answer.
type nothingReceived struct{ err error }

func (e *nothingReceived) Error() string { return e.err.Error() }
func (e *nothingReceived) Unwrap() error { return e.err }

// aLongTimeAgo is a deadline in the past: every pending and later read and
// write of the connection fails at once.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes req on pc and reads the answer's head. The answer's
// body reads from pc; the body's end or Close releases pc.
func (pc *persistConn) roundTrip(ctx context.Context, req *http.Request, gz bool) (*http.Response, error) {
	// The context bounds every read and write, the body's included: its
	// end or cancellation moves the connection's deadline to the past.
	stop := context.AfterFunc(ctx, func() { _ = pc.conn.SetDeadline(aLongTimeAgo) })
	fail := func(err error) error {
		stop()
		pc.close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	err := writeRequest(pc.bw, req, gz)
	if err == nil {
		err = pc.bw.Flush()
	}
	if err != nil {
		return nil, fail(&nothingReceived{err})
	}
	pc.lr.n = pc.t.maxHeaderLen
	if _, err := pc.br.Peek(1); err != nil {
		return nil, fail(&nothingReceived{err})
	}
	var resp *http.Response
	for informational := 0; ; informational++ {
		resp, err = http.ReadResponse(pc.br, req)
		if err != nil {
			if errors.Is(err, errHeaderTooLong) {
				err = fmt.Errorf("answer's status line and headers longer than %d bytes", pc.t.maxHeaderLen)
			}
			return nil, fail(err)
		}
		// 1xx answers other than 101 precede the real one (103 Early
		// Hints, a 100 Continue nobody asked for).
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if informational == 5 {
			return nil, fail(errors.New("too many 1xx informational answers"))
		}
	}
	pc.lr.n = -1
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return nil, fail(errors.New("unexpected 101 Switching Protocols"))
	}
	keep := !resp.Close && !req.Close
	body := &connBody{pc: pc, body: resp.Body, keep: keep, ctx: ctx, stop: stop}
	if resp.Body == http.NoBody {
		body.done(io.EOF)
		return resp, nil
	}
	resp.Body = body
	if gz && strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		resp.Body = &gzipBody{body: body}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Uncompressed = true
	}
	return resp, nil
}

// writeRequest writes req, with Accept-Encoding: gzip added when gz. A
// GET or HEAD without a body — every page read — is written directly;
// anything else goes through http.Request.Write, on a copy of req when
// the header is added (a RoundTripper must not change its request).
func writeRequest(w *bufio.Writer, req *http.Request, gz bool) error {
	if writeBare(w, req, gz) {
		return nil
	}
	if gz {
		r2 := *req
		r2.Header = make(http.Header, len(req.Header)+1)
		for k, v := range req.Header {
			r2.Header[k] = v
		}
		r2.Header["Accept-Encoding"] = acceptGzip
		req = &r2
	}
	return req.Write(w)
}

// writeBare writes req as http.Request.Write would (TestWriteBareAsNetHTTP),
// without its allocations, header sorting and value rewriting, and reports
// whether it did. It declines, having written nothing, what it does not
// write the same way: a body, a client trace, a URL, host or header that
// Request.Write would reject, escape, trim or rewrite.
func writeBare(w *bufio.Writer, req *http.Request, gz bool) bool {
	u := req.URL
	if (req.Method != http.MethodGet && req.Method != http.MethodHead) ||
		(req.Body != nil && req.Body != http.NoBody) || req.ContentLength != 0 ||
		len(req.TransferEncoding) != 0 || len(req.Trailer) != 0 || req.Close ||
		u.Opaque != "" || httptrace.ContextClientTrace(req.Context()) != nil {
		return false
	}
	host := req.Host
	if host == "" {
		host = u.Host
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if !plainHost(host) || !plainText(path) || !plainText(u.RawQuery) {
		return false
	}
	// Built in one pass in w's free buffer, and written (committed) only
	// once every part is known to be plain.
	b := append(w.AvailableBuffer(), req.Method...)
	b = append(b, ' ')
	b = append(b, path...)
	if u.ForceQuery || u.RawQuery != "" {
		b = append(b, '?')
		b = append(b, u.RawQuery...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	ua := false
	for k, vv := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			return false
		case "User-Agent":
			ua = true
			if len(vv) == 0 || vv[0] == "" {
				continue // none is sent
			}
			vv = vv[:1]
		case "Accept-Encoding":
			if gz {
				continue // gz's replaces it, as in writeRequest
			}
		}
		if !plainName(k) {
			return false
		}
		for _, v := range vv {
			if !plainValue(v) {
				return false
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if !ua {
		b = append(b, "User-Agent: Go-http-client/1.1\r\n"...)
	}
	if gz {
		b = append(b, "Accept-Encoding: gzip\r\n"...)
	}
	b = append(b, "\r\n"...)
	_, _ = w.Write(b) // a write error is the Flush's
	return true
}

// plainHost reports whether h is a host[:port] that Request.Write sends as
// it is: ASCII letters, digits, '.', '-', ':', '[' and ']' (no zone, no
// internationalised name).
func plainHost(h string) bool { return allOf(h, inHost) }

// plainName reports whether k is a header name Request.Write sends as it
// is: a token (RFC 9110) of letters, digits and '-'.
func plainName(k string) bool { return allOf(k, inName) }

// allOf reports whether s is not empty and all its bytes are of class.
func allOf(s string, class uint8) bool {
	for i := 0; i < len(s); i++ {
		if plainBytes[s[i]]&class == 0 {
			return false
		}
	}
	return s != ""
}

// plainBytes classifies the bytes of plainHost and plainName.
var plainBytes = func() (t [256]uint8) {
	for c := '0'; c <= 'z'; c++ {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			t[c] = inHost | inName
		}
	}
	t['-'] = inHost | inName
	for _, c := range ".:[]" {
		t[c] = inHost
	}
	return t
}()

const (
	inHost = 1 << iota
	inName
)

// plainText reports whether s holds only printable ASCII other than space.
func plainText(s string) bool { return printableFrom(s, '!') }

// plainValue reports whether v is a header value Request.Write sends as it
// is: printable ASCII and spaces, not starting or ending with a space.
func plainValue(v string) bool {
	if v != "" && (v[0] == ' ' || v[len(v)-1] == ' ') {
		return false
	}
	return printableFrom(v, ' ')
}

// printableFrom reports whether every byte of s is in [lo, '~'] (lo <
// 0x80), eight bytes at a time: a byte below lo borrows into its high bit,
// '~'+1 carries into it, and a byte of 0x80 or more has it already.
func printableFrom(s string, lo byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if ((x-ones*uint64(lo))|x|(x+ones))&highs != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] < lo || s[i] > '~' {
			return false
		}
	}
	return true
}

// errHeaderTooLong is headerLimit's error.
var errHeaderTooLong = errors.New("header too long")

// headerLimit reads from r, at most n bytes while n >= 0.
type headerLimit struct {
	r io.Reader
	n int64
}

func (l *headerLimit) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, errHeaderTooLong
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// connBody is an answer's body. Read to its end, it gives the connection
// back for the next request (unless either side said Connection: close or
// the server sent more than the answer); closed before its end, it closes
// the connection: an answer half read must not be taken for the next.
type connBody struct {
	pc   *persistConn
	body io.ReadCloser // http.ReadResponse's: framing (chunked or Content-Length)
	keep bool
	ctx  context.Context
	stop func() bool // context.AfterFunc's

	mu  sync.Mutex
	end error // io.EOF once read to the end, errBodyClosed once closed
}

var errBodyClosed = errors.New("read on a closed response body")

func (b *connBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	end := b.end
	b.mu.Unlock()
	if end != nil {
		return 0, end
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.done(io.EOF)
	} else if err != nil && b.ctx.Err() != nil {
		err = b.ctx.Err() // not the i/o timeout of the deadline it set
	}
	return n, err
}

// Close closes the connection unless the body was read to its end. It does
// not read what is left (http.ReadResponse's body would, to its end). A
// Read in progress fails.
func (b *connBody) Close() error {
	b.done(errBodyClosed)
	return nil
}

// done releases the connection once: kept when the answer was read to its
// end (end is io.EOF) and nothing follows it.
func (b *connBody) done(end error) {
	b.mu.Lock()
	if b.end != nil {
		b.mu.Unlock()
		return
	}
	b.end = end
	b.mu.Unlock()
	// stop false: the context ended, the deadline may be in the past.
	if b.stop() && end == io.EOF && b.keep && b.pc.br.Buffered() == 0 {
		b.pc.t.put(b.pc)
		return
	}
	b.pc.close()
}

// gzipBody decodes a gzip answer. Its reader is reused by a later answer
// once this one was decoded to its end.
type gzipBody struct {
	body *connBody

	mu  sync.Mutex
	zr  *gzip.Reader
	err error // sticky: the end, a failure, or errBodyClosed
}

var gzipReaders sync.Pool

func (g *gzipBody) Read(p []byte) (int, error) {
	g.mu.Lock()
	zr, err := g.zr, g.err
	g.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if zr == nil {
		zr, _ = gzipReaders.Get().(*gzip.Reader)
		if zr == nil {
			zr, err = gzip.NewReader(g.body)
		} else {
			err = zr.Reset(g.body)
		}
		g.mu.Lock()
		g.zr = zr
		g.mu.Unlock()
	}
	n := 0
	if err == nil {
		n, err = zr.Read(p)
	}
	if err != nil {
		g.mu.Lock()
		if g.err == nil {
			g.err = err
		}
		g.mu.Unlock()
	}
	return n, err
}

func (g *gzipBody) Close() error {
	err := g.body.Close() // first: it ends a Read in progress
	g.mu.Lock()
	if g.zr != nil && g.err == io.EOF { // no Read uses it any more
		gzipReaders.Put(g.zr)
	}
	g.zr = nil
	if g.err == nil || g.err == io.EOF {
		g.err = errBodyClosed
	}
	g.mu.Unlock()
	return err
}
