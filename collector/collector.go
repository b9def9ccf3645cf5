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
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// Job is one CodeArts build job to poll.
type Job struct {
	// ID is the 32-character CodeArts job id.
	ID string
	// Name is the job_name label value; empty means ID.
	Name string
}

// Options configure a Collector. Zero values take the defaults documented on
// each field.
type Options struct {
	// Client calls CodeArts. Required.
	Client *codearts.Client
	// Jobs to poll. Names must be unique.
	Jobs []Job
	// PollInterval is the time between the starts of two polls in Run.
	// Default 15s.
	PollInterval time.Duration
	// BackfillBuilds is how many of the newest builds are ingested when a
	// job is seen for the first time (0: only builds that start later).
	BackfillBuilds int
	// Rules classify tool output; nil means parser.DefaultRules().
	Rules *parser.Rules
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
	pollInterval     time.Duration
	backfill         int
	rules            *parser.Rules
	concurrency      int
	maxPagesPerStep  int
	maxPagesPerPoll  int
	commitEveryPages int
	giveUpAfter      int
	maxBehind        int
	maxActions       int
}

// Collector polls CodeArts and exports the results. It implements
// prometheus.Collector. Create it with New.
type Collector struct {
	cfg       atomic.Pointer[config]
	stateFile string
	logger    *slog.Logger
	hook      func(string) bool
	now       func() time.Time

	pollMu    sync.Mutex  // one poll at a time
	commitMu  sync.Mutex  // serialises state writes and publications
	store     *stateStore // nil without a state file; used under commitMu
	published atomic.Pointer[ledger]
	ready     atomic.Bool
	crashed   atomic.Bool

	errMu   sync.Mutex
	lastErr map[string]string // job name -> errKey of its last failed poll

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
		descs:     newDescs(),
		self:      newSelfMetrics(),
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.cfg.Store(cfg)
	l := &ledger{Jobs: map[string]*jobLedger{}}
	if o.StateFile != "" {
		loaded, notes, store, err := loadState(o.StateFile)
		if err != nil {
			return nil, err
		}
		c.store = store
		for _, n := range notes {
			c.logger.Warn("state file loaded with changes", "file", o.StateFile, "change", n)
		}
		for _, f := range removeStaleTemps(o.StateFile) {
			c.logger.Info("removed a temporary state file left by an interrupted write", "file", f)
		}
		if loaded != nil {
			l = loaded
			c.ready.Store(true)
			c.logger.Info("state restored", "file", o.StateFile, "jobs", len(l.Jobs))
		} else {
			c.logger.Info("no state file yet; counters start from zero", "file", o.StateFile)
		}
	}
	c.published.Store(l)
	for _, j := range cfg.jobs {
		c.self.initJob(j.Name)
	}
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
		pollInterval:     o.PollInterval,
		backfill:         o.BackfillBuilds,
		rules:            o.Rules,
		concurrency:      o.Concurrency,
		maxPagesPerStep:  o.MaxPagesPerStep,
		maxPagesPerPoll:  o.MaxPagesPerPoll,
		commitEveryPages: o.CommitEveryPages,
		giveUpAfter:      o.BuildGiveUpAfter,
		maxBehind:        o.MaxBuildsBehind,
		maxActions:       o.MaxActionsPerJob,
	}
	if cfg.api == nil {
		if o.Client == nil {
			return nil, errors.New("collector: Options.Client is required")
		}
		cfg.api = clientAPI{o.Client}
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
	seen := map[string]bool{}
	for i, j := range o.Jobs {
		if j.ID == "" {
			return nil, fmt.Errorf("collector: job %d (%q) has no id", i, j.Name)
		}
		if j.Name == "" {
			j.Name = j.ID
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
	old := c.cfg.Swap(cfg)
	keep := map[string]bool{}
	for _, j := range cfg.jobs {
		keep[j.Name] = true
		c.self.initJob(j.Name)
	}
	for _, j := range old.jobs {
		if !keep[j.Name] {
			c.self.deleteJob(j.Name)
			c.errMu.Lock()
			delete(c.lastErr, j.Name)
			c.errMu.Unlock()
		}
	}
	return nil
}

// Ready reports whether /metrics shows meaningful values: the state file
// was loaded, or a poll has completed (successfully or not) since start.
func (c *Collector) Ready() bool { return c.ready.Load() }

// Run polls every PollInterval (the first poll starts at once) until ctx is
// done. A poll that takes longer than the interval delays the next one; it
// never overlaps it.
func (c *Collector) Run(ctx context.Context) {
	for {
		start := time.Now()
		_ = c.PollOnce(ctx) // per-job errors are logged and counted inside
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

// PollOnce polls every configured job once, Concurrency of them at a time,
// and returns when all are done. Each job commits its own progress; one
// job's failure does not stop the others. The returned error joins the
// jobs' errors (nil when every job fully succeeded).
func (c *Collector) PollOnce(ctx context.Context) error {
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	if c.crashed.Load() {
		return errCrashed
	}
	cfg := c.config()
	sem := make(chan struct{}, cfg.concurrency)
	errs := make([]error, len(cfg.jobs))
	var wg sync.WaitGroup
	for i, j := range cfg.jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = c.pollJob(ctx, cfg, j)
		}()
	}
	wg.Wait()
	if !c.crashed.Load() {
		c.ready.Store(true)
	}
	return errors.Join(errs...)
}

// pollJob runs one job's poll and does its bookkeeping: duration, up,
// last success, error counting and once-per-change logging.
func (c *Collector) pollJob(ctx context.Context, cfg *config, j Job) error {
	start := time.Now()
	err := c.pollJobOnce(ctx, cfg, j)
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
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	if c.crashed.Load() {
		return errCrashed
	}
	next := c.published.Load().withJob(name, jl.clone())
	if c.store != nil {
		start := time.Now()
		if err := c.store.encode(name, next.Jobs[name]); err != nil {
			c.self.stateErrors.Inc()
			return err
		}
		if c.crash(hookBeforeWrite) {
			return errCrashed
		}
		n, compacted, err := c.store.write(name, next, c.now())
		if err != nil {
			c.self.stateErrors.Inc()
			return fmt.Errorf("write state file %s: %w", c.stateFile, err)
		}
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
