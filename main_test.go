package main

// These tests build the binary once and use it as a user would: flags, exit
// codes, stderr, real HTTP on a loopback port, signals and kill -9.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/syncbuf"
	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "codearts_build_exporter-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, name)
	args := []string{"build", "-buildvcs=false", "-o", binary}
	if raceEnabled {
		args = append(args, "-race") // races in the real process fail its exit status
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binary:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runBinary runs the binary to completion and returns its exit status,
// stdout and stderr.
func runBinary(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--web.telemetry-path"},
		{"--demo.seed=abc"},
		{"--log.level=loud"},
		{"unexpected-argument"},
	} {
		code, _, stderr := runBinary(t, nil, args...)
		require.Equal(t, 2, code, "%v: usage errors exit 2; stderr: %s", args, stderr)
		require.Contains(t, stderr, "try --help", args)
	}

	code, stdout, _ := runBinary(t, nil, "--help")
	require.Equal(t, 0, code)
	for _, flag := range []string{"--config.file=", "config.check ", "--web.listen-address=:19876", "--web.config.file=",
		"--web.telemetry-path=", "--state.file=", "]demo ", "--demo.seed=", "--log.level=", "--log.format="} {
		require.Contains(t, stdout, flag)
	}
	code, stdout, stderr := runBinary(t, nil, "--version")
	require.Equal(t, 0, code)
	require.Contains(t, stdout+stderr, name+", version")
}

func TestConfigCheck(t *testing.T) {
	code, stdout, stderr := runBinary(t, nil, "--config.check", "--config.file=config/testdata/good.yml")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "config/testdata/good.yml: OK: 3 jobs, aksk authentication, 2 severity rules")
	require.NotContains(t, stdout+stderr, "SKGOODSECRETVALUE")

	bad, err := filepath.Glob("config/testdata/*bad*.yml")
	require.NoError(t, err)
	require.NotEmpty(t, bad)
	for _, f := range bad {
		first, err := os.ReadFile(f)
		require.NoError(t, err)
		want, ok := strings.CutPrefix(strings.SplitN(string(first), "\n", 2)[0], "# want: ")
		require.True(t, ok, f)
		code, stdout, stderr := runBinary(t, nil, "--config.check", "--config.file="+f)
		require.Equal(t, 1, code, "%s: a bad config exits 1; stdout %q", f, stdout)
		require.Contains(t, stderr, "config/testdata/"+want, f)
	}

	code, _, stderr = runBinary(t, nil, "--config.check", "--config.file=/nonexistent/c.yml")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "/nonexistent/c.yml: cannot read config file: no such file or directory")

	webCfg := filepath.Join(t.TempDir(), "web.yml")
	require.NoError(t, os.WriteFile(webCfg, []byte("tls_server_config:\n  cert_file: /nonexistent.crt\n"), 0o600))
	code, _, stderr = runBinary(t, nil, "--config.check", "--config.file=config/testdata/good.yml", "--web.config.file="+webCfg)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, webCfg+":")
}

// TestConfigCheckFromStdin: a config given through a pipe is checked like
// a file (cat x.yml | codearts_build_exporter --config.check
// --config.file=/dev/stdin); a directory is refused with a clear message.
func TestConfigCheckFromStdin(t *testing.T) {
	cfg := "codearts:\n  endpoint: https://cloudbuild-ext.cn-north-4.myhuaweicloud.com\n" +
		"  project_id: 0123456789abcdef0123456789abcdef\n" +
		"  auth:\n    access_key: AKSTDINEXAMPLE\n    secret_key: SKSTDINSECRETVALUE\n" +
		"jobs:\n  - id: 0123456789abcdef0123456789abcdef\n    name: backend-ci\n"
	code, stdout, stderr := runBinary(t, strings.NewReader(cfg), "--config.check", "--config.file=/dev/stdin")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "/dev/stdin: OK: 1 job, aksk authentication")
	require.NotContains(t, stdout+stderr, "SKSTDINSECRETVALUE")

	code, stdout, stderr = runBinary(t, strings.NewReader(cfg+"  - id: short\n"), "--config.check", "--config.file=/dev/stdin")
	require.Equal(t, 1, code, stdout)
	require.Contains(t, stderr, "/dev/stdin:10: jobs[1].id")

	dir := t.TempDir()
	code, _, stderr = runBinary(t, nil, "--config.check", "--config.file="+dir)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, dir+": cannot read config file: is a directory")
}

