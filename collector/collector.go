// Package collector polls CodeArts Build for the configured jobs, reads every
// step log exactly once across pages and restarts, and exports the results as
// a prometheus.Collector.
//
// All state lives in one value, the ledger: per job the builds being read
// (record id, stages, log cursors, the parser's carried partial record) and
// every counter and histogram value. A poll advances a private copy of a
// job's entry; a commit makes that entry durable in the state file and only
// then publishes it. Collect emits const metrics from the published
// ledger, so /metrics is never ahead of the state file. docs/collector.md
// describes polling, paging, checkpoints, the state file and the metrics.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// Job is one CodeArts build job to poll.
type Job struct {
	// ID is the 32-character CodeArts job id.
	ID string
	// Name is the job_name label value; empty means ID.
	Name string
	// Source is SourceConfig for a job of Options.Jobs (the default) and
	// SourceDiscovery for one found through ListJob.
	Source string
}

// Options configure a Collector. Zero values take the defaults documented on
// each field.
type Options struct {
	// Client calls CodeArts. Required.
	Client *codearts.Client
	// Jobs to poll. Names must be unique.
	Jobs []Job
	// Discovery, when not nil, also follows every job ListJob returns that
	// passes its filters (docs/collector.md, "Discovery").
	Discovery *Discovery
	// Shard and TotalShards split the followed jobs between TotalShards
	// instances by ShardOf(job id): this one polls, exports and keeps state
	// for shard Shard only. Defaults 0 and 1 (no sharding).
	Shard, TotalShards int
	// PollInterval is the time between the starts of two polls in Run.
	// Default 15s.
	PollInterval time.Duration
	// BackfillBuilds is how many of the newest builds are ingested when a
	// job is seen for the first time (0: only builds that start later).
	BackfillBuilds int
	// Rules classify tool output; nil means parser.DefaultRules().
	Rules *parser.Rules
	// FailureRules classify failed stages; nil means
	// parser.DefaultFailureRules().
	FailureRules *parser.FailureRules
	// StateFile is the checkpoint file; empty disables checkpointing.
	// It cannot change in Update.
	StateFile string
	// Concurrency is how many jobs are polled at the same time. Default 4.
	Concurrency int
	// Logger; nil discards.
	Logger *slog.Logger
	// Registerer, if not nil, gets the Collector registered on it by New.
	// Update ignores it.
	Registerer prometheus.Registerer

	// MaxPagesPerStep bounds the log pages read for one step in one poll.
	// Default 100.
	MaxPagesPerStep int
	// MaxPagesPerPoll bounds the log pages read for one job in one poll.
	// Default 1000.
	MaxPagesPerPoll int
	// CommitEveryPages makes a poll commit (write the state file, then
	// publish) after this many log pages, besides at its end. It bounds
	// what a crash makes the exporter read again. Default 50.
	CommitEveryPages int
	// BuildGiveUpAfter is the number of consecutive polls in which a build
	// (or its stages or one of its step logs) may answer "not found" before
	// it is dropped and counted in codearts_exporter_builds_given_up_total.
	// Default 20.
	BuildGiveUpAfter int
	// MaxBuildsBehind bounds how many builds one poll may schedule for a
	// job that is already known (after a long outage); older ones are
	// skipped and counted in codearts_exporter_builds_skipped_total.
	// Default 100.
	MaxBuildsBehind int
	// MaxActionsPerJob bounds the distinct action label values per job;
	// records of further actions are counted under action="_other".
	// Default 200.
	MaxActionsPerJob int
	// DurationHistograms says how the two duration families are exposed
	// (classic buckets, native histograms or both); the ledger keeps both
	// forms whatever it is. Default metrics.Classic.
	DurationHistograms metrics.HistogramMode

	// api replaces Client (tests).
	api api
	// hook, when set, is called at named points of a poll; returning true
	// simulates a crash there: from that moment the Collector writes and
	// publishes nothing and every poll returns errCrashed (tests).
	hook func(point string) bool
	// now replaces time.Now (tests).
	now func() time.Time
}

// Hook points (tests).
const (
	hookBeforeWrite  = "before-write"  // ledger encoded, state file not yet written
	hookAfterWrite   = "after-write"   // state file renamed into place, not yet published
	hookAfterPublish = "after-publish" // published
	hookAfterPage    = "after-page"    // a log page was ingested into the working copy
)

// OtherAction is the action label value used for records of actions beyond
// Options.MaxActionsPerJob.
const OtherAction = "_other"

var errCrashed = errors.New("collector stopped by a simulated crash")

