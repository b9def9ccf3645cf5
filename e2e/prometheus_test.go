package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

// TestPrometheusEndToEnd runs the real exporter binary in --demo mode and a
// real Prometheus (Debian package) that scrapes it every second and
// evaluates rules.yaml every second, both on loopback, and checks what a
// user would see on the first day:
//
//   - every panel query of every dashboard, with the variables substituted
//     by real label values, returns at least one series;
//   - every recording rule has data and /api/v1/rules reports every rule
//     healthy;
//   - the demo's next error spike drives CodeArtsBuildErrorRecordsSpike to
//     pending (or firing) for the job that has it.
//
// The demo world is deterministic: a seed and the wall clock decide which
// build has an error spike and when. The test asks the simulator's ground
// truth (simulator.Truth with a clock set in the near future) which seed has
// a spike after a quiet spell of its job, a little after Prometheus will
// have started, and runs the demo with that seed (--demo.seed), so the
// spike is a prediction the alert has to meet, not luck. The exporter
// catches up with the logs it backfills before Prometheus starts, as it
// would have long before a real spike on a real Prometheus.
func TestPrometheusEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	promBin := requireTool(t, "prometheus")
	began := time.Now()
	dir := t.TempDir()

	exporterBin := buildExporter(t, dir)

	// The demo's error spike has to reach a Prometheus that has a quiet
	// history of the job, as a real one would have: the alert compares the
	// job's 5m error rate with the median of its own past (rules.yaml), and
	// on a Prometheus only minutes old that past is all there is. So:
	//
	//  1. pick a seed whose spike comes after the time the exporter needs
	//     to start and catch up, with no other error burst of that job in
	//     between (findDemoSpike);
	//  2. start the exporter and wait until it has read the logs it
	//     backfills at start (waitCaughtUp). Read before Prometheus' first
	//     scrape, they are the counters' starting values, not an increase;
	//     read after it, they would be a burst in the 5m rate for the whole
	//     test, larger than the spike (the flake this order fixes);
	//  3. start Prometheus, at least minQuiet before the spike.
	//
	// An attempt that cannot meet that (a loaded machine, a build that
	// started while the exporter did) starts over: a new search from now, a
	// new exporter.
	const (
		minLead, maxLead = 70 * time.Second, 110 * time.Second
		minQuiet         = 40 * time.Second
	)
	var (
		plan         spikePlan
		exporter     *process
		exporterAddr string
	)
	for attempt := 1; ; attempt++ {
		searched := time.Now()
		plan = findDemoSpike(t, searched, minLead, maxLead)
		for try := 0; try < 2 && time.Until(plan.at) < minQuiet+25*time.Second; try++ {
			// The search itself took long (a loaded machine, -race): look
			// again from now rather than start the exporter too late.
			plan = findDemoSpike(t, time.Now(), minLead, maxLead)
		}
		t.Logf("attempt %d (search: %v): demo seed %d: error spike of %d records in job %s, action %s, at %s (in %v; %d error records of the job before it); a failed build in job %s",
			attempt, time.Since(searched).Round(100*time.Millisecond), plan.seed, plan.records, plan.job, plan.action,
			plan.at.Format(time.TimeOnly), time.Until(plan.at).Round(time.Second), plan.before, plan.failedJob)
		exporterAddr = freeAddr(t)
		started := time.Now()
		exporter = startProcess(t, dir, fmt.Sprintf("exporter-%d", attempt), exporterBin,
			"--demo", fmt.Sprintf("--demo.seed=%d", plan.seed),
			"--web.listen-address="+exporterAddr,
			"--state.file="+filepath.Join(dir, fmt.Sprintf("state-%d.json", attempt)),
			"--log.level=info")
		waitHTTP(t, exporter, "http://"+exporterAddr+"/-/ready", 30*time.Second)
		ready := time.Since(started)
		err := waitCaughtUp(t, exporter, exporterAddr, plan, started, time.Until(plan.at.Add(-minQuiet)))
		if err == nil && time.Until(plan.at) >= minQuiet {
			t.Logf("the exporter was ready after %v and had read the backfilled logs of %s after %v; the spike is due in %v",
				ready.Round(100*time.Millisecond), plan.job, time.Since(started).Round(100*time.Millisecond),
				time.Until(plan.at).Round(time.Second))
			break
		}
		if err == nil {
			err = fmt.Errorf("only %v left before the spike", time.Until(plan.at).Round(time.Second))
		}
		if attempt == 3 || time.Since(began) > 100*time.Second {
			t.Fatalf("attempt %d: %v; giving up after %v\nexporter log tail:\n%s", attempt, err, time.Since(began).Round(time.Second), exporter.tail())
		}
		t.Logf("attempt %d: %v; starting over with a new search and a new exporter", attempt, err)
		exporter.stop()
	}

	prom, api := startPrometheus(t, promBin, dir, exporterAddr)

	// The scrape works and sees the exporter.
	eventually(t, 20*time.Second, "the codearts_build target is up", func() error {
		if n := len(api.query(`up{job="codearts_build"} == 1`)); n != 1 {
			return fmt.Errorf("%d up series", n)
		}
		return nil
	})
	t.Logf("Prometheus scrapes the exporter, %v before the spike", time.Until(plan.at).Round(time.Second))

	dashboards := loadDashboards(t)
	rules := loadRules(t)
	// The alert needs only its expression to be true to be pending: the
	// spike's records in the 5m rate above the floor (60 records) and 4
	// times the job's median. A loaded machine reads the spike in tens of
	// seconds rather than at once; 100 s leaves room for that and keeps the
	// whole test under 4 minutes.
	deadline := plan.at.Add(100 * time.Second)

	// Every panel query returns data. Queries are retried until the deadline:
	// a rate() needs two samples, a quantile needs an action to have finished
	// since Prometheus started.
	jobs := api.labelValues("job_name", "codearts_build_job_info")
	if len(jobs) != 4 {
		t.Fatalf("demo jobs from codearts_build_job_info: %q, want 4", jobs)
	}
	pending := map[string]string{} // query id -> expression with variables substituted
	for _, d := range dashboards {
		vars := map[string]string{
			"datasource": "prometheus", "exporter_job": "codearts_build", "job_name": ".+", "action": ".+",
			"console_url": "https://example.invalid",
		}
		if d.UID == "codearts-build-job" {
			vars["job_name"] = plan.job // a single-value variable: a real job
			vars["job_id"] = api.labelValues("job_id", fmt.Sprintf(`codearts_build_job_info{job_name=%q}`, plan.job))[0]
		}
		// Variables resolve like Grafana does: query the label values.
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			sel, label, err := splitLabelValues(substitute(v.queryString(), vars))
			if err != nil {
				t.Fatal(err)
			}
			values := api.labelValues(label, sel)
			if len(values) == 0 {
				t.Errorf("%s: variable %s (%s) has no values", d.file, v.Name, v.queryString())
			}
			if v.Name == "job_name" && d.UID == "codearts-build-job" && !contains(values, plan.job) {
				t.Errorf("%s: variable job_name lists %q, not the demo job %s", d.file, values, plan.job)
			}
		}
		for _, q := range d.queries() {
			pending[q.String()] = substitute(q.expr, vars)
		}
	}
	for _, r := range rules.recordNames() {
		pending["recording rule "+r] = r
	}
	spikeSeen := ""
	// What the alert saw, every few seconds, for the failure message.
	var timeline []string
	lastSample := time.Time{}
	sampleExpr := fmt.Sprintf(`{__name__=~"job_name:codearts_build_log_error_records:rate5m.*|job_name:codearts_build_log_error_records:rate1h_median7d",job_name=%q}`, plan.job)
	for time.Now().Before(deadline) && (len(pending) > 0 || spikeSeen == "") {
		for id, expr := range pending {
			if len(api.query(expr)) > 0 {
				delete(pending, id)
			}
		}
		if spikeSeen == "" && time.Since(lastSample) >= 5*time.Second {
			lastSample = time.Now()
			var parts []string
			for _, s := range api.query(sampleExpr) {
				name := strings.TrimPrefix(s.Metric["__name__"], "job_name:codearts_build_log_error_records:")
				if len(s.Value) == 2 {
					parts = append(parts, fmt.Sprintf("%s=%v", name, s.Value[1]))
				}
			}
			sort.Strings(parts)
			timeline = append(timeline, fmt.Sprintf("spike%+4.0fs: %s", time.Since(plan.at).Seconds(), strings.Join(parts, " ")))
		}
		if spikeSeen == "" {
			for _, a := range api.alerts() {
				if a.Labels["alertname"] == "CodeArtsBuildErrorRecordsSpike" && a.Labels["job_name"] == plan.job {
					spikeSeen = a.State
					t.Logf("CodeArtsBuildErrorRecordsSpike is %s for %s, %v after the predicted spike (value %s)",
						a.State, plan.job, time.Since(plan.at).Round(time.Second), a.Value)
				}
			}
		}
		time.Sleep(time.Second)
	}
	reportPending(t, pending)
	if spikeSeen == "" {
		t.Errorf("CodeArtsBuildErrorRecordsSpike never became pending for job %s (spike predicted at %s); alerts: %+v; 5m error rate and baselines now: %s\nthe job's 5m error rate and baselines over time:\n  %s",
			plan.job, plan.at.Format(time.TimeOnly), api.alerts(),
			api.queryText(`{__name__=~"job_name:codearts_build_log_error_records:rate(5m|1h_median7d).*"}`),
			strings.Join(timeline, "\n  "))
	}

	// Every rule is healthy: no evaluation errors (wrong types, many-to-many
	// matches...) anywhere in rules.yaml, with real data.
	n := api.checkRulesHealthy()
	want := 0
	for _, g := range rules.Groups {
		want += len(g.Rules)
	}
	if n != want {
		t.Errorf("Prometheus loaded %d rules, rules.yaml has %d", n, want)
	}

	// Nothing but the spike (and what the demo's failing jobs cause) should
	// be alerting about the exporter itself.
	for _, a := range api.alerts() {
		switch a.Labels["alertname"] {
		case "CodeArtsExporterDown", "CodeArtsExporterStale":
			t.Errorf("%s is %s against a healthy demo exporter: %v", a.Labels["alertname"], a.State, a.Labels)
		}
	}
	t.Logf("error records of %s in the 5m error rate now (rate x 300): %s; the predicted spike alone has %d", plan.job,
		api.queryText(fmt.Sprintf(`300 * job_name:codearts_build_log_error_records:rate5m{job_name=%q}`, plan.job)), plan.records)
	if t.Failed() {
		t.Logf("exporter log tail:\n%s\nprometheus log tail:\n%s", exporter.tail(), prom.tail())
	}
	t.Logf("end-to-end test took %v", time.Since(began).Round(time.Second))
}

