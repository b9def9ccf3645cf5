// Package metrics holds the names, help texts, label names and histogram
// buckets of the metric families fixed by README.md, Metrics, so that the
// live collector and the offline `analyze --format=openmetrics` emit the very
// same families.
package metrics

import "strings"

// Fixed metric family names (README.md, Metrics).
const (
	LogRecordsTotal        = "codearts_build_log_records_total"
	LogBytesTotal          = "codearts_build_log_bytes_total"
	ActionDurationSeconds  = "codearts_build_action_duration_seconds"
	BuildDurationSeconds   = "codearts_build_duration_seconds"
	FailuresTotal          = "codearts_build_failures_total"
	LastBuildNumber        = "codearts_build_last_build_number"
	JobInfo                = "codearts_build_job_info"
	APIRequestsTotal       = "codearts_exporter_api_requests_total"
	LastPollSuccessSeconds = "codearts_exporter_last_poll_success_timestamp_seconds"
)

// Help texts of the fixed families.
const (
	LogRecordsHelp     = "Log records read from CodeArts build step logs, each counted exactly once."
	LogBytesHelp       = "UTF-8 bytes of build log text returned by the CodeArts API, each counted exactly once."
	ActionDurationHelp = "Duration of finished action (step) runs: last record timestamp minus first record timestamp."
	BuildDurationHelp  = "Duration of finished builds, from the build record's start and finish times."
	FailuresHelp       = "Finished action runs whose result is failure, by the category the failure rules gave them."
	LastBuildHelp      = "Newest build number seen for the job."
	JobInfoHelp        = "Maps job_name to the CodeArts job id; always 1."
	APIRequestsHelp    = "CodeArts API calls by operation and HTTP status code (or \"error\" when no response arrived)."
	LastPollHelp       = "Unix time at the end of the last poll of the job that fully succeeded."
)

// Label names.
const (
	LabelJobName  = "job_name"
	LabelJobID    = "job_id"
	LabelAction   = "action"
	LabelSource   = "source"
	LabelLevel    = "level"
	LabelResult   = "result"
	LabelCategory = "category"
	LabelAPI      = "api"
	LabelCode     = "code"
)

// Result label values (README.md, Metrics).
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
	ResultAborted = "aborted"
	ResultUnknown = "unknown"
)

// ActionDurationBuckets spans a one-second checkout to a two-hour test stage.
var ActionDurationBuckets = []float64{1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200}

// BuildDurationBuckets spans a thirty-second build to a four-hour one.
var BuildDurationBuckets = []float64{30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400}

// ResultFromStatus maps a CodeArts stage or build status to the result label
// (README.md, Metrics). Matching ignores case.
func ResultFromStatus(status string) string {
	switch strings.ToUpper(status) {
	case "SUCCESS":
		return ResultSuccess
	case "FAILED", "FAILURE", "ERROR", "TIMEOUT":
		return ResultFailure
	case "ABORTED", "CANCELED":
		return ResultAborted
	default:
		return ResultUnknown
	}
}

// IsFinished reports whether a stage or build status is terminal
// (README.md, Metrics): RUNNING, PENDING, QUEUED, InQueue and unknown
// values are not.
func IsFinished(status string) bool {
	switch strings.ToUpper(status) {
	case "SUCCESS", "FAILED", "FAILURE", "ERROR", "TIMEOUT", "ABORTED", "CANCELED":
		return true
	}
	return false
}
