package parser

import (
	"bytes"
	"math/bits"
	"unicode/utf8"
)

// StreamState is what a Stream carries between writes. It is a deep copy,
// JSON-serialisable (Pending is base64 in JSON, so any bytes survive), so a
// process can store it and another one can continue with Restore and emit
// exactly the records an uninterrupted stream would have emitted.
type StreamState struct {
	// Pending holds the bytes of the current record that is not complete
	// yet: from its prefix (or from the start of the log) to the end of the
	// text written so far. Empty at the start of a log and after Flush.
	Pending []byte `json:"pending,omitempty"`
	// Offset is the number of bytes written to the stream so far, emitted
	// or pending. It is informational; records do not depend on it.
	Offset int64 `json:"offset"`
	// Dropped is the number of bytes of the current record that were not
	// kept: a record longer than MaxCarriedBytes keeps only its first
	// MaxCarriedBytes (and the few bytes at its end where the next prefix
	// may begin). DroppedNewlines counts the '\n' among them and
	// DroppedLast is the last of them, for the record's Cut.
	Dropped         int64 `json:"dropped,omitempty"`
	DroppedNewlines int64 `json:"dropped_newlines,omitempty"`
	DroppedLast     byte  `json:"dropped_last,omitempty"`
}

// MaxCarriedBytes bounds the part of one record a Stream keeps: a record
// (a line without newline or prefix, say) longer than this is still one
// record, but it is classified, and Record.Raw and Message hold, its first
// MaxCarriedBytes only (cut back to a UTF-8 character boundary). So a Stream
// carries at most MaxCarriedBytes plus a prefix's length between writes,
// whatever the input.
const MaxCarriedBytes = 64 << 10

// Stream splits one log into records (docs/parser.md) and emits each record
// once it is complete: when the next prefix has arrived, or at Flush. Feed it
// chunks split anywhere (inside a prefix, inside a UTF-8 character, between
// \r and \n): the records are the same as for the whole text at once.
//
// A Stream is not safe for concurrent use. Steady state does not allocate:
// records fully inside a written chunk alias the chunk, and only the record
// cut by a chunk boundary is copied into the stream's own buffer.
type Stream struct {
	rules   *Rules
	emit    func(*Record)
	pending []byte // current incomplete record; empty only at log start
	// recheck is the first position in pending where a prefix may begin but
	// was cut off by the end of the written text (len(pending) if none).
	// Position 0 never counts: the current record starts there.
	recheck int
	offset  int64
	dropped RecordCut // bytes of the current record cut out of pending
	strBuf  []byte
	tmp     [2 * maxPrefixLen]byte
	rec     Record
	cls     classifyScratch
	dc      dateCache
}

// NewStream returns a Stream that classifies tool output with rules (nil
// means DefaultRules()) and calls emit for every complete record. The Record
// passed to emit and all its slices are only valid during the call; emit must
// not write to the Stream.
func NewStream(rules *Rules, emit func(*Record)) *Stream {
	if rules == nil {
		rules = DefaultRules()
	}
	if emit == nil {
		emit = func(*Record) {}
	}
	return &Stream{rules: rules, emit: emit}
}

// MatchFailureRules makes the stream match the message of every output
// record it emits from now on against f in the same scan as the severity
// rules, so that a FailureClassifier using f takes the result instead of
// scanning the message a second time. nil stops it. The records are the
// same either way; only the work moves.
func (s *Stream) MatchFailureRules(f *FailureRules) {
	if f == nil {
		s.cls.shared = nil
		return
	}
	s.cls.shared = f.sharedWith(s.rules)
}

// Write feeds the next chunk of the log and emits every record it completes.
// It never returns an error.
func (s *Stream) Write(p []byte) (int, error) {
	s.write(p)
	return len(p), nil
}

// WriteString is Write for a string. The text is copied into a buffer the
// stream reuses, so records never alias the caller's string.
func (s *Stream) WriteString(p string) (int, error) {
	s.strBuf = append(s.strBuf[:0], p...)
	s.write(s.strBuf)
	if cap(s.strBuf) > 4<<20 {
		s.strBuf = nil
	}
	return len(p), nil
}

