package codearts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// ErrInvalidArgument is wrapped by the APIError of a call refused before
// sending because an argument is out of the documented range.
var ErrInvalidArgument = errors.New("invalid argument")

// validID reports whether id is n ASCII letters or digits (and '-' when
// dash), the form of job ids (32, no dash) and record ids (36, dashes). It is
// checked for every call, so it is a loop rather than a regular expression.
func validID(id string, n int, dash bool) bool {
	if len(id) != n {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || dash && c == '-') {
			return false
		}
	}
	return true
}

// queryTimeLayout is the yyyy-MM-dd HH:mm:ss of ListBuildInfoRecordByJobId.
const queryTimeLayout = "2006-01-02 15:04:05"

func (cl *call) invalid(format string, args ...any) *APIError {
	e := cl.errorf(format, args...)
	e.Err = ErrInvalidArgument
	return e
}

func (cl *call) checkJob() *APIError {
	if !validID(cl.jobID, 32, false) {
		return cl.invalid("invalid job id %q: want 32 letters or digits", truncate(cl.jobID, 64))
	}
	return nil
}

func (cl *call) checkBuild() *APIError {
	if cl.buildNo < 1 || cl.buildNo > 2147483647 {
		return cl.invalid("invalid build number %d: want 1…2147483647", cl.buildNo)
	}
	return nil
}

// ShowActionInfo reads a chunk of the log of one step of a running build
// (GET /v1/log/task/step with job_id, build_no, step_id, start_offset,
// end_offset and size=1000; sort is omitted, docs/api-reference.md §3.1, §3.3).
func (c *Client) ShowActionInfo(ctx context.Context, q LogQuery) (*LogChunk, error) {
	return c.stepLog(ctx, OpShowActionInfo, "/v1/log/task/step", q, true)
}

// ShowConsoleInfo reads a chunk of the log of one step of a finished build
// (GET /v1/log/task/page; the same parameters without size, docs/api-reference.md §3.2).
func (c *Client) ShowConsoleInfo(ctx context.Context, q LogQuery) (*LogChunk, error) {
	return c.stepLog(ctx, OpShowConsoleInfo, "/v1/log/task/page", q, false)
}

// stepLogQuery is canonicalQuery of a step log query, written in its
// sorted order directly: it is built for every page read.
func stepLogQuery(q LogQuery, size bool) string {
	b := make([]byte, 0, 96+3*len(q.JobID))
	b = append(b, "build_no="...)
	b = strconv.AppendInt(b, q.BuildNo, 10)
	b = append(b, "&end_offset="...)
	b = strconv.AppendInt(b, q.EndOffset, 10)
	b = append(b, "&job_id="...)
	b = appendEscape(b, q.JobID)
	if size {
		b = append(b, "&size=1000"...)
	}
	b = append(b, "&start_offset="...)
	b = strconv.AppendInt(b, q.StartOffset, 10)
	b = append(b, "&step_id="...)
	b = strconv.AppendInt(b, q.StepID, 10)
	return string(b)
}

func (c *Client) stepLog(ctx context.Context, op, path string, q LogQuery, size bool) (*LogChunk, error) {
	cl := c.newCallRaw(op, path, stepLogQuery(q, size))
	cl.jobID, cl.buildNo, cl.stepID, cl.hasStep = q.JobID, q.BuildNo, q.StepID, true
	if e := cl.checkJob(); e != nil {
		return nil, e
	}
	if e := cl.checkBuild(); e != nil {
		return nil, e
	}
	if q.StepID < 0 || q.StartOffset < 0 || q.EndOffset < 0 {
		return nil, cl.invalid("step id and offsets must be 0 or more (step %d, start %d, end %d)", q.StepID, q.StartOffset, q.EndOffset)
	}
	var (
		w    wireLog
		text []byte // the text in *q.Into, when set and the fast path decoded it
	)
	cl.fast = func(body []byte) (flexString, flexString, bool) {
		var (
			status, code flexString
			ok           bool
		)
		if q.Into != nil {
			status, code, w, text, ok = fastLogEnvelopeInto(body, *q.Into)
			if cap(text) > cap(*q.Into) {
				*q.Into = text[:0] // grown: kept for the next page
			}
		} else {
			status, code, w, ok = fastLogEnvelope(body) // also resets what an earlier attempt left
		}
		return status, code, ok
	}
	resp, err := c.get(ctx, cl, &w)
	if err != nil {
		return nil, err
	}
	defer resp.release() // w holds copies of what it needs
	ch := &LogChunk{HasMore: bool(w.HasMore), StartOffset: q.StartOffset, Log: string(w.Log), Location: string(w.Location)}
	if q.Into != nil {
		if !resp.fast { // the general path decoded a string: into the buffer too
			text = append((*q.Into)[:0], w.Log...)
			*q.Into = text[:0]
		}
		ch.Log, ch.Text = "", text
	}
	if w.StartOffset.Set {
		ch.StartOffset = w.StartOffset.V
	}
	switch {
	case w.EndOffset.Set:
		ch.EndOffset = w.EndOffset.V
	case ch.Log == "" && len(ch.Text) == 0:
		ch.EndOffset = ch.StartOffset
	default:
		return nil, c.decodeError(cl, resp, errors.New("log text without end_offset: cannot page past it"))
	}
	return ch, nil
}

