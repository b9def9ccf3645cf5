package parser

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// RuleConfig is one severity rule for tool output (source "output"), YAML-
// embeddable: the exporter config holds an ordered list of them. Exactly one
// of Match and Regex is set.
//
// Rules see a record's Message: the text after the prefix and its one
// following space, continuation lines included, without the final line end.
// The first rule that matches decides the level; no match means info.
type RuleConfig struct {
	Name  string `yaml:"name" json:"name"`
	Match string `yaml:"match,omitempty" json:"match,omitempty"` // case-sensitive substring
	Regex string `yaml:"regex,omitempty" json:"regex,omitempty"` // RE2 (Go regexp); ^ and $ are message start/end unless (?m)
	Level string `yaml:"level" json:"level"`                     // error|warning|info|debug
}

// Rules is a compiled, ordered list of severity rules. It is immutable and
// safe for concurrent use.
//
// Classification is built for the common record that matches nothing: every
// rule needs a literal (the Match text, or a literal every match of the
// Regex must contain), and one SIMD pass over a message finds where
// literals may start. With AVX2 each literal is anchored at a rare pair of
// adjacent bytes and the pass tests every position against all pairs at
// once (pairscan.go); otherwise at one "anchor" byte, up to four per pass
// (anchorscan.go). A regex only runs when its literal was found. Regexes
// anchored at the message start are pre-checked against the set of bytes
// (and the literal prefix) a match can begin with, and a regex that is a
// few literals with ^, $, \b around them ([Ee]xit code:? [1-9], or a
// leading X+) is evaluated without package regexp at all. Only a regex
// with neither a literal nor a first-byte set runs on every output record.
type Rules struct {
	rules  []compiledRule
	groups []anchorGroup
	always []int // regex rules without any prefilter
	// startBy lists, per first byte of a message, the start rules whose
	// first-byte set holds it (in rule order).
	startBy [256][]startEntry
	// groupOf maps an anchor byte to its group (nil: not an anchor);
	// minGroupRule is the smallest rule index of any group.
	groupOf      [256]*anchorGroup
	minGroupRule int
	scan         anchorScanner // finds all anchor bytes in one pass
	pairs        *pairEngine   // with AVX2: finds the literals by pairs instead
	hasCand      bool          // some rule needs package regexp
	// shared is set for the rules of a sharedRules: two lists in one,
	// rules [0, split) and [split, n), each with its own first match
	// (matchSets).
	shared bool
	split  int
}

type compiledRule struct {
	name  string
	level Level
	lit   []byte // required literal, nil if none
	fold  bool   // lit is compared ignoring case
	re    *regexp.Regexp
	first *[256]bool // for regexes anchored at the message start
	// prefix, with first, is a literal every match starts with.
	prefix []byte
	// needs lists, for a regex, sets of strings of which every match
	// contains one ((?:[Tt]imed? ?out|超时)): checked before the regex.
	needs [][][]byte
	// shapes is set when the regex matches exactly the texts of a few
	// literals with assertions (^, $, \b) around them: the regex matches
	// where one of its shapes does, and is evaluated without package
	// regexp.
	shapes []*shape
}

