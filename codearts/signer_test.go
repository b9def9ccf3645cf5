package codearts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Inputs shared by the worked examples of docs/api-reference.md (§11.1.1, §11.1.2).
const (
	exAK      = "HWEXAMPLEAKQ7Z2M9XPL"
	exSK      = "exampleSecretKeyDoNotUse0123456789ABCDEF"
	exProject = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
	exHost    = "cloudbuild-ext.cn-north-4.myhuaweicloud.com"
)

var exDate = time.Date(2025, 6, 26, 6, 23, 32, 0, time.UTC)

func exSigner() Signer { return Signer{AccessKey: exAK, SecretKey: exSK, ProjectID: exProject} }

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestSignWorkedExampleA(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "https://"+exHost+"/v1/log/task/step?job_id=901878212b1a49be9c1a1054c272762a&build_no=12&step_id=81&start_offset=0&end_offset=0&size=1000", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := exSigner().Sign(req, nil, exDate); err != nil {
		t.Fatal(err)
	}
	wantCR := "GET\n" +
		"/v1/log/task/step/\n" +
		"build_no=12&end_offset=0&job_id=901878212b1a49be9c1a1054c272762a&size=1000&start_offset=0&step_id=81\n" +
		"host:cloudbuild-ext.cn-north-4.myhuaweicloud.com\n" +
		"x-project-id:0a1b2c3d4e5f40718293a4b5c6d7e8f9\n" +
		"x-sdk-date:20250626T062332Z\n" +
		"\n" +
		"host;x-project-id;x-sdk-date\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	cr, err := canonicalRequest(req, []string{"host", "x-project-id", "x-sdk-date"}, nil, req.URL.RawQuery) // Sign made it canonical
	if err != nil {
		t.Fatal(err)
	}
	if cr != wantCR {
		t.Errorf("canonical request:\n%s\nwant:\n%s", cr, wantCR)
	}
	if got, want := sha256Hex(cr), "e1cfd87540925b664dc6dd71e297edada17b1c0779e868c346df6e3ff6a1e8f2"; got != want {
		t.Errorf("canonical request hash %s, want %s", got, want)
	}
	wantSTS := "SDK-HMAC-SHA256\n20250626T062332Z\ne1cfd87540925b664dc6dd71e297edada17b1c0779e868c346df6e3ff6a1e8f2"
	if got := stringToSign("20250626T062332Z", cr); got != wantSTS {
		t.Errorf("string to sign %q, want %q", got, wantSTS)
	}
	wantAuth := "SDK-HMAC-SHA256 Access=HWEXAMPLEAKQ7Z2M9XPL, SignedHeaders=host;x-project-id;x-sdk-date, Signature=24e7fb96853af138f990631849a0b0d11020b9a0e1057c09ea7e71218aa8f3c5"
	if got := req.Header.Get("Authorization"); got != wantAuth {
		t.Errorf("Authorization:\n%s\nwant:\n%s", got, wantAuth)
	}
	if got := req.Header.Get("X-Sdk-Date"); got != "20250626T062332Z" {
		t.Errorf("X-Sdk-Date %q", got)
	}
	if got := req.Header.Get("X-Project-Id"); got != exProject {
		t.Errorf("X-Project-Id %q", got)
	}
	if req.Header.Get("X-Security-Token") != "" {
		t.Error("X-Security-Token set without temporary credentials")
	}
	// The wire query is the canonical one.
	if got, want := req.URL.RawQuery, "build_no=12&end_offset=0&job_id=901878212b1a49be9c1a1054c272762a&size=1000&start_offset=0&step_id=81"; got != want {
		t.Errorf("wire query %q, want %q", got, want)
	}
}

