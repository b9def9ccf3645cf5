package simulator

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// statusRank orders statuses so that a stage or build may only move forward.
func statusRank(s string) int {
	switch s {
	case StatusPending:
		return 0
	case StatusRunning:
		return 1
	}
	return 2
}

// TestBuildsProgressAndFinishWithMaxBuilds walks a ManualClock second by
// second until every bounded build is finished, checking on the way that
// nothing goes backwards: statuses only advance, logs only grow (each Truth
// log is a prefix of the next), and the served answers agree with Truth.
func TestBuildsProgressAndFinishWithMaxBuilds(t *testing.T) {
	f := newFixture(t, Options{Seed: 42})
	prev := map[string]StageTruth{}
	prevBuild := map[string]string{}
	var seenRunning, seenGrowth bool
	var tr Truth
	for step := 0; ; step++ {
		if step > 1000 {
			t.Fatal("builds did not finish within 1000 s")
		}
		tr = f.sim.Truth()
		all := true
		for _, j := range tr.Jobs {
			if len(j.Builds) < 3 && j.ID == testJobZH || len(j.Builds) < 2 && j.ID == testJobEN {
				all = false
			}
			for _, b := range j.Builds {
				bkey := j.ID + "/" + strconv.FormatInt(b.Number, 10)
				if p, ok := prevBuild[bkey]; ok && statusRank(b.Status) < statusRank(p) {
					t.Fatalf("%s went from %s back to %s", bkey, p, b.Status)
				}
				prevBuild[bkey] = b.Status
				all = all && b.Finished
				seenRunning = seenRunning || b.Status == StatusRunning
				for _, s := range b.Stages {
					key := bkey + "/" + s.Name
					if p, ok := prev[key]; ok {
						if statusRank(s.Status) < statusRank(p.Status) {
							t.Fatalf("%s went from %s back to %s", key, p.Status, s.Status)
						}
						if !strings.HasPrefix(s.Log, p.Log) {
							t.Fatalf("%s: the log changed instead of growing", key)
						}
						if p.Finished && s.Log != p.Log {
							t.Fatalf("%s: the log grew after the stage finished", key)
						}
						seenGrowth = seenGrowth || (len(s.Log) > len(p.Log) && len(p.Log) > 0)
					}
					prev[key] = s
				}
			}
		}
		if all {
			break
		}
		f.clock.Advance(time.Second)
	}
	if !seenRunning || !seenGrowth {
		t.Fatalf("never saw a running build (%v) or a growing log (%v)", seenRunning, seenGrowth)
	}
	// Bounded: nothing new appears later.
	f.clock.Advance(24 * time.Hour)
	later := f.sim.Truth()
	for i := range tr.Jobs {
		if later.Jobs[i].LastBuildNo != tr.Jobs[i].LastBuildNo {
			t.Fatalf("job %s: build %d appeared after MaxBuilds", tr.Jobs[i].Name, later.Jobs[i].LastBuildNo)
		}
	}
	if r := f.get(t, "/v1/job/"+testJobZH+"/running-status", nil).result(t); r["is_running"] != false || r["last_build_status"] != "Finished" || r["last_build_no"] != "3" {
		t.Fatalf("running-status after the last build: %v", r)
	}
	for _, j := range tr.Jobs {
		for _, b := range j.Builds {
			checkBuildConsistency(t, f, j.ID, b)
		}
	}
}

