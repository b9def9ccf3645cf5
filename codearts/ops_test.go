package codearts

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// routeFixtures serves the documented example responses (testdata/*.json) by path, after
// the fake gateway verified the AK/SK signature.
func routeFixtures(t *testing.T, bodies map[string]string) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("X-Project-Id") != exProject {
			writeJSON(w, 401, `{"error_code":"APIG.0301","error_msg":"project id missing"}`)
			return
		}
		body, ok := bodies[r.URL.Path]
		if !ok {
			writeJSON(w, 404, `{"error_code":"APIG.0101","error_msg":"The API does not exist or has not been published in the environment"}`)
			return
		}
		writeJSON(w, 200, body)
	}
}

func TestShowActionInfoAndConsoleInfoFromReference(t *testing.T) {
	srv := newFakeAPI(t, routeFixtures(t, map[string]string{
		"/v1/log/task/step": fixture(t, "show_action_info.json"),
		"/v1/log/task/page": fixture(t, "show_console_info.json"),
	}))
	c, _ := newTestClient(t, srv.URL, nil)

	ch, err := c.ShowActionInfo(bg, LogQuery{JobID: tJob, BuildNo: 12, StepID: 81})
	if err != nil {
		t.Fatal(err)
	}
	want := &LogChunk{HasMore: true, StartOffset: 0, EndOffset: 1236, Location: "jenkins",
		Log: "[2025/06/26 14:23:40.512 GMT+08:00] [INFO] [Maven构建:build_step_maven] : 该步骤开始执行\n[2025/06/26 14:23:41.090 GMT+08:00] [INFO] Scanning for projects...\n"}
	if !reflect.DeepEqual(ch, want) {
		t.Errorf("ShowActionInfo = %+v\nwant %+v", ch, want)
	}
	ch, err = c.ShowConsoleInfo(bg, LogQuery{JobID: tJob, BuildNo: 12, StepID: 81, StartOffset: 1236})
	if err != nil {
		t.Fatal(err)
	}
	if ch.HasMore || ch.StartOffset != 1236 || ch.EndOffset != 9812 || !strings.HasSuffix(ch.Log, "该步骤执行完成\n") {
		t.Errorf("ShowConsoleInfo = %+v", ch)
	}

	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	// All the documented parameters, size=1000 only on /step, sort never.
	for i, want := range []url.Values{
		{"job_id": {tJob}, "build_no": {"12"}, "step_id": {"81"}, "start_offset": {"0"}, "end_offset": {"0"}, "size": {"1000"}},
		{"job_id": {tJob}, "build_no": {"12"}, "step_id": {"81"}, "start_offset": {"1236"}, "end_offset": {"0"}},
	} {
		got, _ := url.ParseQuery(reqs[i].query)
		if got.Encode() != want.Encode() {
			t.Errorf("request %d query %q, want %q", i, got.Encode(), want.Encode())
		}
		if reqs[i].method != "GET" {
			t.Errorf("method %s", reqs[i].method)
		}
	}
	if reqs[0].query != "build_no=12&end_offset=0&job_id="+tJob+"&size=1000&start_offset=0&step_id=81" {
		t.Errorf("wire query not canonical: %q", reqs[0].query)
	}
}