// shape is a regex of the form [^|(?m)^|\b]* LITERAL [$|(?m)$|\b]*, or
// ^X+LITERAL... with a one-byte X (the shell trace rule ^\++ ). A regex
// whose middle part matches one of a few strings ([Ee]xit code:? [1-9])
// has one shape per string, with the same assertions.
type shape struct {
	lit []byte
	// post holds the ASCII byte sets of the classes after lit
	// (exit code [1-9]): bit c%64 of post[k][c/64] for byte c.
	post                             [][2]uint64
	beginText, beginLine, wordBefore bool
	endText, endLine, wordAfter      bool
	lead                             byte // with beginText: one or more lead bytes before lit
	hasLead                          bool
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// wordBoundary reports whether \b holds at position p of b (ASCII word
// characters, as package regexp defines them).
func wordBoundary(b []byte, p int) bool {
	before := p > 0 && isWordByte(b[p-1])
	after := p < len(b) && isWordByte(b[p])
	return before != after
}

// at reports whether the shape matches with its literal at b[s:] (for a
// shape with a lead, s must be 0: the lead bytes come first).
func (sh *shape) at(b []byte, s int) bool {
	start := s
	if sh.hasLead {
		if s != 0 || len(b) == 0 || b[0] != sh.lead {
			return false
		}
		for s < len(b) && b[s] == sh.lead {
			s++
		}
	}
	e := s + len(sh.lit)
	if s < 0 || e+len(sh.post) > len(b) || string(b[s:e]) != string(sh.lit) {
		return false
	}
	for _, set := range sh.post {
		if c := b[e]; c >= utf8.RuneSelf || set[c>>6]&(1<<(c&63)) == 0 {
			return false
		}
		e++
	}
	return !(sh.beginText && start != 0 ||
		sh.beginLine && start != 0 && b[start-1] != '\n' ||
		sh.wordBefore && !wordBoundary(b, start) ||
		sh.endText && e != len(b) ||
		sh.endLine && e != len(b) && b[e] != '\n' ||
		sh.wordAfter && !wordBoundary(b, e))
}

// maxShapes bounds how many literals a regex is expanded into.
const maxShapes = 64

// shapesOf recognises regexes that are case-sensitive literals, or a few
// alternatives of them, with assertions around them.
func shapesOf(re *syntax.Regexp) []*shape {
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	sh := shape{}
	// The middle part: the subexpressions between the leading and the
	// trailing assertions.
	var mid []*syntax.Regexp
	after := false // an assertion after the middle part was seen
	for k, sub := range subs {
		switch sub.Op {
		case syntax.OpBeginText, syntax.OpBeginLine, syntax.OpEndText, syntax.OpEndLine:
			before := len(mid) == 0 && !sh.hasLead
			switch {
			case before && sub.Op == syntax.OpBeginText:
				sh.beginText = true
			case before && sub.Op == syntax.OpBeginLine:
				sh.beginLine = true
			case !before && sub.Op == syntax.OpEndText:
				sh.endText, after = true, true
			case !before && sub.Op == syntax.OpEndLine:
				sh.endLine, after = true, true
			default:
				return nil
			}
		case syntax.OpWordBoundary:
			if len(mid) > 0 || sh.hasLead {
				sh.wordAfter, after = true, true
			} else {
				sh.wordBefore = true
			}
		case syntax.OpPlus:
			x := sub.Sub[0]
			switch {
			case len(mid) == 0 && !sh.hasLead && sh.beginText && !sh.wordBefore && x.Op == syntax.OpLiteral &&
				len(x.Rune) == 1 && x.Rune[0] < utf8.RuneSelf && x.Flags&syntax.FoldCase == 0:
				// ^X+ before the literal, X one ASCII byte (not a
				// byte the literal starts with, so the greedy skip is
				// exact).
				sh.lead, sh.hasLead = byte(x.Rune[0]), true
			case !after && k == len(subs)-1:
				// A trailing X+ with nothing after it is found where X is.
				mid = append(mid, x)
			default:
				return nil
			}
		case syntax.OpStar, syntax.OpQuest:
			// A trailing X* or X? with nothing after it matches the
			// empty string: whatever precedes it decides.
			if !after && k == len(subs)-1 {
				continue
			}
			if after {
				return nil
			}
			mid = append(mid, sub)
		default:
			if after {
				return nil
			}
			mid = append(mid, sub)
		}
	}
	// Trailing classes of ASCII bytes are checked as byte sets after the
	// literal rather than multiplied into it (nine literals for [1-9]).
	for len(mid) > 1 && !sh.hasLead {
		set, ok := asciiClass(mid[len(mid)-1])
		if !ok {
			break
		}
		sh.post = append([][2]uint64{set}, sh.post...)
		mid = mid[:len(mid)-1]
	}
	lits, ok := finiteStrings(&syntax.Regexp{Op: syntax.OpConcat, Sub: mid}, maxShapes)
	if !ok || len(lits) == 0 || sh.hasLead && len(lits) > 1 {
		return nil
	}
	var out []*shape
	for _, l := range lits {
		if l == "" || sh.hasLead && l[0] == sh.lead {
			return nil
		}
		alt := sh
		alt.lit = []byte(l)
		out = append(out, &alt)
	}
	return out
}

// hasNeeds reports whether msg contains one string of each of cr.needs.
func (cr *compiledRule) hasNeeds(msg []byte) bool {
	for _, set := range cr.needs {
		if !slices.ContainsFunc(set, func(s []byte) bool { return bytes.Contains(msg, s) }) {
			return false
		}
	}
	return true
}

// maxNeeds bounds the strings of one of compiledRule.needs: each costs a
// search of the message before the regex runs.
const maxNeeds = 12

// regexNeeds returns the sets of strings of which every match of expr
// contains one: the parts of its top-level concatenation that match one
// of a few strings of two bytes or more (other than lit, which the
// prefilter found already).
func regexNeeds(expr string, lit []byte) [][][]byte {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpConcat {
		return nil
	}
	var needs [][][]byte
	for _, sub := range re.Sub {
		strs, ok := finiteStrings(sub, maxNeeds)
		if !ok || len(strs) == 1 && strs[0] == string(lit) {
			continue
		}
		var set [][]byte
		for _, s := range strs {
			if len(s) < 2 {
				set = nil // "" or one byte: no use
				break
			}
			set = append(set, []byte(s))
		}
		if set != nil {
			needs = append(needs, set)
		}
	}
	return needs
}

// asciiClass returns the set of a character class of ASCII runes only.
func asciiClass(re *syntax.Regexp) ([2]uint64, bool) {
	var set [2]uint64
	if re.Op != syntax.OpCharClass || len(re.Rune) == 0 {
		return set, false
	}
	for i := 0; i+1 < len(re.Rune); i += 2 {
		if re.Rune[i+1] >= utf8.RuneSelf {
			return set, false
		}
		for c := re.Rune[i]; c <= re.Rune[i+1]; c++ {
			set[c>>6] |= 1 << (c & 63)
		}
	}
	return set, true
}

// finiteStrings returns the strings re matches (each once), when they are
// at most limit and re has no repetition or assertion.
func finiteStrings(re *syntax.Regexp, limit int) ([]string, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpLiteral:
		if !plainRunes(re.Rune...) {
			return nil, false
		}
		if re.Flags&syntax.FoldCase == 0 {
			return []string{string(re.Rune)}, true
		}
		// The parser writes [Ee] as a case-folded e: every rune of the
		// literal stands for its whole case orbit (e, E; k, K, U+212A).
		out := []string{""}
		for _, r := range re.Rune {
			orbit := []rune{r}
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				orbit = append(orbit, f)
			}
			if len(out)*len(orbit) > limit {
				return nil, false
			}
			var next []string
			for _, a := range out {
				for _, f := range orbit {
					next = append(next, a+string(f))
				}
			}
			out = next
		}
		return out, true
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if int(hi-lo) >= limit-len(out) || !plainRunes(lo, hi) || lo <= 0xd800 && hi >= 0xd800 {
				return nil, false
			}
			for c := lo; c <= hi; c++ {
				out = append(out, string(c))
			}
		}
		return out, len(out) > 0
	case syntax.OpCapture:
		return finiteStrings(re.Sub[0], limit)
	case syntax.OpQuest:
		sub, ok := finiteStrings(re.Sub[0], limit-1)
		return append([]string{""}, sub...), ok
	case syntax.OpAlternate:
		var out []string
		for _, a := range re.Sub {
			sub, ok := finiteStrings(a, limit-len(out))
			if !ok {
				return nil, false
			}
			out = append(out, sub...)
		}
		slices.Sort(out)
		return slices.Compact(out), true
	case syntax.OpConcat:
		out := []string{""}
		for _, part := range re.Sub {
			sub, ok := finiteStrings(part, limit)
			if !ok || len(out)*len(sub) > limit {
				return nil, false
			}
			var next []string
			for _, a := range out {
				for _, b := range sub {
					next = append(next, a+b)
				}
			}
			out = next
		}
		slices.Sort(out)
		return slices.Compact(out), true
	}
	return nil, false
}

