package collector

import (
	"context"
	"fmt"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
)

// Validation of step log pages (docs/collector.md, "Pages that do not move
// forward"). The collector counts a page only when it moves the step's
// cursor forward: a page whose end_offset is below the cursor, or equal to
// it while carrying text, would count text that was already counted. Such a
// page, and an empty page with has_more=true ("ask again"), ends the step's
// reading for this poll; a step that makes no progress in BuildGiveUpAfter
// consecutive polls is given up: what was read of it stays counted, its
// trailing partial record is counted as complete, no action duration is
// observed, and the build can finish without it.

// Why a step did not move forward: the reason label of
// codearts_exporter_log_pages_rejected_total and
// codearts_exporter_log_steps_given_up_total.
const (
	stallBackwards    = "backwards"     // end_offset below the cursor
	stallNotAdvancing = "not_advancing" // text, but end_offset equal to the cursor
	stallEmpty        = "empty"         // no text, has_more, end_offset equal to the cursor
	stallTooLarge     = "too_large"     // over the body limit, even with a bounded end_offset
)

// emptyWarnAfter: empty pages are normal now and then ("may be empty —
// simply ask again", docs/api-reference.md §3.1); a step answering only empty pages this many polls in
// a row is worth a warning.
const emptyWarnAfter = 3

// boundedPageSpan is the end_offset distance asked for after an answer over
// the body limit: a million offset units (characters in the simulator; the
// real unit is not documented) is far below 64 MiB of text whatever the unit
// is, unless it is lines.
const boundedPageSpan = 1 << 20

type pageVerdict int

const (
	pageIngest        pageVerdict = iota // count it and move the cursor
	pageRetryNextPoll                    // count nothing; ask again next poll
	pageGiveUp                           // count nothing; give the step up
)

// tooLargeError: a step's page was over the body limit and the bounded
// retry did not succeed either. The step is given up.
type tooLargeError struct{ err error }

func (e *tooLargeError) Error() string { return e.err.Error() }
func (e *tooLargeError) Unwrap() error { return e.err }

// fetchPage asks for one page of sp's log. A finished step that
// ShowConsoleInfo refuses is asked from ShowActionInfo, which serves the
// same log with the same cursors (docs/api-reference.md §3.2, §12 Q11). An answer over
// the body limit is asked again once with a bounded end_offset, and every
// later page of the step is bounded too; if that fails the error is a
// *tooLargeError.
func (p *jobPoll) fetchPage(ctx context.Context, sp *stageProgress, running bool, q logQuery) (*logPage, error) {
	if sp.Bounded {
		q.EndOffset = q.StartOffset + boundedPageSpan
	}
	page, err := p.cfg.api.stepLog(ctx, running, q)
	if err != nil && codearts.IsResponseTooLarge(err) {
		if sp.Bounded {
			return nil, &tooLargeError{err}
		}
		sp.Bounded = true
		p.dirty = true
		q.EndOffset = q.StartOffset + boundedPageSpan
		page, err = p.cfg.api.stepLog(ctx, running, q)
		if err != nil {
			return nil, &tooLargeError{fmt.Errorf("%w; asked again with end_offset %d: %w", codearts.ErrResponseTooLarge, q.EndOffset, err)}
		}
		return page, nil
	}
	if err != nil && !running && p.cfg.api.refused(err) {
		if alt, aerr := p.cfg.api.stepLog(ctx, true, q); aerr == nil {
			return alt, nil
		}
	}
	return page, err
}

// checkPage validates page against sp's cursor before anything of it is
// counted, and keeps the step's stall bookkeeping: metrics, one log line
// per change, and the decision to give up.
func (p *jobPoll) checkPage(b *buildProgress, sp *stageProgress, page *logPage) pageVerdict {
	var reason string
	switch {
	case page.EndOffset < sp.Cursor:
		reason = stallBackwards
	case page.EndOffset == sp.Cursor && len(page.Log) > 0:
		reason = stallNotAdvancing
	case page.EndOffset == sp.Cursor && page.HasMore:
		reason = stallEmpty
	}
	if reason == "" {
		if sp.Stalls > 0 && (page.EndOffset > sp.Cursor || !page.HasMore) {
			if warned(sp) {
				p.c.logger.Info("step log moves forward again", "job", p.job.Name, "build", b.Number,
					"step", sp.NodeID, "action", sp.Display, "after_polls", sp.Stalls)
			}
			sp.Stalls, sp.StallReason = 0, ""
			p.dirty = true
		}
		return pageIngest
	}
	if reason == stallEmpty {
		p.c.self.emptyPages.WithLabelValues(p.job.Name).Inc()
	} else {
		p.c.self.pagesRejected.WithLabelValues(p.job.Name, reason).Inc()
	}
	changed := reason != sp.StallReason
	if changed {
		sp.Stalls = 0
	}
	sp.Stalls++
	sp.StallReason = reason
	p.dirty = true
	if sp.Stalls >= p.cfg.giveUpAfter {
		return pageGiveUp
	}
	if changed && reason != stallEmpty || reason == stallEmpty && sp.Stalls == emptyWarnAfter {
		p.c.logger.Warn("step log page does not move the cursor forward; nothing of it is counted, asking again next poll (logged again only when this changes)",
			"job", p.job.Name, "build", b.Number, "step", sp.NodeID, "action", sp.Display, "reason", reason,
			"cursor", sp.Cursor, "end_offset", page.EndOffset, "has_more", page.HasMore, "bytes", len(page.Log),
			"give_up_after_polls", p.cfg.giveUpAfter)
	}
	return pageRetryNextPoll
}

// warned reports whether checkPage logged the current stall.
func warned(sp *stageProgress) bool {
	return sp.StallReason != stallEmpty || sp.Stalls >= emptyWarnAfter
}

// giveUpStage ends a step whose log cannot be read further: what was read
// stays counted, the carried partial record is counted as complete, no
// action duration is observed (the log was not read to its end).
func (p *jobPoll) giveUpStage(ls *liveStream, b *buildProgress, reason string, err error) {
	sp := ls.sp
	args := []any{"job", p.job.Name, "build", b.Number, "step", sp.NodeID, "action", sp.Display,
		"reason", reason, "cursor", sp.Cursor}
	if err != nil {
		args = append(args, "err", err)
	} else {
		args = append(args, "polls", sp.Stalls)
	}
	p.c.logger.Warn("giving up on a step log that cannot be read further; what was read stays counted", args...)
	p.c.self.stepsGivenUp.WithLabelValues(p.job.Name, reason).Inc()
	sp.Stalls, sp.StallReason = 0, reason
	p.finishStage(b, ls, false)
}
