package collector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// jobPoll is one poll of one job. It owns w, a private copy of the job's
// ledger entry, until it commits it.
type jobPoll struct {
	c   *Collector
	cfg *config
	job Job
	w   *jobLedger

	dirty       bool               // w differs from what was last committed
	pages       int                // log pages read in this poll
	pagesTotal  prometheus.Counter // the job's child of self.pages, looked up once
	sinceCommit int                // log pages read since the last commit
	live        map[*stageProgress]*liveStream
	// pageBuf receives the text of each log page, one page after the
	// other: decoding every page into new memory cost an allocation the
	// size of the page, cleared and then written cold (docs/performance.md,
	// "Log text in the caller's buffer").
	pageBuf []byte
}

// liveStream is the parser stream of one stage log during a poll, with the
// counts of the records it emitted that are not yet merged into the ledger.
type liveStream struct {
	s   *parser.Stream
	cls *parser.FailureClassifier
	sp  *stageProgress
	// classify: the records written next are fed to cls (classifies).
	classify bool
	cur      recordCounts
	dirty    bool
}

// classifies reports whether a stage's records must be fed to its failure
// classifier: only a stage that ends failed uses its classification
// (finishStage), so a stage already known finished with another result
// (success, aborted) skips it. The decision depends only on the stage's
// status, which is committed with its cursor and the classifier's state, so
// a restarted exporter decides as an uninterrupted one would.
func classifies(sp *stageProgress) bool {
	return !metrics.IsFinished(sp.Status) || metrics.ResultFromStatus(sp.Status) == metrics.ResultFailure
}

// setClassify decides whether the records ls emits next are fed to its
// classifier (classifies). While they are, the stream matches the failure
// rules in the same scan of each message as the severity rules.
func (p *jobPoll) setClassify(ls *liveStream) {
	if on := classifies(ls.sp); on != ls.classify {
		ls.classify = on
		if on {
			ls.s.MatchFailureRules(p.cfg.failureRules)
		} else {
			ls.s.MatchFailureRules(nil)
		}
	}
}

// commitError marks a failed commit: the working copy must be abandoned.
type commitError struct{ err error }

func (e *commitError) Error() string { return e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

func (c *Collector) pollJobOnce(ctx context.Context, cfg *config, t task) error {
	j := t.job
	p := &jobPoll{c: c, cfg: cfg, job: j, live: map[*stageProgress]*liveStream{},
		pagesTotal: c.self.pages.WithLabelValues(j.Name)}
	if pub := c.published.Load().job(j.Name); pub != nil {
		p.w = pub.clone()
	} else {
		p.w = &jobLedger{JobID: j.ID}
		p.dirty = true
	}
	if p.w.JobID != j.ID {
		c.logger.Warn("job id changed for this job name: build progress restarts, counters continue",
			"job", j.Name, "old_job_id", p.w.JobID, "job_id", j.ID)
		*p.w = jobLedger{JobID: j.ID, Bytes: p.w.Bytes, Records: p.w.Records, ActionDur: p.w.ActionDur, BuildDur: p.w.BuildDur,
			Failures: p.w.Failures, LastFailure: p.w.LastFailure}
		p.dirty = true
	}
	err := p.run(ctx, t)
	var ce *commitError
	if errors.As(err, &ce) || errors.Is(err, errCrashed) {
		return err
	}
	if p.dirty {
		if cerr := p.commit(); cerr != nil {
			return errors.Join(err, cerr)
		}
	}
	return err
}

// commit stores the live streams' carried state in the working copy and
// commits it (state file, then publish).
func (p *jobPoll) commit() error {
	for sp, ls := range p.live {
		sp.Stream = ls.s.State()
		sp.Failure = ls.cls.State()
	}
	if err := p.c.commit(p.job.Name, p.w); err != nil {
		if errors.Is(err, errCrashed) {
			return err
		}
		return &commitError{err}
	}
	p.dirty = false
	p.sinceCommit = 0
	return nil
}

// run polls the job: the newest build number (from the scheduler's ListJob
// entry when it has one, else ShowRunningStatus), scheduling, then every
// build in flight, running builds first, then new ones, then backfill.
func (p *jobPoll) run(ctx context.Context, t task) error {
	latest := t.latest
	if !t.known {
		var err error
		latest, err = p.cfg.api.latestBuild(codearts.WithPriority(ctx, codearts.PriorityDiscovery), p.job.ID)
		if err != nil {
			return fmt.Errorf("running status: %w", err)
		}
	}
	p.schedule(latest)

	var errs []error
	builds := slices.Clone(p.w.Builds)
	slices.SortStableFunc(builds, func(a, b *buildProgress) int { return int(buildPriority(a)) - int(buildPriority(b)) })
	for _, b := range builds {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		if p.budgetLeft() == 0 {
			break
		}
		err := p.build(codearts.WithPriority(ctx, buildPriority(b)), b)
		var ce *commitError
		if errors.As(err, &ce) || errors.Is(err, errCrashed) {
			return err
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("build %d: %w", b.Number, err))
		}
	}
	return errors.Join(errs...)
}

