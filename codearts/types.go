package codearts

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// LogQuery selects a chunk of one step's log (ShowActionInfo, ShowConsoleInfo).
// Offsets are opaque cursors: StartOffset is the EndOffset of the previous
// chunk (0 for the first); EndOffset 0 means "no bound" (docs/api-reference.md §12 Q5).
type LogQuery struct {
	JobID       string
	BuildNo     int64
	StepID      int64
	StartOffset int64
	EndOffset   int64
	// Into, when set, is the caller's buffer for the page's text: the text
	// is decoded into *Into (grown when needed) and LogChunk.Text refers to
	// it, while LogChunk.Log stays empty. A caller that reads page after
	// page into one buffer spares an allocation the size of each page,
	// cleared and then written cold (docs/performance.md, "Log text in the
	// caller's buffer").
	Into *[]byte
}

// LogChunk is one page of a step log. The next page starts at EndOffset.
// When the API omits an offset, StartOffset falls back to the requested one
// and, for an empty Log, EndOffset to StartOffset (no progress); a non-empty
// Log without end_offset is an error, as it cannot be paged past safely.
type LogChunk struct {
	HasMore     bool
	StartOffset int64
	EndOffset   int64
	Log         string // the text, unless LogQuery.Into was set
	Text        []byte // the text in *LogQuery.Into, when it was set
	Location    string
}

// RunningStatus is the answer of ShowRunningStatus.
type RunningStatus struct {
	LastJobID       string
	LastBuildNo     int64  // 0 when the API sent none
	LastBuildStatus string // documented values: Finished, InQueue; others may appear
	IsRunning       bool
}

// BuildRecord is one build (ShowJobBuildRecordDetail). ID and BuildRecordID
// are both kept because which of them ShowBuildRecordFullStages wants is
// undocumented (docs/api-reference.md §12 Q3): try ID first, then BuildRecordID.
// Zero times are "unset"; durations are milliseconds as reported.
type BuildRecord struct {
	ID              string
	BuildRecordID   string
	ParentRecordID  string
	BuildProjectID  string
	JobID           string // codeci_job_id
	BuildNo         int64
	DailyBuildNum   string
	ExecutionID     string
	RepoName        string
	Branch          string
	Tag             string
	Commit          string
	TriggerType     string
	BuildType       string
	BuildConfigType string
	Status          string
	RecordStatus    string
	CreateTime      time.Time
	QueuedTime      time.Time
	StartTime       time.Time
	FinishTime      time.Time
	DurationMillis  int64
	ErrMsg          string
}

// Stage is one entry of ShowBuildRecordFullStages' build_stages.
// Name is execution_stage_name (initial, stageN, final); NodeID is nil when
// the API sent null (docs/api-reference.md §7, §12 Q2).
type Stage struct {
	ID                    string
	BuildRecordID         string
	ExecutionID           string
	Name                  string
	DisplayName           string
	NodeID                *int64
	Sequence              int
	Status                string
	StatusCode            int64
	CreateTime            time.Time
	QueuedTime            time.Time
	StartTime             time.Time
	FinishTime            time.Time
	DurationMillis        int64
	BuildDurationMillis   int64
	PendingDurationMillis int64
}

// BuildInfoPage is one page of ListBuildInfoRecordByJobId. The totals are
// as reported (the reference warns total_page is not trustworthy).
type BuildInfoPage struct {
	PageIndex   int64
	TotalPage   int64
	TotalRecord int64
	HealthScore string
	Builds      []BuildInfo
}

// BuildInfo is one build in a BuildInfoPage.
type BuildInfo struct {
	Number           int64
	State            string
	JobRunningStatus string
	StartTime        time.Time // from epoch milliseconds
	BuildTimeMillis  int64
	CostTimeMillis   int64
	DailyBuildNumber string
	TriggerType      string
	BuildType        string
	CodeBranch       string
	CommitID         string
	Executor         string
}

// JobPage is one page of ListJob.
type JobPage struct {
	Total int64
	Jobs  []Job
}

