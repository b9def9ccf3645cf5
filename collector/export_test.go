package collector

import (
	"fmt"
	"strconv"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// NewStatusBenchCollector returns a Collector (for tests outside the
// package) that follows n jobs whose published ledger entries are as full
// as the ledger lets them be: 8 actions with records and duration
// histograms, a full build history, a build in flight, failure counters and
// a newest failure with 8 evidence lines of 200 bytes. It makes no API call.
func NewStatusBenchCollector(n int) (*Collector, error) {
	var jobs []Job
	l := &ledger{}
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC).UnixMilli()
	for i := range n {
		j := Job{ID: fmt.Sprintf("%032x", i+1), Name: "team-" + strconv.Itoa(i%37) + "-service-" + strconv.Itoa(i)}
		jobs = append(jobs, j)
		jl := &jobLedger{JobID: j.ID, LastBuildNo: 1000 + int64(i), NextBuildNo: 1001 + int64(i), Bytes: 1 << 30}
		var stages []*stageProgress
		for a := range 8 {
			action := "action " + strconv.Itoa(a)
			for k := range 1000 {
				jl.addRecord(action, parser.Source(k%parser.NumSources), parser.Level(k%parser.NumLevels))
			}
			for _, r := range allResults {
				jl.observeAction(action, r, int64(a*1000+i))
			}
			stages = append(stages, &stageProgress{Key: "stage" + strconv.Itoa(a), NodeID: int64(a + 1), Display: action,
				Status: "RUNNING", Cursor: 5000, Records: 300, Pages: 3, Done: a < 4})
			benchAddFailure(jl, action, "test")
		}
		for _, r := range allResults {
			jl.observeBuild(r, int64(60000+i))
		}
		jl.Builds = []*buildProgress{{Number: jl.LastBuildNo, RecordID: "r", Status: "RUNNING", Stages: stages}}
		for b := range maxRecentBuilds {
			s := buildSummary{lastBuild: lastBuild{Number: jl.LastBuildNo - 1 - int64(b), Result: metrics.ResultFailure,
				FinishedMs: now - int64(b)*600000, DurationMs: 300000}, FailedAction: "action 3", Category: "test"}
			for a := range 8 {
				s.Actions = append(s.Actions, actionRun{Action: "action " + strconv.Itoa(a), Result: metrics.ResultSuccess, DurationMs: 30000, Records: 300})
			}
			jl.Recent = append(jl.Recent, s)
		}
		lb := jl.Recent[0].lastBuild
		jl.LastBuild = &lb
		f := &failureRecord{BuildNumber: lb.Number, Action: "action 3", Category: "test", Cause: "pytest: tests failed",
			ExitCode: "1", FinishedMs: lb.FinishedMs}
		for e := range 8 {
			f.Evidence = append(f.Evidence, evidenceLine{Line: int64(100 + e), Text: fmt.Sprintf("%0200d", e)})
		}
		jl.LastFailure = f
		l.set(j.Name, jl)
	}
	c, err := New(Options{api: &fakeAPI{}, Jobs: jobs})
	if err != nil {
		return nil, err
	}
	c.published.Store(l)
	return c, nil
}

// benchAddFailure counts one failure of action in j.
func benchAddFailure(j *jobLedger, action, category string) {
	if j.Failures == nil {
		j.Failures = map[string]map[string]uint64{}
	}
	if j.Failures[action] == nil {
		j.Failures[action] = map[string]uint64{}
	}
	j.Failures[action][category]++
}
