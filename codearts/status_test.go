package codearts

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestStatusReportsThrottlingAndPauses: Status says when throttling lowered
// the rate below the configured one, when a Retry-After holds every call,
// and when an authentication failure paused the client.
func TestStatusReportsThrottlingAndPauses(t *testing.T) {
	var auth atomic.Bool // answer 401 instead of 429
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if auth.Load() {
			writeJSON(w, 401, `{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information"}`)
			return
		}
		w.Header().Set("Retry-After", "1")
		writeJSON(w, 429, `{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached: policy user flow over the limit, limit:600,time:1 minute"}`)
	})
	c, _ := newTestClient(t, srv.URL, func(o *Options) {
		o.RequestsPerSecond, o.MaxRetries, o.BackoffMax = 50, 1, 10*time.Second
	})
	s := c.Status()
	if s.ConfiguredRate != 50 || s.CurrentRate != 50 || !s.AuthPausedUntil.IsZero() || !s.RetryAfterUntil.IsZero() {
		t.Fatalf("fresh client: %+v", s)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { _, err := c.ShowRunningStatus(bg, tJob); done <- err }()
	for c.Status().RetryAfterUntil.IsZero() {
		select {
		case err := <-done:
			t.Fatalf("the call ended (%v) and Status never showed its Retry-After wait", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	s = c.Status()
	if d := s.RetryAfterUntil.Sub(start); d < 500*time.Millisecond || d > 2*time.Second {
		t.Errorf("Retry-After 1 s: until %v after the call started", d)
	}
	if s.ConfiguredRate != 50 || s.CurrentRate != 10 {
		t.Errorf("after APIG.0308 with limit:600,time:1 minute: configured %v, current %v", s.ConfiguredRate, s.CurrentRate)
	}
	if err := <-done; !IsThrottled(err) {
		t.Fatalf("want a throttled error, got %v", err)
	}
	if s := c.Status(); !s.RetryAfterUntil.IsZero() {
		t.Errorf("the wait is over, Status still says until %v", s.RetryAfterUntil)
	}

	c2, _ := newTestClient(t, srv.URL, nil)
	auth.Store(true)
	if _, err := c2.ShowRunningStatus(bg, tJob); err == nil {
		t.Fatal("want an authentication error")
	}
	if s := c2.Status(); s.AuthPausedUntil.Sub(start) < DefaultAuthFailurePause-time.Minute {
		t.Errorf("after a 401: paused until %v", s.AuthPausedUntil)
	}
}
