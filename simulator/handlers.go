package simulator

import (
	"net/http"
	"sort"
	"strconv"
	"time"
)

// The JSON shapes below follow docs/api-reference.md's field tables (§5–§8) field by
// field, including the documented type oddities: numbers as digit strings
// (last_build_no, build_number, page_index, total_page, total_record), epoch
// milliseconds as numbers, nullable strings as null.

// lookupJob validates a job id from a request. It answers 400 CB.00060201
// for a malformed or unknown id and returns nil.
func (s *Server) lookupJob(w http.ResponseWriter, id string) *job {
	if !jobIDPattern.MatchString(id) {
		s.cbError(w, http.StatusBadRequest, "CB.00060201", "Invalid job ID: must be 32 lower-case letters and digits")
		return nil
	}
	j := s.jobByID[id]
	if j == nil {
		s.cbError(w, http.StatusBadRequest, "CB.00060201", "Invalid job ID: no such job")
		return nil
	}
	return j
}

// parseBuildNo validates a build number (1…2147483647).
func (s *Server) parseBuildNo(w http.ResponseWriter, v string) (int64, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > 2147483647 {
		s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: build_no must be an integer in 1..2147483647")
		return 0, false
	}
	return n, true
}

// findBuild returns build n of j as of now, or answers 400 CB.00060200
// ("build record not found": never started, or older than RetainBuilds).
func (s *Server) findBuild(w http.ResponseWriter, j *job, n, now int64) *build {
	s.mu.Lock()
	s.ensure(j, now)
	b := j.builds[n]
	s.mu.Unlock()
	if b == nil {
		s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: build record not found: job "+j.spec.ID+" build "+strconv.FormatInt(n, 10))
	}
	return b
}

// apiTime formats a unix-ms time the way the job's API answers carry times.
func (j *job) apiTime(ms int64) *string {
	var s string
	if j.spec.CompactAPITimes {
		s = time.UnixMilli(ms).In(beijing).Format("2006-01-02T15:04:05-0700")
	} else {
		s = time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000-07:00")
	}
	return &s
}

// apiTimeIf is apiTime when cond holds, else null.
func (j *job) apiTimeIf(cond bool, ms int64) *string {
	if !cond {
		return nil
	}
	return j.apiTime(ms)
}

// --- ShowRunningStatus ---------------------------------------------------------

type runningStatusJSON struct {
	LastJobID       string `json:"last_job_id"`
	LastBuildNo     string `json:"last_build_no"`
	LastBuildStatus string `json:"last_build_status"`
	IsRunning       bool   `json:"is_running"`
}

// handleRunningStatus: last_build_status is "InQueue" while the newest
// build runs (as in the documented example, with is_running true) and
// "Finished" otherwise.
func (s *Server) handleRunningStatus(w http.ResponseWriter, r *http.Request, now int64) {
	j := s.lookupJob(w, r.PathValue("job_id"))
	if j == nil {
		return
	}
	s.mu.Lock()
	s.ensure(j, now)
	b := j.latestBuild()
	s.mu.Unlock()
	res := runningStatusJSON{LastJobID: j.spec.ID, LastBuildNo: "0", LastBuildStatus: "Finished"}
	if b != nil {
		res.LastBuildNo = strconv.FormatInt(b.plan.number, 10)
		if now < b.plan.finish {
			res.LastBuildStatus = "InQueue"
			res.IsRunning = true
		}
	}
	success(w, res)
}

// --- ShowJobBuildRecordDetail --------------------------------------------------

