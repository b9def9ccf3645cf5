package simulator

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Options configures a simulated CodeArts Build service. The zero value of
// every field has a documented default; only Jobs is required.
type Options struct {
	// Seed determines everything random: build outcomes, durations, log
	// content, page sizes, empty pages, offset encodings and faults.
	Seed int64
	// Clock drives the simulated world. nil means the wall clock.
	Clock Clock
	// Origin is time zero of every job's build schedule (see JobSpec.Period).
	// The zero value means Clock.Now() at New, truncated to the second.
	// A fixed Origin (DemoOptions uses one) makes a restarted simulator with
	// the same seed serve the same builds and logs again.
	Origin time.Time
	// Jobs are the simulated build jobs (at least one).
	Jobs []JobSpec

	// ChunkMin and ChunkMax bound the size of a log page, in offset units
	// (characters, see docs/simulator.md). The size of the page that starts
	// at a given position is drawn from [ChunkMin, ChunkMax] by hashing the
	// seed, the step and the position. Defaults 512 and 8192.
	ChunkMin, ChunkMax int
	// EmptyPageRate is the probability that a log request which could return
	// text is answered with an empty `log` and has_more true (the reference:
	// "may be empty — simply ask again"). The same cursor is never answered
	// empty twice in a row, so asking again always makes progress.
	// 0 means the default 0.05; a negative value disables empty pages.
	EmptyPageRate float64
	// RetainBuilds is how many of the newest builds of each job are kept
	// (older builds are forgotten: their record-info, stages and logs
	// answer as unknown, like a record retention policy). Default 20.
	RetainBuilds int
	// Location is the value of result.location in log answers. Default "jenkins".
	Location string

	// Faults injects errors and slow answers into CodeArts operations.
	Faults Faults
	// Hostile makes the answers misbehave on purpose (see Hostile), to
	// test that a client never counts text twice, never waits forever and
	// never shows a secret.
	Hostile Hostile
	// RateLimit, when > 0, is a gateway limit in requests per second (with
	// RateBurst, default 1) over all CodeArts operations, measured on Clock;
	// requests over it get 429 APIG.0308 with Retry-After, like the real
	// gateway's throttling policies.
	RateLimit float64
	RateBurst int

	// AccessKey and SecretKey enable AK/SK (SDK-HMAC-SHA256) authentication.
	// ProjectID, when set, is the only X-Project-Id accepted (a signed
	// request must carry X-Project-Id in any case).
	AccessKey, SecretKey, ProjectID string
	// AKLockout enables the documented lock-out: after more than 5
	// consecutive signature failures of an access key, the key is refused
	// for 5 minutes (measured on Clock).
	AKLockout bool
	// Token is a static token accepted in X-Auth-Token.
	Token string
	// IAMUser, IAMPassword and IAMDomain enable POST /v3/auth/tokens: a
	// password request for exactly this user, password and domain name gets
	// 201 and a project-scoped token in X-Subject-Token, valid IAMTokenTTL
	// (default 24h, measured on Clock) in X-Auth-Token.
	IAMUser, IAMPassword, IAMDomain string
	IAMTokenTTL                     time.Duration
	// With none of AccessKey, Token and IAMUser set, authentication is off:
	// every request is served whatever credentials it carries.
}

