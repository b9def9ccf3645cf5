package analyze

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(args, strings.NewReader(stdin), &o, &e)
	return code, o.String(), e.String()
}

func logFiles(t *testing.T) []string {
	t.Helper()
	logs, err := filepath.Glob("testdata/*.log")
	if err != nil || len(logs) < 5 {
		t.Fatalf("testdata: %v (%d logs)", err, len(logs))
	}
	return logs
}

// Golden tests, mtail style: every testdata/*.log has a testdata/*.golden
// holding its `analyze --format=json` output. `go test ./analyze -update`
// rewrites them; review the diff before committing.
func TestGolden(t *testing.T) {
	for _, log := range logFiles(t) {
		t.Run(filepath.Base(log), func(t *testing.T) {
			code, out, errOut := run(t, "", "--format=json", log)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden := strings.TrimSuffix(log, ".log") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s (run with -update and review the diff):\n%s", golden, firstDiff(out, string(want)))
			}
		})
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}

// The goldens are not only self-consistent: these facts were checked by
// hand against the logs.
func TestGoldenFacts(t *testing.T) {
	type runKey struct{ Action, Tag, Result, EndedBy string }
	for _, tc := range []struct {
		file           string
		records, lines int64
		status, result string
		runs           []runKey
	}{
		{"full-build-failure-pytest.log", 518, 537, "FAILURE", "failure", []runKey{
			{"PRE_ENV", "PRE_ENV:slave_create", "success", "marker"},
			{"代码检出", "代码检出:external_pre_checkout", "success", "marker"},
			{"代码检出", "代码检出:external_post_checkout", "success", "marker"}}},
		{"full-build-failure-truncated-tail.log", 417, 415, "FAILURE", "failure", []runKey{
			{"PRE_ENV", "PRE_ENV:slave_create", "success", "marker"},
			{"代码检出", "代码检出:external_pre_checkout", "success", "marker"},
			{"代码检出", "代码检出:external_post_checkout", "success", "marker"}}},
		{"build-step-excerpt-success.log", 56, 62, "", "unknown", []runKey{
			{"BUILD", "BUILD:wait_job_depends", "success", "marker"},
			{"BUILD", "BUILD:build_execute", "success", "marker"}}},
		{"sep14-cache-checkout-failure.log", 15, 17, "FAILURE", "failure", []runKey{
			{"Cache Check", "Cache Check", "success", "marker"},
			{"Code checkout", "Code checkout#preCheckout", "failure", "marker"}}},
		{"maven-npm-go.log", 33, 38, "FAILURE", "failure", []runKey{
			{"Maven构建", "Maven构建:maven_build", "success", "marker"},
			{"npm build", "npm build:npm_build", "unknown", "next-start"},
			{"Go test", "Go test:go_test", "failure", "end-of-log"}}},
	} {
		code, out, errOut := run(t, "", "--format=json", "testdata/"+tc.file)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.file, code, errOut)
		}
		var doc jsonDoc
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		l := doc.Logs[0]
		var runs []runKey
		for _, r := range l.Runs {
			runs = append(runs, runKey{r.Action, r.Tag, r.Result, r.EndedBy})
		}
		if l.Records != tc.records || int64(l.Lines) != tc.lines || l.Build.Status != tc.status || l.Build.Result != tc.result ||
			!equalRuns(runs, tc.runs) {
			t.Errorf("%s: records=%d lines=%d status=%q result=%q runs=%v", tc.file, l.Records, l.Lines, l.Build.Status, l.Build.Result, runs)
		}
		var sum int64
		for _, c := range l.ByLabels {
			sum += c.Count
			if c.Action == "" {
				t.Errorf("%s: empty action label", tc.file)
			}
		}
		if sum != l.Records {
			t.Errorf("%s: records_by_label sums to %d, records %d", tc.file, sum, l.Records)
		}
	}
}

