// Package status serves /status, the exporter's HTML page for people: every
// followed job with its newest builds, the builds being read, why the
// newest failed build failed (action, category, cause, the log lines that
// show it), and the exporter's own health (API budget, state file, config
// reload). docs/status.md describes the page.
//
// The page is rendered on the server with html/template, which escapes
// every value for its context, so log text, action names and error
// messages are shown as text and never interpreted as HTML. It has no
// script and no external asset, and forbids both with a
// Content-Security-Policy header as a second line of defence.
package status

import (
	"bytes"
	"cmp"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
	"github.com/codearts-build-exporter/codearts_build_exporter/collector"
	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

// Path is where the page is served; a job's page is Path?job=NAME.
const Path = "/status"

// Source is the collector's read-only view the page shows.
// *collector.Collector implements it.
type Source interface {
	JobStatuses() []collector.JobStatus
	JobStatus(name string) (collector.JobStatus, bool)
	StateFile() collector.StateFileStatus
}

// ReloadStatus is the outcome of the configuration loads since start.
type ReloadStatus struct {
	File        string    // the config file ("" in --demo mode)
	LastAttempt time.Time // the last load or reload
	OK          bool      // whether it succeeded
	Error       string    // why it failed
	LastSuccess time.Time
}

// Options configure the page. Jobs is required; the other sources are
// left out of the page when nil.
type Options struct {
	Jobs Source
	// API returns the CodeArts client's rate limit and pauses.
	API func() codearts.ClientStatus
	// APIMetrics gathers the client's self-metrics (calls by operation and
	// priority, retries, throttled answers). It is gathered on every view
	// of the overview, so it should hold only those families.
	APIMetrics prometheus.Gatherer
	// Reload returns the config reload status.
	Reload func() ReloadStatus
	// Version is shown in the footer.
	Version string
	// MetricsPath, when set, is linked from the page's header.
	MetricsPath string
	Logger      *slog.Logger
	// Now replaces time.Now (tests).
	Now func() time.Time
}

//go:embed page.html
var pageFS embed.FS

// page is parsed on first use, not when every command of the program
// starts.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page.html").Funcs(template.FuncMap{
		"ago":       ago,
		"dur":       dur,
		"stamp":     stamp,
		"rate":      rateText,
		"level":     levelName,
		"firstLine": firstLine,
	}).ParseFS(pageFS, "page.html"))
})

// Handler serves the overview at Path and a job's page at Path?job=NAME.
type Handler struct {
	o Options
}

// New returns the page's handler.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{o: o}
}

// view is what the template renders.
type view struct {
	Now         time.Time
	Version     string
	MetricsPath string

	// Overview.
	Jobs     []jobRow
	Summary  summary
	InFlight []flightRow // the overview's, or the job page's
	API      *apiView
	State    collector.StateFileStatus
	Reload   *ReloadStatus

	// Job page (Job != nil) or a job that is not followed (Missing).
	Job     *collector.JobStatus
	Missing string
}

type summary struct {
	Jobs, PollFailing, LastFailed, InFlight int
}

// jobRow is one row of the overview's job table, formatted in Go: with
// 1,000 jobs, field lookups through embedded structs and function calls
// in the template cost more than the rest of the page.
type jobRow struct {
	Name       string
	Discovered bool
	Latest     int64
	rank       int // 0: polls fail, 1: newest build failed, 2: the others
	Class      string
	// The newest finished build, when HasLast.
	HasLast                    bool
	Result                     string
	Number                     int64
	FailedAction               string
	Duration, Age, FinishedUTC string
	// Categories counts the failure categories of the recent builds.
	Categories []categoryCount
	// PollError (first line), failing since PollSince; else PollOK is how
	// long ago the last success was ("" before the first poll).
	PollError, PollSince, PollOK string
}

type categoryCount struct {
	Category string
	N        int
}

// flightRow is one build in flight, flat for the same reason as jobRow.
type flightRow struct {
	Job                           string
	Number, Pages, Records        int64
	Status                        string
	Steps, StepsDone, Pct, Misses int
}

