package simulator

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
)

// TestTheExportersClientReadsEverything drives the simulator with the
// exporter's own client (AK/SK, retries through injected 500s) and checks
// every decoded value against Truth.
func TestTheExportersClientReadsEverything(t *testing.T) {
	f := newFixture(t, Options{Seed: 31, AccessKey: testAK, SecretKey: testSK, ProjectID: testProject,
		ChunkMin: 200, ChunkMax: 3000,
		Faults: Faults{Rate: 0.2, Kinds: []FaultKind{FaultThrottle500, FaultInternal500}}})
	c, err := codearts.New(codearts.Options{
		Endpoint: f.srv.URL, ProjectID: testProject,
		Auth:              codearts.Auth{AccessKey: testAK, SecretKey: testSK},
		RequestsPerSecond: -1, MaxRetries: 8, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		Now: f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tr := f.advanceUntil(t, 5*time.Second, 10*time.Minute, func(tr Truth) bool {
		b := tr.Job(testJobZH).Build(2)
		return b != nil && b.Stages[2].Status == StatusRunning
	})
	jt := tr.Job(testJobZH)

	rs, err := c.ShowRunningStatus(ctx, testJobZH)
	if err != nil {
		t.Fatal(err)
	}
	if rs.LastBuildNo != 2 || !rs.IsRunning || rs.LastJobID != testJobZH {
		t.Errorf("running status %+v", rs)
	}
	jobs, err := c.ListJob(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if jobs.Total != 2 || len(jobs.Jobs) != 2 || jobs.Jobs[0].ID != testJobZH || jobs.Jobs[0].BuildNumber != 2 || jobs.Jobs[0].IsFinished {
		t.Errorf("ListJob %+v", jobs)
	}
	// The simulator reads the window in UTC+08:00 (docs/api-reference.md §12 Q7).
	page, err := c.ListBuildInfoRecordByJobId(ctx, testJobZH, t0.Add(-time.Hour).In(beijing), t0.Add(time.Hour).In(beijing), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if page.TotalRecord != 2 || len(page.Builds) != 2 || page.Builds[0].Number != 2 || !page.Builds[1].StartTime.Equal(jt.Build(1).StartTime) {
		t.Errorf("build list %+v", page)
	}

	for _, bt := range jt.Builds {
		rec, err := c.ShowJobBuildRecordDetail(ctx, testJobZH, bt.Number)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != bt.Status || !rec.StartTime.Equal(bt.StartTime) || !rec.FinishTime.Equal(bt.FinishTime) ||
			rec.DurationMillis != bt.DurationMillis || rec.ID != bt.RecordID {
			t.Errorf("build %d: record %+v, truth %+v", bt.Number, rec, bt)
		}
		stages, err := c.ShowBuildRecordFullStages(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(stages) != len(bt.Stages) {
			t.Fatalf("build %d: %d stages, truth %d", bt.Number, len(stages), len(bt.Stages))
		}
		for i, s := range stages {
			st := bt.Stages[i]
			if s.Name != st.Name || s.DisplayName != st.DisplayName || s.Status != st.Status || (s.NodeID == nil) != (st.NodeID == 0) {
				t.Errorf("build %d stage %d: %+v, truth %+v", bt.Number, i, s, st)
			}
			if s.NodeID == nil {
				continue
			}
			// Page the step log with the client, the way the collector does.
			var sb strings.Builder
			q := codearts.LogQuery{JobID: testJobZH, BuildNo: bt.Number, StepID: *s.NodeID}
			read := c.ShowActionInfo
			if st.Finished {
				read = c.ShowConsoleInfo
			}
			for n := 0; ; n++ {
				if n > 10000 {
					t.Fatal("paging does not end")
				}
				chunk, err := read(ctx, q)
				if err != nil {
					t.Fatalf("build %d step %d: %v", bt.Number, *s.NodeID, err)
				}
				sb.WriteString(chunk.Log)
				q.StartOffset = chunk.EndOffset
				if !chunk.HasMore {
					break
				}
			}
			if sb.String() != st.Log {
				t.Errorf("build %d %s: read %d bytes through the client, truth %d", bt.Number, st.Name, sb.Len(), st.Bytes)
			}
		}
	}
	if f.sim.Stats().Faults[FaultInternal500]+f.sim.Stats().Faults[FaultThrottle500] == 0 {
		t.Error("no faults were injected")
	}
}