func TestLogOffsetsAsNumbersStringsNullAndEmpty(t *testing.T) {
	cases := []struct {
		name, body string
		want       LogChunk
		wantErr    bool
	}{
		{"numbers (Doc example)", `{"error":null,"result":{"end_offset":24351,"has_more":false,"location":"jenkins","log":"x\n","start_offset":0},"status":"success"}`,
			LogChunk{EndOffset: 24351, Log: "x\n", Location: "jenkins"}, false},
		{"strings", `{"result":{"has_more":"true","start_offset":"5","end_offset":"9","log":"ab"},"status":"success"}`,
			LogChunk{HasMore: true, StartOffset: 5, EndOffset: 9, Log: "ab"}, false},
		{"empty log, has_more, empty offsets", `{"result":{"has_more":true,"start_offset":"","end_offset":null,"log":""},"status":"success","error":""}`,
			LogChunk{HasMore: true, StartOffset: 7, EndOffset: 7}, false},
		{"null log", `{"result":{"has_more":false,"start_offset":7,"end_offset":7,"log":null},"status":"success"}`,
			LogChunk{StartOffset: 7, EndOffset: 7}, false},
		{"unknown fields ignored", `{"result":{"has_more":false,"start_offset":7,"end_offset":8,"log":"z","extra":{"a":[1]}},"status":"success","trace":"x"}`,
			LogChunk{StartOffset: 7, EndOffset: 8, Log: "z"}, false},
		{"text without end_offset", `{"result":{"has_more":false,"start_offset":7,"log":"lost"},"status":"success"}`, LogChunk{}, true},
		{"offset not a number", `{"result":{"has_more":false,"start_offset":"7a","end_offset":8,"log":"z"},"status":"success"}`, LogChunk{}, true},
		{"no result", `{"status":"success","error":null}`, LogChunk{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, tc.body) })
			c, _ := newTestClient(t, srv.URL, nil)
			ch, err := c.ShowConsoleInfo(bg, LogQuery{JobID: tJob, BuildNo: 3, StepID: 2, StartOffset: 7})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error, got %+v", ch)
				}
				if srv.count() != 1 {
					t.Errorf("decode error retried: %d requests", srv.count())
				}
				containsAll(t, err.Error(), "ShowConsoleInfo job="+tJob+" build=3 step=2", "HTTP 200", "decode response")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*ch, tc.want) {
				t.Errorf("got %+v, want %+v", *ch, tc.want)
			}
		})
	}
}

func TestShowRunningStatusFromReference(t *testing.T) {
	body := fixture(t, "show_running_status.json")
	srv := newFakeAPI(t, routeFixtures(t, map[string]string{
		"/v1/job/" + tJob + "/running-status":                     body,
		"/v1/job/00000000000000000000000000000000/running-status": `{"result":{"last_job_id":"00000000000000000000000000000000","last_build_no":7,"last_build_status":"Finished","is_running":"false"},"error":null,"status":"success"}`,
	}))
	c, _ := newTestClient(t, srv.URL, nil)
	rs, err := c.ShowRunningStatus(bg, tJob)
	if err != nil {
		t.Fatal(err)
	}
	if *rs != (RunningStatus{LastJobID: tJob, LastBuildNo: 12, LastBuildStatus: "InQueue", IsRunning: true}) {
		t.Errorf("got %+v", *rs)
	}
	rs, err = c.ShowRunningStatus(bg, "00000000000000000000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if rs.LastBuildNo != 7 || rs.IsRunning || rs.LastBuildStatus != "Finished" {
		t.Errorf("number / string-boolean variant: %+v", *rs)
	}
}

