package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// t0 is the test clocks' starting time.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

const (
	testJobZH = "0123456789abcdef0123456789abcdef"
	testJobEN = "fedcba9876543210fedcba9876543210"
)

// testJobs are two small jobs: a Chinese one and an English alt-format one,
// both bounded.
func testJobs() []JobSpec {
	return []JobSpec{
		{
			ID: testJobZH, Name: "backend-ci", MaxBuilds: 3, FailureRate: 0.3, AbortRate: 0.2, ErrorSpikeRate: 0.5,
			SpikeRecords: 40, RecordsPerSecond: 6,
			Stages: []StageSpec{
				{DisplayName: "代码检出", Tool: "git", MinDuration: 5 * time.Second, MaxDuration: 8 * time.Second},
				{DisplayName: "Maven构建", Tool: "maven", MinDuration: 10 * time.Second, MaxDuration: 20 * time.Second},
				{DisplayName: "单元测试", Tool: "junit", MinDuration: 5 * time.Second, MaxDuration: 15 * time.Second},
				{DisplayName: "归档", Tool: "shell", MinDuration: 2 * time.Second, MaxDuration: 3 * time.Second, NoLog: true},
			},
		},
		{
			ID: testJobEN, Name: "frontend", MaxBuilds: 2, English: true, AltFormat: true, CompactAPITimes: true,
			Offset: -30 * time.Second,
			Stages: []StageSpec{
				{DisplayName: "npm build", Tool: "npm", MinDuration: 5 * time.Second, MaxDuration: 10 * time.Second},
				{DisplayName: "Lint", Tag: "Lint#eslint", Tool: "lint", MinDuration: 3 * time.Second, MaxDuration: 6 * time.Second},
			},
		},
	}
}

type fixture struct {
	sim   *Server
	srv   *httptest.Server
	clock *ManualClock
}

func newFixture(t testing.TB, o Options) *fixture {
	t.Helper()
	f := &fixture{clock: NewManualClock(t0)}
	if o.Clock == nil {
		o.Clock = f.clock
	}
	if o.Jobs == nil {
		o.Jobs = testJobs()
	}
	sim, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.sim = sim
	f.srv = httptest.NewServer(sim)
	t.Cleanup(f.srv.Close)
	return f
}

// reply is a decoded answer.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (f *fixture) get(t testing.TB, path string, q url.Values) reply {
	t.Helper()
	u := f.srv.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return readReply(t, resp)
}

func readReply(t testing.TB, resp *http.Response) reply {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("body is not a JSON object (%v): %s", err, raw)
	}
	return r
}

func (r reply) result(t testing.TB) map[string]any {
	t.Helper()
	res, ok := r.body["result"].(map[string]any)
	if !ok {
		t.Fatalf("no result object: %s", r.raw)
	}
	return res
}

// expectError checks an error answer's status and code.
func expectError(t testing.TB, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.body["error_code"] != code {
		t.Fatalf("want %d %s, got %d %s", status, code, r.status, r.raw)
	}
	if _, ok := r.body["error_msg"].(string); !ok {
		t.Fatalf("error without error_msg: %s", r.raw)
	}
	if strings.HasPrefix(code, "APIG") && r.body["request_id"] != r.header.Get("X-Request-Id") {
		t.Fatalf("gateway error request_id %v != X-Request-Id %q", r.body["request_id"], r.header.Get("X-Request-Id"))
	}
}

var digitsRE = regexp.MustCompile(`^[0-9]+$`)

// checkTypes checks that obj has exactly the documented JSON types. A type
// is one of string, number, bool, null, object, array, digits (a string of
// digits), or alternatives joined by '|'.
func checkTypes(t testing.TB, where string, obj map[string]any, want map[string]string) {
	t.Helper()
	for field, types := range want {
		v, present := obj[field]
		if !present {
			t.Errorf("%s: field %q missing", where, field)
			continue
		}
		ok := false
		for _, typ := range strings.Split(types, "|") {
			switch typ {
			case "string":
				_, ok = v.(string)
			case "digits":
				s, isStr := v.(string)
				ok = isStr && digitsRE.MatchString(s)
			case "number":
				_, ok = v.(float64)
			case "bool":
				_, ok = v.(bool)
			case "null":
				ok = v == nil
			case "object":
				_, ok = v.(map[string]any)
			case "array":
				_, ok = v.([]any)
			default:
				t.Fatalf("bad type %q", typ)
			}
			if ok {
				break
			}
		}
		if !ok {
			t.Errorf("%s: field %q = %#v, want %s", where, field, v, types)
		}
	}
}

// flexInt reads an offset that may be a JSON number or a digit string and
// reports which it was.
func flexInt(t testing.TB, v any) (n int64, isString bool) {
	t.Helper()
	switch x := v.(type) {
	case float64:
		return int64(x), false
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			t.Fatalf("offset %q is not digits", x)
		}
		return n, true
	}
	t.Fatalf("offset %#v is neither number nor string", v)
	return 0, false
}

func logQuery(job string, build, step, start, end int64) url.Values {
	return url.Values{
		"job_id": {job}, "build_no": {strconv.FormatInt(build, 10)}, "step_id": {strconv.FormatInt(step, 10)},
		"start_offset": {strconv.FormatInt(start, 10)}, "end_offset": {strconv.FormatInt(end, 10)}, "size": {"1000"},
	}
}

// advanceUntil advances the clock in steps until cond holds (or fails after
// limit).
func (f *fixture) advanceUntil(t testing.TB, step, limit time.Duration, cond func(Truth) bool) Truth {
	t.Helper()
	for waited := time.Duration(0); waited <= limit; waited += step {
		tr := f.sim.Truth()
		if cond(tr) {
			return tr
		}
		f.clock.Advance(step)
	}
	t.Fatalf("condition not reached within %v", limit)
	return Truth{}
}
