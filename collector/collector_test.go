package collector

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// pollUntilDone polls (advancing the clock 2 s between polls) until every
// build has finished and been read, or fails the test after max polls.
func pollUntilDone(t *testing.T, e *env, c *Collector, reg prometheus.Gatherer, max int) sample {
	t.Helper()
	ctx := pollCtx(t)
	for i := 0; i < max; i++ {
		err := c.PollOnce(ctx)
		cur, _ := scrape(t, reg, "codearts_")
		if err == nil && inFlight(cur) == 0 && e.allDone() {
			return cur
		}
		e.clock.Advance(2 * time.Second)
	}
	t.Fatalf("not done after %d polls", max)
	return nil
}

func TestCorruptStateFileIsAClearError(t *testing.T) {
	e := newEnv(t, envOpts{seed: 1})
	state := tempState(t)
	c, _ := newCollector(t, e.options(state))
	if err := c.PollOnce(pollCtx(t)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatalf("no state file after a poll: %v", err)
	}
	// Flip one digit inside the jobs section: still valid JSON.
	i := bytes.Index(data, []byte(`"bytes":`)) + len(`"bytes":`)
	data[i] = '9'
	if err := os.WriteFile(state, data, 0o600); err != nil {
		t.Fatal(err)
	}
	o := e.options(state)
	o.Registerer = prometheus.NewRegistry()
	_, err = New(o)
	var sfe *StateFileError
	if !errors.As(err, &sfe) {
		t.Fatalf("New with a damaged state file: got %v, want *StateFileError", err)
	}
	for _, want := range []string{state, "checksum", "move the file aside"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// The documented way out: move it aside, start from zero.
	if err := os.Rename(state, state+".broken"); err != nil {
		t.Fatal(err)
	}
	c2, reg2 := newCollector(t, e.options(state))
	if c2.Ready() {
		t.Error("Ready before the first poll without a state file")
	}
	s, _ := scrape(t, reg2, metrics.LogBytesTotal)
	for k, v := range s {
		if v != 0 {
			t.Errorf("after moving the state file aside %s = %v, want 0", k, v)
		}
	}
}

func TestRestoredStateContinuesCounters(t *testing.T) {
	e := newEnv(t, envOpts{seed: 2})
	state := tempState(t)
	c, reg := newCollector(t, e.options(state))
	ctx := pollCtx(t)
	for i := 0; i < 6; i++ {
		_ = c.PollOnce(ctx)
		e.clock.Advance(2 * time.Second)
	}
	before, _ := scrape(t, reg, "codearts_build_")
	if before[seriesKey(metrics.LogBytesTotal, map[string]string{"job_name": "alpha-ci"})] == 0 {
		t.Fatal("nothing was read; the test would prove nothing")
	}
	c2, reg2 := newCollector(t, e.options(state))
	if !c2.Ready() {
		t.Error("not Ready after loading a state file")
	}
	after, _ := scrape(t, reg2, "codearts_build_")
	if d := diffSamples(after, before); len(d) > 0 {
		t.Errorf("a restart from the state file changed /metrics:\n%s", strings.Join(d, "\n"))
	}
}

func TestNoStateFile(t *testing.T) {
	e := newEnv(t, envOpts{seed: 3})
	from := e.firstBuilds(1)
	dir := t.TempDir()
	o := e.options("")
	c, reg := newCollector(t, o)
	final := pollUntilDone(t, e, c, reg, 300)
	want := truthSample(e.sim.Truth(), from, parser.DefaultRules())
	if d := diffSamples(ledgerPart(final), want); len(d) > 0 {
		t.Errorf("without a state file:\n%s", strings.Join(d, "\n"))
	}
	if k := seriesKey("codearts_exporter_state_writes_total", map[string]string{}); final[k] != 0 {
		t.Errorf("%s = %v without a state file", k, final[k])
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files written without a state file: %v", ents)
	}
}

// TestStateWriteFailurePublishesNothing removes the state file's directory:
// writes fail, so nothing new may be published; once the directory is back
// the collector catches up to the exact truth.
func TestStateWriteFailurePublishesNothing(t *testing.T) {
	e := newEnv(t, envOpts{seed: 4})
	from := e.firstBuilds(1)
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.json")
	c, reg := newCollector(t, e.options(state))
	ctx := pollCtx(t)
	for i := 0; i < 3; i++ {
		_ = c.PollOnce(ctx)
		e.clock.Advance(2 * time.Second)
	}
	before, _ := scrape(t, reg, "codearts_build_")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for i := 0; i < 8; i++ {
		// A poll that changed nothing writes nothing and cannot fail.
		if err := c.PollOnce(ctx); err != nil {
			if !strings.Contains(err.Error(), "state file") {
				t.Fatalf("poll with an unwritable state file: err %v", err)
			}
			failed++
		}
		e.clock.Advance(2 * time.Second)
	}
	if failed == 0 {
		t.Fatal("no poll reported the unwritable state file")
	}
	during, _ := scrape(t, reg, "codearts_")
	if d := diffSamples(ledgerPart(during), ledgerPart(before)); len(d) > 0 {
		t.Errorf("values were published although the state file could not be written:\n%s", strings.Join(d, "\n"))
	}
	if during["codearts_exporter_state_write_errors_total{}"] == 0 {
		t.Error("codearts_exporter_state_write_errors_total did not count the failures")
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	final := pollUntilDone(t, e, c, reg, 300)
	want := truthSample(e.sim.Truth(), from, parser.DefaultRules())
	if d := diffSamples(ledgerPart(final), want); len(d) > 0 {
		t.Errorf("after the state file became writable again:\n%s", strings.Join(d, "\n"))
	}
}

// TestOneFailingJobDoesNotStopOthers adds a job the service does not know
// and one whose id is malformed; the others must reach the exact truth, the
// failures be counted, and each error logged once (not once per poll).
func TestOneFailingJobDoesNotStopOthers(t *testing.T) {
	e := newEnv(t, envOpts{seed: 5})
	from := e.firstBuilds(1)
	o := e.options(tempState(t))
	o.Jobs = append(o.Jobs, Job{ID: "0000000000000000000000000000dead", Name: "ghost"}, Job{ID: "not-a-job-id", Name: "typo"})
	var logs logCounter
	o.Logger = slog.New(&logs)
	c, reg := newCollector(t, o)
	final := pollUntilDoneIgnoring(t, e, c, reg, 300, "ghost", "typo")
	want := truthSample(e.sim.Truth(), from, parser.DefaultRules())
	for _, name := range []string{"ghost", "typo"} {
		want[seriesKey(metrics.LogBytesTotal, map[string]string{"job_name": name})] = 0
	}
	if d := diffSamples(ledgerPart(final), want); len(d) > 0 {
		t.Errorf("healthy jobs next to failing ones:\n%s", strings.Join(d, "\n"))
	}
	for _, name := range []string{"ghost", "typo"} {
		l := map[string]string{"job_name": name}
		if final[seriesKey("codearts_exporter_poll_errors_total", l)] < 3 {
			t.Errorf("poll errors of %s not counted: %v", name, final[seriesKey("codearts_exporter_poll_errors_total", l)])
		}
		if _, ok := final[seriesKey(metrics.LastPollSuccessSeconds, l)]; ok {
			t.Errorf("%s has a last-success timestamp although it never succeeded", name)
		}
		if final[seriesKey("codearts_exporter_job_up", l)] != 0 {
			t.Errorf("codearts_exporter_job_up{%s} != 0", name)
		}
		if n := logs.count("poll failed", name); n != 1 {
			t.Errorf("the error of %s was logged %d times, want once", name, n)
		}
	}
	l := map[string]string{"job_name": "alpha-ci"}
	if final[seriesKey(metrics.LastPollSuccessSeconds, l)] != float64(e.clock.Now().UnixNano())/1e9 {
		t.Errorf("last poll success of alpha-ci = %v, want the clock's now", final[seriesKey(metrics.LastPollSuccessSeconds, l)])
	}
}

func pollUntilDoneIgnoring(t *testing.T, e *env, c *Collector, reg prometheus.Gatherer, max int, failing ...string) sample {
	t.Helper()
	ctx := pollCtx(t)
	for i := 0; i < max; i++ {
		err := c.PollOnce(ctx)
		ok := true
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "job ghost:") && !strings.HasPrefix(line, "job typo:") {
					ok = false
				}
			}
		}
		cur, _ := scrape(t, reg, "codearts_")
		if ok && inFlight(cur) == 0 && e.allDone() {
			return cur
		}
		e.clock.Advance(2 * time.Second)
	}
	t.Fatalf("not done after %d polls", max)
	return nil
}