// ShowRunningStatus tells whether a build of the job is running and the
// latest build number (GET /v1/job/{job_id}/running-status, docs/api-reference.md §5).
func (c *Client) ShowRunningStatus(ctx context.Context, jobID string) (*RunningStatus, error) {
	cl := c.newCall(OpShowRunningStatus, "/v1/job/"+jobID+"/running-status", nil)
	cl.jobID = jobID
	if e := cl.checkJob(); e != nil {
		return nil, e
	}
	var w wireRunning
	if _, err := c.get(ctx, cl, &w); err != nil {
		return nil, err
	}
	return &RunningStatus{LastJobID: string(w.LastJobID), LastBuildNo: w.LastBuildNo.V,
		LastBuildStatus: string(w.LastBuildStatus), IsRunning: bool(w.IsRunning)}, nil
}

// ShowJobBuildRecordDetail returns one build record
// (GET /v1/record/{job_id}/{build_no}/record-info, docs/api-reference.md §6).
func (c *Client) ShowJobBuildRecordDetail(ctx context.Context, jobID string, buildNo int64) (*BuildRecord, error) {
	cl := c.newCall(OpShowJobBuildRecordDetail, "/v1/record/"+jobID+"/"+strconv.FormatInt(buildNo, 10)+"/record-info", nil)
	cl.jobID, cl.buildNo = jobID, buildNo
	if e := cl.checkJob(); e != nil {
		return nil, e
	}
	if e := cl.checkBuild(); e != nil {
		return nil, e
	}
	var w wireRecord
	if _, err := c.get(ctx, cl, &w); err != nil {
		return nil, err
	}
	return w.toRecord(), nil
}

// ShowBuildRecordFullStages returns the stages of a build record, sorted by
// sequence, then initial < stage1 < stage2 < … < final
// (GET /v1/record/{record_id}/full-stages, cascade not sent, docs/api-reference.md §7).
// An empty or null build_stages gives an empty slice and no error: with the
// wrong one of the record's two ids the API may answer that way (§12 Q3).
func (c *Client) ShowBuildRecordFullStages(ctx context.Context, recordID string) ([]Stage, error) {
	cl := c.newCall(OpShowBuildRecordFullStages, "/v1/record/"+recordID+"/full-stages", nil)
	cl.recordID = recordID
	if !validID(recordID, 36, true) {
		return nil, cl.invalid("invalid record id %q: want 36 letters, digits or '-'", truncate(recordID, 64))
	}
	var w wireStages
	if _, err := c.get(ctx, cl, &w); err != nil {
		return nil, err
	}
	st := make([]Stage, 0, len(w.BuildStages))
	for k, s := range w.BuildStages {
		st = append(st, s.toStage(k))
	}
	sortStages(st)
	return st, nil
}

