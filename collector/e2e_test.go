package collector

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

func TestGroundTruthWithFaults(t *testing.T) {
	e := newEnv(t, envOpts{seed: 7, faultRate: 0.08, jobs: testJobs(4)})
	from := e.firstBuilds(1)
	opts := e.options(tempState(t))
	var logBuf bytes.Buffer // the handler serialises writes
	opts.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	c, reg := newCollector(t, opts)
	ctx := pollCtx(t)
	var prev sample
	polls, failed := 0, 0
	var last error
	for ; polls < 800; polls++ {
		last = c.PollOnce(ctx)
		if last != nil {
			failed++
		}
		cur, types := scrape(t, reg, "codearts_")
		mono := monotonic(cur, types)
		checkNoDecrease(t, "between polls", prev, mono)
		prev = mono
		if last == nil && inFlight(cur) == 0 && e.allDone() {
			break
		}
		e.clock.Advance(2 * time.Second)
	}
	final, _ := scrape(t, reg, "codearts_")
	if inFlight(final) != 0 || !e.allDone() {
		t.Fatalf("not finished after %d polls (last error %v)", polls, last)
	}
	tr := e.sim.Truth()
	want := truthSample(tr, from, parser.DefaultRules())
	if d := diffSamples(ledgerPart(final), want); len(d) > 0 {
		t.Errorf("final /metrics differs from the simulator's ground truth in %d series:\n%s", len(d), strings.Join(d, "\n"))
	}
	for i, jt := range tr.Jobs {
		name := e.specs[i].Name
		k := seriesKey(metrics.LastBuildNumber, map[string]string{"job_name": name})
		if final[k] != float64(jt.LastBuildNo) {
			t.Errorf("%s = %v, want %d", k, final[k], jt.LastBuildNo)
		}
		lb := jt.Builds[len(jt.Builds)-1]
		k = seriesKey(lastBuildResultName, map[string]string{"job_name": name, "result": metrics.ResultFromStatus(lb.Status)})
		if final[k] != 1 {
			t.Errorf("%s = %v, want 1 (last build %d %s)", k, final[k], lb.Number, lb.Status)
		}
		k = seriesKey(lastBuildTimestampName, map[string]string{"job_name": name})
		if final[k] != float64(lb.FinishTime.UnixMilli())/1000 {
			t.Errorf("%s = %v, want %v", k, final[k], float64(lb.FinishTime.UnixMilli())/1000)
		}
		k = seriesKey(metrics.JobInfo, map[string]string{"job_name": name, "job_id": jt.ID})
		if final[k] != 1 {
			t.Errorf("%s missing", k)
		}
		checkLastFailure(t, name, jt, c.published.Load().job(name))
	}
	// Each failed step is logged once at INFO, with what a person needs.
	var failedSteps int
	for _, k := range sortedKeys(want) {
		if strings.HasPrefix(k, metrics.FailuresTotal+"{") {
			failedSteps += int(want[k])
		}
	}
	logged := 0
	for _, line := range strings.Split(logBuf.String(), "\n") {
		if strings.Contains(line, `msg="action failed"`) {
			logged++
			for _, key := range []string{"level=INFO", " job=", " build=", " action=", " category=", " cause="} {
				if !strings.Contains(line, key) {
					t.Errorf("failure log line lacks %q: %s", key, line)
				}
			}
		}
	}
	if failedSteps == 0 || logged != failedSteps {
		t.Errorf("%d \"action failed\" log lines, want one per failed step (%d)", logged, failedSteps)
	}
	st := e.sim.Stats()
	t.Logf("%d polls (%d with a failed job), %d requests, faults %v", polls, failed, st.Requests, st.Faults)
	if failed == 0 {
		t.Errorf("no poll failed: the faults did not reach the collector, so its error paths went untested")
	}
}