// checkBuildConsistency compares a finished build's record-info and stages
// with Truth and checks the timeline's invariants.
func checkBuildConsistency(t *testing.T, f *fixture, jobID string, b BuildTruth) {
	t.Helper()
	where := jobID[:6] + "#" + strconv.FormatInt(b.Number, 10)
	rec := f.get(t, "/v1/record/"+jobID+"/"+strconv.FormatInt(b.Number, 10)+"/record-info", nil).result(t)
	start := parseAPITime(t, rec["start_time"])
	finish := parseAPITime(t, rec["finish_time"])
	if !start.Equal(b.StartTime) || !finish.Equal(b.FinishTime) || rec["status"] != b.Status {
		t.Errorf("%s: record-info %v..%v %v, truth %v..%v %v", where, start, finish, rec["status"], b.StartTime, b.FinishTime, b.Status)
	}
	if int64(rec["duration"].(float64)) != finish.Sub(start).Milliseconds() || b.DurationMillis != finish.Sub(start).Milliseconds() {
		t.Errorf("%s: duration %v, times say %v", where, rec["duration"], finish.Sub(start))
	}
	if (rec["err_msg"] == nil) != (b.Status == StatusSuccess) {
		t.Errorf("%s: err_msg %v with status %s", where, rec["err_msg"], b.Status)
	}
	stages := f.get(t, "/v1/record/"+b.RecordID+"/full-stages", nil).result(t)["build_stages"].(map[string]any)
	if !b.Stages[0].StartTime.Equal(b.StartTime) || !b.Stages[len(b.Stages)-1].FinishTime.Equal(b.FinishTime) {
		t.Errorf("%s: build times are not the bookends' times", where)
	}
	var bad *StageTruth
	var last time.Time
	for i := range b.Stages {
		s := b.Stages[i]
		js := stages[s.Name].(map[string]any)
		if js["status"] != s.Status || js["status_code"] != float64(statusCode(s.Status)) {
			t.Errorf("%s %s: served %v/%v, truth %s", where, s.Name, js["status"], js["status_code"], s.Status)
		}
		if !s.Finished {
			t.Errorf("%s %s: not finished in a finished build", where, s.Name)
		}
		if s.Skipped {
			if bad == nil || s.Status != StatusAborted || s.Log != "" || js["start_time"] != nil {
				t.Errorf("%s %s: skipped stage %+v", where, s.Name, js)
			}
			continue
		}
		st, fin := parseAPITime(t, js["start_time"]), parseAPITime(t, js["finish_time"])
		if !st.Equal(s.StartTime) || !fin.Equal(s.FinishTime) || st.Before(last) {
			t.Errorf("%s %s: %v..%v (truth %v..%v), previous ended %v", where, s.Name, st, fin, s.StartTime, s.FinishTime, last)
		}
		if d := js["duration"].(float64); int64(d) != int64(js["build_duration"].(float64))+int64(js["pending_duration"].(float64)) ||
			int64(js["build_duration"].(float64)) != fin.Sub(st).Milliseconds() {
			t.Errorf("%s %s: durations %v %v %v for %v", where, s.Name, js["duration"], js["build_duration"], js["pending_duration"], fin.Sub(st))
		}
		last = fin
		if s.NodeID != 0 {
			if s.Records == 0 || !s.FirstRecordTime.Equal(s.StartTime) || !s.LastRecordTime.Equal(s.FinishTime) {
				t.Errorf("%s %s: records %d, first %v last %v, stage %v..%v", where, s.Name, s.Records, s.FirstRecordTime, s.LastRecordTime, s.StartTime, s.FinishTime)
			}
		} else if s.Log != "" {
			t.Errorf("%s %s: a stage without node_id has a log", where, s.Name)
		}
		if s.Status == StatusFailed || s.Status == StatusAborted && s.Name != "final" {
			bad = &b.Stages[i]
		}
	}
	final := b.Stages[len(b.Stages)-1]
	switch b.Status {
	case StatusSuccess:
		if bad != nil || !strings.Contains(final.Log, "Finished: SUCCESS") {
			t.Errorf("%s: successful build with bad stage %v / final log %q", where, bad, final.Log)
		}
	case StatusFailed:
		if bad == nil || bad.Status != StatusFailed || final.Status != StatusSuccess || !strings.Contains(final.Log, "Finished: FAILURE") {
			t.Errorf("%s: failed build: bad stage %v, final %s", where, bad, final.Status)
		}
	case StatusAborted:
		if bad == nil || bad.Status != StatusAborted || final.Status != StatusAborted || !strings.Contains(final.Log, "Finished: ABORTED") {
			t.Errorf("%s: aborted build: bad stage %v, final %s", where, bad, final.Status)
		}
	default:
		t.Errorf("%s: finished with status %s", where, b.Status)
	}
}

func parseAPITime(t *testing.T, v any) time.Time {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("time %#v is not a string", v)
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05Z0700"} {
		if tt, err := time.Parse(layout, s); err == nil {
			return tt
		}
	}
	t.Fatalf("time %q in neither documented form", s)
	return time.Time{}
}

// TestOutcomesAreAllReachedAndConsistent runs many short builds and checks
// every finished one.
func TestOutcomesAreAllReachedAndConsistent(t *testing.T) {
	job := JobSpec{
		ID: "00112233445566778899aabbccddeeff", Name: "many", MaxBuilds: 40, FailureRate: 0.3, AbortRate: 0.2,
		ErrorSpikeRate: 0.3, SpikeRecords: 30, Offset: -time.Hour, CompactAPITimes: true,
		Stages: []StageSpec{
			{DisplayName: "构建", Tool: "go", MinDuration: time.Second, MaxDuration: 3 * time.Second},
			{DisplayName: "测试", Tool: "gotest", MinDuration: time.Second, MaxDuration: 4 * time.Second},
			{DisplayName: "推送", Tool: "docker", MinDuration: time.Second, MaxDuration: 2 * time.Second, NoLog: true},
		},
	}
	f := newFixture(t, Options{Seed: 8, Jobs: []JobSpec{job}, RetainBuilds: 40})
	tr := f.sim.Truth()
	j := tr.Jobs[0]
	if len(j.Builds) != 40 {
		t.Fatalf("%d builds, want 40", len(j.Builds))
	}
	outcomes := map[string]int{}
	spikes := 0
	for _, b := range j.Builds {
		if !b.Finished {
			t.Fatalf("build %d not finished an hour later", b.Number)
		}
		outcomes[b.Status]++
		if b.ErrorSpike {
			spikes++
		}
		checkBuildConsistency(t, f, j.ID, b)
	}
	if outcomes[StatusSuccess] == 0 || outcomes[StatusFailed] == 0 || outcomes[StatusAborted] == 0 || spikes == 0 {
		t.Fatalf("outcomes %v, %d spikes", outcomes, spikes)
	}
	for i := 1; i < len(j.Builds); i++ {
		if !j.Builds[i].StartTime.After(j.Builds[i-1].FinishTime) && !j.Builds[i].StartTime.Equal(j.Builds[i-1].FinishTime) {
			t.Fatalf("builds %d and %d overlap", j.Builds[i-1].Number, j.Builds[i].Number)
		}
	}
}

