package collector

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

// The scheduler decides what to call in a poll round; poll.go ingests what
// comes back. docs/collector.md ("Discovery and the API budget") describes
// it.

// Job sources (Job.Source).
const (
	SourceConfig    = "config"
	SourceDiscovery = "discovery"
)

// Discovery follows the jobs ListJob returns that pass every filter set.
type Discovery struct {
	// Projects keeps the jobs whose CodeArts project_id is listed.
	Projects []string
	// Include keeps the jobs whose name matches; Exclude leaves out those
	// whose name matches.
	Include, Exclude *regexp.Regexp
}

func (d *Discovery) keeps(j listedJob) bool {
	if len(d.Projects) > 0 && !slices.Contains(d.Projects, j.ProjectID) {
		return false
	}
	if d.Include != nil && !d.Include.MatchString(j.Name) {
		return false
	}
	return d.Exclude == nil || !d.Exclude.MatchString(j.Name)
}

// ShardOf returns the shard (0…total-1) that polls the job: the jump
// consistent hash (Lamping and Veach) of the FNV-1a hash of the job id. It
// depends on nothing but the id and total, so every instance agrees, and
// going from N to N+1 shards moves only about 1/(N+1) of the jobs.
func ShardOf(jobID string, total int) int {
	if total <= 1 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(jobID))
	key := h.Sum64()
	var b, j int64 = -1, 0
	for j < int64(total) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}

func (cfg *config) ownJob(id string) bool {
	return ShardOf(id, cfg.totalShards) == cfg.shard
}

// maxListPages bounds a ListJob walk (a million jobs), so a server that
// never answers a short page cannot keep the walk going.
const maxListPages = 10_000

// listing is one ListJob walk: the entries by job id, in list order.
type listing struct {
	byID  map[string]listedJob
	order []string
	total int64
	pages int
}

// errTooManyPages stops a probe walk that would cost more than the calls it
// is meant to save.
var errTooManyPages = errors.New("ListJob needs more pages than the jobs it would replace")

// walk reads ListJob pages from 0 until it has total jobs or a page comes
// back short, deduplicating by id (jobs created during the walk shift
// pages). maxPages > 0 stops with errTooManyPages as soon as the first page
// shows that more would be needed.
func (c *Collector) walk(ctx context.Context, cfg *config, maxPages int) (*listing, error) {
	ctx = codearts.WithPriority(ctx, codearts.PriorityDiscovery)
	l := &listing{byID: map[string]listedJob{}}
	for page := 0; ; page++ {
		if page >= maxListPages {
			return nil, fmt.Errorf("ListJob: still not at the end after %d pages", maxListPages)
		}
		p, err := cfg.api.listJobs(ctx, page)
		if err != nil {
			return nil, fmt.Errorf("ListJob page %d: %w", page, err)
		}
		l.pages++
		l.total = p.Total
		if page == 0 && maxPages > 0 && pagesFor(p.Total) > maxPages {
			return l, errTooManyPages
		}
		for _, j := range p.Jobs {
			if _, dup := l.byID[j.ID]; dup || j.ID == "" {
				continue
			}
			l.byID[j.ID] = j
			l.order = append(l.order, j.ID)
		}
		if len(p.Jobs) < listPageSize || int64(len(l.byID)) >= p.Total {
			return l, nil
		}
	}
}

func pagesFor(total int64) int {
	return int((max(total, 0) + listPageSize - 1) / listPageSize)
}

// Change detection modes without discovery (logged at start).
const (
	modeRunningStatus = "ShowRunningStatus"
	modeListJob       = "ListJob"
)

// sched is the scheduler's state: not part of the ledger, rebuilt after a
// restart.
type sched struct {
	mu       sync.Mutex
	listing  *listing        // last successful walk
	mode     string          // without discovery: modeRunningStatus or modeListJob
	modeFor  int             // the number of own configured jobs mode was chosen for
	inFlight map[string]bool // job names being polled
	departed map[string]Job  // discovered jobs that left the list: exported, not polled
	walkErr  string          // errKey of the last failed walk ("" after a success)
	counts   [4]int          // listed, followed, filtered out, other shards: logged on change

	catchUpFrom time.Time // when the backlog was first seen non-empty; zero when caught up
	lastProg    time.Time // last catch-up progress log
}

// catch-up accounting for the first-run logs.
type progress struct {
	calls      atomic.Int64 // API calls made by job polls
	buildsDone atomic.Int64 // builds fully ingested
	scheduled  atomic.Int64 // builds scheduled at first sight of a job
}

