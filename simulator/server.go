package simulator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Server is a simulated CodeArts Build service. It is an http.Handler that
// serves the operations of the reference (see docs/simulator.md) and is safe
// for concurrent use.
type Server struct {
	opts  Options
	clock Clock
	seed  uint64
	mux   *http.ServeMux

	jobs    []*job
	jobByID map[string]*job

	mu         sync.Mutex // guards the jobs' build caches and byRecordID
	byRecordID map[string]*build

	faults   atomic.Pointer[Faults]
	reqSeq   atomic.Uint64 // every request: X-Request-Id
	faultSeq atomic.Uint64 // fault-eligible requests: fault draws
	limiter  *rate.Limiter

	authMu   sync.Mutex
	tokens   map[string]int64 // IAM-issued token → expiry, unix ms
	tokenSeq uint64
	akFails  int   // consecutive signature failures (AKLockout)
	akLocked int64 // unix ms until which the access key is refused

	stats stats
}

// New checks the options and returns a Server. The simulated world starts
// at Options.Origin; nothing is generated until it is asked for.
func New(o Options) (*Server, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:       o,
		clock:      o.Clock,
		seed:       uint64(o.Seed),
		jobByID:    map[string]*job{},
		byRecordID: map[string]*build{},
		tokens:     map[string]int64{},
	}
	if s.clock == nil {
		s.clock = WallClock()
	}
	origin := o.Origin
	if origin.IsZero() {
		origin = s.clock.Now().Truncate(time.Second)
	}
	for _, spec := range o.Jobs {
		j := newJob(spec, s.seed, origin)
		s.jobs = append(s.jobs, j)
		s.jobByID[spec.ID] = j
	}
	f := o.Faults
	s.faults.Store(&f)
	if o.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(o.RateLimit), o.RateBurst)
	}
	s.stats.faults = make([]atomic.Int64, numFaultKinds)

	m := http.NewServeMux()
	m.HandleFunc("GET /v1/job/{job_id}/running-status", s.op("ShowRunningStatus", s.handleRunningStatus))
	m.HandleFunc("GET /v1/record/{job_id}/{build_no}/record-info", s.op("ShowJobBuildRecordDetail", s.handleRecordInfo))
	m.HandleFunc("GET /v1/record/{record_id}/full-stages", s.op("ShowBuildRecordFullStages", s.handleFullStages))
	m.HandleFunc("GET /v1/log/task/step", s.op("ShowActionInfo", s.handleActionInfo))
	m.HandleFunc("GET /v1/log/task/page", s.op("ShowConsoleInfo", s.handleConsoleInfo))
	m.HandleFunc("GET /v1/record/{job_id}/list", s.op("ListBuildInfoRecordByJobId", s.handleRecordList))
	m.HandleFunc("GET /v1/job/list", s.op("ListJob", s.handleListJob))
	m.HandleFunc("POST /v3/auth/tokens", s.handleIAMToken)
	m.HandleFunc("/", s.handleNotFound)
	s.mux = m
	return s, nil
}

// ServeHTTP serves one request. Every answer carries an X-Request-Id header.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	seq := s.reqSeq.Add(1)
	w.Header().Set("X-Request-Id", hex32(mix(s.seed, seq, saltRequestID), mix(s.seed, seq, saltRequestID, 1)))
	s.stats.requests.Add(1)
	s.mux.ServeHTTP(w, r)
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves s in a
// goroutine. It returns the base URL to give the client ("http://127.0.0.1:PORT")
// and a function that shuts the listener down.
func (s *Server) Start(addr string) (baseURL string, stop func(context.Context) error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	// Serve returns http.ErrServerClosed after stop; any other error means
	// the listener died, which the client sees as refused connections.
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), srv.Shutdown, nil
}

// SetFaults replaces the fault configuration while serving (for tests that
// throttle and then recover). Invalid rates are clamped to [0, 1].
func (s *Server) SetFaults(f Faults) {
	f.Rate = min(max(f.Rate, 0), 1)
	var kinds []FaultKind
	for _, k := range f.Kinds {
		if k >= 0 && k < numFaultKinds {
			kinds = append(kinds, k)
		}
	}
	f.Kinds = kinds
	s.faults.Store(&f)
}