func equalRuns[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTextFormat(t *testing.T) {
	code, out, errOut := run(t, "", "testdata/maven-npm-go.log", "testdata/build-step-excerpt-success.log")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	containsAll(t, "text output", out,
		"== testdata/maven-npm-go.log\n",
		// Times in the log's own zone (GMT+08:00 stays +08:00).
		"build:   FAILURE (result failure), 2026-10-02 14:03:11.204+08:00 .. 2026-10-02 14:03:57.501+08:00, duration 46.297s\n",
		"records: 33 (error 7, warning 3, info 22, debug 1), 38 lines, 3146 bytes\n",
		"ACTION     TAG                    START                          DURATION  RESULT   ENDED BY    ERROR  WARN  INFO  DEBUG  FIRST ERROR\n",
		"Maven构建  Maven构建:maven_build  2026-10-02 14:03:11.318+08:00  9.384s    success  marker      0      1     10    1      -\n",
		"Go test    Go test:go_test        2026-10-02 14:03:49.240+08:00  8.261s    failure  end-of-log  7      0     6     0      line 25: --- FAIL: TestParseOrder (0.00s)\n",
		// The records outside every run get a row, so the rows add up to the header.
		"job        (outside every run)    -                              -         -        -           0      0     1     0      -\n",
		"failure: Go test (Go test:go_test, line 21)\n  category: test\n  cause:    Go tests failed\n  rule:     go-test-fail\n  exit code: 1\n  evidence:\n    line 25: --- FAIL: TestParseOrder (0.00s)\n",
		"first error: line 25, action Go test, output: --- FAIL: TestParseOrder (0.00s)\n",
		"== testdata/build-step-excerpt-success.log\n",
		"build:   no Finished: line (result unknown)",
	)
}

// The real pytest log: the failing output is untagged shell output, so the
// records outside every run are blamed, and the text says so; the rows of
// the table add up to the header.
func TestTextBlamesUntaggedOutput(t *testing.T) {
	code, out, errOut := run(t, "", "testdata/full-build-failure-pytest.log")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	containsAll(t, "text output", out,
		"records: 518 (error 36, warning 4, info 478, debug 0)",
		"job       (outside every run)              -                              -         failure  -         36     3     465   0      line 420:",
		"failure: job\n  blamed: the build failed and no action run did; the failing evidence is in output outside every action run",
		"  category: environment\n  cause:    the test environment could not be allocated\n",
		"  exit code: 1\n",
		"    line 535: script returned exit code 1, exitMessage is: command run failed\n",
	)
	// error 0+0+0+36, warning 1+0+0+3, info 5+6+2+465 = the header.
}

// Every corpus log analysed: openmetrics counts one failure with the
// blamed action and category, like the JSON.
func TestOpenMetricsFailures(t *testing.T) {
	out := openMetrics(t, "--job-name=backend-ci", "testdata/sep14-cache-checkout-failure.log", "testdata/full-build-failure-pytest.log")
	containsAll(t, "openmetrics output", out,
		"# TYPE codearts_build_failures_total counter\n",
		`codearts_build_failures_total{action="Code checkout",category="network",job_name="backend-ci"} 1.0 `,
		`codearts_build_failures_total{action="job",category="environment",job_name="backend-ci"} 1.0 `,
	)
}

func TestFailureRulesFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("- name: sched-no-result\n  match: 'No test case result found'\n  category: test\n  cause: the scheduler found no test results\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "", "--format=json", "--failure-rules.file="+good, "testdata/full-build-failure-pytest.log")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc jsonDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if f := doc.Logs[0].Failures; len(f) != 1 || f[0].Category != "test" || f[0].Rule != "sched-no-result" {
		t.Errorf("failures = %+v, want the file's rule to decide", f)
	}
	code, out, _ = run(t, "", "--format=json", "--no-default-failure-rules", "testdata/full-build-failure-pytest.log")
	if code != 0 || !strings.Contains(out, `"category": "unknown"`) {
		t.Errorf("--no-default-failure-rules: exit %d, want category unknown:\n%s", code, out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("- name: x\n  match: y\n  category: cosmic\n  cause: z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, "", "--failure-rules.file="+bad, "testdata/full-build-failure-pytest.log")
	if code != 1 || !strings.Contains(errOut, `failure rule 0 ("x"): category "cosmic"`) {
		t.Errorf("bad rules: exit %d, stderr %q", code, errOut)
	}
}

func TestStdin(t *testing.T) {
	data, err := os.ReadFile("testdata/sep14-cache-checkout-failure.log")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, string(data), "--format=json", "-")
	_, want, _ := run(t, "", "--format=json", "testdata/sep14-cache-checkout-failure.log")
	want = strings.Replace(want, `"file": "testdata/sep14-cache-checkout-failure.log"`, `"file": "-"`, 1)
	if code != 0 || out != want {
		t.Fatalf("stdin: exit %d %s\n%s", code, errOut, firstDiff(out, want))
	}
	if code, _, errOut := run(t, "", "-", "-"); code != 2 || !strings.Contains(errOut, "more than once") {
		t.Errorf("stdin twice: exit %d, %q", code, errOut)
	}
}

// Standard input (read once, the failure rules matched on every record)
// gives what a regular file (the failure rules matched again where their
// verdict is used) gives, for every fixture and every log of the failure
// corpus, and for them one after another (failures blamed by evidence).
func TestStdinEqualsFile(t *testing.T) {
	corpus, err := filepath.Glob("../parser/testdata/failures/*.log")
	if err != nil || len(corpus) < 10 {
		t.Fatalf("failure corpus: %v (%d logs)", err, len(corpus))
	}
	paths := append(logFiles(t), corpus...)
	var all []byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	cat := filepath.Join(t.TempDir(), "all.log")
	if err := os.WriteFile(cat, all, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(paths, cat) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut := run(t, string(data), "--format=json", "-")
		_, want, _ := run(t, "", "--format=json", p)
		want = strings.Replace(want, `"file": `+strconv.Quote(p), `"file": "-"`, 1)
		if code != 0 || out != want || !strings.Contains(out, `"failures"`) {
			t.Fatalf("%s: stdin: exit %d %s\n%s", p, code, errOut, firstDiff(out, want))
		}
	}
}

// Standard input read from a pipe, in writes of odd sizes that cut
// records, prefixes and characters, gives what the file gives: the blocks
// analysed in parallel need no seeking.
func TestStdinPipe(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.log")
	if err != nil || len(paths) == 0 {
		t.Fatalf("fixtures: %v", err)
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pr, pw := io.Pipe()
		go func() {
			for i, p := 0, data; len(p) > 0; i++ {
				n := min(len(p), 1+i*37%4099)
				if _, err := pw.Write(p[:n]); err != nil {
					return
				}
				p = p[n:]
			}
			pw.Close()
		}()
		var out, errOut strings.Builder
		code := Main([]string{"--format=json", "-"}, pr, &out, &errOut)
		_, want, _ := run(t, "", "--format=json", path)
		want = strings.Replace(want, `"file": "`+path+`"`, `"file": "-"`, 1)
		if code != 0 || out.String() != want {
			t.Fatalf("%s through a pipe: exit %d %s\n%s", path, code, errOut.String(), firstDiff(out.String(), want))
		}
	}
}

// A file whose name starts with @ is analysed, not read as a list of
// arguments (kingpin's @file expansion).
func TestAtFileName(t *testing.T) {
	data, err := os.ReadFile("testdata/sep14-cache-checkout-failure.log")
	if err != nil {
		t.Fatal(err)
	}
	at := filepath.Join(t.TempDir(), "@build.log")
	if err := os.WriteFile(at, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Dir(at))
	code, out, errOut := run(t, "", "--format=json", "@build.log")
	if code != 0 || !strings.Contains(out, `"file": "@build.log"`) {
		t.Fatalf("@build.log: exit %d, stderr %q, stdout starts %.200q", code, errOut, out)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	garbage := make([]byte, 100000)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	noNUL := bytes.ReplaceAll(garbage, []byte{0}, []byte{1})
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	binary := write("garbage.bin", garbage)
	latin := write("noise.bin", noNUL)
	elf := write("tiny.bin", []byte("\x7fELF\x02\x01\x01\x00\x00\x00"))
	empty := write("empty.log", nil)
	unreadable := write("secret.log", []byte("x"))
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	badRules := write("rules.yml", []byte("- name: x\n  match: a\n  level: loud\n"))
	unknownKey := write("rules2.yml", []byte("- name: x\n  match: a\n  colour: red\n  level: info\n"))

	for _, tc := range []struct {
		args    []string
		code    int
		errHas  []string
		skipIfR bool // root can read mode-0 files
	}{
		{[]string{"testdata/build-step-excerpt-success.log"}, 0, nil, false},
		{[]string{empty}, 0, nil, false},
		{[]string{filepath.Join(dir, "missing.log")}, 1, []string{"missing.log", "no such file"}, false},
		{[]string{binary}, 1, []string{"garbage.bin", "not a text log", "NUL"}, false},
		{[]string{latin}, 1, []string{"noise.bin", "not a text log"}, false},
		{[]string{elf}, 1, []string{"tiny.bin", "NUL"}, false},
		{[]string{dir}, 1, []string{dir, "directory"}, false},
		{[]string{unreadable}, 1, []string{"secret.log", "permission denied"}, true},
		{[]string{"testdata/maven-npm-go.log", binary}, 1, []string{"garbage.bin"}, false},
		{[]string{"--rules.file=" + badRules, "testdata/maven-npm-go.log"}, 1, []string{"rules.yml", `severity rule 0 ("x")`, `level "loud"`}, false},
		{[]string{"--rules.file=" + unknownKey, "testdata/maven-npm-go.log"}, 1, []string{"rules2.yml", "line 3", "colour"}, false},
		{[]string{}, 2, []string{"required argument 'file' not provided"}, false},
		{[]string{"--format=xml", "x.log"}, 2, []string{"enum value must be one of text,json,openmetrics"}, false},
		{[]string{"--bogus", "x.log"}, 2, []string{"unknown long flag '--bogus'"}, false},
		{[]string{"--job-name=", "x.log"}, 2, []string{"--job-name must not be empty"}, false},
		{[]string{"--help"}, 0, []string{"--format=text"}, false},
	} {
		if tc.skipIfR && os.Geteuid() == 0 {
			continue
		}
		code, out, errOut := run(t, "", tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, errOut)
		}
		for _, s := range tc.errHas {
			if !strings.Contains(errOut, s) {
				t.Errorf("%v: stderr %q lacks %q", tc.args, errOut, s)
			}
		}
		if tc.code == 1 && out != "" {
			t.Errorf("%v: failed but wrote output %q", tc.args, out)
		}
	}
}

func TestRulesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rules.yml")
	rules := "- name: webpack-ok\n  match: compiled successfully\n  level: debug\n- name: all-npm\n  regex: '^npm '\n  level: warning\n"
	if err := os.WriteFile(p, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	levels := func(args ...string) jsonLevels {
		t.Helper()
		code, out, errOut := run(t, "", append([]string{"--format=json"}, append(args, "testdata/maven-npm-go.log")...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var doc jsonDoc
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Logs[0].Levels
	}
	// Defaults: 7 errors (npm ERR! among them), 3 warnings, 1 debug.
	if lv := levels(); lv != (jsonLevels{Error: 7, Warning: 3, Info: 22, Debug: 1}) {
		t.Errorf("defaults: %+v", lv)
	}
	// Custom rules come first: "npm ERR!" is now a warning, webpack's line debug.
	if lv := levels("--rules.file=" + p); lv != (jsonLevels{Error: 6, Warning: 4, Info: 21, Debug: 2}) {
		t.Errorf("custom rules before the defaults: %+v", lv)
	}
	// Only the custom rules: tool output is info unless they match; the
	// platform levels (one ERROR) do not depend on rules.
	if lv := levels("--rules.file="+p, "--no-default-rules"); lv != (jsonLevels{Error: 1, Warning: 2, Info: 29, Debug: 1}) {
		t.Errorf("custom rules only: %+v", lv)
	}
	// No rules at all.
	if lv := levels("--no-default-rules"); lv.Error != 1 || lv.Warning != 0 || lv.Debug != 0 {
		t.Errorf("no rules: %+v", lv)
	}
}

func openMetrics(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, "", append([]string{"--format=openmetrics"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasSuffix(out, "\n# EOF\n") {
		t.Fatalf("output does not end with # EOF:\n%s", out)
	}
	return out
}

// The OpenMetrics output carries the README.md, Metrics families with values that
// agree with the JSON analysis.
func TestOpenMetricsValues(t *testing.T) {
	files := logFiles(t)
	out := openMetrics(t, append([]string{"--job-name=backend-ci"}, files...)...)
	_, js, _ := run(t, "", append([]string{"--format=json"}, files...)...)
	var doc jsonDoc
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	var wantRecords, wantBytes, finished int64
	var runs int
	for _, l := range doc.Logs {
		wantRecords += l.Records
		wantBytes += l.Bytes
		runs += len(l.Runs)
		if l.Build.Finished {
			finished++
		}
	}
	// The Prometheus text parser reads our output (# EOF is a comment to it).
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatalf("text parser: %v\n%s", err, out)
	}
	sum := func(name string, f func(*dto.Metric) float64) float64 {
		mf := mfs[name]
		if mf == nil {
			t.Fatalf("family %s missing:\n%s", name, out)
		}
		s := 0.0
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == metrics.LabelJobName && l.GetValue() != "backend-ci" {
					t.Errorf("%s: job_name %q", name, l.GetValue())
				}
			}
			if m.GetTimestampMs() == 0 {
				t.Errorf("%s: sample without timestamp", name)
			}
			s += f(m)
		}
		return s
	}
	counter := func(m *dto.Metric) float64 { return m.GetCounter().GetValue() }
	hcount := func(m *dto.Metric) float64 { return float64(m.GetHistogram().GetSampleCount()) }
	if got := sum(metrics.LogRecordsTotal, counter); got != float64(wantRecords) {
		t.Errorf("records_total sums to %v, want %d", got, wantRecords)
	}
	if got := sum(metrics.LogBytesTotal, counter); got != float64(wantBytes) {
		t.Errorf("bytes_total %v, want %d", got, wantBytes)
	}
	if got := sum(metrics.ActionDurationSeconds, hcount); got != float64(runs) {
		t.Errorf("action duration observations %v, want %d", got, runs)
	}
	if got := sum(metrics.BuildDurationSeconds, hcount); got != float64(finished) {
		t.Errorf("build duration observations %v, want %d", got, finished)
	}
	containsAll(t, "output", out,
		`codearts_build_log_records_total{action="代码检出",job_name="backend-ci",level="info",source="platform"} 16.0 `,
		`codearts_build_action_duration_seconds_bucket{action="Code checkout",job_name="backend-ci",result="failure",le="5.0"} 1 `,
		`codearts_build_duration_seconds_bucket{job_name="backend-ci",result="failure",le="120.0"} 3 `,
		"# TYPE codearts_build_log_records_total counter\n",
		"# TYPE codearts_build_action_duration_seconds histogram\n",
	)
	// The timestamp is the newest time in the logs (maven-npm-go.log ends
	// at 2026-10-02 06:03:57.501Z).
	if strings.Count(out, " 1790921037\n") != strings.Count(out, "\n")-strings.Count(out, "#") {
		t.Errorf("not every sample has timestamp 1790921037:\n%s", out)
	}
}

// promtool is the referee (Debian package prometheus; ./test.sh installs it).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if _, err2 := os.Stat("/usr/bin/promtool"); err2 == nil {
			return "/usr/bin/promtool"
		}
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found on PATH or in /usr/bin, and CI=true: install the Debian package prometheus")
		}
		t.Skip("!!! SKIPPED: promtool not found (install the Debian package prometheus); the OpenMetrics output is NOT verified !!!")
	}
	return p
}

