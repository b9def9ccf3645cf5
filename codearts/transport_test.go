package codearts

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connServer is an httptest server that counts the connections it
// accepted and closed.
type connServer struct {
	*httptest.Server
	opened, closed atomic.Int64
}

func newConnServer(t *testing.T, tlsToo bool, h http.HandlerFunc, configure ...func(*http.Server)) *connServer {
	t.Helper()
	s := &connServer{Server: httptest.NewUnstartedServer(h)}
	for _, f := range configure {
		f(s.Config)
	}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	if tlsToo {
		// It offers h2 first: the transport must still get http/1.1.
		s.EnableHTTP2 = true
		s.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// testTransport is the client's transport for s, trusting s's certificate.
func testTransport(s *connServer) *connTransport {
	fb := newTransport()
	if s.TLS != nil {
		fb.TLSClientConfig = s.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	}
	return newConnTransport(fb)
}

// get fetches url through t and returns the body.
func get(t *testing.T, ctx context.Context, tr http.RoundTripper, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// eventually waits up to 5 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTransportFramingAndReuse: answers with Content-Length, chunked (in
// several writes) and without a body, over plain HTTP and TLS, are read
// whole, and one connection carries all of them. Over TLS the transport
// offers only http/1.1 even to a server that speaks h2, and trusts the
// configured roots only.
func TestTransportFramingAndReuse(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	for _, tlsToo := range []bool{false, true} {
		s := newConnServer(t, tlsToo, func(w http.ResponseWriter, r *http.Request) {
			if tlsToo && (r.ProtoMajor != 1 || r.TLS.NegotiatedProtocol != "http/1.1") {
				http.Error(w, "protocol "+r.Proto+" "+r.TLS.NegotiatedProtocol, 400)
				return
			}
			switch r.URL.Path {
			case "/length":
				w.Header().Set("Content-Length", strconv.Itoa(len(big)))
				io.WriteString(w, big)
			case "/chunked":
				for i := 0; i < len(big); i += 5000 {
					io.WriteString(w, big[i:min(i+5000, len(big))])
					w.(http.Flusher).Flush()
				}
			case "/empty":
				w.WriteHeader(http.StatusNoContent)
			}
		})
		tr := testTransport(s)
		for i := range 3 {
			for _, path := range []string{"/length", "/chunked", "/empty"} {
				resp, body, err := get(t, bg, tr, s.URL+path)
				if err != nil {
					t.Fatalf("tls=%v %s #%d: %v", tlsToo, path, i, err)
				}
				want := big
				if path == "/empty" {
					want = ""
				}
				if resp.StatusCode/100 != 2 || body != want {
					t.Fatalf("tls=%v %s: %s, %d bytes of body, want %d", tlsToo, path, resp.Status, len(body), len(want))
				}
			}
		}
		if n := s.opened.Load(); n != 1 {
			t.Errorf("tls=%v: %d connections for 9 sequential requests, want 1", tlsToo, n)
		}
		if tlsToo {
			if _, _, err := get(t, bg, newConnTransport(newTransport()), s.URL+"/empty"); err == nil {
				t.Error("a certificate outside the configured roots was accepted")
			}
		}
	}
}

// TestTransportGzip: gzip is asked for and decoded when the caller did not
// ask for an encoding, left alone when it did; either way the connection is
// reused.
func TestTransportGzip(t *testing.T) {
	text := strings.Repeat("[2026/09/10 17:26:22.661 GMT+08:00] hello\n", 500)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	io.WriteString(zw, text)
	zw.Close()
	s := newConnServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			io.WriteString(w, "plain: "+r.Header.Get("Accept-Encoding"))
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(zipped.Bytes())
	})
	tr := testTransport(s)
	for range 3 {
		resp, body, err := get(t, bg, tr, s.URL)
		if err == nil && resp.Request.Header.Get("Accept-Encoding") != "" {
			t.Error("the caller's request was changed, or is not the answer's")
		}
		if err != nil || body != text || !resp.Uncompressed || resp.Header.Get("Content-Encoding") != "" || resp.ContentLength != -1 {
			t.Fatalf("%d bytes, uncompressed %v, Content-Encoding %q, length %d, %v; want %d decoded bytes",
				len(body), resp.Uncompressed, resp.Header.Get("Content-Encoding"), resp.ContentLength, err, len(text))
		}
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "plain: identity" {
		t.Errorf("with the caller's Accept-Encoding: %q", b)
	}
	if n := s.opened.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestTransportConnectionClose: an answer with Connection: close, or to a
// request that said it, is the connection's last.
func TestTransportConnectionClose(t *testing.T) {
	s := newConnServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "ok")
	})
	tr := testTransport(s)
	kept := func() int {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return len(tr.idle[connKey{addr: s.Listener.Addr().String()}])
	}
	for range 3 {
		if _, body, err := get(t, bg, tr, s.URL+"/close"); err != nil || body != "ok" {
			t.Fatal(body, err)
		}
		if n := kept(); n != 0 {
			t.Fatalf("%d connections kept after an answer with Connection: close", n)
		}
	}
	if n := s.opened.Load(); n != 3 {
		t.Errorf("server's Connection: close: %d connections for 3 requests, want 3", n)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	req.Close = true
	for range 2 {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if n := s.opened.Load(); n != 5 {
		t.Errorf("client's Connection: close: %d connections, want 5", n)
	}
}

// TestTransportBodyNotReadToEnd: an answer closed before its end (the
// client's body limit does that) closes its connection without reading the
// rest, and the next request gets a new one.
func TestTransportBodyNotReadToEnd(t *testing.T) {
	s := newConnServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/partial" {
			io.WriteString(w, "part")
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
			io.WriteString(w, "rest")
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/running-status") {
			io.WriteString(w, "small")
			return
		}
		chunk := []byte(strings.Repeat("x", 32<<10))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	tr := testTransport(s)
	c, _ := newTestClient(t, s.URL, func(o *Options) { o.MaxResponseBytes = 1 << 20 })
	useTransport(c, tr)
	done := make(chan error, 1)
	go func() { _, err := c.ShowRunningStatus(bg, tJob); done <- err }()
	select {
	case err := <-done:
		if !IsResponseTooLarge(err) {
			t.Fatalf("endless answer: %v, want ErrResponseTooLarge", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("closing an answer over the limit read on")
	}
	eventually(t, "the connection of the answer over the limit closed", func() bool { return s.closed.Load() == 1 })
	if _, body, err := get(t, bg, tr, s.URL); err != nil || body != "small" {
		t.Fatalf("next request: %q, %v", body, err)
	}
	if n := s.opened.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}

	// Closed after reading what had arrived: nothing is buffered, the
	// rest is still to come on the connection.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/partial", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, part); err != nil || string(part) != "part" {
		t.Fatalf("%q, %v", part, err)
	}
	resp.Body.Close()
	if _, body, err := get(t, bg, tr, s.URL); err != nil || body != "small" {
		t.Fatalf("after an answer closed half read: %q, %v", body, err)
	}
	if n := s.opened.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

// TestTransportRetriesClosedIdleConnection: when the server has closed an
// idle connection, a GET sent on it is sent again on a new one; a POST is
// not (the server might have acted on it).
func TestTransportRetriesClosedIdleConnection(t *testing.T) {
	var requests atomic.Int64
	s := newConnServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		io.WriteString(w, "ok")
	}, func(srv *http.Server) { srv.IdleTimeout = 20 * time.Millisecond })
	tr := testTransport(s)
	for i := range 3 {
		if _, body, err := get(t, bg, tr, s.URL); err != nil || body != "ok" {
			t.Fatalf("GET #%d: %q, %v", i, body, err)
		}
		eventually(t, "the server closed the idle connection", func() bool { return s.closed.Load() == int64(i+1) })
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("server saw %d requests, want 3", n)
	}
	if n := s.opened.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}

	req, _ := http.NewRequest(http.MethodPost, s.URL, nil)
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("a POST on a connection the server closed succeeded: it was sent twice")
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("server saw %d requests, want 3", n)
	}
}