func TestStartWithBadConfigExits1(t *testing.T) {
	code, _, stderr := runBinary(t, nil, "--config.file=config/testdata/bad-job-id.yml", "--web.listen-address=127.0.0.1:0")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "config/testdata/bad-job-id.yml:11: jobs[1].id")
}

// exporter is a running binary.
type exporter struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *syncbuf.Buffer
	url    string
	exited chan struct{}
}

var listeningRE = regexp.MustCompile(`"msg":"Listening on","address":"([^"]+)"`)

// startExporter starts the binary on a free loopback port and waits until it
// listens. The process is killed when the test ends.
func startExporter(t *testing.T, env []string, args ...string) *exporter {
	t.Helper()
	return startBinary(t, binary, env, args...)
}

// startBinary is startExporter for another build of the exporter.
func startBinary(t *testing.T, binary string, env []string, args ...string) *exporter {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--web.listen-address=127.0.0.1:0", "--log.format=json"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	e := &exporter{t: t, cmd: cmd, stderr: &syncbuf.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = e.stderr
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(e.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-e.exited
		if t.Failed() {
			t.Logf("exporter %v stderr:\n%s", args, e.stderr)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(e.stderr.String()); m != nil {
			e.url = "http://" + m[1]
			return e
		}
		select {
		case <-e.exited:
			t.Fatalf("exporter exited with %d before listening:\n%s", cmd.ProcessState.ExitCode(), e.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("exporter did not listen within 30s:\n%s", e.stderr)
	return nil
}

func (e *exporter) do(method, path string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	require.NoError(e.t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp.StatusCode, string(b)
}

// scrape returns every sample of /metrics, keyed by its series
// (name{labels}), plus the raw text.
func (e *exporter) scrape() (map[string]float64, string) {
	e.t.Helper()
	code, body := e.do(http.MethodGet, "/metrics")
	require.Equal(e.t, http.StatusOK, code, body)
	return parseSamples(e.t, body), body
}

// parseSamples parses a text exposition into samples keyed by series.
func parseSamples(t *testing.T, body string) map[string]float64 {
	dec := &expfmt.SampleDecoder{
		Dec:  expfmt.NewDecoder(strings.NewReader(body), expfmt.NewFormat(expfmt.TypeTextPlain)),
		Opts: &expfmt.DecodeOptions{Timestamp: model.Now()},
	}
	out := map[string]float64{}
	for {
		var vec model.Vector
		err := dec.Decode(&vec)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Errorf("parsing /metrics: %v", err)
			return out
		}
		for _, s := range vec {
			out[s.Metric.String()] = float64(s.Value)
		}
	}
}

// sum adds the samples of one metric name whose series contain every
// label matcher (like `job_name="a"`).
func sum(samples map[string]float64, metric string, matchers ...string) (float64, int) {
	total, n := 0.0, 0
	for k, v := range samples {
		if !strings.HasPrefix(k, metric+"{") && k != metric {
			continue
		}
		ok := true
		for _, m := range matchers {
			ok = ok && strings.Contains(k, m)
		}
		if ok {
			total += v
			n++
		}
	}
	return total, n
}

// signal sends sig and, for SIGTERM/SIGINT, waits for the exit status.
func (e *exporter) terminate() int {
	e.t.Helper()
	require.NoError(e.t, e.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-e.exited:
	case <-time.After(15 * time.Second):
		e.t.Fatalf("exporter did not exit within 15s of SIGTERM:\n%s", e.stderr)
	}
	return e.cmd.ProcessState.ExitCode()
}

func (e *exporter) kill9() {
	e.t.Helper()
	require.NoError(e.t, e.cmd.Process.Signal(syscall.SIGKILL))
	<-e.exited
}

// eventually polls cond every 100ms until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDemo(t *testing.T) {
	start := time.Now()
	e := startExporter(t, nil, "--demo")

	code, body := e.do(http.MethodGet, "/-/healthy")
	require.Equal(t, http.StatusOK, code, body)

	// /metrics shows codearts_build_log_records_total changing within 10 s of start.
	first := -1.0
	changed := false
	for time.Since(start) < 10*time.Second {
		s, _ := e.scrape()
		v, n := sum(s, "codearts_build_log_records_total")
		if n > 0 && first < 0 {
			first = v
		} else if n > 0 && v > first {
			changed = true
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.True(t, changed, "codearts_build_log_records_total did not change within 10s of start (first value %v)\n%s", first, e.stderr)

	eventually(t, 30*time.Second, "/-/ready after the first poll", func() bool {
		code, _ := e.do(http.MethodGet, "/-/ready")
		return code == http.StatusOK
	})

	s, text := e.scrape()
	_, n := sum(s, "codearts_build_exporter_build_info")
	require.Equal(t, 1, n, "version collector")
	_, n = sum(s, "go_goroutines")
	require.Equal(t, 1, n, "Go collector")
	_, n = sum(s, "process_start_time_seconds")
	require.Equal(t, 1, n, "process collector")
	_, n = sum(s, "codearts_build_job_info")
	require.Greater(t, n, 1, "the demo has several jobs")
	require.Contains(t, text, `level="error"`, "the demo's logs have error records")
	promtoolCheckMetrics(t, text)

	code, body = e.do(http.MethodGet, "/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `href="/metrics"`)
	require.Contains(t, body, `href="/status"`, "the landing page links the status page")
	require.NotContains(t, body, "/debug/pprof", "no profiling endpoints are served, so none are linked")
	code, _ = e.do(http.MethodPost, "/-/reload")
	require.Equal(t, http.StatusForbidden, code, "/-/reload needs --web.enable-lifecycle")

	require.Equal(t, 0, e.terminate(), "graceful shutdown exits 0; stderr:\n%s", e.stderr)
	require.Contains(t, e.stderr.String(), "Shutting down")
}

// promtoolCheckMetrics lints an exposition with promtool: skipped with a
// loud message when promtool is missing, except in CI where it fails.
func promtoolCheckMetrics(t *testing.T, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is required in CI (Debian package prometheus; ./test.sh installs it)")
		}
		t.Log("SKIPPING promtool check metrics: promtool not found (./test.sh installs it)")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "promtool check metrics complains")
}

func TestNotReadyUntilFirstPoll(t *testing.T) {
	// A CodeArts that never answers: the first poll cannot finish.
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hang) })

	cfg := writeConfig(t, t.TempDir(), srv.URL, "", jobLine("0123456789abcdef0123456789abcdef", "stuck"))
	e := startExporter(t, nil, "--config.file="+cfg)
	code, _ := e.do(http.MethodGet, "/-/healthy")
	require.Equal(t, http.StatusOK, code)
	for range 5 {
		code, body := e.do(http.MethodGet, "/-/ready")
		require.Equal(t, http.StatusServiceUnavailable, code, body)
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, 0, e.terminate(), "SIGTERM during a hanging poll still exits cleanly")
}

func jobLine(id, name string) string {
	return fmt.Sprintf("  - id: %q\n    name: %q\n", id, name)
}

// writeConfig writes a config for a simulator at endpoint (token auth,
// no rate limit to speak of, 1s polls) and returns its path. extra goes
// at the top level.
func writeConfig(t *testing.T, dir, endpoint, extra string, jobs ...string) string {
	t.Helper()
	path := filepath.Join(dir, "config.yml")
	rewriteConfig(t, path, endpoint, extra, jobs...)
	return path
}

func rewriteConfig(t *testing.T, path, endpoint, extra string, jobs ...string) {
	t.Helper()
	cfg := fmt.Sprintf(`codearts:
  endpoint: %q
  project_id: "0123456789abcdef0123456789abcdef"
  requests_per_second: 500
  burst: 100
  max_concurrency: 8
  timeout: 5s
  max_retries: 5
  auth:
    token_file: token.txt
poll_interval: 1s
backfill_builds: 5
%s
jobs:
%s`, endpoint, extra, strings.Join(jobs, ""))
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(path), "token.txt"), []byte(testToken+"\n"), 0o600))
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(cfg), 0o600))
	require.NoError(t, os.Rename(tmp, path)) // a reload never sees half a file
}