// config is the validated, immutable part of Options that Update replaces.
type config struct {
	api              api
	jobs             []Job
	discovery        *Discovery
	shard            int
	totalShards      int
	pollInterval     time.Duration
	backfill         int
	rules            *parser.Rules
	failureRules     *parser.FailureRules
	concurrency      int
	maxPagesPerStep  int
	maxPagesPerPoll  int
	commitEveryPages int
	giveUpAfter      int
	maxBehind        int
	maxActions       int
	histograms       metrics.HistogramMode
}

// Collector polls CodeArts and exports the results. It implements
// prometheus.Collector. Create it with New.
type Collector struct {
	cfg       atomic.Pointer[config]
	stateFile string
	logger    *slog.Logger
	hook      func(string) bool
	now       func() time.Time

	pollMu    sync.Mutex  // one round's scheduling at a time
	commitMu  sync.Mutex  // serialises state writes and publications
	store     *stateStore // nil without a state file; used under commitMu
	followed  atomic.Pointer[[]Job]
	sched     sched
	prog      progress
	jobSem    atomic.Pointer[chan struct{}] // bounds the jobs polled at once
	jobs      sync.WaitGroup                // every job poll started by a round
	rounds    atomic.Int64                  // rounds started
	published atomic.Pointer[ledger]
	ready     atomic.Bool
	writeErr  atomic.Pointer[error] // the last state write failed with it; nil after a success
	crashed   atomic.Bool

	errMu   sync.Mutex
	lastErr map[string]string    // job name -> errKey of its last failed poll
	polls   map[string]pollState // job name -> outcome of its polls, for /status

	stateMu sync.Mutex // guards state, which commit updates outside of readers' way
	state   StateFileStatus

	descs descs
	self  *selfMetrics
}

// New validates o, loads the state file (a missing file starts from zero; a
// damaged one is a *StateFileError saying how to recover) and, when
// o.Registerer is set, registers the Collector on it.
func New(o Options) (*Collector, error) {
	cfg, err := o.validate()
	if err != nil {
		return nil, err
	}
	c := &Collector{
		stateFile: o.StateFile,
		logger:    o.Logger,
		hook:      o.hook,
		now:       o.now,
		lastErr:   map[string]string{},
		polls:     map[string]pollState{},
		descs:     newDescs(),
		self:      newSelfMetrics(),
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	cfg.api = countingAPI{cfg.api, &c.prog.calls}
	c.cfg.Store(cfg)
	c.sched.inFlight, c.sched.departed = map[string]bool{}, map[string]Job{}
	sem := make(chan struct{}, cfg.concurrency)
	c.jobSem.Store(&sem)
	c.followed.Store(&[]Job{})
	l := &ledger{}
	if o.StateFile != "" {
		loaded, notes, store, err := loadState(o.StateFile)
		if err != nil {
			return nil, err
		}
		c.store = store
		for _, n := range notes {
			c.logger.Warn("state file loaded with changes", "file", o.StateFile, "change", n)
		}
		if loaded != nil {
			l = loaded
			c.ready.Store(true)
			c.logger.Info("state restored", "file", o.StateFile, "jobs", l.len())
		} else {
			c.logger.Info("no state file yet; counters start from zero", "file", o.StateFile)
		}
	}
	c.published.Store(l)
	c.refollow(cfg, nil)
	if o.Registerer != nil {
		if err := o.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("register collector: %w", err)
		}
	}
	return c, nil
}