// TestTransportIdleTimeoutAndClose: the transport closes a connection idle
// for longer than its idle timeout, and every idle one on
// Client.CloseIdleConnections.
func TestTransportIdleTimeoutAndClose(t *testing.T) {
	s := newConnServer(t, false, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr := testTransport(s)
	tr.idleTimeout = 50 * time.Millisecond
	if _, _, err := get(t, bg, tr, s.URL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the idle connection closed", func() bool { return s.closed.Load() == 1 })
	tr.mu.Lock()
	left := len(tr.idle[connKey{addr: s.Listener.Addr().String()}])
	tr.mu.Unlock()
	if left != 0 {
		t.Errorf("%d closed connections still kept", left)
	}

	c, _ := newTestClient(t, s.URL, nil)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { _, _ = c.ShowRunningStatus(bg, tJob) })
	}
	wg.Wait()
	opened := s.opened.Load()
	c.CloseIdleConnections()
	eventually(t, "CloseIdleConnections closed them", func() bool { return s.closed.Load() == opened })
}

// TestTransportContextBoundsEveryRead: the request's context ends a wait
// for the answer's head and a read of its body, and the connection is not
// used again.
func TestTransportContextBoundsEveryRead(t *testing.T) {
	release := make(chan struct{})
	s := newConnServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		wait := func() {
			select {
			case <-release:
			case <-time.After(5 * time.Second): // the client did not give up
			}
		}
		switch r.URL.Path {
		case "/slow-head":
			wait()
		case "/slow-body":
			io.WriteString(w, "part")
			w.(http.Flusher).Flush()
			wait()
		}
		io.WriteString(w, "ok")
	})
	defer close(release)
	tr := testTransport(s)
	if _, _, err := get(t, bg, tr, s.URL); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, _, err := get(t, ctx, tr, s.URL+"/slow-head")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > 3*time.Second {
		t.Errorf("deadline while waiting for the head: %v after %v", err, time.Since(t0))
	}

	ctx, cancel = context.WithCancel(bg)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/slow-body", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	t0 = time.Now()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, context.Canceled) || string(b) != "part" || time.Since(t0) > 3*time.Second {
		t.Errorf("cancelled while reading the body: %q, %v after %v", b, err, time.Since(t0))
	}

	opened := s.opened.Load()
	if _, body, err := get(t, bg, tr, s.URL); err != nil || body != "ok" {
		t.Fatalf("after the cancellations: %q, %v", body, err)
	}
	// The first request's connection carried the second (cut), the third
	// got a new one (cut), the last a new one.
	if n := s.opened.Load(); n != opened+1 || opened != 2 {
		t.Errorf("%d connections then %d, want 2 then 3: a cut answer's connection must not be reused", opened, n)
	}
}

