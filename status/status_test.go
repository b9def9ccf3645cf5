package status

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
	"github.com/codearts-build-exporter/codearts_build_exporter/collector"
)

// Hostile text as it could arrive from a build log, a stage name or an API
// error message. Executing any of it sets window.pwned or opens a dialog.
const (
	scriptText = `<script>window.pwned=1;alert("pwned")</script>`
	imgText    = `<img src=x onerror="window.pwned=1;alert('pwned')">`
	quoteText  = `"><svg onload=window.pwned=1>`
)

var now = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// fixture is a Source with fixed data (the collector's own view is tested
// in package collector, against the simulator).
type fixture struct {
	jobs  []collector.JobStatus
	state collector.StateFileStatus
}

func (f *fixture) JobStatuses() []collector.JobStatus   { return f.jobs }
func (f *fixture) StateFile() collector.StateFileStatus { return f.state }
func (f *fixture) JobStatus(name string) (collector.JobStatus, bool) {
	for _, j := range f.jobs {
		if j.Name == name {
			return j, true
		}
	}
	return collector.JobStatus{}, false
}

// hostileFixture carries hostile text in every field that comes from
// outside: job name, action names, failure cause, evidence lines, poll and
// state file errors.
func hostileFixture() *fixture {
	failed := collector.BuildStatus{
		Number: 42, Result: "failure", Finished: now.Add(-3 * time.Minute), Duration: 95 * time.Second,
		FailedAction: imgText, Category: "test",
		Actions: []collector.ActionRun{
			{Action: "checkout", Result: "success", Duration: 4 * time.Second, Records: 12},
			{Action: imgText, Result: "failure", Duration: 80 * time.Second, Records: 300},
		},
	}
	return &fixture{
		jobs: []collector.JobStatus{
			{
				Job:         collector.Job{ID: "0123456789abcdef0123456789abcdef", Name: "api-" + quoteText, Source: "config"},
				LatestBuild: 43,
				Recent:      []collector.BuildStatus{failed},
				InFlight:    []collector.BuildProgress{{Number: 43, Status: "RUNNING", Steps: 4, StepsDone: 1, Pages: 7, Records: 120}},
				LastFailure: &collector.Failure{
					BuildNumber: 42, Action: imgText, Category: "test", Cause: "pytest: " + scriptText,
					Code: "DEV.CB.0510002", ExitCode: "1", Finished: now.Add(-3 * time.Minute),
					Evidence: []collector.EvidenceLine{
						{Line: 118, Text: "E   AssertionError: " + scriptText},
						{Line: 131, Text: "FAILED tests/test_api.py::test_login - " + imgText},
					},
				},
				Failures: []collector.FailureCount{{Action: imgText, Category: "test", Count: 3}},
				Records:  []collector.ActionRecords{{Action: imgText, ByLevel: [4]uint64{36, 2, 250, 12}}},
				Poll:     collector.PollStatus{LastSuccess: now.Add(-time.Minute)},
			},
			{
				Job:  collector.Job{ID: "fedcba9876543210fedcba9876543210", Name: "nightly"},
				Poll: collector.PollStatus{Error: "ShowRunningStatus job=fedcba98: HTTP 500 " + scriptText, FailingSince: now.Add(-10 * time.Minute)},
			},
			{
				Job:    collector.Job{ID: "00000000000000000000000000000001", Name: "zz-green", Source: "discovery"},
				Recent: []collector.BuildStatus{{Number: 7, Result: "success", Finished: now.Add(-time.Hour), Duration: time.Minute}},
				Poll:   collector.PollStatus{LastSuccess: now},
			},
		},
		state: collector.StateFileStatus{Path: "/var/lib/x/state.json", Bytes: 12345, LastWrite: now, Writes: 9, Errors: 1,
			LastError: "write state file: " + imgText, LastErrorAt: now.Add(-time.Hour)},
	}
}

func testHandler(f *fixture) *Handler {
	return New(Options{
		Jobs: f,
		API: func() codearts.ClientStatus {
			return codearts.ClientStatus{ConfiguredRate: 10.0 / 60, CurrentRate: 5.0 / 60, AuthPausedUntil: now.Add(4 * time.Minute)}
		},
		Reload: func() ReloadStatus {
			return ReloadStatus{File: "/etc/x.yml", LastAttempt: now, OK: false, Error: "x.yml:3: " + scriptText, LastSuccess: now.Add(-time.Hour)}
		},
		Version:     "1.2.3",
		MetricsPath: "/metrics",
		Now:         func() time.Time { return now },
	})
}