func (o Options) validate() (*config, error) {
	cfg := &config{
		api:              o.api,
		discovery:        o.Discovery,
		shard:            o.Shard,
		totalShards:      o.TotalShards,
		pollInterval:     o.PollInterval,
		backfill:         o.BackfillBuilds,
		rules:            o.Rules,
		failureRules:     o.FailureRules,
		concurrency:      o.Concurrency,
		maxPagesPerStep:  o.MaxPagesPerStep,
		maxPagesPerPoll:  o.MaxPagesPerPoll,
		commitEveryPages: o.CommitEveryPages,
		giveUpAfter:      o.BuildGiveUpAfter,
		maxBehind:        o.MaxBuildsBehind,
		maxActions:       o.MaxActionsPerJob,
		histograms:       o.DurationHistograms,
	}
	if cfg.api == nil {
		if o.Client == nil {
			return nil, errors.New("collector: Options.Client is required")
		}
		cfg.api = clientAPI{o.Client}
	}
	if cfg.totalShards == 0 {
		cfg.totalShards = 1
	}
	if cfg.totalShards < 1 || cfg.shard < 0 || cfg.shard >= cfg.totalShards {
		return nil, fmt.Errorf("collector: shard %d of %d: want 0 ≤ shard < total shards", cfg.shard, cfg.totalShards)
	}
	if o.BackfillBuilds < 0 {
		return nil, fmt.Errorf("collector: BackfillBuilds must not be negative (got %d)", o.BackfillBuilds)
	}
	for _, p := range []struct {
		v   *int
		def int
		n   string
	}{
		{&cfg.concurrency, 4, "Concurrency"},
		{&cfg.maxPagesPerStep, 100, "MaxPagesPerStep"},
		{&cfg.maxPagesPerPoll, 1000, "MaxPagesPerPoll"},
		{&cfg.commitEveryPages, 50, "CommitEveryPages"},
		{&cfg.giveUpAfter, 20, "BuildGiveUpAfter"},
		{&cfg.maxBehind, 100, "MaxBuildsBehind"},
		{&cfg.maxActions, 200, "MaxActionsPerJob"},
	} {
		if *p.v < 0 {
			return nil, fmt.Errorf("collector: %s must not be negative (got %d)", p.n, *p.v)
		}
		if *p.v == 0 {
			*p.v = p.def
		}
	}
	if cfg.pollInterval < 0 {
		return nil, fmt.Errorf("collector: PollInterval must not be negative (got %s)", cfg.pollInterval)
	}
	if cfg.pollInterval == 0 {
		cfg.pollInterval = 15 * time.Second
	}
	if cfg.rules == nil {
		cfg.rules = parser.DefaultRules()
	}
	if cfg.failureRules == nil {
		cfg.failureRules = parser.DefaultFailureRules()
	}
	seen := map[string]bool{}
	for i, j := range o.Jobs {
		if j.ID == "" {
			return nil, fmt.Errorf("collector: job %d (%q) has no id", i, j.Name)
		}
		if j.Name == "" {
			j.Name = j.ID
		}
		if j.Source == "" {
			j.Source = SourceConfig
		}
		if seen[j.Name] {
			return nil, fmt.Errorf("collector: job name %q is used twice", j.Name)
		}
		seen[j.Name] = true
		cfg.jobs = append(cfg.jobs, j)
	}
	return cfg, nil
}

func (c *Collector) config() *config { return c.cfg.Load() }

// Update applies a reloaded configuration: jobs, client, rules and knobs.
// All state is kept. A job removed from the configuration is no longer
// polled or exported, but its ledger entry stays (in memory and in the
// state file), so if it is added back under the same name its counters
// continue where they stopped and builds it missed meanwhile are read (at
// most MaxBuildsBehind of them). o.StateFile must equal the one given to
// New, and o.Registerer is ignored. A poll in progress finishes with the
// old configuration.
func (c *Collector) Update(o Options) error {
	if o.StateFile != c.stateFile {
		return fmt.Errorf("collector: the state file cannot change on reload (running with %q, reload asks for %q); restart instead", c.stateFile, o.StateFile)
	}
	cfg, err := o.validate()
	if err != nil {
		return err
	}
	cfg.api = countingAPI{cfg.api, &c.prog.calls}
	old := c.cfg.Swap(cfg)
	if cfg.concurrency != old.concurrency {
		sem := make(chan struct{}, cfg.concurrency)
		c.jobSem.Store(&sem)
	}
	c.sched.mu.Lock()
	l := c.sched.listing
	if cfg.discovery == nil && old.discovery != nil {
		c.sched.mode = "" // decide again without discovery
	}
	c.sched.mu.Unlock()
	c.refollow(cfg, l)
	return nil
}

// Ready reports whether /metrics shows meaningful values: the state file
// was loaded, or a poll has completed (successfully or not) since start;
// and the last state file write, if any, succeeded (while commits fail,
// nothing new is published).
func (c *Collector) Ready() bool { return c.ready.Load() && c.writeErr.Load() == nil }

// StateWriteError is the error of the last state file write when it
// failed, nil when it succeeded or none was made.
func (c *Collector) StateWriteError() error {
	if e := c.writeErr.Load(); e != nil {
		return *e
	}
	return nil
}

