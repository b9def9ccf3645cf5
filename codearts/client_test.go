package codearts

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const okStatus = `{"result":{"last_job_id":"` + tJob + `","last_build_no":"12","last_build_status":"Finished","is_running":false},"error":null,"status":"success"}`

// recordSleeps makes the client's retry waits observable: jitter is fixed
// at its maximum, so each wait is the ceiling min(max, base·2^n).
func recordSleeps(c *Client) func() []time.Duration {
	var mu sync.Mutex
	var ds []time.Duration
	c.jitter = func() float64 { return 0.999999 }
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		ds = append(ds, d)
		mu.Unlock()
		return sleepCtx(ctx, d)
	}
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), ds...)
	}
}

func TestWrongSecretKey401NoRetryStorm(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, okStatus) })
	srv.secret = "theRealSecretKeyTheServerKnows0000000000" // the client signs with exSK
	c, reg := newTestClient(t, srv.URL, func(o *Options) { o.MaxRetries = 5 })
	_, err := c.ShowRunningStatus(bg, tJob)
	if err == nil {
		t.Fatal("wrong SK accepted")
	}
	if !IsAuth(err) || IsTemporary(err) || IsThrottled(err) {
		t.Errorf("classification of %v", err)
	}
	containsAll(t, err.Error(), "ShowRunningStatus job="+tJob, "HTTP 401", "APIG.0301", "verify aksk signature fail", "request id req-401")
	if srv.count() != 1 {
		t.Fatalf("%d requests for a 401, want exactly 1", srv.count())
	}
	// Further calls are refused locally for the pause, so the AK is not locked.
	_, err2 := c.ShowRunningStatus(bg, tJob)
	if !IsAuth(err2) || !strings.Contains(err2.Error(), "not sent") {
		t.Errorf("second call: %v", err2)
	}
	if srv.count() != 1 {
		t.Errorf("second call reached the server: %d requests", srv.count())
	}
	if v := metricValue(t, reg, "codearts_exporter_api_requests_total", map[string]string{"api": "ShowRunningStatus", "code": "401"}); v != 1 {
		t.Errorf("requests_total{code=401} = %v", v)
	}
	if v := metricValue(t, reg, "codearts_exporter_api_retries_total", nil); v != 0 {
		t.Errorf("retries_total = %v", v)
	}
}

func TestAuthPauseEndsAndCanBeDisabled(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 401, `{"error_code":"APIG.0301","error_msg":"x-auth-token not found"}`)
	})
	c, _ := newTestClient(t, srv.URL, func(o *Options) {
		o.Auth = Auth{Token: "static-token-value"}
		o.Now = clock
		o.AuthFailurePause = time.Minute
	})
	c.ShowRunningStatus(bg, tJob)
	c.ShowRunningStatus(bg, tJob)
	if srv.count() != 1 {
		t.Fatalf("%d requests during the pause", srv.count())
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	c.ShowRunningStatus(bg, tJob)
	if srv.count() != 2 {
		t.Fatalf("%d requests after the pause, want 2", srv.count())
	}

	c2, _ := newTestClient(t, srv.URL, func(o *Options) { o.Auth = Auth{Token: "static-token-value"}; o.AuthFailurePause = -1 })
	c2.ShowRunningStatus(bg, tJob)
	c2.ShowRunningStatus(bg, tJob)
	if srv.count() != 4 {
		t.Errorf("pause disabled: %d requests, want 4", srv.count())
	}
}

