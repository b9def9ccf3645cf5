package analyze

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

// gather builds the README.md, Metrics families for the analysed logs with
// client_golang, exactly as the live collector names and buckets them.
func gather(logs []Log, job string) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewPedanticRegistry()
	records := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.LogRecordsTotal, Help: metrics.LogRecordsHelp},
		[]string{metrics.LabelJobName, metrics.LabelAction, metrics.LabelSource, metrics.LabelLevel})
	bytesTotal := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.LogBytesTotal, Help: metrics.LogBytesHelp},
		[]string{metrics.LabelJobName})
	actionDur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metrics.ActionDurationSeconds,
		Help: metrics.ActionDurationHelp, Buckets: metrics.ActionDurationBuckets},
		[]string{metrics.LabelJobName, metrics.LabelAction, metrics.LabelResult})
	buildDur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metrics.BuildDurationSeconds,
		Help: metrics.BuildDurationHelp, Buckets: metrics.BuildDurationBuckets},
		[]string{metrics.LabelJobName, metrics.LabelResult})
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.FailuresTotal, Help: metrics.FailuresHelp},
		[]string{metrics.LabelJobName, metrics.LabelAction, metrics.LabelCategory})
	reg.MustRegister(records, bytesTotal, actionDur, buildDur, failures)

	b := bytesTotal.WithLabelValues(job)
	for _, l := range logs {
		a := l.Analysis
		b.Add(float64(a.Bytes))
		for _, c := range a.Counts {
			records.WithLabelValues(job, c.Action, c.Source.String(), c.Level.String()).Add(float64(c.Count))
		}
		for i := range a.Runs {
			r := &a.Runs[i]
			actionDur.WithLabelValues(job, r.Action, r.Result).Observe(r.DurationSeconds())
		}
		for _, f := range a.Failures {
			failures.WithLabelValues(job, f.Action, f.Category).Inc()
		}
		if a.Build.Finished {
			buildDur.WithLabelValues(job, a.Build.Result).Observe(a.Build.DurationSeconds())
		}
	}
	return reg.Gather()
}

// sampleTime is the timestamp written on every sample: the newest time in
// the logs, in whole seconds (now when no log has a time).
func sampleTime(logs []Log) int64 {
	var newest int64
	found := false
	for _, l := range logs {
		a := l.Analysis
		if !a.HasTime {
			continue
		}
		t := max(a.LastMilli, a.Build.EndMilli)
		if !found || t > newest {
			newest, found = t, true
		}
	}
	if !found {
		return now().Unix()
	}
	return int64(math.Floor(float64(newest) / 1000))
}

// writeOpenMetrics writes the families in the OpenMetrics text format,
// terminated by "# EOF".
//
// Two choices make one output acceptable to both promtool commands the
// project relies on (Prometheus 2.42 as packaged by Debian 12):
//   - every sample has a timestamp, in whole seconds (the newest time in the
//     logs): `promtool tsdb create-blocks-from openmetrics` rejects samples
//     without one, and `promtool check metrics`, which parses the Prometheus
//     text format, only accepts integer timestamps;
//   - a counter's `# HELP`/`# TYPE` lines carry the sample name
//     (codearts_build_log_records_total), as in the text format served on
//     /metrics, because `promtool check metrics` otherwise reports the
//     `_total` series as lacking help. Prometheus' OpenMetrics parser, which
//     the backfill uses, accepts this.
//
// expfmt's OpenMetrics encoder makes the opposite choices (family name
// without _total, float timestamps), hence this small writer.
func writeOpenMetrics(w io.Writer, logs []Log, job string) error {
	mfs, err := gather(logs, job)
	if err != nil {
		return err
	}
	ts := " " + strconv.FormatInt(sampleTime(logs), 10) + "\n"
	bw := bufio.NewWriter(w)
	for _, mf := range mfs {
		name := mf.GetName()
		fmt.Fprintf(bw, "# HELP %s %s\n", name, escapeHelp(mf.GetHelp()))
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			fmt.Fprintf(bw, "# TYPE %s counter\n", name)
			for _, m := range mf.Metric {
				bw.WriteString(name + labels(m.Label, "", "") + " " + omFloat(m.GetCounter().GetValue()) + ts)
			}
		case dto.MetricType_HISTOGRAM:
			fmt.Fprintf(bw, "# TYPE %s histogram\n", name)
			for _, m := range mf.Metric {
				h := m.GetHistogram()
				for _, bk := range h.Bucket {
					if math.IsInf(bk.GetUpperBound(), 1) {
						continue // written below from the sample count
					}
					bw.WriteString(name + "_bucket" + labels(m.Label, "le", omFloat(bk.GetUpperBound())) + " " +
						strconv.FormatUint(bk.GetCumulativeCount(), 10) + ts)
				}
				bw.WriteString(name + "_bucket" + labels(m.Label, "le", "+Inf") + " " + strconv.FormatUint(h.GetSampleCount(), 10) + ts)
				bw.WriteString(name + "_sum" + labels(m.Label, "", "") + " " + omFloat(h.GetSampleSum()) + ts)
				bw.WriteString(name + "_count" + labels(m.Label, "", "") + " " + strconv.FormatUint(h.GetSampleCount(), 10) + ts)
			}
		default:
			return fmt.Errorf("metric family %s: unexpected type %s", name, mf.GetType())
		}
	}
	bw.WriteString("# EOF\n")
	return bw.Flush()
}

func labels(ls []*dto.LabelPair, extraName, extraValue string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.GetName() + `="` + escapeLabel(l.GetValue()) + `"`)
	}
	if extraName != "" {
		if len(ls) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(extraName + `="` + extraValue + `"`)
	}
	b.WriteByte('}')
	return b.String()
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

// omFloat formats a number as OpenMetrics does ("1.0", "0.161", "+Inf").
func omFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}
