package codearts

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateRecoveryQuiet is how long the client must go without a throttled
// answer before it raises a limit that APIG.0308 lowered: each quiet period
// doubles the current limit, up to the configured one. The stated limit may
// belong to another policy or to a burst of another client of the same user
// (docs/api-reference.md §9.4), so the lowering is not kept for ever.
const RateRecoveryQuiet = 2 * time.Minute

// Priority orders the calls waiting for the shared rate limit: when several
// wait, the lowest value goes first. Calls of the same priority go in the
// order they asked.
type Priority int

// The priority classes, highest first (docs/api-client.md).
const (
	// PriorityDiscovery: ListJob pages and ShowRunningStatus, which decide
	// what else is worth calling.
	PriorityDiscovery Priority = iota
	// PriorityRunning: logs (and records, stages) of builds still running,
	// whose freshness users watch.
	PriorityRunning
	// PriorityNew: builds that started since the exporter caught up.
	PriorityNew
	// PriorityBackfill: the catch-up of builds that started before the
	// exporter first saw the job (or while it was down).
	PriorityBackfill
	numPriorities
)

var priorityNames = [numPriorities]string{"discovery", "running", "new", "backfill"}

// String is the priority label value of the self-metrics.
func (p Priority) String() string {
	if p < 0 || p >= numPriorities {
		return "new"
	}
	return priorityNames[p]
}

type priorityKey struct{}

// WithPriority marks the calls made with ctx as of priority p. Calls without
// a priority are PriorityNew.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

func priorityOf(ctx context.Context) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok && p >= 0 && p < numPriorities {
		return p
	}
	return PriorityNew
}

// priorityGate lets one caller at a time wait for the rate limiter, handing
// the turn to the highest-priority waiter. x/time/rate serves waiters in no
// particular order; with the gate in front, a log page of a running build
// never queues behind a backlog of backfill calls.
type priorityGate struct {
	mu      sync.Mutex
	busy    bool
	waiting [numPriorities][]chan struct{}
}

func (g *priorityGate) acquire(ctx context.Context, p Priority) error {
	g.mu.Lock()
	if !g.busy {
		g.busy = true
		g.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	g.waiting[p] = append(g.waiting[p], ch)
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		for i, w := range g.waiting[p] {
			if w == ch {
				g.waiting[p] = append(g.waiting[p][:i], g.waiting[p][i+1:]...)
				g.mu.Unlock()
				return ctx.Err()
			}
		}
		g.mu.Unlock()
		// The turn was handed over while giving up: pass it on.
		g.release()
		return ctx.Err()
	}
}

func (g *priorityGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for p := range g.waiting {
		if q := g.waiting[p]; len(q) > 0 {
			g.waiting[p] = q[1:]
			close(q[0])
			return
		}
	}
	g.busy = false
}

// waitTurn waits for the caller's turn at the rate limit and for a token.
func (c *Client) waitTurn(ctx context.Context) error {
	p := priorityOf(ctx)
	c.recoverRate()
	if c.limiter.Limit() != rate.Inf {
		if err := c.gate.acquire(ctx, p); err != nil {
			return err
		}
		err := c.limiter.Wait(ctx)
		c.gate.release()
		if err != nil {
			return err
		}
	}
	c.m.priority[p].Inc()
	return nil
}

// noteThrottle restarts the quiet period before a lowered rate recovers.
func (c *Client) noteThrottle() {
	c.mu.Lock()
	c.rateChanged = c.now()
	c.mu.Unlock()
}

// recoverRate doubles a lowered limit (up to the configured one) once
// RateRecoveryQuiet has passed without a throttled answer.
func (c *Client) recoverRate() {
	c.mu.Lock()
	cur, conf := c.limiter.Limit(), c.configuredRate
	if cur >= conf || c.now().Sub(c.rateChanged) < RateRecoveryQuiet {
		c.mu.Unlock()
		return
	}
	next := min(cur*2, conf)
	if conf == rate.Inf && next > 1000 {
		next = rate.Inf
	}
	c.limiter.SetLimit(next)
	if next == conf {
		c.limiter.SetBurst(c.configuredBurst)
	}
	c.rateChanged = c.now()
	c.mu.Unlock()
	c.m.rateLimit.Set(float64(next))
	c.log.Info("no throttling for a while; raising the shared request rate toward the configured one",
		"requests_per_second", float64(next), "configured", float64(conf))
}

