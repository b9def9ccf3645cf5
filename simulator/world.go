package simulator

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// job is one simulated job and the cache of its generated builds.
type job struct {
	spec   JobSpec
	seed   uint64
	idHash uint64
	base   int64 // unix ms of build 1's slot: Origin + Offset

	// Fixed per-job identity served in records and ListJob.
	buildProjectID, devcloudProjectID, domainID, userID, repoID string

	// Guarded by Server.mu: builds currently held (oldest..newest).
	builds         map[int64]*build
	oldest, newest int64
	// unlisted leaves the job out of ListJob (Server.SetListed); guarded
	// by Server.mu.
	unlisted bool
	// listPlan caches the plan of the newest build for ListJob, which
	// needs no logs; guarded by Server.mu.
	listPlan *plan
}

// build is one generated build: its plan and its stages' logs. A build is
// immutable once generated, except for the per-stage empty-page memory.
type build struct {
	job            *job
	plan           *plan
	recordID       string // record-info id, accepted by full-stages
	buildRecordID  string // record-info build_record_id, also accepted
	execID         string
	dailyNum       string
	commit         string
	commitMsg      string
	branch         string
	configType     string
	stages         []*stage
	stagesByNodeID map[int64]*stage
}

type stage struct {
	plan *stagePlan
	id   string    // stage record UUID
	log  *stageLog // nil when node_id is null
	// base is the offset of the log's first character: offsets served for
	// this step are base + character position (see paging.go).
	base int64
	// emptyAt is 1 + the position last answered with an empty page, so that
	// the same cursor is never answered empty twice in a row.
	emptyAt atomic.Int64
}

func newJob(spec JobSpec, seed uint64, origin time.Time) *job {
	j := &job{spec: spec, seed: seed, idHash: hashString(spec.ID), builds: map[int64]*build{}}
	j.base = origin.Add(spec.Offset).UnixMilli()
	h := mix(seed, j.idHash)
	j.buildProjectID = uuidFrom(mix(h, 1))
	j.devcloudProjectID = hex32(mix(h, 2), mix(h, 3))
	if spec.ProjectID != "" {
		j.devcloudProjectID = spec.ProjectID
	}
	j.domainID = hex32(mix(h, 4), mix(h, 5))
	j.userID = hex32(mix(h, 6), mix(h, 7))
	j.repoID = strconv.FormatUint(2111000000+mix(h, 8)%999999, 10)
	return j
}

// ensure brings the job's cache up to now: every retained build started
// at or before now is generated, the others are dropped. Called with
// Server.mu held.
func (s *Server) ensure(j *job, now int64) {
	latest := j.latestAt(now)
	lo := max(1, latest-int64(s.opts.RetainBuilds)+1)
	if latest == j.newest && lo == j.oldest {
		return
	}
	for n, b := range j.builds {
		if n < lo || n > latest {
			delete(j.builds, n)
			delete(s.byRecordID, b.recordID)
			delete(s.byRecordID, b.buildRecordID)
		}
	}
	for n := lo; n <= latest; n++ {
		if _, ok := j.builds[n]; !ok {
			b := s.generate(j, n)
			j.builds[n] = b
			s.byRecordID[b.recordID] = b
			s.byRecordID[b.buildRecordID] = b
		}
	}
	j.oldest, j.newest = lo, latest
	if latest == 0 {
		j.oldest = 0
	}
}

// generate builds the plan and the logs of build n.
func (s *Server) generate(j *job, n int64) *build {
	p := j.planBuild(n)
	h := mix(j.seed, j.idHash, uint64(n), saltContent)
	g := &gen{rng: newRand(h), spec: &j.spec, c: loadCorpora(), number: n, pos: map[*corpus]int{}}
	b := &build{job: j, plan: p}
	b.recordID = uuidFrom(mix(h, 1))
	b.buildRecordID = uuidFrom(mix(h, 2))
	g.execID = "j_" + g.base62(8)
	b.execID = g.execID
	b.commit = g.hex(40)
	b.branch = g.pick("master", "main", "develop", "release/1.4")
	b.configType = "YAML"
	if j.idHash%2 == 1 {
		b.configType = "ACTION"
	}
	if j.spec.English {
		b.commitMsg = g.pick("fix: retry on timeout", "feat: add order export", "chore: bump dependencies", "refactor: split ledger posting")
	} else {
		b.commitMsg = g.pick("修复：超时后重试", "新增订单导出功能", "升级依赖版本", "重构记账逻辑")
	}
	b.dailyNum = j.dailyNum(p)

	logs := g.buildLogs(p)
	b.stagesByNodeID = map[int64]*stage{}
	for i := range p.stages {
		sp := &p.stages[i]
		st := &stage{plan: sp, log: logs[i], id: uuidFrom(mix(h, 100+uint64(i)))}
		bh := mix(j.seed, j.idHash, uint64(n), uint64(sp.nodeID), saltBase)
		st.base = int64(1+bh%900)*1_000_000 + int64(bh>>32)%1000
		b.stages = append(b.stages, st)
		if sp.nodeID != 0 {
			b.stagesByNodeID[sp.nodeID] = st
		}
	}
	return b
}

var beijing = time.FixedZone("UTC+8", 8*3600)

// dailyNum is the build's daily number: its ordinal within its (UTC+8) day.
func (j *job) dailyNum(p *plan) string {
	day := time.UnixMilli(p.start).In(beijing)
	midnight := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, beijing).UnixMilli()
	k := 1 + (p.start-midnight)/j.spec.Period.Milliseconds()
	return fmt.Sprintf("%s.%d", day.Format("20060102"), k)
}

func uuidFrom(h uint64) string {
	h2 := splitmix64(h)
	s := fmt.Sprintf("%016x%016x", h, h2)
	return s[0:8] + "-" + s[8:12] + "-4" + s[13:16] + "-a" + s[17:20] + "-" + s[20:32]
}

func hex32(a, b uint64) string { return fmt.Sprintf("%016x%016x", a, b) }

// latestBuild returns the job's newest build (nil when none). Called with
// Server.mu held, after ensure.
func (j *job) latestBuild() *build {
	if j.newest == 0 {
		return nil
	}
	return j.builds[j.newest]
}