// schedule adds the builds up to latest that were not scheduled before.
func (p *jobPoll) schedule(latest int64) {
	w := p.w
	if latest > w.LastBuildNo {
		w.LastBuildNo = latest
		p.dirty = true
	}
	var from int64
	backfill := w.NextBuildNo == 0
	switch {
	case backfill: // first sight: the newest BackfillBuilds
		from = latest - int64(p.cfg.backfill) + 1
		if from < 1 {
			from = 1
		}
		w.NextBuildNo = max(latest+1, 1)
		p.dirty = true
	case latest >= w.NextBuildNo:
		from = w.NextBuildNo
		if n := latest - from + 1; n > int64(p.cfg.maxBehind) {
			skipped := n - int64(p.cfg.maxBehind)
			from += skipped
			p.c.self.skipped.WithLabelValues(p.job.Name).Add(float64(skipped))
			p.c.logger.Warn("too many new builds since the last poll; the oldest are skipped",
				"job", p.job.Name, "skipped", skipped, "first_read", from, "latest", latest)
		}
		w.NextBuildNo = latest + 1
		p.dirty = true
	default:
		return
	}
	// Catch-up (first sight, or the builds an outage left behind, all but
	// the newest) is backfill: read after running and new builds.
	for n := from; n <= latest; n++ {
		w.Builds = append(w.Builds, &buildProgress{Number: n, Backfill: backfill || n < latest})
	}
	if latest >= from && (backfill || latest > from) {
		p.c.prog.scheduled.Add(latest - from + 1)
	}
}

func (p *jobPoll) budgetLeft() int {
	return max(p.cfg.maxPagesPerPoll-p.pages, 0)
}

