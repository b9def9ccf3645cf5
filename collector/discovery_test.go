package collector

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/syncbuf"
	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

// discoveryOptions follow every listed job and nothing configured.
func (e *env) discoveryOptions(stateFile string, d *Discovery) Options {
	o := e.options(stateFile)
	o.Jobs, o.Discovery = nil, d
	return o
}

func inFlightOf(c *Collector) int {
	n := 0
	for _, jl := range c.published.Load().all() {
		n += len(jl.Builds)
	}
	return n
}

// TestDiscoveryMatchesGroundTruth: following the jobs through ListJob,
// with faults, gives exactly the counts of the simulator's ground truth,
// as configuring them does (TestGroundTruthWithFaults).
func TestDiscoveryMatchesGroundTruth(t *testing.T) {
	e := newEnv(t, envOpts{seed: 7, faultRate: 0.08, jobs: testJobs(4)})
	from := e.firstBuilds(1)
	c, reg := newCollector(t, e.discoveryOptions(tempState(t), &Discovery{}))
	final := pollUntilDone(t, e, c, reg, 800)
	want := truthSample(e.sim.Truth(), from, parser.DefaultRules())
	if d := diffSamples(ledgerPart(final), want); len(d) > 0 {
		t.Errorf("discovery differs from the ground truth in %d series:\n%s", len(d), strings.Join(d, "\n"))
	}
	var names []string
	for _, j := range c.FollowedJobs() {
		if j.Source != SourceDiscovery {
			t.Errorf("%s: source %q", j.Name, j.Source)
		}
		names = append(names, j.Name)
	}
	if want := []string{"alpha-ci", "beta-e2e", "gamma-go"}; !slices.Equal(names, want) {
		t.Errorf("followed %v, want %v", names, want)
	}
	if e.sim.Stats().Ops["ShowRunningStatus"] != 0 {
		t.Error("discovery called ShowRunningStatus: ListJob already says which builds exist")
	}
}