func TestSignWorkedExampleB(t *testing.T) {
	q := url.Values{}
	q.Set("start_time", "2025-06-01 00:00:00")
	q.Set("end_time", "2025-06-26 23:59:59")
	q.Set("page_index", "0")
	q.Set("page_size", "100")
	// url.Values.Encode writes '+' for spaces; Sign must replace it by %20.
	req, err := http.NewRequest(http.MethodGet, "https://"+exHost+"/v1/record/901878212b1a49be9c1a1054c272762a/list?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := exSigner().Sign(req, nil, exDate); err != nil {
		t.Fatal(err)
	}
	wantQuery := "end_time=2025-06-26%2023%3A59%3A59&page_index=0&page_size=100&start_time=2025-06-01%2000%3A00%3A00"
	if req.URL.RawQuery != wantQuery {
		t.Errorf("wire query %q, want %q", req.URL.RawQuery, wantQuery)
	}
	if got, want := req.URL.String(), "https://"+exHost+"/v1/record/901878212b1a49be9c1a1054c272762a/list?"+wantQuery; got != want {
		t.Errorf("wire URL %q, want %q", got, want)
	}
	wantCR := "GET\n" +
		"/v1/record/901878212b1a49be9c1a1054c272762a/list/\n" +
		wantQuery + "\n" +
		"host:cloudbuild-ext.cn-north-4.myhuaweicloud.com\n" +
		"x-project-id:0a1b2c3d4e5f40718293a4b5c6d7e8f9\n" +
		"x-sdk-date:20250626T062332Z\n" +
		"\n" +
		"host;x-project-id;x-sdk-date\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	cr, err := canonicalRequest(req, []string{"host", "x-project-id", "x-sdk-date"}, nil, req.URL.RawQuery) // Sign made it canonical
	if err != nil {
		t.Fatal(err)
	}
	if cr != wantCR {
		t.Errorf("canonical request:\n%s\nwant:\n%s", cr, wantCR)
	}
	if got, want := sha256Hex(cr), "cca57cb63ce21fed580034e3d4d70c6dc09b5c0e7b07eafc5dd9ebcd230884d2"; got != want {
		t.Errorf("canonical request hash %s, want %s", got, want)
	}
	wantAuth := "SDK-HMAC-SHA256 Access=HWEXAMPLEAKQ7Z2M9XPL, SignedHeaders=host;x-project-id;x-sdk-date, Signature=6fa2087c44e4c13f40e4d03472c53e6d47095efef18f1c339c6c692ad3f74f97"
	if got := req.Header.Get("Authorization"); got != wantAuth {
		t.Errorf("Authorization:\n%s\nwant:\n%s", got, wantAuth)
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"AZaz09-_.~": "AZaz09-_.~",
		"a b":        "a%20b",
		"a+b":        "a%2Bb",
		"23:59":      "23%3A59",
		"/":          "%2F",
		"代":          "%E4%BB%A3",
		"":           "",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := canonicalURI("/v1/job/list/"); got != "/v1/job/list/" {
		t.Errorf("canonicalURI kept trailing slash: %q", got)
	}
	if got := canonicalQuery(url.Values{"b": {"2", "1"}, "A": {""}, "a": {"x y"}}); got != "A=&a=x%20y&b=1&b=2" {
		t.Errorf("canonicalQuery = %q", got)
	}
}

// stepLogQuery writes the canonical query by hand; it must be exactly what
// canonicalQuery makes of the same parameters, or every page read fails
// signature verification.
func TestStepLogQueryIsCanonical(t *testing.T) {
	for _, q := range []LogQuery{
		{JobID: "0a1b2c3d4e5f", BuildNo: 1, StepID: 0, StartOffset: 0, EndOffset: 0},
		{JobID: "job id/+代", BuildNo: 2147483647, StepID: 12, StartOffset: 123456789, EndOffset: 987654321},
	} {
		for _, size := range []bool{false, true} {
			v := url.Values{"job_id": {q.JobID}, "build_no": {strconv.FormatInt(q.BuildNo, 10)},
				"step_id": {strconv.FormatInt(q.StepID, 10)}, "start_offset": {strconv.FormatInt(q.StartOffset, 10)},
				"end_offset": {strconv.FormatInt(q.EndOffset, 10)}}
			if size {
				v.Set("size", "1000")
			}
			if got, want := stepLogQuery(q, size), canonicalQuery(v); got != want {
				t.Errorf("stepLogQuery(%+v, %v) = %q, want %q", q, size, got, want)
			}
		}
	}
}

func TestSignSecurityTokenIsSigned(t *testing.T) {
	s := exSigner()
	s.SecurityToken = "sts-token-value"
	req := httptest.NewRequest(http.MethodGet, "https://"+exHost+"/v1/job/list?page_index=0", nil)
	if err := s.Sign(req, nil, exDate); err != nil {
		t.Fatal(err)
	}
	if req.Header.Get("X-Security-Token") != "sts-token-value" {
		t.Fatal("X-Security-Token not set")
	}
	if !strings.Contains(req.Header.Get("Authorization"), "SignedHeaders=host;x-project-id;x-sdk-date;x-security-token,") {
		t.Errorf("security token not signed: %s", req.Header.Get("Authorization"))
	}
	secret := func(ak string) (string, bool) { return exSK, ak == exAK }
	if err := VerifySignature(req, nil, secret, exDate, 15*time.Minute); err != nil {
		t.Fatalf("verify: %v", err)
	}
	req.Header.Set("X-Security-Token", "other")
	if err := VerifySignature(req, nil, secret, exDate, 15*time.Minute); !errors.Is(err, ErrSignatureMismatch) {
		t.Fatalf("tampered token verified: %v", err)
	}
}

func TestSignRequiresKeys(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "https://"+exHost+"/v1/job/list", nil)
	if err := (Signer{AccessKey: exAK}).Sign(req, nil, exDate); err == nil {
		t.Fatal("signed without a secret key")
	}
}

