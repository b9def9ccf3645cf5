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
	// ends. The sum of len(Raw) over a log equals the input length.
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