func TestShowJobBuildRecordDetailFromReference(t *testing.T) {
	srv := newFakeAPI(t, routeFixtures(t, map[string]string{
		"/v1/record/" + tJob + "/12/record-info": fixture(t, "show_job_build_record_detail.json"), // no "error" field
		"/v1/record/" + tJob + "/13/record-info": `{"status":"success","error":null,"result":{"id":"a","build_record_id":"b","build_no":"13","status":"RUNNING",
			"start_time":"Wed Jun 26 16:25:09 CST 2024","finish_time":null,"create_time":"2024-08-12T02:31:01+0800","duration":"","err_msg":""}}`,
	}))
	c, _ := newTestClient(t, srv.URL, nil)
	r, err := c.ShowJobBuildRecordDetail(bg, tJob, 12)
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	want := BuildRecord{
		ID: tRecord, BuildRecordID: "b8e0d4c2-1a3f-4e6b-8c9d-2f7a6b5c4d3e", BuildProjectID: "6a2f9c1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
		JobID: tJob, BuildNo: 12, DailyBuildNum: "20250626.3", ExecutionID: "j_Q7mK2pX9", RepoName: "demo-service",
		Branch: "master", Commit: "ffe2ee8b44a0b2683df86b44f8ec27d71baeae86", TriggerType: "MANUAL", BuildType: "branch",
		BuildConfigType: "YAML", Status: "SUCCESS",
		CreateTime: utc("2025-06-26T06:23:30Z"), QueuedTime: utc("2025-06-26T06:23:31Z"),
		StartTime: utc("2025-06-26T06:23:32Z"), FinishTime: utc("2025-06-26T06:24:03Z"), DurationMillis: 31000,
	}
	if !r.StartTime.Equal(want.StartTime) || !r.FinishTime.Equal(want.FinishTime) || !r.CreateTime.Equal(want.CreateTime) || !r.QueuedTime.Equal(want.QueuedTime) {
		t.Errorf("times: %v %v %v %v", r.CreateTime, r.QueuedTime, r.StartTime, r.FinishTime)
	}
	r.StartTime, r.FinishTime, r.CreateTime, r.QueuedTime = want.StartTime, want.FinishTime, want.CreateTime, want.QueuedTime
	if *r != want {
		t.Errorf("got  %+v\nwant %+v", *r, want)
	}

	r, err = c.ShowJobBuildRecordDetail(bg, tJob, 13)
	if err != nil {
		t.Fatal(err)
	}
	if r.BuildNo != 13 || !r.FinishTime.IsZero() || r.DurationMillis != 0 {
		t.Errorf("variant: %+v", *r)
	}
	if want := time.Date(2024, 6, 26, 8, 25, 9, 0, time.UTC); !r.StartTime.Equal(want) {
		t.Errorf("Java CST start_time = %v, want %v", r.StartTime, want)
	}
	if want := time.Date(2024, 8, 11, 18, 31, 1, 0, time.UTC); !r.CreateTime.Equal(want) {
		t.Errorf("+0800 create_time = %v, want %v", r.CreateTime, want)
	}
}