// TestTransportHeadLimit: an answer whose head does not end is an error,
// not unbounded memory.
func TestTransportHeadLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_, _ = http.ReadRequest(bufio.NewReader(conn))
				_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\n")
				line := "X-Filler: " + strings.Repeat("y", 1000) + "\r\n"
				for range 2000 { // 2 MB, then the connection ends
					if _, err := io.WriteString(conn, line); err != nil {
						return
					}
				}
			}()
		}
	}()
	tr := newConnTransport(newTransport())
	tr.maxHeaderLen = 64 << 10
	_, _, err = get(t, bg, tr, "http://"+ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "longer than 65536 bytes") {
		t.Errorf("endless head: %v", err)
	}
}

// TestTransportProxyFallBack: a request the proxy setting sends through a
// proxy goes through net/http's transport, which speaks to the proxy.
func TestTransportProxyFallBack(t *testing.T) {
	var proxied atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Store(r.RequestURI)
		io.WriteString(w, "via proxy")
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	fb := newTransport()
	fb.Proxy = func(r *http.Request) (*url.URL, error) {
		if r.URL.Hostname() == "api.example" {
			return pu, nil
		}
		return nil, nil
	}
	tr := newConnTransport(fb)
	_, body, err := get(t, bg, tr, "http://api.example/v1/job/list?page_index=1")
	if err != nil || body != "via proxy" {
		t.Fatalf("%q, %v", body, err)
	}
	if got, _ := proxied.Load().(string); got != "http://api.example/v1/job/list?page_index=1" {
		t.Errorf("the proxy was asked for %q", got)
	}
	s := newConnServer(t, false, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "direct") })
	if _, body, err := get(t, bg, tr, s.URL); err != nil || body != "direct" {
		t.Errorf("without a proxy for the host: %q, %v", body, err)
	}
}