// Job is one entry of ListJob's job_list.
type Job struct {
	ID                   string
	Name                 string // job_name
	BuildProjectID       string
	ProjectID            string // CodeArts project, not the IAM project
	ProjectName          string
	LastBuildTime        time.Time
	LastBuildStatus      string // Jenkins-style: blue, aborted, …
	LastJobRunningStatus string
	IsFinished           bool
	BuildNumber          int64
	TaskID               string
	BuildTimeMillis      int64
	Disabled             bool
	HealthScore          int64
}

// Wire forms: lenient, unknown fields ignored by encoding/json.

type wireLog struct {
	HasMore     FlexBool   `json:"has_more"`
	StartOffset FlexInt64  `json:"start_offset"`
	EndOffset   FlexInt64  `json:"end_offset"`
	Log         flexString `json:"log"`
	Location    flexString `json:"location"`
}

type wireRunning struct {
	LastJobID       flexString `json:"last_job_id"`
	LastBuildNo     FlexInt64  `json:"last_build_no"`
	LastBuildStatus flexString `json:"last_build_status"`
	IsRunning       FlexBool   `json:"is_running"`
}

type wireRecord struct {
	ID              flexString `json:"id"`
	BuildRecordID   flexString `json:"build_record_id"`
	ParentRecordID  flexString `json:"parent_record_id"`
	BuildProjectID  flexString `json:"build_project_id"`
	CodeciJobID     flexString `json:"codeci_job_id"`
	BuildNo         FlexInt64  `json:"build_no"`
	DailyBuildNum   flexString `json:"daily_build_num"`
	ExecutionID     flexString `json:"execution_id"`
	RepoName        flexString `json:"repo_name"`
	Branch          flexString `json:"branch"`
	Tag             flexString `json:"tag"`
	Commit          flexString `json:"commit"`
	TriggerType     flexString `json:"trigger_type"`
	BuildType       flexString `json:"build_type"`
	BuildConfigType flexString `json:"build_config_type"`
	Status          flexString `json:"status"`
	RecordStatus    flexString `json:"record_status"`
	CreateTime      Time       `json:"create_time"`
	QueuedTime      Time       `json:"queued_time"`
	StartTime       Time       `json:"start_time"`
	FinishTime      Time       `json:"finish_time"`
	Duration        FlexInt64  `json:"duration"`
	ErrMsg          flexString `json:"err_msg"`
}

type wireStages struct {
	BuildStages map[string]wireStage `json:"build_stages"`
}

type wireStage struct {
	ID              flexString `json:"id"`
	BuildRecordID   flexString `json:"build_record_id"`
	ExecutionID     flexString `json:"execution_id"`
	Name            flexString `json:"execution_stage_name"`
	DisplayName     flexString `json:"display_name"`
	NodeID          FlexInt64  `json:"node_id"`
	Sequence        FlexInt64  `json:"sequence"`
	Status          flexString `json:"status"`
	StatusCode      FlexInt64  `json:"status_code"`
	CreateTime      Time       `json:"create_time"`
	QueuedTime      Time       `json:"queued_time"`
	StartTime       Time       `json:"start_time"`
	FinishTime      Time       `json:"finish_time"`
	Duration        FlexInt64  `json:"duration"`
	BuildDuration   FlexInt64  `json:"build_duration"`
	PendingDuration FlexInt64  `json:"pending_duration"`
}

type wireBuildInfoPage struct {
	HealthScore    flexString      `json:"health_score"`
	PageIndex      FlexInt64       `json:"page_index"`
	TotalPage      FlexInt64       `json:"total_page"`
	TotalRecord    FlexInt64       `json:"total_record"`
	JobBuildStates []wireBuildInfo `json:"job_build_states"`
}

type wireBuildInfo struct {
	Number           FlexInt64  `json:"number"`
	State            flexString `json:"state"`
	JobRunningStatus flexString `json:"job_running_status"`
	StartTime        Time       `json:"start_time"`
	BuildTime        FlexInt64  `json:"build_time"`
	CostTime         FlexInt64  `json:"cost_time"`
	DailyBuildNumber flexString `json:"daily_build_number"`
	TriggerType      flexString `json:"trigger_type"`
	BuildType        flexString `json:"build_type"`
	CodeBranch       flexString `json:"code_branch"`
	CommitID         flexString `json:"commit_id"`
	Executor         flexString `json:"executor"`
}

