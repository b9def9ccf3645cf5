package collector_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/codearts-build-exporter/codearts_build_exporter/collector"
	"github.com/codearts-build-exporter/codearts_build_exporter/status"
)

// BenchmarkStatusPage serves /status (the overview) and a job's page for
// 1,000 followed jobs with full ledger entries, and a /metrics scrape of
// the same ledger in the same run, alternating, and reports
//
//	metrics_ms      one /metrics scrape (text format)
//	status_ms       one /status overview
//	job_ms          one /status?job=NAME page
//	status/metrics  how many scrapes one overview costs
//
// The issue asks for an overview under 100 ms with 1,000 jobs.
func BenchmarkStatusPage(b *testing.B) {
	c, err := collector.NewStatusBenchCollector(1000)
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	scrape := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	page := status.New(status.Options{Jobs: c, API: nil})
	job := c.FollowedJobs()[500].Name
	serve := func(h http.Handler, target string) time.Duration {
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
		}
		return time.Since(start)
	}
	var m, s, j time.Duration
	n := 0
	for b.Loop() {
		m += serve(scrape, "/metrics")
		s += serve(page, "/status")
		j += serve(page, "/status?job="+job)
		n++
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	b.ReportMetric(ms(m), "metrics_ms")
	b.ReportMetric(ms(s), "status_ms")
	b.ReportMetric(ms(j), "job_ms")
	b.ReportMetric(float64(s)/float64(m), "status/metrics")
}
