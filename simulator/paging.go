package simulator

import (
	"net/http"
	"regexp"
	"strconv"
)

var (
	recordIDPattern = regexp.MustCompile(`^[0-9a-z-]{36}$`)
	digitsPattern   = regexp.MustCompile(`^[0-9]+$`)
)

// Offsets of step logs (ShowActionInfo / ShowConsoleInfo).
//
// A cursor is base + p, where p is a position in the step's log counted in
// characters (Unicode code points) and base is a per-step constant between
// 1,000,000 and 900,000,999. start_offset=0 also means "from the beginning".
// So offsets are neither byte counts nor anything a client can compute from
// the text: the only way forward is the end_offset of the previous answer.
// Pages are cut at character boundaries, so the JSON always carries valid
// UTF-8, and the page that starts at a given position always has the same
// size (a hash of seed, step and position in [ChunkMin, ChunkMax]).

// offsetJSON marshals an offset as a JSON number or as a digit string.
type offsetJSON struct {
	v   int64
	str bool
}

func (o offsetJSON) MarshalJSON() ([]byte, error) {
	b := strconv.AppendInt(nil, o.v, 10)
	if o.str {
		return append(append([]byte{'"'}, b...), '"'), nil
	}
	return b, nil
}

type logResultJSON struct {
	HasMore     bool       `json:"has_more"`
	StartOffset offsetJSON `json:"start_offset"`
	EndOffset   offsetJSON `json:"end_offset"`
	Log         string     `json:"log"`
	Location    string     `json:"location"`
}

// handleActionInfo serves GET /v1/log/task/step: the log of a step of a
// running build. It serves finished steps too (a live console stays
// readable); for a step that is still running, has_more is false once the
// page reaches what has been written so far.
func (s *Server) handleActionInfo(w http.ResponseWriter, r *http.Request, now int64) {
	s.serveLog(w, r, now, true)
}

// handleConsoleInfo serves GET /v1/log/task/page: the log of a finished
// step. For a step that has not finished yet it answers HTTP 200 with
// status "fail" (the archived log does not exist yet): use ShowActionInfo
// while the step runs.
func (s *Server) handleConsoleInfo(w http.ResponseWriter, r *http.Request, now int64) {
	s.serveLog(w, r, now, false)
}

func (s *Server) serveLog(w http.ResponseWriter, r *http.Request, now int64, live bool) {
	q := r.URL.Query()
	j := s.lookupJob(w, q.Get("job_id"))
	if j == nil {
		return
	}
	n, ok := s.parseBuildNo(w, q.Get("build_no"))
	if !ok {
		return
	}
	stepID, err := strconv.ParseInt(q.Get("step_id"), 10, 64)
	if err != nil {
		s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: step_id must be an integer")
		return
	}
	start, ok1 := nonNegative(q.Get("start_offset"))
	end, ok2 := nonNegative(q.Get("end_offset"))
	if !ok1 || !ok2 {
		s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: start_offset and end_offset are required integers >= 0")
		return
	}
	if live && !digitsPattern.MatchString(q.Get("size")) {
		s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: size is required (digits, fixed 1000)")
		return
	}
	switch q.Get("sort") {
	case "", "AES":
	default:
		s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: sort must be AES (DESC is not supported by the simulator)")
		return
	}
	b := s.findBuild(w, j, n, now)
	if b == nil {
		return
	}
	st := b.stagesByNodeID[stepID]
	if st == nil {
		s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: step_id "+strconv.FormatInt(stepID, 10)+" is not a step of this build")
		return
	}
	finished := now >= st.plan.doneAt
	if !live && !finished {
		failEnvelope(w, "the log of step "+strconv.FormatInt(stepID, 10)+" is not archived yet: the step has not finished, use /v1/log/task/step")
		return
	}

	lg := st.log
	visible := lg.visible(now)
	v := int64(lg.runesOf(visible)) // characters visible now

	var p int64 // requested position
	switch {
	case start == 0:
		p = 0
	case start >= st.base && start-st.base <= v:
		p = start - st.base
	default:
		s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: start_offset "+strconv.FormatInt(start, 10)+" is not a cursor of this step (use the end_offset of the previous answer)")
		return
	}
	limit := v
	if end != 0 {
		if end < st.base {
			s.cbError(w, http.StatusBadRequest, "CB.00060200", "Invalid param: end_offset "+strconv.FormatInt(end, 10)+" is not a cursor of this step")
			return
		}
		limit = min(limit, max(end-st.base, p))
	}

	key := uint64(stepID) ^ uint64(n)<<20
	res := logResultJSON{Location: s.opts.Location}
	res.StartOffset = offsetJSON{v: start}
	str := mix(s.seed, j.idHash, key, uint64(p), saltFormat)&1 == 1
	res.StartOffset.str, res.EndOffset.str = str, str

	if p < limit && s.opts.EmptyPageRate > 0 && st.emptyAt.Load() != p+1 &&
		unit(mix(s.seed, j.idHash, key, uint64(p), saltEmpty)) < s.opts.EmptyPageRate {
		// "may be empty — simply ask again": an empty page that does not
		// advance; the same cursor is answered with text next time.
		st.emptyAt.Store(p + 1)
		res.HasMore = true
		res.EndOffset.v = start
		success(w, res)
		return
	}
	q2 := limit
	if s.opts.Hostile == HostileOversize && p > 0 && end == 0 {
		q2 = limit // the whole rest in one page
	} else if p < limit {
		span := int64(s.opts.ChunkMax - s.opts.ChunkMin + 1)
		size := int64(s.opts.ChunkMin) + int64(mix(s.seed, j.idHash, key, uint64(p), saltChunk)%uint64(span))
		q2 = min(p+size, limit)
	}
	res.Log = lg.text[lg.byteOfRune(int(p)):lg.byteOfRune(int(q2))]
	res.HasMore = q2 < v
	res.EndOffset.v = st.base + q2
	if p > 0 && p < v {
		switch s.opts.Hostile {
		case HostileBackwards:
			res.EndOffset.v, res.HasMore = st.base, true
		case HostileStuck:
			res.EndOffset.v, res.HasMore = start, true
		case HostileEmpty:
			res.Log, res.EndOffset.v, res.HasMore = "", start, true
		}
	}
	success(w, res)
}

// nonNegative parses a required integer >= 0.
func nonNegative(v string) (int64, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0
}