// startPrometheus starts promBin with rules.yaml, scraping the exporter at
// exporterAddr every second, and waits until it is ready.
func startPrometheus(t *testing.T, promBin, dir, exporterAddr string, flags ...string) (*process, promAPI) {
	t.Helper()
	promAddr := freeAddr(t)
	promCfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promCfg, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: codearts_build
    static_configs:
      - targets: [%q]
`, filepath.Join(repoRoot(t), "rules.yaml"), exporterAddr))
	args := append([]string{
		"--config.file=" + promCfg,
		"--storage.tsdb.path=" + filepath.Join(dir, "tsdb"),
		"--web.listen-address=" + promAddr,
		"--log.level=warn",
	}, flags...)
	prom := startProcess(t, dir, "prometheus", promBin, args...)
	waitHTTP(t, prom, "http://"+promAddr+"/-/ready", 30*time.Second)
	return prom, promAPI{t: t, base: "http://" + promAddr}
}

// reportPending fails t for every query of pending (id -> expression)
// that never returned a series.
func reportPending(t *testing.T, pending map[string]string) {
	t.Helper()
	ids := make([]string, 0, len(pending))
	for id := range pending {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t.Errorf("no series for %s: %s", id, pending[id])
	}
}

// checkRulesHealthy fails the test for every rule Prometheus evaluated with
// an error (wrong types, many-to-many matches...) and returns how many
// rules it has loaded.
func (a promAPI) checkRulesHealthy() int {
	a.t.Helper()
	n := 0
	for _, g := range a.rules() {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" || r.LastError != "" {
				a.t.Errorf("rule %s (group %s): health %q, error %q", r.Name, g.Name, r.Health, r.LastError)
			}
		}
	}
	return n
}

// buildExporter builds the exporter binary into dir.
func buildExporter(t *testing.T, dir string) string {
	t.Helper()
	began := time.Now()
	bin := filepath.Join(dir, "codearts_build_exporter")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built the exporter in %v", time.Since(began).Round(time.Second))
	return bin
}

// TestPromtoolRules runs promtool over rules.yaml and rules_test.yaml, so
// that `go test ./...` covers the rule unit tests too.
func TestPromtoolRules(t *testing.T) {
	promtool := requireTool(t, "promtool")
	root := repoRoot(t)
	for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", "rules_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("SUCCESS")) {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// requireTool finds a Prometheus binary on PATH or in /usr/bin. Missing, it
// fails the test in CI (CI=true) and skips it loudly elsewhere.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/bin/" + name; fileExists(p) {
		return p
	}
	msg := fmt.Sprintf("%s not found on PATH or in /usr/bin: install the Debian package prometheus (apt-get install -y prometheus), as ./test.sh does", name)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED, NOT PASSED: " + msg)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// spikePlan is what the simulator's ground truth predicts for a seed.
type spikePlan struct {
	seed        int64
	job, action string
	at          time.Time
	records     int
	// before is the number of error records the job logs between the
	// search and the spike.
	before    int
	failedJob string
}

// maxBefore bounds the error records the spike's job may log between the
// search and the spike (a failed build logs a few dozen): the spike must
// stand out against a quiet history, as it would against a real day. An
// earlier spike of the same job a minute before would be most of what a
// Prometheus that young knows of the job, i.e. its normal (rules.yaml: the
// 1d median is such a burst until about 10 minutes of history exist).
const maxBefore = 30

// findDemoSpike looks for a demo seed whose world has an error spike between
// now+minLead and now+maxLead in a job that logs at most maxBefore error
// records from now until the spike, and a failed build that the exporter
// will ingest before it (so the failure panels have data). A spike is the
// second of a step log with the most error-level records, when the step has
// at least 100 of them within 3 seconds; the records are classified by the
// exporter's own parser and default rules.
func findDemoSpike(t *testing.T, now time.Time, minLead, maxLead time.Duration) spikePlan {
	t.Helper()
	var best *spikePlan
	for seed := int64(1); seed <= 60; seed++ {
		o := simulator.DemoOptions(seed)
		o.Clock = simulator.NewManualClock(now.Add(maxLead + 30*time.Second))
		sim, err := simulator.New(o)
		if err != nil {
			t.Fatalf("simulator.New(DemoOptions(%d)): %v", seed, err)
		}
		truth := sim.Truth()
		var failedJob string
		var spike *spikePlan
		for _, j := range truth.Jobs {
			var jobSpike *spikePlan
			for bi, b := range j.Builds {
				// The exporter backfills the 2 newest builds per job and then
				// follows new ones.
				recent := bi >= len(j.Builds)-6 && b.StartTime.After(now.Add(-4*time.Minute))
				if recent && b.Finished && b.Status == "FAILED" && b.FinishTime.Before(now.Add(minLead)) && failedJob == "" {
					failedJob = j.Name
				}
				if !b.ErrorSpike {
					continue
				}
				for _, st := range b.Stages {
					at, n := densest(errorSeconds(st.Log))
					if n < 100 || at.Before(now.Add(minLead)) || at.After(now.Add(maxLead)) {
						continue
					}
					if jobSpike == nil || at.Before(jobSpike.at) {
						jobSpike = &spikePlan{seed: seed, job: j.Name, action: st.DisplayName, at: at, records: n}
					}
				}
			}
			if jobSpike == nil || spike != nil && !jobSpike.at.Before(spike.at) {
				continue
			}
			// The job's error records from now until the spike (a later
			// spike of the same job would only have more).
			for _, b := range j.Builds {
				if !b.StartTime.Before(jobSpike.at) || b.Finished && b.FinishTime.Before(now.Add(-time.Minute)) {
					continue
				}
				for _, st := range b.Stages {
					for sec, n := range errorSeconds(st.Log) {
						if sec >= now.Unix() && sec < jobSpike.at.Unix() {
							jobSpike.before += n
						}
					}
				}
			}
			if jobSpike.before <= maxBefore {
				spike = jobSpike
			}
		}
		if spike == nil || failedJob == "" {
			continue
		}
		spike.failedJob = failedJob
		if best == nil || spike.at.Before(best.at) {
			best = spike
		}
		if best.at.Before(now.Add(minLead + 20*time.Second)) {
			break
		}
	}
	if best == nil {
		t.Fatalf("no demo seed in 1..60 has an error spike between %v and %v from now after a quiet spell, and a failed build: has the demo (simulator.DemoOptions) lost its error spikes?", minLead, maxLead)
	}
	return *best
}

// errorSeconds counts the error-level records of a log per second of their
// timestamps.
func errorSeconds(log string) map[int64]int {
	perSec := map[int64]int{}
	s := parser.NewStream(parser.DefaultRules(), func(r *parser.Record) {
		if r.HasTime && r.Level == parser.LevelError {
			perSec[r.UnixMilli/1000]++
		}
	})
	_, _ = s.WriteString(log)
	s.Flush()
	return perSec
}

// densest returns the start of the 3-second window with the most error
// records, and their number.
func densest(perSec map[int64]int) (time.Time, int) {
	var bestSec int64
	best := 0
	for sec := range perSec {
		n := perSec[sec] + perSec[sec+1] + perSec[sec+2]
		if n > best || n == best && sec < bestSec {
			best, bestSec = n, sec
		}
	}
	return time.Unix(bestSec, 0), best
}

// waitCaughtUp waits until the exporter started at `started` has read, for
// the spike's job, every log byte the simulator served up to a few seconds
// ago in the builds it ingests: the 2 newest at its first poll (the demo's
// backfill_builds) and every later one. The simulator's ground truth says
// how many bytes that is; codearts_build_log_bytes_total says how many the
// exporter has read.
//
// Which builds were the 2 newest at the first poll is known exactly only if
// no build of the job started while the exporter was starting; otherwise
// the attempt is given up (the caller starts over).
func waitCaughtUp(t *testing.T, exporter *process, addr string, plan spikePlan, started time.Time, timeout time.Duration) error {
	t.Helper()
	const lag = 3 * time.Second // a poll every second, slower on a loaded machine
	o := simulator.DemoOptions(plan.seed)
	clock := simulator.NewManualClock(started.Add(-time.Second))
	o.Clock = clock
	sim, err := simulator.New(o)
	if err != nil {
		t.Fatalf("simulator.New(DemoOptions(%d)): %v", plan.seed, err)
	}
	jobTruth := func(at time.Time) simulator.JobTruth {
		clock.Set(at)
		for _, j := range sim.Truth().Jobs {
			if j.Name == plan.job {
				return j
			}
		}
		t.Fatalf("job %s not in the demo", plan.job)
		return simulator.JobTruth{}
	}
	bytesFrom := func(j simulator.JobTruth, first int64) float64 {
		var n int64
		for _, b := range j.Builds {
			if b.Number >= first {
				for _, st := range b.Stages {
					n += st.Bytes
				}
			}
		}
		return float64(n)
	}
	newest := jobTruth(started.Add(-time.Second)).LastBuildNo
	// Ready means the first poll round ended; with ListJob change detection
	// and catch-up scheduling a job may be polled a moment later, so wait a
	// few seconds for its first poll.
	var seen float64
	for ok, polled := false, time.Now().Add(10*time.Second); !ok; {
		m, err := exporterMetrics(addr)
		if err != nil {
			return err
		}
		seen, ok = m[fmt.Sprintf(`codearts_build_last_build_number{job_name=%q}`, plan.job)]
		if !ok && time.Now().After(polled) {
			return fmt.Errorf("the ready exporter shows no codearts_build_last_build_number for %s after 10s (its first poll of the job failed?)", plan.job)
		}
		if !ok {
			time.Sleep(250 * time.Millisecond)
		}
	}
	if seen != float64(newest) {
		return fmt.Errorf("build %v of %s started while the exporter started (newest before: %d): which builds it backfilled is not known exactly", seen, plan.job, newest)
	}
	first := newest - 1
	deadline := time.Now().Add(timeout)
	for {
		if exporter.exited() {
			t.Fatalf("the exporter exited:\n%s", exporter.tail())
		}
		scraped := time.Now()
		m, err := exporterMetrics(addr)
		if err != nil {
			return err
		}
		read := m[fmt.Sprintf(`codearts_build_log_bytes_total{job_name=%q}`, plan.job)]
		want := bytesFrom(jobTruth(scraped.Add(-lag)), first)
		if all := bytesFrom(jobTruth(time.Now()), first); read > all {
			t.Fatalf("the exporter read %v log bytes of %s, more than the %v bytes of builds %d and later: the backfill is not what this test assumes (2 builds)", read, plan.job, all, first)
		}
		if read >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the exporter had read %v of the %v log bytes of %s that existed %v earlier, after %v", read, want, plan.job, lag, time.Since(started).Round(time.Second))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// exporterMetrics reads the exporter's /metrics: sample (name and labels as
// exposed) -> value.
func exporterMetrics(addr string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, nil
}

// substitute replaces Grafana variables the way Grafana would for these
// dashboards: $x and ${x} by the chosen values, the interval variables by
// fixed ranges that work with a 1 s scrape interval.
func substitute(s string, vars map[string]string) string {
	fixed := map[string]string{
		"__rate_interval": "1m", "__interval": "15s", "__range": "5m", "__range_s": "300", "__range_ms": "300000",
	}
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := varRef.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		if v, ok := fixed[name]; ok {
			return v
		}
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// process is a child process whose output goes to a file.
type process struct {
	name, logPath string
	cmd           *exec.Cmd
	done          chan struct{}
}

func startProcess(t *testing.T, dir, name, bin string, args ...string) *process {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = f.Close(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

// stop interrupts the process and waits for it to exit (killing it after
// 10 s). Stopping a stopped process does nothing.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) tail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitHTTP(t *testing.T, p *process, u string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			t.Fatalf("%s exited before %s answered:\n%s", p.name, u, p.tail())
		}
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not ready after %v (%v):\n%s", p.name, u, timeout, err, p.tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %v", what, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// promAPI is a minimal client of Prometheus' HTTP API.
type promAPI struct {
	t    *testing.T
	base string
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
	Value  string            `json:"value"`
}

type promRuleGroup struct {
	Name  string `json:"name"`
	Rules []struct {
		Name      string `json:"name"`
		Health    string `json:"health"`
		LastError string `json:"lastError"`
		Type      string `json:"type"`
	} `json:"rules"`
}

func (a promAPI) get(path string, params url.Values, into any) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path+"?"+params.Encode(), nil)
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		a.t.Fatalf("GET %s %v: %v", path, params, err)
	}
	if env.Status != "success" {
		a.t.Fatalf("GET %s %v: %s: %s", path, params, env.ErrorType, env.Error)
	}
	if err := json.Unmarshal(env.Data, into); err != nil {
		a.t.Fatalf("GET %s: %v", path, err)
	}
}

// query runs an instant query; a PromQL error fails the test at once (a
// dashboard query Prometheus cannot parse is a bug, not a missing sample).
func (a promAPI) query(expr string) []promSeries {
	a.t.Helper()
	var data struct {
		ResultType string       `json:"resultType"`
		Result     []promSeries `json:"result"`
	}
	a.get("/api/v1/query", url.Values{"query": {expr}}, &data)
	if data.ResultType == "scalar" {
		return []promSeries{{}}
	}
	return data.Result
}

func (a promAPI) queryText(expr string) string {
	var parts []string
	for _, s := range a.query(expr) {
		parts = append(parts, fmt.Sprintf("%v=%v", s.Metric, s.Value))
	}
	return strings.Join(parts, "; ")
}

func (a promAPI) labelValues(label, selector string) []string {
	a.t.Helper()
	var values []string
	a.get("/api/v1/label/"+label+"/values", url.Values{"match[]": {selector}}, &values)
	return values
}

func (a promAPI) alerts() []promAlert {
	a.t.Helper()
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	a.get("/api/v1/alerts", nil, &data)
	return data.Alerts
}

func (a promAPI) rules() []promRuleGroup {
	a.t.Helper()
	var data struct {
		Groups []promRuleGroup `json:"groups"`
	}
	a.get("/api/v1/rules", nil, &data)
	return data.Groups
}