type wireJobPage struct {
	Total   FlexInt64 `json:"total"`
	JobList []wireJob `json:"job_list"`
}

type wireJob struct {
	ID                   flexString `json:"id"`
	JobName              flexString `json:"job_name"`
	BuildProjectID       flexString `json:"build_project_id"`
	ProjectID            flexString `json:"project_id"`
	ProjectName          flexString `json:"project_name"`
	LastBuildTime        Time       `json:"last_build_time"`
	LastBuildStatus      flexString `json:"last_build_status"`
	LastJobRunningStatus flexString `json:"last_job_running_status"`
	IsFinished           FlexBool   `json:"is_finished"`
	BuildNumber          FlexInt64  `json:"build_number"`
	TaskID               flexString `json:"task_id"`
	BuildTime            FlexInt64  `json:"build_time"`
	Disabled             FlexBool   `json:"disabled"`
	HealthScore          FlexInt64  `json:"health_score"`
}

func (w *wireRecord) toRecord() *BuildRecord {
	return &BuildRecord{
		ID: string(w.ID), BuildRecordID: string(w.BuildRecordID), ParentRecordID: string(w.ParentRecordID),
		BuildProjectID: string(w.BuildProjectID), JobID: string(w.CodeciJobID), BuildNo: w.BuildNo.V,
		DailyBuildNum: string(w.DailyBuildNum), ExecutionID: string(w.ExecutionID), RepoName: string(w.RepoName),
		Branch: string(w.Branch), Tag: string(w.Tag), Commit: string(w.Commit), TriggerType: string(w.TriggerType),
		BuildType: string(w.BuildType), BuildConfigType: string(w.BuildConfigType), Status: string(w.Status),
		RecordStatus: string(w.RecordStatus), CreateTime: w.CreateTime.Time, QueuedTime: w.QueuedTime.Time,
		StartTime: w.StartTime.Time, FinishTime: w.FinishTime.Time, DurationMillis: w.Duration.V, ErrMsg: string(w.ErrMsg),
	}
}

func (w *wireStage) toStage(key string) Stage {
	s := Stage{
		ID: string(w.ID), BuildRecordID: string(w.BuildRecordID), ExecutionID: string(w.ExecutionID),
		Name: string(w.Name), DisplayName: string(w.DisplayName), Sequence: int(w.Sequence.V),
		Status: string(w.Status), StatusCode: w.StatusCode.V, CreateTime: w.CreateTime.Time,
		QueuedTime: w.QueuedTime.Time, StartTime: w.StartTime.Time, FinishTime: w.FinishTime.Time,
		DurationMillis: w.Duration.V, BuildDurationMillis: w.BuildDuration.V, PendingDurationMillis: w.PendingDuration.V,
	}
	if s.Name == "" {
		s.Name = key
	}
	if w.NodeID.Set {
		v := w.NodeID.V
		s.NodeID = &v
	}
	return s
}

// sortStages orders stages by Sequence, then by stage-name rank (initial,
// stage1, stage2, … stage10, …, final, then other names), then by name, so
// the order never depends on JSON key order (docs/api-reference.md §7).
func sortStages(st []Stage) {
	sort.SliceStable(st, func(i, j int) bool {
		a, b := st[i], st[j]
		if a.Sequence != b.Sequence {
			return a.Sequence < b.Sequence
		}
		ra, rb := stageRank(a.Name), stageRank(b.Name)
		if ra != rb {
			return ra < rb
		}
		return a.Name < b.Name
	})
}

func stageRank(name string) int64 {
	switch {
	case name == "initial":
		return -1
	case name == "final":
		return 1 << 62
	case strings.HasPrefix(name, "stage"):
		if n, err := strconv.ParseInt(name[len("stage"):], 10, 64); err == nil && n >= 0 && n < 1<<61 {
			return n
		}
	}
	return 1<<62 + 1
}