// JobSpec describes one simulated build job and its schedule.
//
// Build n (n = 1, 2, ...) of a job is scheduled at
// Origin + Offset + (n-1)*Period, created up to Jitter later (whole
// seconds) and started (its start_time) two seconds after creation. Builds
// never overlap: New rejects a spec whose longest possible build does not
// fit in Period minus Jitter. A build exists (is served) from its start on.
type JobSpec struct {
	// ID is the 32-character job id, [0-9a-z]{32}.
	ID string
	// Name is the job_name served by ListJob (and repo_name of its records).
	Name string
	// ProjectID is the CodeArts project the job belongs to (ListJob's
	// project_id, record-info's dev_cloud_project_id): 32 [0-9a-z]. Empty
	// means one derived from the seed and the job id.
	ProjectID string
	// ProjectName is ListJob's project_name. Default "demo".
	ProjectName string
	// Stages are the job's steps stage1..stageN, in order. The simulator adds
	// the bookends `initial` and `final` itself.
	Stages []StageSpec
	// Period is the distance between two scheduled builds. Default: 1.2 ×
	// the longest possible build (at least 10s), plus Jitter and a second.
	Period time.Duration
	// Offset moves the first build's slot relative to Origin; a negative
	// Offset gives the job a history of builds before Origin.
	Offset time.Duration
	// Jitter is the largest delay of a build's start after its slot, in
	// whole seconds. 0 means the default min(Period/10, 10s); negative means none.
	Jitter time.Duration
	// Continuous stretches every build to fill its slot: the last stage that
	// runs (the failing or aborted one, else stageN) lasts until about a
	// second before the next build is created, so that the job is building
	// nearly all the time (the demo uses it so that a build is always in
	// progress).
	Continuous bool
	// MaxBuilds bounds the number of builds (0 = unlimited), so that a test
	// can reach a state where everything is finished.
	MaxBuilds int
	// FailureRate and AbortRate are the probabilities that a build ends
	// FAILED or ABORTED (in one of its stages) instead of SUCCESS.
	FailureRate, AbortRate float64
	// ErrorSpikeRate is the probability that a build contains an error
	// spike: a burst of SpikeRecords error output records within a couple of
	// seconds in one of its steps. SpikeRecords defaults to 200.
	ErrorSpikeRate float64
	SpikeRecords   int
	// RecordsPerSecond is how many tool-output records a running step writes
	// per second on average. Default 4.
	RecordsPerSecond float64
	// English selects English platform markers ("This step is start",
	// "This step is complete", "Failed to complete this step") instead of
	// Chinese ones ("该步骤开始执行", "该步骤执行完成", "该步骤执行失败").
	English bool
	// AltFormat writes log timestamps as [Sep 14, 2026 02:29:37.820 GMT+08:00]
	// (instead of [2026/09/14 02:29:37.820 GMT+08:00]), uses the INTERNAL
	// level for some platform records, DEV.CB error codes and ends builds
	// with an "All Tasks Status" block — the fourth real form described in
	// the fixtures README.
	AltFormat bool
	// LogZone is the zone of log timestamps (GMT±HH:MM). nil means UTC+08:00.
	LogZone *time.Location
	// CompactAPITimes writes API times as 2024-08-12T02:31:01+0800 (the
	// APIE schema form) instead of 2024-08-11T18:31:01.000+00:00.
	CompactAPITimes bool
}

// StageSpec describes one step (stage) of a job.
type StageSpec struct {
	// DisplayName is the stage's display_name, the action label the collector
	// uses ("Maven构建", "npm build"). Required.
	DisplayName string
	// Tag is the platform TAG written in the step's log,
	// `[<Tag>] : message`. Default DisplayName + ":" + a code for the tool
	// (e.g. "Maven构建:build_step_maven"). "Cache Check" (no action id) and
	// "Code checkout#preCheckout" are valid too.
	Tag string
	// Tool selects what the step's tool output looks like: git, maven,
	// junit, npm, lint, go, gotest, docker, shell, pytest, curl. "shell",
	// "pytest", "curl" and "git" replay pieces of the real fixtures.
	// Default "shell".
	Tool string
	// MinDuration and MaxDuration bound the step's running time (whole
	// seconds, at least 1s). Defaults 10s and 40s.
	MinDuration, MaxDuration time.Duration
	// NoLog makes the stage's node_id null: it runs, but has no step log
	// (the collector skips such stages).
	NoLog bool
}

// Hostile is a way of misbehaving on purpose: not a fault the real service
// is known to have, but what a client must survive without counting text
// twice, waiting forever, using unbounded memory or leaking a secret.
type Hostile int

// The hostile modes. The cursor modes act on every step log from its
// second page on (the first page is served correctly).
const (
	HostileNone Hostile = iota
	// HostileBackwards answers the page's text with end_offset back at
	// the start of the log and has_more true: a client that follows it
	// reads the log again and again.
	HostileBackwards
	// HostileStuck answers the page's text with end_offset equal to the
	// requested start_offset and has_more true.
	HostileStuck
	// HostileEmpty answers an empty log with has_more true, forever.
	HostileEmpty
	// HostileOversize answers a request without an end_offset with the
	// whole rest of the visible log in one page (a bounded request is
	// paged as usual).
	HostileOversize
	// HostileEcho puts the credentials the request carried into error
	// answers (whole, cut, lower-cased, upper-cased, halves), and answers
	// every ShowRunningStatus with such an error.
	HostileEcho
	numHostile
)

// FaultKind is one kind of injected fault.
type FaultKind int

// The injectable faults.
const (
	// FaultThrottle500 answers 500 with CB.00060211 ("requests too
	// frequent"): throttling that arrives as a server error.
	FaultThrottle500 FaultKind = iota
	// FaultThrottle429 answers 429 with APIG.0308 and a Retry-After header.
	FaultThrottle429
	// FaultInternal500 answers 500 with CB.00060101 (internal service error).
	FaultInternal500
	// FaultSlow answers correctly, after Faults.SlowDelay of real time.
	FaultSlow
	numFaultKinds
)