// Run polls every PollInterval (the first round starts at once) until ctx
// is done, then waits for the job polls in progress. A round does not wait
// for its job polls: a job still being polled when the next round starts
// is skipped in that round, so one slow or failing job never delays the
// others.
func (c *Collector) Run(ctx context.Context) {
	defer c.jobs.Wait()
	for {
		start := time.Now()
		_ = c.round(ctx, false) // errors are logged and counted inside
		wait := c.config().pollInterval - time.Since(start)
		if wait < 0 {
			wait = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// PollOnce runs one round (the ListJob walk when needed, then a poll of
// every followed job with something to do, Concurrency at a time) and
// returns when all its job polls are done. Each job commits its own
// progress; one job's failure does not stop the others. The returned error
// joins the round's errors (nil when everything fully succeeded).
func (c *Collector) PollOnce(ctx context.Context) error {
	return c.round(ctx, true)
}

// pollJob runs one job's poll and does its bookkeeping: duration, up,
// last success, error counting and once-per-change logging.
func (c *Collector) pollJob(ctx context.Context, cfg *config, t task) error {
	j := t.job
	start := time.Now()
	err := c.pollJobOnce(ctx, cfg, t)
	if errors.Is(err, errCrashed) || c.crashed.Load() {
		return errCrashed
	}
	if err != nil && ctx.Err() != nil {
		// Shutting down (or the caller's deadline): what was read so far
		// is committed; this is not the job's failure.
		return fmt.Errorf("job %s: %w", j.Name, err)
	}
	took := time.Since(start).Seconds()
	c.self.pollDuration.Observe(took)
	c.self.lastPollDur.WithLabelValues(j.Name).Set(took)
	c.errMu.Lock()
	prev, hadErr := c.lastErr[j.Name]
	if err == nil {
		delete(c.lastErr, j.Name)
	} else {
		c.lastErr[j.Name] = cfg.api.errKey(err)
	}
	c.polls[j.Name] = c.polls[j.Name].next(c.now(), err)
	c.errMu.Unlock()
	if err != nil {
		c.self.pollErrors.WithLabelValues(j.Name).Inc()
		c.self.jobUp.WithLabelValues(j.Name).Set(0)
		if key := cfg.api.errKey(err); !hadErr || key != prev {
			c.logger.Error("poll failed; logged again only when the error changes", "job", j.Name, "job_id", j.ID, "err", err)
		}
		return fmt.Errorf("job %s: %w", j.Name, err)
	}
	if hadErr {
		c.logger.Info("poll succeeds again", "job", j.Name, "job_id", j.ID)
	}
	c.self.jobUp.WithLabelValues(j.Name).Set(1)
	c.self.lastPollSuccess.WithLabelValues(j.Name).Set(float64(c.now().UnixNano()) / 1e9)
	return nil
}

// commit makes jl the job's published entry: jl's record is made durable in
// the state file (if any; journal.go) and only then is the ledger with jl in
// place published. On
// a write error nothing is published; the caller abandons its working copy
// so that the next poll reads the same pages again from the published
// cursors.
func (c *Collector) commit(name string, jl *jobLedger) error {
	return c.commitMany(map[string]*jobLedger{name: jl})
}

// commitMany commits several jobs' entries in one state write (the first
// sight of many idle jobs).
func (c *Collector) commitMany(jls map[string]*jobLedger) error {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	if c.crashed.Load() {
		return errCrashed
	}
	cl := make(map[string]*jobLedger, len(jls))
	var name string
	for n, jl := range jls {
		cl[n] = jl.clone()
		name = n
	}
	next := c.published.Load().withJobs(cl)
	if c.store != nil {
		start := time.Now()
		if len(cl) > 1 {
			// One atomic rewrite of the whole file instead of an append
			// and an fsync per job.
			c.store.rewrite = true
		}
		if err := c.store.encode(name, next.job(name)); err != nil {
			c.self.stateErrors.Inc()
			c.noteStateWrite(0, err)
			return err
		}
		if c.crash(hookBeforeWrite) {
			return errCrashed
		}
		n, compacted, err := c.store.write(name, next, c.now())
		if err != nil {
			c.self.stateErrors.Inc()
			err = fmt.Errorf("write state file %s: %w", c.stateFile, err)
			c.noteStateWrite(0, err)
			c.writeErr.Store(&err)
			return err
		}
		c.noteStateWrite(c.store.size, nil)
		c.writeErr.Store(nil)
		c.self.stateWrites.Inc()
		c.self.stateDuration.Observe(time.Since(start).Seconds())
		c.self.stateBytes.Set(float64(c.store.size))
		c.self.stateWritten.Add(float64(n))
		if compacted {
			c.self.stateCompactions.Inc()
		}
		if c.crash(hookAfterWrite) {
			return errCrashed
		}
	}
	c.published.Store(next)
	if c.crash(hookAfterPublish) {
		return errCrashed
	}
	return nil
}

// crash calls the test hook; true means "the process died here".
func (c *Collector) crash(point string) bool {
	if c.crashed.Load() {
		return true
	}
	if c.hook != nil && c.hook(point) {
		c.crashed.Store(true)
		return true
	}
	return false
}