// Flush declares the log finished: the carried record, if any, is complete
// and is emitted. The stream is then at the start of a new log.
func (s *Stream) Flush() {
	if len(s.pending) > 0 {
		s.emitRecord(s.pending)
	}
	s.resetPending()
}

// State returns a deep copy of what the stream carries.
func (s *Stream) State() StreamState {
	st := StreamState{Offset: s.offset, Dropped: s.dropped.Bytes, DroppedNewlines: s.dropped.Newlines, DroppedLast: s.dropped.Last}
	if len(s.pending) > 0 {
		st.Pending = bytes.Clone(s.pending)
	}
	return st
}

// Restore makes the stream continue exactly where st was taken (by this or
// another process). A StreamState that State did not produce cannot make the
// stream panic, but prefixes inside its Pending (which State never leaves
// there) stay part of the carried record.
func (s *Stream) Restore(st StreamState) {
	s.pending = append(s.pending[:0], st.Pending...)
	s.offset = st.Offset
	s.dropped = RecordCut{}
	if st.Dropped > 0 {
		s.dropped = RecordCut{Bytes: st.Dropped, Newlines: max(st.DroppedNewlines, 0), Last: st.DroppedLast}
	}
	s.recheck = len(s.pending)
	for from := 1; from < len(s.pending); {
		idx, n, _, partial := nextPrefix(s.pending, from, &s.dc)
		if idx < 0 {
			s.recheck = partial
			break
		}
		from = idx + n
	}
}

func (s *Stream) resetPending() {
	if cap(s.pending) > 1<<20 {
		s.pending = nil
	}
	s.pending = s.pending[:0]
	s.recheck = 0
	s.dropped = RecordCut{}
}

// capPending keeps the carried record within MaxCarriedBytes: its head, and
// from recheck on the bytes where a prefix cut off by the end of the
// written text may begin.
func (s *Stream) capPending() {
	if len(s.pending) <= MaxCarriedBytes || s.recheck < MaxCarriedBytes {
		return // the tail after recheck is shorter than a prefix
	}
	s.dropped = s.dropped.add(cutOf(s.pending[MaxCarriedBytes:s.recheck]))
	n := copy(s.pending[MaxCarriedBytes:], s.pending[s.recheck:])
	s.pending = s.pending[:MaxCarriedBytes+n]
	s.recheck = MaxCarriedBytes
	if cap(s.pending) > 4*MaxCarriedBytes {
		s.pending = bytes.Clone(s.pending) // let a big chunk's copy go
	}
}

// clip is the part of a record that is kept: all of it, or, for a record
// longer than MaxCarriedBytes (truncated: its middle was already dropped),
// its first MaxCarriedBytes without a character cut at the end. It looks
// only at those first bytes, so the result does not depend on how the text
// was split into writes.
func clip(raw []byte, truncated bool) []byte {
	if len(raw) <= MaxCarriedBytes && !truncated {
		return raw
	}
	raw = raw[:min(len(raw), MaxCarriedBytes)]
	i := len(raw) - 1
	for i > 0 && i > len(raw)-utf8.UTFMax && !utf8.RuneStart(raw[i]) {
		i--
	}
	if i >= 0 && !utf8.FullRune(raw[i:]) {
		raw = raw[:i]
	}
	return raw
}

// nextPrefix returns the index of the first complete prefix in b at or after
// from, its length and its time. If there is none it returns idx -1 and, as
// partial, the first index at which b ends inside text that may still become
// a prefix (len(b) if there is no such place).
//
// It scans for the 'G' of " GMT", which sits at a fixed distance from the
// '[' in both forms (25, 26 or 27 bytes) and is much rarer in logs than
// '[': one IndexByte call per record instead of one per bracket.
func nextPrefix(b []byte, from int, dc *dateCache) (idx, n int, ms int64, partial int) {
	for pos := from; pos < len(b); {
		i := bytes.IndexByte(b[pos:], 'G')
		if i < 0 {
			break
		}
		g := pos + i
		pos = g + 1
		if g+1 >= len(b) || b[g+1] != 'M' {
			continue
		}
		for _, k := range [3]int{25, 27, 26} {
			st := g - k
			if st < from || b[st] != '[' {
				continue
			}
			if r, pn, t := dc.match(b[st:]); r == prefixYes {
				return st, pn, t, len(b)
			}
		}
	}
	// A prefix cut off by the end of b may lack its 'G': look at the tail.
	tail := max(from, len(b)-maxPrefixLen+1)
	for tail < len(b) {
		i := bytes.IndexByte(b[tail:], '[')
		if i < 0 {
			break
		}
		if r, _, _ := matchPrefix(b[tail+i:]); r == prefixShort {
			return -1, 0, 0, tail + i
		}
		tail += i + 1
	}
	return -1, 0, 0, len(b)
}