// SetListed shows (true) or hides (false) a job in ListJob, as when a job
// is deleted or the credential loses access to its project and then gets
// it back. A hidden job's own operations still answer.
func (s *Server) SetListed(jobID string, listed bool) error {
	j := s.jobByID[jobID]
	if j == nil {
		return fmt.Errorf("simulator: no job %q", jobID)
	}
	s.mu.Lock()
	j.unlisted = !listed
	s.mu.Unlock()
	return nil
}

// Jobs returns the normalised job specs (defaults filled in), e.g. to
// configure a collector with the same ids and names.
func (s *Server) Jobs() []JobSpec {
	out := make([]JobSpec, len(s.opts.Jobs))
	copy(out, s.opts.Jobs)
	return out
}

// echoCredentials answers 400 with the request's credentials in the error
// message and the request id, whole and in pieces (HostileEcho): a client
// must not let any of it reach a log, an error or a page.
func (s *Server) echoCredentials(w http.ResponseWriter, r *http.Request) {
	var parts []string
	for _, h := range []string{"X-Auth-Token", "Authorization", "X-Security-Token"} {
		v := r.Header.Get(h)
		if v == "" {
			continue
		}
		half := len(v) / 2
		parts = append(parts, v, v[:min(20, len(v))], strings.ToLower(v), strings.ToUpper(v), v[:half], v[half:])
	}
	msg := "Invalid param: credentials " + strings.Join(parts, " / ")
	writeJSON(w, http.StatusBadRequest, map[string]string{"error_code": "CB.00060200", "error_msg": msg,
		"request_id": strings.Join(parts, "")})
}

// op wraps a CodeArts operation: authentication, gateway rate limit, fault
// injection, then the handler with the request's "now".
func (s *Server) op(name string, h func(w http.ResponseWriter, r *http.Request, now int64)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: unreadable request body")
			return
		}
		if !s.authenticate(w, r, body) {
			return
		}
		if s.limiter != nil && !s.limiter.AllowN(s.clock.Now(), 1) {
			s.stats.limited.Add(1)
			s.throttle429(w)
			return
		}
		if !s.injectFault(w, r) {
			return
		}
		if s.opts.Hostile == HostileEcho && name == "ShowRunningStatus" {
			s.echoCredentials(w, r)
			return
		}
		s.stats.served.Add(1)
		s.countCall(name, r)
		h(w, r, s.clock.Now().UnixMilli())
	}
}

// injectFault draws a fault for this request. It returns false when it
// has answered the request (a faulted request touches nothing else).
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	f := s.faults.Load()
	if f.Rate <= 0 {
		return true
	}
	n := s.faultSeq.Add(1)
	if unit(mix(s.seed, n, saltFault)) >= f.Rate {
		return true
	}
	kinds := f.Kinds
	if len(kinds) == 0 {
		kinds = []FaultKind{FaultThrottle500, FaultThrottle429, FaultInternal500, FaultSlow}
	}
	k := kinds[mix(s.seed, n, saltFaultKind)%uint64(len(kinds))]
	s.stats.faults[k].Add(1)
	switch k {
	case FaultThrottle500:
		s.cbError(w, http.StatusInternalServerError, "CB.00060211", "Requests are too frequent. Please try again later.")
		return false
	case FaultThrottle429:
		s.throttle429Retry(w, f.RetryAfter, f.ThrottleLimit)
		return false
	case FaultInternal500:
		s.cbError(w, http.StatusInternalServerError, "CB.00060101", "Internal service error.")
		return false
	case FaultSlow:
		d := f.SlowDelay
		if d <= 0 {
			d = time.Second
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		}
	}
	return true
}

// throttle429 answers a request over Options.RateLimit; the message names
// the configured limit.
func (s *Server) throttle429(w http.ResponseWriter) {
	perMinute := max(int(s.opts.RateLimit*60+0.5), 1)
	s.throttle429Retry(w, time.Second, perMinute)
}

