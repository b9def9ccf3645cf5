package parser

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Failure insight: which category of failure a failed action run had, and
// the records that show it (docs/failure-rules.md).

// The failure categories, in the order docs/failure-rules.md lists them.
const (
	CategoryCompile     = "compile"
	CategoryTest        = "test"
	CategoryDependency  = "dependency"
	CategoryDocker      = "docker"
	CategoryTimeout     = "timeout"
	CategoryOOM         = "oom"
	CategoryPermission  = "permission"
	CategoryNetwork     = "network"
	CategoryDisk        = "disk"
	CategoryEnvironment = "environment"
	CategoryScript      = "script"
	CategoryUnknown     = "unknown"
)

// Categories lists every failure category label value.
var Categories = []string{
	CategoryCompile, CategoryTest, CategoryDependency, CategoryDocker, CategoryTimeout, CategoryOOM,
	CategoryPermission, CategoryNetwork, CategoryDisk, CategoryEnvironment, CategoryScript, CategoryUnknown,
}

// Limits of a classifier's state and of its result.
const (
	// FailureWindow is how many records before the failure point (the
	// newest record of level error or matching a failure rule) evidence
	// may lie: older hits are noise from earlier in the run.
	FailureWindow = 50
	// MaxEvidence bounds Failure.Evidence.
	MaxEvidence = 8
	// MaxEvidenceText bounds the text of one evidence line, in bytes.
	MaxEvidenceText = MaxRefMessage
	maxHits         = 24 // hits kept in the window (one per rule)
	maxErrorLines   = 4  // newest error records kept for evidence
)

// FailureRuleConfig is one failure rule, YAML-embeddable: the exporter
// config holds an ordered list (failure_rules), analyze reads one with
// --failure-rules.file. Exactly one of Match and Regex is set; they are
// tested against a record's Message like the severity rules.
type FailureRuleConfig struct {
	Name     string `yaml:"name" json:"name"`
	Match    string `yaml:"match,omitempty" json:"match,omitempty"` // case-sensitive substring
	Regex    string `yaml:"regex,omitempty" json:"regex,omitempty"` // RE2; ^ and $ are message start/end unless (?m)
	Category string `yaml:"category" json:"category"`               // one of Categories
	Cause    string `yaml:"cause" json:"cause"`                     // short, for people
	// Generic rules (a non-zero exit code, a build tool's verdict) decide
	// only when no other rule matched near the failure.
	Generic bool `yaml:"generic,omitempty" json:"generic,omitempty"`
}

// FailureRules is a compiled, ordered list of failure rules. It is
// immutable and safe for concurrent use.
type FailureRules struct {
	m      *Rules // the matching engine of the severity rules; rule i is cfg[i]
	cfg    []FailureRuleConfig
	byName map[string]int
	// shared is the engine of these rules and the severity rules a stream
	// uses, built on first use (sharedWith); one is kept, as a process
	// uses one set of severity rules.
	shared atomic.Pointer[sharedRules]
}

// sharedRules match a message against severity rules and failure rules in
// one scan (Stream.MatchFailureRules): the rules of both compiled into one
// engine, the severity rules first, whose match does not stop at the first
// hit (Rules.matchSets).
type sharedRules struct {
	sev  *Rules
	fail *FailureRules
	m    *Rules
}

// sharedWith returns the shared rules of sev and f.
func (f *FailureRules) sharedWith(sev *Rules) *sharedRules {
	if sh := f.shared.Load(); sh != nil && sh.sev == sev {
		return sh
	}
	m := &Rules{rules: slices.Concat(sev.rules, f.m.rules), shared: true, split: len(sev.rules)}
	m.buildPrefilter()
	sh := &sharedRules{sev: sev, fail: f, m: m}
	f.shared.Store(sh)
	return sh
}

