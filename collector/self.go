package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

// selfMetrics are the exporter's own codearts_exporter_* families that do
// not live in the ledger. They start from zero on every process start
// (as README.md, Metrics, says) and are exported through the Collector,
// so registering the Collector registers them too.
type selfMetrics struct {
	pollErrors       *prometheus.CounterVec
	lastPollSuccess  *prometheus.GaugeVec
	jobUp            *prometheus.GaugeVec
	pollDuration     prometheus.Histogram
	lastPollDur      *prometheus.GaugeVec
	givenUp          *prometheus.CounterVec
	skipped          *prometheus.CounterVec
	pages            *prometheus.CounterVec
	emptyPages       *prometheus.CounterVec
	pagesRejected    *prometheus.CounterVec
	stepsGivenUp     *prometheus.CounterVec
	stateWrites      prometheus.Counter
	stateErrors      prometheus.Counter
	stateDuration    prometheus.Histogram
	stateBytes       prometheus.Gauge
	stateWritten     prometheus.Counter
	stateCompactions prometheus.Counter

	listed          prometheus.Gauge
	followed        prometheus.Gauge
	filtered        prometheus.Gauge
	foreign         prometheus.Gauge
	listPages       prometheus.Gauge
	discoveryErrors prometheus.Counter
}

func newSelfMetrics() *selfMetrics {
	j := []string{metrics.LabelJobName}
	return &selfMetrics{
		pollErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "codearts_exporter_poll_errors_total",
			Help: "Polls of the job that did not fully succeed (an API call failed after retries, or the state file could not be written).",
		}, j),
		lastPollSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metrics.LastPollSuccessSeconds,
			Help: metrics.LastPollHelp,
		}, j),
		jobUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "codearts_exporter_job_up",
			Help: "1 if the last poll of the job fully succeeded, 0 if it failed.",
		}, j),
		// One histogram for all jobs: per job it would be 15 series for
		// every job, most of them idle (docs/collector.md, "Labels and
		// cardinality"); the per-job gauge below tells which job is slow.
		pollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "codearts_exporter_poll_duration_seconds",
			Help:    "Wall time of one poll of one job, including every API call and state file write, over all jobs.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
		lastPollDur: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "codearts_exporter_last_poll_duration_seconds",
			Help: "Wall time of the job's last poll, including every API call and state file write.",
		}, j),
		givenUp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "codearts_exporter_builds_given_up_total",
			Help: "Builds dropped unfinished because the API kept answering \"not found\" for them (build, stages or a step log).",
		}, j),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "codearts_exporter_builds_skipped_total",
			Help: "Builds never ingested because more than max_builds_behind builds had started since the previous poll.",
		}, j),
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "codearts_exporter_log_pages_total",
			Help: "Step log pages read (ShowActionInfo and ShowConsoleInfo answers that were ingested).",
		}, j),
		emptyPages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "codearts_exporter_log_empty_pages_total",
			Help: "Step log pages that came back empty with has_more=true; the step is retried on the next poll.",
		}, j),
		pagesRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "codearts_exporter_log_pages_rejected_total",
			Help: "Step log pages not counted because they did not move the cursor forward (reason backwards: end_offset below the cursor; not_advancing: text with end_offset equal to the cursor).",
		}, []string{metrics.LabelJobName, "reason"}),
		stepsGivenUp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "codearts_exporter_log_steps_given_up_total",
			Help: "Step logs given up unfinished: no forward progress in build_give_up_after polls (reason backwards, not_advancing, empty), or pages over the body limit even when bounded (too_large).",
		}, []string{metrics.LabelJobName, "reason"}),
		stateWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "codearts_exporter_state_writes_total",
			Help: "Successful atomic writes of the state file (each one precedes a publication of new values).",
		}),
		stateErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "codearts_exporter_state_write_errors_total",
			Help: "Failed state file writes; the values they carried were not published and are read again.",
		}),
		stateDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "codearts_exporter_state_write_duration_seconds",
			Help:    "Time of one commit's state file write: encode the job's record, append and fsync it (or compact the file).",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
		}),
		stateBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "codearts_exporter_state_file_bytes",
			Help: "Size of the state file after the last successful write.",
		}),
		stateWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "codearts_exporter_state_written_bytes_total",
			Help: "Bytes written to the state file: appended job records and compactions.",
		}),
		stateCompactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "codearts_exporter_state_compactions_total",
			Help: "Commits that rewrote the whole state file (first write, migration, or superseded records outweighing live ones).",
		}),
		listed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "codearts_exporter_discovery_jobs_listed",
			Help: "Jobs the last ListJob walk returned (all shards; 0 when ListJob is not used).",
		}),
		followed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "codearts_exporter_jobs_followed",
			Help: "Jobs this instance polls: configured and discovered, of its own shard.",
		}),
		filtered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "codearts_exporter_discovery_jobs_filtered_out",
			Help: "Listed jobs that the discovery filters (projects, include, exclude) leave out.",
		}),
		foreign: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "codearts_exporter_jobs_other_shards",
			Help: "Configured or discovered jobs that belong to another shard (--shard, --total-shards).",
		}),
		listPages: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "codearts_exporter_list_job_pages",
			Help: "ListJob pages read by the last poll round (0 when the round used ShowRunningStatus only).",
		}),
		discoveryErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "codearts_exporter_list_job_errors_total",
			Help: "Poll rounds whose ListJob walk failed; builds in flight are still read, new builds wait for the next walk.",
		}),
	}
}

func (s *selfMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.pollErrors, s.lastPollSuccess, s.jobUp, s.pollDuration, s.lastPollDur, s.givenUp,
		s.skipped, s.pages, s.emptyPages, s.pagesRejected, s.stepsGivenUp, s.stateWrites, s.stateErrors, s.stateDuration, s.stateBytes,
		s.stateWritten, s.stateCompactions,
		s.listed, s.followed, s.filtered, s.foreign, s.listPages, s.discoveryErrors}
}

func (s *selfMetrics) describe(ch chan<- *prometheus.Desc) {
	for _, c := range s.collectors() {
		c.Describe(ch)
	}
}

func (s *selfMetrics) collect(ch chan<- prometheus.Metric) {
	for _, c := range s.collectors() {
		c.Collect(ch)
	}
}

// initJob makes the job's counters visible at 0 before its first event.
// The counters of rare events (builds given up or skipped) appear with their
// first event instead: on every idle job they would be two series of the
// 25 a job may cost (docs/collector.md, "Labels and cardinality").
func (s *selfMetrics) initJob(name string) {
	s.pollErrors.WithLabelValues(name)
	s.pages.WithLabelValues(name)
	s.emptyPages.WithLabelValues(name)
}

// deleteJob removes the series of a job that left the configuration.
func (s *selfMetrics) deleteJob(name string) {
	s.pollErrors.DeleteLabelValues(name)
	s.lastPollSuccess.DeleteLabelValues(name)
	s.jobUp.DeleteLabelValues(name)
	s.lastPollDur.DeleteLabelValues(name)
	s.givenUp.DeleteLabelValues(name)
	s.skipped.DeleteLabelValues(name)
	s.pages.DeleteLabelValues(name)
	s.emptyPages.DeleteLabelValues(name)
	s.pagesRejected.DeletePartialMatch(prometheus.Labels{metrics.LabelJobName: name})
	s.stepsGivenUp.DeletePartialMatch(prometheus.Labels{metrics.LabelJobName: name})
}