func TestShowBuildRecordFullStagesFromReference(t *testing.T) {
	// A second record with keys in reverse order, the schema's +0800 time
	// format, node_id as a string, check_stages and an undocumented field.
	reordered := `{"status":"success","error":null,"result":{"check_stages":null,"build_stages":{
		"final":{"execution_stage_name":"final","display_name":"final","sequence":12,"status":"FAILED","node_id":null},
		"stage10":{"execution_stage_name":"stage10","display_name":"Deploy","sequence":10,"node_id":"83","start_time":"2024-08-12T02:31:01+0800","color":"red"},
		"stage2":{"execution_stage_name":"stage2","display_name":"执行shell命令","sequence":2,"node_id":81},
		"stage9":{"execution_stage_name":"stage9","display_name":"Tests","sequence":10},
		"initial":{"execution_stage_name":"initial","display_name":"initial","sequence":0,"node_id":9}}}}`
	other := "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	srv := newFakeAPI(t, routeFixtures(t, map[string]string{
		"/v1/record/" + tRecord + "/full-stages": fixture(t, "show_build_record_full_stages.json"),
		"/v1/record/" + other + "/full-stages":   reordered,
	}))
	c, _ := newTestClient(t, srv.URL, nil)
	st, err := c.ShowBuildRecordFullStages(bg, tRecord)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range st {
		names = append(names, s.Name+"="+s.DisplayName)
	}
	if got := strings.Join(names, ","); got != "initial=initial,stage1=Code CheckOut,stage2=Maven,final=final" {
		t.Errorf("order %s", got)
	}
	s0, s2 := st[0], st[2]
	if s0.NodeID == nil || *s0.NodeID != 9 || st[1].NodeID != nil || s2.NodeID == nil || *s2.NodeID != 81 {
		t.Errorf("node ids: %v %v %v", s0.NodeID, st[1].NodeID, s2.NodeID)
	}
	if s2.ID != "d8e3269e-ba5b-46eb-bd57-32e99dcacdf2" || s2.BuildRecordID != tRecord || s2.Sequence != 2 ||
		s2.Status != "SUCCESS" || s2.StatusCode != 5 || s2.DurationMillis != 22000 || s2.BuildDurationMillis != 22000 ||
		s2.PendingDurationMillis != 0 || s2.ExecutionID != "j_Q7mK2pX9" {
		t.Errorf("stage2 = %+v", s2)
	}
	if !s2.StartTime.Equal(time.Date(2025, 6, 26, 6, 23, 40, 0, time.UTC)) || !s2.FinishTime.Equal(time.Date(2025, 6, 26, 6, 24, 2, 0, time.UTC)) {
		t.Errorf("stage2 times %v %v", s2.StartTime, s2.FinishTime)
	}
	if st[0].PendingDurationMillis != 1000 {
		t.Errorf("initial pending %d", st[0].PendingDurationMillis)
	}

	st, err = c.ShowBuildRecordFullStages(bg, other)
	if err != nil {
		t.Fatal(err)
	}
	names = nil
	for _, s := range st {
		names = append(names, s.Name)
	}
	// sequence first; equal sequence (10) ordered by numeric suffix: stage9 < stage10.
	if got := strings.Join(names, ","); got != "initial,stage2,stage9,stage10,final" {
		t.Errorf("order %s", got)
	}
	if st[3].NodeID == nil || *st[3].NodeID != 83 || !st[3].StartTime.Equal(time.Date(2024, 8, 11, 18, 31, 1, 0, time.UTC)) {
		t.Errorf("stage10 = %+v", st[3])
	}
}

func TestListBuildInfoRecordByJobIdFromReference(t *testing.T) {
	srv := newFakeAPI(t, routeFixtures(t, map[string]string{
		"/v1/record/" + tJob + "/list": fixture(t, "list_build_info_record_by_job_id.json"),
	}))
	c, _ := newTestClient(t, srv.URL, nil)
	from := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2025, 6, 26, 23, 59, 59, 0, time.UTC)
	p, err := c.ListBuildInfoRecordByJobId(bg, tJob, from, to, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if p.PageIndex != 0 || p.TotalPage != 1 || p.TotalRecord != 2 || p.HealthScore != "80" || len(p.Builds) != 2 {
		t.Fatalf("page = %+v", p)
	}
	b := p.Builds[0]
	want := BuildInfo{Number: 12, State: "SUCCESS", JobRunningStatus: "Finished", StartTime: time.UnixMilli(1750919012000).UTC(),
		BuildTimeMillis: 31000, CostTimeMillis: 31000, DailyBuildNumber: "20250626.3", TriggerType: "Manual",
		BuildType: "branch", CodeBranch: "master", CommitID: "ffe2ee8b44a0b2683df86b44f8ec27d71baeae86", Executor: "ci-bot"}
	if b != want {
		t.Errorf("got  %+v\nwant %+v", b, want)
	}
	if p.Builds[1].Number != 11 || p.Builds[1].State != "ABORTED" {
		t.Errorf("second build %+v", p.Builds[1])
	}
	// Worked example B: the wire query is the canonical, %20-escaped one.
	if q := srv.requests()[0].query; q != "end_time=2025-06-26%2023%3A59%3A59&page_index=0&page_size=100&start_time=2025-06-01%2000%3A00%3A00" {
		t.Errorf("wire query %q", q)
	}
}