// ClientStatus is a snapshot of the client's budget and pauses, for status
// pages and self-metrics.
type ClientStatus struct {
	ConfiguredRate  float64   // calls per second from the config (+Inf: unlimited)
	CurrentRate     float64   // after APIG.0308 lowering / recovery
	AuthPausedUntil time.Time // zero when not paused
	RetryAfterUntil time.Time // zero when none
}

// Status returns the client's current rate limits and pauses.
func (c *Client) Status() ClientStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := ClientStatus{ConfiguredRate: float64(c.configuredRate), CurrentRate: float64(c.limiter.Limit())}
	if p := c.paused[false]; p.cause != nil && c.now().Before(p.until) {
		s.AuthPausedUntil = p.until
	}
	if p := c.paused[true]; p.cause != nil && c.now().Before(p.until) && p.until.After(s.AuthPausedUntil) {
		s.AuthPausedUntil = p.until
	}
	if time.Now().Before(c.notBefore) {
		s.RetryAfterUntil = c.notBefore
	}
	return s
}

// tunables are the Options a running client can take from a reload.
type tunables struct {
	timeout    time.Duration
	maxRetries int
	sem        chan struct{}
}

func newTunables(o Options) (*tunables, error) {
	t := &tunables{timeout: o.Timeout, maxRetries: o.MaxRetries}
	if t.timeout <= 0 {
		t.timeout = DefaultTimeout
	}
	if t.maxRetries < 0 {
		return nil, errors.New("codearts: MaxRetries must be 0 or more")
	}
	conc := o.MaxConcurrency
	if conc <= 0 {
		conc = DefaultMaxConcurrency
	}
	t.sem = make(chan struct{}, conc)
	return t, nil
}

func configuredRate(o Options) (rate.Limit, int) {
	rps, burst := o.RequestsPerSecond, o.Burst
	if rps == 0 {
		rps = DefaultRequestsPerSecond
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	if rps < 0 {
		return rate.Inf, burst
	}
	return rate.Limit(rps), burst
}

// identity is what a client is for: the endpoint and the credential. Its
// pauses and lowered rate belong to it.
type identity struct {
	endpoint, projectID string
	auth                Auth
	iam                 IAMPassword
}

func identityOf(base *url.URL, o Options) identity {
	id := identity{endpoint: base.String(), projectID: o.ProjectID, auth: o.Auth}
	if o.Auth.IAM != nil {
		id.iam = *o.Auth.IAM
		id.auth.IAM = nil
	}
	return id
}

// ErrIdentityChanged is returned by Reconfigure when the new options name
// another endpoint, project or credential: build a new Client instead.
var ErrIdentityChanged = errors.New("codearts: endpoint, project or credentials changed")

// Reconfigure applies a reloaded configuration to a running client and keeps
// its state: the authentication pause, a rate lowered by throttling, a
// Retry-After wait and the IAM token. It applies RequestsPerSecond, Burst,
// MaxConcurrency, Timeout and MaxRetries (calls already waiting or in flight
// finish with the old ones). A lowered rate stays lowered if it is below the
// new configured rate, and recovers toward it. When the endpoint, project id
// or credentials differ it changes nothing and returns ErrIdentityChanged.
func (c *Client) Reconfigure(o Options) error {
	base, err := parseBaseURL(o.Endpoint)
	if err != nil {
		return ErrIdentityChanged
	}
	if identityOf(base, o) != c.identity {
		return ErrIdentityChanged
	}
	tun, err := newTunables(o)
	if err != nil {
		return err
	}
	lim, burst := configuredRate(o)
	c.mu.Lock()
	lowered := c.limiter.Limit() < c.configuredRate
	c.configuredRate, c.configuredBurst = lim, burst
	if !lowered || lim < c.limiter.Limit() {
		c.limiter.SetLimit(lim)
		c.limiter.SetBurst(burst)
	}
	cur := c.limiter.Limit()
	c.mu.Unlock()
	c.tun.Store(tun)
	c.m.rateLimit.Set(float64(cur))
	return nil
}
