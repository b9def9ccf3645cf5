package parser

import (
	"bytes"
	"cmp"
	"math/bits"
	"slices"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

// Whole-log analysis: action runs, their results and durations, the build
// result and record counts labelled as `analyze` labels them (docs/parser.md).

// Markers written by CodeArts in a platform record's message.
var (
	startMarkers = [][]byte{[]byte("该步骤开始执行"), []byte("This step is start"), []byte("This action starts.")}
	endMarkers   = [][]byte{[]byte("该步骤执行完成"), []byte("This step is complete")}
	// failMarkers end a run and make it fail. "该步骤执行失败" is the
	// Chinese wording of the same message (not seen in the real fixtures).
	failMarkers = [][]byte{[]byte("Failed to complete this step"), []byte("该步骤执行失败")}
)

// JobAction is the action label of records that belong to no action.
const JobAction = "job"

// How an action run ended.
const (
	EndedByMarker    = "marker"     // an end marker of the run's tag
	EndedByNextStart = "next-start" // the next start marker (of any action)
	EndedByEndOfLog  = "end-of-log" // the log ended first
)

// Analysis is what an Analyzer found in one whole log.
type Analysis struct {
	Bytes   int64
	Lines   int   // physical lines ("\n"-terminated, plus an unterminated last one)
	Records int64 // records, as Stream emits them
	Levels  [NumLevels]int64
	// Counts are the records per (action, source, level), sorted by action,
	// then source, then level. Action is the analyze label (JobAction when
	// the record belongs to no action).
	Counts []RecordCount
	// FirstMilli and LastMilli are the times of the first and the last
	// record that has a time, in log order (logs can go backwards in time).
	FirstMilli, LastMilli int64
	HasTime               bool
	// UTCOffset is the GMT offset of the first record with a time, in
	// seconds east of UTC: the zone the log was written in.
	UTCOffset  int
	Build      Build
	Runs       []ActionRun
	FirstError *RecordRef // first record of level error in the log
	// Outside counts the records outside every action run (job-level
	// lines, untagged step output) per level; OutsideFirstError is the
	// first of them of level error. With the runs' Records they add up to
	// Levels.
	Outside           [NumLevels]int64
	OutsideFirstError *RecordRef
	// Signatures are the templates of the log's error records, most
	// frequent first, at most MaxTopSignatures (signature.go);
	// SignatureCount is the number of templates in all, SignatureOther the
	// error records left over once MaxSignatures templates existed.
	Signatures     []Signature
	SignatureCount int
	SignatureOther int64
	// Failures are the failed action runs with their classification
	// (docs/failure-rules.md): every run whose result is failure, or, when
	// the build failed and no run did, the run or the untagged output that
	// holds the failing evidence.
	Failures []RunFailure
}

// How a failure was attributed to an action run.
const (
	// BlamedByResult: the run's own result is failure.
	BlamedByResult = "result"
	// BlamedByEvidence: the build failed while every run succeeded (the
	// failing output carries no action tag, as a shell step's output
	// often does); the records holding the failing evidence are blamed.
	BlamedByEvidence = "evidence"
)

// RunFailure is one failed action run, classified.
type RunFailure struct {
	// Action is the run's action label; JobAction for output outside
	// every action run.
	Action   string
	Tag      string // "" for output outside every run
	ActionID string
	// StartLine is the run's first line; 0 for output outside every run.
	StartLine int
	BlamedBy  string // BlamedByResult or BlamedByEvidence
	Failure
}

// RecordCount is a number of records with the same labels.
type RecordCount struct {
	Action string
	Source Source
	Level  Level
	Count  int64
}

// Build is the build as a whole.
type Build struct {
	// Status is the word after the last "Finished: " line (SUCCESS,
	// FAILURE, ABORTED, UNSTABLE, ...), "" if the log has none.
	Status string
	// Result is metrics.ResultFromStatus(Status): success, failure,
	// aborted or unknown (also for UNSTABLE and a missing Finished line).
	Result string
	// Finished is true when the log has a "Finished: " line.
	Finished bool
	// StartMilli is the time of the first record with a time; EndMilli the
	// time of the Finished line, or of the last record with a time.
	StartMilli, EndMilli int64
}

// DurationSeconds is EndMilli-StartMilli in seconds, 0 if negative.
func (b Build) DurationSeconds() float64 { return durationSeconds(b.StartMilli, b.EndMilli) }

// ActionRun is one run of an action: from a start marker of a platform
// TAG to its end marker, the next start marker, or the end of the log.
type ActionRun struct {
	Action   string // DISPLAY of the TAG
	Tag      string
	ActionID string
	// StartMilli is the start marker's time; EndMilli the end marker's, the
	// next start marker's, or the last time in the log.
	StartMilli, EndMilli int64
	StartLine, EndLine   int // 1-based lines of the start and end records
	// Result is failure when the run has a failure end marker, a platform
	// record of level error or a record with a non-zero "exit code N";
	// otherwise success when an end marker closed it; aborted when the log
	// ended first and the build was aborted; unknown otherwise.
	Result  string
	EndedBy string // EndedByMarker, EndedByNextStart or EndedByEndOfLog
	// Records counts the records attributed to the run (their analyze
	// label is this run's action) per level.
	Records    [NumLevels]int64
	FirstError *RecordRef
	failed     bool
	cls        *classifier
}

// DurationSeconds is EndMilli-StartMilli in seconds, 0 if negative.
func (r *ActionRun) DurationSeconds() float64 { return durationSeconds(r.StartMilli, r.EndMilli) }

// RecordRef identifies one record of a log.
type RecordRef struct {
	Line      int // 1-based line where the record starts
	UnixMilli int64
	HasTime   bool
	Action    string
	Source    Source
	Level     Level
	Message   string // valid UTF-8, at most MaxRefMessage bytes
}

// MaxRefMessage bounds RecordRef.Message.
const MaxRefMessage = 512

func durationSeconds(start, end int64) float64 {
	if end <= start {
		return 0
	}
	return float64(end-start) / 1000
}

type tagState struct {
	display string
	tag     string
	id      string
	ended   bool
	lastSeq int64
	run     *ActionRun // open run, nil if none
	// counts are the records labelled with this tag's display name, folded
	// into Analyzer.counts by Finish (a map operation per record was a
	// good part of the time analyze took).
	counts [NumSources][NumLevels]int64
	// loose classifies the records labelled with this tag outside every
	// action run (after its end marker, or without a start marker).
	loose *classifier
}

type countKey struct {
	action string
	source Source
	level  Level
}

// Analyzer analyses one whole log fed with Write (an io.Writer that never
// fails). Call Finish at the end of the log.
type Analyzer struct {
	stream  *Stream
	a       Analysis
	line    int // line of the next record (1-based)
	seq     int64
	tags    map[string]*tagState
	current *tagState          // newest tag that has not ended
	counts  map[countKey]int64 // filled by Finish from jobCounts and the tags' counts
	// jobCounts are the records labelled JobAction.
	jobCounts [NumSources][NumLevels]int64
	// lastTag is the tag of the last platform record with one: the next
	// one nearly always has the same, found without a map lookup.
	lastTag  *tagState
	runs     []*ActionRun // in start order
	open     []*ActionRun
	lastByte byte
	frules   *FailureRules
	// loose classify the records outside every action run, by label, in
	// order of appearance; jobLoose is the one of the job label.
	loose    []labelClassifier
	jobLoose *classifier
	sigs     *Signatures
	hasZone  bool
	rules    *Rules
	// one and fcls summarise the records of the sequential path (Write).
	one  summaryBlock
	fcls classifyScratch
	// blockSize and workers tune ReadLog (0: the defaults); tests set
	// them.
	blockSize, workers int
	// deferred: the failure rules run only where their verdict is used
	// (ReadLogAt, deferred.go); off is the byte offset of the next record.
	deferred bool
	off      int64
	trails   trailBudget
	// matchAll: a run known to fail is open; blocks summarised from now
	// on have every record matched (deferred.go).
	matchAll atomic.Bool
}

// NewAnalyzer returns an Analyzer that classifies tool output with rules
// (nil means DefaultRules()).
func NewAnalyzer(rules *Rules) *Analyzer {
	if rules == nil {
		rules = DefaultRules()
	}
	z := &Analyzer{}
	z.init(rules, DefaultFailureRules())
	return z
}

// init makes z a new Analyzer with the given rules.
func (z *Analyzer) init(rules *Rules, frules *FailureRules) {
	*z = Analyzer{line: 1, tags: map[string]*tagState{}, counts: map[countKey]int64{}, rules: rules, frules: frules}
	z.stream = NewStream(rules, z.record)
	z.sigs = NewSignatures()
}

// UseFailureRules sets the failure rules (nil means DefaultFailureRules());
// call it before the first Write.
func (z *Analyzer) UseFailureRules(f *FailureRules) {
	if f == nil {
		f = DefaultFailureRules()
	}
	z.frules = f
}

// Write feeds the next chunk of the log.
func (z *Analyzer) Write(p []byte) (int, error) {
	z.a.Bytes += int64(len(p))
	return z.stream.Write(p)
}

// Finish flushes the log and returns the analysis. The Analyzer must not be
// used afterwards.
func (z *Analyzer) Finish() *Analysis {
	z.stream.Flush()
	a := &z.a
	a.Lines = z.line - 1
	if a.Bytes > 0 && z.lastByte != '\n' {
		a.Lines++
	}
	end := a.LastMilli
	if a.Build.Finished {
		end = max(end, a.Build.EndMilli)
	}
	for _, r := range z.open {
		r.EndMilli = end
		r.EndLine = a.Lines
		r.EndedBy = EndedByEndOfLog
		z.finishRun(r, false)
	}
	z.open = nil
	if a.HasTime {
		a.Build.StartMilli = a.FirstMilli
		if !a.Build.Finished {
			a.Build.EndMilli = a.LastMilli
		}
	}
	a.Build.Result = metrics.ResultFromStatus(a.Build.Status)
	a.Runs = make([]ActionRun, len(z.runs))
	for i, r := range z.runs {
		a.Runs[i] = *r
	}
	// Runs closed at the end of an aborted build were aborted.
	for i := range a.Runs {
		r := &a.Runs[i]
		if r.Result == metrics.ResultUnknown && r.EndedBy == EndedByEndOfLog && a.Build.Result == metrics.ResultAborted {
			r.Result = metrics.ResultAborted
		}
	}
	z.foldCounts(JobAction, &z.jobCounts)
	for _, t := range z.tags {
		z.foldCounts(t.display, &t.counts)
	}
	z.blame()
	for i := range a.Runs {
		a.Runs[i].cls = nil // the classification is in a.Failures
	}
	a.Signatures, a.SignatureCount = z.sigs.Top(MaxTopSignatures)
	a.SignatureOther = z.sigs.Other
	a.Counts = make([]RecordCount, 0, len(z.counts))
	for k, n := range z.counts {
		a.Counts = append(a.Counts, RecordCount{Action: k.action, Source: k.source, Level: k.level, Count: n})
	}
	slices.SortFunc(a.Counts, func(x, y RecordCount) int {
		return cmp.Or(strings.Compare(x.Action, y.Action), cmp.Compare(x.Source, y.Source), cmp.Compare(x.Level, y.Level))
	})
	return a
}

// record analyses one record of the sequential path (Write).
func (z *Analyzer) record(r *Record) {
	b := &z.one
	b.reset(r.Raw)
	b.zoneDone = z.hasZone
	b.summarize(r, z.frules, &z.fcls)
	z.apply(&b.recs[0], b)
}

// recordSummary is what the in-order part of the analysis (apply) needs of
// one record, computed from the record alone by summarize. It refers to the
// text of its block by offsets, not slices: without pointers, the garbage
// collector neither scans the blocks' summaries nor needs a write barrier
// to store them.
type recordSummary struct {
	ms        int64
	size      int64 // bytes in the record (Raw and Cut)
	lines     int64 // '\n' in the record (Record.Newlines)
	obs       int32 // index of the failure observation in its block, -1: no evidence
	statusLen int32 // length of the word after "Finished: " at the start of msg, 0 if none
	tplOff    int32 // the signature template of an error record: tpl[tplOff:tplEnd] ...
	tplEnd    int32
	ntok      int32 // ... of ntok tokens
	zoneOff   int32 // GMT offset, when zone
	zone      bool
	hasTime   bool
	nonEmpty  bool
	lastByte  byte
	source    Source
	level     Level
	// Markers, for a platform record with a tag.
	start, end, fail bool
	failExit         bool // a non-zero "exit code N"
	// sameTag: the tag is that of the block's previous record with a
	// tag, so apply need not compare it (the text is in another core's
	// cache).
	sameTag bool
	// The TAG of a platform record (tagLen 0: none) and the message of an
	// error record or a Finished line, in the block's text.
	tagOff, tagLen int32
	msgOff, msgLen int32
}

// summaryBlock holds the summaries of consecutive records and what they
// refer to.
type summaryBlock struct {
	// text is what the records were split from: every slice of a Record
	// summarised lies in it.
	text []byte
	recs []recordSummary
	obs  []failureObs
	tpl  []byte
	// zoneDone is set once a record's GMT offset was found: later records
	// need not look for theirs.
	zoneDone bool
	lastTag  []byte // of the last record with a tag
	// marks are those of text (blockmarks.go), nil if not marked;
	// markNL and markCode their ranks at markEnd, the end of the last
	// record summarised.
	marks            *blockMarks
	markEnd          int
	markNL, markCode uint32
	// tplMemo holds the templates of recent error lines of the block:
	// logs repeat their error lines, and a line's template depends on the
	// line alone.
	tplMemo [64]tplMemo
	memoGen uint32 // the memo's entries of another generation are empty
	// deferred: the failure rules are matched only where pass one needs
	// them (observeDeferred); kept across reset.
	deferred bool
}

// tplMemo is the template of an error line (tpl[off:end], n tokens); line
// aliases the block's text.
type tplMemo struct {
	line           []byte
	off, end, ntok int32
	gen            uint32
}

// reset empties b for the records of text.
func (b *summaryBlock) reset(text []byte) {
	b.text, b.recs, b.obs, b.tpl, b.zoneDone, b.lastTag = text, b.recs[:0], b.obs[:0], b.tpl[:0], false, nil
	b.marks, b.markEnd, b.markNL, b.markCode = nil, 0, 0, 0
	// Emptying the memo is a new generation, not a clear: Analyzer.Write
	// resets its one-record block for every record.
	if b.memoGen++; b.memoGen == 0 {
		b.tplMemo = [64]tplMemo{}
		b.memoGen = 1
	}
}

// offset is where sub, a slice of b.text, starts in it: two slices of one
// array have the same end of capacity.
func (b *summaryBlock) offset(sub []byte) int32 { return int32(cap(b.text) - cap(sub)) }

// tag is the TAG of the record summarised in s.
func (b *summaryBlock) tag(s *recordSummary) []byte { return b.text[s.tagOff : s.tagOff+s.tagLen] }

// msg is the message of the error record or Finished line summarised in s.
func (b *summaryBlock) msg(s *recordSummary) []byte { return b.text[s.msgOff : s.msgOff+s.msgLen] }

// template sets the signature template of the error message msg in s:
// that of an equal first line earlier in the block, or a new one.
func (b *summaryBlock) template(s *recordSummary, msg []byte) {
	line := firstLine(msg)
	m := &b.tplMemo[0]
	if n := len(line); n > 0 {
		m = &b.tplMemo[(uint(n)*7+uint(line[0])+uint(line[n/2])*3+uint(line[n-1])*5)&63]
		if m.gen == b.memoGen && string(m.line) == string(line) {
			s.tplOff, s.tplEnd, s.ntok = m.off, m.end, m.ntok
			return
		}
	}
	off := len(b.tpl)
	var n int
	b.tpl, n = appendTemplate(b.tpl, line)
	s.tplOff, s.tplEnd, s.ntok = int32(off), int32(len(b.tpl)), int32(n)
	if len(line) > 0 {
		*m = tplMemo{line: line, off: s.tplOff, end: s.tplEnd, ntok: s.ntok, gen: b.memoGen}
	}
}

// summarize appends the summary of r, which lies in b.text. It depends on r
// alone (and on the immutable rules), so blocks of records can be
// summarised concurrently.
func (b *summaryBlock) summarize(r *Record, frules *FailureRules, cls *classifyScratch) {
	msg := r.Message
	// Filled in place: the summary is too large to copy for nothing.
	b.recs = append(b.recs, recordSummary{})
	s := &b.recs[len(b.recs)-1]
	s.ms, s.size, s.obs = r.UnixMilli, int64(len(r.Raw))+r.Cut.Bytes, -1
	s.hasTime, s.source, s.level = r.HasTime, r.Source, r.Level
	s.lastByte, s.nonEmpty = r.LastByte()
	if r.HasTime && !b.zoneDone {
		off, ok := prefixOffset(r.Raw)
		s.zoneOff, s.zone, b.zoneDone = int32(off), ok, ok
	}
	if r.Source == SourcePlatform && len(r.Tag) > 0 {
		s.tagOff, s.tagLen, s.sameTag = b.offset(r.Tag), int32(len(r.Tag)), bytes.Equal(r.Tag, b.lastTag)
		b.lastTag = r.Tag
		if mayHaveMarker(msg) {
			s.start = containsAny(msg, startMarkers)
			s.fail = containsAny(msg, failMarkers)
			s.end = s.fail || containsAny(msg, endMarkers)
		}
	}
	// Whether it fails a run matters only when the other two reasons do not.
	exit := !(r.Source == SourcePlatform && r.Level == LevelError) && !s.fail
	var mayCode bool
	if b.marks != nil {
		// The record's lines are the line ends in all its bytes (Raw and
		// Cut); the ranks at its start are those at the end of the record
		// before. A message without an "xi" or "DE" (nor the rest of the
		// record) holds no code.
		off := int(b.offset(r.Raw))
		end := off + len(r.Raw) + int(r.Cut.Bytes)
		nl0, code0 := b.markNL, b.markCode
		if off != b.markEnd {
			nl0, code0 = b.marks.ranks(off)
		}
		nl1, code1 := b.marks.ranks(end)
		b.markEnd, b.markNL, b.markCode = end, nl1, code1
		s.lines = int64(nl1 - nl0)
		if code1 != code0 {
			_, s.failExit, mayCode = scanMessage(msg, exit)
		}
	} else {
		s.lines, s.failExit, mayCode = scanMessage(msg, exit)
		// The line end trimmed off the message; the text before the
		// message (prefix, platform header) holds none.
		if n := len(r.Raw); n > 0 && r.Raw[n-1] == '\n' {
			s.lines++
		}
		s.lines += r.Cut.Newlines
	}
	if r.Level == LevelError {
		s.msgOff, s.msgLen = b.offset(msg), int32(len(msg))
		b.template(s, msg)
	}
	// (The first byte first: HasPrefix is a call.)
	if r.Source == SourceOutput && len(msg) > 0 && msg[0] == 'F' && bytes.HasPrefix(msg, finishedPrefix) {
		rest := msg[len(finishedPrefix):]
		n := 0
		for n < len(rest) && isASCIILetter(rest[n]) {
			n++
		}
		if n > 0 {
			s.msgOff, s.msgLen, s.statusLen = b.offset(msg), int32(len(msg)), int32(n)
		}
	}
	switch {
	case !b.deferred:
		b.observe(s, frules.observe(r, cls))
	case mayCode || r.Level == LevelError:
		b.observe(s, frules.observeDeferred(r, cls, mayCode))
	default:
		// observeDeferred finds no failure point in a record of another
		// level without a code: most records, spared the call.
	}
}

// observe keeps the failure observation o of the record summarised in s
// if it is a failure point.
func (b *summaryBlock) observe(s *recordSummary, o failureObs) {
	if o.evidence {
		s.obs = int32(len(b.obs))
		b.obs = append(b.obs, o)
	}
}

// noEvidence is the observation of a record that is no failure point.
var noEvidence failureObs

// apply analyses the next record of the log, summarised in s (of block b):
// everything that depends on the records before it.
func (z *Analyzer) apply(s *recordSummary, b *summaryBlock) {
	a := &z.a
	line := z.line
	z.line += int(s.lines)
	off := z.off
	z.off += s.size
	if s.nonEmpty {
		z.lastByte = s.lastByte
	}
	z.seq++
	a.Records++
	a.Levels[s.level]++
	if s.hasTime {
		if !a.HasTime {
			a.HasTime = true
			a.FirstMilli = s.ms
		}
		a.LastMilli = s.ms
		if !z.hasZone && s.zone {
			a.UTCOffset, z.hasZone = int(s.zoneOff), true
		}
	}

	var owner *tagState
	if s.tagLen > 0 {
		tag := b.tag(s)
		t := z.lastTag
		if t == nil || !s.sameTag && t.tag != string(tag) {
			t = z.tags[string(tag)]
		}
		if t == nil {
			display, id := splitTag(tag)
			t = &tagState{display: string(display), tag: string(tag), id: string(id)}
			z.tags[t.tag] = t
		}
		z.lastTag = t
		owner = t
		if s.start {
			for _, o := range z.open {
				o.EndMilli, o.EndLine, o.EndedBy = s.ms, line, EndedByNextStart
				z.finishRun(o, false)
				z.tags[o.Tag].ended = true
			}
			z.open = z.open[:0]
			t.ended = false
			run := &ActionRun{Action: t.display, Tag: t.tag, ActionID: t.id, StartMilli: s.ms, StartLine: line}
			t.run = run
			z.open = append(z.open, run)
			z.runs = append(z.runs, run)
		}
		t.lastSeq = z.seq
		if !t.ended {
			z.current = t
		}
	} else if z.current != nil {
		owner = z.current
	}

	action := JobAction
	var run *ActionRun
	counts := &z.jobCounts
	if owner != nil {
		action = owner.display
		run = owner.run
		counts = &owner.counts
	}
	counts[s.source][s.level]++

	if s.level == LevelError {
		if a.FirstError == nil {
			a.FirstError = b.ref(s, line, action)
		}
		z.sigs.addTemplate(b.tpl[s.tplOff:s.tplEnd], int(s.ntok), int64(line))
	}
	o := &noEvidence
	if s.obs >= 0 {
		o = &b.obs[s.obs]
	}
	z.classify(o, int64(line), off, s.size, b.deferred, run, owner)
	if run == nil {
		a.Outside[s.level]++
		if s.level == LevelError && a.OutsideFirstError == nil {
			a.OutsideFirstError = b.ref(s, line, action)
		}
	}
	if run != nil {
		run.Records[s.level]++
		if s.level == LevelError && run.FirstError == nil {
			run.FirstError = b.ref(s, line, action)
		}
		if s.source == SourcePlatform && s.level == LevelError || s.fail || s.failExit {
			if !run.failed && z.deferred {
				z.matchAll.Store(true) // its classification will be shown (deferred.go)
			}
			run.failed = true
		}
	}
	if s.end {
		if run != nil {
			run.EndMilli, run.EndLine, run.EndedBy = s.ms, line, EndedByMarker
			z.finishRun(run, true)
			z.open = slices.DeleteFunc(z.open, func(o *ActionRun) bool { return o == run })
		}
		owner.ended = true
		if z.current == owner {
			z.current = nil
			for _, t := range z.tags {
				if !t.ended && (z.current == nil || t.lastSeq > z.current.lastSeq) {
					z.current = t
				}
			}
		}
	}

	if s.statusLen > 0 {
		a.Build.Status = string(b.msg(s)[len(finishedPrefix) : len(finishedPrefix)+int(s.statusLen)])
		a.Build.Finished = true
		a.Build.EndMilli = s.ms
	}
}

var finishedPrefix = []byte("Finished: ")

// foldCounts adds the non-zero counts of one label to z.counts.
func (z *Analyzer) foldCounts(action string, c *[NumSources][NumLevels]int64) {
	for src := range c {
		for lvl, n := range c[src] {
			if n > 0 {
				z.counts[countKey{action, Source(src), Level(lvl)}] += n
			}
		}
	}
}

// classify feeds a record's failure observation to the classifier of its
// run, or, when it lies outside every run, to the one of its label (owner's
// tag, or the job). The record is size bytes from byte off: where the
// classifier's trail notes it when the failure rules are deferred (partly:
// the record was not matched against them).
func (z *Analyzer) classify(o *failureObs, line, off, size int64, partly bool, run *ActionRun, owner *tagState) {
	var c *classifier
	if run != nil {
		if run.cls == nil {
			run.cls = z.newClassifier()
		}
		c = run.cls
	} else {
		pc, action := &z.jobLoose, JobAction
		if owner != nil {
			pc, action = &owner.loose, owner.display
		}
		if *pc == nil {
			*pc = z.newClassifier()
			z.loose = append(z.loose, labelClassifier{action, *pc})
		}
		c = *pc
	}
	if o.evidence {
		c.apply(o, line)
	} else {
		c.st.Seq++ // all apply does for a record that is no failure point
	}
	if z.deferred {
		seq, t := c.st.Seq, &c.trail
		if partly {
			c.partly, c.partlyEnd = seq, off+size
		}
		// Most records continue the classifier's last span and are
		// nothing else to its trail: add, spared the call.
		if n := len(t.spans); n > 0 && t.spans[n-1].end == off && !z.trails.over && seq%trailMark != 0 && !o.evidence {
			t.spans[n-1].end, t.last = off+size, line
			return
		}
		t.add(&z.trails, seq, line, off, size, o.evidence)
	}
}

// labelClassifier classifies the records of one label outside every run.
type labelClassifier struct {
	action string
	c      *classifier
}

// blame classifies the failed runs; when the build failed and no run did,
// it blames the run or untagged output whose failing evidence is newest,
// preferring evidence a (non-generic or generic) rule recognised.
func (z *Analyzer) blame() {
	a := &z.a
	for i := range a.Runs {
		r := &a.Runs[i]
		if r.Result != metrics.ResultFailure {
			continue
		}
		var f Failure
		if r.cls != nil {
			f = r.cls.Result()
		} else {
			f = NewFailureClassifier(z.frules).Result()
		}
		a.Failures = append(a.Failures, RunFailure{Action: r.Action, Tag: r.Tag, ActionID: r.ActionID,
			StartLine: r.StartLine, BlamedBy: BlamedByResult, Failure: f})
	}
	if len(a.Failures) > 0 || a.Build.Result != metrics.ResultFailure {
		return
	}
	var best *RunFailure
	better := func(c RunFailure) bool {
		if best == nil {
			return true
		}
		cr, br := c.Rule != "", best.Rule != ""
		if cr != br {
			return cr
		}
		return c.PointLine > best.PointLine
	}
	for i := range a.Runs {
		r := &a.Runs[i]
		if r.cls == nil {
			continue
		}
		c := RunFailure{Action: r.Action, Tag: r.Tag, ActionID: r.ActionID, StartLine: r.StartLine,
			BlamedBy: BlamedByEvidence, Failure: r.cls.Result()}
		if c.PointLine > 0 && better(c) {
			best = &c
		}
	}
	for _, l := range z.loose {
		c := RunFailure{Action: l.action, BlamedBy: BlamedByEvidence, Failure: l.c.Result()}
		if c.PointLine > 0 && better(c) {
			best = &c
		}
	}
	if best == nil {
		best = &RunFailure{Action: JobAction, BlamedBy: BlamedByEvidence, Failure: NewFailureClassifier(z.frules).Result()}
	}
	a.Failures = append(a.Failures, *best)
}

// prefixOffset returns the GMT offset of a record's timestamp prefix, in
// seconds east of UTC.
func prefixOffset(raw []byte) (int, bool) {
	head := raw[:min(len(raw), maxPrefixLen)]
	i := bytes.Index(head, []byte("GMT"))
	if i < 0 || i+9 > len(head) {
		return 0, false
	}
	t := head[i+3:]
	h := int(t[1]-'0')*10 + int(t[2]-'0')
	m := int(t[4]-'0')*10 + int(t[5]-'0')
	off := (h*60 + m) * 60
	if t[0] == '-' {
		off = -off
	}
	return off, true
}

// finishRun decides the result of a run that just ended and stores it.
func (z *Analyzer) finishRun(r *ActionRun, byMarker bool) {
	if r.failed && z.deferred {
		z.matchAll.Store(false)
	}
	switch {
	case r.failed:
		r.Result = metrics.ResultFailure
	case byMarker:
		r.Result = metrics.ResultSuccess
	default:
		r.Result = metrics.ResultUnknown
	}
	if t := z.tags[r.Tag]; t != nil && t.run == r {
		t.run = nil
	}
}

// markerHeads are the distinct first (up to) four bytes of the markers: a
// message that contains none of them has no marker, which three searches
// tell instead of seven.
var markerHeads = func() [][]byte {
	var heads [][]byte
	for _, m := range slices.Concat(startMarkers, endMarkers, failMarkers) {
		h := m[:min(len(m), 4)]
		if !slices.ContainsFunc(heads, func(x []byte) bool { return bytes.Equal(x, h) }) {
			heads = append(heads, h)
		}
	}
	return heads
}()

// markerScan finds the first bytes of the markerHeads.
var markerScan = func() anchorScanner {
	var first []byte
	for _, h := range markerHeads {
		if !slices.Contains(first, h[0]) {
			first = append(first, h[0])
		}
	}
	return newAnchorScanner(first)
}()

// mayHaveMarker reports whether msg may contain a start, end or fail
// marker: one scan for the heads' first bytes instead of one search per
// head.
func mayHaveMarker(msg []byte) bool {
	for base := 0; base < len(msg); base += 64 {
		for m := markerScan.mask64(msg[base:]); m != 0; m &= m - 1 {
			i := base + bits.TrailingZeros64(m)
			for _, h := range markerHeads {
				if bytes.HasPrefix(msg[i:], h) {
					return true
				}
			}
		}
	}
	return false
}

func containsAny(b []byte, subs [][]byte) bool {
	for _, s := range subs {
		if bytes.Contains(b, s) {
			return true
		}
	}
	return false
}

var exitCodeWord = []byte("exit code ")

// messageScan finds the line ends of a message, the 'x' of each "exit
// code" and "xit ", and the 'D' of each "DEV.CB.".
var messageScan = newAnchorScanner([]byte("\nxD"))

// scanMessage counts the '\n' in msg; reports, when exit is set, whether
// msg contains "exit code N" with N != 0; and reports whether msg contains
// "DEV.CB." or "xit ", the words without which no CodeArts error code or
// exit code can be in it (observeDeferred). One pass instead of a search
// for each, which cost a call per record whatever its length.
func scanMessage(msg []byte, exit bool) (newlines int64, failExit, mayCode bool) {
	for base := 0; base < len(msg); base += 64 {
		var m uint64
		if n := len(msg) - base; n >= 16 { // mask64, inlined
			m = maskAnchors(&msg[base], min(n, 64), &messageScan.vecs[0])
		} else {
			m = messageScan.maskSlow(msg[base:])
		}
		for ; m != 0; m &= m - 1 {
			i := base + bits.TrailingZeros64(m)
			switch msg[i] {
			case '\n':
				newlines++
			case 'x':
				mayCode = mayCode || bytes.HasPrefix(msg[i:], xitWord)
				if exit && !failExit && i > 0 {
					failExit = failingExitCodeAt(msg[i-1:])
				}
			default: // 'D'
				mayCode = mayCode || bytes.HasPrefix(msg[i:], devCB)
			}
		}
	}
	return newlines, failExit, mayCode
}

// failingExitCodeAt reports whether b starts with "exit code N", N != 0.
func failingExitCodeAt(b []byte) bool {
	if !bytes.HasPrefix(b, exitCodeWord) {
		return false
	}
	b = b[len(exitCodeWord):]
	nonzero, digits := false, 0
	for digits < len(b) && b[digits]-'0' < 10 {
		if b[digits] != '0' {
			nonzero = true
		}
		digits++
	}
	return digits > 0 && nonzero
}

// ref is the RecordRef of the error record summarised in s.
func (b *summaryBlock) ref(s *recordSummary, line int, action string) *RecordRef {
	msg := bytes.TrimRight(b.msg(s), " \t\r\n")
	if len(msg) > MaxRefMessage {
		cut := MaxRefMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	return &RecordRef{
		Line: line, UnixMilli: s.ms, HasTime: s.hasTime, Action: action,
		Source: s.source, Level: s.level, Message: validString(msg),
	}
}