// TestVerifySignatureOverHTTP signs on the client side and verifies what a
// real server receives, including a query with spaces and a POST body.
func TestVerifySignatureOverHTTP(t *testing.T) {
	var gotErr error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		gotErr = VerifySignature(r, body, func(ak string) (string, bool) { return exSK, ak == exAK }, exDate.Add(3*time.Minute), 15*time.Minute)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		method, query string
		body          []byte
	}{
		{"GET", "start_time=2025-06-01+00%3A00%3A00&end_time=x", nil},
		{"GET", "", nil},
		{"POST", "nocatalog=true", []byte(`{"a":"b"}`)},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+"/v1/record/abc/list?"+tc.query, bytes.NewReader(tc.body))
		if err := exSigner().Sign(req, tc.body, exDate); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if gotErr != nil {
			t.Errorf("%s %q: server rejected signature: %v", tc.method, tc.query, gotErr)
		}
	}
}

func TestVerifySignatureRejects(t *testing.T) {
	secret := func(ak string) (string, bool) { return exSK, ak == exAK }
	sign := func(s Signer, at time.Time) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "https://"+exHost+"/v1/job/list?page_index=0&page_size=100", nil)
		if err := s.Sign(req, nil, at); err != nil {
			t.Fatal(err)
		}
		return req
	}
	wrong := exSigner()
	wrong.SecretKey = "wrongSecretKeyValue"
	unknown := exSigner()
	unknown.AccessKey = "OTHERAK"
	cases := []struct {
		name string
		req  *http.Request
		want error
	}{
		{"wrong secret", sign(wrong, exDate), ErrSignatureMismatch},
		{"unknown AK", sign(unknown, exDate), ErrUnknownAccessKey},
		{"skew", sign(exSigner(), exDate.Add(-16*time.Minute)), ErrClockSkew},
		{"future skew", sign(exSigner(), exDate.Add(16*time.Minute)), ErrClockSkew},
	}
	tampered := sign(exSigner(), exDate)
	tampered.URL.RawQuery = "page_index=1&page_size=100"
	cases = append(cases, struct {
		name string
		req  *http.Request
		want error
	}{"tampered query", tampered, ErrSignatureMismatch})
	noAuth := sign(exSigner(), exDate)
	noAuth.Header.Del("Authorization")
	cases = append(cases, struct {
		name string
		req  *http.Request
		want error
	}{"no Authorization", noAuth, ErrMalformedAuthorization})
	noDate := sign(exSigner(), exDate)
	noDate.Header.Set("Authorization", strings.Replace(noDate.Header.Get("Authorization"), ";x-sdk-date", "", 1))
	cases = append(cases, struct {
		name string
		req  *http.Request
		want error
	}{"x-sdk-date unsigned", noDate, ErrMalformedAuthorization})
	for _, tc := range cases {
		err := VerifySignature(tc.req, nil, secret, exDate, 15*time.Minute)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), exSK) || strings.Contains(err.Error(), "wrongSecretKeyValue")) {
			t.Errorf("%s: error leaks the secret: %v", tc.name, err)
		}
	}
	// Skew check disabled with maxSkew <= 0.
	if err := VerifySignature(sign(exSigner(), exDate.Add(-time.Hour)), nil, secret, exDate, 0); err != nil {
		t.Errorf("maxSkew 0 should disable the skew check: %v", err)
	}
}

