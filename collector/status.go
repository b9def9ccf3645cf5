package collector

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// This file is the read-only view of the collector that the /status page
// shows. Every value comes from one published ledger snapshot plus the
// bookkeeping of polls and state writes; building it makes no API call and
// holds no lock that a poll or a scrape waits on for longer than a map copy.

// maxPollErrorBytes bounds the poll error text kept per job: a poll that
// fails for many builds joins many errors.
const maxPollErrorBytes = 2048

// JobStatus is what /status shows about one followed job.
type JobStatus struct {
	Job
	// LatestBuild is the newest build number CodeArts reported (0: none yet).
	LatestBuild int64
	// Recent are the newest fully ingested finished builds, newest first.
	// Recent[0], when present, is the newest one.
	Recent []BuildStatus
	// InFlight are the builds whose logs are being read, oldest first.
	InFlight []BuildProgress
	// LastFailure is the newest classified failed action run (nil: none
	// recorded).
	LastFailure *Failure
	// Failures are codearts_build_failures_total by action and category,
	// sorted by action, then category. Only JobStatus fills them.
	Failures []FailureCount
	// Records are the log record counts per action (codearts_build_log_records_total
	// summed over sources), sorted by action. Only JobStatus fills them.
	Records []ActionRecords
	// Poll is the outcome of the job's polls since the process started.
	Poll PollStatus
}

// BuildStatus is one finished build.
type BuildStatus struct {
	Number   int64
	Result   string // success, failure, aborted or unknown
	Finished time.Time
	Duration time.Duration
	// Actions are its action runs in stage order (empty for the newest
	// build of a ledger written before the history was kept). Only
	// JobStatus fills them.
	Actions []ActionRun
	// FailedAction is the first failed action run; Category its failure
	// category when the failure rules classified it.
	FailedAction, Category string
}

// ActionRun is one action run of a finished build.
type ActionRun struct {
	Action   string
	Result   string
	Duration time.Duration
	Records  int64
}

// BuildProgress is a build whose logs are being read.
type BuildProgress struct {
	Number int64
	Status string // the CodeArts build status ("" before the first answer)
	// StepsDone of Steps step logs were read to their end.
	Steps, StepsDone int
	// Pages and Records were read from its step logs so far.
	Pages, Records int64
	// Misses counts consecutive polls that answered "not found".
	Misses int
}

// Failure is a classified failed action run.
type Failure struct {
	BuildNumber int64
	Action      string
	Category    string
	Cause       string
	Code        string // the CodeArts error code (DEV.CB.…) when present
	ExitCode    string // when present
	Evidence    []EvidenceLine
	Finished    time.Time // zero: unknown
}

// EvidenceLine is a log line that shows why an action run failed.
type EvidenceLine struct {
	Line int64 // 1-based line number within the step's log
	Text string
}

// FailureCount is one codearts_build_failures_total series.
type FailureCount struct {
	Action, Category string
	Count            uint64
}

// ActionRecords are the log records counted for one action, by level
// (indexed by parser.Level).
type ActionRecords struct {
	Action  string
	ByLevel [parser.NumLevels]uint64
}

// PollStatus is the outcome of a job's polls since the process started.
type PollStatus struct {
	// LastSuccess is when a poll of the job last fully succeeded.
	LastSuccess time.Time
	// Error is the error of the last poll when it failed (empty when it
	// succeeded), as logged: API errors never carry credentials.
	Error string
	// FailingSince is when the polls started failing (zero when Error is empty).
	FailingSince time.Time
}

// StateFileStatus describes the state file writes since the process started.
type StateFileStatus struct {
	Path      string // empty: checkpointing is disabled
	Bytes     int64  // size of the file after the last successful write
	LastWrite time.Time
	Writes    uint64
	Errors    uint64
	// LastError and LastErrorAt describe the newest failed write.
	LastError   string
	LastErrorAt time.Time
}

// pollState is the bookkeeping behind PollStatus.
type pollState struct {
	lastOK, failingSince time.Time
	err                  string
}

// next returns the state after a poll that ended at now with err.
func (s pollState) next(now time.Time, err error) pollState {
	if err == nil {
		return pollState{lastOK: now}
	}
	if s.err == "" {
		s.failingSince = now
	}
	s.err = truncateUTF8(err.Error(), maxPollErrorBytes)
	return s
}

