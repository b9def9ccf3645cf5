package collector

import (
	"hash/maphash"
	"iter"
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// The ledger is the one source of truth (docs/collector.md): everything
// /metrics shows about logs and builds and everything the state file holds.
// A published ledger is immutable; a poll clones the entry of the job it
// works on, advances the clone, and commits it (state file first, then
// publish). Only the commit path replaces entries of a published ledger.

// ledger maps the job name (the job_name label) to that job's entry.
// Counters are keyed by name because the name is the series identity
// Prometheus sees; build progress inside an entry belongs to its JobID.
//
// The entries are spread over ledgerParts maps by a hash of the name, so
// that a commit, which publishes a new ledger sharing everything but the
// changed entries, copies the part holding the job (about 1/256 of the
// jobs) and an array of part pointers, not every entry: a commit's cost
// grows with what changed, not with the number of jobs.
type ledger struct {
	parts [ledgerParts]map[string]*jobLedger
}

const ledgerParts = 256

var ledgerSeed = maphash.MakeSeed()

func partOf(name string) int { return int(maphash.String(ledgerSeed, name) % ledgerParts) }

// newLedger returns a ledger of the entries of jobs (which it does not keep).
func newLedger(jobs map[string]*jobLedger) *ledger {
	l := &ledger{}
	for name, jl := range jobs {
		l.set(name, jl)
	}
	return l
}

// set sets the entry of name on l, which must not be published yet.
func (l *ledger) set(name string, jl *jobLedger) {
	p := &l.parts[partOf(name)]
	if *p == nil {
		*p = map[string]*jobLedger{}
	}
	(*p)[name] = jl
}

// job returns the entry of name, nil if there is none.
func (l *ledger) job(name string) *jobLedger { return l.parts[partOf(name)][name] }

// len returns the number of entries.
func (l *ledger) len() int {
	n := 0
	for _, p := range l.parts {
		n += len(p)
	}
	return n
}

// all yields every entry, in no particular order.
func (l *ledger) all() iter.Seq2[string, *jobLedger] {
	return func(yield func(string, *jobLedger) bool) {
		for _, p := range l.parts {
			for name, jl := range p {
				if !yield(name, jl) {
					return
				}
			}
		}
	}
}

// names returns the names of the entries, sorted.
func (l *ledger) names() []string {
	names := make([]string, 0, l.len())
	for name := range l.all() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// jobLedger is one job's build progress and every counter and histogram
// value of its series.
type jobLedger struct {
	// JobID is the CodeArts job id the progress below belongs to. When the
	// config maps the name to another id, progress restarts (counters stay).
	JobID string `json:"job_id"`

	// LastBuildNo is the newest build number ShowRunningStatus reported.
	LastBuildNo int64 `json:"last_build_no,omitempty"`
	// NextBuildNo is the first build number not yet scheduled for ingestion;
	// 0 means the job has never been seen (the backfill decision is pending).
	NextBuildNo int64 `json:"next_build_no,omitempty"`
	// RecordIDField caches which record-info field full-stages accepted as
	// record_id ("id" or "build_record_id", docs/api-reference.md §12 Q3).
	RecordIDField string `json:"record_id_field,omitempty"`
	// Builds are the builds being ingested, ascending by number.
	Builds []*buildProgress `json:"builds,omitempty"`
	// LastBuild is the newest finished build that has been fully ingested.
	LastBuild *lastBuild `json:"last_build,omitempty"`

	// Bytes is codearts_build_log_bytes_total.
	Bytes uint64 `json:"bytes"`
	// Records is codearts_build_log_records_total by action, then
	// [source][level].
	Records map[string]recordCounts `json:"records,omitempty"`
	// ActionDur is codearts_build_action_duration_seconds by action, then result.
	ActionDur map[string]map[string]*histogram `json:"action_duration,omitempty"`
	// BuildDur is codearts_build_duration_seconds by result.
	BuildDur map[string]*histogram `json:"build_duration,omitempty"`
	// Failures is codearts_build_failures_total by action, then category.
	Failures map[string]map[string]uint64 `json:"failures,omitempty"`
	// LastFailure is the job's newest classified failed action run.
	LastFailure *failureRecord `json:"last_failure,omitempty"`

	// Recent are the newest fully ingested finished builds, newest first,
	// at most maxRecentBuilds of them: the build history /status shows.
	Recent []buildSummary `json:"recent,omitempty"`
}

// recordCounts is indexed by parser.Source, then parser.Level.
type recordCounts [parser.NumSources][parser.NumLevels]uint64

// lastBuild describes the newest fully ingested finished build.
type lastBuild struct {
	Number     int64  `json:"number"`
	Result     string `json:"result"`
	FinishedMs int64  `json:"finished_ms,omitempty"` // epoch ms; 0 = unknown
	DurationMs int64  `json:"duration_ms"`
}

// maxRecentBuilds and maxRecentActions bound jobLedger.Recent, so the
// history costs at most a few kilobytes per job in memory and in the state
// file whatever the builds look like.
const (
	maxRecentBuilds  = 5
	maxRecentActions = 32
)

// buildSummary is one finished build of jobLedger.Recent.
type buildSummary struct {
	lastBuild
	// Actions are the build's action runs in stage order (at most
	// maxRecentActions; stages with no log record are left out).
	Actions []actionRun `json:"actions,omitempty"`
	// FailedAction is the first action run whose result is failure.
	FailedAction string `json:"failed_action,omitempty"`
	// Category is the failure category of FailedAction when the failure
	// rules classified it.
	Category string `json:"category,omitempty"`
}

// actionRun is one action run of a finished build.
type actionRun struct {
	Action     string `json:"action"`
	Result     string `json:"result"`
	DurationMs int64  `json:"duration_ms"`
	Records    int64  `json:"records,omitempty"`
}

// buildProgress is a build being ingested.
type buildProgress struct {
	Number   int64  `json:"number"`
	RecordID string `json:"record_id,omitempty"`
	Status   string `json:"status,omitempty"`
	// Misses counts consecutive polls in which the build, its stages or a
	// step log answered "not found"; at Options.BuildGiveUpAfter the build
	// is dropped.
	Misses int `json:"misses,omitempty"`
	// Backfill marks a build scheduled at the first sight of its job, or
	// one of several missed during an outage other than the newest: it is
	// read after running and new builds (codearts.PriorityBackfill).
	Backfill bool             `json:"backfill,omitempty"`
	Stages   []*stageProgress `json:"stages,omitempty"`
	// Final is the build's record, kept once the build and every one of
	// its stages had a finished status: neither its record nor its stages
	// change after that, so the polls that read the rest of its logs do not
	// ask for them again (two API calls per build and poll).
	Final *finalRecord `json:"final,omitempty"`
}

// finalRecord is what finishing a build needs of its record.
type finalRecord struct {
	Status     string `json:"status"`
	StartMs    int64  `json:"start_ms,omitempty"`
	FinishMs   int64  `json:"finish_ms,omitempty"`
	DurationMs int64  `json:"duration_ms,omitempty"`
}

// final is what finishing the build needs of r.
func (r *buildRecord) final() finalRecord {
	return finalRecord{Status: r.Status, StartMs: r.StartMs, FinishMs: r.FinishMs, DurationMs: r.DurationMs}
}

// stageProgress is one stage (step) log of a build.
type stageProgress struct {
	// Key identifies the stage within the build: execution_stage_name.
	Key     string `json:"key"`
	NodeID  int64  `json:"node_id"`
	Display string `json:"display"` // the action label value
	Status  string `json:"status,omitempty"`
	// Cursor is the end_offset the API returned last: the next start_offset.
	Cursor int64 `json:"cursor"`
	// Stream is the parser's carried state (the partial record at the
	// cursor), so a record split across pages or restarts counts once.
	Stream parser.StreamState `json:"stream"`
	// Records is how many records of this log were counted so far.
	Records int64 `json:"records,omitempty"`
	// Pages is how many log pages of this log were ingested so far.
	Pages int64 `json:"pages,omitempty"`
	// First/LastMs are the timestamps of the first and the last record of
	// the log read so far (valid when HasTime).
	HasTime bool  `json:"has_time,omitempty"`
	FirstMs int64 `json:"first_ms,omitempty"`
	LastMs  int64 `json:"last_ms,omitempty"`
	// Failure is the failure classifier's state for this log, carried like
	// Stream so that a restart classifies as an uninterrupted run would.
	Failure parser.FailureState `json:"failure,omitzero"`
	// Done: the log was read to the end, flushed and (for a finished stage)
	// its duration observed, or the step was given up (page.go). Nothing
	// more happens to a done stage.
	Done bool `json:"done,omitempty"`
	// Stalls counts consecutive polls in which the step's log did not move
	// forward (page.go), for StallReason; at Options.BuildGiveUpAfter the
	// step is given up.
	Stalls      int    `json:"stalls,omitempty"`
	StallReason string `json:"stall_reason,omitempty"`
	// Bounded: an answer for this step was over the body limit, so every
	// further page is asked with a bounded end_offset.
	Bounded bool `json:"bounded,omitempty"`
}

// histogram holds one histogram series. Sums are kept in integer
// milliseconds so that restarts and observation order can never change the
// exposed sum by a rounding error.
type histogram struct {
	Count uint64 `json:"count"`
	SumMs int64  `json:"sum_ms"`
	// Buckets are non-cumulative counts per upper bound of the family's
	// bucket list, plus a last entry for +Inf.
	Buckets []uint64 `json:"buckets"`
	// NativeZero and Native hold the same observations as a native
	// histogram of schema metrics.NativeSchema: the observations of 0, and
	// the others by bucket key. They are kept whatever the exposition mode
	// (--metrics.duration-histograms), so switching it never restarts a
	// histogram; NativeZero plus the counts of Native equals Count.
	NativeZero uint64         `json:"native_zero,omitempty"`
	Native     map[int]uint64 `json:"native,omitempty"`
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{Buckets: make([]uint64, len(bounds)+1)}
}

// observe adds one observation of ms milliseconds (negative counts as 0).
func (h *histogram) observe(bounds []float64, ms int64) {
	if ms < 0 {
		ms = 0
	}
	h.Count++
	h.SumMs += ms
	v := float64(ms) / 1000
	i, _ := slices.BinarySearch(bounds, v) // first bound >= v: le is inclusive
	h.Buckets[i]++
	h.observeNative(v, 1)
}

func (h *histogram) observeNative(v float64, n uint64) {
	if v <= 0 {
		h.NativeZero += n
		return
	}
	if h.Native == nil {
		h.Native = make(map[int]uint64)
	}
	h.Native[metrics.NativeKey(v)] += n
}

// nativeComplete reports whether the native buckets hold every observation.
// They do not in a histogram written before native buckets were kept.
func (h *histogram) nativeComplete() bool {
	n := h.NativeZero
	for _, c := range h.Native {
		n += c
	}
	return n == h.Count
}

// seedNative rebuilds the native buckets from the classic ones, for a
// histogram written before native buckets were kept: each classic bucket's
// count goes to the native bucket of its upper bound, the +Inf bucket's to
// the native bucket of twice the last bound. Count and sum are exact; where
// inside a classic bucket the observations fell is lost.
func (h *histogram) seedNative(bounds []float64) {
	h.NativeZero, h.Native = 0, nil
	for i, n := range h.Buckets {
		switch {
		case n == 0:
		case i < len(bounds):
			h.observeNative(bounds[i], n)
		default:
			h.observeNative(2*bounds[len(bounds)-1], n)
		}
	}
}

// cumulative returns the per-bound cumulative counts for a const histogram.
func (h *histogram) cumulative(bounds []float64) map[float64]uint64 {
	m := make(map[float64]uint64, len(bounds))
	var acc uint64
	for i, b := range bounds {
		if i < len(h.Buckets) {
			acc += h.Buckets[i]
		}
		m[b] = acc
	}
	return m
}

func (h *histogram) clone() *histogram {
	c := *h
	c.Buckets = slices.Clone(h.Buckets)
	c.Native = maps.Clone(h.Native)
	return &c
}

// rebucket maps counts kept against the bucket list from onto the list to.
// Each old bucket moves to the smallest new bound at or above its own, so
// the cumulative count of every bound present in both lists is unchanged
// (those series never go backwards); new bounds get the best available
// approximation.
func (h *histogram) rebucket(from, to []float64) {
	nb := make([]uint64, len(to)+1)
	for i, n := range h.Buckets {
		ub := math.Inf(1)
		if i < len(from) {
			ub = from[i]
		}
		j, _ := slices.BinarySearch(to, ub)
		nb[j] += n
	}
	h.Buckets = nb
}

func (j *jobLedger) clone() *jobLedger {
	c := *j
	if j.Builds != nil {
		c.Builds = make([]*buildProgress, len(j.Builds))
		for i, b := range j.Builds {
			c.Builds[i] = b.clone()
		}
	}
	if j.LastBuild != nil {
		lb := *j.LastBuild
		c.LastBuild = &lb
	}
	c.Records = maps.Clone(j.Records)
	if j.ActionDur != nil {
		c.ActionDur = make(map[string]map[string]*histogram, len(j.ActionDur))
		for a, byResult := range j.ActionDur {
			m := make(map[string]*histogram, len(byResult))
			for r, h := range byResult {
				m[r] = h.clone()
			}
			c.ActionDur[a] = m
		}
	}
	if j.BuildDur != nil {
		c.BuildDur = make(map[string]*histogram, len(j.BuildDur))
		for r, h := range j.BuildDur {
			c.BuildDur[r] = h.clone()
		}
	}
	c.Failures = cloneFailures(j.Failures)
	c.LastFailure = j.LastFailure.clone()
	if j.Recent != nil {
		c.Recent = make([]buildSummary, len(j.Recent))
		for i, b := range j.Recent {
			b.Actions = slices.Clone(b.Actions)
			c.Recent[i] = b
		}
	}
	return &c
}

func (b *buildProgress) clone() *buildProgress {
	c := *b
	if b.Final != nil {
		f := *b.Final
		c.Final = &f
	}
	if b.Stages != nil {
		c.Stages = make([]*stageProgress, len(b.Stages))
		for i, s := range b.Stages {
			sc := *s
			sc.Stream = cloneStreamState(s.Stream)
			sc.Failure = s.Failure.Clone()
			c.Stages[i] = &sc
		}
	}
	return &c
}

// cloneStreamState deep-copies a parser.StreamState through the parser's own
// Restore/State pair, so the copy stays correct whatever fields it gains.
func cloneStreamState(st parser.StreamState) parser.StreamState {
	s := parser.NewStream(noRules(), func(*parser.Record) {})
	s.Restore(st)
	return s.State()
}

// noRules is an empty rule set for streams that only copy state.
var noRules = sync.OnceValue(func() *parser.Rules {
	r, err := parser.CompileRules(nil)
	if err != nil {
		panic("parser.CompileRules(nil): " + err.Error()) // cannot happen: no rules, nothing to reject
	}
	return r
})

// addRecord counts one record under action.
func (j *jobLedger) addRecord(action string, src parser.Source, lvl parser.Level) {
	if j.Records == nil {
		j.Records = make(map[string]recordCounts)
	}
	rc := j.Records[action]
	if int(src) < parser.NumSources && int(lvl) < parser.NumLevels {
		rc[src][lvl]++
	} else {
		rc[parser.SourceOutput][parser.LevelInfo]++
	}
	j.Records[action] = rc
}

// observeAction records one finished action run.
func (j *jobLedger) observeAction(action, result string, ms int64) {
	if j.ActionDur == nil {
		j.ActionDur = make(map[string]map[string]*histogram)
	}
	m := j.ActionDur[action]
	if m == nil {
		m = make(map[string]*histogram)
		j.ActionDur[action] = m
	}
	h := m[result]
	if h == nil {
		h = newHistogram(metrics.ActionDurationBuckets)
		m[result] = h
	}
	h.observe(metrics.ActionDurationBuckets, ms)
}

// observeBuild records one finished build.
func (j *jobLedger) observeBuild(result string, ms int64) {
	if j.BuildDur == nil {
		j.BuildDur = make(map[string]*histogram)
	}
	h := j.BuildDur[result]
	if h == nil {
		h = newHistogram(metrics.BuildDurationBuckets)
		j.BuildDur[result] = h
	}
	h.observe(metrics.BuildDurationBuckets, ms)
}

// hasAction reports whether action already labels a series of this job.
func (j *jobLedger) hasAction(action string) bool {
	if _, ok := j.Records[action]; ok {
		return true
	}
	if _, ok := j.ActionDur[action]; ok {
		return true
	}
	_, ok := j.Failures[action]
	return ok
}

// numActions is the number of distinct action label values of this job.
func (j *jobLedger) numActions() int {
	n := len(j.Records)
	for a := range j.ActionDur {
		if _, ok := j.Records[a]; !ok {
			n++
		}
	}
	for a := range j.Failures {
		_, r := j.Records[a]
		_, d := j.ActionDur[a]
		if !r && !d {
			n++
		}
	}
	return n
}

// withJob returns a new ledger sharing every entry with l except name,
// which is set to jl (nil removes it).
func (l *ledger) withJob(name string, jl *jobLedger) *ledger {
	return l.withJobs(map[string]*jobLedger{name: jl})
}

// withJobs is withJob for several entries at once. Only the parts that
// hold them are copied.
func (l *ledger) withJobs(jls map[string]*jobLedger) *ledger {
	n := &ledger{parts: l.parts}
	var copied [ledgerParts]bool
	for name, jl := range jls {
		i := partOf(name)
		if !copied[i] {
			copied[i] = true
			n.parts[i] = maps.Clone(l.parts[i])
		}
		p := n.parts[i]
		switch {
		case jl == nil:
			delete(p, name)
			if len(p) == 0 {
				n.parts[i] = nil // as newLedger leaves an empty part
			}
		case p == nil:
			n.parts[i] = map[string]*jobLedger{name: jl}
		default:
			p[name] = jl
		}
	}
	return n
}
