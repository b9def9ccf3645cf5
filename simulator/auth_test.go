package simulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
)

const (
	testAK      = "HWTESTAK0000000000001"
	testSK      = "testSecretKey0123456789abcdefghijklmnop"
	testProject = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
)

// signedGet sends a GET signed with signer at the given time.
func (f *fixture) signedGet(t *testing.T, path string, signer codearts.Signer, at time.Time) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := signer.Sign(req, nil, at); err != nil {
		t.Fatalf("sign: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readReply(t, resp)
}

func (f *fixture) tokenGet(t *testing.T, path, token string) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readReply(t, resp)
}

func TestAKSKSignatures(t *testing.T) {
	f := newFixture(t, Options{Seed: 1, AccessKey: testAK, SecretKey: testSK, ProjectID: testProject})
	now := f.clock.Advance(30 * time.Second)
	good := codearts.Signer{AccessKey: testAK, SecretKey: testSK, ProjectID: testProject}
	path := "/v1/log/task/step?job_id=" + testJobZH + "&build_no=1&step_id=1&start_offset=0&end_offset=0&size=1000"

	if r := f.signedGet(t, "/v1/job/list?page_index=0&page_size=100", good, now); r.status != 200 {
		t.Fatalf("good signature: %d %s", r.status, r.raw)
	}
	// Query values with spaces and colons (worked example B's shape).
	listPath := "/v1/record/" + testJobZH + "/list?start_time=2026-03-01%2000%3A00%3A00&end_time=2026-03-01%2023%3A59%3A59&page_index=0&page_size=100"
	if r := f.signedGet(t, listPath, good, now); r.status != 200 {
		t.Fatalf("good signature with escaped query: %d %s", r.status, r.raw)
	}

	wrongSK := good
	wrongSK.SecretKey = "not-the-secret"
	r := f.signedGet(t, path, wrongSK, now)
	expectError(t, r, 401, "APIG.0301")
	if !strings.Contains(r.body["error_msg"].(string), "verify aksk signature fail") {
		t.Fatalf("wrong SK message: %s", r.raw)
	}
	if strings.Contains(string(r.raw), testSK) {
		t.Fatal("the secret appears in an answer")
	}

	unknownAK := good
	unknownAK.AccessKey = "HWUNKNOWN"
	expectError(t, f.signedGet(t, path, unknownAK, now), 401, "APIG.0301")

	noProject := good
	noProject.ProjectID = ""
	expectError(t, f.signedGet(t, path, noProject, now), 401, "APIG.0301")

	otherProject := good
	otherProject.ProjectID = "ffffffffffffffffffffffffffffffff"
	expectError(t, f.signedGet(t, path, otherProject, now), 403, "APIGW.0310")

	// The gateway allows 15 minutes of clock skew.
	if r := f.signedGet(t, "/v1/job/list", good, now.Add(-14*time.Minute)); r.status != 200 {
		t.Fatalf("14 min skew: %s", r.raw)
	}
	expectError(t, f.signedGet(t, "/v1/job/list", good, now.Add(-16*time.Minute)), 401, "APIG.0303")

	// A request altered after signing fails.
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/job/list?page_size=10", nil)
	if err := good.Sign(req, nil, now); err != nil {
		t.Fatal(err)
	}
	req.URL.RawQuery = "page_size=20"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	expectError(t, readReply(t, resp), 401, "APIG.0301")

	// No credentials at all.
	expectError(t, f.tokenGet(t, "/v1/job/list", ""), 401, "APIG.0301")
	// A token when only AK/SK is configured.
	expectError(t, f.tokenGet(t, "/v1/job/list", "some-token"), 401, "APIG.0301")
	// Unknown paths are answered by the gateway's router before authentication.
	expectError(t, f.tokenGet(t, "/v2/nothing", ""), 404, "APIG.0101")
	if got := f.sim.Stats().AuthFailed; got != 8 {
		t.Errorf("AuthFailed = %d, want 8", got)
	}
}

func TestAKLockout(t *testing.T) {
	f := newFixture(t, Options{Seed: 1, AccessKey: testAK, SecretKey: testSK, AKLockout: true})
	now := f.clock.Advance(30 * time.Second)
	bad := codearts.Signer{AccessKey: testAK, SecretKey: "wrong", ProjectID: testProject}
	good := codearts.Signer{AccessKey: testAK, SecretKey: testSK, ProjectID: testProject}
	for i := 0; i < 6; i++ {
		expectError(t, f.signedGet(t, "/v1/job/list", bad, now), 401, "APIG.0301")
	}
	r := f.signedGet(t, "/v1/job/list", good, now)
	expectError(t, r, 401, "APIG.0301")
	if !strings.Contains(r.body["error_msg"].(string), "locked") {
		t.Fatalf("locked key: %s", r.raw)
	}
	now = f.clock.Advance(5*time.Minute + time.Second)
	if r := f.signedGet(t, "/v1/job/list", good, now); r.status != 200 {
		t.Fatalf("after the lock-out: %s", r.raw)
	}
}

