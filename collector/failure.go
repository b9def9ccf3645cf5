package collector

import (
	"maps"
	"slices"

	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// Failure insight in the ledger (docs/failure-rules.md): the failures
// counter and each job's newest failure.

// causeUnclassified is the cause of a failed stage whose log was partly
// read while the service reported the stage finished with another result,
// so that its records were not all classified (poll.go classifies).
const causeUnclassified = "the step log was read while the step was reported finished without failure"

// failureRecord is a job's newest classified failure, for /status and logs.
// Its size is bounded: at most parser.MaxEvidence evidence lines of at most
// parser.MaxEvidenceText bytes each.
type failureRecord struct {
	BuildNumber int64          `json:"build_number"`
	Action      string         `json:"action"`
	Category    string         `json:"category"`
	Cause       string         `json:"cause"`
	Code        string         `json:"code,omitempty"`      // DEV.CB.xxxx when present
	ExitCode    string         `json:"exit_code,omitempty"` // when present
	Evidence    []evidenceLine `json:"evidence,omitempty"`  // at most 8, each at most 512 bytes
	FinishedMs  int64          `json:"finished_ms,omitempty"`
}

type evidenceLine struct {
	Line int64  `json:"line"` // 1-based line number within the step's log
	Text string `json:"text"`
}

func (f *failureRecord) clone() *failureRecord {
	if f == nil {
		return nil
	}
	c := *f
	c.Evidence = slices.Clone(f.Evidence)
	return &c
}

// cloneFailures deep-copies the failures counter.
func cloneFailures(m map[string]map[string]uint64) map[string]map[string]uint64 {
	if m == nil {
		return nil
	}
	c := make(map[string]map[string]uint64, len(m))
	for a, byCat := range m {
		c[a] = maps.Clone(byCat)
	}
	return c
}

// addFailure counts one failed action run of build and keeps it as the
// job's newest failure unless a newer build's failure is already kept.
func (j *jobLedger) addFailure(build int64, action string, f parser.Failure, finishedMs int64) {
	if j.Failures == nil {
		j.Failures = make(map[string]map[string]uint64)
	}
	m := j.Failures[action]
	if m == nil {
		m = make(map[string]uint64)
		j.Failures[action] = m
	}
	m[f.Category]++
	if lf := j.LastFailure; lf != nil && lf.BuildNumber > build {
		return
	}
	rec := &failureRecord{BuildNumber: build, Action: action, Category: f.Category, Cause: f.Cause,
		Code: f.Code, ExitCode: f.ExitCode, FinishedMs: finishedMs}
	for _, e := range f.Evidence[:min(len(f.Evidence), parser.MaxEvidence)] {
		rec.Evidence = append(rec.Evidence, evidenceLine{Line: e.Line, Text: e.Text})
	}
	j.LastFailure = rec
}