func TestRetryBackoffGrowsAndIsCapped(t *testing.T) {
	const failures = 5
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= failures {
			w.Header().Set("X-Request-Id", fmt.Sprintf("r%d", n))
			writeJSON(w, 500, `{"error_code":"CB.00060101","error_msg":"internal service error"}`)
			return
		}
		writeJSON(w, 200, okStatus)
	})
	c, reg := newTestClient(t, srv.URL, func(o *Options) {
		o.MaxRetries = failures
		o.BackoffBase = 10 * time.Millisecond
		o.BackoffMax = 40 * time.Millisecond
	})
	sleeps := recordSleeps(c)
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatalf("not recovered after %d failures: %v", failures, err)
	}
	reqs := srv.requests()
	if len(reqs) != failures+1 {
		t.Fatalf("%d attempts, want %d", len(reqs), failures+1)
	}
	want := []time.Duration{10, 20, 40, 40, 40}
	got := sleeps()
	if len(got) != len(want) {
		t.Fatalf("sleeps %v", got)
	}
	for i := range want {
		w := want[i] * time.Millisecond
		if got[i] < w*99/100 || got[i] > w {
			t.Errorf("retry %d waited %v, want ≈%v", i+1, got[i], w)
		}
		// The server saw the gaps, too.
		if gap := reqs[i+1].at.Sub(reqs[i].at); gap < got[i] {
			t.Errorf("gap before attempt %d was %v < %v", i+2, gap, got[i])
		}
	}
	// Every attempt is signed afresh (X-Sdk-Date is part of the signature;
	// the fake gateway verified each one).
	for i, r := range reqs {
		if r.header.Get("Authorization") == "" {
			t.Errorf("attempt %d unsigned", i+1)
		}
	}
	if v := metricValue(t, reg, "codearts_exporter_api_retries_total", map[string]string{"api": "ShowRunningStatus"}); v != failures {
		t.Errorf("retries_total = %v", v)
	}
	if v := metricValue(t, reg, "codearts_exporter_api_requests_total", map[string]string{"api": "ShowRunningStatus", "code": "500"}); v != failures {
		t.Errorf("requests_total{500} = %v", v)
	}
	if v := metricValue(t, reg, "codearts_exporter_api_requests_total", map[string]string{"api": "ShowRunningStatus", "code": "200"}); v != 1 {
		t.Errorf("requests_total{200} = %v", v)
	}
	if v := metricValue(t, reg, "codearts_exporter_api_request_duration_seconds", map[string]string{"api": "ShowRunningStatus"}); v != failures+1 {
		t.Errorf("duration observations = %v", v)
	}
}

func TestFullJitterStaysUnderCeiling(t *testing.T) {
	c, _ := newTestClient(t, "http://127.0.0.1:1", func(o *Options) {
		o.BackoffBase = 100 * time.Millisecond
		o.BackoffMax = time.Second
	})
	seen := map[bool]bool{}
	for retry := 0; retry < 8; retry++ {
		ceil := min(time.Second, 100*time.Millisecond<<retry)
		for i := 0; i < 200; i++ {
			d := c.backoff(retry)
			if d < 0 || d >= ceil {
				t.Fatalf("retry %d: %v outside [0,%v)", retry, d, ceil)
			}
			seen[d < ceil/2] = true
		}
	}
	if !seen[true] || !seen[false] {
		t.Error("backoff is not jittered")
	}
	if d := c.backoff(200); d >= time.Second {
		t.Errorf("huge retry count overflowed: %v", d)
	}
}

func TestRetriesExhaustedReportAttempts(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-Request-Id", "rid-7")
		writeJSON(w, 502, `{"error_code":"APIGW.0202","error_msg":"Backend unavailable"}`)
	})
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.MaxRetries = 2 })
	_, err := c.ShowJobBuildRecordDetail(bg, tJob, 12)
	if srv.count() != 3 {
		t.Fatalf("%d attempts, want 3", srv.count())
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Attempts != 3 || ae.HTTPStatus != 502 || ae.Code != "APIGW.0202" || ae.RequestID != "rid-7" {
		t.Fatalf("error %#v", err)
	}
	containsAll(t, err.Error(), "ShowJobBuildRecordDetail job="+tJob+" build=12: HTTP 502 APIGW.0202 Backend unavailable (request id rid-7) (after 3 attempts)")
	if !IsTemporary(err) {
		t.Error("502 not temporary")
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		check  func(error) bool
	}{
		{400, `{"error_code":"CB.00060200","error_msg":"Invalid param"}`, IsInvalidParam},
		{400, `{"error_code":"CB.00060201","error_msg":"invalid job id"}`, IsInvalidParam},
		{403, `{"error_code":"APIGW.0302","error_msg":"The IAM user is not authorized"}`, IsForbidden},
		{404, `{"error_code":"CB.00060214","error_msg":"URL not found"}`, IsNotFound},
		{404, `{"error_code":"APIG.0101","error_msg":"The API does not exist"}`, IsNotFound},
		{200, `{"status":"fail","error":"invalid job id CB.00060201","result":null}`, IsInvalidParam},
	} {
		srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, tc.status, tc.body) })
		c, _ := newTestClient(t, srv.URL, func(o *Options) { o.MaxRetries = 5 })
		_, err := c.ShowRunningStatus(bg, tJob)
		if err == nil || !tc.check(err) || IsTemporary(err) || IsAuth(err) {
			t.Errorf("%d %s: %v", tc.status, tc.body, err)
		}
		if srv.count() != 1 {
			t.Errorf("%d %s: %d attempts, want 1", tc.status, tc.body, srv.count())
		}
		if _, err := c.ShowRunningStatus(bg, tJob); err == nil || srv.count() != 2 {
			t.Errorf("%d: a client error must not pause later calls (%d requests)", tc.status, srv.count())
		}
	}
}

func TestThrottlingCodesRetriedAtAnyStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
	}{
		{429, `{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached"}`},
		{429, `{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}`},
		{400, `{"error_code":"CB.00060211","error_msg":"requests too frequent"}`},
		{500, `{"error_code":"CB.00060211","error_msg":"requests too frequent"}`},
		{200, `{"status":"fail","error":{"code":"CB.00060211","message":"requests too frequent"},"result":null}`},
		{429, `Too Many Requests`},
		{503, `<html>busy</html>`},
	} {
		srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				writeJSON(w, tc.status, tc.body)
				return
			}
			writeJSON(w, 200, okStatus)
		})
		c, reg := newTestClient(t, srv.URL, nil)
		if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
			t.Errorf("%d %s: not retried: %v", tc.status, tc.body, err)
		}
		if srv.count() != 2 {
			t.Errorf("%d %s: %d attempts, want 2", tc.status, tc.body, srv.count())
		}
		wantThrottled := 1.0
		if tc.status == 503 {
			wantThrottled = 0
		}
		if v := metricValue(t, reg, "codearts_exporter_api_throttled_total", map[string]string{"api": "ShowRunningStatus"}); v != wantThrottled {
			t.Errorf("%d %s: throttled_total = %v", tc.status, tc.body, v)
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, 429, `{"error_code":"APIG.0308","error_msg":"throttled"}`)
			return
		}
		writeJSON(w, 200, okStatus)
	})
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.BackoffMax = 2 * time.Second })
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < time.Second {
		t.Errorf("retried after %v, Retry-After said 1s", gap)
	}
	// The pause is shared: another call right now also waits for it.
	c.setNotBefore(time.Now().Add(300 * time.Millisecond))
	t0 := time.Now()
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 250*time.Millisecond {
		t.Errorf("call did not wait for the shared Retry-After pause (%v)", d)
	}
}

func TestRetryAfterLongerThanCapIsNotWaited(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, 429, `{"error_code":"APIG.0308","error_msg":"throttled"}`)
	})
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.BackoffMax = 50 * time.Millisecond })
	t0 := time.Now()
	_, err := c.ShowRunningStatus(bg, tJob)
	if !IsThrottled(err) || srv.count() != 1 || time.Since(t0) > 2*time.Second {
		t.Fatalf("err %v after %d requests in %v", err, srv.count(), time.Since(t0))
	}
	var ae *APIError
	errors.As(err, &ae)
	if ae.RetryAfter != time.Hour || !strings.Contains(err.Error(), "retry after 1h0m0s") {
		t.Errorf("RetryAfter %v in %q", ae.RetryAfter, err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 26, 6, 23, 32, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"5":                             5 * time.Second,
		"0":                             0,
		"-3":                            0,
		"soon":                          0,
		"Thu, 26 Jun 2025 06:23:42 GMT": 10 * time.Second,
		"Thu, 26 Jun 2025 06:23:00 GMT": 0, // in the past
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

func TestThrottleMessageLowersSharedRate(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			writeJSON(w, 429, `{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:600,time:1 minute","request_id":"x"}`)
			return
		}
		writeJSON(w, 200, okStatus)
	})
	c, reg := newTestClient(t, srv.URL, func(o *Options) { o.RequestsPerSecond = 1000 })
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	if got := float64(c.limiter.Limit()); got != 10 {
		t.Errorf("limit %v, want 10/s from limit:600,time:1 minute", got)
	}
	if v := metricValue(t, reg, MetricRateLimit, nil); v != 10 {
		t.Errorf("rate gauge %v", v)
	}
	if r := throttleRate("limit:10,time:1 minute"); r != 10.0/60 {
		t.Errorf("throttleRate = %v", r)
	}
	if r := throttleRate("threshold reached"); r != 0 {
		t.Errorf("throttleRate without limit = %v", r)
	}
}