// plainRunes reports whether the runes match exactly their UTF-8 bytes in
// any text: not U+FFFD, which package regexp also matches at an invalid
// byte, nor a surrogate (never matched, but string() turns it into U+FFFD).
func plainRunes(rs ...rune) bool {
	for _, r := range rs {
		if r == utf8.RuneError || r >= 0xd800 && r <= 0xdfff || r > utf8.MaxRune || r < 0 {
			return false
		}
	}
	return true
}

type anchorEntry struct {
	rule int
	off  int    // position of the anchor byte in the literal
	lit  []byte // the literal (a copy of the slice header: one load less per check)
	sh   *shape // for a regex rule evaluated by its shapes: the one of lit
	// head is the literal's first eight bytes, for one comparison of a
	// word before the whole literal's (a literal of eight bytes or more,
	// not fold); fold is the rule's.
	head uint64
	fold bool
}

// newAnchorEntry returns the entry of rule i's literal lit (of shape sh).
func newAnchorEntry(i int, cr *compiledRule, lit []byte, sh *shape) anchorEntry {
	e := anchorEntry{rule: i, lit: lit, sh: sh, fold: cr.fold}
	if len(lit) >= 8 {
		e.head = binary.LittleEndian.Uint64(lit)
	}
	return e
}

// startEntry is a rule checked at the first byte of a message: a shape
// anchored at the start, or (sh nil) a regex whose first-byte set holds it.
type startEntry struct {
	rule   int
	sh     *shape
	prefix []byte // without sh: the regex's literal prefix, checked first
}

type anchorGroup struct {
	b       byte
	minRule int
	entries []anchorEntry // all entries, in rule order
	// At a hit only the entries whose literal agrees with two bytes next
	// to the anchor are checked: the bytes on both sides (pair), or for a
	// literal that starts or ends with the anchor byte, the two after it
	// (fwd) or before it (back), keyed by pairKey. The tables hold an
	// index+1 into lists (0: no entry): 1.5 KiB per group instead of 12 KiB
	// for each [256][]anchorEntry table, so the lookups at every anchor hit
	// stay in L1 cache.
	pair, fwd, back [256]uint16
	lists           [][]anchorEntry
	short           *shortKeys // literals of one or two bytes; nil if none
}

// shortKeys key the literals too short for two bytes next to the anchor:
// by the one neighbour they have (next, prev), or none (single).
type shortKeys struct {
	next, prev [256]uint16
	single     []anchorEntry
}

// pairKey mixes two bytes next to an anchor into a table index. Different
// pairs can share a key: at worst a literal is compared in vain.
func pairKey(a, b byte) byte { return a ^ (b<<4 | b>>4) }

// Where an entry's key bytes are, relative to its anchor (keyOf).
const (
	keyPair = iota
	keyFwd
	keyBack
	keyNext
	keyPrev
	keySingle
)

// keyOf returns how an entry with its anchor at lit[off] is keyed, and the
// offsets of its key bytes from the anchor.
func keyOf(lit []byte, off int) (kind, d1, d2 int) {
	switch {
	case off > 0 && off+1 < len(lit):
		return keyPair, -1, 1
	case off+2 < len(lit):
		return keyFwd, 1, 2
	case off >= 2:
		return keyBack, -2, -1
	case off+1 < len(lit):
		return keyNext, 1, 0
	case off > 0:
		return keyPrev, -1, 0
	}
	return keySingle, 0, 0
}

// add appends e to the list keyed by byte c in table t, once.
func (g *anchorGroup) add(t *[256]uint16, c byte, e anchorEntry) {
	if t[c] == 0 {
		g.lists = append(g.lists, nil)
		t[c] = uint16(len(g.lists))
	}
	l := g.lists[t[c]-1]
	if len(l) > 0 && l[len(l)-1].rule == e.rule && l[len(l)-1].off == e.off && string(l[len(l)-1].lit) == string(e.lit) {
		return // the same literal under another case of a neighbour
	}
	g.lists[t[c]-1] = append(l, e)
}

// classifyScratch holds per-Stream scratch space for classify, and the
// shared rules of a stream that also matches failure rules.
type classifyScratch struct {
	cand   []uint64
	small  [4]uint64 // cand for up to 256 rules
	shared *sharedRules
}

// DefaultRuleConfigs returns the documented default severity rules
// (docs/severity-rules.md), in order. The caller may modify the copy.
func DefaultRuleConfigs() []RuleConfig {
	return append([]RuleConfig(nil), defaultRuleConfigs...)
}