const testToken = "test-token-SECRETVALUE"

func TestAnalyzeDispatch(t *testing.T) {
	log := "[2026/09/10 17:26:22.661 GMT+08:00] [INFO] [代码检出:external_pre_checkout] : 该步骤开始执行\n" +
		"[2026/09/10 17:26:23.100 GMT+08:00] [ERROR] [代码检出:external_pre_checkout] : clone failed\n" +
		"[2026/09/10 17:26:24.000 GMT+08:00] [INFO] [代码检出:external_pre_checkout] : 该步骤执行完成\n" +
		"Finished: FAILURE\n"
	code, stdout, stderr := runBinary(t, strings.NewReader(log), "analyze", "--format=json", "-")
	require.Equal(t, 0, code, stderr)
	require.True(t, json.Valid([]byte(stdout)), "analyze --format=json prints JSON: %s", stdout)
	require.Contains(t, stdout, "代码检出")

	code, stdout, _ = runBinary(t, strings.NewReader(log), "analyze", "--format=openmetrics", "--job-name=local-test", "-")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, `job_name="local-test"`)
	require.True(t, strings.HasSuffix(stdout, "# EOF\n"), "OpenMetrics ends with # EOF")

	code, _, _ = runBinary(t, nil, "analyze", "--no-such-flag")
	require.Equal(t, 2, code, "analyze usage errors exit 2")
	code, _, stderr = runBinary(t, nil, "analyze", "/nonexistent/build.log")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "/nonexistent/build.log")
}