// TestDiscoveryFiltersClashesLeaveAndReturn: the filters, a configured job
// keeping its name, a name clash resolved by id suffix, and a job that
// leaves the list (no longer polled, series kept) and comes back (counters
// continue).
func TestDiscoveryFiltersClashesLeaveAndReturn(t *testing.T) {
	specs := simulator.ManyJobs(40, 0)
	twin := specs[8] // another job with backend-00008's name, in project A
	twin.ID = simulator.DemoJobID("twin")
	specs = append(specs, twin)
	e := newEnv(t, envOpts{seed: 3, jobs: specs, chunkMin: 2000, chunkMax: 4000})
	o := e.options(tempState(t))
	o.Jobs = []Job{{ID: simulator.ManyJobID(4), Name: "pinned"}}
	o.Discovery = &Discovery{
		Projects: []string{simulator.ManyProjectA},
		Include:  regexp.MustCompile(`^(backend|web|data)-`),
		Exclude:  regexp.MustCompile(`-sandbox$`),
	}
	c, reg := newCollector(t, o)
	ctx := pollCtx(t)
	for range 5 {
		if err := c.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Project A is the even jobs; of those, backend (i%4==0) passes the
	// include, mobile (i%4==2) does not; job 4 is configured.
	want := map[string]string{"pinned": simulator.ManyJobID(4)}
	for i := 0; i < 40; i += 4 {
		if i != 4 && i != 8 {
			want[simulator.ManyJobName(i)] = simulator.ManyJobID(i)
		}
	}
	want["backend-00008~"+simulator.ManyJobID(8)[:8]] = simulator.ManyJobID(8)
	want["backend-00008~"+twin.ID[:8]] = twin.ID
	got := map[string]string{}
	for _, j := range c.FollowedJobs() {
		got[j.Name] = j.ID
	}
	if !maps.Equal(got, want) {
		t.Fatalf("followed %v\nwant %v", got, want)
	}
	s, _ := scrape(t, reg, "codearts_exporter_")
	if s["codearts_exporter_jobs_followed{}"] != float64(len(want)) || s["codearts_exporter_discovery_jobs_listed{}"] != 41 ||
		s["codearts_exporter_discovery_jobs_filtered_out{}"] != float64(41-len(want)) || s["codearts_exporter_list_job_pages{}"] != 1 {
		t.Errorf("discovery self-metrics: %v", s)
	}

	// backend-00012 leaves the list.
	leaver := simulator.ManyJobID(12)
	bytesKey := seriesKey(metrics.LogBytesTotal, map[string]string{"job_name": "backend-00012"})
	before, _ := scrape(t, reg, "codearts_build_")
	if before[bytesKey] == 0 {
		t.Fatalf("no bytes read for backend-00012 yet")
	}
	if err := e.sim.SetListed(leaver, false); err != nil {
		t.Fatal(err)
	}
	calls := e.sim.Stats().JobCalls[leaver]
	for range 3 {
		if err := c.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
	}
	if slices.ContainsFunc(c.FollowedJobs(), func(j Job) bool { return j.ID == leaver }) {
		t.Error("a job that left the list is still followed")
	}
	if n := e.sim.Stats().JobCalls[leaver]; n != calls {
		t.Errorf("%d calls for a job that left the list", n-calls)
	}
	during, _ := scrape(t, reg, "codearts_build_")
	if during[bytesKey] != before[bytesKey] {
		t.Errorf("while gone: %s = %v, want the last value %v", bytesKey, during[bytesKey], before[bytesKey])
	}
	// It comes back with the same name: counters continue.
	if err := e.sim.SetListed(leaver, true); err != nil {
		t.Fatal(err)
	}
	if err := c.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(c.FollowedJobs(), func(j Job) bool { return j.ID == leaver && j.Name == "backend-00012" }) {
		t.Error("the job did not come back under its name")
	}
	after, _ := scrape(t, reg, "codearts_build_")
	if after[bytesKey] != before[bytesKey] {
		t.Errorf("after coming back: %s = %v, want %v (nothing new to read)", bytesKey, after[bytesKey], before[bytesKey])
	}
}

// TestAPIEconomy: 500 jobs of which 5 build. Once the backfill is read,
// every poll costs exactly the 5 ListJob pages plus the active jobs' own
// calls; the 495 idle jobs cost nothing.
func TestAPIEconomy(t *testing.T) {
	const n, active = 500, 5
	e := newEnv(t, envOpts{seed: 5, jobs: simulator.ManyJobs(n, active), chunkMin: 4000, chunkMax: 8000})
	o := e.discoveryOptions(tempState(t), &Discovery{})
	o.Concurrency, o.MaxPagesPerStep, o.MaxPagesPerPoll = 8, 100, 1000
	c, _ := newCollector(t, o)
	ctx := pollCtx(t)
	activeIDs := map[string]bool{}
	for i := range n {
		if simulator.ManyJobActive(i, n, active) {
			activeIDs[simulator.ManyJobID(i)] = true
		}
	}
	idleBusy := func() int {
		busy := 0
		for _, jl := range c.published.Load().all() {
			if !activeIDs[jl.JobID] && len(jl.Builds) > 0 {
				busy++
			}
		}
		return busy
	}
	for polls := 0; ; polls++ {
		if err := c.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if c.published.Load().len() == n && idleBusy() == 0 {
			break
		}
		if polls > 50 {
			t.Fatalf("catch-up not done after %d polls", polls)
		}
		e.clock.Advance(2 * time.Second)
	}
	prev := e.sim.Stats()
	activeCalls := int64(0)
	for range 10 {
		e.clock.Advance(5 * time.Second)
		if err := c.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		cur := e.sim.Stats()
		var mine, idle int64
		for id, v := range cur.JobCalls {
			if d := v - prev.JobCalls[id]; activeIDs[id] {
				mine += d
			} else {
				idle += d
			}
		}
		pages := cur.Ops["ListJob"] - prev.Ops["ListJob"]
		total := cur.Served - prev.Served
		if pages != 5 || idle != 0 || total != pages+mine {
			t.Fatalf("a poll made %d calls: %d ListJob pages (want 5), %d for idle jobs (want 0), %d for the active ones", total, pages, idle, mine)
		}
		activeCalls += mine
		prev = cur
	}
	if activeCalls == 0 {
		t.Error("the active jobs made no call: nothing was measured")
	}
	t.Logf("10 polls: 50 ListJob pages, %d calls for the %d active jobs", activeCalls, active)
}

// TestShardsSplitTheJobs: three shards, each against its own copy of the
// same simulated world, poll disjoint sets of jobs, make no call for
// another shard's job, and together expose exactly what one unsharded
// instance exposes.
func TestShardsSplitTheJobs(t *testing.T) {
	const total = 3
	jobs := append(testJobs(3), simulator.ManyJobs(24, 0)...)
	start := time.Now().Truncate(time.Second)
	newWorld := func() *env {
		return newEnv(t, envOpts{seed: 9, jobs: jobs, chunkMin: 500, chunkMax: 3000, start: start})
	}
	one := newWorld()
	all, allReg := newCollector(t, one.discoveryOptions(tempState(t), &Discovery{}))
	type shard struct {
		e   *env
		c   *Collector
		reg *prometheus.Registry
	}
	shards := make([]shard, total)
	for i := range shards {
		e := newWorld()
		o := e.discoveryOptions(tempState(t), &Discovery{})
		o.Shard, o.TotalShards = i, total
		shards[i].e = e
		shards[i].c, shards[i].reg = newCollector(t, o)
	}
	ctx := pollCtx(t)
	for polls := 0; ; polls++ {
		busy := !one.allDone()
		for _, c := range append([]*Collector{all}, shards[0].c, shards[1].c, shards[2].c) {
			if err := c.PollOnce(ctx); err != nil {
				t.Fatal(err)
			}
			busy = busy || inFlightOf(c) > 0
		}
		if !busy {
			break
		}
		if polls > 400 {
			t.Fatal("not finished after 400 polls")
		}
		for _, e := range []*env{one, shards[0].e, shards[1].e, shards[2].e} {
			e.clock.Advance(2 * time.Second)
		}
	}
	union := sample{}
	owner := map[string]int{}
	for i, sh := range shards {
		s, _ := scrape(t, sh.reg, "codearts_build_")
		for k, v := range s {
			if _, dup := union[k]; dup {
				t.Errorf("series %s in two shards", k)
			}
			union[k] = v
		}
		for _, j := range sh.c.FollowedJobs() {
			if prev, dup := owner[j.ID]; dup {
				t.Errorf("job %s in shards %d and %d", j.Name, prev, i)
			}
			owner[j.ID] = i
			if ShardOf(j.ID, total) != i {
				t.Errorf("job %s polled by shard %d, belongs to %d", j.Name, i, ShardOf(j.ID, total))
			}
		}
		for id, calls := range sh.e.sim.Stats().JobCalls {
			if ShardOf(id, total) != i {
				t.Errorf("shard %d made %d calls for job %s of shard %d", i, calls, id, ShardOf(id, total))
			}
		}
	}
	if len(owner) != len(jobs) {
		t.Errorf("%d jobs followed by the shards together, want %d", len(owner), len(jobs))
	}
	whole, _ := scrape(t, allReg, "codearts_build_")
	if d := diffSamples(union, whole); len(d) > 0 {
		t.Errorf("the shards' union differs from one unsharded instance in %d series:\n%s", len(d), strings.Join(d, "\n"))
	}
	for i, sh := range shards {
		t.Logf("shard %d: %d jobs", i, len(sh.c.FollowedJobs()))
	}
}

func TestShardOf(t *testing.T) {
	moved := 0
	for i := range 2000 {
		id := simulator.ManyJobID(i)
		if ShardOf(id, 1) != 0 {
			t.Fatal("one shard: not 0")
		}
		for n := 2; n <= 8; n++ {
			a, b := ShardOf(id, n-1), ShardOf(id, n)
			if b < 0 || b >= n {
				t.Fatalf("ShardOf(%s, %d) = %d", id, n, b)
			}
			// Jump hash: growing from n-1 to n shards only moves jobs
			// to the new shard.
			if a != b {
				moved++
				if b != n-1 {
					t.Fatalf("%s moved from shard %d to %d when going to %d shards", id, a, b, n)
				}
			}
		}
	}
	if moved == 0 {
		t.Error("no job ever moved")
	}
}

// TestChangeDetectionMode: without discovery, one job uses
// ShowRunningStatus; several jobs use ListJob when its pages are fewer,
// and ShowRunningStatus when the account is too large for that.
func TestChangeDetectionMode(t *testing.T) {
	for _, tc := range []struct {
		name              string
		world, configured int
		listJob, running  int64 // calls after two polls of a quiet world
	}{
		{"one job", 10, 1, 0, 2},
		{"three of ten", 10, 3, 2, 0},
		{"three of 400", 400, 3, 1, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{seed: 1, jobs: simulator.ManyJobs(tc.world, 0)})
			o := e.options(tempState(t))
			o.Jobs, o.BackfillBuilds = nil, 0
			for i := range tc.configured {
				o.Jobs = append(o.Jobs, Job{ID: simulator.ManyJobID(i), Name: fmt.Sprint("job", i)})
			}
			c, _ := newCollector(t, o)
			for range 2 {
				if err := c.PollOnce(pollCtx(t)); err != nil {
					t.Fatal(err)
				}
			}
			ops := e.sim.Stats().Ops
			if ops["ListJob"] != tc.listJob || ops["ShowRunningStatus"] != tc.running {
				t.Errorf("ops %v: want %d ListJob and %d ShowRunningStatus", ops, tc.listJob, tc.running)
			}
		})
	}
}

