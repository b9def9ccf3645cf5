package collector

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// Gatherer returns a prometheus.Gatherer of gs's families together with the
// ledger-derived families, for serving /metrics. It replaces registering
// the Collector (Options.Registerer): register SelfMetrics on one of gs
// instead. A Registry gathering a Collector builds a const metric per series,
// sends it over a channel, hashes it for consistency and sorts the result;
// here the families are built directly from the published ledger snapshot,
// which is immutable and consistent by construction, and the output is the
// same, byte for byte (TestGathererMatchesRegistry). Family names must be
// unique across gs and the ledger's; a duplicate is an error, as registering
// the Collector next to it would have been.
func (c *Collector) Gatherer(gs ...prometheus.Gatherer) prometheus.Gatherer {
	return gatherer{c: c, gs: gs}
}

// SelfMetrics returns the Collector's codearts_exporter_* families that do
// not come from the ledger (poll errors, pages, state writes, discovery),
// to be registered on a registry that Gatherer serves.
func (c *Collector) SelfMetrics() prometheus.Collector { return c.self }

// Describe implements prometheus.Collector.
func (s *selfMetrics) Describe(ch chan<- *prometheus.Desc) { s.describe(ch) }

// Collect implements prometheus.Collector.
func (s *selfMetrics) Collect(ch chan<- prometheus.Metric) { s.collect(ch) }

type gatherer struct {
	c  *Collector
	gs []prometheus.Gatherer
}

