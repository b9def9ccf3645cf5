package codearts

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

const throttle600 = `{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:600,time:1 minute","request_id":"x"}`

func TestLoweredRateRecoversAfterQuietPeriods(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			writeJSON(w, 429, throttle600)
			return
		}
		writeJSON(w, 200, okStatus)
	})
	c, reg := newTestClient(t, srv.URL, func(o *Options) {
		o.RequestsPerSecond, o.Burst, o.Now = 50, 5, clk.now
		o.Auth = Auth{Token: "tok-123456"}
	})
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	if s := c.Status(); s.CurrentRate != 10 || s.ConfiguredRate != 50 {
		t.Fatalf("after the 429: %+v, want current 10 of configured 50", s)
	}
	// Not quiet long enough: stays lowered.
	clk.add(RateRecoveryQuiet - time.Second)
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	if r := c.Status().CurrentRate; r != 10 {
		t.Fatalf("rate %v before the quiet period ended, want 10", r)
	}
	// Each quiet period doubles it, up to the configured rate and burst.
	for _, want := range []float64{20, 40, 50, 50} {
		clk.add(RateRecoveryQuiet)
		if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
			t.Fatal(err)
		}
		if r := c.Status().CurrentRate; r != want {
			t.Fatalf("rate %v, want %v", r, want)
		}
	}
	if c.limiter.Burst() != 5 {
		t.Errorf("burst %d after full recovery, want the configured 5", c.limiter.Burst())
	}
	if v := metricValue(t, reg, MetricRateLimit, nil); v != 50 {
		t.Errorf("rate gauge %v, want 50", v)
	}
}

func TestReconfigureKeepsAuthPauseAndLoweredRate(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 1:
			writeJSON(w, 429, throttle600)
		case 2:
			writeJSON(w, 200, okStatus)
		default:
			writeJSON(w, 401, `{"error_code":"APIG.0301","error_msg":"Incorrect IAM authentication information: decrypt token fail","request_id":"r"}`)
		}
	})
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.RequestsPerSecond = 100; o.Auth = Auth{Token: "tok-123456"} })
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ShowRunningStatus(bg, tJob); err == nil {
		t.Fatal("want the 401")
	}
	before := c.Status()
	if before.AuthPausedUntil.IsZero() || before.CurrentRate != 10 {
		t.Fatalf("status %+v: want a pause and the lowered rate", before)
	}
	o := Options{Endpoint: srv.URL + "/", ProjectID: exProject, Auth: Auth{Token: "tok-123456"},
		RequestsPerSecond: 200, MaxConcurrency: 3, Timeout: time.Second, MaxRetries: 1}
	if err := c.Reconfigure(o); err != nil {
		t.Fatal(err)
	}
	after := c.Status()
	if after.AuthPausedUntil != before.AuthPausedUntil || after.CurrentRate != 10 || after.ConfiguredRate != 200 {
		t.Errorf("after Reconfigure %+v, want pause kept, rate 10 of 200", after)
	}
	if tun := c.tun.Load(); cap(tun.sem) != 3 || tun.timeout != time.Second || tun.maxRetries != 1 {
		t.Errorf("tunables not applied: %+v", tun)
	}
	n := srv.count()
	var ae *APIError
	if _, err := c.ShowRunningStatus(bg, tJob); !errors.As(err, &ae) || !ae.paused {
		t.Errorf("call after Reconfigure: %v, want the pause", err)
	}
	if srv.count() != n {
		t.Error("a paused client sent a request after Reconfigure")
	}
	for _, other := range []Options{
		{Endpoint: "http://127.0.0.2:1", ProjectID: exProject, Auth: Auth{Token: "tok-123456"}},
		{Endpoint: srv.URL, ProjectID: exProject, Auth: Auth{Token: "tok-654321"}},
		{Endpoint: srv.URL, ProjectID: "ffffffffffffffffffffffffffffffff", Auth: Auth{Token: "tok-123456"}},
	} {
		if err := c.Reconfigure(other); !errors.Is(err, ErrIdentityChanged) {
			t.Errorf("Reconfigure(%s, %s): %v, want ErrIdentityChanged", other.Endpoint, other.ProjectID, err)
		}
	}
}

func TestPriorityGateServesHighestFirst(t *testing.T) {
	var g priorityGate
	if err := g.acquire(bg, PriorityBackfill); err != nil {
		t.Fatal(err)
	}
	order := make(chan Priority, 4)
	var wg sync.WaitGroup
	start := func(p Priority) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.acquire(bg, p); err != nil {
				t.Error(err)
				return
			}
			order <- p
			g.release()
		}()
	}
	for _, p := range []Priority{PriorityBackfill, PriorityNew, PriorityRunning, PriorityDiscovery} {
		start(p)
		waitQueued(t, &g, p, 1)
	}
	// A waiter that gives up leaves no hole in the queue.
	ctx, cancel := context.WithCancel(bg)
	gaveUp := make(chan error)
	go func() { gaveUp <- g.acquire(ctx, PriorityDiscovery) }()
	waitQueued(t, &g, PriorityDiscovery, 2)
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	g.release()
	wg.Wait()
	close(order)
	var got []Priority
	for p := range order {
		got = append(got, p)
	}
	want := []Priority{PriorityDiscovery, PriorityRunning, PriorityNew, PriorityBackfill}
	if len(got) != len(want) {
		t.Fatalf("order %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
	if g.busy {
		t.Error("gate still busy after everyone released")
	}
}

func waitQueued(t *testing.T, g *priorityGate, p Priority, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		g.mu.Lock()
		got := len(g.waiting[p])
		g.mu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no waiter of priority %v queued", p)
}

// TestRunningCallsOvertakeBackfill: with a rate limit, a call for a running
// build that arrives behind a queue of backfill calls is sent next, not
// after them.
func TestRunningCallsOvertakeBackfill(t *testing.T) {
	var mu sync.Mutex
	var order []string
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		order = append(order, r.URL.Query().Get("build_no"))
		mu.Unlock()
		writeJSON(w, 200, `{"status":"success","result":{"has_more":false,"end_offset":"0","start_offset":"0","log":""}}`)
	})
	c, reg := newTestClient(t, srv.URL, func(o *Options) { o.RequestsPerSecond, o.Burst = 20, 1 })
	call := func(p Priority, build int64) {
		_, err := c.ShowActionInfo(WithPriority(bg, p), LogQuery{JobID: tJob, BuildNo: build, StepID: 1})
		if err != nil {
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	for b := int64(1); b <= 8; b++ {
		wg.Add(1)
		go func() { defer wg.Done(); call(PriorityBackfill, b) }()
	}
	waitQueued(t, &c.gate, PriorityBackfill, 6)
	wg.Add(1)
	go func() { defer wg.Done(); call(PriorityRunning, 99) }()
	waitQueued(t, &c.gate, PriorityRunning, 1)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	pos := slices.Index(order, "99")
	// Before it: the backfill calls already past the gate (at most two:
	// one sent, one holding the turn) — never the queued ones.
	if pos < 0 || pos > 2 {
		t.Errorf("the running build's call was sent at position %d of %v", pos, order)
	}
	if v := metricValue(t, reg, MetricByPriority, map[string]string{"priority": "running"}); v != 1 {
		t.Errorf("running calls counted %v, want 1", v)
	}
	if v := metricValue(t, reg, MetricByPriority, map[string]string{"priority": "backfill"}); v != 8 {
		t.Errorf("backfill calls counted %v, want 8", v)
	}
}
