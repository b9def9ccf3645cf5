package collector

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// Families derived from the ledger that are not among README.md's fixed families; the table
// in docs/collector.md documents them.
const (
	lastBuildResultName    = "codearts_build_last_build_result"
	lastBuildTimestampName = "codearts_build_last_build_timestamp_seconds"
	lastBuildDurationName  = "codearts_build_last_build_duration_seconds"
	buildsInFlightName     = "codearts_exporter_builds_in_flight"
)

var allResults = []string{metrics.ResultSuccess, metrics.ResultFailure, metrics.ResultAborted, metrics.ResultUnknown}

// family is one ledger-derived family: its name, help, type and variable
// labels in the order its values are given. Collect (through descs) and
// Gatherer (gather.go) both build from these, so the two agree.
type family struct {
	name, help string
	typ        dto.MetricType
	labels     []string
}

func (f *family) desc() *prometheus.Desc {
	return prometheus.NewDesc(f.name, f.help, f.labels, nil)
}

var (
	famRecords = family{metrics.LogRecordsTotal, metrics.LogRecordsHelp, dto.MetricType_COUNTER,
		[]string{metrics.LabelJobName, metrics.LabelAction, metrics.LabelSource, metrics.LabelLevel}}
	famBytes     = family{metrics.LogBytesTotal, metrics.LogBytesHelp, dto.MetricType_COUNTER, []string{metrics.LabelJobName}}
	famActionDur = family{metrics.ActionDurationSeconds, metrics.ActionDurationHelp, dto.MetricType_HISTOGRAM,
		[]string{metrics.LabelJobName, metrics.LabelAction, metrics.LabelResult}}
	famBuildDur = family{metrics.BuildDurationSeconds, metrics.BuildDurationHelp, dto.MetricType_HISTOGRAM,
		[]string{metrics.LabelJobName, metrics.LabelResult}}
	famFailures = family{metrics.FailuresTotal, metrics.FailuresHelp, dto.MetricType_COUNTER,
		[]string{metrics.LabelJobName, metrics.LabelAction, metrics.LabelCategory}}
	famLastBuildNo = family{metrics.LastBuildNumber, metrics.LastBuildHelp, dto.MetricType_GAUGE, []string{metrics.LabelJobName}}
	famJobInfo     = family{metrics.JobInfo, metrics.JobInfoHelp, dto.MetricType_GAUGE, []string{metrics.LabelJobName, metrics.LabelJobID}}
	famLastResult  = family{lastBuildResultName,
		"Result of the newest finished build that has been fully ingested: 1 for its result, 0 for the others.",
		dto.MetricType_GAUGE, []string{metrics.LabelJobName, metrics.LabelResult}}
	famLastTimestamp = family{lastBuildTimestampName, "Unix time at which the newest fully ingested finished build finished.",
		dto.MetricType_GAUGE, []string{metrics.LabelJobName}}
	famLastDuration = family{lastBuildDurationName, "Duration of the newest fully ingested finished build.",
		dto.MetricType_GAUGE, []string{metrics.LabelJobName}}
	famInFlight = family{buildsInFlightName,
		"Builds whose logs the exporter is still reading (started, or finished with logs not yet fully read).",
		dto.MetricType_GAUGE, []string{metrics.LabelJobName}}
)

// descs are the descriptors of the ledger-derived families.
type descs struct {
	records, bytes, actionDur, buildDur, failures, lastBuildNo, jobInfo *prometheus.Desc
	lastResult, lastTimestamp, lastDuration, inFlight                   *prometheus.Desc
}

func newDescs() descs {
	return descs{
		records:       famRecords.desc(),
		bytes:         famBytes.desc(),
		actionDur:     famActionDur.desc(),
		buildDur:      famBuildDur.desc(),
		failures:      famFailures.desc(),
		lastBuildNo:   famLastBuildNo.desc(),
		jobInfo:       famJobInfo.desc(),
		lastResult:    famLastResult.desc(),
		lastTimestamp: famLastTimestamp.desc(),
		lastDuration:  famLastDuration.desc(),
		inFlight:      famInFlight.desc(),
	}
}

func (d descs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{d.records, d.bytes, d.actionDur, d.buildDur, d.failures, d.lastBuildNo, d.jobInfo,
		d.lastResult, d.lastTimestamp, d.lastDuration, d.inFlight} {
		ch <- x
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.descs.describe(ch)
	c.self.describe(ch)
}

// Collect implements prometheus.Collector. Every codearts_build_* value comes
// from one published ledger snapshot, which is never ahead of the state file.
// Only the jobs in the current configuration are exported.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	snap := c.published.Load()
	for _, j := range c.exported() {
		c.collectJob(ch, j, snap.Jobs[j.Name])
	}
	c.self.collect(ch)
}

func (c *Collector) collectJob(ch chan<- prometheus.Metric, j Job, jl *jobLedger) {
	d := &c.descs
	name := j.Name
	ch <- constMetric(d.jobInfo, prometheus.GaugeValue, 1, name, j.ID)
	if jl == nil {
		ch <- constMetric(d.bytes, prometheus.CounterValue, 0, name)
		return
	}
	ch <- constMetric(d.bytes, prometheus.CounterValue, float64(jl.Bytes), name)
	for _, action := range sortedKeys(jl.Records) {
		rc := jl.Records[action]
		for s := range parser.NumSources {
			for l := range parser.NumLevels {
				if rc[s][l] == 0 {
					continue
				}
				ch <- constMetric(d.records, prometheus.CounterValue, float64(rc[s][l]),
					name, action, parser.Source(s).String(), parser.Level(l).String())
			}
		}
	}
	for _, action := range sortedKeys(jl.ActionDur) {
		byResult := jl.ActionDur[action]
		for _, r := range sortedKeys(byResult) {
			h := byResult[r]
			ch <- constHistogram(d.actionDur, h, metrics.ActionDurationBuckets, name, action, r)
		}
	}
	for _, r := range sortedKeys(jl.BuildDur) {
		ch <- constHistogram(d.buildDur, jl.BuildDur[r], metrics.BuildDurationBuckets, name, r)
	}
	for _, action := range sortedKeys(jl.Failures) {
		byCat := jl.Failures[action]
		for _, cat := range sortedKeys(byCat) {
			ch <- constMetric(d.failures, prometheus.CounterValue, float64(byCat[cat]), name, action, cat)
		}
	}
	if jl.LastBuildNo > 0 && jl.JobID == j.ID {
		ch <- constMetric(d.lastBuildNo, prometheus.GaugeValue, float64(jl.LastBuildNo), name)
	}
	if lb := jl.LastBuild; lb != nil && jl.JobID == j.ID {
		for _, r := range allResults {
			v := 0.0
			if r == lb.Result {
				v = 1
			}
			ch <- constMetric(d.lastResult, prometheus.GaugeValue, v, name, r)
		}
		if lb.FinishedMs > 0 {
			ch <- constMetric(d.lastTimestamp, prometheus.GaugeValue, float64(lb.FinishedMs)/1000, name)
		}
		ch <- constMetric(d.lastDuration, prometheus.GaugeValue, float64(lb.DurationMs)/1000, name)
	}
	ch <- constMetric(d.inFlight, prometheus.GaugeValue, float64(len(jl.Builds)), name)
}

func constMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

func constHistogram(d *prometheus.Desc, h *histogram, bounds []float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstHistogram(d, h.Count, float64(h.SumMs)/1000, h.cumulative(bounds), labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
