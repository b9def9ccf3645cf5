package codearts

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

// Names of the client's self-metrics besides metrics.APIRequestsTotal.
const (
	MetricRequestDuration = "codearts_exporter_api_request_duration_seconds"
	MetricRetries         = "codearts_exporter_api_retries_total"
	MetricThrottled       = "codearts_exporter_api_throttled_total"
	MetricRateLimit       = "codearts_exporter_api_rate_limit_requests_per_second"
	MetricByPriority      = "codearts_exporter_api_calls_by_priority_total"
)

// RequestDurationBuckets spans a fast gateway answer to a slow log page.
var RequestDurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

type selfMetrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	retries    *prometheus.CounterVec
	throttled  *prometheus.CounterVec
	rateLimit  prometheus.Gauge
	byPriority *prometheus.CounterVec

	// Children looked up once, not per request: every page read observes
	// a duration and counts a 200 of its operation and one priority. They
	// are created at first use, as WithLabelValues would, so that no
	// operation shows series before it was called.
	ops      map[string]*opMetrics // keys fixed by newSelfMetrics
	priority [numPriorities]prometheus.Counter
}

// opMetrics are one operation's most used children.
type opMetrics struct {
	durationOnce, okOnce sync.Once
	duration             prometheus.Observer
	ok                   prometheus.Counter // requests with code 200
}

// observe records one attempt of operation op that got HTTP status code
// (0: no answer, counted as code "error").
func (m *selfMetrics) observe(op string, code int, elapsed time.Duration) {
	om := m.ops[op]
	if om == nil {
		m.duration.WithLabelValues(op).Observe(elapsed.Seconds())
		m.requests.WithLabelValues(op, codeLabel(code)).Inc()
		return
	}
	om.durationOnce.Do(func() { om.duration = m.duration.WithLabelValues(op) })
	om.duration.Observe(elapsed.Seconds())
	if code != http.StatusOK {
		m.requests.WithLabelValues(op, codeLabel(code)).Inc()
		return
	}
	om.okOnce.Do(func() { om.ok = m.requests.WithLabelValues(op, "200") })
	om.ok.Inc()
}

func codeLabel(code int) string {
	if code == 0 {
		return "error"
	}
	return strconv.Itoa(code)
}

// newSelfMetrics registers the self-metrics on reg (nil: not registered).
// A second Client on the same registry (config reload) shares the already
// registered collectors, so counters continue instead of failing.
func newSelfMetrics(reg prometheus.Registerer) (*selfMetrics, error) {
	m := &selfMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.APIRequestsTotal, Help: metrics.APIRequestsHelp,
		}, []string{metrics.LabelAPI, metrics.LabelCode}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricRequestDuration,
			Help:    "Duration of CodeArts API HTTP requests (one observation per attempt, response body included).",
			Buckets: RequestDurationBuckets,
		}, []string{metrics.LabelAPI}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRetries,
			Help: "CodeArts API attempts repeated after a transport error, 5xx or throttling.",
		}, []string{metrics.LabelAPI}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricThrottled,
			Help: "CodeArts API answers that were rate-limit rejections (HTTP 429, APIG.0308, APIGW.0308, CB.00060211).",
		}, []string{metrics.LabelAPI}),
		rateLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricRateLimit,
			Help: "Current limit of the shared CodeArts API token bucket, in requests per second (lowered when throttling states a lower limit, raised back after quiet periods).",
		}),
		byPriority: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricByPriority,
			Help: "CodeArts API attempts by priority class (discovery, running, new, backfill), counted when the rate limit let them go.",
		}, []string{"priority"}),
	}
	if reg == nil {
		m.children()
		return m, nil
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.retries, err = register(reg, m.retries); err != nil {
		return nil, err
	}
	if m.throttled, err = register(reg, m.throttled); err != nil {
		return nil, err
	}
	if m.rateLimit, err = register(reg, m.rateLimit); err != nil {
		return nil, err
	}
	if m.byPriority, err = register(reg, m.byPriority); err != nil {
		return nil, err
	}
	m.children()
	return m, nil
}

// children prepares ops and fills priority from the (possibly shared) vectors.
func (m *selfMetrics) children() {
	m.ops = map[string]*opMetrics{}
	for _, op := range []string{OpShowActionInfo, OpShowConsoleInfo, OpShowRunningStatus, OpShowJobBuildRecordDetail,
		OpShowBuildRecordFullStages, OpListBuildInfoRecordByJobID, OpListJob, OpIAMToken} {
		m.ops[op] = &opMetrics{}
	}
	for p := range numPriorities {
		m.priority[p] = m.byPriority.WithLabelValues(p.String())
	}
}

func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		var zero T
		return zero, fmt.Errorf("codearts: register self-metrics: %w", err)
	}
	return c, nil
}