// monotonic remembers the highest value seen per codearts_build_* counter
// and histogram series and reports any decrease (a series that vanishes
// went down to nothing).
type monotonic struct {
	seen map[string]float64
}

func (m *monotonic) decreases(samples map[string]float64) []string {
	var down []string
	for k, v := range samples {
		if !strings.HasPrefix(k, "codearts_build_") || strings.HasPrefix(k, "codearts_build_last_build_") ||
			strings.HasPrefix(k, "codearts_build_job_info") || strings.HasPrefix(k, "codearts_build_exporter_") {
			continue // gauges
		}
		if prev, ok := m.seen[k]; ok && v < prev {
			down = append(down, fmt.Sprintf("%s: %v -> %v", k, prev, v))
		}
		if v > m.seen[k] {
			m.seen[k] = v
		}
	}
	for k, prev := range m.seen {
		if _, ok := samples[k]; !ok && prev > 0 {
			down = append(down, fmt.Sprintf("%s: %v -> (gone)", k, prev))
		}
	}
	sort.Strings(down)
	return down
}

// startSimulator serves a simulated CodeArts with token auth on loopback.
func startSimulator(t *testing.T, o simulator.Options) (*simulator.Server, string) {
	t.Helper()
	o.Token = testToken
	sim, err := simulator.New(o)
	require.NoError(t, err)
	url, stop, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop(context.Background()) })
	return sim, url
}

// fastJob is a job that is always building and writes 20 records a second.
func fastJob(name string) simulator.JobSpec {
	return simulator.JobSpec{
		ID: simulator.DemoJobID(name), Name: name, Continuous: true, RecordsPerSecond: 20,
		FailureRate: 0.2, ErrorSpikeRate: 0.2, SpikeRecords: 20,
		Stages: []simulator.StageSpec{
			{DisplayName: "代码检出", Tool: "git", MinDuration: 2 * time.Second, MaxDuration: 3 * time.Second},
			{DisplayName: "Maven构建", Tool: "maven", MinDuration: 2 * time.Second, MaxDuration: 4 * time.Second},
		},
	}
}

// retryFaults are every kind of simulator fault; the 429s name a limit far
// above the test's rate, so the client, which adopts it, does not slow down.
var retryFaults = simulator.Faults{Rate: 0.05, SlowDelay: 200 * time.Millisecond, ThrottleLimit: 60000}