func (s *Stream) write(p []byte) {
	if len(p) == 0 {
		return
	}
	s.offset += int64(len(p))
	pos := 0
	curN, curMS := 0, int64(0)
	if len(s.pending) > 0 {
		oldLen := len(s.pending)
		start := max(s.recheck, 1)
		if oldLen-start >= maxPrefixLen { // cannot happen for a State we produced
			start = oldLen - maxPrefixLen + 1
		}
		if start < oldLen {
			// A prefix may straddle the chunk boundary: look at the cut-off
			// candidate together with the head of p.
			tmp := append(s.tmp[:0], s.pending[start:]...)
			tmp = append(tmp, p[:min(len(p), maxPrefixLen)]...)
			inPending := oldLen - start
			idx, _, _, partial := nextPrefix(tmp, 0, &s.dc)
			switch {
			case idx >= 0 && idx < inPending:
				b := start + idx
				s.emitRecord(s.pending[:b])
				s.pending = s.pending[:copy(s.pending, s.pending[b:oldLen])]
				s.dropped = RecordCut{}
				// The new record's prefix ends inside p; p holds no '[' of it.
			case idx < 0 && partial < inPending:
				// p is too short to decide; keep waiting.
				s.pending = append(s.pending, p...)
				s.recheck = start + partial
				s.capPending()
				return
			}
		}
		idx, n, ms, partial := nextPrefix(p, 0, &s.dc)
		if idx < 0 {
			base := len(s.pending)
			s.pending = append(s.pending, p...)
			s.recheck = base + partial
			s.capPending()
			return
		}
		s.pending = append(s.pending, p[:idx]...)
		s.emitRecord(s.pending)
		s.resetPending()
		pos, curN, curMS = idx, n, ms
	}
	// p[pos:] starts a record: at a prefix (of length curN, time curMS, if
	// curN > 0), or at the start of the log.
	start := pos
	from := pos + max(curN, 1)
	for {
		idx, n, ms, partial := nextPrefix(p, from, &s.dc)
		if idx < 0 {
			s.pending = append(s.pending[:0], p[start:]...)
			s.recheck = partial - start
			s.capPending()
			return
		}
		if curN > 0 {
			kept := start + len(clip(p[start:idx], false))
			parseAfterPrefix(s.rules, p, start, kept, curN, curMS, &s.rec, &s.cls)
			s.rec.Cut = cutOf(p[kept:idx])
			s.emit(&s.rec)
		} else {
			s.emitRecord(p[start:idx])
		}
		start, from, curN, curMS = idx, idx+n, n, ms
	}
}

// emitRecord emits raw, the carried record or a record of the written
// text: with s.dropped, the bytes its middle lost.
func (s *Stream) emitRecord(raw []byte) {
	kept := clip(raw, s.dropped.Bytes > 0)
	parseRecord(s.rules, kept, &s.rec, &s.cls)
	if s.dropped.Bytes == 0 {
		s.rec.Cut = cutOf(raw[len(kept):])
	} else {
		// raw is the record's first MaxCarriedBytes, then what followed
		// the dropped middle (capPending).
		mid := min(len(raw), MaxCarriedBytes)
		s.rec.Cut = cutOf(raw[len(kept):mid]).add(s.dropped).add(cutOf(raw[mid:]))
	}
	s.emit(&s.rec)
}

// ParseRecord fills r from raw, which must be exactly one whole record (as
// Stream emits them). It is exported for tests and tools that already hold
// split records; r's slices alias raw.
func ParseRecord(rules *Rules, raw []byte, r *Record) {
	if rules == nil {
		rules = DefaultRules()
	}
	var cls classifyScratch
	parseRecord(rules, raw, r, &cls)
}

