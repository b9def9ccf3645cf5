package collector

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

// Test environment: the simulator behind a real HTTP server, a signed
// client, and helpers to scrape a registry and compute the ground truth.

const (
	testAK      = "HWTESTAKCOLLECTOR0001"
	testSK      = "testSecretKeyForTheCollectorTests0001"
	testProject = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
)

type env struct {
	t      testing.TB
	clock  *simulator.ManualClock
	sim    *simulator.Server
	srv    *httptest.Server
	client *codearts.Client
	specs  []simulator.JobSpec
}

type envOpts struct {
	seed      int64
	faultRate float64
	retries   int // client MaxRetries: 0 lets every fault reach the collector
	retain    int // simulator RetainBuilds (0: its default)
	chunkMin  int
	chunkMax  int
	jobs      []simulator.JobSpec
	start     time.Time // the simulator clock's start (zero: now, to the second)
	hostile   simulator.Hostile
	maxBody   int64 // client MaxResponseBytes (0: its default)
}

// testJobs are three small jobs that together cover Chinese and English
// actions, both timestamp forms, failures, aborts (skipped stages), error
// spikes, a stage without a log and builds that exist before the first poll.
func testJobs(maxBuilds int) []simulator.JobSpec {
	sec := time.Second
	return []simulator.JobSpec{
		{
			ID: simulator.DemoJobID("alpha"), Name: "alpha-ci", Offset: -50 * sec, MaxBuilds: maxBuilds,
			FailureRate: 0.3, AbortRate: 0.2, ErrorSpikeRate: 0.4, SpikeRecords: 30, RecordsPerSecond: 6,
			Stages: []simulator.StageSpec{
				{DisplayName: "代码检出", Tool: "git", MinDuration: 2 * sec, MaxDuration: 4 * sec},
				{DisplayName: "Maven构建", Tool: "maven", MinDuration: 3 * sec, MaxDuration: 6 * sec},
				{DisplayName: "单元测试", Tool: "junit", MinDuration: 2 * sec, MaxDuration: 5 * sec},
			},
		},
		{
			ID: simulator.DemoJobID("beta"), Name: "beta-e2e", English: true, AltFormat: true, Offset: -10 * sec,
			MaxBuilds: maxBuilds, FailureRate: 0.4, AbortRate: 0.2, ErrorSpikeRate: 0.3, SpikeRecords: 25, RecordsPerSecond: 6,
			LogZone: time.FixedZone("GMT+00:00", 0),
			Stages: []simulator.StageSpec{
				{DisplayName: "Cache Check", Tag: "Cache Check", Tool: "shell", MinDuration: 2 * sec, MaxDuration: 3 * sec},
				{DisplayName: "Code checkout", Tag: "Code checkout#preCheckout", Tool: "git", MinDuration: 2 * sec, MaxDuration: 4 * sec},
				{DisplayName: "pytest e2e", Tag: "pytest e2e#runTests", Tool: "pytest", MinDuration: 3 * sec, MaxDuration: 6 * sec},
			},
		},
		{
			ID: simulator.DemoJobID("gamma"), Name: "gamma-go", CompactAPITimes: true, Offset: 5 * sec,
			MaxBuilds: maxBuilds, FailureRate: 0.2, RecordsPerSecond: 6,
			Stages: []simulator.StageSpec{
				{DisplayName: "Go编译", Tool: "go", MinDuration: 2 * sec, MaxDuration: 4 * sec},
				{DisplayName: "镜像推送", Tool: "docker", MinDuration: 1 * sec, MaxDuration: 2 * sec, NoLog: true},
				{DisplayName: "curl smoke", Tool: "curl", MinDuration: 2 * sec, MaxDuration: 4 * sec},
			},
		},
	}
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	if o.jobs == nil {
		o.jobs = testJobs(3)
	}
	if o.chunkMin == 0 {
		o.chunkMin, o.chunkMax = 40, 900
	}
	if o.start.IsZero() {
		o.start = time.Now().Truncate(time.Second)
	}
	clock := simulator.NewManualClock(o.start)
	sim, err := simulator.New(simulator.Options{
		Seed: o.seed, Clock: clock, Jobs: o.jobs,
		ChunkMin: o.chunkMin, ChunkMax: o.chunkMax, RetainBuilds: o.retain,
		// 429 APIG.0308 is left out: its message states "limit:10,time:1
		// minute" and the client (rightly) lowers its shared rate to that,
		// which would make these tests take minutes. The other throttling
		// form (500 CB.00060211) is in.
		Faults: simulator.Faults{Rate: o.faultRate, SlowDelay: 5 * time.Millisecond,
			Kinds: []simulator.FaultKind{simulator.FaultThrottle500, simulator.FaultInternal500, simulator.FaultSlow}},
		AccessKey: testAK, SecretKey: testSK, ProjectID: testProject,
		Hostile: o.hostile,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	client, err := codearts.New(codearts.Options{
		Endpoint: srv.URL, ProjectID: testProject,
		Auth:              codearts.Auth{AccessKey: testAK, SecretKey: testSK},
		RequestsPerSecond: -1, MaxConcurrency: 8, Timeout: 10 * time.Second,
		MaxRetries: o.retries, BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond,
		Now: clock.Now, MaxResponseBytes: o.maxBody,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, clock: clock, sim: sim, srv: srv, client: client, specs: o.jobs}
}

func (e *env) jobs() []Job {
	var js []Job
	for _, s := range e.specs {
		js = append(js, Job{ID: s.ID, Name: s.Name})
	}
	return js
}

// options are the collector options of the tests: small page budgets so
// that logs span several polls and commits happen mid-poll.
func (e *env) options(stateFile string) Options {
	return Options{
		Client: e.client, Jobs: e.jobs(), BackfillBuilds: 1, StateFile: stateFile,
		Concurrency: 3, MaxPagesPerStep: 6, MaxPagesPerPoll: 40, CommitEveryPages: 4,
		BuildGiveUpAfter: 50, Logger: testLogger(),
		now: e.clock.Now,
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("COLLECTOR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newCollector(t testing.TB, o Options) (*Collector, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	o.Registerer = reg
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, reg
}

// sample maps "name{label="value",...}" (labels sorted, histograms expanded
// into _bucket/_sum/_count) to values.
type sample map[string]float64

func seriesKey(name string, labels map[string]string) string {
	ks := make([]string, 0, len(labels))
	for k := range labels {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// scrape gathers reg. Only families with prefix are kept.
func scrape(t testing.TB, reg prometheus.Gatherer, prefix string) (sample, map[string]dto.MetricType) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	s := sample{}
	types := map[string]dto.MetricType{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), prefix) {
			continue
		}
		types[mf.GetName()] = mf.GetType()
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				s[seriesKey(mf.GetName(), labels)] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				s[seriesKey(mf.GetName(), labels)] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				s[seriesKey(mf.GetName()+"_count", labels)] = float64(h.GetSampleCount())
				s[seriesKey(mf.GetName()+"_sum", labels)] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					l := map[string]string{"le": strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)}
					for k, v := range labels {
						l[k] = v
					}
					s[seriesKey(mf.GetName()+"_bucket", l)] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return s, types
}

// monotonic returns the counter and histogram series of s (all of which
// must never decrease).
func monotonic(s sample, types map[string]dto.MetricType) sample {
	out := sample{}
	for k, v := range s {
		name := k[:strings.IndexByte(k, '{')]
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if types[name] == dto.MetricType_COUNTER || types[base] == dto.MetricType_HISTOGRAM {
			out[k] = v
		}
	}
	return out
}

// checkNoDecrease fails when a series of prev is lower (or missing) in cur.
func checkNoDecrease(t testing.TB, what string, prev, cur sample) {
	t.Helper()
	bad := 0
	for k, v := range prev {
		if c, ok := cur[k]; !ok || c < v {
			if bad < 10 {
				t.Errorf("%s: %s went from %v to %v (present %v)", what, k, v, c, ok)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d series went backwards", what, bad)
	}
}

// truthSample computes what /metrics must show once every log of the
// builds from[jobID]... has been read: every stage's full text goes through
// a fresh parser.Stream (+Flush).
func truthSample(tr simulator.Truth, from map[string]int64, rules *parser.Rules) sample {
	s := sample{}
	type hkey struct{ job, action, result string }
	actionObs := map[hkey][]int64{}
	buildObs := map[hkey][]int64{}
	for _, jt := range tr.Jobs {
		first, ok := from[jt.ID]
		if !ok {
			continue
		}
		name := jt.Name
		var bytes int64
		for _, b := range jt.Builds {
			if b.Number < first {
				continue
			}
			for _, st := range b.Stages {
				if st.NodeID == 0 {
					continue
				}
				bytes += int64(len(st.Log))
				var n int64
				var firstMs, lastMs int64
				hasTime := false
				cls := parser.NewFailureClassifier(nil)
				stream := parser.NewStream(rules, func(r *parser.Record) {
					cls.Record(r)
					n++
					k := seriesKey(metrics.LogRecordsTotal, map[string]string{
						"job_name": name, "action": st.DisplayName, "source": r.Source.String(), "level": r.Level.String()})
					s[k]++
					if r.HasTime {
						if !hasTime {
							hasTime, firstMs = true, r.UnixMilli
						}
						lastMs = r.UnixMilli
					}
				})
				_, _ = stream.WriteString(st.Log)
				stream.Flush()
				if st.Finished && n > 0 {
					ms := int64(0)
					if hasTime {
						ms = max(lastMs-firstMs, 0)
					}
					k := hkey{name, st.DisplayName, metrics.ResultFromStatus(st.Status)}
					actionObs[k] = append(actionObs[k], ms)
				}
				if st.Finished && metrics.ResultFromStatus(st.Status) == metrics.ResultFailure {
					// One per failed stage, classified over the whole text:
					// the collector, reading pages across restarts, must
					// agree exactly.
					s[seriesKey(metrics.FailuresTotal, map[string]string{
						"job_name": name, "action": st.DisplayName, "category": cls.Result().Category})]++
				}
			}
			if b.Finished {
				k := hkey{job: name, result: metrics.ResultFromStatus(b.Status)}
				buildObs[k] = append(buildObs[k], b.FinishTime.UnixMilli()-b.StartTime.UnixMilli())
			}
		}
		s[seriesKey(metrics.LogBytesTotal, map[string]string{"job_name": name})] = float64(bytes)
	}
	addHist := func(name string, labels map[string]string, bounds []float64, obs []int64) {
		var sumMs int64
		for _, ms := range obs {
			sumMs += ms
		}
		s[seriesKey(name+"_count", labels)] = float64(len(obs))
		s[seriesKey(name+"_sum", labels)] = float64(sumMs) / 1000
		for _, b := range bounds {
			n := 0
			for _, ms := range obs {
				if float64(ms)/1000 <= b {
					n++
				}
			}
			l := map[string]string{"le": strconv.FormatFloat(b, 'g', -1, 64)}
			for k, v := range labels {
				l[k] = v
			}
			s[seriesKey(name+"_bucket", l)] = float64(n)
		}
	}
	for k, obs := range actionObs {
		addHist(metrics.ActionDurationSeconds, map[string]string{"job_name": k.job, "action": k.action, "result": k.result}, metrics.ActionDurationBuckets, obs)
	}
	for k, obs := range buildObs {
		addHist(metrics.BuildDurationSeconds, map[string]string{"job_name": k.job, "result": k.result}, metrics.BuildDurationBuckets, obs)
	}
	return s
}

// ledgerPart keeps the codearts_build_* counter and histogram series.
func ledgerPart(s sample) sample {
	out := sample{}
	for k, v := range s {
		for _, p := range []string{metrics.LogRecordsTotal + "{", metrics.LogBytesTotal + "{",
			metrics.ActionDurationSeconds + "_", metrics.BuildDurationSeconds + "_", metrics.FailuresTotal + "{"} {
			if strings.HasPrefix(k, p) {
				out[k] = v
			}
		}
	}
	return out
}

// diffSamples describes the differences between got and want.
func diffSamples(got, want sample) []string {
	var d []string
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	for _, k := range sorted {
		g, gok := got[k]
		w, wok := want[k]
		if gok != wok || math.Abs(g-w) != 0 {
			d = append(d, fmt.Sprintf("%s: got %v (present %v), want %v (present %v)", k, g, gok, w, wok))
		}
	}
	return d
}

// allDone reports whether the simulated world has finished every build.
func (e *env) allDone() bool {
	tr := e.sim.Truth()
	for i, jt := range tr.Jobs {
		if jt.LastBuildNo < int64(e.specs[i].MaxBuilds) {
			return false
		}
		for _, b := range jt.Builds {
			if !b.Finished {
				return false
			}
		}
	}
	return true
}

// firstBuilds returns, per job id, the first build a collector that sees the
// jobs now with BackfillBuilds=backfill ingests.
func (e *env) firstBuilds(backfill int64) map[string]int64 {
	from := map[string]int64{}
	for _, jt := range e.sim.Truth().Jobs {
		from[jt.ID] = max(jt.LastBuildNo-backfill+1, 1)
	}
	return from
}

func inFlight(s sample) float64 {
	var n float64
	for k, v := range s {
		if strings.HasPrefix(k, buildsInFlightName+"{") {
			n += v
		}
	}
	return n
}

func tempState(t testing.TB) string {
	return filepath.Join(t.TempDir(), "state.json")
}

func pollCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