// TestClientOverTLS: the whole client (signing, decoding) over the
// transport and TLS, answers reusing one connection.
func TestClientOverTLS(t *testing.T) {
	page := `{"result":{"log":"[2026/09/10 17:26:22.661 GMT+08:00] hello\n","has_more":false,"end_offset":42},"error":null,"status":"success"}`
	s := newConnServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		if err := VerifySignature(r, nil, func(ak string) (string, bool) { return exSK, ak == exAK }, time.Now(), 15*time.Minute); err != nil {
			writeJSON(w, 401, `{"error_code":"APIG.0301","error_msg":"bad signature"}`)
			return
		}
		writeJSON(w, 200, page)
	})
	c, _ := newTestClient(t, s.URL, nil)
	useTransport(c, testTransport(s))
	for range 5 {
		ch, err := c.ShowConsoleInfo(bg, LogQuery{JobID: tJob, BuildNo: 1, StepID: 7})
		if err != nil || ch.EndOffset != 42 {
			t.Fatalf("%+v, %v", ch, err)
		}
	}
	if n := s.opened.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestWriteBareAsNetHTTP checks that a request writeRequest sends is, read
// back by the server side's http.ReadRequest, the request http.Request.Write
// sends (with Accept-Encoding: gzip added as RoundTrip adds it), whether
// writeBare wrote it or declined it; and that it declines what it must.
func TestWriteBareAsNetHTTP(t *testing.T) {
	type tc struct {
		name  string
		bare  bool // writeBare writes it
		build func() *http.Request
	}
	get := func(rawURL string, hdr ...string) func() *http.Request {
		return func() *http.Request {
			req, err := http.NewRequest(http.MethodGet, rawURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Add(hdr[i], hdr[i+1])
			}
			return req
		}
	}
	page := "http://127.0.0.1:8080/v1/log/task/page?build_no=12&job_id=abc&size=1000&start_offset=0"
	cases := []tc{
		{"page read", true, get(page, "Accept", "application/json", "User-Agent", "codearts_build_exporter/1",
			"X-Sdk-Date", "20250626T062332Z", "Authorization", "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature=ab")},
		{"default user agent", true, get(page)},
		{"empty user agent", true, get(page, "User-Agent", "")},
		{"repeated header", true, get(page, "X-A", "1", "X-A", "2")},
		{"no path", true, get("http://example.com")},
		{"escaped path", true, get("http://example.com/a%20b/c?x=%2F")},
		{"force query", true, get("http://example.com/a?")},
		{"caller's Accept-Encoding", true, get(page, "Accept-Encoding", "identity")},
		{"empty Accept-Encoding", true, get(page, "Accept-Encoding", "")},
		{"Range", true, get(page, "Range", "bytes=0-9")},
		{"head", true, func() *http.Request { r := get(page)(); r.Method = http.MethodHead; return r }},
		{"Host override", true, func() *http.Request { r := get(page)(); r.Host = "api.example.com:443"; return r }},
		{"IPv6 host", true, get("http://[::1]:8080/x")},
		{"header value with newline", false, get(page, "X-A", "a\r\nX-Injected: 1")},
		{"header value with spaces around", false, get(page, "X-A", " a ")},
		{"header name with underscore", false, get(page, "X_A", "1")},
		{"non-ASCII header value", false, get(page, "X-A", "é")},
		{"Host header", false, get(page, "Host", "other.example.com")},
		{"IPv6 zone", false, get("http://[fe80::1%25eth0]:8080/x")},
		{"internationalised host", false, get("http://bücher.example/x")},
		{"close", false, func() *http.Request { r := get(page)(); r.Close = true; return r }},
		{"post", false, func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, page, strings.NewReader(`{"a":1}`))
			return r
		}},
		{"opaque URL", false, func() *http.Request { r := get(page)(); r.URL.Opaque = "//127.0.0.1:8080/v1/x"; return r }},
	}
	read := func(t *testing.T, b []byte) *http.Request {
		t.Helper()
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("%v reading back:\n%s", err, b)
		}
		return r
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := c.build()
			gz := req.Method != http.MethodHead && req.Header.Get("Accept-Encoding") == "" && req.Header.Get("Range") == ""
			before := req.Header.Clone()

			var bare bytes.Buffer
			bw := bufio.NewWriter(&bare)
			wrote := writeBare(bw, req, gz)
			_ = bw.Flush()
			if wrote != c.bare {
				t.Fatalf("writeBare wrote it: %v, want %v", wrote, c.bare)
			}
			if !wrote && bare.Len() != 0 {
				t.Fatalf("writeBare declined after writing %q", bare.String())
			}

			var got, want bytes.Buffer
			bw = bufio.NewWriter(&got)
			if err := writeRequest(bw, c.build(), gz); err != nil {
				t.Fatal(err)
			}
			_ = bw.Flush()
			ref := c.build()
			if gz {
				ref.Header.Set("Accept-Encoding", "gzip")
			}
			if err := ref.Write(&want); err != nil {
				t.Fatal(err)
			}
			g, w := read(t, got.Bytes()), read(t, want.Bytes())
			if g.Method != w.Method || g.RequestURI != w.RequestURI || g.Host != w.Host || g.Proto != w.Proto {
				t.Errorf("request line and host:\n%s\nwant:\n%s", got.String(), want.String())
			}
			if !equalHeaders(g.Header, w.Header) {
				t.Errorf("headers %v, want %v", g.Header, w.Header)
			}
			if !equalHeaders(req.Header, before) {
				t.Errorf("writeBare changed the request's header: %v, was %v", req.Header, before)
			}
		})
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || strings.Join(av, "\x00") != strings.Join(bv, "\x00") || len(av) != len(bv) {
			return false
		}
	}
	return true
}

// TestPrintableFrom checks the word-at-a-time check against its definition
// for every byte value at every offset of a word, before and after bytes
// that borrow or carry.
func TestPrintableFrom(t *testing.T) {
	buf := []byte(strings.Repeat("x", 20))
	for _, lo := range []byte{' ', '!'} {
		for pos := 0; pos < len(buf); pos++ {
			for c := 0; c < 256; c++ {
				for _, next := range []byte{0, lo - 1, lo, '~', 0x7f, 0xff, 'x'} {
					b := append([]byte(nil), buf...)
					b[pos] = byte(c)
					if pos+1 < len(b) {
						b[pos+1] = next
					}
					want := true
					for _, x := range b {
						if x < lo || x > '~' {
							want = false
						}
					}
					if got := printableFrom(string(b), lo); got != want {
						t.Fatalf("printableFrom(%q, %q) = %v, want %v", b, lo, got, want)
					}
				}
			}
		}
	}
}