func TestReloadKeepsStateAndRejectsBadConfig(t *testing.T) {
	a, b, c := fastJob("reload-a"), fastJob("reload-b"), fastJob("reload-c")
	_, url := startSimulator(t, simulator.Options{Seed: 3, Jobs: []simulator.JobSpec{a, b, c}, Faults: retryFaults})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, url, "", jobLine(a.ID, a.Name))
	e := startExporter(t, nil, "--config.file="+cfg, "--web.enable-lifecycle")
	mono := &monotonic{seen: map[string]float64{}}
	records := func(job string) float64 {
		s, _ := e.scrape()
		require.Empty(t, mono.decreases(s), "counters went down while reloading")
		v, _ := sum(s, "codearts_build_log_records_total", `job_name="`+job+`"`)
		return v
	}
	eventually(t, 30*time.Second, "records of reload-a", func() bool { return records("reload-a") > 0 })

	// POST /-/reload adds a job; reload-a's counters continue.
	rewriteConfig(t, cfg, url, "", jobLine(a.ID, a.Name), jobLine(b.ID, b.Name))
	code, body := e.do(http.MethodPost, "/-/reload")
	require.Equal(t, http.StatusOK, code, body)
	eventually(t, 30*time.Second, "records of reload-b after POST /-/reload", func() bool { return records("reload-b") > 0 })
	before := records("reload-a")
	eventually(t, 30*time.Second, "reload-a keeps counting", func() bool { return records("reload-a") > before })

	// SIGHUP adds another.
	rewriteConfig(t, cfg, url, "", jobLine(a.ID, a.Name), jobLine(b.ID, b.Name), jobLine(c.ID, c.Name))
	require.NoError(t, e.cmd.Process.Signal(syscall.SIGHUP))
	eventually(t, 30*time.Second, "records of reload-c after SIGHUP", func() bool { return records("reload-c") > 0 })
	s, _ := e.scrape()
	require.Equal(t, 1.0, s["codearts_exporter_config_last_reload_successful"])

	// A bad file over POST: 500 with FILE:LINE, the old config stays.
	rewriteConfig(t, cfg, url, "poll_intervall: 5s", jobLine(a.ID, a.Name))
	code, body = e.do(http.MethodPost, "/-/reload")
	require.Equal(t, http.StatusInternalServerError, code)
	require.Contains(t, body, cfg+`:13: unknown key "poll_intervall"`)
	_, page := e.do(http.MethodGet, "/status")
	require.Contains(t, page, `<span class="badge down">failed</span>`, "/status shows the failed reload")
	require.Contains(t, page, cfg+`:13: unknown key &#34;poll_intervall&#34;`)
	s, _ = e.scrape()
	require.Equal(t, 0.0, s["codearts_exporter_config_last_reload_successful"])
	_, n := sum(s, "codearts_build_job_info")
	require.Equal(t, 3, n, "the three jobs of the old config stay")
	before = records("reload-c")
	eventually(t, 30*time.Second, "the old config keeps polling", func() bool { return records("reload-c") > before })

	// A bad file over SIGHUP: logged with FILE:LINE.
	rewriteConfig(t, cfg, url, "", jobLine("not-a-job-id", "x"))
	require.NoError(t, e.cmd.Process.Signal(syscall.SIGHUP))
	eventually(t, 10*time.Second, "the SIGHUP reload error in the log", func() bool {
		return strings.Contains(e.stderr.String(), `jobs[0].id \"not-a-job-id\" is not a CodeArts job id`)
	})
	require.Contains(t, e.stderr.String(), "Error reloading config; the previous config stays in force")
	_, n = sum(s, "codearts_build_job_info")
	require.Equal(t, 3, n)

	require.NotContains(t, e.stderr.String(), "SECRETVALUE", "the token never appears in logs")
	_, text := e.scrape()
	require.NotContains(t, text, "SECRETVALUE")
	require.Equal(t, 0, e.terminate(), "stderr:\n%s", e.stderr)
}

func TestWrongCredentialsStayOutOfLogs(t *testing.T) {
	j := fastJob("wrong-token")
	_, url := startSimulator(t, simulator.Options{Seed: 4, Jobs: []simulator.JobSpec{j}})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, url, "", jobLine(j.ID, j.Name))
	// The token file now holds a wrong token: every call gets 401.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token.txt"), []byte("wrong-WRONGSECRET\n"), 0o600))
	e := startExporter(t, nil, "--config.file="+cfg, "--log.level=debug")
	eventually(t, 30*time.Second, "a failed poll is logged", func() bool {
		return strings.Contains(e.stderr.String(), "poll failed")
	})
	s, text := e.scrape()
	require.Equal(t, 0.0, s[`codearts_exporter_job_up{job_name="wrong-token"}`])
	for _, secret := range []string{"WRONGSECRET", "SECRETVALUE"} {
		require.NotContains(t, e.stderr.String(), secret)
		require.NotContains(t, text, secret)
	}
}