// TestSlowJobDoesNotDelayOthers: Run keeps polling a job while another's
// poll hangs.
func TestSlowJobDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t, envOpts{seed: 2, jobs: testJobs(0)})
	o := e.options(tempState(t))
	o.PollInterval = 20 * time.Millisecond
	release := make(chan struct{})
	slow := &hangingAPI{api: clientAPI{e.client}, jobID: e.specs[0].ID, release: release}
	o.api = slow
	c, _ := newCollector(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { c.Run(ctx); close(stopped) }()
	other := e.specs[1].ID
	deadline := time.Now().Add(20 * time.Second)
	for e.sim.Stats().JobCalls[other] < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("the other job made %d calls while one job hung", e.sim.Stats().JobCalls[other])
		}
		e.clock.Advance(time.Second)
		time.Sleep(20 * time.Millisecond)
	}
	if slow.entered() != 1 {
		t.Errorf("the hanging job was polled %d times at once, want 1", slow.entered())
	}
	close(release)
	cancel()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// hangingAPI hangs every record-info call of one job until released.
type hangingAPI struct {
	api
	jobID   string
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (h *hangingAPI) entered() int { h.mu.Lock(); defer h.mu.Unlock(); return h.n }

func (h *hangingAPI) buildRecord(ctx context.Context, id string, n int64) (*buildRecord, error) {
	if id == h.jobID {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
		select {
		case <-h.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return h.api.buildRecord(ctx, id, n)
}

// TestFirstRunLogs: a user following an account sees what happens: the
// jobs found, the builds scheduled, catch-up progress with an estimate,
// and the end of the catch-up.
func TestFirstRunLogs(t *testing.T) {
	e := newEnv(t, envOpts{seed: 4, jobs: testJobs(3)})
	var buf syncbuf.Buffer
	o := e.discoveryOptions(tempState(t), &Discovery{})
	o.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	c, reg := newCollector(t, o)
	pollUntilDone(t, e, c, reg, 800)
	out := buf.String()
	for _, want := range []string{
		`msg="discovery: jobs listed and followed" listed=3 list_job_pages=1 followed=3 filtered_out=0`,
		`msg="builds scheduled for catch-up`,
		`msg="catch-up progress" backfill_builds_left=`,
		`msg="caught up: every followed job was polled and its backfill builds are read" jobs=3`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Count(out, "caught up") != 1 {
		t.Errorf("caught up logged %d times", strings.Count(out, "caught up"))
	}
}

// TestReadyAfterTheFirstRoundsPolls: Run's rounds do not wait for their
// polls, and a second round that finds every job still being polled must
// not make the exporter ready before the first round's polls are done.
func TestReadyAfterTheFirstRoundsPolls(t *testing.T) {
	e := newEnv(t, envOpts{seed: 2, jobs: testJobs(0)})
	o := e.options(tempState(t))
	o.PollInterval = 10 * time.Millisecond
	release := make(chan struct{})
	o.api = &hangingAPI{api: clientAPI{e.client}, jobID: e.specs[0].ID, release: release}
	c, _ := newCollector(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { c.Run(ctx); close(stopped) }()
	time.Sleep(300 * time.Millisecond) // many rounds while one job hangs
	if c.Ready() {
		t.Error("ready while a job of the first round is still being polled")
	}
	close(release)
	deadline := time.Now().Add(20 * time.Second)
	for !c.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("not ready after the first round's polls finished")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-stopped
}