func parseRecord(rules *Rules, raw []byte, r *Record, cls *classifyScratch) {
	*r = Record{Raw: raw, Source: SourceOutput, Level: LevelInfo}
	res, n, ms := prefixNo, 0, int64(0)
	if len(raw) > 0 && raw[0] == '[' {
		res, n, ms = matchPrefix(raw)
	}
	if res != prefixYes {
		// Text before the first prefix of a log: level info, source output.
		r.Message = trimEOL(raw)
		return
	}
	parseAfterPrefix(rules, raw, 0, len(raw), n, ms, r, cls)
}

// parseAfterPrefix fills r from the record buf[start:end], which starts
// with a prefix of length n and time ms.
func parseAfterPrefix(rules *Rules, buf []byte, start, end, n int, ms int64, r *Record, cls *classifyScratch) {
	raw := buf[start:end]
	// Field by field: a composite literal would clear the whole struct
	// first, which showed up at 15% of the parse time.
	r.Raw, r.HasTime, r.UnixMilli, r.Cut = raw, true, ms, RecordCut{}
	rest := raw[n:]
	if m, lvl, tag, cut, ok := platformHeader(rest); ok {
		r.Source, r.Level = SourcePlatform, lvl
		if len(tag) > 0 {
			r.Tag = tag
			r.Action, r.ActionID = splitTagAt(tag, cut)
		} else {
			r.Tag, r.Action, r.ActionID = nil, nil, nil
		}
		r.Message = trimEOL(rest[m:])
		r.failure.rules = nil
		return
	}
	r.Source, r.Tag, r.Action, r.ActionID = SourceOutput, nil, nil, nil
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	r.Message = trimEOL(rest)
	if sh := cls.shared; sh != nil {
		r.Level, r.failure = sh.match(r.Message, cls)
		return
	}
	r.Level = rules.classify(r.Message, cls)
	r.failure.rules = nil
}

// splitTag returns the DISPLAY and the action id of a TAG (docs/parser.md):
// up to the last ':', else up to the first '#', else the whole TAG. A DISPLAY
// that would be empty (TAG ":x") is the whole TAG, so it is never empty.
func splitTag(tag []byte) (display, id []byte) {
	// One loop instead of LastIndexByte+IndexByte calls: tags are short.
	colon, hash := -1, -1
	for i, c := range tag {
		switch c {
		case ':':
			colon = i
		case '#':
			if hash < 0 {
				hash = i
			}
		}
	}
	if colon < 0 {
		colon = hash
	}
	return splitTagAt(tag, colon)
}

// splitTagAt splits tag at cut, the position of its last ':' or, if it has
// none, of its first '#' (-1: neither), as splitTag does.
func splitTagAt(tag []byte, cut int) (display, id []byte) {
	if cut < 0 {
		return tag, nil
	}
	display, id = tag[:cut], tag[cut+1:]
	if len(display) == 0 {
		display = tag
	}
	return display, id
}

const (
	maxLevelLen = 16
	maxTagLen   = 512
)

// tagScan finds the bytes that matter in a TAG: the closing ']', a line
// end (no TAG spans lines) and ':' (where DISPLAY and id are cut). Tags are
// 20-50 bytes, mostly UTF-8; one SIMD pass beats a byte loop.
var tagScan = newAnchorScanner([]byte("]:\n\r"))