func TestRetentionForgetsOldBuilds(t *testing.T) {
	job := testJobs()[1]
	job.MaxBuilds = 0
	job.Offset = -2 * time.Hour
	f := newFixture(t, Options{Seed: 8, Jobs: []JobSpec{job}, RetainBuilds: 5})
	tr := f.sim.Truth()
	j := tr.Jobs[0]
	if len(j.Builds) != 5 || j.Builds[4].Number != j.LastBuildNo || j.LastBuildNo < 50 {
		t.Fatalf("retained %d builds, last %d", len(j.Builds), j.LastBuildNo)
	}
	old := strconv.FormatInt(j.LastBuildNo-5, 10)
	expectError(t, f.get(t, "/v1/record/"+job.ID+"/"+old+"/record-info", nil), 400, "CB.00060200")
	if r := f.get(t, "/v1/record/"+job.ID+"/"+strconv.FormatInt(j.LastBuildNo-4, 10)+"/record-info", nil); r.status != 200 {
		t.Fatalf("oldest retained build: %s", r.raw)
	}
}

func TestSameSeedSameWorld(t *testing.T) {
	a := newFixture(t, Options{Seed: 99})
	b := newFixture(t, Options{Seed: 99})
	c := newFixture(t, Options{Seed: 100})
	for _, f := range []*fixture{a, b, c} {
		f.clock.Advance(3 * time.Minute)
	}
	ta, tb, tc := a.sim.Truth(), b.sim.Truth(), c.sim.Truth()
	same := func(x, y Truth) bool {
		for i := range x.Jobs {
			if len(x.Jobs[i].Builds) != len(y.Jobs[i].Builds) {
				return false
			}
			for k, bx := range x.Jobs[i].Builds {
				by := y.Jobs[i].Builds[k]
				if bx.Status != by.Status || bx.RecordID != by.RecordID || !bx.FinishTime.Equal(by.FinishTime) {
					return false
				}
				for s := range bx.Stages {
					if bx.Stages[s].Log != by.Stages[s].Log {
						return false
					}
				}
			}
		}
		return true
	}
	if !same(ta, tb) {
		t.Fatal("same seed, different worlds")
	}
	if same(ta, tc) {
		t.Fatal("different seeds, same world")
	}
}

// TestRecordsStayWithinTheirStage checks, for many generated builds with
// short stages and big spikes, that every record of a stage becomes visible
// between the stage's start and finish — so a finished stage's log never
// grows.
func TestRecordsStayWithinTheirStage(t *testing.T) {
	job := JobSpec{
		ID: "00112233445566778899aabbccddeeff", Name: "short", FailureRate: 0.3, AbortRate: 0.3,
		ErrorSpikeRate: 1, SpikeRecords: 300, RecordsPerSecond: 30, Continuous: true,
		Stages: []StageSpec{
			{DisplayName: "a", Tool: "maven", MinDuration: time.Second, MaxDuration: 2 * time.Second},
			{DisplayName: "b", Tool: "pytest", MinDuration: time.Second, MaxDuration: 2 * time.Second},
		},
	}
	sim, err := New(Options{Seed: 3, Jobs: []JobSpec{job}, Clock: NewManualClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	j := sim.jobs[0]
	for n := int64(1); n <= 200; n++ {
		b := sim.generate(j, n)
		for _, st := range b.stages {
			if st.log == nil {
				continue
			}
			sp := st.plan
			for i, at := range st.log.at {
				if at < sp.start || at > sp.finish {
					t.Fatalf("build %d %s: record %d visible at %d, stage %d..%d", n, sp.name, i, at, sp.start, sp.finish)
				}
			}
			if !sp.skipped && len(st.log.at) > 0 && st.log.at[len(st.log.at)-1] != sp.finish {
				t.Fatalf("build %d %s: last record at %d, stage finishes at %d", n, sp.name, st.log.at[len(st.log.at)-1], sp.finish)
			}
		}
		if next := j.anchor(n + 1); b.plan.finish > next {
			t.Fatalf("build %d finishes at %d, after build %d is created at %d", n, b.plan.finish, n+1, next)
		}
	}
}