// match returns the level the severity rules give msg and the failure
// rules' match of it.
func (sh *sharedRules) match(msg []byte, cls *classifyScratch) (Level, failureMatch) {
	i, j := sh.m.matchSets(msg, cls)
	lvl := LevelInfo
	if i >= 0 {
		lvl = sh.m.rules[i].level
	}
	if j >= 0 {
		j -= sh.m.split
	}
	return lvl, failureMatch{rules: sh.fail, rule: j}
}

// CompileFailureRules checks and compiles rules, in order. The error names
// the rule (index and name) and the problem; names must be unique, because
// a classifier's saved state refers to rules by name.
func CompileFailureRules(rules []FailureRuleConfig) (*FailureRules, error) {
	specs := make([]matcherSpec, len(rules))
	for i, rc := range rules {
		specs[i] = matcherSpec{name: rc.Name, match: rc.Match, regex: rc.Regex}
	}
	seen := make(map[string]int, len(rules))
	m, errs := compileMatchers("failure rule", specs, func(i int, fail func(string, ...any)) Level {
		rc := rules[i]
		if !slices.Contains(Categories, rc.Category) {
			fail("category %q is not one of %s", rc.Category, strings.Join(Categories, ", "))
		}
		if strings.TrimSpace(rc.Cause) == "" {
			fail("cause is empty")
		}
		if j, dup := seen[rc.Name]; dup && rc.Name != "" {
			fail("name already used by failure rule %d", j)
		}
		seen[rc.Name] = i
		return LevelInfo
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &FailureRules{m: m, cfg: slices.Clone(rules), byName: seen}, nil
}

// Len returns the number of rules.
func (f *FailureRules) Len() int { return len(f.cfg) }

// DefaultFailureRuleConfigs returns the documented default failure rules
// (docs/failure-rules.md), in order. The caller may modify the copy.
func DefaultFailureRuleConfigs() []FailureRuleConfig {
	return slices.Clone(defaultFailureRuleConfigs)
}

// defaultFailureRules compiles the default failure rules on first use (as
// defaultRules).
var defaultFailureRules = sync.OnceValue(func() *FailureRules {
	f, err := CompileFailureRules(defaultFailureRuleConfigs)
	if err != nil {
		panic("parser: default failure rules do not compile: " + err.Error())
	}
	return f
})

// DefaultFailureRules returns the compiled default failure rules. The value
// is shared and immutable.
func DefaultFailureRules() *FailureRules { return defaultFailureRules() }

// Evidence is one record that shows a failure.
type Evidence struct {
	Line int64  `json:"line"` // 1-based line where the record starts
	Text string `json:"text"` // its first line, valid UTF-8, at most MaxEvidenceText bytes
}

// Failure is the classification of a failed action run.
type Failure struct {
	Category string
	Cause    string
	Rule     string // the deciding rule; "" for CategoryUnknown without a rule
	Code     string // a CodeArts error code (DEV.CB.…), "" if none
	ExitCode string // the newest non-zero exit code seen, "" if none
	// Evidence holds the deciding record, other rule hits near it and the
	// newest error records, in line order, at most MaxEvidence.
	Evidence []Evidence
	// PointLine is the line of the failure point (the newest error or rule
	// hit), 0 when the run had neither.
	PointLine int64
}

// FailureHit is a record that matched a failure rule.
type FailureHit struct {
	Rule string `json:"rule"`
	Seq  int64  `json:"seq"`
	Line int64  `json:"line"`
	Text string `json:"text"`
}

// FailureState is a classifier's whole state: small (at most maxHits hits
// and maxErrorLines error lines of at most MaxEvidenceText bytes each) and
// JSON-serialisable, so the collector stores it with the stage's cursor.
type FailureState struct {
	Seq       int64        `json:"seq,omitempty"`        // records seen
	Lines     int64        `json:"lines,omitempty"`      // lines seen (Record only)
	Point     int64        `json:"point,omitempty"`      // seq of the failure point
	PointLine int64        `json:"point_line,omitempty"` // its line
	Hits      []FailureHit `json:"hits,omitempty"`       // one per rule, within the window, by seq
	Errors    []Evidence   `json:"errors,omitempty"`     // newest error records
	Code      string       `json:"code,omitempty"`
	ExitCode  string       `json:"exit_code,omitempty"`
}

// Clone returns a deep copy of st.
func (st FailureState) Clone() FailureState {
	st.Hits = slices.Clone(st.Hits)
	st.Errors = slices.Clone(st.Errors)
	return st
}

// FailureClassifier classifies one action run's log incrementally: feed it
// the run's records in order, ask Result at any time. A classifier restored
// from State continues exactly as the one that saved it. It is for one
// goroutine.
type FailureClassifier struct {
	rules *FailureRules
	st    FailureState
	cls   classifyScratch
}

// NewFailureClassifier returns a classifier using rules (nil means
// DefaultFailureRules()).
func NewFailureClassifier(rules *FailureRules) *FailureClassifier {
	if rules == nil {
		rules = defaultFailureRules()
	}
	return &FailureClassifier{rules: rules}
}

// State returns a deep copy of the classifier's state.
func (c *FailureClassifier) State() FailureState { return c.st.Clone() }

// Fed returns the number of records fed to the classifier, State().Seq
// without copying the state.
func (c *FailureClassifier) Fed() int64 { return c.st.Seq }

// Restore replaces the state with a copy of st. Hits of rules the
// classifier's rules do not have (the rules changed) are dropped; any
// value, even one State did not produce, is safe.
func (c *FailureClassifier) Restore(st FailureState) {
	st = st.Clone()
	st.Hits = slices.DeleteFunc(st.Hits, func(h FailureHit) bool {
		_, ok := c.rules.byName[h.Rule]
		return !ok
	})
	if len(st.Hits) > maxHits {
		st.Hits = st.Hits[len(st.Hits)-maxHits:]
	}
	if len(st.Errors) > maxErrorLines {
		st.Errors = st.Errors[len(st.Errors)-maxErrorLines:]
	}
	c.st = st
}

// Record feeds the next record of the run; line numbers count from the
// start of what this classifier was fed.
func (c *FailureClassifier) Record(r *Record) {
	line := c.st.Lines + 1
	c.st.Lines += r.Newlines()
	c.RecordAt(r, line)
}

// RecordAt feeds the next record of the run, which starts at line (for a
// run that is part of a larger log).
func (c *FailureClassifier) RecordAt(r *Record, line int64) {
	if r.failure.rules == c.rules && r.failure.rule < 0 && r.Level != LevelError {
		// Matched in the stream's scan, no rule and no error: no evidence
		// (observe), the most common record, counted without more ado.
		c.st.Seq++
		return
	}
	o := c.rules.observe(r, &c.cls)
	c.apply(&o, line)
}

// failureObs is what one record shows a failure classifier, whatever the
// classifier's state: the pure half of RecordAt, which analyze computes on
// worker goroutines (see Analyzer.ReadLog) before applying the stateful
// half in log order.
type failureObs struct {
	// evidence is set when the record is a failure point: of level error
	// or matching rule (-1: none). The other fields are set only then.
	evidence bool
	isErr    bool
	rule     int32
	text     string // evidenceText of the message
	code     string // codeIn(text)
	exitCode string // exitCodeIn(text)
}

// observe classifies one record against the rules. It is safe for
// concurrent use with one scratch per goroutine.
func (f *FailureRules) observe(r *Record, cls *classifyScratch) failureObs {
	msg := r.Message
	switch {
	case r.Source == SourceOutput && isXtrace(msg):
		return failureObs{} // "+ echo 'No space left'" is the command, not its outcome
	case r.Source == SourcePlatform && r.Level > LevelWarning:
		// CodeArts' own info and debug lines are progress and echo the
		// step's script ("command:...", "input json :{...}"): not evidence.
		return failureObs{}
	}
	rule := r.failure.rule
	if r.failure.rules != f {
		rule = f.m.match(msg, cls)
	}
	isErr := r.Level == LevelError
	if rule < 0 && !isErr {
		return failureObs{}
	}
	text := evidenceText(msg)
	return failureObs{evidence: true, isErr: isErr, rule: int32(rule), text: text, code: codeIn(text), exitCode: exitCodeIn(text)}
}

// observeDeferred is observe for the first pass of Analyzer.ReadLogAt:
// it matches the rules only against the records that may carry a CodeArts
// error code or an exit code (a classifier keeps the newest of those from
// anywhere in a run), and takes a record of level error as evidence
// without matching it. A rule hit elsewhere matters only near the failure
// point, where the second pass matches every record. mayCode says whether
// r's message contains "DEV.CB." or "xit " (scanMessage).
func (f *FailureRules) observeDeferred(r *Record, cls *classifyScratch, mayCode bool) failureObs {
	msg := r.Message
	if mayCode {
		return f.observe(r, cls)
	}
	if r.Level != LevelError || r.Source == SourceOutput && isXtrace(msg) {
		return failureObs{}
	}
	// Without "DEV.CB." or "xit ", codeIn and exitCodeIn find nothing.
	return failureObs{evidence: true, isErr: true, rule: -1, text: evidenceText(msg)}
}

var (
	devCB   = []byte("DEV.CB.")
	xitWord = []byte("xit ") // in every word of exitCodeWords
)

// apply feeds the classifier the observation of its next record, which
// starts at line.
func (c *FailureClassifier) apply(o *failureObs, line int64) {
	st := &c.st
	st.Seq++
	if !o.evidence {
		return
	}
	st.Point, st.PointLine = st.Seq, line
	if o.code != "" {
		st.Code = o.code
	}
	if o.exitCode != "" {
		st.ExitCode = o.exitCode
	}
	if o.isErr {
		st.Errors = append(st.Errors, Evidence{Line: line, Text: o.text})
		if len(st.Errors) > maxErrorLines {
			st.Errors = slices.Delete(st.Errors, 0, len(st.Errors)-maxErrorLines)
		}
	}
	if o.rule >= 0 {
		name := c.rules.cfg[o.rule].Name
		st.Hits = slices.DeleteFunc(st.Hits, func(h FailureHit) bool { return h.Rule == name })
		st.Hits = append(st.Hits, FailureHit{Rule: name, Seq: st.Seq, Line: line, Text: o.text})
	}
	// Hits older than the window can never be near the failure point.
	st.Hits = slices.DeleteFunc(st.Hits, func(h FailureHit) bool { return h.Seq < st.Point-FailureWindow })
	if len(st.Hits) > maxHits {
		st.Hits = slices.Delete(st.Hits, 0, len(st.Hits)-maxHits)
	}
}

// Result classifies what was fed so far: the first rule in rule order
// among the non-generic hits within FailureWindow records of the failure
// point; failing that, among the generic ones; failing that, unknown.
func (c *FailureClassifier) Result() Failure {
	st := &c.st
	best, bestIdx := -1, len(c.rules.cfg)
	for _, pass := range []bool{false, true} {
		for i, h := range st.Hits {
			idx, ok := c.rules.byName[h.Rule]
			if !ok || h.Seq < st.Point-FailureWindow || c.rules.cfg[idx].Generic != pass {
				continue
			}
			if idx < bestIdx || idx == bestIdx && h.Seq > st.Hits[best].Seq {
				best, bestIdx = i, idx
			}
		}
		if best >= 0 {
			break
		}
	}
	f := Failure{Category: CategoryUnknown, Cause: "no failure rule matched", Code: st.Code, ExitCode: st.ExitCode, PointLine: st.PointLine}
	var ev []Evidence
	if best >= 0 {
		rc := c.rules.cfg[bestIdx]
		h := st.Hits[best]
		f.Category, f.Cause, f.Rule = rc.Category, rc.Cause, rc.Name
		if code := codeIn(h.Text); code != "" {
			f.Code = code
		}
		ev = append(ev, Evidence{Line: h.Line, Text: h.Text})
		for i := len(st.Hits) - 1; i >= 0; i-- {
			if i != best && st.Hits[i].Seq >= st.Point-FailureWindow {
				ev = append(ev, Evidence{Line: st.Hits[i].Line, Text: st.Hits[i].Text})
			}
		}
	}
	for i := len(st.Errors) - 1; i >= 0; i-- {
		ev = append(ev, st.Errors[i])
	}
	// The deciding record first, then the others newest first, unique by
	// line, shown in line order.
	seen := map[int64]bool{}
	for _, e := range ev {
		if len(f.Evidence) == MaxEvidence {
			break
		}
		if !seen[e.Line] {
			seen[e.Line] = true
			f.Evidence = append(f.Evidence, e)
		}
	}
	slices.SortFunc(f.Evidence, func(a, b Evidence) int { return int(min(max(a.Line-b.Line, -1), 1)) })
	return f
}

// isXtrace reports whether msg is a shell trace line ("+ cmd", "++ cmd").
func isXtrace(msg []byte) bool {
	i := 0
	for i < len(msg) && msg[i] == '+' {
		i++
	}
	return i > 0 && i < len(msg) && msg[i] == ' '
}

// evidenceText is the first line of msg, trimmed, valid UTF-8, at most
// MaxEvidenceText bytes.
func evidenceText(msg []byte) string {
	msg = bytes.TrimRight(firstLine(msg), " \t")
	if len(msg) > MaxEvidenceText {
		cut := MaxEvidenceText
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	return validString(msg)
}

// validString is strings.ToValidUTF8(string(b), "\uFFFD"), with one check
// of b instead of a decoding loop over the string for the valid text
// nearly every log is.
func validString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// firstLine is msg up to its first '\r' or '\n': two vector scans, where
// bytes.IndexAny goes byte by byte.
func firstLine(msg []byte) []byte {
	if i := bytes.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if i := bytes.IndexByte(msg, '\r'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// codeIn returns the last CodeArts error code (DEV.CB. and digits) in s.
func codeIn(s string) string {
	code := ""
	for rest := s; ; {
		i := strings.Index(rest, "DEV.CB.")
		if i < 0 {
			return code
		}
		rest = rest[i+len("DEV.CB."):]
		n := 0
		for n < len(rest) && n < 16 && rest[n]-'0' < 10 {
			n++
		}
		if n > 0 {
			code = "DEV.CB." + rest[:n]
		}
	}
}

// exitCodeWords are the words exitCodeIn looks for; each has an 'x' at
// index 1.
var exitCodeWords = [...]string{"exit code", "exit status", "Exit status", "exit value"}

// exitCodeIn returns the last (rightmost) non-zero exit code written as "exit code N",
// "exit code: N", "exit status N" or "Exit status N" in s. It visits the
// rare 'x' of the words rather than searching for each word in turn;
// occurrences of one word do not overlap (as if searched for one after
// the other).
func exitCodeIn(s string) string {
	code := ""
	var next [len(exitCodeWords)]int // where the next occurrence of each word may start
	for off := 0; ; {
		i := strings.IndexByte(s[off:], 'x')
		if i < 0 {
			return code
		}
		at := off + i - 1 // where a word would start
		off += i + 1
		if at < 0 {
			continue
		}
		for w, word := range exitCodeWords {
			if at < next[w] || !strings.HasPrefix(s[at:], word) {
				continue
			}
			end := at + len(word)
			next[w] = end
			rest := strings.TrimLeft(s[end:], ": ")
			n := 0
			for n < len(rest) && n < 10 && rest[n]-'0' < 10 {
				n++
			}
			if n > 0 && strings.Trim(rest[:n], "0") != "" {
				code = strings.TrimLeft(rest[:n], "0")
			}
			break
		}
	}
}
