package collector

import (
	"context"
)

// api is what the collector needs from CodeArts, in the collector's own
// terms. clientAPI adapts *codearts.Client to it; tests may substitute
// another implementation through Options.api.
type api interface {
	// latestBuild returns ShowRunningStatus' last_build_no (0: no build yet).
	latestBuild(ctx context.Context, jobID string) (int64, error)
	// listJobs returns one page (0-based) of ListJob with page_size
	// listPageSize.
	listJobs(ctx context.Context, page int) (*jobList, error)
	// rate is the client's current request rate limit in calls per second
	// (+Inf or 0 when unknown), for catch-up estimates.
	rate() float64
	// buildRecord returns ShowJobBuildRecordDetail.
	buildRecord(ctx context.Context, jobID string, buildNo int64) (*buildRecord, error)
	// stages returns ShowBuildRecordFullStages for recordID.
	stages(ctx context.Context, recordID string) ([]stageInfo, error)
	// stepLog reads one page of a step log: ShowActionInfo when running,
	// ShowConsoleInfo otherwise.
	stepLog(ctx context.Context, running bool, q logQuery) (*logPage, error)
	// notFound reports whether err means the object does not exist
	// (HTTP 404 or an "invalid id" answer), as opposed to a transient error.
	notFound(err error) bool
	// refused reports whether the service answered err as a definite
	// refusal of this request (4xx or a "fail" envelope, but not throttling,
	// authentication or permission), so that trying the sibling log
	// operation makes sense (docs/api-reference.md §12 Q11).
	refused(err error) bool
	// errKey is a short, stable description of err for "log once per
	// change": it leaves out request ids and other per-call noise.
	errKey(err error) string
}

// listPageSize is ListJob's page_size: the largest the API accepts.
const listPageSize = 100

// jobList is one ListJob page.
type jobList struct {
	Total int64
	Jobs  []listedJob
}

// listedJob is what change detection needs of one ListJob entry.
type listedJob struct {
	ID, Name, ProjectID string
	BuildNo             int64 // build_number; 0 when "" (never built)
	Finished            bool  // is_finished
}

type buildRecord struct {
	ID, BuildRecordID string
	Status            string
	StartMs, FinishMs int64 // epoch ms, 0 = unset
	DurationMs        int64
}

type stageInfo struct {
	Name          string // execution_stage_name
	Display       string
	NodeID        int64
	HasNode       bool
	Sequence      int
	Status        string
	BuildRecordID string
}

type logQuery struct {
	JobID       string
	BuildNo     int64
	StepID      int64
	StartOffset int64
	EndOffset   int64 // 0: no bound
	// Into, when set, is the buffer the page's text may be decoded into
	// (codearts.LogQuery.Into): logPage.Log then shares it.
	Into *[]byte
}

type logPage struct {
	HasMore   bool
	EndOffset int64
	Log       []byte // may share logQuery.Into: valid until the next page is read
}