var defaultRuleConfigs = []RuleConfig{
	// A shell trace line ("+ echo '[ERROR] ...'") is the command, not its outcome.
	{Name: "shell-xtrace", Regex: `^\++ `, Level: "info"},
	// Build tool verdicts: Maven writes "[INFO] BUILD FAILURE", Gradle
	// "BUILD FAILED in 3s" and "FAILURE: Build failed with an exception.".
	{Name: "maven-build-failure", Match: "] BUILD FAILURE", Level: "error"},
	{Name: "gradle-build-failed", Regex: `^BUILD FAILED`, Level: "error"},
	{Name: "gradle-failure", Match: "FAILURE: Build failed", Level: "error"},
	// Levels the tool wrote itself (Maven, Gradle, many loggers).
	{Name: "tool-error", Match: "[ERROR]", Level: "error"},
	{Name: "tool-fatal", Match: "[FATAL]", Level: "error"},
	{Name: "tool-warning", Match: "[WARNING]", Level: "warning"},
	{Name: "tool-warn", Match: "[WARN]", Level: "warning"},
	// npm (npm 6 to 8 wrote "npm ERR!", npm 9 and later "npm error").
	{Name: "npm-err", Regex: `^npm ERR!`, Level: "error"},
	{Name: "npm-error", Regex: `^npm error `, Level: "error"},
	{Name: "npm-warn", Regex: `^npm WARN`, Level: "warning"},
	{Name: "npm-warn-lower", Regex: `^npm warn `, Level: "warning"},
	// Go.
	{Name: "go-panic", Regex: `(?m)^panic: `, Level: "error"},
	{Name: "go-test-fail", Match: "--- FAIL: ", Level: "error"},
	{Name: "go-test-pkg-fail", Regex: `^FAIL\t`, Level: "error"},
	{Name: "go-test-fail-line", Regex: `^FAIL$`, Level: "error"},
	// Python (and Java) exceptions: "RuntimeError: ...", "java.io.IOException: ...".
	{Name: "python-traceback", Match: "Traceback (most recent call last):", Level: "error"},
	{Name: "exception-error", Match: "Error: ", Level: "error"},
	{Name: "exception", Match: "Exception: ", Level: "error"},
	// A tool's own info/debug tag shields its line from the generic rules below.
	{Name: "tool-info", Match: "[INFO]", Level: "info"},
	{Name: "tool-debug", Match: "[DEBUG]", Level: "debug"},
	{Name: "tool-trace", Match: "[TRACE]", Level: "debug"},
	// Shell and subprocess exit codes (0 is success).
	{Name: "exit-code", Regex: `\bexit code [1-9][0-9]*`, Level: "error"},
	{Name: "exit-status", Regex: `non-zero exit status [1-9]`, Level: "error"},
	// Generic level words followed by a colon (FATAL also at the start).
	{Name: "generic-error-upper", Regex: `\bERROR:`, Level: "error"},
	{Name: "generic-error", Regex: `\berror:`, Level: "error"},
	{Name: "generic-fatal-upper", Regex: `\bFATAL:`, Level: "error"},
	{Name: "generic-fatal-start", Regex: `^FATAL\b`, Level: "error"},
	{Name: "generic-fatal", Regex: `\bfatal:`, Level: "error"},
	{Name: "generic-warning-upper", Regex: `\bWARNING:`, Level: "warning"},
	{Name: "generic-warning", Match: "warning:", Level: "warning"},
	{Name: "generic-warning-title", Match: "Warning:", Level: "warning"},
	// The build's own verdict line.
	{Name: "finished-failure", Match: "Finished: FAILURE", Level: "error"},
	{Name: "finished-unstable", Match: "Finished: UNSTABLE", Level: "warning"},
	{Name: "finished-aborted", Match: "Finished: ABORTED", Level: "warning"},
}

// defaultRules compiles the default rules on first use, not when a
// process that needs none (--version, --help) starts.
var defaultRules = sync.OnceValue(func() *Rules {
	r, err := CompileRules(defaultRuleConfigs)
	if err != nil {
		panic("parser: default severity rules do not compile: " + err.Error())
	}
	return r
})

// DefaultRules returns the compiled default rules. The value is shared and
// immutable.
func DefaultRules() *Rules { return defaultRules() }

// Len returns the number of rules.
func (r *Rules) Len() int { return len(r.rules) }