func (g gatherer) Gather() ([]*dto.MetricFamily, error) {
	var errs prometheus.MultiError
	var all []*dto.MetricFamily
	for _, x := range g.gs {
		mfs, err := x.Gather()
		errs.Append(err)
		all = append(all, mfs...)
	}
	all = append(all, g.c.ledgerFamilies()...)
	slices.SortStableFunc(all, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	out := all[:0]
	for i, mf := range all {
		if i > 0 && mf.GetName() == all[i-1].GetName() {
			errs.Append(fmt.Errorf("metric family %s is gathered twice", mf.GetName()))
			continue
		}
		out = append(out, mf)
	}
	return out, errs.MaybeUnwrap()
}

// famBuilder builds one family's metrics with their label pairs sorted by
// name, as a Registry writes them.
type famBuilder struct {
	mf    *dto.MetricFamily
	names []*string // label names, sorted
	perm  []int     // perm[k] is the index in the family's label order of the k-th sorted name
}

func newFamBuilder(f *family) *famBuilder {
	perm := make([]int, len(f.labels))
	for i := range perm {
		perm[i] = i
	}
	slices.SortFunc(perm, func(a, b int) int { return strings.Compare(f.labels[a], f.labels[b]) })
	names := make([]*string, len(perm))
	for k, i := range perm {
		names[k] = new(f.labels[i])
	}
	return &famBuilder{
		mf:    &dto.MetricFamily{Name: new(f.name), Help: new(f.help), Type: f.typ.Enum()},
		names: names,
		perm:  perm,
	}
}

// metric appends a metric with the label values given in the family's
// label order. The value pointers are shared, never written.
func (b *famBuilder) metric(values ...*string) *dto.Metric {
	pairs := make([]dto.LabelPair, len(b.perm))
	lp := make([]*dto.LabelPair, len(b.perm))
	for k, i := range b.perm {
		pairs[k].Name = b.names[k]
		pairs[k].Value = values[i]
		lp[k] = &pairs[k]
	}
	m := &dto.Metric{Label: lp}
	b.mf.Metric = append(b.mf.Metric, m)
	return m
}

func (b *famBuilder) counter(v float64, values ...*string) {
	b.metric(values...).Counter = &dto.Counter{Value: new(v)}
}

func (b *famBuilder) gauge(v float64, values ...*string) {
	b.metric(values...).Gauge = &dto.Gauge{Value: new(v)}
}

// histogram appends h in the given mode: the classic buckets of bounds,
// the native buckets, or both.
func (b *famBuilder) histogram(h *histogram, bounds []float64, mode metrics.HistogramMode, values ...*string) {
	dh := &dto.Histogram{
		SampleCount: new(h.Count),
		SampleSum:   new(float64(h.SumMs) / 1000),
	}
	if mode.HasClassic() {
		buckets := make([]dto.Bucket, len(bounds))
		bp := make([]*dto.Bucket, len(bounds))
		var acc uint64
		for i, ub := range bounds {
			if i < len(h.Buckets) {
				acc += h.Buckets[i]
			}
			buckets[i].CumulativeCount = new(acc)
			buckets[i].UpperBound = new(ub)
			bp[i] = &buckets[i]
		}
		dh.Bucket = bp
	}
	if mode.HasNative() {
		dh.Schema = new(int32(metrics.NativeSchema))
		dh.ZeroThreshold = new(metrics.NativeZeroThreshold)
		dh.ZeroCount = new(h.NativeZero)
		dh.PositiveSpan, dh.PositiveDelta = nativeSpans(h.Native)
		if len(dh.PositiveSpan) == 0 {
			// Only zeros: an empty span still marks the histogram native,
			// as client_golang does.
			dh.PositiveSpan = []*dto.BucketSpan{{Offset: new(int32(0)), Length: new(uint32(0))}}
		}
	}
	b.metric(values...).Histogram = dh
}

// nativeSpans encodes native bucket counts as Prometheus spans and deltas:
// runs of consecutive keys, a gap of one or two empty buckets written as
// zeros rather than as a new span (client_golang's encoding), and each
// count as the difference to the previous one.
func nativeSpans(counts map[int]uint64) ([]*dto.BucketSpan, []int64) {
	if len(counts) == 0 {
		return nil, nil
	}
	keys := slices.Sorted(maps.Keys(counts))
	var (
		spans  []*dto.BucketSpan
		deltas = make([]int64, 0, len(keys))
		prev   int64
		next   int
	)
	add := func(c int64) {
		*spans[len(spans)-1].Length++
		deltas = append(deltas, c-prev)
		prev = c
	}
	for n, k := range keys {
		gap := k - next
		if n == 0 || gap > 2 {
			spans = append(spans, &dto.BucketSpan{Offset: new(int32(gap)), Length: new(uint32(0))})
		} else {
			for range gap {
				add(0)
			}
		}
		add(int64(counts[k]))
		next = k + 1
	}
	return spans, deltas
}

// family returns the built family with its metrics sorted as a Registry
// sorts them (by label values, in label name order), nil when it is empty.
func (b *famBuilder) family() *dto.MetricFamily {
	ms := b.mf.Metric
	if len(ms) == 0 {
		return nil
	}
	cmp := func(x, y *dto.Metric) int {
		for i, lp := range x.Label {
			if c := strings.Compare(lp.GetValue(), y.Label[i].GetValue()); c != 0 {
				return c
			}
		}
		return 0
	}
	if !slices.IsSortedFunc(ms, cmp) {
		slices.SortStableFunc(ms, cmp)
	}
	return b.mf
}

var (
	resultPtrs = func() map[string]*string {
		m := map[string]*string{}
		for _, r := range allResults {
			m[r] = new(r)
		}
		return m
	}()
	sourcePtrs [parser.NumSources]*string
	levelPtrs  [parser.NumLevels]*string
)

func init() {
	for s := range parser.NumSources {
		sourcePtrs[s] = new(parser.Source(s).String())
	}
	for l := range parser.NumLevels {
		levelPtrs[l] = new(parser.Level(l).String())
	}
}

// strPtr returns a pointer to one of the fixed result strings, or to a copy of s.
func strPtr(s string) *string {
	if p, ok := resultPtrs[s]; ok {
		return p
	}
	return new(s)
}

// ledgerFamilies builds the series of every exported job from one
// published snapshot, as sorted metric families (Gatherer serves them,
// Collect sends them to a Registry).
func (c *Collector) ledgerFamilies() []*dto.MetricFamily {
	snap := c.published.Load()
	cfg := c.config()
	var (
		jobInfo       = newFamBuilder(&famJobInfo)
		bytes         = newFamBuilder(&famBytes)
		records       = newFamBuilder(&famRecords)
		actionDur     = newFamBuilder(&famActionDur)
		buildDur      = newFamBuilder(&famBuildDur)
		failures      = newFamBuilder(&famFailures)
		lastBuildNo   = newFamBuilder(&famLastBuildNo)
		lastResult    = newFamBuilder(&famLastResult)
		lastTimestamp = newFamBuilder(&famLastTimestamp)
		lastDuration  = newFamBuilder(&famLastDuration)
		inFlight      = newFamBuilder(&famInFlight)
	)
	for _, j := range c.exported() {
		jl := snap.job(j.Name)
		name := new(j.Name)
		jobInfo.gauge(1, name, new(j.ID))
		if jl == nil {
			bytes.counter(0, name)
			continue
		}
		bytes.counter(float64(jl.Bytes), name)
		for _, action := range sortedKeys(jl.Records) {
			rc := jl.Records[action]
			a := new(action)
			for s := range parser.NumSources {
				for l := range parser.NumLevels {
					if rc[s][l] == 0 {
						continue
					}
					records.counter(float64(rc[s][l]), name, a, sourcePtrs[s], levelPtrs[l])
				}
			}
		}
		for action, byResult := range jl.ActionDur {
			a := new(action)
			for r, h := range byResult {
				actionDur.histogram(h, metrics.ActionDurationBuckets, cfg.histograms, name, a, strPtr(r))
			}
		}
		for r, h := range jl.BuildDur {
			buildDur.histogram(h, metrics.BuildDurationBuckets, cfg.histograms, name, strPtr(r))
		}
		for action, byCat := range jl.Failures {
			a := new(action)
			for cat, n := range byCat {
				failures.counter(float64(n), name, a, new(cat))
			}
		}
		if jl.LastBuildNo > 0 && jl.JobID == j.ID {
			lastBuildNo.gauge(float64(jl.LastBuildNo), name)
		}
		if lb := jl.LastBuild; lb != nil && jl.JobID == j.ID {
			for _, r := range allResults {
				v := 0.0
				if r == lb.Result {
					v = 1
				}
				lastResult.gauge(v, name, resultPtrs[r])
			}
			if lb.FinishedMs > 0 {
				lastTimestamp.gauge(float64(lb.FinishedMs)/1000, name)
			}
			lastDuration.gauge(float64(lb.DurationMs)/1000, name)
		}
		inFlight.gauge(float64(len(jl.Builds)), name)
	}
	var out []*dto.MetricFamily
	for _, b := range []*famBuilder{jobInfo, bytes, records, actionDur, buildDur, failures, lastBuildNo,
		lastResult, lastTimestamp, lastDuration, inFlight} {
		if mf := b.family(); mf != nil {
			out = append(out, mf)
		}
	}
	return out
}