// countingAPI counts the calls job polls make, for catch-up estimates.
type countingAPI struct {
	api
	n *atomic.Int64
}

func (a countingAPI) latestBuild(ctx context.Context, id string) (int64, error) {
	a.n.Add(1)
	return a.api.latestBuild(ctx, id)
}

func (a countingAPI) buildRecord(ctx context.Context, id string, n int64) (*buildRecord, error) {
	a.n.Add(1)
	return a.api.buildRecord(ctx, id, n)
}

func (a countingAPI) stages(ctx context.Context, id string) ([]stageInfo, error) {
	a.n.Add(1)
	return a.api.stages(ctx, id)
}

func (a countingAPI) stepLog(ctx context.Context, running bool, q logQuery) (*logPage, error) {
	a.n.Add(1)
	return a.api.stepLog(ctx, running, q)
}

// resolve computes the followed jobs: the configured jobs of this shard
// under their configured names, then the discovered jobs of this shard in
// list order. Naming is a function of the configuration and the listing
// only, so every shard and every restart agrees: a discovered job keeps its
// CodeArts name unless a configured job uses that name or another followed
// discovered job has the same name; then every such discovered job is named
// "<name>~<first 8 characters of its id>".
func resolve(cfg *config, l *listing) (jobs []Job, filtered, foreign int) {
	taken := map[string]bool{}
	configured := map[string]bool{}
	for _, j := range cfg.jobs {
		taken[j.Name] = true
		configured[j.ID] = true
		if cfg.ownJob(j.ID) {
			jobs = append(jobs, j)
		} else {
			foreign++
		}
	}
	if cfg.discovery == nil || l == nil {
		return jobs, 0, foreign
	}
	var cands []listedJob
	byName := map[string]int{}
	for _, id := range l.order {
		e := l.byID[id]
		if configured[id] {
			continue
		}
		if !cfg.discovery.keeps(e) {
			filtered++
			continue
		}
		cands = append(cands, e)
		byName[e.Name]++
	}
	for _, e := range cands {
		name := e.Name
		if name == "" {
			name = e.ID
		}
		if taken[name] || byName[e.Name] > 1 {
			name = clashName(e)
		}
		if !cfg.ownJob(e.ID) {
			foreign++
			continue
		}
		jobs = append(jobs, Job{ID: e.ID, Name: name, Source: SourceDiscovery})
	}
	return jobs, filtered, foreign
}

func clashName(e listedJob) string {
	return e.Name + "~" + e.ID[:min(8, len(e.ID))]
}

// FollowedJobs returns the jobs this instance polls: configured and
// discovered, of its own shard, in poll order (configured first).
func (c *Collector) FollowedJobs() []Job {
	return slices.Clone(*c.followed.Load())
}

// refollow replaces the followed set and keeps the per-job self-metrics,
// the departed jobs and the error memory in step with it.
func (c *Collector) refollow(cfg *config, l *listing) {
	jobs, filtered, foreign := resolve(cfg, l)
	old := *c.followed.Load()
	now := map[string]bool{}
	for _, j := range jobs {
		now[j.Name] = true
	}
	c.sched.mu.Lock()
	for _, j := range jobs {
		delete(c.sched.departed, j.Name)
		c.self.initJob(j.Name)
	}
	for _, j := range old {
		if now[j.Name] {
			continue
		}
		if j.Source == SourceDiscovery && l != nil && cfg.discovery != nil {
			// Left the list: no longer polled, its series stay.
			if _, listed := l.byID[j.ID]; !listed {
				c.sched.departed[j.Name] = j
				c.logger.Info("job left the ListJob list; no longer polled, its series keep their last values", "job", j.Name, "job_id", j.ID)
				continue
			}
		}
		c.self.deleteJob(j.Name)
		c.errMu.Lock()
		delete(c.lastErr, j.Name)
		delete(c.polls, j.Name)
		c.errMu.Unlock()
	}
	if cfg.discovery == nil {
		clear(c.sched.departed)
	}
	counts := [4]int{0, len(jobs), filtered, foreign}
	if l != nil {
		counts[0] = len(l.byID)
	}
	changed := counts != c.sched.counts
	c.sched.counts = counts
	c.sched.mu.Unlock()
	c.followed.Store(&jobs)
	c.self.followed.Set(float64(len(jobs)))
	c.self.filtered.Set(float64(filtered))
	c.self.foreign.Set(float64(foreign))
	if l != nil {
		c.self.listed.Set(float64(len(l.byID)))
	}
	if changed && cfg.discovery != nil && l != nil {
		c.logger.Info("discovery: jobs listed and followed", "listed", counts[0], "list_job_pages", l.pages,
			"followed", len(jobs), "filtered_out", filtered, "other_shards", foreign,
			"shard", cfg.shard, "total_shards", cfg.totalShards)
	}
}