// CompileRules checks and compiles rules, in order. The error names the rule
// (index and name) and the problem. An empty list is valid: every output
// record is then info.
func CompileRules(rules []RuleConfig) (*Rules, error) {
	specs := make([]matcherSpec, len(rules))
	for i, rc := range rules {
		specs[i] = matcherSpec{name: rc.Name, match: rc.Match, regex: rc.Regex}
	}
	r, errs := compileMatchers("severity rule", specs, func(i int, fail func(string, ...any)) Level {
		lv, ok := ParseLevel(rules[i].Level)
		if !ok {
			fail("level %q is not one of error, warning, info, debug", rules[i].Level)
		}
		return lv
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// matcherSpec is what the matching engine needs of a rule: its name and
// exactly one of a substring and an RE2 regex.
type matcherSpec struct{ name, match, regex string }

// compileMatchers compiles an ordered list of matchers into the prefilter
// engine shared by the severity rules and the failure rules (failure.go).
// kind names the rule in errors ("severity rule 3 (\"oom\"): ..."); level,
// if not nil, checks the rest of rule i and returns its level.
func compileMatchers(kind string, specs []matcherSpec, level func(i int, fail func(string, ...any)) Level) (*Rules, []error) {
	r := &Rules{rules: make([]compiledRule, len(specs))}
	var errs []error
	for i, sp := range specs {
		fail := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("%s %d (%q): %s", kind, i, sp.name, fmt.Sprintf(format, a...)))
		}
		if strings.TrimSpace(sp.name) == "" {
			fail("name is empty")
		}
		lv := LevelInfo
		if level != nil {
			lv = level(i, fail)
		}
		cr := compiledRule{name: sp.name, level: lv}
		switch {
		case sp.match != "" && sp.regex != "":
			fail("set either match or regex, not both")
		case sp.match == "" && sp.regex == "":
			fail("set match (a substring) or regex")
		case sp.match != "":
			cr.lit = []byte(sp.match)
		default:
			re, err := regexp.Compile(sp.regex)
			if err != nil {
				fail("regex: %v", err)
				break
			}
			cr.re = re
			cr.lit, cr.fold, cr.first, cr.prefix, cr.shapes = regexPrefilter(sp.regex)
			if cr.shapes == nil {
				cr.needs = regexNeeds(sp.regex, cr.lit)
			}
		}
		r.rules[i] = cr
	}
	if len(errs) > 0 {
		return nil, errs
	}
	r.buildPrefilter()
	return r, nil
}

// byteCost is how often a byte occurs in the messages of build logs, in
// occurrences per ten thousand bytes, measured on the messages of the
// fixtures and the failure corpus (analyze/testdata, parser/testdata/
// failures) and rounded into bands, so that rare bytes are preferred as
// anchors: every occurrence of an anchor byte costs a look at its
// neighbours.
func byteCost(c byte) int { return byteCosts[c] }

var byteCosts = func() (t [256]int) {
	for c := range t {
		t[c] = 3 // punctuation, rare letters, control bytes
		if c >= 0x80 {
			t[c] = 15 // lead bytes of CJK characters about that, the rest spread
		}
	}
	for _, band := range []struct {
		bytes string
		cost  int
	}{
		{"e ", 700},
		{"tnsaoci", 450},
		{"rl-dp", 280},
		{"mu0/1:.2'_g", 180},
		{"hb][49kyv3", 90},
		{"6f87Fw,5x", 60},
		{"I*TNRO=EA", 35},
		{"SjU+C>BP({}\")<", 16},
		{"D#LzGMJq", 8},
	} {
		for _, c := range []byte(band.bytes) {
			t[c] = band.cost
		}
	}
	return t
}()

// passCost is the cost of one more anchor byte, in byteCost units, for
// the single-byte anchors used without AVX2 (with AVX2, literals are found
// by pairs: pairscan.go). It was measured when every anchor was one
// IndexByte pass: a pass cost about as much as the calls for a byte that
// occurs 1000 times per ten thousand; up to four anchors now share a pass
// (maskAnchors), but a fifth costs a second one.
const passCost = 1000

// buildPrefilter chooses anchor bytes by greedy weighted set cover: each
// distinct anchor costs passCost plus its occurrences (byteCost); a byte
// covers every literal that contains it. Each literal then uses the chosen
// byte it contains whose occurrences between the literal's neighbours are
// estimated rarest, and is keyed by those neighbours.
func (r *Rules) buildPrefilter() {
	// The literals to anchor, in rule order: a rule's literal, or each of
	// its shapes' that are not anchored at the message start.
	var items []anchorEntry
	for i := range r.rules {
		cr := &r.rules[i]
		switch {
		case len(cr.shapes) > 0 && cr.shapes[0].beginText:
			for _, sh := range cr.shapes {
				c := sh.lit[0]
				if sh.hasLead {
					c = sh.lead
				}
				r.startBy[c] = append(r.startBy[c], startEntry{rule: i, sh: sh})
			}
		case len(cr.shapes) > 0:
			for _, sh := range cr.shapes {
				items = append(items, newAnchorEntry(i, cr, sh.lit, sh))
			}
		case len(cr.lit) > 0:
			items = append(items, newAnchorEntry(i, cr, cr.lit, nil))
		case cr.first != nil:
			for c := range cr.first {
				if cr.first[c] {
					r.startBy[c] = append(r.startBy[c], startEntry{rule: i, prefix: cr.prefix})
				}
			}
		default:
			r.always = append(r.always, i)
		}
		if cr.re != nil && len(cr.shapes) == 0 {
			r.hasCand = true
		}
	}
	if useAVX2 && len(items) > 0 {
		r.pairs = newPairEngine(items, r.rules)
		return
	}
	usable := func(e *anchorEntry, c byte) bool {
		return !r.rules[e.rule].fold || !(isASCIILetter(c) || c >= 0x80)
	}
	chosen := map[byte]bool{}
	coverAnchors(items, passCost, usable, chosen)
	// Each literal uses the chosen byte whose occurrences with the
	// literal's key bytes next to it are estimated rarest (keyOf; a
	// missing key byte selects nothing: any of the 10,000 bytes byteCost
	// counts in).
	keyCost := func(lit []byte, off int) int64 {
		kind, d1, d2 := keyOf(lit, off)
		cost := int64(byteCost(lit[off]))
		for k, d := range []int{d1, d2} {
			if kind == keySingle || k == 1 && kind >= keyNext {
				cost *= 10000
			} else {
				cost *= int64(byteCost(lit[off+d]) + 1)
			}
		}
		return cost
	}
	groupOf := map[byte]int{}
	for _, e := range items {
		e.off = -1
		bestCost := int64(1 << 62)
		for j, c := range e.lit {
			cost := keyCost(e.lit, j)
			if chosen[c] && usable(&e, c) && cost < bestCost {
				e.off, bestCost = j, cost
			}
		}
		if e.off < 0 {
			// A case-folded literal of letters only: no byte to anchor.
			r.always = append(r.always, e.rule)
			continue
		}
		fold := r.rules[e.rule].fold
		b := e.lit[e.off]
		g, ok := groupOf[b]
		if !ok {
			g = len(r.groups)
			groupOf[b] = g
			r.groups = append(r.groups, anchorGroup{b: b, minRule: e.rule})
		}
		grp := &r.groups[g]
		grp.entries = append(grp.entries, e)
		cases := func(d int) []byte {
			c := e.lit[e.off+d]
			if fold && isASCIILetter(c) {
				return []byte{c, c ^ 0x20}
			}
			return []byte{c}
		}
		kind, d1, d2 := keyOf(e.lit, e.off)
		if kind >= keyNext && grp.short == nil {
			grp.short = &shortKeys{}
		}
		switch kind {
		case keySingle:
			grp.short.single = append(grp.short.single, e)
		case keyNext, keyPrev:
			t := &grp.short.next
			if kind == keyPrev {
				t = &grp.short.prev
			}
			for _, c := range cases(d1) {
				grp.add(t, c, e)
			}
		default:
			t := &grp.pair
			switch kind {
			case keyFwd:
				t = &grp.fwd
			case keyBack:
				t = &grp.back
			}
			for _, c1 := range cases(d1) {
				for _, c2 := range cases(d2) {
					grp.add(t, pairKey(c1, c2), e)
				}
			}
		}
	}
	r.minGroupRule = len(r.rules)
	for gi := range r.groups {
		g := &r.groups[gi]
		r.groupOf[g.b] = g
		r.minGroupRule = min(r.minGroupRule, g.minRule)
	}
	r.scan = newAnchorScanner(r.anchors())
}

// coverAnchors adds to chosen anchor bytes that together cover every
// literal of items, by greedy weighted set cover with pc per distinct byte.
func coverAnchors(items []anchorEntry, pc int, usable func(*anchorEntry, byte) bool, chosen map[byte]bool) {
	covered := make([]bool, len(items))
	for {
		var count [256]int
		for k := range items {
			if covered[k] {
				continue
			}
			var seen [256]bool
			for _, c := range items[k].lit {
				if !seen[c] && usable(&items[k], c) {
					seen[c] = true
					count[c]++
				}
			}
		}
		best, bestRatio := -1, 0.0
		for c := 0; c < 256; c++ {
			if count[c] == 0 {
				continue
			}
			ratio := float64(pc+byteCost(byte(c))) / float64(count[c])
			if best < 0 || ratio < bestRatio {
				best, bestRatio = c, ratio
			}
		}
		if best < 0 {
			break
		}
		chosen[byte(best)] = true
		for k := range items {
			if !covered[k] && bytes.IndexByte(items[k].lit, byte(best)) >= 0 && usable(&items[k], byte(best)) {
				covered[k] = true
			}
		}
	}
	// Greedy cover can keep a common byte that covers many literals where
	// a few rare ones would do: drop a chosen byte whenever the literals
	// that need it are covered more cheaply by adding their rarest bytes.
	byCost := make([]byte, 0, 256)
	for c := range 256 {
		byCost = append(byCost, byte(c))
	}
	slices.SortStableFunc(byCost, func(a, b byte) int { return byteCost(b) - byteCost(a) })
	for improved := true; improved; {
		improved = false
		for _, b := range byCost {
			if !chosen[b] {
				continue
			}
			need, ok := map[byte]bool{}, true
			for k := range items {
				e := &items[k]
				if bytes.IndexByte(e.lit, b) < 0 || !usable(e, b) {
					continue
				}
				rarest, other := -1, false
				for _, c := range e.lit {
					if c == b || !usable(e, c) {
						continue
					}
					if chosen[c] || need[c] {
						other = true
						break
					}
					if rarest < 0 || byteCost(c) < byteCost(byte(rarest)) {
						rarest = int(c)
					}
				}
				if other {
					continue
				}
				if rarest < 0 {
					ok = false
					break
				}
				need[byte(rarest)] = true
			}
			add := 0
			for c := range need {
				add += pc + byteCost(c)
			}
			if ok && add < pc+byteCost(b) {
				delete(chosen, b)
				for c := range need {
					chosen[c] = true
				}
				improved = true
			}
		}
	}
}

// anchors returns the anchor bytes the prefilter scans for, in scan order
// (for tests and docs).
func (r *Rules) anchors() []byte {
	var b []byte
	for _, g := range r.groups {
		b = append(b, g.b)
	}
	return b
}

// Classify returns the level the rules give to an output message, and the
// index of the deciding rule (-1 when none matched and the level is info).
func (r *Rules) Classify(msg []byte) (Level, int) {
	var cls classifyScratch
	i := r.match(msg, &cls)
	if i < 0 {
		return LevelInfo, -1
	}
	return r.rules[i].level, i
}

// RuleName returns the name of rule i.
func (r *Rules) RuleName(i int) string { return r.rules[i].name }

// classify returns the level the rules give to an output message.
func (r *Rules) classify(msg []byte, cls *classifyScratch) Level {
	if i := r.match(msg, cls); i >= 0 {
		return r.rules[i].level
	}
	return LevelInfo
}

// checkHits verifies the entries of list (in rule order) for an anchor hit
// at msg[i]: a verified substring or shape lowers best, a regex whose
// literal is present becomes a candidate.
func (r *Rules) checkHits(list []anchorEntry, msg []byte, i, best int, cand []uint64) int {
	for k := range list {
		e := &list[k]
		if e.rule >= best {
			break // lists are in rule order
		}
		s := i - e.off
		if s < 0 || s+len(e.lit) > len(msg) {
			continue
		}
		// Most entries fail: their first eight bytes tell, without a call.
		w := msg[s : s+len(e.lit)]
		switch {
		case e.fold:
			if !bytes.EqualFold(w, e.lit) {
				continue
			}
		case len(w) >= 8 && binary.LittleEndian.Uint64(w) != e.head:
			continue
		case string(w) != string(e.lit):
			continue
		}
		cr := &r.rules[e.rule]
		switch {
		case cr.re == nil:
		case e.sh != nil:
			if !e.sh.at(msg, s) {
				continue
			}
		default:
			cand[e.rule>>6] |= 1 << (e.rule & 63)
			continue
		}
		if r.shared {
			// A hit of one list must not end the search for the other's:
			// it is noted, and matchSets picks each list's first.
			cand[e.rule>>6] |= 1 << (e.rule & 63)
			continue
		}
		best = e.rule
	}
	return best
}

// scanAnchors finds the anchor bytes in msg and checks the rules anchored
// at each occurrence. All anchors are found in one pass, 64 bytes at a time
// (anchorScanner.mask64), in position order; the order does not matter for
// the result, which is the smallest matching rule.
//
// Most anchor hits in real output have no literal keyed by the bytes
// around them; they are rejected here with three table lookups, before any
// call.
func (r *Rules) scanAnchors(msg []byte, best int, cand []uint64) int {
	one := len(r.scan.vecs) == 1
	for base := 0; base < len(msg); base += 64 {
		w := msg[base:min(len(msg), base+64)]
		var m uint64
		switch { // mask64, inlined
		case len(w) < 16:
			m = r.scan.maskSlow(w)
		case one:
			m = maskAnchors(&w[0], len(w), &r.scan.vecs[0])
		default:
			m = r.scan.maskSlow(w)
		}
		for ; m != 0; m &= m - 1 {
			i := base + bits.TrailingZeros64(m)
			g := r.groupOf[msg[i]]
			if g.minRule >= best {
				continue
			}
			// A missing neighbour reads as 0: at worst a false candidate,
			// which checkHits rejects by its bounds check.
			var prev2, prev, next, next2 byte
			if i >= 2 {
				prev2, prev = msg[i-2], msg[i-1]
			} else if i == 1 {
				prev = msg[0]
			}
			if i+2 < len(msg) {
				next, next2 = msg[i+1], msg[i+2]
			} else if i+1 < len(msg) {
				next = msg[i+1]
			}
			kp, kf, kb := g.pair[pairKey(prev, next)], g.fwd[pairKey(next, next2)], g.back[pairKey(prev2, prev)]
			if kp != 0 {
				best = r.checkHits(g.lists[kp-1], msg, i, best, cand)
			}
			if kf != 0 {
				best = r.checkHits(g.lists[kf-1], msg, i, best, cand)
			}
			if kb != 0 {
				best = r.checkHits(g.lists[kb-1], msg, i, best, cand)
			}
			if sk := g.short; sk != nil {
				if k := sk.next[next]; k != 0 {
					best = r.checkHits(g.lists[k-1], msg, i, best, cand)
				}
				if k := sk.prev[prev]; k != 0 {
					best = r.checkHits(g.lists[k-1], msg, i, best, cand)
				}
				if len(sk.single) > 0 {
					best = r.checkHits(sk.single, msg, i, best, cand)
				}
			}
			if best <= r.minGroupRule {
				return best
			}
		}
	}
	return best
}

// match returns the index of the first rule that matches msg, or -1.
func (r *Rules) match(msg []byte, cls *classifyScratch) int {
	n := len(r.rules)
	if n == 0 {
		return -1
	}
	var cand []uint64
	if r.hasCand {
		cand = cls.candidates(n)
	}
	best := n
	if len(msg) > 0 {
		for _, e := range r.startBy[msg[0]] {
			if e.sh == nil {
				if bytes.HasPrefix(msg, e.prefix) {
					cand[e.rule>>6] |= 1 << (e.rule & 63)
				}
			} else if e.sh.at(msg, 0) {
				best = e.rule
				break
			}
		}
	}
	if r.pairs != nil && best > r.pairs.minRule {
		best = r.scanPairs(msg, best, cand)
	}
	if len(r.groups) > 0 && best > r.minGroupRule {
		best = r.scanAnchors(msg, best, cand)
	}
	if r.hasCand {
		for _, i := range r.always {
			cand[i>>6] |= 1 << (i & 63)
		}
		for w, bitsw := range cand {
			for bitsw != 0 {
				i := w*64 + bits.TrailingZeros64(bitsw)
				if i >= best {
					return ruleOrNone(best, n)
				}
				bitsw &= bitsw - 1
				if cr := &r.rules[i]; cr.hasNeeds(msg) && cr.re.Match(msg) {
					return i
				}
			}
		}
	}
	return ruleOrNone(best, n)
}

// matchSets is match for shared rules: the first rule of each list that
// matches msg, [0, split) and [split, n), or -1 for a list with none. The
// scan of msg is the one match makes, but it does not stop at a hit: every
// hit is noted in the candidates, and so is every rule a regex decides.
func (r *Rules) matchSets(msg []byte, cls *classifyScratch) (int, int) {
	n := len(r.rules)
	if n == 0 {
		return -1, -1
	}
	cand := cls.candidates(n)
	if len(msg) > 0 {
		for _, e := range r.startBy[msg[0]] {
			if e.sh == nil && bytes.HasPrefix(msg, e.prefix) || e.sh != nil && e.sh.at(msg, 0) {
				cand[e.rule>>6] |= 1 << (e.rule & 63)
			}
		}
	}
	if r.pairs != nil {
		r.scanPairs(msg, n, cand)
	}
	if len(r.groups) > 0 {
		r.scanAnchors(msg, n, cand)
	}
	for _, i := range r.always {
		cand[i>>6] |= 1 << (i & 63)
	}
	// The noted rules in order: the first of each list that is verified
	// or whose regex matches. Most messages have none.
	first := -1
	for w, bitsw := range cand {
		for ; bitsw != 0; bitsw &= bitsw - 1 {
			i := w*64 + bits.TrailingZeros64(bitsw)
			if i < r.split && first >= 0 {
				continue // the first list is decided
			}
			if cr := &r.rules[i]; cr.re == nil || len(cr.shapes) > 0 || cr.hasNeeds(msg) && cr.re.Match(msg) {
				if i >= r.split {
					return first, i
				}
				first = i
			}
		}
	}
	return first, -1
}

// candidates returns cls's bit set of candidate rules for n rules, cleared.
func (cls *classifyScratch) candidates(n int) []uint64 {
	words := (n + 63) / 64
	if words <= len(cls.small) {
		// Cleared in two vector stores: clear() would call memclr.
		cls.small = [len(cls.small)]uint64{}
		return cls.small[:words]
	}
	if cap(cls.cand) < words {
		cls.cand = make([]uint64, words)
	}
	cand := cls.cand[:words]
	clear(cand)
	return cand
}

func ruleOrNone(best, n int) int {
	if best >= n {
		return -1
	}
	return best
}

// regexPrefilter derives a prefilter from a regex: a literal that every
// match contains (and whether it is case-folded), or, for a regex anchored at
// the start of the text, the set of bytes a match can begin with. When the
// regex is just a few literals with assertions, it returns their shapes
// instead, which replace the regex entirely.
func regexPrefilter(expr string) (lit []byte, fold bool, first *[256]bool, prefix []byte, shapes []*shape) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, false, nil, nil, nil
	}
	re = re.Simplify()
	if shapes = shapesOf(re); shapes != nil {
		return nil, false, nil, nil, shapes
	}
	l, f := requiredLiteral(re)
	l = exactRun(l, f)
	if anchoredStart(re) {
		// Checking the first byte is O(1); prefer it to a scan, unless
		// the set is large (^\s*\d+ failing$) and a literal of a few
		// bytes is required.
		var set [256]bool
		rest := startAfterAnchor(re)
		if firstBytes(rest, &set) && (len(l) < 3 || countTrue(&set) <= 4) {
			// ^FAILED \S+:: needs "FAILED " at the start.
			if p := rest.Sub[0]; p.Op == syntax.OpLiteral && p.Flags&syntax.FoldCase == 0 && plainRunes(p.Rune...) {
				prefix = []byte(string(p.Rune))
			}
			return nil, false, &set, prefix, nil
		}
	}
	return []byte(string(l)), f, nil, nil, nil
}

