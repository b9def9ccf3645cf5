package codearts

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Secrets must appear in no log line, no error string and no metric,
// whatever goes wrong — even when a server quotes them back.
func TestSecretsNeverInLogsErrorsOrMetrics(t *testing.T) {
	const (
		sk       = "SK-must-not-leak-7f3a9c0e5b2d4a6c"
		stsToken = "STS-must-not-leak-b1d2e3f4a5"
		static   = "STATIC-TOKEN-must-not-leak-99"
	)
	secrets := []string{sk, stsToken, static, iamPassword}
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	var errs []string
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%v|%+v|%#v", err, err, err))
		}
	}
	opts := func(o *Options) {
		o.Logger = logs.logger()
		o.Registerer = reg
		o.AuthFailurePause = -1
		o.MaxRetries = 1
	}
	// A server that echoes every credential it received in its errors (the
	// SK only to the client that signs with it: no other client knows it).
	echo := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		quoted := r.Header.Get("X-Auth-Token") + " " + r.Header.Get("X-Security-Token")
		if r.Header.Get("Authorization") != "" {
			quoted += " " + sk
		}
		quoted = pieces(quoted)
		switch n % 5 {
		case 0:
			writeJSON(w, 401, mustJSON(map[string]string{"error_code": "APIG.0301", "error_msg": "token expires: " + quoted}))
		case 1:
			writeJSON(w, 500, mustJSON(map[string]string{"error_code": "CB.00060101", "error_msg": "internal " + quoted}))
		case 2:
			writeJSON(w, 200, mustJSON(map[string]any{"status": "fail", "error": "bad " + quoted}))
		case 3:
			writeJSON(w, 200, mustJSON(map[string]any{"status": "success", "result": map[string]string{"last_build_no": strings.TrimSpace(quoted)}}))
		default:
			writeJSON(w, 429, mustJSON(map[string]string{"error_code": "APIG.0308", "error_msg": "throttled " + quoted}))
		}
	})
	echo.secret = sk
	clients := []*Client{}
	for _, a := range []Auth{
		{AccessKey: exAK, SecretKey: sk, SecurityToken: stsToken},
		{Token: static},
	} {
		c, _ := newTestClient(t, echo.URL, func(o *Options) { opts(o); o.Auth = a })
		clients = append(clients, c)
	}
	for _, c := range clients {
		for i := 0; i < 6; i++ {
			_, err := c.ShowRunningStatus(bg, tJob)
			collect(err)
		}
	}
	// IAM: a server quoting the password, then a CodeArts quoting the token.
	clock := &manualClock{t: time.Now()}
	iam := newFakeIAM(t, clock.now)
	iam.echo = true
	bad, _ := newTestClient(t, echo.URL, func(o *Options) {
		opts(o)
		o.Auth = Auth{IAM: &IAMPassword{Endpoint: iam.URL, User: "nobody", Password: iamPassword, Domain: iamDomain, ProjectName: "p"}}
	})
	_, err := bad.ShowRunningStatus(bg, tJob)
	collect(err)
	if !strings.Contains(strings.Join(errs, "\n"), "The username or password is wrong.") {
		t.Error("IAM failure not reported")
	}
	good, _ := newTestClient(t, echo.URL, func(o *Options) {
		opts(o)
		o.Auth = Auth{IAM: &IAMPassword{Endpoint: iam.URL, User: iamUser, Password: iamPassword, Domain: iamDomain, ProjectName: "p"}}
	})
	for i := 0; i < 5; i++ {
		_, err := good.ShowRunningStatus(bg, tJob)
		collect(err)
	}
	secrets = append(secrets, iamTok(1))
	// Transport errors and timeouts.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	defer ln.Close()
	dead, _ := newTestClient(t, "http://"+ln.Addr().String(), func(o *Options) { opts(o); o.Auth = Auth{Token: static} })
	_, err = dead.ShowConsoleInfo(bg, LogQuery{JobID: tJob, BuildNo: 1})
	collect(err)
	_, err = dead.ListBuildInfoRecordByJobId(bg, tJob, time.Now(), time.Now(), 0, 10)
	collect(err)

	if len(errs) < 10 {
		t.Fatalf("only %d errors produced", len(errs))
	}
	var mtext strings.Builder
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		mtext.WriteString(mf.String())
	}
	all := map[string]string{"logs": logs.String(), "errors": strings.Join(errs, "\n"), "metrics": mtext.String()}
	if !strings.Contains(all["logs"], "CodeArts API call") || !strings.Contains(all["logs"], "retrying") {
		t.Fatalf("debug logs not captured:\n%s", all["logs"])
	}
	for where, text := range all {
		low := strings.ToLower(text)
		for _, s := range secrets {
			// No 8 characters of it, in any case.
			ls := strings.ToLower(s)
			for k := 0; k+8 <= len(ls); k++ {
				if i := strings.Index(low, ls[k:k+8]); i >= 0 {
					t.Errorf("%s contain 8 characters of secret %.4s…: …%s…", where, s, text[max(0, i-80):min(len(text), i+40)])
					break
				}
			}
		}
	}
	if !strings.Contains(all["errors"], "<secret>") {
		t.Error("echoed secrets were not visibly redacted")
	}
}

// pieces is what an echoing server might quote of the credentials in v:
// all of them, a 20-character prefix, lower and upper case, their halves.
func pieces(v string) string {
	var out []string
	for _, f := range strings.Fields(v) {
		h := len(f) / 2
		out = append(out, f, f[:min(20, len(f))], strings.ToLower(f), strings.ToUpper(f), f[:h], f[h:])
	}
	return strings.Join(out, " ")
}

func TestSelfMetricsTypesAndReload(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			writeJSON(w, 429, `{"error_code":"APIG.0308","error_msg":"throttled"}`)
			return
		}
		writeJSON(w, 200, okStatus)
	})
	c1, _ := newTestClient(t, srv.URL, func(o *Options) { o.Registerer = reg })
	if _, err := c1.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	// A second client on the same registry (config reload) continues the counters.
	c2, _ := newTestClient(t, srv.URL, func(o *Options) { o.Registerer = reg })
	if _, err := c2.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP codearts_exporter_api_requests_total CodeArts API calls by operation and HTTP status code (or "error" when no response arrived).
# TYPE codearts_exporter_api_requests_total counter
codearts_exporter_api_requests_total{api="ShowRunningStatus",code="200"} 2
codearts_exporter_api_requests_total{api="ShowRunningStatus",code="429"} 1
# HELP codearts_exporter_api_retries_total CodeArts API attempts repeated after a transport error, 5xx or throttling.
# TYPE codearts_exporter_api_retries_total counter
codearts_exporter_api_retries_total{api="ShowRunningStatus"} 1
# HELP codearts_exporter_api_throttled_total CodeArts API answers that were rate-limit rejections (HTTP 429, APIG.0308, APIGW.0308, CB.00060211).
# TYPE codearts_exporter_api_throttled_total counter
codearts_exporter_api_throttled_total{api="ShowRunningStatus"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"codearts_exporter_api_requests_total", "codearts_exporter_api_retries_total", "codearts_exporter_api_throttled_total"); err != nil {
		t.Error(err)
	}
	if v := metricValue(t, reg, MetricRequestDuration, map[string]string{"api": "ShowRunningStatus"}); v != 3 {
		t.Errorf("duration observations %v", v)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
	// Nil registerer: works, registers nothing.
	if _, err := New(Options{Endpoint: srv.URL, Auth: Auth{Token: "abcd"}}); err != nil {
		t.Error(err)
	}
}
