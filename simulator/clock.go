package simulator

import (
	"sync"
	"time"
)

// Clock is the simulator's source of time. Everything the simulator serves
// (which builds exist, their statuses, how much of each step log is visible)
// is a function of Clock.Now(), so a test that controls the clock controls
// the whole simulated world.
type Clock interface {
	Now() time.Time
}

// WallClock returns a Clock reading the real time.
func WallClock() Clock { return wallClock{} }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// ScaledClock returns a Clock that reads start at the moment it is created
// and then runs factor times as fast as the real clock (factor 10: ten
// simulated seconds per real second). A factor <= 0 is treated as 1.
func ScaledClock(start time.Time, factor float64) Clock {
	if factor <= 0 {
		factor = 1
	}
	return &scaledClock{start: start, real: time.Now(), factor: factor}
}

type scaledClock struct {
	start, real time.Time
	factor      float64
}

func (c *scaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.real)) * c.factor))
}

// ManualClock is a Clock that only moves when told to. It is safe for
// concurrent use. Moving it backwards is allowed but makes the simulated
// world go back in time too (builds disappear, logs shrink); tests that
// check monotonic behaviour should only Advance.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a ManualClock reading t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d and returns the new time.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