// TestKill9RestartNeverGoesBackwards kills the exporter with SIGKILL 20 times
// at random moments while it reads a simulator with faults and small random
// pages, restarting it with the same --state.file each time. No scrape may
// see a codearts_build_* series lower than an earlier scrape saw, and once
// the simulator's builds are all finished the totals equal its ground truth.
func TestKill9RestartNeverGoesBackwards(t *testing.T) {
	const builds, kills = 4, 20
	job := simulator.JobSpec{
		ID: simulator.DemoJobID("kill9"), Name: "kill9", MaxBuilds: builds, RecordsPerSecond: 15,
		FailureRate: 0.9, ErrorSpikeRate: 0.3, SpikeRecords: 30, // seed 9: builds 1 and 3 fail
		Stages: []simulator.StageSpec{
			{DisplayName: "代码检出", Tool: "git", MinDuration: 2 * time.Second, MaxDuration: 4 * time.Second},
			{DisplayName: "Maven构建", Tool: "maven", MinDuration: 3 * time.Second, MaxDuration: 6 * time.Second},
			{DisplayName: "unit tests", Tool: "gotest", MinDuration: 2 * time.Second, MaxDuration: 5 * time.Second},
		},
	}
	sim, url := startSimulator(t, simulator.Options{
		Seed: 9, Clock: simulator.ScaledClock(time.Now(), 2), Jobs: []simulator.JobSpec{job},
		ChunkMin: 40, ChunkMax: 600, Faults: retryFaults,
	})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, url, "", jobLine(job.ID, job.Name))
	state := filepath.Join(dir, "state.json")
	args := []string{"--config.file=" + cfg, "--state.file=" + state}

	mono := &monotonic{seen: map[string]float64{}}
	var mu sync.Mutex // guards cur, mono and scrapes
	cur := startExporter(t, nil, args...)
	scrapes := 0
	stopScraping := make(chan struct{})
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		for {
			select {
			case <-stopScraping:
				return
			case <-time.After(30 * time.Millisecond):
			}
			mu.Lock()
			url := cur.url
			mu.Unlock()
			resp, err := http.Get(url + "/metrics")
			if err != nil {
				continue // killed and not yet restarted
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				continue
			}
			s := parseSamples(t, string(body))
			mu.Lock()
			if down := mono.decreases(s); len(down) > 0 {
				t.Errorf("counters went down across kill -9 restarts: %v", down)
			}
			scrapes++
			mu.Unlock()
		}
	}()

	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	threshold := 0.0
	allFinished := func() bool {
		n := 0
		for _, b := range sim.Truth().Jobs[0].Builds {
			if b.Finished {
				n++
			}
		}
		return n == builds
	}
	for kill := range kills {
		// Let it read more records first (while there are more to read),
		// then kill it at a random moment.
		eventually(t, 60*time.Second, "new records before the kill", func() bool {
			s, _ := cur.scrape()
			v, _ := sum(s, "codearts_build_log_records_total")
			return v > threshold || allFinished()
		})
		time.Sleep(time.Duration(rnd.IntN(600)) * time.Millisecond)
		cur.kill9()
		next := startExporter(t, nil, args...)
		mu.Lock()
		cur = next
		mu.Unlock()
		s, _ := cur.scrape()
		threshold, _ = sum(s, "codearts_build_log_records_total")
		t.Logf("kill -9 #%d; restarted at %v records", kill+1, threshold)
	}

	// Wait for the simulator to finish every build, then for the exporter
	// to read everything; compare with the ground truth.
	var wantRecords, wantBytes float64
	var finished int
	var wantFailures map[string]float64 // series -> value, classified over each failed step's whole text
	eventually(t, 120*time.Second, "all simulated builds finished", func() bool {
		tr := sim.Truth()
		wantRecords, wantBytes, finished = 0, 0, 0
		wantFailures = map[string]float64{}
		for _, b := range tr.Jobs[0].Builds {
			if b.Finished {
				finished++
			}
			for _, st := range b.Stages {
				if st.NodeID != 0 {
					wantRecords += float64(st.Records)
					wantBytes += float64(st.Bytes)
				}
				if st.NodeID != 0 && st.Finished && metrics.ResultFromStatus(st.Status) == metrics.ResultFailure {
					cls := parser.NewFailureClassifier(nil)
					stream := parser.NewStream(nil, cls.Record)
					_, _ = stream.WriteString(st.Log)
					stream.Flush()
					wantFailures[fmt.Sprintf(`codearts_build_failures_total{action=%q, category=%q, job_name="kill9"}`,
						st.DisplayName, cls.Result().Category)]++
				}
			}
		}
		return finished == builds
	})
	require.NotEmpty(t, wantFailures, "the simulated builds include failed steps")
	eventually(t, 60*time.Second, "exporter totals reach the ground truth", func() bool {
		s, _ := cur.scrape()
		r, _ := sum(s, "codearts_build_log_records_total", `job_name="kill9"`)
		b := s[`codearts_build_log_bytes_total{job_name="kill9"}`]
		n, _ := sum(s, "codearts_build_duration_seconds_count", `job_name="kill9"`)
		return r == wantRecords && b == wantBytes && n == float64(finished)
	})
	close(stopScraping)
	<-scraped
	// Nothing more arrives: the final values stay exactly at the truth.
	time.Sleep(1500 * time.Millisecond)
	s, _ := cur.scrape()
	r, _ := sum(s, "codearts_build_log_records_total", `job_name="kill9"`)
	require.Equal(t, wantRecords, r, "records equal the simulator's truth, each counted once")
	require.Equal(t, wantBytes, s[`codearts_build_log_bytes_total{job_name="kill9"}`])
	gotFailures := map[string]float64{}
	for k, v := range s {
		if strings.HasPrefix(k, "codearts_build_failures_total{") {
			gotFailures[k] = v
		}
	}
	require.Equal(t, wantFailures, gotFailures, "each failed step counted exactly once, classified as over its whole log")
	mu.Lock()
	require.Greater(t, scrapes, 20, "the scraper saw the exporter many times")
	mu.Unlock()
	require.Equal(t, 0, cur.terminate())
}

