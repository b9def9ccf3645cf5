package simulator

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Field names and JSON types from docs/api-reference.md's tables (§3, §5–§8).
var (
	runningStatusFields = map[string]string{
		"last_job_id": "string", "last_build_no": "digits", "last_build_status": "string", "is_running": "bool",
	}
	recordInfoFields = map[string]string{
		"id": "string", "build_record_id": "string", "parent_record_id": "null|string", "build_project_id": "string",
		"codeci_job_id": "string", "devcloud_project_id": "string", "domain_id": "string", "user_id": "string",
		"build_no": "number", "daily_build_num": "string", "execution_id": "string", "repo_name": "string",
		"repo_id": "string", "branch": "string|null", "tag": "string|null", "commit": "string|null",
		"commit_message": "string", "commit_create_time": "string", "trigger_type": "string", "build_type": "string",
		"build_config_type": "string", "status": "string", "record_status": "string|null", "create_time": "string",
		"schedule_time": "string", "queued_time": "string", "runnable_time": "string", "start_time": "string",
		"finish_time": "string|null", "duration": "number", "use_private_slave": "number", "region": "string",
		"err_msg": "string|null",
	}
	stageFields = map[string]string{
		"id": "string", "build_record_id": "string", "execution_id": "string", "execution_stage_name": "string",
		"display_name": "string", "node_id": "number|null", "sequence": "number", "status": "string",
		"status_code": "number", "log_status": "string|null", "create_time": "string", "schedule_time": "string|null",
		"queued_time": "string|null", "start_time": "string|null", "finish_time": "string|null",
		"duration": "number", "build_duration": "number", "pending_duration": "number",
	}
	logFields = map[string]string{
		"has_more": "bool", "start_offset": "number|digits", "end_offset": "number|digits", "log": "string", "location": "string",
	}
	buildInfoFields = map[string]string{
		"number": "number", "state": "string", "job_running_status": "string", "start_time": "number",
		"build_time": "number", "cost_time": "number", "daily_build_number": "string", "trigger_type": "string",
		"build_type": "string", "code_branch": "string", "commit_id": "string", "commit_info": "object",
		"commit_detail_url": "string", "scm_type": "string", "scm_web_url": "string", "executor": "string",
		"nickname": "string", "user_id": "string",
	}
	jobFields = map[string]string{
		"id": "string", "job_name": "string", "build_project_id": "string", "project_id": "string", "project_name": "string",
		"job_creator": "string", "user_id": "string", "user_name": "string", "nick_name": "string",
		"last_build_time": "number", "last_build_status": "string", "last_job_running_status": "string",
		"last_build_user": "string", "last_build_user_id": "string", "is_finished": "bool", "build_number": "digits|number",
		"task_id": "string", "build_time": "number", "build_type": "string", "code_branch": "string",
		"commit_id": "string", "commit_detail_url": "string", "tag": "string", "repo_id": "string",
		"scm_type": "string", "scm_web_url": "string", "source_code": "string", "trigger_type": "string",
		"health_score": "number", "disabled": "bool", "favorite": "bool", "forbidden_msg": "string",
		"is_copy": "bool", "is_delete": "bool", "is_execute": "bool", "is_forbidden": "bool", "is_modify": "bool",
		"is_view": "bool", "project_permission_switch": "bool",
	}
)

// checkEnvelope checks status "success" and, when wantError, an `error`
// key that is null.
func checkEnvelope(t *testing.T, op string, r reply, wantError bool) {
	t.Helper()
	if r.status != http.StatusOK || r.body["status"] != "success" {
		t.Fatalf("%s: %d %s", op, r.status, r.raw)
	}
	if got := r.header.Get("Content-Type"); got != "application/json;charset=UTF-8" {
		t.Errorf("%s: Content-Type %q", op, got)
	}
	if len(r.header.Get("X-Request-Id")) != 32 {
		t.Errorf("%s: X-Request-Id %q", op, r.header.Get("X-Request-Id"))
	}
	e, has := r.body["error"]
	if wantError && (!has || e != nil) {
		t.Errorf("%s: want \"error\": null, got %#v (present %v)", op, e, has)
	}
	if !wantError && has {
		t.Errorf("%s: the documented answer has no error key, got %#v", op, e)
	}
}