func get(t *testing.T, h http.Handler, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

// TestHostileTextIsEscaped: text from logs, stage names and errors shows as
// text; none of it becomes markup. The browser test proves the same in
// Chromium; this one says which field broke.
func TestHostileTextIsEscaped(t *testing.T) {
	h := testHandler(hostileFixture())
	for _, target := range []string{"/status", "/status?job=" + urlQuery("api-"+quoteText)} {
		res, body := get(t, h, target)
		require.Equal(t, http.StatusOK, res.StatusCode, target)
		for _, raw := range []string{"<script", "<img", "<svg"} {
			require.False(t, strings.Contains(body, raw), "%s: %q reached the page unescaped", target, raw)
		}
		require.Contains(t, body, "&lt;script&gt;", target)
		require.Contains(t, body, "&lt;img src=x onerror=", target)
	}
	_, body := get(t, h, "/status?job="+urlQuery("api-"+quoteText))
	require.Contains(t, body, `<td class="ln">118</td><td class="text">E   AssertionError: &lt;script&gt;`, "evidence lines keep their line numbers")
	require.Contains(t, body, "DEV.CB.0510002")
}

func urlQuery(s string) string {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	q := r.URL.Query()
	q.Set("x", s)
	return strings.TrimPrefix(q.Encode(), "x=")
}

func TestHeaders(t *testing.T) {
	res, _ := get(t, testHandler(hostileFixture()), "/status")
	require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'none'")
	require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
}

// TestOverviewPutsProblemsFirst: failing polls first, then failed builds.
func TestOverviewPutsProblemsFirst(t *testing.T) {
	_, body := get(t, testHandler(hostileFixture()), "/status")
	rows := regexp.MustCompile(`data-job="([^"]*)"`).FindAllStringSubmatch(body, -1)
	var names []string
	for _, r := range rows {
		names = append(names, r[1])
	}
	require.Equal(t, []string{"nightly", "api-&#34;&gt;&lt;svg onload=window.pwned=1&gt;", "zz-green"}, names)
	require.Contains(t, body, `<b id="jobs-count">3</b>`)
	require.Contains(t, body, "test ×1", "failure categories of the recent builds")
	require.Contains(t, body, "(discovered)")
	require.Contains(t, body, "lowered by throttling", "5/min is below the configured 10/min")
	require.Contains(t, body, "paused</span> until 2026-12-04 10:04:00 UTC")
	require.Contains(t, body, "12345 bytes")
	require.Contains(t, body, "The previous configuration stays in force.")
	require.Contains(t, body, "since 10m00s ago")
	require.Contains(t, body, `style="width: 25%"`, "1 of 4 steps read")
}

func TestUnknownJobIs404(t *testing.T) {
	res, body := get(t, testHandler(hostileFixture()), "/status?job="+urlQuery(scriptText))
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.Contains(t, body, "No followed job is named <b>&lt;script&gt;")
}

func TestOnlyGetAndHead(t *testing.T) {
	h := testHandler(hostileFixture())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/status", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/status", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Zero(t, rec.Body.Len())
}

// TestAPIMetrics: calls by operation (failed = non-2xx), retries, throttled
// and calls by priority come from the client's self-metrics.
func TestAPIMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	req := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "codearts_exporter_api_requests_total", Help: "h"}, []string{"api", "code"})
	thr := prometheus.NewCounterVec(prometheus.CounterOpts{Name: familyThrottled, Help: "h"}, []string{"api"})
	pri := prometheus.NewCounterVec(prometheus.CounterOpts{Name: familyByPriority, Help: "h"}, []string{labelPriority})
	reg.MustRegister(req, thr, pri)
	req.WithLabelValues("ShowActionInfo", "200").Add(40)
	req.WithLabelValues("ShowActionInfo", "429").Add(3)
	req.WithLabelValues("ShowActionInfo", "error").Add(2)
	req.WithLabelValues("ListJob", "200").Add(5)
	thr.WithLabelValues("ShowActionInfo").Add(3)
	pri.WithLabelValues("backfill").Add(30)
	pri.WithLabelValues("discovery").Add(5)
	h := New(Options{Jobs: &fixture{}, APIMetrics: reg})
	a := h.apiView()
	require.Empty(t, a.Error)
	require.Equal(t, []opRow{
		{Op: "ListJob", Calls: 5},
		{Op: "ShowActionInfo", Calls: 45, Failed: 5, Throttled: 3},
	}, a.Ops)
	require.Equal(t, opRow{Calls: 50, Failed: 5, Throttled: 3}, a.Total)
	require.Equal(t, []priorityRow{{"discovery", 5}, {"backfill", 30}}, a.ByPriority, "in the order the client serves them")
}

func TestAPIMetricsGatherError(t *testing.T) {
	h := New(Options{Jobs: &fixture{}, APIMetrics: prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return nil, errors.New("boom")
	})})
	_, body := get(t, h, "/status")
	require.Contains(t, body, "boom")
}