// platformHeader recognises " [LEVEL] [TAG] : ", " [LEVEL]  : " and
// " [LEVEL] : " at the start of b (the text right after the prefix). The
// colon may also end the line or the record. It returns where the message
// starts and, for splitTagAt, where the TAG is cut into DISPLAY and id (its
// last ':', else its first '#', else -1), found in the same pass over the
// TAG.
func platformHeader(b []byte) (msg int, lvl Level, tag []byte, cut int, ok bool) {
	if len(b) < 5 || b[0] != ' ' || b[1] != '[' {
		return 0, 0, nil, -1, false
	}
	j := 2
	for j < len(b) && j < 2+maxLevelLen && asciiLetter[b[j]] {
		j++
	}
	if j == 2 || j >= len(b) || b[j] != ']' {
		return 0, 0, nil, -1, false
	}
	k := j + 1
	if m, ok := colonSep(b, k); ok {
		return m, platformLevel(b[2:j]), nil, -1, true
	}
	if k+1 >= len(b) || b[k] != ' ' || b[k+1] != '[' {
		return 0, 0, nil, -1, false
	}
	t0 := k + 2
	lim := min(len(b), t0+maxTagLen+1)
	colon := -1
	for base := t0; base < lim; base += 64 {
		for mask := tagScan.mask64(b[base:lim]); mask != 0; mask &= mask - 1 {
			e := base + bits.TrailingZeros64(mask)
			switch b[e] {
			case ']':
				m, ok := colonSep(b, e+1)
				if !ok {
					continue // a ']' inside the TAG
				}
				tag = b[t0:e]
				if colon >= 0 {
					cut = colon - t0
				} else {
					cut = bytes.IndexByte(tag, '#') // -1 if none
				}
				return m, platformLevel(b[2:j]), tag, cut, true
			case ':':
				colon = e // the last ':' inside the TAG so far
			default: // '\n', '\r'
				return 0, 0, nil, -1, false
			}
		}
	}
	return 0, 0, nil, -1, false
}

// colonSep matches " :" or "  :" at b[k:] followed by a space (consumed),
// a line end or the end of b.
func colonSep(b []byte, k int) (int, bool) {
	if k >= len(b) || b[k] != ' ' {
		return 0, false
	}
	k++
	if k < len(b) && b[k] == ' ' {
		k++
	}
	if k >= len(b) || b[k] != ':' {
		return 0, false
	}
	k++
	if k == len(b) {
		return k, true
	}
	switch b[k] {
	case ' ':
		return k + 1, true
	case '\n', '\r':
		return k, true
	}
	return 0, false
}

var asciiLetter = func() (t [256]bool) {
	for c := range t {
		t[c] = isASCIILetter(byte(c))
	}
	return t
}()

func isASCIILetter(c byte) bool { return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' }

// platformLevel maps a platform LEVEL (any case) per docs/parser.md.
func platformLevel(tok []byte) Level {
	var u [maxLevelLen]byte
	for i, c := range tok {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		u[i] = c
	}
	switch string(u[:len(tok)]) {
	case "ERROR", "FATAL":
		return LevelError
	case "WARNING", "WARN":
		return LevelWarning
	case "DEBUG", "TRACE", "INTERNAL":
		return LevelDebug
	}
	return LevelInfo
}

// trimEOL removes one trailing "\n", "\r\n" or "\r".
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// splitAll summarises into sum the records of p, a whole log or a part of
// one that starts where a record starts (at the log's start or at a
// prefix), exactly as Write(p) and Flush on a new Stream would emit them,
// but with every record aliasing p: the records of a part are those the
// whole log has there (prefixes are recognised from their own bytes), so
// parts can be split concurrently. With marks of p (m, non-nil), the
// prefixes are found through them.
func (s *Stream) splitAll(p []byte, m *blockMarks, sum *summaryBlock, frules *FailureRules, fcls *classifyScratch) {
	start, from, curN, curMS := 0, 1, 0, int64(0)
	for start < len(p) {
		var end, n int
		var ms int64
		if m != nil {
			end, n, ms = m.nextPrefix(from, &s.dc)
		} else {
			end, n, ms, _ = nextPrefix(p, from, &s.dc)
		}
		next := end
		if end < 0 {
			end = len(p)
		}
		raw := p[start:end]
		if len(raw) > MaxCarriedBytes {
			raw = clip(raw, false)
		}
		if curN > 0 {
			parseAfterPrefix(s.rules, p, start, start+len(raw), curN, curMS, &s.rec, &s.cls)
		} else {
			parseRecord(s.rules, raw, &s.rec, &s.cls)
		}
		if start+len(raw) < end { // both leave Cut empty
			s.rec.Cut = cutOf(p[start+len(raw) : end])
		}
		sum.summarize(&s.rec, frules, fcls)
		if next < 0 {
			return
		}
		start, from, curN, curMS = next, next+n, n, ms
	}
}
