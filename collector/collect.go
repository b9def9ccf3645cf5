package collector

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
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
// labels in the order its values are given.
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

// ledgerFams are the ledger-derived families.
var ledgerFams = []*family{&famJobInfo, &famBytes, &famRecords, &famActionDur, &famBuildDur, &famFailures,
	&famLastBuildNo, &famLastResult, &famLastTimestamp, &famLastDuration, &famInFlight}

// descs are the descriptors of the ledger-derived families, by name.
type descs map[string]*prometheus.Desc

func newDescs() descs {
	d := descs{}
	for _, f := range ledgerFams {
		d[f.name] = f.desc()
	}
	return d
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range ledgerFams {
		ch <- c.descs[f.name]
	}
	c.self.describe(ch)
}

// Collect implements prometheus.Collector, for programs that register the
// Collector instead of serving Gatherer: it sends the metrics of the
// families Gatherer serves (ledgerFamilies), built once from one published
// ledger snapshot, which is never ahead of the state file. Only the jobs in
// the current configuration are exported.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, mf := range c.ledgerFamilies() {
		d := c.descs[mf.GetName()]
		for _, m := range mf.Metric {
			ch <- builtMetric{d, m}
		}
	}
	c.self.collect(ch)
}

// builtMetric is a prometheus.Metric for a dto.Metric ledgerFamilies built.
type builtMetric struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

func (b builtMetric) Desc() *prometheus.Desc { return b.desc }

func (b builtMetric) Write(out *dto.Metric) error {
	out.Label, out.Counter, out.Gauge, out.Histogram = b.m.Label, b.m.Counter, b.m.Gauge, b.m.Histogram
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