// throttle429Retry answers 429 APIG.0308 with Retry-After (whole seconds,
// at least 1) and a message naming a policy of perMinute calls a minute.
func (s *Server) throttle429Retry(w http.ResponseWriter, d time.Duration, perMinute int) {
	secs := int64(d / time.Second)
	if secs < 1 {
		secs = 1
	}
	if perMinute <= 0 {
		perMinute = 10
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	s.apigError(w, http.StatusTooManyRequests, "APIG.0308",
		"The throttling threshold has been reached: policy user over ratelimit,limit:"+strconv.Itoa(perMinute)+",time:1 minute")
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	s.apigError(w, http.StatusNotFound, "APIG.0101", "The API does not exist or has not been published in the environment")
}

// --- answers -----------------------------------------------------------------

const contentTypeJSON = "application/json;charset=UTF-8"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a write error means the client went away
}

// cbError answers with the CodeArts backend error shape (§9.1).
func (s *Server) cbError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, struct {
		Code string `json:"error_code"`
		Msg  string `json:"error_msg"`
	}{code, msg})
}

// apigError answers with the API gateway error shape, request_id included.
func (s *Server) apigError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, struct {
		Code      string `json:"error_code"`
		Msg       string `json:"error_msg"`
		RequestID string `json:"request_id"`
	}{code, msg, w.Header().Get("X-Request-Id")})
}

// failEnvelope answers 200 with status "fail" (§9.1, the HTTP 200 envelope).
func failEnvelope(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Result any    `json:"result"`
	}{"fail", msg, nil})
}

// success answers {"result":…, "error":null, "status":"success"}.
func success(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, struct {
		Result any     `json:"result"`
		Error  *string `json:"error"`
		Status string  `json:"status"`
	}{result, nil, "success"})
}

// --- stats -------------------------------------------------------------------

type stats struct {
	requests atomic.Int64
	served   atomic.Int64
	limited  atomic.Int64
	authFail atomic.Int64
	faults   []atomic.Int64

	mu    sync.Mutex
	byOp  map[string]int64
	byJob map[string]int64
}

// countCall counts a served operation by name and by the job it is about
// (its job_id, or for full-stages the job of the record id).
func (s *Server) countCall(op string, r *http.Request) {
	id := r.PathValue("job_id")
	if id == "" {
		id = r.URL.Query().Get("job_id")
	}
	if rid := r.PathValue("record_id"); id == "" && rid != "" {
		s.mu.Lock()
		if b := s.byRecordID[rid]; b != nil {
			id = b.job.spec.ID
		}
		s.mu.Unlock()
	}
	s.stats.mu.Lock()
	if s.stats.byOp == nil {
		s.stats.byOp, s.stats.byJob = map[string]int64{}, map[string]int64{}
	}
	s.stats.byOp[op]++
	if id != "" {
		s.stats.byJob[id]++
	}
	s.stats.mu.Unlock()
}

// Stats counts what the server has answered so far.
type Stats struct {
	Requests    int64               // every request received
	Served      int64               // CodeArts operations that reached their handler
	RateLimited int64               // 429s from Options.RateLimit
	AuthFailed  int64               // 401/403 answers of authentication
	Faults      map[FaultKind]int64 // injected faults by kind
	// Ops counts served operations by name ("ListJob", "ShowActionInfo", …).
	Ops map[string]int64
	// JobCalls counts served operations by the job id they are about
	// (ListJob and IAM are about none).
	JobCalls map[string]int64
}

// Stats returns counters of the requests answered so far.
func (s *Server) Stats() Stats {
	st := Stats{
		Requests:    s.stats.requests.Load(),
		Served:      s.stats.served.Load(),
		RateLimited: s.stats.limited.Load(),
		AuthFailed:  s.stats.authFail.Load(),
		Faults:      map[FaultKind]int64{},
	}
	for k := range s.stats.faults {
		st.Faults[FaultKind(k)] = s.stats.faults[k].Load()
	}
	s.stats.mu.Lock()
	st.Ops, st.JobCalls = maps.Clone(s.stats.byOp), maps.Clone(s.stats.byJob)
	s.stats.mu.Unlock()
	if st.Ops == nil {
		st.Ops, st.JobCalls = map[string]int64{}, map[string]int64{}
	}
	return st
}