// exported returns the jobs whose series /metrics shows: the followed ones
// and the discovered ones that left the list during this process.
func (c *Collector) exported() []Job {
	jobs := *c.followed.Load()
	c.sched.mu.Lock()
	defer c.sched.mu.Unlock()
	if len(c.sched.departed) == 0 {
		return jobs
	}
	out := slices.Clone(jobs)
	for _, j := range c.sched.departed {
		out = append(out, j)
	}
	return out
}

// task is one job to poll in a round. latest is the newest build number
// from ListJob when known (no ShowRunningStatus needed).
type task struct {
	job    Job
	latest int64
	known  bool
	prio   codearts.Priority
}

// round is one poll round: the ListJob walk when needed, the followed set,
// then a poll for every job with something to do. wait makes it return when
// every poll it started is done (PollOnce); Run does not wait, so a slow job
// never delays the next round of the others (a job still being polled is
// skipped).
func (c *Collector) round(ctx context.Context, wait bool) error {
	c.pollMu.Lock()
	if c.crashed.Load() {
		c.pollMu.Unlock()
		return errCrashed
	}
	cfg := c.config()
	// Ready means the first round's polls are done: a later round that
	// finds every job still in flight (nothing to start) must not say so.
	first := c.rounds.Add(1) == 1
	l, lerr := c.listingFor(ctx, cfg)
	if lerr != nil && ctx.Err() != nil {
		c.pollMu.Unlock()
		return lerr
	}
	if l != nil || lerr == nil {
		c.refollow(cfg, l)
	}
	tasks, inits := c.plan(cfg, l, lerr != nil)
	var errs []error
	if lerr != nil {
		errs = append(errs, lerr)
	}
	if len(inits) > 0 {
		if err := c.commitMany(inits); err != nil {
			errs = append(errs, err)
		}
	}
	var wg sync.WaitGroup
	var emu sync.Mutex
	sem := c.jobSem.Load()
	c.sched.mu.Lock()
	for _, t := range tasks {
		c.sched.inFlight[t.job.Name] = true
	}
	c.sched.mu.Unlock()
	for _, t := range tasks {
		wg.Add(1)
		c.jobs.Add(1)
		go func() {
			defer c.jobs.Done()
			defer wg.Done()
			defer func() {
				c.sched.mu.Lock()
				delete(c.sched.inFlight, t.job.Name)
				c.sched.mu.Unlock()
			}()
			select {
			case *sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-*sem }()
			if err := c.pollJob(ctx, cfg, t); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	c.pollMu.Unlock()
	worked := len(tasks) > 0 || len(inits) > 0
	done := func() {
		if c.crashed.Load() {
			return
		}
		if first {
			c.ready.Store(true)
		}
		if worked {
			c.logProgress(cfg)
		}
	}
	if !wait {
		go func() { wg.Wait(); done() }()
		return nil
	}
	wg.Wait()
	done()
	if c.crashed.Load() {
		return errCrashed
	}
	emu.Lock()
	defer emu.Unlock()
	return errors.Join(errs...)
}

// listingFor walks ListJob when this round needs it: always with discovery;
// without, when it is cheaper than one ShowRunningStatus per job. It
// returns nil and no error when the round uses ShowRunningStatus only.
func (c *Collector) listingFor(ctx context.Context, cfg *config) (*listing, error) {
	own := 0
	for _, j := range cfg.jobs {
		if cfg.ownJob(j.ID) {
			own++
		}
	}
	maxPages := 0
	if cfg.discovery == nil {
		c.sched.mu.Lock()
		mode, modeFor := c.sched.mode, c.sched.modeFor
		c.sched.mu.Unlock()
		switch {
		case own <= 1:
			// One call either way: ShowRunningStatus, without probing.
			c.setMode(modeRunningStatus, own, 0, 0)
			return nil, nil
		case mode == modeRunningStatus && modeFor == own:
			return nil, nil
		}
		maxPages = own - 1
	}
	l, err := c.walk(ctx, cfg, maxPages)
	if errors.Is(err, errTooManyPages) {
		c.setMode(modeRunningStatus, own, pagesFor(l.total), l.total)
		return nil, nil
	}
	c.self.listPages.Set(float64(pagesOf(l)))
	if err != nil {
		c.self.discoveryErrors.Inc()
		key := cfg.api.errKey(err)
		c.sched.mu.Lock()
		prev := c.sched.walkErr
		c.sched.walkErr = key
		c.sched.mu.Unlock()
		if cfg.discovery == nil {
			// Only an optimisation: ask each job this round, try again next.
			if key != prev {
				c.logger.Warn("ListJob failed; this round asks each job with ShowRunningStatus instead (logged again only when the error changes)", "err", err)
			}
			return nil, nil
		}
		if key != prev {
			c.logger.Error("ListJob failed; polling only the builds already in flight until it works again (logged again only when the error changes)", "err", err)
		}
		return nil, err
	}
	c.sched.mu.Lock()
	failed := c.sched.walkErr != ""
	c.sched.walkErr = ""
	c.sched.listing = l
	c.sched.mu.Unlock()
	if failed {
		c.logger.Info("ListJob works again")
	}
	if cfg.discovery == nil {
		c.setMode(modeListJob, own, l.pages, l.total)
	}
	return l, nil
}

func pagesOf(l *listing) int {
	if l == nil {
		return 0
	}
	return l.pages
}

// setMode records (and logs, when it changes) how jobs are checked for new
// builds without discovery.
func (c *Collector) setMode(mode string, jobs, pages int, total int64) {
	c.sched.mu.Lock()
	changed := c.sched.mode != mode || c.sched.modeFor != jobs
	c.sched.mode, c.sched.modeFor = mode, jobs
	c.sched.mu.Unlock()
	if !changed {
		return
	}
	if mode == modeListJob {
		c.logger.Info("change detection: ListJob pages, cheaper than one ShowRunningStatus per job",
			"jobs", jobs, "list_job_pages", pages, "jobs_listed", total)
		return
	}
	c.logger.Info("change detection: one ShowRunningStatus per job per poll",
		"jobs", jobs, "list_job_pages_instead", pages, "jobs_listed", total)
}

// plan decides which followed jobs to poll this round, and which jobs seen
// for the first time with nothing to read only need a ledger entry
// (inits, committed together). A job whose ListJob entry shows no build
// above the last one scheduled and that has no build in flight costs
// nothing. With a failed walk (walkFailed), discovered and listed jobs are
// polled only when builds are in flight, without looking for new ones.
func (c *Collector) plan(cfg *config, l *listing, walkFailed bool) ([]task, map[string]*jobLedger) {
	pub := c.published.Load()
	var tasks []task
	inits := map[string]*jobLedger{}
	c.sched.mu.Lock()
	busy := maps.Clone(c.sched.inFlight)
	mode := c.sched.mode
	c.sched.mu.Unlock()
	for _, j := range *c.followed.Load() {
		if busy[j.Name] {
			continue
		}
		jl := pub.job(j.Name)
		known := jl != nil && jl.JobID == j.ID && jl.NextBuildNo > 0
		prio := jobPriority(jl, known)
		var e listedJob
		listed := false
		if l != nil {
			e, listed = l.byID[j.ID]
		}
		switch {
		case listed:
			if known && len(jl.Builds) == 0 && e.BuildNo < jl.NextBuildNo {
				c.checked(j) // idle: nothing new, nothing in flight
				continue
			}
			if jl == nil && (cfg.backfill == 0 || e.BuildNo == 0) {
				// First sight with nothing to read: only a ledger entry.
				inits[j.Name] = &jobLedger{JobID: j.ID, LastBuildNo: e.BuildNo, NextBuildNo: e.BuildNo + 1}
				c.checked(j)
				continue
			}
			if known && e.BuildNo >= jl.NextBuildNo {
				prio = min(prio, codearts.PriorityNew)
			}
			tasks = append(tasks, task{job: j, latest: e.BuildNo, known: true, prio: prio})
		case walkFailed && (j.Source == SourceDiscovery || mode == modeListJob):
			if known && len(jl.Builds) > 0 {
				tasks = append(tasks, task{job: j, latest: jl.LastBuildNo, known: true, prio: prio})
			}
		default:
			// Not in the listing (or no listing): ask the job itself.
			tasks = append(tasks, task{job: j, prio: prio})
		}
	}
	// Running builds' logs first, then new builds, then backfill; the
	// concurrency bound admits the goroutines roughly in this order and the
	// client's rate limit serves their calls strictly in it.
	slices.SortStableFunc(tasks, func(a, b task) int { return int(a.prio) - int(b.prio) })
	return tasks, inits
}

// jobPriority is the highest priority among the job's builds in flight.
func jobPriority(jl *jobLedger, known bool) codearts.Priority {
	if !known {
		return codearts.PriorityBackfill
	}
	p := codearts.PriorityBackfill
	for _, b := range jl.Builds {
		p = min(p, buildPriority(b))
	}
	return p
}

// buildPriority: a build seen running is "running"; a build scheduled at
// the first sight of its job, or older than the newest of several found at
// once (after an outage), is "backfill"; any other is "new".
func buildPriority(b *buildProgress) codearts.Priority {
	switch {
	case b.Status != "" && !metrics.IsFinished(b.Status):
		return codearts.PriorityRunning
	case b.Backfill:
		return codearts.PriorityBackfill
	}
	return codearts.PriorityNew
}

// checked marks a job the listing showed idle as successfully polled.
func (c *Collector) checked(j Job) {
	c.errMu.Lock()
	_, hadErr := c.lastErr[j.Name]
	delete(c.lastErr, j.Name)
	c.polls[j.Name] = c.polls[j.Name].next(c.now(), nil)
	c.errMu.Unlock()
	if hadErr {
		c.logger.Info("poll succeeds again", "job", j.Name, "job_id", j.ID)
	}
	c.self.jobUp.WithLabelValues(j.Name).Set(1)
	c.self.lastPollSuccess.WithLabelValues(j.Name).Set(float64(c.now().UnixNano()) / 1e9)
}

// logProgress logs the catch-up after a round: builds scheduled for
// catch-up, backfill builds left and jobs not yet polled with an estimate at
// the current rate, at most every 30 seconds while there is such a backlog,
// and once when it is gone. Running and new builds are live work, not
// backlog.
func (c *Collector) logProgress(cfg *config) {
	pub := c.published.Load()
	left, unseen := 0, 0
	for _, j := range *c.followed.Load() {
		jl := pub.job(j.Name)
		if jl == nil || jl.JobID != j.ID {
			unseen++
			continue
		}
		for _, b := range jl.Builds {
			if b.Backfill {
				left++
			}
		}
	}
	now := time.Now()
	if n := c.prog.scheduled.Swap(0); n > 0 {
		c.logger.Info("builds scheduled for catch-up (first sight of a job, or missed while the exporter was away)", "builds", n, "backfill_builds", cfg.backfill)
	}
	c.sched.mu.Lock()
	defer c.sched.mu.Unlock()
	if left == 0 && unseen == 0 {
		if !c.sched.catchUpFrom.IsZero() {
			c.logger.Info("caught up: every followed job was polled and its backfill builds are read",
				"jobs", len(*c.followed.Load()), "builds_done", c.prog.buildsDone.Load(),
				"took", now.Sub(c.sched.catchUpFrom).Round(time.Second))
			c.sched.catchUpFrom = time.Time{}
		}
		return
	}
	if c.sched.catchUpFrom.IsZero() {
		c.sched.catchUpFrom = now
	} else if now.Sub(c.sched.lastProg) < 30*time.Second {
		return
	}
	c.sched.lastProg = now
	done, calls := c.prog.buildsDone.Load(), c.prog.calls.Load()
	perBuild := 6.0 // record, stages, ~4 log pages: until measured
	if done > 0 {
		perBuild = float64(calls) / float64(done)
	}
	args := []any{"backfill_builds_left", left, "jobs_not_yet_polled", unseen, "builds_done", done,
		"api_calls", calls, "list_job_pages", c.sched.listing.pagesOrZero()}
	if r := cfg.api.rate(); r > 0 && !math.IsInf(r, 1) {
		est := time.Duration(float64(left+unseen) * perBuild / r * float64(time.Second))
		args = append(args, "calls_per_build", math.Round(perBuild*10)/10, "requests_per_second", r,
			"estimate", est.Round(time.Second))
	}
	c.logger.Info("catch-up progress", args...)
}

func (l *listing) pagesOrZero() int {
	if l == nil {
		return 0
	}
	return l.pages
}