type recordInfoJSON struct {
	ID               string  `json:"id"`
	BuildRecordID    string  `json:"build_record_id"`
	ParentRecordID   *string `json:"parent_record_id"`
	BuildProjectID   string  `json:"build_project_id"`
	CodeciJobID      string  `json:"codeci_job_id"`
	DevcloudProject  string  `json:"devcloud_project_id"`
	DomainID         string  `json:"domain_id"`
	UserID           string  `json:"user_id"`
	BuildNo          int64   `json:"build_no"`
	DailyBuildNum    string  `json:"daily_build_num"`
	ExecutionID      string  `json:"execution_id"`
	RepoName         string  `json:"repo_name"`
	RepoID           string  `json:"repo_id"`
	Branch           *string `json:"branch"`
	Tag              *string `json:"tag"`
	Commit           string  `json:"commit"`
	CommitMessage    string  `json:"commit_message"`
	CommitCreateTime *string `json:"commit_create_time"`
	TriggerType      string  `json:"trigger_type"`
	BuildType        string  `json:"build_type"`
	BuildConfigType  string  `json:"build_config_type"`
	Status           string  `json:"status"`
	RecordStatus     *string `json:"record_status"`
	CreateTime       *string `json:"create_time"`
	ScheduleTime     *string `json:"schedule_time"`
	QueuedTime       *string `json:"queued_time"`
	RunnableTime     *string `json:"runnable_time"`
	StartTime        *string `json:"start_time"`
	FinishTime       *string `json:"finish_time"`
	Duration         int64   `json:"duration"`
	UsePrivateSlave  int     `json:"use_private_slave"`
	Region           string  `json:"region"`
	ErrMsg           *string `json:"err_msg"`
}

// handleRecordInfo answers like the documented example, which has no
// `error` key at all.
func (s *Server) handleRecordInfo(w http.ResponseWriter, r *http.Request, now int64) {
	j := s.lookupJob(w, r.PathValue("job_id"))
	if j == nil {
		return
	}
	n, ok := s.parseBuildNo(w, r.PathValue("build_no"))
	if !ok {
		return
	}
	b := s.findBuild(w, j, n, now)
	if b == nil {
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Result recordInfoJSON `json:"result"`
		Status string         `json:"status"`
	}{b.recordInfo(now), "success"})
}

func (b *build) recordInfo(now int64) recordInfoJSON {
	j, p := b.job, b.plan
	done := now >= p.finish
	branch := b.branch
	res := recordInfoJSON{
		ID: b.recordID, BuildRecordID: b.buildRecordID, BuildProjectID: j.buildProjectID,
		CodeciJobID: j.spec.ID, DevcloudProject: j.devcloudProjectID, DomainID: j.domainID, UserID: j.userID,
		BuildNo: p.number, DailyBuildNum: b.dailyNum, ExecutionID: b.execID,
		RepoName: j.spec.Name, RepoID: j.repoID, Branch: &branch, Commit: b.commit, CommitMessage: b.commitMsg,
		CommitCreateTime: j.apiTime(p.create - 600_000),
		TriggerType:      "MANUAL", BuildType: "branch", BuildConfigType: b.configType,
		Status:     p.statusAt(now),
		CreateTime: j.apiTime(p.create), ScheduleTime: j.apiTime(p.create + 1000), QueuedTime: j.apiTime(p.create + 1000),
		RunnableTime: j.apiTime(p.start), StartTime: j.apiTime(p.start), FinishTime: j.apiTimeIf(done, p.finish),
		Region: "cn-north-4",
	}
	if done {
		res.Duration = p.finish - p.start
		switch p.outcome {
		case StatusFailed:
			m := "DEV.CB.0210043: step " + p.stages[p.badStage].display + " failed"
			res.ErrMsg = &m
		case StatusAborted:
			m := "build aborted by ci-bot"
			res.ErrMsg = &m
		}
	}
	return res
}

// --- ShowBuildRecordFullStages -------------------------------------------------

type stageJSON struct {
	ID              string  `json:"id"`
	BuildRecordID   string  `json:"build_record_id"`
	ExecutionID     string  `json:"execution_id"`
	ExecutionStage  string  `json:"execution_stage_name"`
	DisplayName     string  `json:"display_name"`
	NodeID          *int64  `json:"node_id"`
	Sequence        int     `json:"sequence"`
	Status          string  `json:"status"`
	StatusCode      int     `json:"status_code"`
	LogStatus       *string `json:"log_status"`
	CreateTime      *string `json:"create_time"`
	ScheduleTime    *string `json:"schedule_time"`
	QueuedTime      *string `json:"queued_time"`
	StartTime       *string `json:"start_time"`
	FinishTime      *string `json:"finish_time"`
	Duration        int64   `json:"duration"`
	BuildDuration   int64   `json:"build_duration"`
	PendingDuration int64   `json:"pending_duration"`
}