// logCounter is a slog.Handler that remembers messages with their "job".
type logCounter struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	job := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "job" {
			job = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message+"|"+job)
	l.mu.Unlock()
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }
func (l *logCounter) count(prefix, job string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		msg, j, _ := strings.Cut(m, "|")
		if strings.HasPrefix(msg, prefix) && j == job {
			n++
		}
	}
	return n
}

// TestReloadKeepsState removes a job, changes nothing else, and adds it
// back: its series disappear while it is out of the configuration and
// return with the same values; the other jobs' counters continue, and in
// the end everything equals the truth.
func TestReloadKeepsState(t *testing.T) {
	e := newEnv(t, envOpts{seed: 6})
	from := e.firstBuilds(1)
	state := tempState(t)
	o := e.options(state)
	c, reg := newCollector(t, o)
	ctx := pollCtx(t)
	for i := 0; i < 8; i++ {
		_ = c.PollOnce(ctx)
		e.clock.Advance(2 * time.Second)
	}
	before, _ := scrape(t, reg, "codearts_build_")
	removed := o.Jobs[1].Name
	o2 := o
	o2.Jobs = []Job{o.Jobs[0], o.Jobs[2]}
	o2.Registerer = prometheus.NewRegistry() // ignored by Update
	if err := c.Update(o2); err != nil {
		t.Fatal(err)
	}
	mid, _ := scrape(t, reg, "codearts_")
	for k, v := range before {
		if strings.Contains(k, `job_name="`+removed+`"`) {
			if _, ok := mid[k]; ok {
				t.Errorf("%s still exported after the job was removed", k)
			}
		} else if mid[k] != v {
			t.Errorf("reload changed %s from %v to %v", k, v, mid[k])
		}
	}
	for k := range mid {
		if strings.Contains(k, `job_name="`+removed+`"`) {
			t.Errorf("%s still exported after the job was removed", k)
		}
	}
	if err := c.Update(Options{Client: e.client, Jobs: o.Jobs, StateFile: state + ".other"}); err == nil {
		t.Error("Update accepted a different state file")
	}
	if err := c.Update(Options{Client: e.client, Jobs: []Job{{ID: "x", Name: "a"}, {ID: "y", Name: "a"}}, StateFile: state}); err == nil {
		t.Error("Update accepted duplicate job names")
	}
	if err := c.Update(o); err != nil {
		t.Fatal(err)
	}
	back, _ := scrape(t, reg, "codearts_build_")
	if d := diffSamples(back, before); len(d) > 0 {
		t.Errorf("after adding the job back:\n%s", strings.Join(d, "\n"))
	}
	final := pollUntilDone(t, e, c, reg, 300)
	want := truthSample(e.sim.Truth(), from, parser.DefaultRules())
	if d := diffSamples(ledgerPart(final), want); len(d) > 0 {
		t.Errorf("after reloads:\n%s", strings.Join(d, "\n"))
	}
}

