package collector

import (
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

// The native buckets are those client_golang computes for the same
// observations (NativeHistogramBucketFactor 1.1 is schema 3): the same
// schema, zero bucket, spans and deltas, and the classic buckets next to
// them in mode both. Values cover every bucket boundary a whole number of
// milliseconds can hit (powers of two), the classic bounds, zeros, and a
// spread from 1 ms to days with gaps of one, two and more empty buckets.
func TestNativeBucketsMatchClientGolang(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var values []int64
	for e := range 40 {
		values = append(values, 1<<e, 1<<e+1, 1<<e-1)
	}
	for _, b := range metrics.ActionDurationBuckets {
		values = append(values, int64(b*1000), int64(b*1000)+1)
	}
	for range 2000 {
		values = append(values, int64(math.Exp(rng.Float64()*20)))
	}
	values = append(values, 0, 0, 7, 8, 10, 11, 12, 13, 17, 29) // gaps of 0, 1, 2 and more keys at small values

	for _, n := range []int{1, 3, 20, len(values)} {
		ref := prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "x", Help: "x", Buckets: metrics.ActionDurationBuckets,
			NativeHistogramBucketFactor: 1.1,
		})
		h := newHistogram(metrics.ActionDurationBuckets)
		for _, ms := range values[len(values)-n:] {
			ref.Observe(float64(ms) / 1000)
			h.observe(metrics.ActionDurationBuckets, ms)
		}
		var want dto.Metric
		if err := ref.Write(&want); err != nil {
			t.Fatal(err)
		}
		b := newFamBuilder(&famBuildDur)
		b.histogram(h, metrics.ActionDurationBuckets, metrics.Both, new("j"), new("success"))
		got := b.mf.Metric[0].Histogram
		w := want.Histogram
		if got.GetSchema() != w.GetSchema() || got.GetZeroThreshold() != w.GetZeroThreshold() ||
			got.GetZeroCount() != w.GetZeroCount() || got.GetSampleCount() != w.GetSampleCount() {
			t.Fatalf("%d values: schema/zero/count %d %g %d %d, client_golang %d %g %d %d", n,
				got.GetSchema(), got.GetZeroThreshold(), got.GetZeroCount(), got.GetSampleCount(),
				w.GetSchema(), w.GetZeroThreshold(), w.GetZeroCount(), w.GetSampleCount())
		}
		if math.Abs(got.GetSampleSum()-w.GetSampleSum()) > 1e-6*w.GetSampleSum() {
			t.Errorf("%d values: sum %g, client_golang %g", n, got.GetSampleSum(), w.GetSampleSum())
		}
		if g, w := spansString(got.PositiveSpan), spansString(w.PositiveSpan); g != w {
			t.Errorf("%d values: spans\n got %s\nwant %s", n, g, w)
		}
		if g, w := got.PositiveDelta, w.PositiveDelta; !slices.Equal(g, w) {
			t.Errorf("%d values: deltas\n got %v\nwant %v", n, g, w)
		}
		if len(got.Bucket) != len(w.Bucket) {
			t.Fatalf("%d values: %d classic buckets, client_golang %d", n, len(got.Bucket), len(w.Bucket))
		}
		for i := range got.Bucket {
			if got.Bucket[i].GetCumulativeCount() != w.Bucket[i].GetCumulativeCount() || got.Bucket[i].GetUpperBound() != w.Bucket[i].GetUpperBound() {
				t.Errorf("%d values: classic bucket %d: %v, client_golang %v", n, i, got.Bucket[i], w.Bucket[i])
			}
		}
	}
}

func spansString(spans []*dto.BucketSpan) string {
	var b strings.Builder
	for _, s := range spans {
		b.WriteString(s.String())
		b.WriteString("; ")
	}
	return b.String()
}