// A log paged through throttling and server errors reassembles exactly:
// the cursor only moves on a successful page.
func TestThrottlingRecoveredWithoutLosingAPage(t *testing.T) {
	pages := []string{"[2025/06/26 14:23:40.512 GMT+08:00] [INFO] [Maven构建:build_step_maven] : 该步骤开始执行\n[2025/06/2",
		"6 14:23:41.090 GMT+08:00] Scanning...\n", "", "BUILD SUCCESS\n", "[2025/06/26 14:24:02.340 GMT+08:00] done\n"}
	var mu sync.Mutex
	served := 0
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n % 3 {
		case 1:
			w.Header().Set("Retry-After", "0")
			writeJSON(w, 429, `{"error_code":"APIG.0308","error_msg":"throttled"}`)
			return
		case 2:
			if n%2 == 0 {
				writeJSON(w, 500, `{"error_code":"CB.00060211","error_msg":"requests too frequent"}`)
				return
			}
		}
		start := r.URL.Query().Get("start_offset")
		var i int
		fmt.Sscan(start, &i)
		mu.Lock()
		served++
		mu.Unlock()
		more := i+1 < len(pages)
		// Offsets alternate between numbers and strings.
		end := fmt.Sprint(i + 1)
		if i%2 == 0 {
			end = `"` + end + `"`
		}
		writeJSON(w, 200, fmt.Sprintf(`{"result":{"has_more":%v,"start_offset":%d,"end_offset":%s,"log":%s,"location":"jenkins"},"error":null,"status":"success"}`,
			more, i, end, mustJSON(pages[i])))
	})
	c, reg := newTestClient(t, srv.URL, func(o *Options) { o.MaxRetries = 4 })
	var got strings.Builder
	q := LogQuery{JobID: tJob, BuildNo: 12, StepID: 81}
	for {
		ch, err := c.ShowActionInfo(bg, q)
		if err != nil {
			t.Fatal(err)
		}
		got.WriteString(ch.Log)
		q.StartOffset = ch.EndOffset
		if !ch.HasMore {
			break
		}
	}
	if want := strings.Join(pages, ""); got.String() != want {
		t.Errorf("reassembled log differs:\n%q\nwant\n%q", got.String(), want)
	}
	if served != len(pages) {
		t.Errorf("served %d pages, want %d", served, len(pages))
	}
	if v := metricValue(t, reg, "codearts_exporter_api_throttled_total", map[string]string{"api": "ShowActionInfo"}); v < float64(len(pages)) {
		t.Errorf("throttled_total = %v", v)
	}
}

func TestLimiterSpacesCalls(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, okStatus) })
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.RequestsPerSecond = 50; o.Burst = 1 })
	const n = 11
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// Burst 1 at 50/s: 11 calls need 10 intervals of 20 ms.
	if d := time.Since(t0); d < 190*time.Millisecond {
		t.Errorf("%d calls took %v, limiter allows no less than 200ms", n, d)
	}
	if srv.count() != n {
		t.Errorf("%d requests", srv.count())
	}
}

func TestLimiterWaitRespectsContext(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, okStatus) })
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.RequestsPerSecond = 0.01 })
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil { // uses the single token
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := c.ShowRunningStatus(ctx, tJob)
	if err == nil || time.Since(t0) > time.Second || srv.count() != 1 {
		t.Errorf("err %v after %v, %d requests", err, time.Since(t0), srv.count())
	}
}

func TestDefaultsAreConservative(t *testing.T) {
	c, err := New(Options{Endpoint: "https://example.com", Auth: Auth{Token: "t0k3n-value"}})
	if err != nil {
		t.Fatal(err)
	}
	if float64(c.limiter.Limit()) != DefaultRequestsPerSecond || c.limiter.Burst() != DefaultBurst || cap(c.tun.Load().sem) != DefaultMaxConcurrency {
		t.Errorf("limit %v burst %d concurrency %d", c.limiter.Limit(), c.limiter.Burst(), cap(c.tun.Load().sem))
	}
	// The strictest reading of the ten_* policies: 10 calls per minute.
	if DefaultRequestsPerSecond*60 > 10.0001 {
		t.Errorf("default rate %v/min exceeds 10/min", DefaultRequestsPerSecond*60)
	}
	if c.tun.Load().maxRetries != 0 || c.tun.Load().timeout != DefaultTimeout || c.backoffBase != DefaultBackoffBase || c.authPause != DefaultAuthFailurePause {
		t.Errorf("defaults: %+v", c)
	}
}

