package collector

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// richCollector is a sharded Collector whose published ledger holds every
// ledger-derived family: busy jobs (records of every source and level,
// action and build histograms, builds in flight), failures, last builds of
// every result, Chinese and escaping-hungry action names, a job whose id
// changed, configured jobs without an entry, jobs of the other shard and
// discovered jobs that left the list.
func richCollector(t *testing.T) *Collector {
	t.Helper()
	var jobs []Job
	for i := range 60 {
		jobs = append(jobs, Job{ID: fmt.Sprintf("%032x", i*7919), Name: fmt.Sprintf("job-%02d", (i*37)%60)})
	}
	jobs = append(jobs, Job{ID: fmt.Sprintf("%032x", 999), Name: `we"ird\job` + "\nname 构建"})
	c, err := New(Options{api: &fakeAPI{latest: 42}, Jobs: jobs, Concurrency: 8, Shard: 1, TotalShards: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := c.published.Load()
	followed := c.FollowedJobs()
	if len(followed) == 0 || len(followed) == len(jobs) {
		t.Fatalf("%d of %d jobs followed: want a real shard", len(followed), len(jobs))
	}
	for i, j := range followed {
		switch i % 5 {
		case 0:
			jl := busyJob(i)
			jl.JobID = j.ID
			jl.addRecord(`dep"loy\`+"\n阶段", parser.SourceOutput, parser.LevelError)
			jl.observeAction(`dep"loy\`+"\n阶段", "aborted", 5)
			jl.Failures = map[string]map[string]uint64{"构建步骤-3": {"compile": 2, "test": 1}, `a"b`: {"network": 7}}
			jl.LastBuild = &lastBuild{Number: 999, Result: allResults[i%len(allResults)], FinishedMs: 1_764_000_000_123 + int64(i), DurationMs: 61_500}
			l = l.withJob(j.Name, jl)
		case 1:
			jl := busyJob(i)
			jl.JobID = "0123456789abcdef0123456789abcdef" // the config maps the name to another id now
			jl.LastBuild = &lastBuild{Number: 3, Result: metrics.ResultSuccess, DurationMs: 1}
			l = l.withJob(j.Name, jl)
		case 2:
			l = l.withJob(j.Name, nil) // configured, no entry yet
		case 3:
			jl := &jobLedger{JobID: j.ID, LastBuildNo: 7, Bytes: 12345}
			jl.LastBuild = &lastBuild{Number: 7, Result: metrics.ResultUnknown, DurationMs: 0}
			jl.observeBuild(metrics.ResultUnknown, 0)
			l = l.withJob(j.Name, jl)
		}
	}
	// Entries of jobs this instance does not export: not followed at all,
	// and followed no more but still known.
	l = l.withJob("not-followed", busyJob(1))
	for i := range 3 {
		name := fmt.Sprintf("gone-%d", i)
		jl := busyJob(100 + i)
		l = l.withJob(name, jl)
		if i < 2 {
			c.sched.mu.Lock()
			c.sched.departed[name] = Job{ID: jl.JobID, Name: name, Source: SourceDiscovery}
			c.sched.mu.Unlock()
		}
	}
	c.published.Store(l)
	c.self.givenUp.WithLabelValues(followed[0].Name).Inc()
	c.self.pagesRejected.WithLabelValues(followed[1].Name, "backwards").Add(3)
	return c
}

// scrapeAs asks h for /metrics with the given Accept header, uncompressed.
func scrapeAs(t *testing.T, h http.Handler, accept string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", accept)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	body, _ := io.ReadAll(w.Body)
	return w.Header().Get("Content-Type") + "\n" + string(body)
}

// Gatherer serves exactly what a Registry with the Collector registered
// serves, in the text and the OpenMetrics format, next to other registries
// whose family names sort before, between and after the ledger's. Both
// come from ledgerFamilies; the Registry checks every metric's consistency
// and sorts the families and their metrics itself, so a family built
// unsorted, invalid or twice shows up as a difference or an error.
func TestGathererMatchesRegistry(t *testing.T) {
	c := richCollector(t)
	other := prometheus.NewRegistry()
	for _, name := range []string{"a_first", "codearts_build_info_x", "codearts_exporter_api_calls_total", "zz_last"} {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: "Help of " + name + "."}, []string{"x"})
		g.WithLabelValues("b").Set(2)
		g.WithLabelValues("a").Set(1)
		other.MustRegister(g)
	}
	before := prometheus.NewRegistry()
	before.MustRegister(c)
	old := promhttp.HandlerFor(prometheus.Gatherers{before, other}, promhttp.HandlerOpts{})
	after := prometheus.NewRegistry()
	after.MustRegister(c.SelfMetrics())
	now := promhttp.HandlerFor(c.Gatherer(after, other), promhttp.HandlerOpts{})

	for _, accept := range []string{
		"",
		"text/plain;version=0.0.4",
		"application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
	} {
		want, got := scrapeAs(t, old, accept), scrapeAs(t, now, accept)
		if got != want {
			t.Errorf("Accept %q: the Gatherer's exposition differs from the Registry's:\n%s", accept, firstDiff(want, got))
		}
		for _, family := range []string{famRecords.name, famActionDur.name, famBuildDur.name, famFailures.name, famLastBuildNo.name,
			famJobInfo.name, famLastResult.name, famLastTimestamp.name, famLastDuration.name, famInFlight.name, famBytes.name,
			`\"ird\\job\nname 构建"`, "gone-0", "not-followed"} {
			if has := containsLine(got, family); has != (family != "not-followed") {
				t.Errorf("Accept %q: %q in the exposition: %v", accept, family, has)
			}
		}
	}
}

func containsLine(s, sub string) bool {
	for _, line := range strings.Split(s, "\n") {
		if line != "" && line[0] != '#' && strings.Contains(line, sub) {
			return true
		}
	}
	return false
}

// firstDiff shows the first line where got differs from want.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, wl, gl)
		}
	}
	return "(same lines)"
}