func TestParseAuthorizationSortsSignedHeaders(t *testing.T) {
	_, signed, _, err := parseAuthorization("SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date;Host, Signature=ab")
	if err != nil {
		t.Fatal(err)
	}
	if !sort.StringsAreSorted(signed) || signed[0] != "host" {
		t.Errorf("signed headers %v", signed)
	}
}

// TestSignReusedState checks that a Signer with a cache (as the Client's
// has) gives worked example A's signature every time, and the same
// signatures and dates as a Signer without one for other times and bodies:
// a state not reset between signatures would sign the previous string too,
// and a cached date must change with the second.
func TestSignReusedState(t *testing.T) {
	pooled := exSigner()
	pooled.cache = newSignerCache(exSK)
	const wantA = "SDK-HMAC-SHA256 Access=HWEXAMPLEAKQ7Z2M9XPL, SignedHeaders=host;x-project-id;x-sdk-date, Signature=24e7fb96853af138f990631849a0b0d11020b9a0e1057c09ea7e71218aa8f3c5"
	for i := range 5 {
		req, err := http.NewRequest(http.MethodGet, "https://"+exHost+"/v1/log/task/step?job_id=901878212b1a49be9c1a1054c272762a&build_no=12&step_id=81&start_offset=0&end_offset=0&size=1000", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := pooled.Sign(req, nil, exDate); err != nil {
			t.Fatal(err)
		}
		if got := req.Header.Get("Authorization"); got != wantA {
			t.Fatalf("signature %d: %s\nwant %s", i, got, wantA)
		}
		for _, body := range [][]byte{nil, []byte(`{"page":1}`)} {
			// Two of the five share a second, with and without the
			// cached date.
			when := exDate.Add(time.Duration(i/2)*time.Second + time.Duration(i%2)*time.Millisecond)
			r1, _ := http.NewRequest(http.MethodPost, "https://"+exHost+"/v3/jobs/list", nil)
			r2, _ := http.NewRequest(http.MethodPost, "https://"+exHost+"/v3/jobs/list", nil)
			if err := pooled.Sign(r1, body, when); err != nil {
				t.Fatal(err)
			}
			if err := exSigner().Sign(r2, body, when); err != nil {
				t.Fatal(err)
			}
			if a, b := r1.Header.Get("Authorization"), r2.Header.Get("Authorization"); a != b {
				t.Fatalf("reused states sign %q, a new one %q", a, b)
			}
			if got, want := r1.Header.Get("X-Sdk-Date"), when.UTC().Format(sdkDateLayout); got != want {
				t.Fatalf("X-Sdk-Date %s, want %s", got, want)
			}
		}
	}
}
