package collector

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

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

// descs are the descriptors of the ledger-derived families.
type descs struct {
	records, bytes, actionDur, buildDur, failures, lastBuildNo, jobInfo *prometheus.Desc
	lastResult, lastTimestamp, lastDuration, inFlight                   *prometheus.Desc
}

func newDescs() descs {
	j := metrics.LabelJobName
	return descs{
		records:     prometheus.NewDesc(metrics.LogRecordsTotal, metrics.LogRecordsHelp, []string{j, metrics.LabelAction, metrics.LabelSource, metrics.LabelLevel}, nil),
		bytes:       prometheus.NewDesc(metrics.LogBytesTotal, metrics.LogBytesHelp, []string{j}, nil),
		actionDur:   prometheus.NewDesc(metrics.ActionDurationSeconds, metrics.ActionDurationHelp, []string{j, metrics.LabelAction, metrics.LabelResult}, nil),
		buildDur:    prometheus.NewDesc(metrics.BuildDurationSeconds, metrics.BuildDurationHelp, []string{j, metrics.LabelResult}, nil),
		failures:    prometheus.NewDesc(metrics.FailuresTotal, metrics.FailuresHelp, []string{j, metrics.LabelAction, metrics.LabelCategory}, nil),
		lastBuildNo: prometheus.NewDesc(metrics.LastBuildNumber, metrics.LastBuildHelp, []string{j}, nil),
		jobInfo:     prometheus.NewDesc(metrics.JobInfo, metrics.JobInfoHelp, []string{j, metrics.LabelJobID}, nil),
		lastResult: prometheus.NewDesc(lastBuildResultName,
			"Result of the newest finished build that has been fully ingested: 1 for its result, 0 for the others.", []string{j, metrics.LabelResult}, nil),
		lastTimestamp: prometheus.NewDesc(lastBuildTimestampName,
			"Unix time at which the newest fully ingested finished build finished.", []string{j}, nil),
		lastDuration: prometheus.NewDesc(lastBuildDurationName,
			"Duration of the newest fully ingested finished build.", []string{j}, nil),
		inFlight: prometheus.NewDesc(buildsInFlightName,
			"Builds whose logs the exporter is still reading (started, or finished with logs not yet fully read).", []string{j}, nil),
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
