package codearts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Defaults applied by New to zero Options fields. docs/api-client.md explains
// each; DefaultRequestsPerSecond is derived from docs/api-reference.md §9.4.
const (
	// DefaultRequestsPerSecond is 10 calls per minute for the whole client:
	// every policy of the operations used is named ten_*, read as "10 calls per
	// user per minute"; one shared bucket at that rate keeps every operation
	// under it even when all calls go to the same operation.
	DefaultRequestsPerSecond = 10.0 / 60
	DefaultBurst             = 1
	DefaultMaxConcurrency    = 2
	DefaultTimeout           = 30 * time.Second
	DefaultMaxRetries        = 2 // docs/api-reference.md §9.5: up to 2 retries
	DefaultBackoffBase       = 2 * time.Second
	DefaultBackoffMax        = 5 * time.Minute
	// DefaultAuthFailurePause is how long calls are refused after an
	// authentication failure: the gateway locks an AK for 5 minutes after
	// more than 5 consecutive failures (docs/api-reference.md §9.3, §9.5 rule 2).
	DefaultAuthFailurePause = 5 * time.Minute
	// DefaultIAMEndpoint is the global IAM endpoint.
	DefaultIAMEndpoint = "https://iam.myhuaweicloud.com"

	tokenRefreshMargin = time.Hour      // renew IAM tokens with less than this left
	tokenDefaultTTL    = 24 * time.Hour // when IAM does not say expires_at
	userAgent          = "codearts_build_exporter"
)

// DefaultMaxResponseBytes bounds the body of one answer (Options.MaxResponseBytes):
// a log page is far smaller.
const DefaultMaxResponseBytes = 64 << 20

// ErrResponseTooLarge is wrapped by the APIError of an answer whose body is
// larger than Options.MaxResponseBytes. It is not retried: the same request
// would get the same answer (a log page can be asked again with a bounded
// end_offset instead).
var ErrResponseTooLarge = errors.New("response body larger than the limit")

// Operation names: the api label of the self-metrics and APIError.Op.
const (
	OpShowActionInfo             = "ShowActionInfo"
	OpShowConsoleInfo            = "ShowConsoleInfo"
	OpShowRunningStatus          = "ShowRunningStatus"
	OpShowJobBuildRecordDetail   = "ShowJobBuildRecordDetail"
	OpShowBuildRecordFullStages  = "ShowBuildRecordFullStages"
	OpListBuildInfoRecordByJobID = "ListBuildInfoRecordByJobId"
	OpListJob                    = "ListJob"
	OpIAMToken                   = "IAMToken"
)

// Auth holds exactly one authentication method, with secrets already
// resolved: AK/SK (AccessKey + SecretKey, SecurityToken for temporary
// credentials), a static Token (sent as X-Auth-Token) or IAM password.
type Auth struct {
	AccessKey, SecretKey, SecurityToken string
	Token                               string
	IAM                                 *IAMPassword
}

// IAMPassword trades an IAM user's password for a project-scoped token
// (docs/api-reference.md §11.2). The scope is ProjectName if set, else ProjectID, else
// Options.ProjectID. Endpoint "" means DefaultIAMEndpoint.
type IAMPassword struct {
	Endpoint, User, Password, Domain, ProjectName, ProjectID string
}

// Options configures a Client. Zero values take the Default* constants,
// except MaxRetries, which is literal (0 = no retries).
type Options struct {
	Endpoint          string // base URL, e.g. https://cloudbuild-ext.cn-north-4.myhuaweicloud.com
	ProjectID         string // IAM project id, sent (and signed) as X-Project-Id with AK/SK
	Auth              Auth
	RequestsPerSecond float64 // one token bucket shared by every call; < 0 = unlimited
	Burst             int
	MaxConcurrency    int           // HTTP requests in flight at most
	Timeout           time.Duration // per attempt, body included
	MaxRetries        int           // retries after the first attempt; 0 = none
	BackoffBase       time.Duration // first retry waits up to this (full jitter), doubling per retry
	BackoffMax        time.Duration // cap of one retry wait; a longer Retry-After is not waited for
	AuthFailurePause  time.Duration // calls refused after an auth failure; < 0 = never
	HTTPClient        *http.Client  // nil = the client's own HTTP/1.1 transport with http.DefaultTransport's settings (transport.go); redirects are never followed
	MaxResponseBytes  int64         // body size limit of one answer; 0 = DefaultMaxResponseBytes
	Registerer        prometheus.Registerer
	Logger            *slog.Logger
	Now               func() time.Time // nil = time.Now; signing dates, token expiry and the auth pause (Retry-After waits use the wall clock)
}

