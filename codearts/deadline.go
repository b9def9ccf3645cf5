package codearts

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errAttemptTimeout is the cause with which attemptDeadlines ends an
// attempt that outlived its deadline (context.Cause tells it from the
// caller's own cancellation or deadline).
var errAttemptTimeout = errors.New("per-attempt timeout")

// attemptDeadlines ends attempts that outlive the per-attempt timeout, with
// one timer for all of a client's attempts.
//
// A context.WithTimeout per attempt added a runtime timer for every request.
// Adding a timer while no thread waits in the network poller makes the Go
// runtime wake a second thread to watch it. The answer was then picked up
// by that thread, and the next request's timer woke the first one again:
// two thread wake-ups and a move to the other core for every request, which
// with 5 KB log pages was about a tenth of the client's CPU
// (docs/performance.md, "One timer for all attempts").
//
// The timer is always armed at or before the earliest live deadline. An
// attempt begun after the others, with the same timeout, has the latest
// deadline, so it is registered without touching the timer. The timer then
// fires about once per timeout while calls keep coming, ends what has
// expired and is armed again for the earliest deadline left.
type attemptDeadlines struct {
	mu    sync.Mutex
	timer *time.Timer // nil until the first attempt
	at    time.Time   // when timer fires; zero when it is not armed
	live  []*pendingAttempt
	arms  int // timer starts and resets, for tests
}

// pendingAttempt is one attempt being watched.
type pendingAttempt struct {
	deadline time.Time
	cancel   context.CancelCauseFunc
	index    int // in live; -1 once removed
}

// add watches an attempt: cancel is called with errAttemptTimeout at
// deadline unless done is called first with the pendingAttempt returned.
func (d *attemptDeadlines) add(deadline time.Time, cancel context.CancelCauseFunc) *pendingAttempt {
	p := &pendingAttempt{deadline: deadline, cancel: cancel}
	d.mu.Lock()
	p.index = len(d.live)
	d.live = append(d.live, p)
	if d.at.IsZero() || deadline.Before(d.at) {
		d.arm(deadline)
	}
	d.mu.Unlock()
	return p
}

// done stops watching p. The timer is left as it is: at worst it fires
// once with nothing to end.
func (d *attemptDeadlines) done(p *pendingAttempt) {
	d.mu.Lock()
	d.remove(p)
	d.mu.Unlock()
}

// remove takes p out of live (d.mu held).
func (d *attemptDeadlines) remove(p *pendingAttempt) {
	i := p.index
	if i < 0 {
		return
	}
	last := len(d.live) - 1
	d.live[i] = d.live[last]
	d.live[i].index = i
	d.live[last] = nil
	d.live = d.live[:last]
	p.index = -1
}

// arm sets the timer to fire at t (d.mu held).
func (d *attemptDeadlines) arm(t time.Time) {
	d.at = t
	d.arms++
	wait := time.Until(t)
	if d.timer == nil {
		d.timer = time.AfterFunc(wait, d.fire)
		return
	}
	d.timer.Reset(wait)
}

// fire ends the attempts whose deadline has passed and arms the timer for
// the earliest one left. A late run of an earlier arming is harmless: each
// run decides from the deadlines alone.
func (d *attemptDeadlines) fire() {
	d.mu.Lock()
	now := time.Now()
	d.at = time.Time{}
	var expired []*pendingAttempt
	var next time.Time
	for i := 0; i < len(d.live); {
		p := d.live[i]
		if !now.Before(p.deadline) {
			d.remove(p) // moves the last one to i
			expired = append(expired, p)
			continue
		}
		if next.IsZero() || p.deadline.Before(next) {
			next = p.deadline
		}
		i++
	}
	if !next.IsZero() {
		d.arm(next)
	}
	d.mu.Unlock()
	for _, p := range expired {
		p.cancel(errAttemptTimeout)
	}
}