// ListBuildInfoRecordByJobId returns one page (0-based pageIndex, pageSize
// 1…100) of the job's builds that started between from and to
// (GET /v1/record/{job_id}/list, docs/api-reference.md §8.1). from and to are sent as
// "yyyy-MM-dd HH:mm:ss" in their own time.Location: the API does not say
// which zone it means (§12 Q7), so widen the window by a day on each side
// and filter on BuildInfo.StartTime.
func (c *Client) ListBuildInfoRecordByJobId(ctx context.Context, jobID string, from, to time.Time, pageIndex, pageSize int) (*BuildInfoPage, error) {
	v := url.Values{}
	v.Set("start_time", from.Format(queryTimeLayout))
	v.Set("end_time", to.Format(queryTimeLayout))
	v.Set("page_index", strconv.Itoa(pageIndex))
	v.Set("page_size", strconv.Itoa(pageSize))
	cl := c.newCall(OpListBuildInfoRecordByJobID, "/v1/record/"+jobID+"/list", v)
	cl.jobID = jobID
	if e := cl.checkJob(); e != nil {
		return nil, e
	}
	if pageIndex < 0 || pageSize < 1 || pageSize > 100 {
		return nil, cl.invalid("page index %d / size %d: want index ≥ 0 and size 1…100", pageIndex, pageSize)
	}
	if to.Before(from) {
		return nil, cl.invalid("time window ends (%s) before it starts (%s)", to.Format(queryTimeLayout), from.Format(queryTimeLayout))
	}
	var w wireBuildInfoPage
	if _, err := c.get(ctx, cl, &w); err != nil {
		return nil, err
	}
	p := &BuildInfoPage{PageIndex: w.PageIndex.V, TotalPage: w.TotalPage.V, TotalRecord: w.TotalRecord.V,
		HealthScore: string(w.HealthScore), Builds: make([]BuildInfo, 0, len(w.JobBuildStates))}
	for _, b := range w.JobBuildStates {
		p.Builds = append(p.Builds, BuildInfo{Number: b.Number.V, State: string(b.State),
			JobRunningStatus: string(b.JobRunningStatus), StartTime: b.StartTime.Time,
			BuildTimeMillis: b.BuildTime.V, CostTimeMillis: b.CostTime.V,
			DailyBuildNumber: string(b.DailyBuildNumber), TriggerType: string(b.TriggerType),
			BuildType: string(b.BuildType), CodeBranch: string(b.CodeBranch),
			CommitID: string(b.CommitID), Executor: string(b.Executor)})
	}
	return p, nil
}

// ListJob returns one page (0-based pageIndex, pageSize 1…100) of the jobs
// the caller can see (GET /v1/job/list, docs/api-reference.md §8.2). Jobs created
// during a walk can shift pages: dedupe by Job.ID.
func (c *Client) ListJob(ctx context.Context, pageIndex, pageSize int) (*JobPage, error) {
	v := url.Values{}
	v.Set("page_index", strconv.Itoa(pageIndex))
	v.Set("page_size", strconv.Itoa(pageSize))
	cl := c.newCall(OpListJob, "/v1/job/list", v)
	if pageIndex < 0 || pageIndex >= 1_000_000_000 || pageSize < 1 || pageSize > 100 {
		return nil, cl.invalid("page index %d / size %d: want index 0…999999999 and size 1…100", pageIndex, pageSize)
	}
	var w wireJobPage
	if _, err := c.get(ctx, cl, &w); err != nil {
		return nil, err
	}
	p := &JobPage{Total: w.Total.V, Jobs: make([]Job, 0, len(w.JobList))}
	for _, j := range w.JobList {
		p.Jobs = append(p.Jobs, Job{ID: string(j.ID), Name: string(j.JobName), BuildProjectID: string(j.BuildProjectID),
			ProjectID: string(j.ProjectID), ProjectName: string(j.ProjectName), LastBuildTime: j.LastBuildTime.Time,
			LastBuildStatus: string(j.LastBuildStatus), LastJobRunningStatus: string(j.LastJobRunningStatus),
			IsFinished: bool(j.IsFinished), BuildNumber: j.BuildNumber.V, TaskID: string(j.TaskID),
			BuildTimeMillis: j.BuildTime.V, Disabled: bool(j.Disabled), HealthScore: j.HealthScore.V})
	}
	return p, nil
}

// get performs cl and decodes the envelope's result into out (unless
// cl.fast already did).
func (c *Client) get(ctx context.Context, cl *call, out any) (*response, error) {
	resp, err := c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	if resp.fast {
		return resp, nil // cl.fast filled out
	}
	result := resp.result
	if !resp.decoded {
		var env struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(resp.body, &env); err != nil {
			return nil, c.decodeError(cl, resp, err)
		}
		result = env.Result
	}
	if r := bytes.TrimSpace(result); len(r) == 0 || string(r) == "null" {
		return nil, c.decodeError(cl, resp, errors.New("response has no result"))
	}
	if err := json.Unmarshal(result, out); err != nil {
		return nil, c.decodeError(cl, resp, err)
	}
	return resp, nil
}

func (c *Client) decodeError(cl *call, resp *response, err error) *APIError {
	e := cl.errorf("decode response: %s", c.redact(err.Error()))
	if hint := notAPIAnswer(resp.header, resp.body); hint != "" {
		e.Message = hint
	}
	e.HTTPStatus = resp.status
	e.RequestID = requestID(resp.header, "")
	e.Err = fmt.Errorf("%w: %w", errDecode, err)
	e.Attempts = resp.attempts
	return e
}
