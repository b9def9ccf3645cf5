package collector

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

// TestStatusViewMatchesSimulator: the /status view of a collector that read
// every build of the simulator says what the simulator did: the newest
// build number, the newest maxRecentBuilds builds with their results and
// action runs, the failed action of failed builds; builds in flight show
// pages read while they are read; the history survives a restart.
func TestStatusViewMatchesSimulator(t *testing.T) {
	e := newEnv(t, envOpts{seed: 7, jobs: testJobs(maxRecentBuilds + 2)})
	state := tempState(t)
	o := e.options(state)
	o.BackfillBuilds = 100
	c, reg := newCollector(t, o)

	sawPages := false
	ctx := pollCtx(t)
	for i := 0; ; i++ {
		require.Less(t, i, 400, "not done")
		err := c.PollOnce(ctx)
		for _, js := range c.JobStatuses() {
			for _, b := range js.InFlight {
				require.LessOrEqual(t, b.StepsDone, b.Steps)
				sawPages = sawPages || b.Pages > 0
			}
		}
		cur, _ := scrape(t, reg, "codearts_")
		if err == nil && inFlight(cur) == 0 && e.allDone() {
			break
		}
		e.clock.Advance(2 * time.Second)
	}
	require.True(t, sawPages, "builds in flight show the pages read")

	tr := e.sim.Truth()
	check := func(c *Collector) {
		t.Helper()
		all := c.JobStatuses()
		require.Len(t, all, len(tr.Jobs))
		require.True(t, slices.IsSortedFunc(all, func(a, b JobStatus) int { return strings.Compare(a.Name, b.Name) }))
		for _, jt := range tr.Jobs {
			js, ok := c.JobStatus(jt.Name)
			require.True(t, ok, jt.Name)
			require.Equal(t, jt.ID, js.ID)
			require.Equal(t, "config", js.Source)
			require.Equal(t, jt.LastBuildNo, js.LatestBuild, jt.Name)
			require.Empty(t, js.InFlight, jt.Name)
			require.Len(t, js.Recent, maxRecentBuilds, "%s: the history is bounded", jt.Name)
			for i, b := range js.Recent {
				bt := jt.Builds[len(jt.Builds)-1-i]
				require.Equal(t, bt.Number, b.Number, "%s: newest first", jt.Name)
				require.Equal(t, metrics.ResultFromStatus(bt.Status), b.Result, "%s #%d", jt.Name, b.Number)
				require.Equal(t, bt.FinishTime.UnixMilli(), b.Finished.UnixMilli(), "%s #%d", jt.Name, b.Number)
				var want []string
				failed := ""
				for _, st := range bt.Stages {
					if st.NodeID == 0 || st.Skipped || st.Log == "" {
						continue
					}
					want = append(want, st.DisplayName+"="+metrics.ResultFromStatus(st.Status))
					if st.Status == "FAILED" && failed == "" {
						failed = st.DisplayName
					}
				}
				var got []string
				for _, a := range b.Actions {
					got = append(got, a.Action+"="+a.Result)
					require.Positive(t, a.Records)
				}
				require.Equal(t, want, got, "%s #%d: action runs", jt.Name, b.Number)
				require.Equal(t, failed, b.FailedAction, "%s #%d", jt.Name, b.Number)
			}
			require.NotEmpty(t, js.Records, "%s: record counts per action", jt.Name)
			require.Empty(t, js.Poll.Error)
			require.False(t, js.Poll.LastSuccess.IsZero())
		}
	}
	check(c)

	sf := c.StateFile()
	fi, err := os.Stat(state)
	require.NoError(t, err)
	require.Equal(t, state, sf.Path)
	require.Equal(t, fi.Size(), sf.Bytes, "the size after the last write")
	require.Positive(t, sf.Writes)
	require.Zero(t, sf.Errors)

	// A restart from the state file shows the same history.
	c2, _ := newCollector(t, e.options(state))
	require.NoError(t, c2.PollOnce(pollCtx(t)))
	check(c2)
}

// TestStatusShowsPollErrors: a job whose polls fail is marked with its
// error and since when, until a poll succeeds again.
func TestStatusShowsPollErrors(t *testing.T) {
	e := newEnv(t, envOpts{seed: 1, jobs: testJobs(1)})
	o := e.options("")
	ghost := Job{ID: simulator.DemoJobID("ghost"), Name: "ghost"}
	o.Jobs = append(o.Jobs, ghost)
	c, _ := newCollector(t, o)
	start := e.clock.Now()
	require.Error(t, c.PollOnce(pollCtx(t)))
	e.clock.Advance(time.Minute)
	require.Error(t, c.PollOnce(pollCtx(t)))
	js, ok := c.JobStatus("ghost")
	require.True(t, ok)
	require.Contains(t, js.Poll.Error, "ShowRunningStatus")
	require.Equal(t, start, js.Poll.FailingSince, "failing since the first failed poll")
	require.True(t, js.Poll.LastSuccess.IsZero())
	other, _ := c.JobStatus(e.specs[0].Name)
	require.Empty(t, other.Poll.Error, "one job's failure is not another's")

	// The job id is fixed in the config: the next poll succeeds.
	o.Jobs[len(o.Jobs)-1] = Job{ID: e.specs[0].ID, Name: "ghost"}
	require.NoError(t, c.Update(o))
	require.NoError(t, c.PollOnce(pollCtx(t)))
	js, _ = c.JobStatus("ghost")
	require.Empty(t, js.Poll.Error)
	require.Equal(t, e.clock.Now(), js.Poll.LastSuccess)
	_, ok = c.JobStatus("nobody")
	require.False(t, ok)
}

// TestStatusShowsStateWriteErrors: a failed state file write is counted
// with its error.
func TestStatusShowsStateWriteErrors(t *testing.T) {
	e := newEnv(t, envOpts{seed: 1, jobs: testJobs(1)})
	dir := t.TempDir()
	state := dir + "/sub/state.json" // the directory does not exist
	c, _ := newCollector(t, e.options(state))
	require.Error(t, c.PollOnce(context.Background()))
	sf := c.StateFile()
	require.Positive(t, sf.Errors)
	require.Zero(t, sf.Writes)
	require.Contains(t, sf.LastError, state)
	require.Equal(t, e.clock.Now(), sf.LastErrorAt)
}

func TestTruncateUTF8(t *testing.T) {
	require.Equal(t, "abc", truncateUTF8("abc", 3))
	require.Equal(t, "ab…", truncateUTF8("abc", 2))
	require.Equal(t, "a…", truncateUTF8("a日本", 3), "never inside a rune")
	require.Equal(t, "a\uFFFDb", truncateUTF8("a\xffb", 10))
}
