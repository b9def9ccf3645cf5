package simulator

import (
	"strconv"
	"time"
)

// Statuses served by the simulator. Stages and builds go PENDING → RUNNING →
// SUCCESS, FAILED or ABORTED.
const (
	StatusPending = "PENDING"
	StatusRunning = "RUNNING"
	StatusSuccess = "SUCCESS"
	StatusFailed  = "FAILED"
	StatusAborted = "ABORTED"
)

// statusCode is the numeric status_code of full-stages. The reference
// observed 5 = SUCCESS and 8 = ABORTED; the others are the simulator's own.
func statusCode(status string) int {
	switch status {
	case StatusPending:
		return 1
	case StatusRunning:
		return 3
	case StatusSuccess:
		return 5
	case StatusFailed:
		return 6
	case StatusAborted:
		return 8
	}
	return 0
}

// A plan is the timeline of one build: when it and each of its stages start
// and finish, and how it ends. Plans are pure functions of (seed, job,
// number), cheap to compute, and independent of log content.
type plan struct {
	number   int64
	create   int64 // unix ms; the build's anchor A (slot + jitter)
	start    int64 // record start_time = initial stage start = create + 2s
	finish   int64 // final stage finish
	outcome  string
	badStage int // index into stages of the stage that fails / is aborted; 0 = none
	spike    int // index of the stage with an error spike; 0 = none
	stages   []stagePlan
}

type stagePlan struct {
	name     string // execution_stage_name: initial, stage1..N, final
	display  string
	seq      int
	nodeID   int64 // 0 = null
	spec     *StageSpec
	queued   int64 // unix ms
	start    int64
	finish   int64
	skipped  bool   // never ran: the build failed or was aborted before it
	doneAt   int64  // when the stage reaches its final status
	status   string // the status the stage ends with
	failing  bool   // the stage that fails the build
	aborting bool   // the stage during which the build is aborted
}

// slotMillis is the scheduled slot of build n.
func (j *job) slotMillis(n int64) int64 {
	return j.base + (n-1)*j.spec.Period.Milliseconds()
}

// anchor is A of build n: the slot rounded up to a whole second plus the
// build's jitter.
func (j *job) anchor(n int64) int64 {
	s := j.slotMillis(n)
	s = ceilSecond(s)
	if js := int64(j.spec.Jitter / time.Second); js > 0 {
		s += int64(mix(j.seed, j.idHash, uint64(n), saltJitter)%uint64(js+1)) * 1000
	}
	return s
}

// startOf is when build n becomes visible (its start_time).
func (j *job) startOf(n int64) int64 { return j.anchor(n) + 2000 }

// latestAt returns the newest build number started at or before now
// (0 when none).
func (j *job) latestAt(now int64) int64 {
	p := j.spec.Period.Milliseconds()
	if now < j.base {
		return 0
	}
	n := (now-j.base)/p + 1
	if j.startOf(n) > now {
		n--
	}
	if m := int64(j.spec.MaxBuilds); m > 0 && n > m {
		n = m
	}
	return n
}

func ceilSecond(ms int64) int64 {
	if r := ms % 1000; r != 0 {
		if r < 0 {
			return ms - r
		}
		return ms - r + 1000
	}
	return ms
}

