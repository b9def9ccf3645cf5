package codearts_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

const (
	simAK      = "SIMULATORAKEXAMPLE01"
	simSK      = "simulatorSecretKeyForTests0123456789abcd"
	simProject = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
)

func simJob(id, name string, english bool) simulator.JobSpec {
	return simulator.JobSpec{
		ID: id, Name: name, English: english, MaxBuilds: 2, FailureRate: 0.3, ErrorSpikeRate: 0.5,
		Stages: []simulator.StageSpec{
			{DisplayName: "代码检出", Tool: "git"},
			{DisplayName: "Maven构建", Tool: "maven"},
			{DisplayName: "npm build", Tool: "npm"},
		},
	}
}

// Against the simulator, over real HTTP with AK/SK and injected 500
// CB.00060211 / CB.00060101 faults: every finished step log paged with
// random chunk sizes reassembles byte for byte, and every record decodes.
func TestAgainstSimulatorLogsReassembleExactly(t *testing.T) {
	clock := simulator.NewManualClock(time.Date(2026, 9, 10, 9, 0, 0, 0, time.UTC))
	sim, err := simulator.New(simulator.Options{
		Seed: 7, Clock: clock, ChunkMin: 1, ChunkMax: 700,
		Jobs: []simulator.JobSpec{
			simJob("0123456789abcdef0123456789abcdef", "backend-ci", false),
			simJob("fedcba9876543210fedcba9876543210", "frontend", true),
		},
		Faults:    simulator.Faults{Rate: 0.25, Kinds: []simulator.FaultKind{simulator.FaultThrottle500, simulator.FaultInternal500}},
		AccessKey: simAK, SecretKey: simSK, ProjectID: simProject,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	clock.Advance(2 * time.Hour) // both builds of both jobs finished
	c, err := codearts.New(codearts.Options{
		Endpoint: srv.URL, ProjectID: simProject, Auth: codearts.Auth{AccessKey: simAK, SecretKey: simSK},
		RequestsPerSecond: -1, MaxConcurrency: 4, MaxRetries: 8,
		BackoffBase: time.Millisecond, BackoffMax: 4 * time.Millisecond, Timeout: 5 * time.Second,
		Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	truth := sim.Truth()
	pages := 0
	for _, jt := range truth.Jobs {
		rs, err := c.ShowRunningStatus(ctx, jt.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rs.LastBuildNo != jt.LastBuildNo || rs.IsRunning {
			t.Errorf("%s: running status %+v, truth last build %d", jt.Name, rs, jt.LastBuildNo)
		}
		for _, bt := range jt.Builds {
			rec, err := c.ShowJobBuildRecordDetail(ctx, jt.ID, bt.Number)
			if err != nil {
				t.Fatal(err)
			}
			if rec.ID != bt.RecordID || rec.BuildRecordID != bt.BuildRecordID || rec.Status != bt.Status ||
				!rec.StartTime.Equal(bt.StartTime) || !rec.FinishTime.Equal(bt.FinishTime) || rec.DurationMillis != bt.DurationMillis {
				t.Errorf("%s #%d: record %+v\ntruth %+v", jt.Name, bt.Number, rec, bt)
			}
			stages, err := c.ShowBuildRecordFullStages(ctx, rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(stages) != len(bt.Stages) {
				t.Fatalf("%s #%d: %d stages, truth %d", jt.Name, bt.Number, len(stages), len(bt.Stages))
			}
			for i, st := range stages {
				want := bt.Stages[i]
				if st.Name != want.Name || st.DisplayName != want.DisplayName || st.Status != want.Status {
					t.Errorf("stage %d: %+v, truth %+v", i, st, want)
				}
				if st.NodeID == nil {
					continue
				}
				var got []byte
				q := codearts.LogQuery{JobID: jt.ID, BuildNo: bt.Number, StepID: *st.NodeID}
				for {
					ch, err := c.ShowConsoleInfo(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					pages++
					got = append(got, ch.Log...)
					q.StartOffset = ch.EndOffset
					if !ch.HasMore {
						break
					}
				}
				if string(got) != want.Log {
					t.Errorf("%s #%d %s: reassembled %d bytes, truth %d bytes", jt.Name, bt.Number, st.Name, len(got), len(want.Log))
				}
			}
		}
		page, err := c.ListBuildInfoRecordByJobId(ctx, jt.ID, truth.Now.Add(-48*time.Hour), truth.Now.Add(24*time.Hour), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Builds) != len(jt.Builds) {
			t.Errorf("%s: list has %d builds, truth %d", jt.Name, len(page.Builds), len(jt.Builds))
		}
	}
	jobs, err := c.ListJob(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.Jobs) != len(truth.Jobs) {
		t.Errorf("ListJob: %d jobs", len(jobs.Jobs))
	}
	st := sim.Stats()
	if pages < 20 || st.Faults[simulator.FaultThrottle500]+st.Faults[simulator.FaultInternal500] == 0 {
		t.Errorf("too easy: %d pages, faults %v", pages, st.Faults)
	}
	t.Logf("%d log pages, %d requests, faults %v", pages, st.Requests, st.Faults)

	// A wrong SK: one 401 APIG.0301, a clear error, no retry storm.
	bad, _ := codearts.New(codearts.Options{Endpoint: srv.URL, ProjectID: simProject,
		Auth: codearts.Auth{AccessKey: simAK, SecretKey: "wrong" + simSK}, RequestsPerSecond: -1, MaxRetries: 8, Now: clock.Now})
	before := sim.Stats().Requests
	for i := 0; i < 3; i++ {
		_, err = bad.ShowRunningStatus(ctx, truth.Jobs[0].ID)
		if !codearts.IsAuth(err) {
			t.Fatalf("wrong SK: %v", err)
		}
	}
	if n := sim.Stats().Requests - before; n != 1 {
		t.Errorf("wrong SK: %d requests reached the simulator, want 1", n)
	}
	t.Logf("wrong SK: %v", err)
}