// Client calls the CodeArts Build API. It is safe for concurrent use.
type Client struct {
	base        *url.URL
	signer      *Signer
	staticToken string
	iam         *iamSource
	secrets     []string

	hc          *http.Client
	rt          *connTransport // hc's transport when it is the client's own (send)
	maxBody     int64
	limiter     *rate.Limiter
	gate        priorityGate
	tun         atomic.Pointer[tunables] // replaced by Reconfigure
	identity    identity                 // what Reconfigure may not change
	backoffBase time.Duration
	backoffMax  time.Duration
	authPause   time.Duration
	log         *slog.Logger
	now         func() time.Time
	m           *selfMetrics

	// Test hooks.
	jitter func() float64                                   // in [0,1)
	sleep  func(ctx context.Context, d time.Duration) error // retry waits

	deadlines attemptDeadlines // the per-attempt timeouts

	mu        sync.Mutex
	retryKey  string               // what the last retry warning was about (logRetry)
	retryAt   time.Time            // when a call was last retried
	notBefore time.Time            // shared pause from Retry-After (wall clock: a real wait)
	paused    map[bool]pausedState // key: IAM endpoint (true) or CodeArts (false)
	// The configured rate and burst, and when the limit last changed or a
	// call was throttled (recoverRate raises a lowered limit after a quiet
	// period since then).
	configuredRate  rate.Limit
	configuredBurst int
	rateChanged     time.Time
}

type pausedState struct {
	until time.Time
	cause *APIError
}

