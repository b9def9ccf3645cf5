package collector

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// idleJobs are n jobs whose service reports a last build but never a new
// one: with BackfillBuilds 0 nothing is ever read.
func idleJobs(n int) []Job {
	jobs := make([]Job, n)
	for i := range jobs {
		jobs[i] = Job{ID: fmt.Sprintf("%032x", i), Name: fmt.Sprintf("job-%05d", i)}
	}
	return jobs
}

// An idle job (configured, polled, nothing to read) costs at most 25
// series, whatever its state: the per-job exporter histograms would cost
// 15 alone.
func TestIdleJobSeries(t *testing.T) {
	c, reg := newCollector(t, Options{api: &fakeAPI{latest: 42}, Jobs: idleJobs(3), Logger: testLogger()})
	for range 2 {
		if err := c.PollOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := scrape(t, reg, "codearts_")
	perJob := map[string]int{}
	for k := range s {
		if i := strings.Index(k, `job_name="`); i >= 0 {
			perJob[k[i+len(`job_name="`):][:len("job-00000")]]++
		}
	}
	if len(perJob) != 3 {
		t.Fatalf("series for %d jobs, want 3: %v", len(perJob), perJob)
	}
	t.Logf("series per idle job: %v", perJob)
	for j, n := range perJob {
		if n > 25 {
			t.Errorf("idle job %s has %d series, want at most 25", j, n)
		}
	}
	if s[`codearts_exporter_last_poll_duration_seconds{job_name="job-00001"}`] <= 0 {
		t.Error("the per-job last poll duration is not exported")
	}
	if n := s[`codearts_exporter_poll_duration_seconds_count{}`]; n != 6 {
		t.Errorf("poll duration histogram counted %v polls, want 6 (3 jobs × 2)", n)
	}
}

// BenchmarkScrape serves /metrics through the promhttp handler (with the
// Go and process collectors main.go registers, gzip as Prometheus asks for
// it) for a fleet of jobs: all idle, 1% of them busy (10 actions, 2 builds
// in flight, the busyJob ledger entry), or all busy. "gatherer" is what
// main.go serves (Collector.Gatherer); "registry" is the Collector
// registered on the registry, the baseline. It reports series and bytes per
// scrape, and the process RSS after the scrapes (cumulative: run one
// sub-benchmark alone for a clean RSS).
func BenchmarkScrape(b *testing.B) {
	for _, bc := range []struct {
		jobs, busyEvery int // busyEvery 0: all idle
	}{{1000, 0}, {10000, 0}, {10000, 100}, {1000, 1}} {
		name := fmt.Sprintf("jobs=%d/idle", bc.jobs)
		if bc.busyEvery > 0 {
			name = fmt.Sprintf("jobs=%d/busy=%d%%", bc.jobs, 100/bc.busyEvery)
		}
		b.Run(name+"/gatherer", func(b *testing.B) { benchScrape(b, bc.jobs, bc.busyEvery, true) })
		b.Run(name+"/registry", func(b *testing.B) { benchScrape(b, bc.jobs, bc.busyEvery, false) })
	}
}

func benchScrape(b *testing.B, n, busyEvery int, direct bool) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	jobs := idleJobs(n)
	c, err := New(Options{api: &fakeAPI{latest: 42}, Jobs: jobs, Concurrency: 64})
	if err != nil {
		b.Fatal(err)
	}
	var g prometheus.Gatherer = reg
	if direct {
		reg.MustRegister(c.SelfMetrics())
		g = c.Gatherer(reg)
	} else {
		reg.MustRegister(c)
	}
	if err := c.PollOnce(context.Background()); err != nil {
		b.Fatal(err)
	}
	if busyEvery > 0 {
		l := c.published.Load()
		for i := 0; i < n; i += busyEvery {
			jl := busyJob(i)
			jl.JobID = jobs[i].ID
			l = l.withJob(jobs[i].Name, jl)
		}
		c.published.Store(l)
	}
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	var size, series int
	runtime.GC() // the setup's garbage is not the scrape's
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
		req.Header.Set("Accept-Encoding", "gzip")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		size = w.Body.Len()
	}
	b.StopTimer()
	// Count the series once, uncompressed.
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if line != "" && line[0] != '#' {
			series++
		}
	}
	b.ReportMetric(float64(series), "series")
	b.ReportMetric(float64(series)/float64(n), "series/job")
	b.ReportMetric(float64(len(body))/1e6, "MB_text")
	b.ReportMetric(float64(size)/1e6, "MB_gzip")
	b.ReportMetric(rssMiB(), "RSS_MiB")
}

// rssMiB is the resident set size of this process (Linux; 0 elsewhere).
func rssMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
