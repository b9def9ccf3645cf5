package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

func TestGroundTruthWithFaults(t *testing.T) {
	e := newEnv(t, envOpts{seed: 7, faultRate: 0.08, jobs: testJobs(4)})
	from := e.firstBuilds(1)
	c, reg := newCollector(t, e.options(tempState(t)))
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
	}
	st := e.sim.Stats()
	t.Logf("%d polls (%d with a failed job), %d requests, faults %v", polls, failed, st.Requests, st.Faults)
	if failed == 0 {
		t.Errorf("no poll failed: the faults did not reach the collector, so its error paths went untested")
	}
}
