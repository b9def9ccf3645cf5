package codearts

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/syncbuf"
	"github.com/prometheus/client_golang/prometheus"
)

// Test job and record ids (those of the documented examples).
const (
	tJob    = "901878212b1a49be9c1a1054c272762a"
	tRecord = "3f1c2a9e-7b4d-4c1e-9a55-0d2e8b7c6f10"
)

// testdata/*.json are the example responses of Huawei's API documentation, verbatim
// (docs/api-reference.md describes their fields).
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type recorded struct {
	method, path, query string
	header              http.Header
	body                []byte
	at                  time.Time
}

// fakeAPI is a CodeArts look-alike over real HTTP. It verifies AK/SK
// signatures with VerifySignature when the request is signed (401
// APIG.0301, as the gateway does) and otherwise hands requests to handle.
type fakeAPI struct {
	*httptest.Server
	t      *testing.T
	secret string // SK the server knows for exAK

	mu       sync.Mutex
	reqs     []recorded
	inFlight int
	maxIn    int
	handle   func(w http.ResponseWriter, r *http.Request, n int) // n: 1-based count of requests so far
}

func newFakeAPI(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) *fakeAPI {
	f := &fakeAPI{t: t, secret: exSK, handle: handle}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body, time.Now()})
	n := len(f.reqs)
	f.inFlight++
	f.maxIn = max(f.maxIn, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if r.Header.Get("Authorization") != "" {
		err := VerifySignature(r, body, func(ak string) (string, bool) { return f.secret, ak == exAK }, time.Now(), 15*time.Minute)
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error_code":"APIG.0301","error_msg":"Incorrect IAM authentication information: %s","request_id":"req-401"}`, ErrSignatureMismatch)
			return
		}
	}
	f.handle(w, r, n)
}

func (f *fakeAPI) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fakeAPI) count() int { return len(f.requests()) }

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// newTestClient returns an AK/SK client for srv with fast backoff, no rate
// limit and its own registry.
func newTestClient(t *testing.T, url string, mod func(*Options)) (*Client, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o := Options{
		Endpoint:          url,
		ProjectID:         exProject,
		Auth:              Auth{AccessKey: exAK, SecretKey: exSK},
		RequestsPerSecond: -1,
		MaxConcurrency:    8,
		Timeout:           5 * time.Second,
		MaxRetries:        3,
		BackoffBase:       time.Millisecond,
		BackoffMax:        5 * time.Millisecond,
		Registerer:        reg,
	}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, reg
}

// metricValue reads one sample of a registered metric family.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch mf.GetType().String() {
			case "COUNTER":
				return m.GetCounter().GetValue()
			case "GAUGE":
				return m.GetGauge().GetValue()
			case "HISTOGRAM":
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// logBuffer captures slog output (JSON, debug level) safely across goroutines.
type logBuffer struct{ syncbuf.Buffer }

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var bg = context.Background()

func containsAll(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q does not contain %q", s, p)
		}
	}
}

// useTransport makes c send its requests through tr.
func useTransport(c *Client, tr *connTransport) {
	c.hc.Transport = tr
	c.rt = tr
}