func TestStaticAndIAMTokens(t *testing.T) {
	f := newFixture(t, Options{Seed: 1, Token: "static-token", IAMUser: "ci", IAMPassword: "pw", IAMDomain: "acme",
		ProjectID: testProject, IAMTokenTTL: time.Hour})
	f.clock.Advance(30 * time.Second)
	if r := f.tokenGet(t, "/v1/job/list", "static-token"); r.status != 200 {
		t.Fatalf("static token: %s", r.raw)
	}
	expectError(t, f.tokenGet(t, "/v1/job/list", "nope"), 401, "APIG.0301")

	iam := func(user, password string, scope any) *http.Response {
		body := map[string]any{"auth": map[string]any{
			"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
				"user": map[string]any{"name": user, "password": password, "domain": map[string]any{"name": "acme"}}}},
			"scope": scope}}
		raw, _ := json.Marshal(body)
		resp, err := http.Post(f.srv.URL+"/v3/auth/tokens?nocatalog=true", "application/json;charset=utf8", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	project := map[string]any{"project": map[string]any{"name": "cn-north-4"}}
	resp := iam("ci", "pw", project)
	tok := resp.Header.Get("X-Subject-Token")
	r := readReply(t, resp)
	if r.status != http.StatusCreated || len(tok) < 1000 || r.header.Get("X-Request-Id") == "" {
		t.Fatalf("IAM token: %d, token of %d bytes: %s", r.status, len(tok), r.raw)
	}
	checkTypes(t, "token", r.body["token"].(map[string]any), map[string]string{"expires_at": "string", "issued_at": "string", "methods": "array", "project": "object", "user": "object"})
	if r := f.tokenGet(t, "/v1/job/list", tok); r.status != 200 {
		t.Fatalf("IAM-issued token: %s", r.raw)
	}
	resp2 := iam("ci", "pw", project)
	if tok2 := resp2.Header.Get("X-Subject-Token"); tok2 == tok || tok2 == "" {
		t.Fatal("two token requests got the same token")
	}
	resp2.Body.Close()

	wrong := iam("ci", "bad", project)
	expectError(t, readReply(t, wrong), 401, "IAM.0004")
	noScope := iam("ci", "pw", nil)
	expectError(t, readReply(t, noScope), 400, "IAM.0011")

	f.clock.Advance(time.Hour + time.Second)
	expectError(t, f.tokenGet(t, "/v1/job/list", tok), 401, "APIG.0307")
}

func TestAuthOffAcceptsAnything(t *testing.T) {
	f := newFixture(t, Options{Seed: 1})
	now := f.clock.Advance(30 * time.Second)
	if r := f.tokenGet(t, "/v1/job/list", "whatever"); r.status != 200 {
		t.Fatal(r.status)
	}
	bad := codearts.Signer{AccessKey: "x", SecretKey: "y", ProjectID: testProject}
	if r := f.signedGet(t, "/v1/job/list", bad, now); r.status != 200 {
		t.Fatal(r.status)
	}
	resp, err := http.Post(f.srv.URL+"/v3/auth/tokens", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	expectError(t, readReply(t, resp), 401, "IAM.0004")
}

// TestReferenceWorkedExampleAVerifies sends the reference's worked example
// A (§11.1.1) byte for byte — headers written out, not produced by a signer
// — at the example's time: the gateway must accept it, and refuse it with
// one hex digit of the signature changed.
func TestReferenceWorkedExampleAVerifies(t *testing.T) {
	jobs := testJobs()[:1]
	jobs[0].ID = "901878212b1a49be9c1a1054c272762a"
	f := newFixture(t, Options{Seed: 1, Jobs: jobs, AccessKey: "HWEXAMPLEAKQ7Z2M9XPL",
		SecretKey: "exampleSecretKeyDoNotUse0123456789ABCDEF", ProjectID: "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
		Clock: NewManualClock(time.Date(2025, 6, 26, 6, 23, 32, 0, time.UTC))})
	send := func(sig string) reply {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/log/task/step?job_id=901878212b1a49be9c1a1054c272762a&build_no=12&step_id=81&start_offset=0&end_offset=0&size=1000", nil)
		req.Host = "cloudbuild-ext.cn-north-4.myhuaweicloud.com"
		req.Header.Set("X-Project-Id", "0a1b2c3d4e5f40718293a4b5c6d7e8f9")
		req.Header.Set("X-Sdk-Date", "20250626T062332Z")
		req.Header.Set("Authorization", "SDK-HMAC-SHA256 Access=HWEXAMPLEAKQ7Z2M9XPL, SignedHeaders=host;x-project-id;x-sdk-date, Signature="+sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return readReply(t, resp)
	}
	const sig = "24e7fb96853af138f990631849a0b0d11020b9a0e1057c09ea7e71218aa8f3c5"
	// Authenticated: the answer is the backend's (build 12 does not exist).
	expectError(t, send(sig), 400, "CB.00060200")
	expectError(t, send("14e7fb96853af138f990631849a0b0d11020b9a0e1057c09ea7e71218aa8f3c5"), 401, "APIG.0301")
}