func newFlightRow(job string, b collector.BuildProgress) flightRow {
	return flightRow{Job: job, Number: b.Number, Pages: b.Pages, Records: b.Records, Status: b.Status,
		Steps: b.Steps, StepsDone: b.StepsDone, Pct: pct(b.StepsDone, b.Steps), Misses: b.Misses}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "This page supports GET and HEAD requests only.", http.StatusMethodNotAllowed)
		return
	}
	v := &view{Now: h.o.Now(), Version: h.o.Version, MetricsPath: h.o.MetricsPath}
	code := http.StatusOK
	if name, ok := r.URL.Query()["job"]; ok {
		js, found := h.o.Jobs.JobStatus(strings.Join(name, ""))
		if found {
			v.Job = &js
			for _, b := range js.InFlight {
				v.InFlight = append(v.InFlight, newFlightRow(js.Name, b))
			}
		} else {
			v.Missing = strings.Join(name, "")
			code = http.StatusNotFound
		}
	} else {
		h.overview(v)
	}
	var buf bytes.Buffer
	if err := page().Execute(&buf, v); err != nil {
		h.o.Logger.Error("Cannot render the status page", "err", err)
		http.Error(w, "cannot render the status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	// No script, no external resource: the embedded stylesheet only.
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// overview fills the overview's sections.
func (h *Handler) overview(v *view) {
	jobs := h.o.Jobs.JobStatuses()
	v.Jobs = make([]jobRow, len(jobs))
	for i := range jobs {
		v.Jobs[i] = newJobRow(&jobs[i], v.Now)
		for _, b := range jobs[i].InFlight {
			v.InFlight = append(v.InFlight, newFlightRow(jobs[i].Name, b))
		}
	}
	// The jobs that need a look first: failing polls, then failed newest
	// builds; by name within each group (JobStatuses sorts by name).
	slices.SortStableFunc(v.Jobs, func(a, b jobRow) int { return cmp.Compare(a.rank, b.rank) })
	v.Summary = summary{Jobs: len(v.Jobs), InFlight: len(v.InFlight)}
	for _, j := range v.Jobs {
		switch j.rank {
		case 0:
			v.Summary.PollFailing++
		case 1:
			v.Summary.LastFailed++
		}
	}
	v.State = h.o.Jobs.StateFile()
	if h.o.Reload != nil {
		rs := h.o.Reload()
		v.Reload = &rs
	}
	if h.o.API != nil || h.o.APIMetrics != nil {
		v.API = h.apiView()
	}
}

func newJobRow(j *collector.JobStatus, now time.Time) jobRow {
	r := jobRow{Name: j.Name, Discovered: j.Source == "discovery", Latest: j.LatestBuild, rank: 2,
		Categories: categories(j.Recent)}
	if len(j.Recent) > 0 {
		b := &j.Recent[0]
		r.HasLast, r.Result, r.Number, r.FailedAction = true, b.Result, b.Number, b.FailedAction
		r.Duration, r.Age, r.FinishedUTC = dur(b.Duration), ago(now, b.Finished), stamp(b.Finished)
		if b.Result == metrics.ResultFailure {
			r.rank, r.Class = 1, "lastfailed"
		}
	}
	switch {
	case j.Poll.Error != "":
		r.rank, r.Class = 0, "polldown"
		r.PollError, r.PollSince = firstLine(200, j.Poll.Error), ago(now, j.Poll.FailingSince)
	case !j.Poll.LastSuccess.IsZero():
		r.PollOK = ago(now, j.Poll.LastSuccess)
	}
	return r
}

// categories counts the failure categories of builds (an unclassified
// failure counts as "unclassified"), most frequent first.
func categories(builds []collector.BuildStatus) []categoryCount {
	var out []categoryCount
	for _, b := range builds {
		if b.Result != metrics.ResultFailure {
			continue
		}
		c := cmp.Or(b.Category, "unclassified")
		if i := slices.IndexFunc(out, func(x categoryCount) bool { return x.Category == c }); i >= 0 {
			out[i].N++
		} else {
			out = append(out, categoryCount{Category: c, N: 1})
		}
	}
	slices.SortStableFunc(out, func(a, b categoryCount) int { return cmp.Compare(b.N, a.N) })
	return out
}