// checkLastFailure: the ledger keeps the newest failed step of the job, with
// its classification over the whole text and bounded evidence.
func checkLastFailure(t *testing.T, name string, jt simulator.JobTruth, jl *jobLedger) {
	t.Helper()
	var want *simulator.StageTruth
	var wantBuild int64
	for _, b := range jt.Builds {
		for i := range b.Stages {
			st := &b.Stages[i]
			if st.NodeID != 0 && st.Finished && metrics.ResultFromStatus(st.Status) == metrics.ResultFailure {
				want, wantBuild = st, b.Number
			}
		}
	}
	got := jl.LastFailure
	if want == nil {
		if got != nil {
			t.Errorf("%s: last failure %+v, but no step failed", name, got)
		}
		return
	}
	cls := parser.NewFailureClassifier(nil)
	stream := parser.NewStream(nil, cls.Record)
	_, _ = stream.WriteString(want.Log)
	stream.Flush()
	f := cls.Result()
	if got == nil || got.BuildNumber != wantBuild || got.Action != want.DisplayName || got.Category != f.Category || got.Cause != f.Cause {
		t.Fatalf("%s: last failure %+v, want build %d %s %s (%s)", name, got, wantBuild, want.DisplayName, f.Category, f.Cause)
	}
	if len(got.Evidence) == 0 || len(got.Evidence) > parser.MaxEvidence {
		t.Errorf("%s: %d evidence lines", name, len(got.Evidence))
	}
	lines := strings.Split(want.Log, "\n")
	for _, e := range got.Evidence {
		if len(e.Text) > parser.MaxEvidenceText || e.Line < 1 || int(e.Line) > len(lines) || !strings.Contains(lines[e.Line-1], e.Text) {
			t.Errorf("%s: evidence %+v is not line %d of the step log", name, e, e.Line)
		}
	}
}

// TestCrashRestart stops the collector abruptly at random points — before
// the state write, between the write and the publish, after the publish and
// between two log pages — and starts a new one from the same state file,
// scraping between every step. No codearts_build_* counter or histogram
// series may ever go down, and the final values must equal the truth.
func TestCrashRestart(t *testing.T) {
	for _, seed := range []int64{11, 12} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			e := newEnv(t, envOpts{seed: seed, faultRate: 0.05, jobs: testJobs(4)})
			from := e.firstBuilds(1)
			state := tempState(t)
			rng := rand.New(rand.NewPCG(uint64(seed), 99)) // for the crash schedule
			points := []string{hookBeforeWrite, hookAfterWrite, hookAfterPublish, hookAfterPage}
			var (
				mu        sync.Mutex
				armed     string
				countdown int
				hits      = map[string]int{}
			)
			start := func() (*Collector, *prometheus.Registry) {
				o := e.options(state)
				o.hook = func(p string) bool {
					mu.Lock()
					defer mu.Unlock()
					if p != armed {
						return false
					}
					if countdown > 0 {
						countdown--
						return false
					}
					hits[p]++
					armed = ""
					return true
				}
				return newCollector(t, o)
			}
			c, reg := start()
			ctx := pollCtx(t)
			var prev sample
			check := func(what string) sample {
				cur, types := scrape(t, reg, "codearts_")
				mono := monotonic(cur, types)
				for k := range mono {
					if !strings.HasPrefix(k, "codearts_build_") {
						delete(mono, k) // codearts_exporter_* may restart from zero
					}
				}
				checkNoDecrease(t, what, prev, mono)
				prev = mono
				return cur
			}
			check("first scrape")
			// The crash points are armed in turn (so each is hit), each
			// after a random number of quiet polls and a random number of
			// passes through the point; an armed point stays armed until
			// it fires.
			polls, restarts, next, quiet := 0, 0, 0, 0
			for ; polls < 1500; polls++ {
				mu.Lock()
				if armed == "" {
					if quiet == 0 {
						armed, countdown = points[next%len(points)], rng.IntN(3)
						next++
						quiet = rng.IntN(3)
					} else {
						quiet--
					}
				}
				mu.Unlock()
				err := c.PollOnce(ctx)
				cur := check(fmt.Sprintf("poll %d", polls))
				if c.crashed.Load() {
					// Abandon c without any cleanup; a new process starts
					// from the same state file.
					c, reg = start()
					restarts++
					check(fmt.Sprintf("restart %d", restarts))
				} else if err == nil && inFlight(cur) == 0 && e.allDone() {
					break
				}
				if rng.Float64() < 0.7 {
					e.clock.Advance(2 * time.Second)
				}
			}
			final, _ := scrape(t, reg, "codearts_")
			if inFlight(final) != 0 || !e.allDone() {
				t.Fatalf("not finished after %d polls", polls)
			}
			want := truthSample(e.sim.Truth(), from, parser.DefaultRules())
			if d := diffSamples(ledgerPart(final), want); len(d) > 0 {
				t.Errorf("after %d restarts, final /metrics differs from the ground truth in %d series:\n%s", restarts, len(d), strings.Join(d, "\n"))
			}
			t.Logf("%d polls, %d restarts, crash points hit %v", polls, restarts, hits)
			for _, p := range points {
				if hits[p] == 0 {
					t.Errorf("crash point %s was never hit", p)
				}
			}
		})
	}
}
