package simulator

import (
	"sort"
	"time"
)

// Truth is the ground truth of everything the simulator has generated up to
// Clock.Now(): what a perfect client would have read. Log texts are shared
// with the server (substrings, not copies), so taking a Truth is cheap.
type Truth struct {
	Now  time.Time
	Jobs []JobTruth // in Options.Jobs order
}

// JobTruth is one job's retained builds.
type JobTruth struct {
	ID, Name string
	// LastBuildNo is the newest started build (0 when none).
	LastBuildNo int64
	// Builds are the retained builds, oldest first.
	Builds []BuildTruth
}

// BuildTruth is one build as of Truth.Now.
type BuildTruth struct {
	Number        int64
	RecordID      string // record-info id (full-stages record_id)
	BuildRecordID string // record-info build_record_id
	Status        string // RUNNING, SUCCESS, FAILED or ABORTED
	Finished      bool
	// StartTime and FinishTime are what record-info serves (whole seconds);
	// FinishTime is zero while the build runs.
	StartTime, FinishTime time.Time
	// DurationMillis is record-info's duration: FinishTime − StartTime, 0
	// while running.
	DurationMillis int64
	// Outcome is the status the build will end with (known from its start).
	Outcome string
	// ErrorSpike reports whether one of the build's steps contains an error
	// spike (SpikeRecords error records within a few seconds).
	ErrorSpike bool
	Stages     []StageTruth // by sequence: initial, stage1..N, final
}

// StageTruth is one stage (step) of a build as of Truth.Now.
type StageTruth struct {
	Name        string // execution_stage_name: initial, stageN, final
	DisplayName string
	Sequence    int
	// NodeID is the node_id served by full-stages and accepted as step_id;
	// 0 means null (no log: the collector skips the stage).
	NodeID   int64
	Status   string // PENDING, RUNNING, SUCCESS, FAILED or ABORTED
	Finished bool
	// Skipped reports a stage that never ran because the build failed or was
	// aborted before it (status ABORTED, no times, empty log).
	Skipped bool
	// StartTime and FinishTime as served (zero when not yet, or never).
	StartTime, FinishTime time.Time
	// Log is the full text of the step's log visible now: exactly what
	// paging ShowActionInfo / ShowConsoleInfo from offset 0 to has_more=false
	// returns, concatenated.
	Log string
	// Bytes is len(Log) (UTF-8 bytes); Chars its length in characters,
	// the unit of offsets.
	Bytes, Chars int64
	// Records is the number of records in Log: each starts with exactly one
	// CodeArts timestamp prefix (docs/parser.md; glued records count twice).
	Records int
	// FirstRecordTime and LastRecordTime are the timestamps written in the
	// prefixes of the first and the last record of Log (zero when empty) —
	// the collector's action duration is their difference.
	FirstRecordTime, LastRecordTime time.Time
}

// Truth returns the ground truth as of Clock.Now(). It is safe to call
// concurrently with serving.
func (s *Server) Truth() Truth {
	nowT := s.clock.Now()
	now := nowT.UnixMilli()
	t := Truth{Now: nowT, Jobs: make([]JobTruth, len(s.jobs))}
	held := make([][]*build, len(s.jobs))
	s.mu.Lock()
	for i, j := range s.jobs {
		s.ensure(j, now)
		t.Jobs[i] = JobTruth{ID: j.spec.ID, Name: j.spec.Name, LastBuildNo: j.newest}
		for _, b := range j.builds {
			held[i] = append(held[i], b)
		}
	}
	s.mu.Unlock()
	for i := range t.Jobs {
		bs := held[i]
		sort.Slice(bs, func(a, c int) bool { return bs[a].plan.number < bs[c].plan.number })
		t.Jobs[i].Builds = make([]BuildTruth, len(bs))
		for k, b := range bs {
			t.Jobs[i].Builds[k] = b.truth(now)
		}
	}
	return t
}

func (b *build) truth(now int64) BuildTruth {
	p := b.plan
	bt := BuildTruth{
		Number: p.number, RecordID: b.recordID, BuildRecordID: b.buildRecordID,
		Status: p.statusAt(now), Finished: now >= p.finish,
		StartTime: time.UnixMilli(p.start), Outcome: p.outcome, ErrorSpike: p.spike > 0,
		Stages: make([]StageTruth, len(b.stages)),
	}
	if bt.Finished {
		bt.FinishTime = time.UnixMilli(p.finish)
		bt.DurationMillis = p.finish - p.start
	}
	for i, st := range b.stages {
		sp := st.plan
		s := StageTruth{
			Name: sp.name, DisplayName: sp.display, Sequence: sp.seq, NodeID: sp.nodeID,
			Status: sp.statusAt(now), Finished: now >= sp.doneAt, Skipped: sp.skipped,
		}
		if !sp.skipped && now >= sp.start {
			s.StartTime = time.UnixMilli(sp.start)
		}
		if !sp.skipped && now >= sp.finish {
			s.FinishTime = time.UnixMilli(sp.finish)
		}
		if lg := st.log; lg != nil {
			k := lg.visible(now)
			s.Records = k
			s.Bytes = int64(lg.bytesOf(k))
			s.Chars = int64(lg.runesOf(k))
			s.Log = lg.text[:s.Bytes]
			if k > 0 {
				s.FirstRecordTime = time.UnixMilli(lg.ts[0])
				s.LastRecordTime = time.UnixMilli(lg.ts[k-1])
			}
		}
		bt.Stages[i] = s
	}
	return bt
}

// Job returns the truth of the job with the given id, or nil.
func (t Truth) Job(id string) *JobTruth {
	for i := range t.Jobs {
		if t.Jobs[i].ID == id {
			return &t.Jobs[i]
		}
	}
	return nil
}

// Build returns the truth of build number n, or nil when it is not retained.
func (j JobTruth) Build(n int64) *BuildTruth {
	for i := range j.Builds {
		if j.Builds[i].Number == n {
			return &j.Builds[i]
		}
	}
	return nil
}

// Stage returns the stage with the given node id, or nil.
func (b BuildTruth) Stage(nodeID int64) *StageTruth {
	for i := range b.Stages {
		if b.Stages[i].NodeID == nodeID && nodeID != 0 {
			return &b.Stages[i]
		}
	}
	return nil
}
