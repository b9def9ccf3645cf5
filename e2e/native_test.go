package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// durationFamilies are the two histograms --metrics.duration-histograms
// changes.
var durationFamilies = []string{"codearts_build_action_duration_seconds", "codearts_build_duration_seconds"}

// classicOnlyPanels read the classic buckets by design (a heatmap per le);
// their descriptions say so.
var classicOnlyPanels = []string{"Action duration distribution"}

// TestNativeHistogramsEndToEnd runs the exporter with
// --metrics.duration-histograms=native against a real Prometheus with
// native histograms enabled, which then scrapes protobuf: the duration
// families arrive as native histograms only (no _bucket, _sum or _count
// series), with the exporter's counts, and every recording rule and every
// dashboard query that reads them still returns data and evaluates without
// error, except the panels that are classic by design.
func TestNativeHistogramsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	promBin := requireTool(t, "prometheus")
	began := time.Now()
	dir := t.TempDir()
	exporterBin := buildExporter(t, dir)

	exporterAddr := freeAddr(t)
	exporter := startProcess(t, dir, "exporter", exporterBin, "--demo",
		"--metrics.duration-histograms=native", "--web.listen-address="+exporterAddr, "--log.level=info")
	waitHTTP(t, exporter, "http://"+exporterAddr+"/-/ready", 30*time.Second)

	prom, api := startPrometheus(t, promBin, dir, exporterAddr, "--enable-feature=native-histograms")

	var job string
	eventually(t, 60*time.Second, "a job with native action and build duration histograms", func() error {
		for _, s := range api.query(`group by (job_name) (histogram_count(codearts_build_action_duration_seconds)) and on (job_name) group by (job_name) (histogram_count(codearts_build_duration_seconds))`) {
			job = s.Metric["job_name"]
			return nil
		}
		return fmt.Errorf("none yet")
	})
	for _, f := range durationFamilies {
		if s := api.query(fmt.Sprintf(`{__name__=~"%s_(bucket|sum|count)"}`, f)); len(s) > 0 {
			t.Errorf("%s: Prometheus stored %d classic series (%v), want native histograms only", f, len(s), s[0].Metric)
		}
	}
	// Prometheus has the exporter's counts: the text exposition's _count
	// equals histogram_count of what Prometheus scraped from protobuf, for
	// builds (they change rarely; retried in case one finished between).
	eventually(t, 20*time.Second, "Prometheus' build counts equal the exporter's", func() error {
		m, err := exporterMetrics(exporterAddr)
		if err != nil {
			return err
		}
		var want float64
		for k, v := range m {
			if strings.HasPrefix(k, "codearts_build_duration_seconds_count{") {
				want += v
			}
		}
		got := api.query(`sum(histogram_count(codearts_build_duration_seconds))`)
		if want == 0 || len(got) != 1 || len(got[0].Value) != 2 || got[0].Value[1] != fmt.Sprint(want) {
			return fmt.Errorf("Prometheus %v, exporter %v", got, want)
		}
		return nil
	})
	t.Logf("Prometheus holds native duration histograms of %s after %v", job, time.Since(began).Round(time.Second))

	pending := map[string]string{}
	for _, d := range loadDashboards(t) {
		vars := map[string]string{"datasource": "prometheus", "exporter_job": "codearts_build", "job_name": ".+", "action": ".+"}
		if d.UID == "codearts-build-job" {
			vars["job_name"] = job
		}
		for _, q := range d.queries() {
			if slices.Contains(classicOnlyPanels, q.panel) || !readsDurations(q.expr) {
				continue
			}
			pending[q.String()] = substitute(q.expr, vars)
		}
	}
	rules := loadRules(t)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" && readsDurations(r.Expr) && !strings.Contains(r.Expr, "_bucket") {
				pending["recording rule "+r.Record] = r.Record
			}
		}
	}
	if len(pending) < 10 {
		t.Fatalf("only %d queries read the duration families: %v", len(pending), pending)
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) && len(pending) > 0 {
		for id, expr := range pending {
			if len(api.query(expr)) > 0 {
				delete(pending, id)
				t.Logf("%s has data after %v", id, time.Since(began).Round(time.Second))
			}
		}
		time.Sleep(time.Second)
	}
	reportPending(t, pending)
	api.checkRulesHealthy()
	if t.Failed() {
		t.Logf("exporter log tail:\n%s\nprometheus log tail:\n%s", exporter.tail(), prom.tail())
	}
	t.Logf("native histogram end-to-end test took %v", time.Since(began).Round(time.Second))
}

// readsDurations reports whether a PromQL expression reads one of the
// duration families or a rule recorded from them.
func readsDurations(expr string) bool {
	return strings.Contains(expr, "codearts_build_action_duration_seconds") ||
		strings.Contains(expr, "codearts_build_duration_seconds") || strings.Contains(expr, "codearts_build_builds") ||
		strings.Contains(expr, "codearts_build_action_runs")
}
