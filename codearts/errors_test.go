package codearts

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// Every error body shape of docs/api-reference.md §9.1, served over HTTP.
func TestErrorBodyShapes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		code, msg string
		reqID     string
	}{
		{"CodeArts backend", 400, nil, `{"error_code":"CB.00060200","error_msg":"Invalid param"}`, "CB.00060200", "Invalid param", ""},
		{"gateway APIGW with request_id", 401, nil,
			`{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail","request_id":"fd65b8ad"}`,
			"APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail", "fd65b8ad"},
		{"X-Request-Id header wins", 500, map[string]string{"X-Request-Id": "hdr-1"},
			`{"error_code":"CB.00060101","error_msg":"internal service error","request_id":"body-1"}`, "CB.00060101", "internal service error", "hdr-1"},
		{"200 fail, error string", 200, nil, `{"status":"fail","error":"build record not found","result":null}`, "", "build record not found", ""},
		{"200 fail, error string with code", 200, nil, `{"status":"fail","error":"CB.00060201: invalid job id","result":null}`, "CB.00060201", "CB.00060201: invalid job id", ""},
		{"200 fail, error object", 200, nil, `{"status":"fail","error":{"error_code":"CB.00060202","error_msg":"invalid business id"},"result":null}`,
			"CB.00060202", "invalid business id", ""},
		{"200 fail, error null", 200, nil, `{"status":"fail","error":null,"result":null}`, "", "status fail", ""},
		{"code/message", 403, nil, `{"code":"APIGW.0310","message":"project unavailable"}`, "APIGW.0310", "project unavailable", ""},
		{"nested under any key", 500, nil, `{"outcome":{"code":"CB.00060100","message":"network busy","request_id":"n-1"}}`, "CB.00060100", "network busy", "n-1"},
		{"nested under error", 404, nil, `{"error":{"code":"APIG.0101","message":"API not found"}}`, "APIG.0101", "API not found", ""},
		{"IAM numeric code", 401, nil, `{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}`, "401", "The username or password is wrong.", ""},
		{"HTML from a proxy", 502, nil, "<html><body>Bad Gateway</body></html>\n<p>more</p>", "",
			"not an answer of the CodeArts API (an HTML page of 49 bytes): check codearts.endpoint and the job id", ""},
		{"text naming a gateway code", 404, nil, "APIG.0101 API not found\nmore", "APIG.0101", "APIG.0101 API not found", ""},
		{"empty body", 504, nil, ``, "", "Gateway Timeout", ""},
		{"2xx error_code without status", 200, nil, `{"error_code":"CB.00060200","error_msg":"Invalid param"}`, "CB.00060200", "Invalid param", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				writeJSON(w, tc.status, tc.body)
			})
			c, _ := newTestClient(t, srv.URL, func(o *Options) { o.MaxRetries = 0; o.AuthFailurePause = -1 })
			_, err := c.ShowActionInfo(bg, LogQuery{JobID: tJob, BuildNo: 12, StepID: 81})
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			if ae.HTTPStatus != tc.status || ae.Code != tc.code || ae.Message != tc.msg || ae.RequestID != tc.reqID {
				t.Errorf("got status %d code %q msg %q req %q", ae.HTTPStatus, ae.Code, ae.Message, ae.RequestID)
			}
			if ae.Op != OpShowActionInfo || ae.JobID != tJob || ae.BuildNo != 12 || ae.StepID != 81 {
				t.Errorf("context %+v", ae)
			}
			prefix := "ShowActionInfo job=" + tJob + " build=12 step=81:"
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("%q lacks prefix %q", err.Error(), prefix)
			}
		})
	}
}

func TestErrorTextExample(t *testing.T) {
	e := &APIError{Op: "ShowConsoleInfo", JobID: tJob, BuildNo: 12, StepID: 81, hasStep: true, HTTPStatus: 500,
		Code: "CB.00060101", Message: "internal service error", RequestID: "6c1e"}
	want := "ShowConsoleInfo job=" + tJob + " build=12 step=81: HTTP 500 CB.00060101 internal service error (request id 6c1e)"
	if e.Error() != want {
		t.Errorf("%q\nwant %q", e.Error(), want)
	}
	e = &APIError{Op: "ShowBuildRecordFullStages", RecordID: tRecord, HTTPStatus: 404, Code: "CB.00060214", Message: "URL not found"}
	if got := e.Error(); got != "ShowBuildRecordFullStages record="+tRecord+": HTTP 404 CB.00060214 URL not found" {
		t.Errorf("%q", got)
	}
}

func TestClassification(t *testing.T) {
	for _, tc := range []struct {
		e                                             *APIError
		throttled, auth, notFound, invalid, temporary bool
	}{
		{&APIError{HTTPStatus: 429, Attempts: 1}, true, false, false, false, true},
		{&APIError{HTTPStatus: 400, Code: "CB.00060211", Attempts: 1}, true, false, false, false, true},
		{&APIError{HTTPStatus: 500, Code: "CB.00060211", Attempts: 1}, true, false, false, false, true},
		{&APIError{HTTPStatus: 200, Code: "APIG.0308", Attempts: 1}, true, false, false, false, true},
		{&APIError{HTTPStatus: 401, Code: "APIG.0301", Attempts: 1}, false, true, false, false, false},
		{&APIError{HTTPStatus: 401, Code: "APIGW.0307", Attempts: 1}, false, true, false, false, false},
		{&APIError{HTTPStatus: 401, Code: "APIG.0303", Attempts: 1}, false, true, false, false, false},
		{&APIError{HTTPStatus: 404, Code: "APIGW.0101", Attempts: 1}, false, false, true, false, false},
		{&APIError{HTTPStatus: 400, Code: "CB.00060200", Attempts: 1}, false, false, false, true, false},
		{&APIError{HTTPStatus: 200, Code: "CB.00060201", Attempts: 1}, false, false, false, true, false},
		{&APIError{HTTPStatus: 500, Code: "CB.00060101", Attempts: 1}, false, false, false, false, true},
		{&APIError{HTTPStatus: 502, Attempts: 1}, false, false, false, false, true},
		{&APIError{Err: errors.New("connection reset"), Attempts: 1}, false, false, false, false, true},
		{&APIError{Err: errDecode, HTTPStatus: 200, Attempts: 1}, false, false, false, false, false},
		{&APIError{Err: ErrInvalidArgument}, false, false, false, false, false},
	} {
		err := error(tc.e)
		wrapped := errors.Join(errors.New("poll"), err)
		for _, e := range []error{err, wrapped} {
			if IsThrottled(e) != tc.throttled || IsAuth(e) != tc.auth || IsNotFound(e) != tc.notFound ||
				IsInvalidParam(e) != tc.invalid || IsTemporary(e) != tc.temporary {
				t.Errorf("%+v: throttled %v auth %v notFound %v invalid %v temporary %v", tc.e,
					IsThrottled(e), IsAuth(e), IsNotFound(e), IsInvalidParam(e), IsTemporary(e))
			}
		}
	}
	if IsThrottled(errors.New("x")) || IsAuth(nil) || IsNotFound(nil) {
		t.Error("non-API errors classified")
	}
}