// TestVanishedBuildsAreGivenUp backfills more builds than the service still
// keeps: the forgotten ones answer "not found" and must be dropped after
// BuildGiveUpAfter polls instead of wedging the job.
func TestVanishedBuildsAreGivenUp(t *testing.T) {
	jobs := testJobs(0)[:1]
	jobs[0].Offset = -10 * time.Minute // a long history
	e := newEnv(t, envOpts{seed: 8, jobs: jobs, retain: 2})
	o := e.options(tempState(t))
	o.BackfillBuilds = 5
	o.BuildGiveUpAfter = 3
	c, reg := newCollector(t, o)
	ctx := pollCtx(t)
	var cur sample
	for i := 0; i < 6; i++ {
		_ = c.PollOnce(ctx)
		cur, _ = scrape(t, reg, "codearts_")
	}
	l := map[string]string{"job_name": jobs[0].Name}
	if got := cur[seriesKey("codearts_exporter_builds_given_up_total", l)]; got != 3 {
		t.Errorf("builds given up = %v, want 3 (5 backfilled, 2 retained)", got)
	}
	if got := cur[seriesKey(buildsInFlightName, l)]; got > 2 {
		t.Errorf("%v builds still in flight; the vanished ones wedge the job", got)
	}
}

func TestReady(t *testing.T) {
	e := newEnv(t, envOpts{seed: 9})
	c, _ := newCollector(t, e.options(""))
	if c.Ready() {
		t.Fatal("Ready before any poll")
	}
	_ = c.PollOnce(pollCtx(t))
	if !c.Ready() {
		t.Fatal("not Ready after a poll")
	}
}

