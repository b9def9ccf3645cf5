package parser

import (
	"cmp"
	"fmt"
	"io"
	"slices"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

// Failure rules where their verdict is used (docs/parser.md, "Failure
// rules in a second pass"). The failure classification of an analysis is
// printed for the runs whose result is failure, or, when the build failed
// and no run did, for the one classifier with the newest failing evidence;
// for most logs that is a small part of the records, or none. ReadLogAt
// therefore analyses the log without most of the failure-rule matching
// (observeDeferred), remembers where each classifier's records lie, and
// then reads again, at their offsets, the records of the classifiers whose
// result is used, from a little before their last known failure point.

// maxTrailSegments bounds the segments that the trails of all classifiers
// hold together (about 40 bytes each). A log whose classifiers' records
// are interleaved more finely than that is analysed again in one pass.
const maxTrailSegments = 1 << 16

// trailMark: a trail remembers where the records whose number (Seq) is a
// multiple of trailMark start, the last two of them.
const trailMark = 64

// parallelSpan: a span of at least this many bytes is read again through
// the blocks and workers of ReadLog; a shorter one on the calling
// goroutine.
const parallelSpan = 4 << 20

// trailBudget counts the segments of all trails of one Analyzer.
type trailBudget struct {
	n     int
	limit int // 0: maxTrailSegments
	over  bool
	// parallel is parallelSpan when 0; tests lower it.
	parallel int64
}

// classifier is a failure classifier of an analysis, with the trail of its
// records when the failure rules are deferred.
type classifier struct {
	FailureClassifier
	trail recordTrail
	// partly is the number (Seq) of the newest record pass one did not
	// match against every rule, 0 if none; partlyEnd is where it ends.
	partly, partlyEnd int64
}

func (z *Analyzer) newClassifier() *classifier {
	return &classifier{FailureClassifier: FailureClassifier{rules: z.frules}}
}

// logSpan is a run of consecutive records of one classifier: from the
// record numbered seq, which starts at byte off on line line, to byte end.
type logSpan struct{ off, end, line, seq int64 }

// recordTrail is where a classifier's records lie in the log: every one
// from (at most 2*trailMark records) before FailureWindow records before
// its last known failure point, or all of them when it has none. A failure
// point found by the second pass is at or after the last known one, so
// the rule hits that can be near it (within FailureWindow records) are in
// the trail.
type recordTrail struct {
	spans []logSpan
	marks [2]logSpan // the last two records numbered a multiple of trailMark (end unused)
	last  int64      // line of the newest record: no failure point is later
}

// add notes the classifier's record numbered seq (1-based), of size bytes
// from off, starting on line; evidence: pass one found it a failure point.
func (t *recordTrail) add(b *trailBudget, seq, line, off, size int64, evidence bool) {
	t.last = line
	if b.over {
		return
	}
	if n := len(t.spans); n > 0 && t.spans[n-1].end == off {
		t.spans[n-1].end = off + size // the next record in the log is also ours
	} else {
		t.spans = append(t.spans, logSpan{off, off + size, line, seq})
		b.n++
		if b.n > cmp.Or(b.limit, maxTrailSegments) {
			b.over = true
			return
		}
	}
	if seq%trailMark == 0 {
		t.marks[0], t.marks[1] = t.marks[1], logSpan{off: off, line: line, seq: seq}
	}
	if evidence {
		t.trim(b, seq-FailureWindow)
	}
}

// trim drops the records before the newest mark at or before the record
// numbered from.
func (t *recordTrail) trim(b *trailBudget, from int64) {
	m := t.marks[1]
	if m.seq > from {
		m = t.marks[0] // trailMark before marks[1], so before from
	}
	if m.seq == 0 || len(t.spans) == 0 || t.spans[0].seq >= m.seq {
		return
	}
	i := 0
	for i+1 < len(t.spans) && t.spans[i+1].seq <= m.seq {
		i++
	}
	t.spans[i].off, t.spans[i].line, t.spans[i].seq = m.off, m.line, m.seq
	t.spans = slices.Delete(t.spans, 0, i)
	b.n -= i
}

// ReadLogAt is ReadLog for a log that can also be read at offsets, such as
// a regular file: ra must give the same bytes as r. The result is the same
// as ReadLog's, for less work: the failure rules are matched in the first
// pass only against records of level error and those that may carry an
// error or exit code; then the records of the classifiers whose result
// the analysis uses are read again through ra (from the page cache, for a
// file just read) and matched, from a little before their last failure
// point known from the first pass. Memory stays bounded: the second pass
// streams; the positions kept are bounded (maxTrailSegments), and a log
// that would need more is analysed again in one pass through ra.
func (z *Analyzer) ReadLogAt(r io.Reader, ra io.ReaderAt) (int64, error) {
	if z.a.Bytes > 0 {
		return 0, fmt.Errorf("parser: Analyzer.ReadLogAt on an Analyzer already fed")
	}
	z.deferred = true
	n, err := z.ReadLog(r)
	if z.trails.over {
		blockSize, workers := z.blockSize, z.workers
		z.init(z.rules, z.frules)
		z.blockSize, z.workers = blockSize, workers
		n2, err2 := z.ReadLog(io.NewSectionReader(ra, 0, n))
		if err == nil && err2 == nil && n2 != n {
			err2 = changedError(0, n)
		}
		return n, cmp.Or(err, err2)
	}
	return n, cmp.Or(err, z.resolve(ra))
}

// resolve classifies, with the records read again through ra, what
// blame will use: the failed runs, or, when the build failed and no run
// did, the classifiers that may hold the newest evidence.
func (z *Analyzer) resolve(ra io.ReaderAt) error {
	var failed, all []*classifier
	for _, r := range z.runs {
		if r.cls == nil {
			continue
		}
		all = append(all, r.cls)
		if r.failed { // r.Result will be failure (finishRun)
			failed = append(failed, r.cls)
		}
	}
	if len(failed) > 0 {
		for _, c := range failed {
			if err := z.replay(c, ra); err != nil {
				return err
			}
		}
		return nil
	}
	if metrics.ResultFromStatus(z.a.Build.Status) != metrics.ResultFailure {
		return nil // blame classifies nothing
	}
	// blame picks the classifier whose failure point is newest among those
	// with a rule hit near it: once one is found, classifiers whose last
	// record is before its point cannot win, and their state stays as pass
	// one left it.
	for _, l := range z.loose {
		all = append(all, l.c)
	}
	slices.SortStableFunc(all, func(x, y *classifier) int { return cmp.Compare(y.trail.last, x.trail.last) })
	best := int64(-1)
	for _, c := range all {
		if c.trail.last < best {
			break
		}
		if err := z.replay(c, ra); err != nil {
			return err
		}
		if c.st.PointLine > best && c.ruled() {
			best = c.st.PointLine
		}
	}
	return nil
}

// ruled reports whether Result names a rule: a hit is within FailureWindow
// records of the failure point.
func (c *FailureClassifier) ruled() bool {
	return slices.ContainsFunc(c.st.Hits, func(h FailureHit) bool { return h.Seq >= c.st.Point-FailureWindow })
}

// replay matches the records of c's trail against the failure rules, read
// again through ra, and completes c's state: the failure point and the
// rule hits near it. The error lines, codes and exit codes pass one found
// already (observeDeferred matched every record that may hold one), and
// the records after c.partly it matched against every rule (a run known to
// fail was open): only the trail up to c.partly is read again.
func (z *Analyzer) replay(c *classifier, ra io.ReaderAt) error {
	spans := c.trail.spans
	if len(spans) == 0 || c.partly == 0 || c.partly < c.st.Point-FailureWindow {
		return nil // pass one matched every record from the window on
	}
	re := FailureClassifier{rules: z.frules}
	re.st.Seq = spans[0].seq - 1
	var (
		fcls       classifyScratch
		line, recs int64
		buf        []byte
	)
	emit := func(r *Record) {
		recs++
		o := z.frules.observe(r, &fcls)
		re.apply(&o, line)
		line += r.Newlines()
	}
	applyBlock := func(b *summaryBlock) {
		for i := range b.recs {
			s := &b.recs[i]
			o := &noEvidence
			if s.obs >= 0 {
				o = &b.obs[s.obs]
			}
			recs++
			re.apply(o, line)
			line += s.lines
		}
	}
	for i, sp := range spans {
		if sp.seq > c.partly {
			break
		}
		end, next := sp.end, c.st.Seq+1 // the span's end, the number of the record after it
		if i+1 < len(spans) {
			next = spans[i+1].seq
		}
		if next > c.partly+1 {
			end, next = c.partlyEnd, c.partly+1
		}
		line, recs = sp.line, 0
		sr := io.NewSectionReader(ra, sp.off, end-sp.off)
		var (
			n   int64
			err error
		)
		if end-sp.off >= cmp.Or(z.trails.parallel, parallelSpan) {
			n, err = z.summarizeBlocks(sr, false, applyBlock)
		} else {
			if buf == nil {
				buf = make([]byte, 256<<10)
			}
			s := NewStream(z.rules, emit)
			n, err = io.CopyBuffer(s, sr, buf)
			s.Flush()
		}
		if err != nil {
			return fmt.Errorf("reading the log again at byte %d: %w", sp.off, err)
		}
		if n != end-sp.off || recs != next-sp.seq {
			return changedError(sp.off, end)
		}
	}
	c.merge(&re.st)
	return nil
}

// merge completes c's state with re, the state of its records up to
// c.partly matched against every rule. What a classifier keeps of its
// hits is, in order of Seq, the newest MaxHits of the newest hit of each
// rule within FailureWindow records of the failure point: pass one's
// state gives the hits after c.partly, re those up to it.
func (c *classifier) merge(re *FailureState) {
	st := &c.st
	if st.Point <= c.partly { // no failure point after c.partly
		st.Point, st.PointLine = re.Point, re.PointLine
	}
	after := slices.DeleteFunc(st.Hits, func(h FailureHit) bool { return h.Seq <= c.partly })
	hits := slices.DeleteFunc(re.Hits, func(h FailureHit) bool {
		return h.Seq < st.Point-FailureWindow || slices.ContainsFunc(after, func(a FailureHit) bool { return a.Rule == h.Rule })
	})
	hits = append(hits, after...)
	st.Hits = hits[max(0, len(hits)-maxHits):]
}

func changedError(from, to int64) error {
	return fmt.Errorf("the log changed while it was analysed: bytes %d to %d read again differ", from, to)
}