// New checks o and builds a Client. It makes no network call.
func New(o Options) (*Client, error) {
	base, err := parseBaseURL(o.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("codearts: endpoint: %w", err)
	}
	c := &Client{
		base:        base,
		hc:          o.HTTPClient,
		maxBody:     o.MaxResponseBytes,
		backoffBase: o.BackoffBase,
		backoffMax:  o.BackoffMax,
		authPause:   o.AuthFailurePause,
		log:         o.Logger,
		now:         o.Now,
		jitter:      rand.Float64,
		sleep:       sleepCtx,
		paused:      map[bool]pausedState{},
	}
	// Never follow redirects: Go forwards custom headers such as
	// X-Auth-Token to the new host, and the API does not redirect. A 3xx is
	// returned as an error answer instead.
	hc := http.Client{Transport: newConnTransport(newTransport())} // net/http's for proxies
	if o.HTTPClient != nil {
		hc = *o.HTTPClient
	} else {
		c.rt = hc.Transport.(*connTransport)
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = &hc
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponseBytes
	}
	tun, err := newTunables(o)
	if err != nil {
		return nil, err
	}
	c.tun.Store(tun)
	if c.backoffBase <= 0 {
		c.backoffBase = DefaultBackoffBase
	}
	if c.backoffMax <= 0 {
		c.backoffMax = DefaultBackoffMax
	}
	if c.backoffMax < c.backoffBase {
		c.backoffMax = c.backoffBase
	}
	if c.authPause == 0 {
		c.authPause = DefaultAuthFailurePause
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	lim, burst := configuredRate(o)
	c.limiter = rate.NewLimiter(lim, burst)
	c.configuredRate, c.configuredBurst = lim, burst

	a := o.Auth
	methods := 0
	if a.AccessKey != "" || a.SecretKey != "" {
		methods++
		if a.AccessKey == "" || a.SecretKey == "" {
			return nil, errors.New("codearts: AK/SK auth needs both access key and secret key")
		}
		c.signer = &Signer{AccessKey: a.AccessKey, SecretKey: a.SecretKey, ProjectID: o.ProjectID, SecurityToken: a.SecurityToken,
			cache: newSignerCache(a.SecretKey)}
	} else if a.SecurityToken != "" {
		return nil, errors.New("codearts: a security token needs an access key and secret key")
	}
	if a.Token != "" {
		methods++
		c.staticToken = a.Token
	}
	if a.IAM != nil {
		methods++
		s, err := newIAMSource(c, *a.IAM, o.ProjectID)
		if err != nil {
			return nil, err
		}
		c.iam = s
		c.secrets = append(c.secrets, a.IAM.Password)
	}
	if methods != 1 {
		return nil, fmt.Errorf("codearts: exactly one auth method (AK/SK, token or IAM password) is required, got %d", methods)
	}
	c.secrets = append(c.secrets, a.SecretKey, a.SecurityToken, a.Token)
	c.identity = identityOf(base, o)

	c.m, err = newSelfMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	c.m.rateLimit.Set(float64(c.limiter.Limit()))
	return c, nil
}

func parseBaseURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL with a host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must not have a query or fragment", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// call is one API operation to perform, with the ids its errors name.
type call struct {
	op          string
	method      string
	url         *url.URL // query in url.RawQuery (canonical form)
	body        []byte
	contentType string
	iam         bool // the IAM token request: no limiter, semaphore or CodeArts auth

	jobID           string
	buildNo, stepID int64
	recordID        string
	hasStep         bool

	token string // IAM token sent by the last attempt

	// fast, when set, decodes a 2xx answer in one pass into the caller's
	// result and returns the envelope's status and error_code; ok false
	// means it declined and the general decoding runs (fastlog.go).
	fast func(body []byte) (status, errorCode flexString, ok bool)
}

func (c *Client) newCall(op, path string, q url.Values) *call {
	return c.newCallRaw(op, path, canonicalQuery(q))
}

// newCallRaw is newCall with the query in canonical form already.
func (c *Client) newCallRaw(op, path, query string) *call {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = query
	return &call{op: op, method: http.MethodGet, url: &u}
}

func (cl *call) errorf(format string, args ...any) *APIError {
	return &APIError{Op: cl.op, JobID: cl.jobID, BuildNo: cl.buildNo, StepID: cl.stepID,
		RecordID: cl.recordID, hasStep: cl.hasStep, Message: fmt.Sprintf(format, args...)}
}

type response struct {
	attempts int
	status   int
	header   http.Header
	body     []byte
	// result is the envelope's raw "result", kept by classify so that a
	// success is scanned once for its status and once for its payload,
	// not a third time (log pages are the bulk of what the client reads).
	result json.RawMessage
	// decoded is true when classify parsed the body as a JSON envelope.
	decoded bool
	// fast is true when call.fast decoded the body, result included.
	fast bool
	// buf holds body (see release).
	buf *bytes.Buffer
}

// do runs cl with auth, rate limit, concurrency bound and retries.
func (c *Client) do(ctx context.Context, cl *call) (*response, error) {
	refreshed := false
	attempts := 0
	var last *APIError
	for retry := 0; ; {
		if e := c.pausedError(cl); e != nil {
			return nil, e
		}
		if err := c.waitNotBefore(ctx); err != nil {
			return nil, c.ctxError(cl, err, attempts, last)
		}
		resp, e, fromIAM := c.attempt(ctx, cl, &attempts)
		if e == nil {
			resp.attempts = attempts
			return resp, nil
		}
		e.Attempts = attempts
		last = e
		if fromIAM || ctx.Err() != nil {
			return nil, e
		}
		if e.Throttled() {
			c.m.throttled.WithLabelValues(cl.op).Inc()
			c.noteThrottle()
			c.adaptRate(cl, e)
		}
		if e.Auth() {
			if c.iam != nil && !cl.iam && !refreshed {
				// The token may have expired or been revoked: renew once.
				refreshed = true
				c.iam.invalidate(cl.token)
				c.log.Warn("CodeArts rejected the IAM token; renewing it once", "api", cl.op, "err", e.Error())
				continue
			}
			c.pause(cl, e)
			return nil, e
		}
		if !e.Temporary() || retry >= c.tun.Load().maxRetries {
			return nil, e
		}
		delay := c.backoff(retry)
		if ra := e.RetryAfter; ra > 0 {
			if ra > c.backoffMax {
				return nil, e
			}
			c.setNotBefore(time.Now().Add(ra))
			delay = max(delay, ra)
		}
		retry++
		c.m.retries.WithLabelValues(cl.op).Inc()
		c.logRetry(cl, e, retry, delay)
		if err := c.sleep(ctx, delay); err != nil {
			return nil, e
		}
	}
}

// attempt sends cl once. fromIAM is true when the error came from getting
// an IAM token (already retried by that call).
func (c *Client) attempt(ctx context.Context, cl *call, attempts *int) (resp *response, e *APIError, fromIAM bool) {
	tun := c.tun.Load()
	if !cl.iam {
		// The rate limit first, in priority order, then the concurrency
		// bound: a waiting low-priority call must not hold a connection
		// slot that a high-priority one could use.
		if err := c.waitTurn(ctx); err != nil {
			return nil, c.ctxError(cl, err, *attempts, nil), false
		}
		select {
		case tun.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, c.ctxError(cl, ctx.Err(), *attempts, nil), false
		}
		defer func() { <-tun.sem }()
	}
	// The per-attempt timeout, watched by the client's one timer rather
	// than a timer of its own (deadline.go).
	actx, cancel := context.WithCancelCause(ctx)
	watched := c.deadlines.add(time.Now().Add(tun.timeout), cancel)
	defer func() {
		c.deadlines.done(watched)
		cancel(nil)
	}()
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	// The URL is already built: it is set as it is rather than printed
	// and parsed again for every attempt.
	req, err := http.NewRequestWithContext(actx, cl.method, "", body)
	if err != nil {
		e := cl.errorf("build request: %s", c.redact(err.Error()))
		e.Err = err
		return nil, e, false
	}
	u := *cl.url
	req.URL, req.Host = &u, u.Host
	// Shared values, never modified: Set would allocate them per request.
	req.Header["Accept"] = acceptJSON
	req.Header["User-Agent"] = userAgentValue
	if cl.contentType != "" {
		req.Header.Set("Content-Type", cl.contentType)
	}
	if !cl.iam {
		if ae := c.authenticate(ctx, req, cl); ae != nil {
			return nil, ae, true
		}
	}
	*attempts++
	start := time.Now()
	hr, err := c.send(req)
	var rb []byte
	var buf *bytes.Buffer
	if err == nil {
		if hr.ContentLength > c.maxBody {
			err = fmt.Errorf("%w (%d bytes announced, limit %d)", ErrResponseTooLarge, hr.ContentLength, c.maxBody)
		} else {
			rb, buf, err = readBody(hr.Body, hr.ContentLength, c.maxBody+1)
			if err == nil && int64(len(rb)) > c.maxBody {
				err = fmt.Errorf("%w (limit %d bytes)", ErrResponseTooLarge, c.maxBody)
				rb, buf = nil, nil // not pooled: it may be as big as the limit
			}
		}
		hr.Body.Close()
	}
	elapsed := time.Since(start)
	if err != nil {
		c.m.observe(cl.op, 0, elapsed)
		if ctx.Err() != nil {
			return nil, c.ctxError(cl, ctx.Err(), *attempts, nil), false
		}
		if context.Cause(actx) == errAttemptTimeout {
			// The transport reports the cancellation; say why it came.
			err = fmt.Errorf("no answer within %s: %w", tun.timeout, context.DeadlineExceeded)
		}
		e := cl.errorf("%s", c.redact(err.Error()))
		e.Err = err
		if errors.Is(err, ErrResponseTooLarge) {
			e.HTTPStatus = hr.StatusCode
		}
		c.log.Debug("CodeArts API call", "api", cl.op, "code", "error", "duration", elapsed, "err", e.Message)
		return nil, e, false
	}
	c.m.observe(cl.op, hr.StatusCode, elapsed)
	if c.log.Enabled(ctx, slog.LevelDebug) { // its arguments cost allocations even when discarded
		c.log.Debug("CodeArts API call", "api", cl.op, "code", hr.StatusCode, "duration", elapsed, "bytes", len(rb))
	}
	resp = &response{status: hr.StatusCode, header: hr.Header, body: rb, buf: buf}
	if e := c.classify(cl, resp); e != nil {
		return nil, e, false
	}
	return resp, nil, false
}

// The values of the Accept and User-Agent headers of every request.
var (
	acceptJSON     = []string{"application/json"}
	userAgentValue = []string{userAgent}
)

// send sends req and returns the answer's head. With the client's own
// transport it goes to it directly: http.Client adds nothing the client
// uses (it never follows redirects and has neither a cookie jar nor an
// overall timeout), but copied the request's header and URL for redirects
// on every call. Its errors are wrapped as http.Client wraps them.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	if c.rt == nil {
		return c.hc.Do(req)
	}
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		op := req.Method[:1] + strings.ToLower(req.Method[1:])
		return nil, &url.Error{Op: op, URL: req.URL.String(), Err: err}
	}
	return resp, nil
}