func TestOptionsValidation(t *testing.T) {
	e := newEnv(t, envOpts{seed: 10})
	for name, o := range map[string]Options{
		"no client":      {Jobs: e.jobs()},
		"negative":       {Client: e.client, BackfillBuilds: -1},
		"negative knob":  {Client: e.client, MaxPagesPerStep: -1},
		"duplicate name": {Client: e.client, Jobs: []Job{{ID: "a", Name: "x"}, {ID: "b", Name: "x"}}},
		"no id":          {Client: e.client, Jobs: []Job{{Name: "x"}}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
	c, err := New(Options{Client: e.client, Jobs: []Job{{ID: "0123456789abcdef0123456789abcdef"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.config().jobs[0].Name; got != "0123456789abcdef0123456789abcdef" {
		t.Errorf("empty name defaults to %q, want the id", got)
	}
}

// TestPromtoolCheckMetrics runs `promtool check metrics` on the exposition
// of a collector that has read real data, failures included.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/promtool"); serr == nil {
			promtool = "/usr/bin/promtool"
		} else if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found (install the Debian package prometheus); CI=true requires it")
		} else {
			t.Skip("SKIPPING: promtool not found on PATH or in /usr/bin; install the Debian package prometheus to run this check")
		}
	}
	e := newEnv(t, envOpts{seed: 13, faultRate: 0.05})
	o := e.options(tempState(t))
	o.Jobs = append(o.Jobs, Job{ID: "0000000000000000000000000000dead", Name: "ghost"})
	c, reg := newCollector(t, o)
	ctx := pollCtx(t)
	for i := 0; i < 40; i++ {
		_ = c.PollOnce(ctx)
		e.clock.Advance(2 * time.Second)
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.PanicOnError})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	for _, want := range []string{metrics.LogRecordsTotal, metrics.ActionDurationSeconds + "_bucket", metrics.BuildDurationSeconds + "_count",
		metrics.LastBuildNumber, metrics.JobInfo, metrics.LastPollSuccessSeconds, lastBuildResultName, "codearts_exporter_poll_errors_total"} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestRunPollsUntilCancelled runs the loop with a short interval: it must
// poll repeatedly, become ready, and return promptly when ctx is done.
func TestRunPollsUntilCancelled(t *testing.T) {
	e := newEnv(t, envOpts{seed: 14})
	o := e.options("")
	o.PollInterval = 5 * time.Millisecond
	c, reg := newCollector(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, _ := scrape(t, reg, "codearts_exporter_poll_duration_seconds")
		if c.Ready() && s[seriesKey("codearts_exporter_poll_duration_seconds_count", map[string]string{})] >= 3*float64(len(o.Jobs)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not poll three times in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ctx was cancelled")
	}
}
