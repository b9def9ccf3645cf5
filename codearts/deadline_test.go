package codearts

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAttemptDeadlinesEndEachAtItsDeadline registers attempts out of
// deadline order (as after a shorter timeout is configured): each one not
// done in time is ended with errAttemptTimeout, never before its deadline;
// the others are never ended.
func TestAttemptDeadlinesEndEachAtItsDeadline(t *testing.T) {
	var d attemptDeadlines
	type ended struct {
		at    time.Time
		cause error
	}
	var mu sync.Mutex
	got := map[string]ended{}
	start := time.Now()
	deadlines := map[string]time.Duration{
		"long":    time.Hour,
		"medium":  120 * time.Millisecond,
		"short":   60 * time.Millisecond,
		"stopped": 30 * time.Millisecond, // done before its deadline
		"late":    90 * time.Millisecond, // registered after the timer first fired
	}
	add := func(name string) *pendingAttempt {
		return d.add(start.Add(deadlines[name]), func(cause error) {
			mu.Lock()
			defer mu.Unlock()
			if _, dup := got[name]; dup {
				t.Errorf("%s ended twice", name)
			}
			got[name] = ended{time.Now(), cause}
		})
	}
	add("long")
	add("medium")
	add("short")
	d.done(add("stopped"))
	time.Sleep(40 * time.Millisecond) // the timer fires for "stopped" and ends nothing
	add("late")

	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // time for a wrong extra cancellation
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"short", "late", "medium"} {
		e, ok := got[name]
		if !ok {
			t.Errorf("%s was not ended", name)
			continue
		}
		if e.cause != errAttemptTimeout {
			t.Errorf("%s ended with %v", name, e.cause)
		}
		if early := start.Add(deadlines[name]).Sub(e.at); early > 0 {
			t.Errorf("%s ended %v before its deadline", name, early)
		}
	}
	for _, name := range []string{"long", "stopped"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s was ended", name)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.live) != 1 || d.live[0].deadline != start.Add(time.Hour) {
		t.Errorf("live attempts after the others ended: %d", len(d.live))
	}
	if d.at != start.Add(time.Hour) {
		t.Errorf("timer armed for %v after start, want the long one's deadline", d.at.Sub(start))
	}
}

// TestAttemptDeadlinesOneTimerForManyCalls checks that the client's calls
// do not each start a timer: adding one wakes a second thread of the Go
// runtime (deadline.go), which is what the shared timer is for.
func TestAttemptDeadlinesOneTimerForManyCalls(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, okStatus) })
	// A timeout the test cannot outlast: the timer never fires, so it is
	// armed once by the first call and never again.
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.Timeout = time.Hour })
	for range 200 {
		if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
			t.Fatal(err)
		}
	}
	c.deadlines.mu.Lock()
	defer c.deadlines.mu.Unlock()
	if c.deadlines.arms != 1 {
		t.Errorf("the timer was armed %d times for 200 calls, want once", c.deadlines.arms)
	}
	if len(c.deadlines.live) != 0 {
		t.Errorf("%d attempts still watched after every call returned", len(c.deadlines.live))
	}
}

// TestPerAttemptTimeoutReported checks the error of a call whose every
// attempt timed out, and that the caller's own cancellation is not
// reported as a timeout.
func TestPerAttemptTimeoutReported(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.Timeout = 50 * time.Millisecond })
	_, err := c.ShowRunningStatus(bg, tJob)
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T), want an APIError", err, err)
	}
	if !strings.Contains(ae.Message, "no answer within 50ms") || !errors.Is(ae.Err, context.DeadlineExceeded) {
		t.Errorf("message %q, error %v: want the per-attempt timeout named", ae.Message, ae.Err)
	}
	if ae.Attempts != c.tun.Load().maxRetries+1 || !ae.Temporary() {
		t.Errorf("attempts %d, temporary %v", ae.Attempts, ae.Temporary())
	}

	c, _ = newTestClient(t, srv.URL, func(o *Options) { o.Timeout = time.Minute })
	ctx, cancel := context.WithCancel(bg)
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = c.ShowRunningStatus(ctx, tJob)
	if err == nil || strings.Contains(err.Error(), "no answer within") || !errors.Is(err, context.Canceled) {
		t.Errorf("caller's cancellation reported as %v", err)
	}
}
