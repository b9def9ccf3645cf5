package status

import (
	"cmp"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

// Self-metric families of the CodeArts client the page reads.
const (
	familyRetries    = "codearts_exporter_api_retries_total"
	familyThrottled  = "codearts_exporter_api_throttled_total"
	familyByPriority = "codearts_exporter_api_calls_by_priority_total"
	labelPriority    = "priority"
)

// apiView is the API budget section.
type apiView struct {
	Client *codearts.ClientStatus
	// Lowered: throttling lowered the rate below the configured one.
	Lowered bool
	Ops     []opRow
	Total   opRow
	// ByPriority is empty when the client does not count calls by priority.
	ByPriority []priorityRow
	// Error is set when the metrics could not be gathered.
	Error string
}

type opRow struct {
	Op                                string
	Calls, Failed, Retries, Throttled float64
}

type priorityRow struct {
	Priority string
	Calls    float64
}

// priorityOrder is the order the client serves waiting calls in.
var priorityOrder = []string{"discovery", "running", "new", "backfill"}

func (h *Handler) apiView() *apiView {
	a := &apiView{}
	if h.o.API != nil {
		st := h.o.API()
		a.Client = &st
		a.Lowered = st.CurrentRate < st.ConfiguredRate
		now := h.o.Now()
		if !st.AuthPausedUntil.After(now) {
			a.Client.AuthPausedUntil = time.Time{}
		}
		if !st.RetryAfterUntil.After(now) {
			a.Client.RetryAfterUntil = time.Time{}
		}
	}
	if h.o.APIMetrics == nil {
		return a
	}
	mfs, err := h.o.APIMetrics.Gather()
	if err != nil {
		a.Error = err.Error()
	}
	ops := map[string]*opRow{}
	op := func(name string) *opRow {
		r := ops[name]
		if r == nil {
			r = &opRow{Op: name}
			ops[name] = r
		}
		return r
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := m.GetCounter().GetValue()
			switch mf.GetName() {
			case metrics.APIRequestsTotal:
				r := op(label(m, metrics.LabelAPI))
				r.Calls += v
				if c := label(m, metrics.LabelCode); !strings.HasPrefix(c, "2") {
					r.Failed += v
				}
			case familyRetries:
				op(label(m, metrics.LabelAPI)).Retries += v
			case familyThrottled:
				op(label(m, metrics.LabelAPI)).Throttled += v
			case familyByPriority:
				a.ByPriority = append(a.ByPriority, priorityRow{Priority: label(m, labelPriority), Calls: v})
			}
		}
	}
	for _, r := range ops {
		a.Ops = append(a.Ops, *r)
		a.Total.Calls += r.Calls
		a.Total.Failed += r.Failed
		a.Total.Retries += r.Retries
		a.Total.Throttled += r.Throttled
	}
	slices.SortFunc(a.Ops, func(x, y opRow) int { return cmp.Compare(x.Op, y.Op) })
	rank := func(p string) int {
		if i := slices.Index(priorityOrder, p); i >= 0 {
			return i
		}
		return len(priorityOrder)
	}
	slices.SortFunc(a.ByPriority, func(x, y priorityRow) int {
		return cmp.Or(cmp.Compare(rank(x.Priority), rank(y.Priority)), cmp.Compare(x.Priority, y.Priority))
	})
	return a
}

func label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}