func TestListJobFromReference(t *testing.T) {
	srv := newFakeAPI(t, routeFixtures(t, map[string]string{
		"/v1/job/list": fixture(t, "list_job.json"), // no "error" field at all
	}))
	c, _ := newTestClient(t, srv.URL, nil)
	p, err := c.ListJob(bg, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 1 || len(p.Jobs) != 1 {
		t.Fatalf("page %+v", p)
	}
	want := Job{ID: tJob, Name: "demo-service-build", BuildProjectID: "6a2f9c1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
		ProjectID: "b4d3971c3988463b865f6f920846149e", ProjectName: "demo", LastBuildTime: time.UnixMilli(1750919012000).UTC(),
		LastBuildStatus: "blue", LastJobRunningStatus: "Finished", IsFinished: true, BuildNumber: 12, TaskID: "#20250626.3",
		BuildTimeMillis: 31000, HealthScore: 80}
	if p.Jobs[0] != want {
		t.Errorf("got  %+v\nwant %+v", p.Jobs[0], want)
	}
	if q := srv.requests()[0].query; q != "page_index=0&page_size=100" {
		t.Errorf("query %q", q)
	}
}

// The SDK's float32 lost 58 s on this value (docs/api-reference.md §10); int64 must not.
func TestListJobEpochMillisExact(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 200, `{"status":"success","result":{"total":"1","job_list":[{"id":"x","last_build_time":1727041445000,"build_number":9,"repo_id":2111616838,"health_score":"75","is_finished":"false"}]}}`)
	})
	c, _ := newTestClient(t, srv.URL, nil)
	p, err := c.ListJob(bg, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	j := p.Jobs[0]
	if j.LastBuildTime.UnixMilli() != 1727041445000 || j.BuildNumber != 9 || j.HealthScore != 75 || j.IsFinished || p.Total != 1 {
		t.Errorf("job %+v total %d", j, p.Total)
	}
}

func TestInvalidArgumentsAreNotSent(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, `{}`) })
	c, _ := newTestClient(t, srv.URL, nil)
	t0 := time.Now()
	errs := []error{}
	_, err := c.ShowRunningStatus(bg, "../../v1/job/list")
	errs = append(errs, err)
	_, err = c.ShowJobBuildRecordDetail(bg, tJob, 0)
	errs = append(errs, err)
	_, err = c.ShowActionInfo(bg, LogQuery{JobID: tJob, BuildNo: 1, StartOffset: -1})
	errs = append(errs, err)
	_, err = c.ShowBuildRecordFullStages(bg, "x/../y")
	errs = append(errs, err)
	_, err = c.ListBuildInfoRecordByJobId(bg, tJob, t0, t0, 0, 101)
	errs = append(errs, err)
	_, err = c.ListBuildInfoRecordByJobId(bg, tJob, t0, t0.Add(-time.Hour), 0, 10)
	errs = append(errs, err)
	_, err = c.ListJob(bg, -1, 10)
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%d: %v, want ErrInvalidArgument", i, err)
		}
		if IsTemporary(err) {
			t.Errorf("%d: invalid argument reported temporary", i)
		}
	}
	if srv.count() != 0 {
		t.Errorf("%d requests sent for invalid arguments", srv.count())
	}
}

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		n    int
		dash bool
		want bool
	}{
		{tJob, 32, false, true},
		{strings.ToUpper(tJob), 32, false, true},
		{tJob[:31], 32, false, false},
		{tJob + "0", 32, false, false},
		{tJob[:31] + "-", 32, false, false},
		{tJob[:31] + "/", 32, false, false},
		{tJob[:30] + "é", 32, false, false}, // 32 bytes, not ASCII
		{tJob[:31] + "\n", 32, false, false},
		{tRecord, 36, true, true},
		{tRecord[:35] + "/", 36, true, false},
		{tRecord[:35] + ".", 36, true, false},
		{"", 0, false, true},
	} {
		if got := validID(tc.id, tc.n, tc.dash); got != tc.want {
			t.Errorf("validID(%q, %d, %v) = %v, want %v", tc.id, tc.n, tc.dash, got, tc.want)
		}
	}
}