// String names the fault kind.
func (k FaultKind) String() string {
	switch k {
	case FaultThrottle500:
		return "throttle500"
	case FaultThrottle429:
		return "throttle429"
	case FaultInternal500:
		return "internal500"
	case FaultSlow:
		return "slow"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Faults configures fault injection. A fault is drawn per CodeArts request
// (after routing and authentication; never for IAM token requests and never
// for 404s) by hashing the seed and the request's sequence number, so the
// same request sequence gets the same faults. A faulted request changes
// nothing in the simulated world.
type Faults struct {
	// Rate is the probability that a request is faulted (0 = never).
	Rate float64
	// Kinds are drawn from uniformly; nil means all four.
	Kinds []FaultKind
	// SlowDelay is the real-time delay of a FaultSlow answer. Default 1s.
	SlowDelay time.Duration
	// RetryAfter is sent with FaultThrottle429, in whole seconds (at least 1).
	// Default 1s.
	RetryAfter time.Duration
	// ThrottleLimit is the limit of the policy that an injected APIG.0308
	// names in its message ("…policy user over ratelimit,limit:10,time:1
	// minute", the documented example): calls per minute. A client that
	// adapts its rate to the message slows down to it. Default 10.
	ThrottleLimit int
}

var jobIDPattern = regexp.MustCompile(`^[0-9a-z]{32}$`)

// knownTools are the Tool values of StageSpec.
var knownTools = map[string]string{
	"git":    "external_pre_checkout",
	"maven":  "build_step_maven",
	"junit":  "build_step_unittest",
	"npm":    "build_step_npm",
	"lint":   "build_step_lint",
	"go":     "build_step_go",
	"gotest": "build_step_gotest",
	"docker": "build_step_docker",
	"shell":  "build_execute",
	"pytest": "build_execute",
	"curl":   "build_execute",
}

// Fixed lengths of the bookend stages (see plan.go).
const (
	initialMaxSeconds = 4
	finalMaxSeconds   = 2
)

// normalize checks o and fills in defaults. It returns a copy; the caller's
// slices are not modified.
func (o Options) normalize() (Options, error) {
	if len(o.Jobs) == 0 {
		return o, errors.New("simulator: Options.Jobs is empty")
	}
	if o.ChunkMin == 0 {
		o.ChunkMin = 512
	}
	if o.ChunkMax == 0 {
		o.ChunkMax = 8192
	}
	if o.ChunkMin < 1 || o.ChunkMax < o.ChunkMin {
		return o, fmt.Errorf("simulator: ChunkMin %d / ChunkMax %d: need 1 <= ChunkMin <= ChunkMax", o.ChunkMin, o.ChunkMax)
	}
	if o.EmptyPageRate == 0 {
		o.EmptyPageRate = 0.05
	}
	if o.EmptyPageRate > 1 {
		return o, fmt.Errorf("simulator: EmptyPageRate %v > 1", o.EmptyPageRate)
	}
	if o.RetainBuilds == 0 {
		o.RetainBuilds = 20
	}
	if o.RetainBuilds < 1 {
		return o, fmt.Errorf("simulator: RetainBuilds %d < 1", o.RetainBuilds)
	}
	if o.Location == "" {
		o.Location = "jenkins"
	}
	if o.Faults.Rate < 0 || o.Faults.Rate > 1 {
		return o, fmt.Errorf("simulator: Faults.Rate %v not in [0, 1]", o.Faults.Rate)
	}
	for _, k := range o.Faults.Kinds {
		if k < 0 || k >= numFaultKinds {
			return o, fmt.Errorf("simulator: unknown fault kind %d", int(k))
		}
	}
	if o.Hostile < 0 || o.Hostile >= numHostile {
		return o, fmt.Errorf("simulator: unknown Hostile mode %d", int(o.Hostile))
	}
	if o.RateLimit < 0 {
		return o, fmt.Errorf("simulator: RateLimit %v < 0", o.RateLimit)
	}
	if o.RateBurst <= 0 {
		o.RateBurst = 1
	}
	if (o.AccessKey == "") != (o.SecretKey == "") {
		return o, errors.New("simulator: AccessKey and SecretKey must be set together")
	}
	if o.IAMUser != "" && (o.IAMPassword == "" || o.IAMDomain == "") {
		return o, errors.New("simulator: IAMUser needs IAMPassword and IAMDomain")
	}
	if o.IAMTokenTTL == 0 {
		o.IAMTokenTTL = 24 * time.Hour
	}
	seen := map[string]bool{}
	jobs := make([]JobSpec, len(o.Jobs))
	for i, j := range o.Jobs {
		nj, err := j.normalize()
		if err != nil {
			return o, fmt.Errorf("simulator: job %d (%q): %w", i, j.Name, err)
		}
		if seen[nj.ID] {
			return o, fmt.Errorf("simulator: job %d (%q): duplicate id %s", i, j.Name, nj.ID)
		}
		seen[nj.ID] = true
		jobs[i] = nj
	}
	o.Jobs = jobs
	return o, nil
}

func (j JobSpec) normalize() (JobSpec, error) {
	if !jobIDPattern.MatchString(j.ID) {
		return j, fmt.Errorf("id %q is not 32 characters [0-9a-z]", j.ID)
	}
	if j.Name == "" {
		j.Name = j.ID
	}
	if j.ProjectID != "" && !jobIDPattern.MatchString(j.ProjectID) {
		return j, fmt.Errorf("project id %q is not 32 characters [0-9a-z]", j.ProjectID)
	}
	if j.ProjectName == "" {
		j.ProjectName = "demo"
	}
	if len(j.Stages) == 0 {
		return j, errors.New("no stages")
	}
	for _, r := range []float64{j.FailureRate, j.AbortRate, j.ErrorSpikeRate} {
		if r < 0 || r > 1 {
			return j, fmt.Errorf("rate %v not in [0, 1]", r)
		}
	}
	if j.FailureRate+j.AbortRate > 1 {
		return j, fmt.Errorf("FailureRate + AbortRate = %v > 1", j.FailureRate+j.AbortRate)
	}
	if j.MaxBuilds < 0 {
		return j, fmt.Errorf("MaxBuilds %d < 0", j.MaxBuilds)
	}
	if j.SpikeRecords == 0 {
		j.SpikeRecords = 200
	}
	if j.SpikeRecords < 0 {
		return j, fmt.Errorf("SpikeRecords %d < 0", j.SpikeRecords)
	}
	if j.RecordsPerSecond == 0 {
		j.RecordsPerSecond = 4
	}
	if j.RecordsPerSecond < 0 {
		return j, fmt.Errorf("RecordsPerSecond %v < 0", j.RecordsPerSecond)
	}
	if j.LogZone == nil {
		j.LogZone = time.FixedZone("GMT+08:00", 8*3600)
	}
	stages := make([]StageSpec, len(j.Stages))
	// The longest possible build: bookends, one second of pending before
	// every stage, and every stage at its maximum.
	longest := time.Duration(initialMaxSeconds+finalMaxSeconds+1) * time.Second
	for i, s := range j.Stages {
		if s.DisplayName == "" {
			return j, fmt.Errorf("stage %d: empty DisplayName", i+1)
		}
		if s.Tool == "" {
			s.Tool = "shell"
		}
		code, ok := knownTools[s.Tool]
		if !ok {
			return j, fmt.Errorf("stage %d (%q): unknown Tool %q", i+1, s.DisplayName, s.Tool)
		}
		if s.Tag == "" {
			s.Tag = s.DisplayName + ":" + code
		}
		if s.MinDuration == 0 {
			s.MinDuration = 10 * time.Second
		}
		if s.MaxDuration == 0 {
			s.MaxDuration = 40 * time.Second
		}
		s.MinDuration = s.MinDuration.Truncate(time.Second)
		s.MaxDuration = s.MaxDuration.Truncate(time.Second)
		if s.MinDuration < time.Second || s.MaxDuration < s.MinDuration {
			return j, fmt.Errorf("stage %d (%q): durations %v..%v: need 1s <= MinDuration <= MaxDuration", i+1, s.DisplayName, s.MinDuration, s.MaxDuration)
		}
		longest += s.MaxDuration + time.Second
		stages[i] = s
	}
	j.Stages = stages
	if j.Period == 0 {
		j.Period = max(10*time.Second, (longest * 6 / 5).Round(time.Second))
		if j.Jitter == 0 {
			j.Jitter = min(j.Period/10, 10*time.Second)
		}
		j.Period += j.Jitter.Truncate(time.Second) + time.Second
	}
	if j.Jitter == 0 {
		j.Jitter = min(j.Period/10, 10*time.Second)
	}
	if j.Jitter < 0 {
		j.Jitter = 0
	}
	j.Jitter = j.Jitter.Truncate(time.Second)
	if need := longest + j.Jitter + time.Second; j.Period < need {
		return j, fmt.Errorf("the build period %v (JobSpec.Period) is too short: the longest possible build (%v) plus Jitter (%v) and a second of rounding needs %v", j.Period, longest, j.Jitter, need)
	}
	return j, nil
}