// handleFullStages accepts either id or build_record_id of record-info as
// record_id (the reference's open question Q3); the stages' build_record_id
// is always record-info's id.
func (s *Server) handleFullStages(w http.ResponseWriter, r *http.Request, now int64) {
	id := r.PathValue("record_id")
	if !recordIDPattern.MatchString(id) {
		s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: record_id must be 36 characters [0-9a-z-]")
		return
	}
	s.mu.Lock()
	for _, j := range s.jobs {
		s.ensure(j, now)
	}
	b := s.byRecordID[id]
	s.mu.Unlock()
	if b == nil {
		s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: build record not found: "+id)
		return
	}
	stages := map[string]stageJSON{}
	for _, st := range b.stages {
		stages[st.plan.name] = b.stageJSON(st, now)
	}
	success(w, struct {
		BuildStages map[string]stageJSON `json:"build_stages"`
		CheckStages *string              `json:"check_stages"`
	}{stages, nil})
}

func (b *build) stageJSON(st *stage, now int64) stageJSON {
	j, sp := b.job, st.plan
	res := stageJSON{
		ID: st.id, BuildRecordID: b.recordID, ExecutionID: b.execID, ExecutionStage: sp.name,
		DisplayName: sp.display, Sequence: sp.seq, CreateTime: j.apiTime(b.plan.create),
	}
	if sp.nodeID != 0 {
		id := sp.nodeID
		res.NodeID = &id
	}
	res.Status = sp.statusAt(now)
	res.StatusCode = statusCode(res.Status)
	if !sp.skipped {
		res.ScheduleTime = j.apiTimeIf(now >= sp.queued, sp.queued)
		res.QueuedTime = res.ScheduleTime
		res.StartTime = j.apiTimeIf(now >= sp.start, sp.start)
		res.FinishTime = j.apiTimeIf(now >= sp.finish, sp.finish)
		if now >= sp.start {
			res.PendingDuration = sp.start - sp.queued
		}
		if now >= sp.finish {
			res.BuildDuration = sp.finish - sp.start
			res.Duration = res.BuildDuration + res.PendingDuration
		}
	}
	return res
}

// --- ListBuildInfoRecordByJobId ------------------------------------------------

type buildInfoJSON struct {
	Number           int64          `json:"number"`
	State            string         `json:"state"`
	JobRunningStatus string         `json:"job_running_status"`
	StartTime        int64          `json:"start_time"`
	BuildTime        int64          `json:"build_time"`
	CostTime         int64          `json:"cost_time"`
	DailyBuildNumber string         `json:"daily_build_number"`
	TriggerType      string         `json:"trigger_type"`
	BuildType        string         `json:"build_type"`
	CodeBranch       string         `json:"code_branch"`
	CommitID         string         `json:"commit_id"`
	CommitInfo       commitInfoJSON `json:"commit_info"`
	CommitDetailURL  string         `json:"commit_detail_url"`
	ScmType          string         `json:"scm_type"`
	ScmWebURL        string         `json:"scm_web_url"`
	Executor         string         `json:"executor"`
	Nickname         string         `json:"nickname"`
	UserID           string         `json:"user_id"`
}

type commitInfoJSON struct {
	CommitID  string  `json:"commit_id"`
	CreatedAt *string `json:"created_at"`
}

// queryTimeLayout is the documented yyyy-MM-dd HH:mm:ss of start_time and
// end_time; the simulator reads them in UTC+08:00 (the reference leaves the
// zone open, §12 Q7).
const queryTimeLayout = "2006-01-02 15:04:05"

// handleRecordList lists the retained builds whose start time lies in
// [start_time, end_time], newest first.
func (s *Server) handleRecordList(w http.ResponseWriter, r *http.Request, now int64) {
	j := s.lookupJob(w, r.PathValue("job_id"))
	if j == nil {
		return
	}
	q := r.URL.Query()
	from, err1 := time.ParseInLocation(queryTimeLayout, q.Get("start_time"), beijing)
	to, err2 := time.ParseInLocation(queryTimeLayout, q.Get("end_time"), beijing)
	if err1 != nil || err2 != nil {
		s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: start_time and end_time are required as yyyy-MM-dd HH:mm:ss")
		return
	}
	page, size, ok := s.paging(w, q.Get("page_index"), q.Get("page_size"))
	if !ok {
		return
	}
	s.mu.Lock()
	s.ensure(j, now)
	var builds []*build
	for _, b := range j.builds {
		if b.plan.start >= from.UnixMilli() && b.plan.start <= to.UnixMilli()+999 {
			builds = append(builds, b)
		}
	}
	s.mu.Unlock()
	sort.Slice(builds, func(a, c int) bool { return builds[a].plan.number > builds[c].plan.number })
	total := len(builds)
	lo, hi := min(page*size, total), min(page*size+size, total)
	list := make([]buildInfoJSON, 0, hi-lo)
	finished, ok2 := 0, 0
	for _, b := range builds {
		if now >= b.plan.finish {
			finished++
			if b.plan.outcome == StatusSuccess {
				ok2++
			}
		}
	}
	for _, b := range builds[lo:hi] {
		list = append(list, b.buildInfo(now))
	}
	health := 100
	if finished > 0 {
		health = 100 * ok2 / finished
	}
	success(w, struct {
		HealthScore    string          `json:"health_score"`
		PageIndex      string          `json:"page_index"`
		TotalPage      string          `json:"total_page"`
		TotalRecord    string          `json:"total_record"`
		JobBuildStates []buildInfoJSON `json:"job_build_states"`
	}{strconv.Itoa(health), strconv.Itoa(page), strconv.Itoa((total + size - 1) / size), strconv.Itoa(total), list})
}