// truncateUTF8 cuts s to at most n bytes on a rune boundary, marking the cut.
func truncateUTF8(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// noteStateWrite records the outcome of one state file write (err nil: a
// success, after which the file holds size bytes). commit calls it under
// commitMu.
func (c *Collector) noteStateWrite(size int64, err error) {
	now := c.now()
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	if err != nil {
		c.state.Errors++
		c.state.LastError, c.state.LastErrorAt = truncateUTF8(err.Error(), maxPollErrorBytes), now
		return
	}
	c.state.Writes++
	c.state.Bytes, c.state.LastWrite = size, now
}

// StateFile describes the state file and its writes since the process started.
func (c *Collector) StateFile() StateFileStatus {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	s := c.state
	s.Path = c.stateFile
	return s
}

// JobStatuses returns every followed job's status for an overview (without
// Failures, Records and the builds' Actions), sorted by name, from one
// published ledger snapshot.
func (c *Collector) JobStatuses() []JobStatus {
	snap := c.published.Load()
	jobs := c.FollowedJobs()
	polls := c.pollStates()
	out := make([]JobStatus, len(jobs))
	for i, j := range jobs {
		out[i] = jobStatus(j, snap.job(j.Name), polls[j.Name], false)
	}
	slices.SortFunc(out, func(a, b JobStatus) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// JobStatus returns one followed job's status, Records included; false
// when no followed job has that name.
func (c *Collector) JobStatus(name string) (JobStatus, bool) {
	for _, j := range c.FollowedJobs() {
		if j.Name != name {
			continue
		}
		c.errMu.Lock()
		ps := c.polls[name]
		c.errMu.Unlock()
		return jobStatus(j, c.published.Load().job(name), ps, true), true
	}
	return JobStatus{}, false
}

func (c *Collector) pollStates() map[string]pollState {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return maps.Clone(c.polls)
}

// jobStatus builds the view of one job from its (immutable, published)
// ledger entry, which may be nil.
func jobStatus(j Job, jl *jobLedger, ps pollState, detail bool) JobStatus {
	s := JobStatus{Job: j, Poll: PollStatus{LastSuccess: ps.lastOK, Error: ps.err, FailingSince: ps.failingSince}}
	if jl == nil {
		return s
	}
	if detail {
		for a, byCat := range jl.Failures {
			for cat, n := range byCat {
				s.Failures = append(s.Failures, FailureCount{Action: a, Category: cat, Count: n})
			}
		}
		slices.SortFunc(s.Failures, func(a, b FailureCount) int {
			return cmp.Or(cmp.Compare(a.Action, b.Action), cmp.Compare(a.Category, b.Category))
		})
		for _, a := range sortedKeys(jl.Records) {
			ar := ActionRecords{Action: a}
			for src := range parser.NumSources {
				for l := range parser.NumLevels {
					ar.ByLevel[l] += jl.Records[a][src][l]
				}
			}
			s.Records = append(s.Records, ar)
		}
	}
	if jl.JobID != j.ID {
		// Progress belongs to another job id (the config changed it; the
		// next poll restarts it): only the counters above are this name's.
		return s
	}
	s.LatestBuild = jl.LastBuildNo
	for _, b := range jl.Recent {
		s.Recent = append(s.Recent, buildStatus(b, detail))
	}
	if lb := jl.LastBuild; lb != nil && (len(s.Recent) == 0 || s.Recent[0].Number < lb.Number) {
		// A ledger from before the history was kept knows only the newest.
		s.Recent = slices.Insert(s.Recent, 0, buildStatus(buildSummary{lastBuild: *lb}, false))
	}
	for _, b := range jl.Builds {
		bp := BuildProgress{Number: b.Number, Status: b.Status, Steps: len(b.Stages), Misses: b.Misses}
		for _, sp := range b.Stages {
			if sp.Done {
				bp.StepsDone++
			}
			bp.Pages += sp.Pages
			bp.Records += sp.Records
		}
		s.InFlight = append(s.InFlight, bp)
	}
	if f := jl.LastFailure; f != nil {
		lf := &Failure{BuildNumber: f.BuildNumber, Action: f.Action, Category: f.Category, Cause: f.Cause,
			Code: f.Code, ExitCode: f.ExitCode, Finished: msTime(f.FinishedMs)}
		for _, e := range f.Evidence {
			lf.Evidence = append(lf.Evidence, EvidenceLine(e))
		}
		s.LastFailure = lf
	}
	return s
}

func buildStatus(b buildSummary, actions bool) BuildStatus {
	bs := BuildStatus{Number: b.Number, Result: b.Result, Finished: msTime(b.FinishedMs),
		Duration: time.Duration(b.DurationMs) * time.Millisecond, FailedAction: b.FailedAction, Category: b.Category}
	if bs.Result == "" {
		bs.Result = metrics.ResultUnknown
	}
	if !actions {
		return bs
	}
	for _, a := range b.Actions {
		bs.Actions = append(bs.Actions, ActionRun{Action: a.Action, Result: a.Result,
			Duration: time.Duration(a.DurationMs) * time.Millisecond, Records: a.Records})
	}
	return bs
}

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