// exactRun returns the longest run of the literal l that the prefilter
// finds exactly where package regexp does: without U+FFFD (which regexp
// also matches at an invalid byte) and, case-folded, without runes that
// fold outside ASCII. The prefilter compares a window of len(lit) bytes
// ignoring ASCII case and keys literals by their bytes, while a
// case-insensitive k also matches the 3-byte Kelvin sign, s the long s, σ
// a Σ of other bytes.
func exactRun(l []rune, fold bool) []rune {
	var best []rune
	start := 0
	for i := 0; i <= len(l); i++ {
		if i < len(l) && plainRunes(l[i]) && (!fold || asciiFolds(l[i])) {
			continue
		}
		if i-start > len(best) {
			best = l[start:i]
		}
		start = i + 1
	}
	return best
}

func asciiFolds(r rune) bool {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if r >= utf8.RuneSelf || f >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func countTrue(set *[256]bool) int {
	n := 0
	for _, b := range set {
		if b {
			n++
		}
	}
	return n
}

func anchoredStart(re *syntax.Regexp) bool {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	switch re.Op {
	case syntax.OpBeginText:
		return true
	case syntax.OpConcat:
		return len(re.Sub) > 0 && anchoredStart(re.Sub[0])
	}
	return false
}

// startAfterAnchor returns what follows the leading ^ of an anchored regex.
func startAfterAnchor(re *syntax.Regexp) *syntax.Regexp {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op == syntax.OpConcat && len(re.Sub) > 1 && re.Sub[0].Op == syntax.OpBeginText {
		return &syntax.Regexp{Op: syntax.OpConcat, Sub: re.Sub[1:], Flags: re.Flags}
	}
	return nil
}

// firstBytes adds to set every byte a match of re can start with; false if
// it cannot tell (or re can match the empty string).
func firstBytes(re *syntax.Regexp, set *[256]bool) bool {
	if re == nil {
		return false
	}
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return false
		}
		return addRuneFirst(re.Rune[0], re.Flags&syntax.FoldCase != 0, set)
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi >= utf8.RuneSelf {
				return false
			}
			for c := lo; c <= hi; c++ {
				set[c] = true
			}
		}
		return len(re.Rune) > 0
	case syntax.OpCapture:
		return firstBytes(re.Sub[0], set)
	case syntax.OpPlus:
		return firstBytes(re.Sub[0], set)
	case syntax.OpRepeat:
		return re.Min >= 1 && firstBytes(re.Sub[0], set)
	case syntax.OpConcat:
		return len(re.Sub) > 0 && firstBytes(re.Sub[0], set)
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if !firstBytes(s, set) {
				return false
			}
		}
		return true
	}
	return false
}

func addRuneFirst(r rune, fold bool, set *[256]bool) bool {
	if r >= utf8.RuneSelf {
		var b [utf8.UTFMax]byte
		utf8.EncodeRune(b[:], r)
		if fold {
			return false
		}
		set[b[0]] = true
		return true
	}
	set[r] = true
	if fold && isASCIILetter(byte(r)) {
		set[r^0x20] = true
	}
	return true
}

// requiredLiteral returns the longest literal that every match of re
// contains, and whether it is case-folded.
func requiredLiteral(re *syntax.Regexp) ([]rune, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return re.Rune, re.Flags&syntax.FoldCase != 0
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiteral(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiteral(re.Sub[0])
		}
	case syntax.OpConcat:
		var best []rune
		var bestFold bool
		for _, s := range re.Sub {
			if l, f := requiredLiteral(s); len(l) > len(best) {
				best, bestFold = l, f
			}
		}
		return best, bestFold
	}
	return nil, false
}