func (b *build) buildInfo(now int64) buildInfoJSON {
	j, p := b.job, b.plan
	res := buildInfoJSON{
		Number: p.number, State: p.statusAt(now), JobRunningStatus: "Running", StartTime: p.start,
		DailyBuildNumber: b.dailyNum, TriggerType: "Manual", BuildType: "branch", CodeBranch: b.branch,
		CommitID: b.commit, CommitInfo: commitInfoJSON{b.commit, j.apiTime(p.create - 600_000)},
		CommitDetailURL: "https://codehub.example.com/codehub/" + j.repoID + "/" + b.commit + "/commitdetail",
		ScmType:         "codehub", ScmWebURL: "https://codehub.example.com/codehub/" + j.repoID + "/home",
		Executor: "ci-bot", Nickname: "CI Bot", UserID: j.userID,
	}
	if now >= p.finish {
		res.JobRunningStatus = "Finished"
		res.BuildTime = p.finish - p.start
		res.CostTime = res.BuildTime
	}
	return res
}

// paging validates page_index (>= 0, default 0) and page_size (1..100,
// default 10; 0 means the default).
func (s *Server) paging(w http.ResponseWriter, index, size string) (int, int, bool) {
	page, n := 0, 10
	var err error
	if index != "" {
		if page, err = strconv.Atoi(index); err != nil || page < 0 || page >= 1_000_000_000 {
			s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: page_index")
			return 0, 0, false
		}
	}
	if size != "" {
		if n, err = strconv.Atoi(size); err != nil || n < 0 || n > 100 {
			s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: page_size must be 1..100")
			return 0, 0, false
		}
		if n == 0 {
			n = 10
		}
	}
	return page, n, true
}

// --- ListJob -------------------------------------------------------------------

type jobJSON struct {
	ID                      string `json:"id"`
	JobName                 string `json:"job_name"`
	BuildProjectID          string `json:"build_project_id"`
	ProjectID               string `json:"project_id"`
	ProjectName             string `json:"project_name"`
	JobCreator              string `json:"job_creator"`
	UserID                  string `json:"user_id"`
	UserName                string `json:"user_name"`
	NickName                string `json:"nick_name"`
	LastBuildTime           int64  `json:"last_build_time"`
	LastBuildStatus         string `json:"last_build_status"`
	LastJobRunningStatus    string `json:"last_job_running_status"`
	LastBuildUser           string `json:"last_build_user"`
	LastBuildUserID         string `json:"last_build_user_id"`
	IsFinished              bool   `json:"is_finished"`
	BuildNumber             any    `json:"build_number"` // a digit string, "" or (some jobs) a number
	TaskID                  string `json:"task_id"`
	BuildTime               int64  `json:"build_time"`
	BuildType               string `json:"build_type"`
	CodeBranch              string `json:"code_branch"`
	CommitID                string `json:"commit_id"`
	CommitDetailURL         string `json:"commit_detail_url"`
	Tag                     string `json:"tag"`
	RepoID                  string `json:"repo_id"`
	ScmType                 string `json:"scm_type"`
	ScmWebURL               string `json:"scm_web_url"`
	SourceCode              string `json:"source_code"`
	TriggerType             string `json:"trigger_type"`
	HealthScore             int    `json:"health_score"`
	Disabled                bool   `json:"disabled"`
	Favorite                bool   `json:"favorite"`
	ForbiddenMsg            string `json:"forbidden_msg"`
	IsCopy                  bool   `json:"is_copy"`
	IsDelete                bool   `json:"is_delete"`
	IsExecute               bool   `json:"is_execute"`
	IsForbidden             bool   `json:"is_forbidden"`
	IsModify                bool   `json:"is_modify"`
	IsView                  bool   `json:"is_view"`
	ProjectPermissionSwitch bool   `json:"project_permission_switch"`
}