func TestConcurrencyBound(t *testing.T) {
	release := make(chan struct{})
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		<-release
		writeJSON(w, 200, okStatus)
	})
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.MaxConcurrency = 3 })
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
				t.Error(err)
			}
		}()
	}
	// Let the first wave arrive, then drain slowly.
	deadline := time.Now().Add(2 * time.Second)
	for srv.count() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := srv.count(); n != 3 {
		t.Errorf("%d requests in flight, want 3", n)
	}
	for i := 0; i < 12; i++ {
		release <- struct{}{}
	}
	wg.Wait()
	srv.mu.Lock()
	maxIn := srv.maxIn
	srv.mu.Unlock()
	if maxIn != 3 {
		t.Errorf("max in flight %d, want 3", maxIn)
	}
}

func TestPerAttemptTimeoutRetried(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
			return
		}
		writeJSON(w, 200, okStatus)
	})
	c, reg := newTestClient(t, srv.URL, func(o *Options) { o.Timeout = 100 * time.Millisecond })
	t0 := time.Now()
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("slow answer not cut at the per-attempt timeout: %v", d)
	}
	if srv.count() != 2 {
		t.Errorf("%d attempts", srv.count())
	}
	if v := metricValue(t, reg, "codearts_exporter_api_requests_total", map[string]string{"api": "ShowRunningStatus", "code": "error"}); v != 1 {
		t.Errorf("requests_total{code=error} = %v", v)
	}
}

func TestTransportErrorRetriedThenReported(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	accepted := 0
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted++
			mu.Unlock()
			conn.Close() // no HTTP answer at all
		}
	}()
	defer ln.Close()
	c, _ := newTestClient(t, "http://"+ln.Addr().String(), func(o *Options) { o.MaxRetries = 2 })
	_, err = c.ShowConsoleInfo(bg, LogQuery{JobID: tJob, BuildNo: 4, StepID: 0})
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 0 || ae.Attempts != 3 || !IsTemporary(err) {
		t.Fatalf("error %v", err)
	}
	containsAll(t, err.Error(), "ShowConsoleInfo job="+tJob+" build=4 step=0:", "(after 3 attempts)")
	// Wrapped as http.Client wraps it, though the client sends through its
	// own transport directly (send).
	var ue *url.Error
	if !errors.As(ae.Err, &ue) || ue.Op != "Get" || !strings.HasPrefix(ue.URL, "http://"+ln.Addr().String()+"/v1/log/task/page?") {
		t.Errorf("transport error %#v, want a *url.Error of the GET", ae.Err)
	}
	containsAll(t, err.Error(), `Get "http://`)
	mu.Lock()
	defer mu.Unlock()
	if accepted < 3 {
		t.Errorf("%d connections, want ≥ 3", accepted)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 500, `{"error_code":"CB.00060100","error_msg":"network busy"}`)
	})
	c, _ := newTestClient(t, srv.URL, func(o *Options) {
		o.MaxRetries = 10
		o.BackoffBase = time.Second
		o.BackoffMax = time.Second
	})
	c.jitter = func() float64 { return 0.999 }
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := c.ShowRunningStatus(ctx, tJob)
	if time.Since(t0) > 900*time.Millisecond || srv.count() != 1 {
		t.Errorf("%d requests in %v", srv.count(), time.Since(t0))
	}
	if !strings.Contains(err.Error(), "CB.00060100") {
		t.Errorf("last API error lost: %v", err)
	}
}