// A log without any timestamp (or an empty one) still gives valid
// OpenMetrics, stamped with the current time.
func TestOpenMetricsWithoutTimes(t *testing.T) {
	saved := now
	now = func() time.Time { return time.Unix(1790000000, 0) }
	defer func() { now = saved }()
	p := filepath.Join(t.TempDir(), "plain.log")
	if err := os.WriteFile(p, []byte("no prefix here\nnor here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := openMetrics(t, p)
	containsAll(t, "output", out,
		`codearts_build_log_records_total{action="job",job_name="local",level="info",source="output"} 1.0 1790000000`+"\n",
		`codearts_build_log_bytes_total{job_name="local"} 24.0 1790000000`+"\n",
	)
	if strings.Contains(out, "duration_seconds") {
		t.Errorf("no runs and no finished build, yet durations:\n%s", out)
	}
}

func TestPromtoolAcceptsOpenMetrics(t *testing.T) {
	pt := promtool(t)
	empty := filepath.Join(t.TempDir(), "empty.log")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	all := []string{`__name__="codearts_build_log_bytes_total"`, `__name__="codearts_build_log_records_total"`,
		`__name__="codearts_build_action_duration_seconds_bucket"`, `__name__="codearts_build_duration_seconds_count"`}
	for _, tc := range []struct {
		args   []string
		series []string
	}{
		{logFiles(t), all},
		{[]string{"testdata/build-step-excerpt-success.log"}, all[:3]}, // no Finished: line
		{[]string{empty}, all[:1]},                                     // nothing but the byte count
	} {
		args := tc.args
		out := openMetrics(t, append([]string{"--job-name=backend-ci"}, args...)...)

		check := exec.Command(pt, "check", "metrics")
		check.Stdin = strings.NewReader(out)
		if msg, err := check.CombinedOutput(); err != nil || len(msg) != 0 {
			t.Errorf("promtool check metrics: %v\n%s\n--- input ---\n%s", err, msg, out)
		}

		dir := t.TempDir()
		file := filepath.Join(dir, "analyze.om")
		if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		blocks := filepath.Join(dir, "blocks")
		create := exec.Command(pt, "tsdb", "create-blocks-from", "openmetrics", file, blocks)
		if msg, err := create.CombinedOutput(); err != nil {
			t.Errorf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, msg)
			continue
		}
		// The block holds the series under their scrape names. (promtool
		// 2.42's dump wants a WAL directory next to the blocks.)
		if err := os.Mkdir(filepath.Join(blocks, "wal"), 0o755); err != nil {
			t.Fatal(err)
		}
		dump, err := exec.Command(pt, "tsdb", "dump", blocks).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool tsdb dump: %v\n%s", err, dump)
		}
		for _, want := range tc.series {
			if !strings.Contains(string(dump), want) {
				t.Errorf("tsdb dump lacks %s", want)
			}
		}
	}
}

// containsAll reports each of wants that out (the output called what)
// lacks.
func containsAll(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, out)
		}
	}
}