// handleListJob lists the listed jobs in configuration order (see
// Server.SetListed). Like the reference's schema, the answer has no `error`
// field. It needs no logs: only the newest build's plan is computed, so a
// world of many idle jobs is listed cheaply.
func (s *Server) handleListJob(w http.ResponseWriter, r *http.Request, now int64) {
	q := r.URL.Query()
	page, size, ok := s.paging(w, q.Get("page_index"), q.Get("page_size"))
	if !ok {
		return
	}
	s.mu.Lock()
	listed := make([]*job, 0, len(s.jobs))
	for _, j := range s.jobs {
		if !j.unlisted {
			listed = append(listed, j)
		}
	}
	total := len(listed)
	lo, hi := min(page*size, total), min(page*size+size, total)
	list := make([]jobJSON, 0, hi-lo)
	for _, j := range listed[lo:hi] {
		list = append(list, j.jobJSON(s.listedBuild(j, now), now))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
		Result struct {
			Total   int       `json:"total"`
			JobList []jobJSON `json:"job_list"`
		} `json:"result"`
	}{Status: "success", Result: struct {
		Total   int       `json:"total"`
		JobList []jobJSON `json:"job_list"`
	}{total, list}})
}

// listedBuild is what ListJob shows of the job's newest build: the
// generated build when it is held, else its plan alone. Called with
// Server.mu held.
func (s *Server) listedBuild(j *job, now int64) listed {
	n := j.latestAt(now)
	if n == 0 {
		return listed{}
	}
	if b := j.builds[n]; b != nil {
		return listed{plan: b.plan, b: b}
	}
	if j.listPlan == nil || j.listPlan.number != n {
		j.listPlan = j.planBuild(n)
	}
	return listed{plan: j.listPlan}
}

// listed is the newest build as ListJob shows it; b is nil when its logs
// were never generated (then commit and branch are not shown).
type listed struct {
	plan *plan
	b    *build
}

func (j *job) jobJSON(l listed, now int64) jobJSON {
	res := jobJSON{
		ID: j.spec.ID, JobName: j.spec.Name, BuildProjectID: j.buildProjectID, ProjectID: j.devcloudProjectID,
		ProjectName: j.spec.ProjectName, JobCreator: j.userID, UserID: j.userID, UserName: "ci-bot", NickName: "CI Bot",
		LastBuildStatus: "notbuilt", LastJobRunningStatus: "Finished", LastBuildUser: "ci-bot", LastBuildUserID: j.userID,
		IsFinished: true, BuildNumber: "", BuildType: "branch", RepoID: j.repoID, ScmType: "codehub",
		ScmWebURL: "https://codehub.example.com/codehub/" + j.repoID + "/home", SourceCode: "codeci",
		TriggerType: "Manual", HealthScore: 100, IsCopy: true, IsDelete: true, IsExecute: true, IsModify: true, IsView: true,
	}
	p := l.plan
	if p == nil {
		return res // never built: build_number "" (docs/api-reference.md §8.2)
	}
	res.LastBuildTime = p.start
	res.BuildNumber = strconv.FormatInt(p.number, 10)
	if j.idHash%4 == 3 {
		res.BuildNumber = p.number // the APIE example's number form
	}
	res.TaskID = "#" + j.dailyNum(p)
	if l.b != nil {
		res.CodeBranch = l.b.branch
		res.CommitID = l.b.commit
	}
	if now < p.finish {
		res.IsFinished = false
		res.LastJobRunningStatus = "Running"
		res.LastBuildStatus = "blue_anime"
		return res
	}
	res.BuildTime = p.finish - p.start
	switch p.outcome {
	case StatusSuccess:
		res.LastBuildStatus = "blue"
	case StatusFailed:
		res.LastBuildStatus = "red"
	default:
		res.LastBuildStatus = "aborted"
	}
	return res
}