// TestResponseOverLimitNotRetried: an answer over MaxResponseBytes is a
// permanent error for that request (it used to be downloaded again by every
// retry), whether its length is announced or streamed.
func TestResponseOverLimitNotRetried(t *testing.T) {
	page := `{"status":"success","result":{"has_more":false,"start_offset":0,"end_offset":9000,"log":"` + strings.Repeat("x", 9000) + `"}}`
	for _, chunked := range []bool{false, true} {
		srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if chunked {
				w.Header().Set("Content-Type", "application/json")
				w.(http.Flusher).Flush() // no Content-Length
			}
			writeJSON(w, 200, page)
		})
		c, _ := newTestClient(t, srv.URL, func(o *Options) { o.MaxRetries = 3; o.MaxResponseBytes = 4096 })
		_, err := c.ShowConsoleInfo(bg, LogQuery{JobID: tJob, BuildNo: 3, StepID: 81})
		if !IsResponseTooLarge(err) || IsTemporary(err) {
			t.Fatalf("chunked=%v: error %v, want a permanent ErrResponseTooLarge", chunked, err)
		}
		if srv.count() != 1 {
			t.Errorf("chunked=%v: %d attempts, want 1", chunked, srv.count())
		}
		c2, _ := newTestClient(t, srv.URL, func(o *Options) { o.MaxResponseBytes = 1 << 20 })
		if _, err := c2.ShowConsoleInfo(bg, LogQuery{JobID: tJob, BuildNo: 3, StepID: 81}); err != nil {
			t.Errorf("chunked=%v: under the limit: %v", chunked, err)
		}
	}
}

// TestRetryWarningOncePerChange: the same failure retried over and over is
// one warning; a different one is another.
func TestRetryWarningOncePerChange(t *testing.T) {
	status := 500
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, status, `{"error_code":"CB.00060101","error_msg":"internal"}`)
	})
	logs := &logBuffer{}
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.MaxRetries = 3; o.Logger = logs.logger() })
	for range 3 {
		_, _ = c.ShowRunningStatus(bg, tJob)
	}
	status = 502
	_, _ = c.ShowRunningStatus(bg, tJob)
	warns := 0
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "retrying") && strings.Contains(l, `"level":"WARN"`) {
			warns++
		}
	}
	if srv.count() != 16 || warns != 2 {
		t.Errorf("%d attempts, %d retry warnings; want 16 and 2 (one per distinct failure):\n%s", srv.count(), warns, logs)
	}
}

// TestConnectionsReusedAtFullConcurrency: waves of MaxConcurrency
// simultaneous calls reuse the connections of the first wave. With
// net/http's default of 2 idle connections per host, every wave beyond 2
// calls opened new ones (a TCP and TLS handshake per request).
func TestConnectionsReusedAtFullConcurrency(t *testing.T) {
	const conc = 6
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(30 * time.Millisecond) // the whole wave is in flight at once
		writeJSON(w, 200, okStatus)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.MaxConcurrency = conc })
	for range 4 {
		var wg sync.WaitGroup
		for range conc {
			wg.Go(func() {
				if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if n := conns.Load(); n > conc {
		t.Errorf("%d connections opened for 4 waves of %d calls, want at most %d", n, conc, conc)
	}
}

// TestGzipAnswerDecoded: the client asks for gzip and decodes a compressed
// answer, as a real gateway may send it.
func TestGzipAnswerDecoded(t *testing.T) {
	const page = `{"result":{"log":"[2026/09/10 17:26:22.661 GMT+08:00] hello\n","has_more":false,"end_offset":42},"error":null,"status":"success"}`
	var accepted atomic.Value
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		accepted.Store(r.Header.Get("Accept-Encoding"))
		body := okStatus
		if strings.Contains(r.URL.Path, "/log/") {
			body = page
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write([]byte(body))
		_ = zw.Close()
	})
	c, _ := newTestClient(t, srv.URL, nil)
	rs, err := c.ShowRunningStatus(bg, tJob)
	if err != nil || rs.LastBuildNo != 12 {
		t.Fatalf("running status %+v, %v", rs, err)
	}
	ch, err := c.ShowConsoleInfo(bg, LogQuery{JobID: tJob, BuildNo: 1, StepID: 7})
	if err != nil || ch.Log != "[2026/09/10 17:26:22.661 GMT+08:00] hello\n" || ch.EndOffset != 42 {
		t.Fatalf("log page %+v, %v", ch, err)
	}
	if got, _ := accepted.Load().(string); !strings.Contains(got, "gzip") {
		t.Errorf("Accept-Encoding %q, want gzip", got)
	}
}