// CloseIdleConnections closes the client's idle connections, for a client
// that is no longer used. Calls made later open new ones.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// maxIdleConnsPerHost keeps a connection for every request in flight
// (MaxConcurrency, even raised by Reconfigure) in a client without
// Options.HTTPClient: net/http's default of 2 closes the others after each
// answer, and every further request paid a new TCP and TLS handshake.
const maxIdleConnsPerHost = 64

// newTransport is http.DefaultTransport's configuration (proxy from the
// environment, HTTP/2, gzip negotiated and decompressed, timeouts) with a
// connection kept for every request in flight. connTransport takes its
// settings from it and sends through it what it does not send itself.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return t
}

// bodyBuffers are reused for answers: log pages are most of what the
// client reads, and reading each into a fresh, repeatedly grown slice was
// a good part of its allocation.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer kept for reuse.
const maxPooledBody = 1 << 20

// readBody reads at most limit bytes of r into a pooled buffer, sized at
// once when the length is announced. The caller hands the buffer back with
// response.release when nothing refers to the body any more.
func readBody(r io.Reader, length, limit int64) ([]byte, *bytes.Buffer, error) {
	buf := bodyBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	if length >= 0 && length < limit {
		buf.Grow(int(length) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(r, limit))
	return buf.Bytes(), buf, err
}

// release returns the body's buffer for reuse; r.body is unusable after.
func (r *response) release() {
	if r.buf != nil && r.buf.Cap() <= maxPooledBody {
		bodyBuffers.Put(r.buf)
	}
	r.buf, r.body, r.result = nil, nil, nil
}

// classify turns an error answer (non-2xx, or a 2xx CodeArts envelope with
// status "fail") into an APIError; nil means success.
func (c *Client) classify(cl *call, r *response) *APIError {
	ok := r.status >= 200 && r.status < 300
	if ok && !cl.iam && cl.fast != nil {
		if status, code, done := cl.fast(r.body); done {
			ok, r.fast = envelopeOK(status, code), true
		}
	}
	if ok && !cl.iam && !r.fast {
		var env struct {
			Status    flexString      `json:"status"`
			ErrorCode flexString      `json:"error_code"`
			Result    json.RawMessage `json:"result"`
		}
		if json.Unmarshal(r.body, &env) == nil {
			ok = envelopeOK(env.Status, env.ErrorCode)
			r.result, r.decoded = env.Result, true
		}
	}
	if ok {
		return nil
	}
	info := parseErrorBody(r.body)
	if hint := notAPIAnswer(r.header, r.body); hint != "" {
		info.message = hint
	}
	e := cl.errorf("%s", truncate(c.redact(info.message), 300))
	e.HTTPStatus = r.status
	e.Code = truncate(c.redact(info.code), 64)
	e.RequestID = truncate(c.redact(requestID(r.header, info.requestID)), 128)
	e.RetryAfter = parseRetryAfter(r.header.Get("Retry-After"), time.Now())
	if e.Message == "" {
		if r.status >= 200 && r.status < 300 {
			e.Message = "status fail"
		} else {
			e.Message = http.StatusText(r.status)
		}
	}
	return e
}

// envelopeOK reports whether a 2xx CodeArts envelope is a success: status
// is not "fail", and a missing status comes without an error_code.
func envelopeOK(status, errorCode flexString) bool {
	return !strings.EqualFold(string(status), "fail") && (status != "" || errorCode == "")
}

func requestID(h http.Header, fromBody string) string {
	if v := h.Get("X-Request-Id"); v != "" {
		return v
	}
	return fromBody
}

// authenticate adds the credentials of the configured method to req.
func (c *Client) authenticate(ctx context.Context, req *http.Request, cl *call) *APIError {
	switch {
	case c.signer != nil:
		if err := c.signer.sign(req, cl.body, c.now()); err != nil { // newCall made the query canonical
			e := cl.errorf("sign request: %s", c.redact(err.Error()))
			e.Err = err
			return e
		}
	case c.staticToken != "":
		req.Header.Set("X-Auth-Token", c.staticToken)
	case c.iam != nil:
		tok, err := c.iam.get(ctx)
		if err != nil {
			e := cl.errorf("get IAM token: %s", c.redact(err.Error()))
			if ie := asAPIError(err); ie != nil {
				e.HTTPStatus, e.Code, e.RequestID, e.paused = ie.HTTPStatus, ie.Code, ie.RequestID, ie.paused
				e.Message = "get IAM token: " + ie.Message
				e.Attempts = ie.Attempts
			}
			e.Err = err
			return e
		}
		req.Header.Set("X-Auth-Token", tok)
		cl.token = tok
	}
	return nil
}

// retryQuiet is how long without any retry resets logRetry's memory, so a
// failure that comes back after a quiet hour is logged again.
const retryQuiet = time.Hour

// logRetry warns about a retry once per change of its operation, HTTP
// status and code; the same failure retried again is logged at debug level
// (the retries are counted in codearts_exporter_api_retries_total).
func (c *Client) logRetry(cl *call, e *APIError, retry int, delay time.Duration) {
	key := cl.op + " " + strconv.Itoa(e.HTTPStatus) + " " + e.Code
	now := time.Now()
	c.mu.Lock()
	repeated := key == c.retryKey && now.Sub(c.retryAt) < retryQuiet
	c.retryKey, c.retryAt = key, now
	c.mu.Unlock()
	level := slog.LevelWarn
	if repeated {
		level = slog.LevelDebug
	}
	c.log.Log(context.Background(), level, "CodeArts API call failed; retrying (logged again when the failure changes)",
		"api", cl.op, "err", e.Error(), "retry", retry, "delay", delay)
}

// ctxError reports a cancelled or expired context, keeping the last API
// error's details when there was one.
func (c *Client) ctxError(cl *call, err error, attempts int, last *APIError) *APIError {
	e := cl.errorf("%v", err)
	if last != nil {
		cp := *last
		cp.Message = last.Message + " (then " + err.Error() + ")"
		e = &cp
	}
	e.Err = err
	e.Attempts = attempts
	return e
}

// backoff is the full-jitter wait before retry number retry+1:
// uniform in [0, min(BackoffMax, BackoffBase·2^retry)).
func (c *Client) backoff(retry int) time.Duration {
	ceil := c.backoffMax
	if retry < 62 {
		if d := c.backoffBase << uint(retry); d > 0 && d < ceil {
			ceil = d
		}
	}
	return time.Duration(c.jitter() * float64(ceil))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setNotBefore delays every call until t (a Retry-After applies to the
// credential, not only to the call that received it).
func (c *Client) setNotBefore(t time.Time) {
	c.mu.Lock()
	if t.After(c.notBefore) {
		c.notBefore = t
	}
	c.mu.Unlock()
}

func (c *Client) waitNotBefore(ctx context.Context) error {
	c.mu.Lock()
	d := time.Until(c.notBefore)
	c.mu.Unlock()
	if d <= 0 {
		return nil
	}
	return c.sleep(ctx, d)
}

// adaptRate lowers the shared limit to what an APIG.0308 message states
// ("limit:10,time:1 minute"), never raising it.
func (c *Client) adaptRate(cl *call, e *APIError) {
	r := throttleRate(e.Message)
	if r <= 0 || rate.Limit(r) >= c.limiter.Limit() {
		return
	}
	c.mu.Lock()
	c.limiter.SetLimit(rate.Limit(r))
	c.limiter.SetBurst(1)
	c.rateChanged = c.now()
	c.mu.Unlock()
	c.m.rateLimit.Set(r)
	c.log.Warn("CodeArts throttling states a lower limit; lowering the shared request rate",
		"api", cl.op, "requests_per_second", r, "code", e.Code)
}

// pause refuses further calls (to CodeArts, or to IAM for the token call)
// for the auth-failure pause, so a bad credential cannot lock the account.
func (c *Client) pause(cl *call, e *APIError) {
	if c.authPause < 0 {
		return
	}
	until := c.now().Add(c.authPause)
	c.mu.Lock()
	c.paused[cl.iam] = pausedState{until: until, cause: e}
	c.mu.Unlock()
	c.log.Error("CodeArts authentication failed; refusing further calls until the pause ends",
		"api", cl.op, "err", e.Error(), "until", until.UTC().Format(time.RFC3339))
}

func (c *Client) pausedError(cl *call) *APIError {
	c.mu.Lock()
	p := c.paused[cl.iam]
	c.mu.Unlock()
	if p.cause == nil || !c.now().Before(p.until) {
		return nil
	}
	e := cl.errorf("not sent: authentication failed at an earlier call (%s); calls paused until %s to avoid locking the credential",
		p.cause.Error(), p.until.UTC().Format(time.RFC3339))
	e.paused = true
	e.Err = p.cause
	return e
}

// redact replaces every configured secret (and the current IAM token) in s.
func (c *Client) redact(s string) string {
	secrets := c.secrets
	if c.iam != nil {
		if tok := c.iam.current(); tok != "" {
			secrets = append(secrets[:len(secrets):len(secrets)], tok)
		}
	}
	return redactSecrets(s, secrets)
}