func TestOperationsServeDocumentedShapes(t *testing.T) {
	f := newFixture(t, Options{Seed: 3, EmptyPageRate: -1})
	// Into the middle of build 1 of the Chinese job: some stages done, one running.
	tr := f.advanceUntil(t, time.Second, 2*time.Minute, func(tr Truth) bool {
		b := tr.Job(testJobZH).Build(1)
		return b != nil && b.Stages[1].Finished && !b.Finished
	})
	zh := tr.Job(testJobZH)

	r := f.get(t, "/v1/job/"+testJobZH+"/running-status", nil)
	checkEnvelope(t, "ShowRunningStatus", r, true)
	res := r.result(t)
	checkTypes(t, "running-status", res, runningStatusFields)
	if res["last_build_no"] != strconv.FormatInt(zh.LastBuildNo, 10) || res["is_running"] != true || res["last_job_id"] != testJobZH {
		t.Errorf("running-status %s, truth last build %d running", r.raw, zh.LastBuildNo)
	}

	r = f.get(t, "/v1/record/"+testJobZH+"/1/record-info", nil)
	checkEnvelope(t, "ShowJobBuildRecordDetail", r, false)
	rec := r.result(t)
	checkTypes(t, "record-info", rec, recordInfoFields)
	if rec["status"] != StatusRunning || rec["finish_time"] != nil || rec["build_no"] != 1.0 {
		t.Errorf("running build record: %s", r.raw)
	}
	if len(rec["id"].(string)) != 36 || len(rec["build_record_id"].(string)) != 36 {
		t.Errorf("record ids are not 36 characters: %s", r.raw)
	}

	for _, id := range []string{rec["id"].(string), rec["build_record_id"].(string)} {
		r = f.get(t, "/v1/record/"+id+"/full-stages", nil)
		checkEnvelope(t, "ShowBuildRecordFullStages", r, true)
		res = r.result(t)
		checkTypes(t, "full-stages", res, map[string]string{"build_stages": "object", "check_stages": "null"})
		stages := res["build_stages"].(map[string]any)
		want := []string{"initial", "stage1", "stage2", "stage3", "stage4", "final"}
		if len(stages) != len(want) {
			t.Fatalf("stages %v, want %v", keys(stages), want)
		}
		for i, name := range want {
			st, ok := stages[name].(map[string]any)
			if !ok {
				t.Fatalf("stage %s missing: %v", name, keys(stages))
			}
			checkTypes(t, "stage "+name, st, stageFields)
			if st["sequence"] != float64(i) || st["execution_stage_name"] != name || st["build_record_id"] != rec["id"] {
				t.Errorf("stage %s: sequence %v name %v record %v", name, st["sequence"], st["execution_stage_name"], st["build_record_id"])
			}
			ts := zh.Build(1).Stages[i]
			if st["display_name"] != ts.DisplayName || st["status"] != ts.Status {
				t.Errorf("stage %s: %v/%v, truth %s/%s", name, st["display_name"], st["status"], ts.DisplayName, ts.Status)
			}
			if (st["node_id"] == nil) != (ts.NodeID == 0) {
				t.Errorf("stage %s: node_id %v, truth %d", name, st["node_id"], ts.NodeID)
			}
		}
		if stages["stage4"].(map[string]any)["node_id"] != nil {
			t.Errorf("the NoLog stage has node_id %v", stages["stage4"].(map[string]any)["node_id"])
		}
	}

	step := zh.Build(1).Stages[1].NodeID
	for _, op := range []string{"/v1/log/task/step", "/v1/log/task/page"} {
		r = f.get(t, op, logQuery(testJobZH, 1, step, 0, 0))
		checkEnvelope(t, op, r, true)
		checkTypes(t, op, r.result(t), logFields)
		if r.result(t)["location"] != "jenkins" {
			t.Errorf("%s: location %v", op, r.result(t)["location"])
		}
	}

	q := url.Values{"start_time": {"2026-03-01 00:00:00"}, "end_time": {"2026-03-02 23:59:59"}, "page_index": {"0"}, "page_size": {"100"}}
	r = f.get(t, "/v1/record/"+testJobZH+"/list", q)
	checkEnvelope(t, "ListBuildInfoRecordByJobId", r, true)
	res = r.result(t)
	checkTypes(t, "record list", res, map[string]string{"health_score": "string", "page_index": "digits",
		"total_page": "digits", "total_record": "digits", "job_build_states": "array"})
	states := res["job_build_states"].([]any)
	if len(states) != len(zh.Builds) || res["total_record"] != strconv.Itoa(len(zh.Builds)) {
		t.Fatalf("record list has %d builds, truth %d: %s", len(states), len(zh.Builds), r.raw)
	}
	for _, s := range states {
		m := s.(map[string]any)
		checkTypes(t, "build info", m, buildInfoFields)
		checkTypes(t, "commit_info", m["commit_info"].(map[string]any), map[string]string{"commit_id": "string", "created_at": "string"})
	}

	r = f.get(t, "/v1/job/list", url.Values{"page_index": {"0"}, "page_size": {"100"}})
	checkEnvelope(t, "ListJob", r, false)
	res = r.result(t)
	checkTypes(t, "job list", res, map[string]string{"total": "number", "job_list": "array"})
	jobs := res["job_list"].([]any)
	if res["total"] != 2.0 || len(jobs) != 2 {
		t.Fatalf("ListJob: %s", r.raw)
	}
	for i, j := range jobs {
		m := j.(map[string]any)
		checkTypes(t, "job", m, jobFields)
		if m["id"] != tr.Jobs[i].ID || m["job_name"] != tr.Jobs[i].Name || fmt.Sprint(m["build_number"]) != strconv.FormatInt(tr.Jobs[i].LastBuildNo, 10) {
			t.Errorf("job %d: %v %v %v, truth %+v", i, m["id"], m["job_name"], m["build_number"], tr.Jobs[i].Name)
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestAPITimesInBothDocumentedForms(t *testing.T) {
	f := newFixture(t, Options{Seed: 3})
	f.clock.Advance(30 * time.Second)
	zh := f.get(t, "/v1/record/"+testJobZH+"/1/record-info", nil).result(t)
	if st, err := time.Parse(time.RFC3339, zh["start_time"].(string)); err != nil || len(zh["start_time"].(string)) != len("2022-10-11T08:28:42.000+00:00") {
		t.Errorf("start_time %q: want the ….000+00:00 form (%v)", zh["start_time"], err)
	} else if tr := f.sim.Truth().Job(testJobZH).Build(1); !st.Equal(tr.StartTime) {
		t.Errorf("start_time %v, truth %v", st, tr.StartTime)
	}
	en := f.get(t, "/v1/record/"+testJobEN+"/1/record-info", nil).result(t)
	if _, err := time.Parse("2006-01-02T15:04:05Z0700", en["start_time"].(string)); err != nil {
		t.Errorf("CompactAPITimes start_time %q: %v", en["start_time"], err)
	}
}

func TestErrorAnswers(t *testing.T) {
	f := newFixture(t, Options{Seed: 3})
	f.clock.Advance(20 * time.Second)
	tr := f.sim.Truth()
	step := tr.Job(testJobZH).Build(1).Stages[0].NodeID

	cases := []struct {
		name   string
		path   string
		q      url.Values
		status int
		code   string
	}{
		{"malformed job id", "/v1/job/NOT-A-JOB/running-status", nil, 400, "CB.00060201"},
		{"unknown job id", "/v1/job/" + "00000000000000000000000000000000" + "/running-status", nil, 400, "CB.00060201"},
		{"unknown path", "/v1/job/" + testJobZH + "/nothing", nil, 404, "APIG.0101"},
		{"trailing slash", "/v1/job/list/", nil, 404, "APIG.0101"},
		{"build not started", "/v1/record/" + testJobZH + "/7/record-info", nil, 400, "CB.00060200"},
		{"build number zero", "/v1/record/" + testJobZH + "/0/record-info", nil, 400, "CB.00060200"},
		{"unknown record", "/v1/record/00000000-0000-4000-a000-000000000000/full-stages", nil, 400, "CB.00060200"},
		{"bad record id", "/v1/record/short/full-stages", nil, 400, "CB.00060200"},
		{"log of unknown step", "/v1/log/task/step", logQuery(testJobZH, 1, 99999, 0, 0), 400, "CB.00060200"},
		{"log offset computed by the client", "/v1/log/task/step", logQuery(testJobZH, 1, step, 17, 0), 400, "CB.00060200"},
		{"log without size", "/v1/log/task/step", url.Values{"job_id": {testJobZH}, "build_no": {"1"}, "step_id": {strconv.FormatInt(step, 10)}, "start_offset": {"0"}, "end_offset": {"0"}}, 400, "CB.00060200"},
		{"log without offsets", "/v1/log/task/page", url.Values{"job_id": {testJobZH}, "build_no": {"1"}, "step_id": {strconv.FormatInt(step, 10)}}, 400, "CB.00060200"},
		{"log of bad job", "/v1/log/task/page", logQuery("x", 1, step, 0, 0), 400, "CB.00060201"},
		{"record list without window", "/v1/record/" + testJobZH + "/list", nil, 400, "CB.00060200"},
		{"ListJob page too big", "/v1/job/list", url.Values{"page_size": {"101"}}, 400, "CB.00060200"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.get(t, c.path, c.q)
			expectError(t, r, c.status, c.code)
			if r.header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}

	// A method the API does not have is "API not found" at the gateway.
	resp, err := http.Post(f.srv.URL+"/v1/job/list", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	expectError(t, readReply(t, resp), 404, "APIG.0101")

	// The archived log of a step that is still running does not exist yet:
	// 200 with status "fail".
	running := f.sim.Truth().Job(testJobZH).Build(1)
	for _, st := range running.Stages {
		if st.Status == StatusRunning && st.NodeID != 0 {
			r := f.get(t, "/v1/log/task/page", logQuery(testJobZH, 1, st.NodeID, 0, 0))
			if r.status != 200 || r.body["status"] != "fail" || r.body["result"] != nil {
				t.Fatalf("ShowConsoleInfo on a running step: %d %s", r.status, r.raw)
			}
			if _, ok := r.body["error"].(string); !ok {
				t.Fatalf("fail envelope without error text: %s", r.raw)
			}
			// ShowActionInfo serves it.
			if r := f.get(t, "/v1/log/task/step", logQuery(testJobZH, 1, st.NodeID, 0, 0)); r.body["status"] != "success" {
				t.Fatalf("ShowActionInfo on a running step: %s", r.raw)
			}
			return
		}
	}
	t.Fatal("no running stage with a log at t0+20s")
}

// TestJunkRequestsGetJSONErrors throws malformed paths and parameters at
// every operation: each must get a JSON answer with X-Request-Id, never a
// panic or a broken connection.
func TestJunkRequestsGetJSONErrors(t *testing.T) {
	f := newFixture(t, Options{Seed: 3})
	f.clock.Advance(40 * time.Second)
	junk := []string{"", "0", "-1", "1", "99999999999999999999", "abc", "%zz", "1e3", " 1", "0123456789abcdef0123456789abcdef", "中文", "00000000-0000-4000-a000-000000000000"}
	paths := []string{
		"/v1/job/%s/running-status", "/v1/record/%s/%s/record-info", "/v1/record/%s/full-stages",
		"/v1/record/%s/list?start_time=%s&end_time=%s&page_index=%s&page_size=%s",
		"/v1/log/task/step?job_id=%s&build_no=%s&step_id=%s&start_offset=%s&end_offset=%s&size=%s&sort=%s",
		"/v1/log/task/page?job_id=%s&build_no=%s&step_id=%s&start_offset=%s&end_offset=%s",
		"/v1/job/list?page_index=%s&page_size=%s", "/%s/%s", "/v3/auth/tokens",
	}
	n := 0
	for _, p := range paths {
		for i := 0; i < 40; i++ {
			args := make([]any, strings.Count(p, "%s"))
			for k := range args {
				args[k] = url.PathEscape(junk[(i*7+k*3+n)%len(junk)])
			}
			n++
			u := f.srv.URL + fmt.Sprintf(p, args...)
			resp, err := http.Get(u)
			if err != nil {
				t.Fatalf("GET %s: %v", u, err)
			}
			r := readReply(t, resp)
			if r.header.Get("X-Request-Id") == "" {
				t.Fatalf("GET %s: no X-Request-Id", u)
			}
		}
	}
}