// planBuild computes the timeline of build n.
func (j *job) planBuild(n int64) *plan {
	rng := newRand(mix(j.seed, j.idHash, uint64(n), saltPlan))
	spec := &j.spec
	p := &plan{number: n, create: j.anchor(n), outcome: StatusSuccess}
	p.start = p.create + 2000

	nst := len(spec.Stages)
	u := rng.Float64()
	switch {
	case u < spec.FailureRate:
		p.outcome = StatusFailed
		p.badStage = 1 + rng.IntN(nst)
	case u < spec.FailureRate+spec.AbortRate:
		p.outcome = StatusAborted
		p.badStage = 1 + rng.IntN(nst)
	}
	if rng.Float64() < spec.ErrorSpikeRate {
		p.spike = 1 + rng.IntN(nst)
	}

	// Node ids: the bookend initial gets a small one, the others grow by
	// irregular steps, like a flow graph's node numbering.
	node := int64(3 + rng.IntN(10))
	p.stages = make([]stagePlan, 0, nst+2)
	initial := stagePlan{name: "initial", display: "initial", seq: 0, nodeID: node,
		queued: p.create + 1000, start: p.start}
	initial.finish = initial.start + int64(2+rng.IntN(initialMaxSeconds-2))*1000
	p.stages = append(p.stages, initial)
	t := initial.finish
	for i := range spec.Stages {
		s := &spec.Stages[i]
		node += int64(1 + rng.IntN(40))
		sp := stagePlan{name: "stage" + strconv.Itoa(i+1), display: s.DisplayName, seq: i + 1, spec: s, queued: t}
		if !s.NoLog {
			sp.nodeID = node
		}
		pending := int64(0)
		if rng.IntN(4) == 0 {
			pending = 1000
		}
		sp.start = t + pending
		minS, maxS := int64(s.MinDuration/time.Second), int64(s.MaxDuration/time.Second)
		sp.finish = sp.start + (minS+rng.Int64N(maxS-minS+1))*1000
		p.stages = append(p.stages, sp)
		t = sp.finish
	}
	final := stagePlan{name: "final", display: "final", seq: nst + 1, queued: t, start: t, nodeID: node + int64(1+rng.IntN(5))}
	final.finish = final.start + int64(1+rng.IntN(finalMaxSeconds))*1000
	p.stages = append(p.stages, final)

	// Apply the outcome: the bad stage ends early (abort) or at its planned
	// end with FAILED; the stages after it never run; final runs right after.
	for i := range p.stages {
		p.stages[i].status = StatusSuccess
	}
	if p.badStage > 0 {
		bad := &p.stages[p.badStage]
		if p.outcome == StatusAborted {
			d := (bad.finish - bad.start) / 1000
			bad.finish = bad.start + (1+rng.Int64N(max(d, 1)))*1000
			bad.aborting = true
			bad.status = StatusAborted
		} else {
			bad.failing = true
			bad.status = StatusFailed
		}
		for i := p.badStage + 1; i < len(p.stages)-1; i++ {
			s := &p.stages[i]
			s.skipped = true
			s.status = StatusAborted
			s.queued, s.start, s.finish = 0, 0, 0
		}
		fin := &p.stages[len(p.stages)-1]
		d := fin.finish - fin.start
		fin.queued, fin.start = bad.finish, bad.finish
		fin.finish = fin.start + d
		if p.outcome == StatusAborted {
			fin.status = StatusAborted
		}
	}
	if spec.Continuous {
		p.stretch(j.anchor(n+1) - 1000)
	}
	for i := range p.stages {
		s := &p.stages[i]
		s.doneAt = s.finish
		if s.skipped {
			s.doneAt = p.stages[p.badStage].finish
		}
	}
	p.finish = p.stages[len(p.stages)-1].finish
	if p.spike > 0 && (p.stages[p.spike].skipped || p.stages[p.spike].nodeID == 0) {
		p.spike = 0
	}
	return p
}

// statusAt is the status of a planned stage at now (unix ms).
func (s *stagePlan) statusAt(now int64) string {
	switch {
	case now >= s.doneAt:
		return s.status
	case s.skipped || now < s.start:
		return StatusPending
	default:
		return StatusRunning
	}
}

// statusAt is the build's status at now.
func (p *plan) statusAt(now int64) string {
	if now >= p.finish {
		return p.outcome
	}
	return StatusRunning
}

// stretch lengthens the last stage that runs (the bad one, else stageN) so
// that the build finishes at until, moving the stages after it.
func (p *plan) stretch(until int64) {
	slack := until - p.stages[len(p.stages)-1].finish
	if slack <= 0 {
		return
	}
	k := p.badStage
	if k == 0 {
		k = len(p.stages) - 2
	}
	p.stages[k].finish += slack
	for i := k + 1; i < len(p.stages); i++ {
		s := &p.stages[i]
		if s.skipped {
			continue
		}
		s.queued += slack
		s.start += slack
		s.finish += slack
	}
}