// build advances one build: record, stages, step logs; a finished build
// whose stages are all done is observed and dropped.
func (p *jobPoll) build(ctx context.Context, b *buildProgress) error {
	api := p.cfg.api
	missed := false
	defer func() { p.missBookkeeping(b, missed) }()

	var rec finalRecord // what the rest of this poll needs of the record
	if b.Final != nil {
		rec = *b.Final
	} else {
		r, err := p.refresh(ctx, b)
		if err != nil {
			missed = api.notFound(err)
			return err
		}
		rec = r.final()
	}

	buildFinished := metrics.IsFinished(rec.Status)
	allDone := true
	var errs []error
	for _, sp := range b.Stages {
		if sp.Done {
			continue
		}
		if p.budgetLeft() == 0 {
			allDone = false
			break
		}
		stageFinished := metrics.IsFinished(sp.Status)
		done, err := p.readStage(ctx, b, sp, stageFinished, buildFinished)
		var ce *commitError
		if errors.As(err, &ce) || errors.Is(err, errCrashed) {
			return err
		}
		if err != nil {
			if api.notFound(err) {
				missed = true
			}
			errs = append(errs, fmt.Errorf("step %d (%s): %w", sp.NodeID, sp.Display, err))
		}
		if !done {
			allDone = false
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if buildFinished && allDone {
		p.finishBuild(b, rec)
	}
	return nil
}

// refresh asks for the build's record and stages and merges them into b.
// Once the build and all its stages have finished, it keeps the record in
// b.Final, and later polls do not call it.
func (p *jobPoll) refresh(ctx context.Context, b *buildProgress) (*buildRecord, error) {
	rec, err := p.cfg.api.buildRecord(ctx, p.job.ID, b.Number)
	if err != nil {
		return nil, fmt.Errorf("record info: %w", err)
	}
	if rec.Status != b.Status {
		b.Status = rec.Status
		p.dirty = true
	}
	stages, recordID, err := p.fetchStages(ctx, rec)
	if err != nil {
		return nil, err
	}
	if recordID != "" && recordID != b.RecordID {
		b.RecordID = recordID
		p.dirty = true
	}
	p.mergeStages(b, stages)
	if metrics.IsFinished(rec.Status) && !slices.ContainsFunc(b.Stages, func(sp *stageProgress) bool { return !metrics.IsFinished(sp.Status) }) {
		f := rec.final()
		b.Final = &f
		p.dirty = true
	}
	return rec, nil
}

// missBookkeeping counts consecutive polls with "not found" answers and
// drops the build after giveUpAfter of them, so a build that vanished never
// wedges its job.
func (p *jobPoll) missBookkeeping(b *buildProgress, missed bool) {
	if !missed {
		if b.Misses != 0 {
			b.Misses = 0
			p.dirty = true
		}
		return
	}
	b.Misses++
	p.dirty = true
	if b.Misses < p.cfg.giveUpAfter {
		return
	}
	p.c.logger.Warn("build keeps answering \"not found\"; giving up on it",
		"job", p.job.Name, "build", b.Number, "polls", b.Misses)
	p.c.self.givenUp.WithLabelValues(p.job.Name).Inc()
	p.dropBuild(b)
}

func (p *jobPoll) dropBuild(b *buildProgress) {
	for _, sp := range b.Stages {
		delete(p.live, sp)
	}
	p.w.Builds = slices.DeleteFunc(p.w.Builds, func(x *buildProgress) bool { return x == b })
	p.dirty = true
}

// fetchStages calls full-stages with the record id candidates in order:
// the field that worked last for this job first, then id, then
// build_record_id (docs/api-reference.md §12 Q3). The first candidate with stages wins
// and is cached. An empty stage list is accepted only if no candidate has
// stages.
func (p *jobPoll) fetchStages(ctx context.Context, rec *buildRecord) ([]stageInfo, string, error) {
	type cand struct{ field, id string }
	cands := []cand{{"id", rec.ID}, {"build_record_id", rec.BuildRecordID}}
	if p.w.RecordIDField == "build_record_id" {
		cands[0], cands[1] = cands[1], cands[0]
	}
	var firstErr error
	emptyID, tried := "", ""
	for _, cd := range cands {
		if cd.id == "" || cd.id == tried {
			continue
		}
		tried = cd.id
		st, err := p.cfg.api.stages(ctx, cd.id)
		if err != nil {
			if !p.cfg.api.notFound(err) {
				return nil, "", fmt.Errorf("full stages: %w", err)
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if len(st) == 0 {
			if emptyID == "" {
				emptyID = cd.id
			}
			continue
		}
		if p.w.RecordIDField != cd.field {
			p.w.RecordIDField = cd.field
			p.dirty = true
		}
		return st, cd.id, nil
	}
	if emptyID != "" {
		return nil, emptyID, nil
	}
	if firstErr != nil {
		return nil, "", fmt.Errorf("full stages: %w", firstErr)
	}
	return nil, "", errors.New("full stages: the build record has neither id nor build_record_id")
}

// mergeStages adds the stages that have a node_id and refreshes statuses.
// A stage's action label is fixed when it is first seen, so every record of
// its log is counted under one label.
func (p *jobPoll) mergeStages(b *buildProgress, stages []stageInfo) {
	stages = slices.Clone(stages)
	slices.SortStableFunc(stages, func(a, b stageInfo) int { return a.Sequence - b.Sequence })
	for _, st := range stages {
		if !st.HasNode {
			continue
		}
		key := st.Name
		if key == "" {
			key = "node:" + strconv.FormatInt(st.NodeID, 10)
		}
		i := slices.IndexFunc(b.Stages, func(s *stageProgress) bool { return s.Key == key })
		if i < 0 {
			b.Stages = append(b.Stages, &stageProgress{
				Key: key, NodeID: st.NodeID, Display: p.actionLabel(st), Status: st.Status,
			})
			p.dirty = true
			continue
		}
		sp := b.Stages[i]
		if sp.Status != st.Status && !sp.Done {
			sp.Status = st.Status
			p.dirty = true
		}
	}
}

// actionLabel is the action label value of a stage: its display name
// (labelValue), else its stage name; OtherAction beyond MaxActionsPerJob.
func (p *jobPoll) actionLabel(st stageInfo) string {
	a := labelValue(strings.TrimSpace(st.Display))
	if a == "" {
		a = labelValue(st.Name)
	}
	if a == "" {
		a = "stage" + strconv.Itoa(st.Sequence)
	}
	if !p.w.hasAction(a) && p.w.numActions() >= p.cfg.maxActions {
		p.c.logger.Warn("too many distinct actions for this job; counting further ones as "+OtherAction,
			"job", p.job.Name, "action", a, "max_actions_per_job", p.cfg.maxActions)
		return OtherAction
	}
	return a
}

// stream returns the live parser stream of sp, restoring its carried state
// on first use in this poll.
func (p *jobPoll) stream(sp *stageProgress) *liveStream {
	if ls := p.live[sp]; ls != nil {
		return ls
	}
	ls := &liveStream{sp: sp, cls: parser.NewFailureClassifier(p.cfg.failureRules)}
	ls.cls.Restore(sp.Failure)
	ls.s = parser.NewStream(p.cfg.rules, func(r *parser.Record) {
		if ls.classify {
			ls.cls.Record(r)
		}
		src, lvl := r.Source, r.Level
		if int(src) >= parser.NumSources || int(lvl) >= parser.NumLevels {
			src, lvl = parser.SourceOutput, parser.LevelInfo
		}
		ls.cur[src][lvl]++
		ls.dirty = true
		sp.Records++
		if r.HasTime {
			if !sp.HasTime {
				sp.HasTime = true
				sp.FirstMs = r.UnixMilli
			}
			sp.LastMs = r.UnixMilli
		}
	})
	ls.s.Restore(sp.Stream)
	p.live[sp] = ls
	return ls
}

// mergeCounts moves the records a stream emitted into the ledger.
func (p *jobPoll) mergeCounts(ls *liveStream) {
	if !ls.dirty {
		return
	}
	w := p.w
	if w.Records == nil {
		w.Records = make(map[string]recordCounts)
	}
	rc := w.Records[ls.sp.Display]
	for s := range parser.NumSources {
		for l := range parser.NumLevels {
			rc[s][l] += ls.cur[s][l]
		}
	}
	w.Records[ls.sp.Display] = rc
	ls.cur = recordCounts{}
	ls.dirty = false
	p.dirty = true
}

// readStage pages one step log from its cursor. It returns done when the
// stage is finished and its log was read to the end (has_more=false), the
// stream flushed and the action observed. A running stage is read until it
// is caught up (has_more=false) and continued on the next poll.
//
// buildFinished with a non-terminal stage status (a stage that never ran in
// an aborted build, say) reads the log to its end as for a finished stage,
// but observes no action duration, since the action never finished.
func (p *jobPoll) readStage(ctx context.Context, b *buildProgress, sp *stageProgress, stageFinished, buildFinished bool) (bool, error) {
	running := !stageFinished && !buildFinished
	ls := p.stream(sp)
	for steps := 0; ; steps++ {
		if steps >= p.cfg.maxPagesPerStep || p.budgetLeft() == 0 {
			return false, nil
		}
		q := logQuery{JobID: p.job.ID, BuildNo: b.Number, StepID: sp.NodeID, StartOffset: sp.Cursor, Into: &p.pageBuf}
		page, err := p.fetchPage(ctx, sp, running, q)
		if err != nil {
			if !stageFinished && buildFinished && p.cfg.api.notFound(err) {
				// Never-started stage of a finished build: there is no log.
				p.finishStage(b, ls, false)
				return true, nil
			}
			var tl *tooLargeError
			if errors.As(err, &tl) {
				p.giveUpStage(ls, b, stallTooLarge, err)
				return true, nil
			}
			return false, err
		}
		p.pages++
		p.sinceCommit++
		sp.Pages++
		p.pagesTotal.Inc()
		// Validate before counting anything: a page that does not move
		// the cursor forward would count its text again.
		switch p.checkPage(b, sp, page) {
		case pageRetryNextPoll:
			return false, nil
		case pageGiveUp:
			p.giveUpStage(ls, b, sp.StallReason, nil)
			return true, nil
		}
		if len(page.Log) > 0 {
			p.w.Bytes += uint64(len(page.Log))
			p.setClassify(ls)
			_, _ = ls.s.Write(page.Log) // the stream keeps no reference to it
			p.mergeCounts(ls)
			p.dirty = true
		}
		if page.EndOffset != sp.Cursor {
			sp.Cursor = page.EndOffset
			p.dirty = true
		}
		if p.c.crash(hookAfterPage) {
			return false, errCrashed
		}
		if !page.HasMore {
			if running {
				return false, nil // caught up with a running step
			}
			p.finishStage(b, ls, stageFinished)
			return true, nil
		}
		if p.sinceCommit >= p.cfg.commitEveryPages {
			if err := p.commit(); err != nil {
				return false, err
			}
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
	}
}

// finishStage flushes the stream (a trailing incomplete record is complete
// at the end of a finished log) and, if observe, records one action run. A
// log without any record is no run (a stage skipped because an earlier one
// failed is ABORTED with an empty log) and is not observed.
func (p *jobPoll) finishStage(b *buildProgress, ls *liveStream, observe bool) {
	sp := ls.sp
	p.setClassify(ls)
	ls.s.Flush()
	p.mergeCounts(ls)
	sp.Stream = ls.s.State()
	result := metrics.ResultFromStatus(sp.Status)
	if observe && sp.Records > 0 {
		var ms int64
		if sp.HasTime {
			ms = max(sp.LastMs-sp.FirstMs, 0)
		}
		p.w.observeAction(sp.Display, result, ms)
	}
	if observe && result == metrics.ResultFailure {
		// Counted here, in the same commit as the done flag: exactly once.
		f := ls.cls.Result()
		if ls.cls.Fed() != sp.Records {
			// Part of the log was read while the stage reported another
			// result (classifies): its classification would be a guess.
			f = parser.Failure{Category: parser.CategoryUnknown, Cause: causeUnclassified}
		}
		p.w.addFailure(b.Number, sp.Display, f, sp.LastMs)
		p.c.logger.Info("action failed", "job", p.job.Name, "build", b.Number, "action", sp.Display,
			"category", f.Category, "cause", f.Cause, "code", f.Code, "exit_code", f.ExitCode)
	}
	sp.Failure = parser.FailureState{}
	sp.Done = true
	delete(p.live, sp)
	p.dirty = true
}

// finishBuild observes a finished build whose stages are all done, updates
// the last-build gauges and drops the build's detail.
func (p *jobPoll) finishBuild(b *buildProgress, rec finalRecord) {
	var ms int64
	switch {
	case rec.StartMs > 0 && rec.FinishMs >= rec.StartMs:
		ms = rec.FinishMs - rec.StartMs
	case rec.DurationMs > 0:
		ms = rec.DurationMs
	}
	result := metrics.ResultFromStatus(rec.Status)
	p.w.observeBuild(result, ms)
	p.c.prog.buildsDone.Add(1)
	finished := rec.FinishMs
	if finished == 0 && rec.StartMs > 0 {
		finished = rec.StartMs + ms
	}
	lb := lastBuild{Number: b.Number, Result: result, FinishedMs: finished, DurationMs: ms}
	if prev := p.w.LastBuild; prev == nil || b.Number >= prev.Number {
		p.w.LastBuild = &lb
	}
	p.remember(b, lb)
	p.dropBuild(b)
}

// remember adds a finished build to the bounded history of /status, keeping
// it sorted newest first. A build older than all of a full history is left
// out.
func (p *jobPoll) remember(b *buildProgress, lb lastBuild) {
	s := buildSummary{lastBuild: lb}
	for _, sp := range b.Stages {
		if sp.Records == 0 {
			continue // no run: skipped after an earlier failure, or never started
		}
		result := metrics.ResultFromStatus(sp.Status)
		var ms int64
		if sp.HasTime {
			ms = max(sp.LastMs-sp.FirstMs, 0)
		}
		if result == metrics.ResultFailure && s.FailedAction == "" {
			s.FailedAction = sp.Display
		}
		if len(s.Actions) < maxRecentActions {
			s.Actions = append(s.Actions, actionRun{Action: sp.Display, Result: result, DurationMs: ms, Records: sp.Records})
		}
	}
	if f := p.w.LastFailure; f != nil && f.BuildNumber == b.Number {
		s.FailedAction, s.Category = f.Action, f.Category
	}
	i, _ := slices.BinarySearchFunc(p.w.Recent, b.Number, func(x buildSummary, n int64) int {
		return cmp.Compare(n, x.Number) // newest first
	})
	if i >= maxRecentBuilds {
		return
	}
	p.w.Recent = slices.Insert(p.w.Recent, i, s)
	if len(p.w.Recent) > maxRecentBuilds {
		p.w.Recent = p.w.Recent[:maxRecentBuilds]
	}
}
