package collector

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
)

// clientAPI adapts *codearts.Client to the collector's api.
type clientAPI struct{ c *codearts.Client }

func (a clientAPI) latestBuild(ctx context.Context, jobID string) (int64, error) {
	rs, err := a.c.ShowRunningStatus(ctx, jobID)
	if err != nil {
		return 0, err
	}
	return rs.LastBuildNo, nil
}

func (a clientAPI) listJobs(ctx context.Context, page int) (*jobList, error) {
	p, err := a.c.ListJob(ctx, page, listPageSize)
	if err != nil {
		return nil, err
	}
	l := &jobList{Total: p.Total, Jobs: make([]listedJob, len(p.Jobs))}
	for i, j := range p.Jobs {
		l.Jobs[i] = listedJob{ID: j.ID, Name: labelValue(j.Name), ProjectID: j.ProjectID, BuildNo: j.BuildNumber, Finished: j.IsFinished}
	}
	return l, nil
}

func (a clientAPI) rate() float64 { return a.c.Status().CurrentRate }

func (a clientAPI) buildRecord(ctx context.Context, jobID string, buildNo int64) (*buildRecord, error) {
	r, err := a.c.ShowJobBuildRecordDetail(ctx, jobID, buildNo)
	if err != nil {
		return nil, err
	}
	br := &buildRecord{ID: r.ID, BuildRecordID: r.BuildRecordID, Status: r.Status, DurationMs: r.DurationMillis}
	if !r.StartTime.IsZero() {
		br.StartMs = r.StartTime.UnixMilli()
	}
	if !r.FinishTime.IsZero() {
		br.FinishMs = r.FinishTime.UnixMilli()
	}
	return br, nil
}

func (a clientAPI) stages(ctx context.Context, recordID string) ([]stageInfo, error) {
	st, err := a.c.ShowBuildRecordFullStages(ctx, recordID)
	if err != nil {
		return nil, err
	}
	out := make([]stageInfo, 0, len(st))
	for _, s := range st {
		si := stageInfo{Name: s.Name, Display: s.DisplayName, Sequence: s.Sequence, Status: s.Status, BuildRecordID: s.BuildRecordID}
		if s.NodeID != nil {
			si.HasNode, si.NodeID = true, *s.NodeID
		}
		out = append(out, si)
	}
	return out, nil
}

func (a clientAPI) stepLog(ctx context.Context, running bool, q logQuery) (*logPage, error) {
	lq := codearts.LogQuery{JobID: q.JobID, BuildNo: q.BuildNo, StepID: q.StepID, StartOffset: q.StartOffset, EndOffset: q.EndOffset, Into: q.Into}
	var (
		ch  *codearts.LogChunk
		err error
	)
	if running {
		ch, err = a.c.ShowActionInfo(ctx, lq)
	} else {
		ch, err = a.c.ShowConsoleInfo(ctx, lq)
	}
	if err != nil {
		return nil, err
	}
	text := ch.Text
	if q.Into == nil {
		text = []byte(ch.Log)
	}
	return &logPage{HasMore: ch.HasMore, EndOffset: ch.EndOffset, Log: text}, nil
}

// notFound: HTTP 404 and the "invalid id" answers (docs/api-reference.md §9.2, §12 Q3).
func (clientAPI) notFound(err error) bool {
	return codearts.IsNotFound(err) || codearts.IsInvalidParam(err)
}

func (clientAPI) refused(err error) bool {
	var e *codearts.APIError
	if !errors.As(err, &e) || e.HTTPStatus == 0 || e.HTTPStatus >= 500 {
		return false
	}
	return !e.Throttled() && !e.Auth() && e.HTTPStatus != http.StatusForbidden
}

func (clientAPI) errKey(err error) string { return errKey(err) }

// errKey describes err by the operations, HTTP statuses and codes of the
// API errors it contains, without request ids, offsets or attempt counts,
// so that the same failure repeated is logged once. Errors without an
// APIError are described by their text.
func errKey(err error) string {
	var keys []string
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		var ae *codearts.APIError
		if x, ok := e.(*codearts.APIError); ok {
			ae = x
		}
		if ae != nil {
			k := ae.Op + " " + strconv.Itoa(ae.HTTPStatus) + " " + ae.Code
			if ae.HTTPStatus == 0 && ae.Code == "" {
				k += " " + ae.Message
			}
			keys = append(keys, k)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		default:
			keys = append(keys, e.Error())
		}
	}
	walk(err)
	if len(keys) == 0 {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	return strings.Join(keys, "; ")
}