// Each mode exposes what it says: classic only bounds, native only spans
// (and in the text format only _sum, _count and the +Inf bucket), both
// both; the other families are the same in every mode. A Registry with the
// Collector registered accepts every mode's metrics.
func TestDurationHistogramModes(t *testing.T) {
	exposition := func(mode metrics.HistogramMode) (map[string]*dto.MetricFamily, string) {
		c := richCollector(t)
		cfg := *c.config()
		cfg.histograms = mode
		c.cfg.Store(&cfg)
		reg := prometheus.NewRegistry()
		reg.MustRegister(c)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		byName := map[string]*dto.MetricFamily{}
		for _, mf := range mfs {
			byName[mf.GetName()] = mf
		}
		return byName, scrapeAs(t, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), "text/plain;version=0.0.4")
	}
	classic, classicText := exposition(metrics.Classic)
	for _, mode := range []metrics.HistogramMode{metrics.Classic, metrics.Native, metrics.Both} {
		mfs, text := exposition(mode)
		for _, name := range []string{famActionDur.name, famBuildDur.name} {
			if len(mfs[name].GetMetric()) == 0 || len(mfs[name].GetMetric()) != len(classic[name].GetMetric()) {
				t.Fatalf("%s: %s has %d metrics, classic %d", mode, name, len(mfs[name].GetMetric()), len(classic[name].GetMetric()))
			}
			for i, m := range mfs[name].GetMetric() {
				h, ch := m.GetHistogram(), classic[name].GetMetric()[i].GetHistogram()
				if h.GetSampleCount() != ch.GetSampleCount() || h.GetSampleSum() != ch.GetSampleSum() {
					t.Errorf("%s: %s count/sum %d/%g, classic %d/%g", mode, name, h.GetSampleCount(), h.GetSampleSum(), ch.GetSampleCount(), ch.GetSampleSum())
				}
				if has := len(h.GetBucket()) > 0; has != mode.HasClassic() {
					t.Errorf("%s: %s classic buckets present: %v", mode, name, has)
				}
				if has := len(h.GetPositiveSpan()) > 0; has != mode.HasNative() {
					t.Errorf("%s: %s native spans present: %v", mode, name, has)
				}
				if mode.HasNative() {
					n := h.GetZeroCount()
					for _, d := range runningSums(h.GetPositiveDelta()) {
						n += uint64(d)
					}
					if n != h.GetSampleCount() {
						t.Errorf("%s: %s native buckets hold %d observations of %d", mode, name, n, h.GetSampleCount())
					}
				}
			}
		}
		durations := durationLines(text)
		hasBound := strings.Contains(durations, `le="30"}`)
		if hasBound != mode.HasClassic() {
			t.Errorf("%s: classic bounds in the text exposition: %v", mode, hasBound)
		}
		if mode == metrics.Native && !strings.Contains(durations, `le="+Inf"}`) {
			t.Errorf("native: no +Inf bucket in the text exposition:\n%s", durations)
		}
		if want := durationLines(classicText); mode == metrics.Both && durations != want {
			t.Errorf("both: the text exposition differs from classic's:\n%s", firstDiff(want, durations))
		}
	}
}

// durationLines returns the lines of the two duration families.
func durationLines(text string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, famActionDur.name+"_") || strings.HasPrefix(line, famBuildDur.name+"_") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// runningSums turns native deltas back into bucket counts.
func runningSums(deltas []int64) []int64 {
	out := make([]int64, len(deltas))
	var c int64
	for i, d := range deltas {
		c += d
		out[i] = c
	}
	return out
}

// A state file written before native buckets were kept loads with them
// rebuilt from the classic buckets, says so once, and is rewritten; a
// native bucket key no millisecond duration can have is refused.
func TestNativeBucketsSeededFromOlderState(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state")
	l := sampleLedger()
	jl := l.job("backend-ci")
	jl.observeAction("Maven构建", "failure", 1_000_000_000) // +Inf
	for _, byResult := range jl.ActionDur {
		for _, h := range byResult {
			h.NativeZero, h.Native = 0, nil
		}
	}
	for _, h := range jl.BuildDur {
		h.NativeZero, h.Native = 0, nil
	}
	data, _, err := encodeJournal(l, time.Unix(1_790_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, notes, store, err := loadState(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "3 duration histograms were written without native buckets") || !store.rewrite {
		t.Fatalf("notes %q, rewrite %v", notes, store.rewrite)
	}
	h := got.job("backend-ci").ActionDur["Maven构建"]["failure"]
	if !h.nativeComplete() {
		t.Fatalf("native buckets %v hold fewer than %d observations", h.Native, h.Count)
	}
	// 61 s is in the classic bucket (60, 120]: at its bound, 120 s; the
	// +Inf observation at twice the last bound (7200 s), 14,400 s.
	want := map[int]uint64{metrics.NativeKey(120): 1, metrics.NativeKey(14400): 1}
	if !maps.Equal(h.Native, want) {
		t.Fatalf("seeded native buckets %v, want %v", h.Native, want)
	}

	bad := sampleLedger()
	bad.job("backend-ci").ActionDur["Maven构建"]["failure"].Native = map[int]uint64{metrics.NativeMaxKey + 1: 1}
	data, _, err = encodeJournal(bad, time.Unix(1_790_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	loadDamaged(t, p, data, "native bucket 426 is outside [-79, 425]")
}

// Native buckets are kept from the first observation on, whatever the mode
// while they were made, and survive a restart: after a commit made in mode
// classic, a restart in mode native exposes the native buckets of the
// committed observations, as the first Collector would have.
func TestNativeBucketsSurviveRestartAcrossModes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state")
	open := func(mode metrics.HistogramMode) *Collector {
		c, err := New(Options{api: unusedAPI{}, StateFile: p, Logger: testLogger(), DurationHistograms: mode,
			Jobs: []Job{{ID: "0123456789abcdef0123456789abcdef", Name: "backend-ci"}}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	family := func(c *Collector, mode metrics.HistogramMode) string {
		cfg := *c.config()
		cfg.histograms = mode
		c.cfg.Store(&cfg)
		for _, mf := range c.ledgerFamilies() {
			if mf.GetName() == famActionDur.name {
				return mf.String()
			}
		}
		t.Fatal("no action durations")
		return ""
	}
	first := open(metrics.Classic)
	if err := first.commit("backend-ci", sampleLedger().job("backend-ci")); err != nil {
		t.Fatal(err)
	}
	want := family(first, metrics.Native)
	if !strings.Contains(want, "positive_span") {
		t.Fatalf("no native buckets in %s", want)
	}
	if got := family(open(metrics.Native), metrics.Native); got != want {
		t.Fatalf("after a restart in mode native:\n got %s\nwant %s", got, want)
	}
}
