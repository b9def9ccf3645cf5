// Package parser turns CodeArts Build log text into records exactly as
// docs/parser.md fixes them: a record starts at a CodeArts timestamp
// prefix (at a line start or glued mid-line), physical lines without a
// prefix continue the previous record, and text before the first prefix of
// a log is one record of its own. Platform records carry the level and tag
// written by CodeArts; the level of tool output comes from ordered,
// configurable severity rules (see docs/severity-rules.md).
//
// The Stream type is the streaming entry point: feed it chunks split
// anywhere and it emits each record once it is complete. Whole-log analysis
// (action runs, build result) is done by Analyzer.
package parser

import "bytes"

// Level is the severity of a record. Levels are small integers 0..NumLevels-1
// so they can index arrays.
type Level uint8

// The four levels of README.md, Metrics, most severe first.
const (
	LevelError Level = iota
	LevelWarning
	LevelInfo
	LevelDebug
)

// NumLevels is the number of distinct levels.
const NumLevels = 4

var levelNames = [NumLevels]string{"error", "warning", "info", "debug"}

// String returns the label value: "error", "warning", "info" or "debug".
func (l Level) String() string {
	if int(l) < NumLevels {
		return levelNames[l]
	}
	return "info"
}

// ParseLevel maps a label value ("error", "warning", "info", "debug", any
// case) to a Level.
func ParseLevel(s string) (Level, bool) {
	for i, n := range levelNames {
		if equalFoldASCII(s, n) {
			return Level(i), true
		}
	}
	return LevelInfo, false
}

// Source says who wrote a record: the CodeArts platform (a " [LEVEL] [TAG] : "
// header after the prefix) or the build's own output (everything else).
type Source uint8

// The two sources of README.md, Metrics.
const (
	SourcePlatform Source = iota
	SourceOutput
)

// NumSources is the number of distinct sources.
const NumSources = 2

// String returns the label value: "platform" or "output".
func (s Source) String() string {
	if s == SourcePlatform {
		return "platform"
	}
	return "output"
}

// Record is one log record (docs/parser.md).
//
// All slices alias the stream's buffer: they are valid only during the emit
// callback. Copy what you keep.
type Record struct {
	// Raw is the whole record: prefix, text, continuation lines and line
	// ends. The sum of len(Raw)+Cut.Bytes over a log equals the input
	// length.
	Raw []byte
	// HasTime is false only for text before the first prefix of a log.
	HasTime bool
	// UnixMilli is the prefix timestamp in epoch milliseconds (UTC), from
	// either prefix form and any GMT±HH:MM offset. 0 when !HasTime.
	UnixMilli int64
	Source    Source
	Level     Level
	// Tag is the whole TAG of a platform record ("代码检出:external_pre_checkout");
	// empty for job-level platform lines and for output records.
	Tag []byte
	// Action is the display name of a platform record's TAG: up to its last
	// ':', else up to its first '#', else the whole TAG.
	Action []byte
	// ActionID is the part of the TAG after the last ':' (or after the first
	// '#'); empty when the TAG has neither.
	ActionID []byte
	// Message is the text after the prefix, and for platform records after
	// " [LEVEL] [TAG] : ", including continuation lines and the line end.
	Message []byte
	// Cut is what Raw does not hold of a record longer than
	// MaxCarriedBytes (Raw keeps its first MaxCarriedBytes); zero for every
	// other record.
	Cut RecordCut
	// failure is what the failure rules matched in Message, when the
	// stream matched them in the scan of the severity rules
	// (Stream.MatchFailureRules); a FailureClassifier with those rules
	// takes it instead of matching again.
	failure failureMatch
}

// failureMatch is the first failure rule of rules that matched a record's
// message (-1: none); rules is nil when the message was not matched.
type failureMatch struct {
	rules *FailureRules
	rule  int
}

// RecordCut describes the bytes of a record that were not kept.
type RecordCut struct {
	Bytes    int64 // how many
	Newlines int64 // the '\n' among them
	Last     byte  // the last of them, which is the record's last byte (when Bytes > 0)
}

// Newlines returns the number of '\n' in the whole record, Cut included:
// the physical lines it ends.
func (r *Record) Newlines() int64 {
	return int64(bytes.Count(r.Raw, []byte{'\n'})) + r.Cut.Newlines
}

// LastByte returns the record's last byte, Cut included; false for an empty
// record.
func (r *Record) LastByte() (byte, bool) {
	switch {
	case r.Cut.Bytes > 0:
		return r.Cut.Last, true
	case len(r.Raw) > 0:
		return r.Raw[len(r.Raw)-1], true
	}
	return 0, false
}

// cutOf is the RecordCut of the bytes b of a record beyond what is kept.
func cutOf(b []byte) RecordCut {
	if len(b) == 0 {
		return RecordCut{}
	}
	return RecordCut{Bytes: int64(len(b)), Newlines: int64(bytes.Count(b, []byte{'\n'})), Last: b[len(b)-1]}
}

// add returns c followed by d.
func (c RecordCut) add(d RecordCut) RecordCut {
	if d.Bytes == 0 {
		return c
	}
	return RecordCut{Bytes: c.Bytes + d.Bytes, Newlines: c.Newlines + d.Newlines, Last: d.Last}
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