// TestWebConfigProtectsEveryEndpoint: --web.config.file basic auth covers
// /metrics, /status and /-/reload alike. (dave/dave123 is exporter-toolkit's test user.)
func TestWebConfigProtectsEveryEndpoint(t *testing.T) {
	webCfg := filepath.Join(t.TempDir(), "web.yml")
	require.NoError(t, os.WriteFile(webCfg, []byte(
		"basic_auth_users:\n  dave: $2y$10$2UXri9cIDdgeKjBo4Rlpx.U3ZLDV8X1IxKmsfOvhcM5oXQt/mLmXq\n"), 0o600))
	e := startExporter(t, nil, "--demo", "--web.enable-lifecycle", "--web.config.file="+webCfg)
	call := func(method, path, user, pass string) int {
		req, err := http.NewRequest(method, e.url+path, nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, call(http.MethodGet, "/metrics", "", ""))
	require.Equal(t, http.StatusUnauthorized, call(http.MethodGet, "/metrics", "dave", "wrong"))
	require.Equal(t, http.StatusUnauthorized, call(http.MethodPost, "/-/reload", "", ""))
	require.Equal(t, http.StatusUnauthorized, call(http.MethodGet, "/status", "", ""))
	require.Equal(t, http.StatusUnauthorized, call(http.MethodGet, "/status?job=payment-service", "", ""))
	require.Equal(t, http.StatusUnauthorized, call(http.MethodGet, "/status", "dave", "wrong"))
	require.Equal(t, http.StatusOK, call(http.MethodGet, "/metrics", "dave", "dave123"))
	require.Equal(t, http.StatusOK, call(http.MethodPost, "/-/reload", "dave", "dave123"))
	require.Equal(t, http.StatusOK, call(http.MethodGet, "/status", "dave", "dave123"))
}

// TestReadmeConfigExample keeps the README's minimal configuration valid.
func TestReadmeConfigExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "A minimal `codearts_build_exporter.yml`:\n\n```yaml\n")
	require.True(t, ok, "README has the minimal config example")
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	path := filepath.Join(t.TempDir(), "codearts_build_exporter.yml")
	require.NoError(t, os.WriteFile(path, []byte(example), 0o600))

	cmd := exec.Command(binary, "--config.check", "--config.file="+path)
	cmd.Env = append(os.Environ(), "CODEARTS_SECRET_KEY=from-the-environment")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "OK: 1 job, aksk authentication")
}
