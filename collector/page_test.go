package collector

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

// hostileRun polls a simulator misbehaving in mode until its one finished
// build is done in the exporter (or 40 polls passed) and returns the last
// scrape and the truth's log bytes.
func hostileRun(t *testing.T, mode simulator.Hostile, maxBody int64, chunk int) (sample, float64, int) {
	t.Helper()
	job := testJobs(1)[0]
	job.Offset, job.RecordsPerSecond = -300*time.Second, 60 // build 1 finished before the first poll, 10s of KB per step
	e := newEnv(t, envOpts{seed: 21, jobs: []simulator.JobSpec{job}, hostile: mode, maxBody: maxBody,
		chunkMin: chunk, chunkMax: chunk, start: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)})
	var truthBytes float64
	for _, b := range e.sim.Truth().Jobs[0].Builds {
		if !b.Finished {
			t.Fatalf("build %d is not finished at the start", b.Number)
		}
		for _, st := range b.Stages {
			if st.NodeID != 0 {
				truthBytes += float64(st.Bytes)
			}
		}
	}
	o := e.options(tempState(t))
	o.BuildGiveUpAfter = 3
	c, reg := newCollector(t, o)
	var s sample
	polls := 0
	for polls < 40 {
		polls++
		e.clock.Advance(5 * time.Second)
		_ = c.PollOnce(pollCtx(t))
		s, _ = scrape(t, reg, "codearts_")
		if s[`codearts_build_duration_seconds_count{job_name="alpha-ci",result="`+resultOf(e)+`"}`] == 1 {
			break
		}
	}
	t.Logf("%d polls; truth %v bytes, counted %v", polls, truthBytes, s[`codearts_build_log_bytes_total{job_name="alpha-ci"}`])
	return s, truthBytes, polls
}

func resultOf(e *env) string {
	switch e.sim.Truth().Jobs[0].Builds[0].Status {
	case "SUCCESS":
		return "success"
	case "ABORTED":
		return "aborted"
	}
	return "failure"
}

// TestHostileCursorNeverCountsTwice: a page whose end_offset goes back to
// the start of the log, stays at the cursor, or that is empty with has_more
// forever, is never counted; the step is given up after BuildGiveUpAfter
// polls, counted and logged, and the build finishes. (A backwards cursor
// used to count the same text over and over.)
func TestHostileCursorNeverCountsTwice(t *testing.T) {
	for _, c := range []struct {
		mode     simulator.Hostile
		reason   string
		rejected bool
	}{
		{simulator.HostileBackwards, stallBackwards, true},
		{simulator.HostileStuck, stallNotAdvancing, true},
		{simulator.HostileEmpty, stallEmpty, false},
	} {
		t.Run(c.reason, func(t *testing.T) {
			s, truth, polls := hostileRun(t, c.mode, 0, 200)
			bytes := s[`codearts_build_log_bytes_total{job_name="alpha-ci"}`]
			if bytes <= 0 || bytes > truth {
				t.Errorf("counted %v bytes of a %v-byte log", bytes, truth)
			}
			givenUp := s[fmt.Sprintf(`codearts_exporter_log_steps_given_up_total{job_name="alpha-ci",reason=%q}`, c.reason)]
			if givenUp == 0 {
				t.Errorf("no step given up for %s after %d polls", c.reason, polls)
			}
			rejected := s[fmt.Sprintf(`codearts_exporter_log_pages_rejected_total{job_name="alpha-ci",reason=%q}`, c.reason)]
			if c.rejected != (rejected > 0) {
				t.Errorf("pages rejected for %s: %v", c.reason, rejected)
			}
			if n := inFlight(s); n != 0 {
				t.Errorf("%v builds still in flight after %d polls: the given-up steps must let the build finish", n, polls)
			}
		})
	}
}

// TestOversizePageReadBounded: an answer over the body limit is asked again
// with a bounded end_offset, and the step is read to the end exactly once.
func TestOversizePageReadBounded(t *testing.T) {
	s, truth, polls := hostileRun(t, simulator.HostileOversize, 16<<10, 1000)
	if got := s[`codearts_build_log_bytes_total{job_name="alpha-ci"}`]; got != truth {
		t.Errorf("counted %v bytes, truth %v (after %d polls)", got, truth, polls)
	}
	if n := inFlight(s); n != 0 {
		t.Errorf("%v builds in flight", n)
	}
}

// TestOversizePageGivenUp: a step whose pages are over the limit even when
// bounded is given up and counted, instead of being downloaded again by
// every poll.
func TestOversizePageGivenUp(t *testing.T) {
	s, truth, polls := hostileRun(t, simulator.HostileNone, 16<<10, 20000)
	if got := s[`codearts_build_log_bytes_total{job_name="alpha-ci"}`]; got > truth {
		t.Errorf("counted %v bytes, truth %v", got, truth)
	}
	if s[`codearts_exporter_log_steps_given_up_total{job_name="alpha-ci",reason="too_large"}`] == 0 {
		t.Errorf("no step given up as too_large after %d polls", polls)
	}
	if n := inFlight(s); n != 0 {
		t.Errorf("%v builds in flight after %d polls", n, polls)
	}
}

// TestLongDisplayNameIsCut: a 1 MB display name becomes an action label of
// MaxLabelRunes characters, not a 1 MB label.
func TestLongDisplayNameIsCut(t *testing.T) {
	long := strings.Repeat("构", 1<<20/3)
	f := &fakeAPI{
		latest: 1, acceptID: "id-1",
		rec:       buildRecord{ID: "id-1", Status: "SUCCESS"},
		stagesOut: []stageInfo{{Name: "stage1", Display: long + "\xff", NodeID: 7, HasNode: true, Status: "SUCCESS"}},
		pages:     map[int64]logPage{0: {EndOffset: 10, Log: []byte("[2026/09/10 17:26:22.661 GMT+08:00] [INFO] [x:y] : hello\n")}},
	}
	c, _ := fakeCollector(t, f)
	if err := c.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for action := range c.published.Load().job("fake").Records {
		if n := utf8.RuneCountInString(action); n > MaxLabelRunes || !strings.HasPrefix(action, "构构构") || !strings.HasSuffix(action, "…") {
			t.Errorf("action label of %d characters (%d bytes), want at most %d ending in …", n, len(action), MaxLabelRunes)
		}
	}
	if got := labelValue("ab\xffc"); got != "ab\uFFFDc" {
		t.Errorf("labelValue keeps invalid UTF-8: %q", got)
	}
}
