package parser

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"regexp"
	"regexp/syntax"
	"strings"
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
// Regex must contain); for each literal one "anchor" byte is chosen, and a
// message is scanned once per distinct anchor byte with bytes.IndexByte. A
// regex only runs when its literal was found. Regexes anchored at the message
// start are pre-checked against the set of bytes a match can begin with.
// Only a regex with neither runs on every output record.
type Rules struct {
	rules  []compiledRule
	groups []anchorGroup
	start  []int // regex rules with a first-byte set, checked at msg[0]
	always []int // regex rules without any prefilter
}

type compiledRule struct {
	name  string
	level Level
	lit   []byte // required literal, nil if none
	fold  bool   // lit is compared ignoring case
	re    *regexp.Regexp
	first *[256]bool // for regexes anchored at the message start
}

type anchorEntry struct {
	rule int
	off  int // position of the anchor byte in the rule's literal
}

type anchorGroup struct {
	b       byte
	minRule int
	entries []anchorEntry
}

// classifyScratch holds per-Stream scratch space for classify.
type classifyScratch struct {
	cand []uint64
}

// DefaultRuleConfigs returns the documented default severity rules
// (docs/severity-rules.md), in order. The caller may modify the copy.
func DefaultRuleConfigs() []RuleConfig {
	return append([]RuleConfig(nil), defaultRuleConfigs...)
}

var defaultRuleConfigs = []RuleConfig{
	// A shell trace line ("+ echo '[ERROR] ...'") is the command, not its outcome.
	{Name: "shell-xtrace", Regex: `^\++ `, Level: "info"},
	// Build tool verdicts.
	{Name: "maven-build-failure", Match: "BUILD FAILURE", Level: "error"},
	{Name: "gradle-build-failed", Match: "BUILD FAILED", Level: "error"},
	// Levels the tool wrote itself (Maven, Gradle, many loggers).
	{Name: "tool-error", Match: "[ERROR]", Level: "error"},
	{Name: "tool-fatal", Match: "[FATAL]", Level: "error"},
	{Name: "tool-warning", Match: "[WARNING]", Level: "warning"},
	{Name: "tool-warn", Match: "[WARN]", Level: "warning"},
	// npm.
	{Name: "npm-err", Match: "npm ERR!", Level: "error"},
	{Name: "npm-error", Regex: `^npm error `, Level: "error"},
	{Name: "npm-warn", Match: "npm WARN", Level: "warning"},
	{Name: "npm-warn-lower", Regex: `^npm warn `, Level: "warning"},
	// Go.
	{Name: "go-panic", Regex: `(?m)^panic: `, Level: "error"},
	{Name: "go-test-fail", Regex: `(?m)^\s*--- FAIL: `, Level: "error"},
	{Name: "go-test-pkg-fail", Regex: `(?m)^FAIL(?:\t|$)`, Level: "error"},
	// Python (and Java) exceptions.
	{Name: "python-traceback", Match: "Traceback (most recent call last):", Level: "error"},
	{Name: "exception-error", Regex: `\b\w*Error: `, Level: "error"},
	{Name: "exception", Regex: `\b\w*Exception: `, Level: "error"},
	// A tool's own info/debug tag shields its line from the generic rules below.
	{Name: "tool-info", Match: "[INFO]", Level: "info"},
	{Name: "tool-debug", Match: "[DEBUG]", Level: "debug"},
	{Name: "tool-trace", Match: "[TRACE]", Level: "debug"},
	// logfmt loggers (logrus, zap console, ...).
	{Name: "logfmt-error", Regex: `\blevel=(?:error|fatal|panic)\b`, Level: "error"},
	{Name: "logfmt-warning", Regex: `\blevel=warn(?:ing)?\b`, Level: "warning"},
	{Name: "logfmt-debug", Regex: `\blevel=(?:debug|trace)\b`, Level: "debug"},
	// Shell and subprocess exit codes (0 is success).
	{Name: "exit-code", Regex: `\bexit code [1-9][0-9]*`, Level: "error"},
	{Name: "exit-status", Regex: `non-zero exit status [1-9]`, Level: "error"},
	// Generic words, as whole words followed by a colon.
	{Name: "generic-error-upper", Regex: `\bERROR:`, Level: "error"},
	{Name: "generic-error", Regex: `\berror:`, Level: "error"},
	{Name: "generic-fatal-upper", Regex: `\bFATAL\b`, Level: "error"},
	{Name: "generic-fatal", Regex: `\bfatal:`, Level: "error"},
	{Name: "generic-warning-upper", Regex: `\bWARNING:`, Level: "warning"},
	{Name: "generic-warning", Regex: `\b\w*[Ww]arning:`, Level: "warning"},
	// The build's own verdict line.
	{Name: "finished-failure", Match: "Finished: FAILURE", Level: "error"},
	{Name: "finished-unstable", Match: "Finished: UNSTABLE", Level: "warning"},
	{Name: "finished-aborted", Match: "Finished: ABORTED", Level: "warning"},
}

var defaultRules = func() *Rules {
	r, err := CompileRules(defaultRuleConfigs)
	if err != nil {
		panic("parser: default severity rules do not compile: " + err.Error())
	}
	return r
}()

// DefaultRules returns the compiled default rules. The value is shared and
// immutable.
func DefaultRules() *Rules { return defaultRules }

// Len returns the number of rules.
func (r *Rules) Len() int { return len(r.rules) }

// CompileRules checks and compiles rules, in order. The error names the rule
// (index and name) and the problem. An empty list is valid: every output
// record is then info.
func CompileRules(rules []RuleConfig) (*Rules, error) {
	r := &Rules{rules: make([]compiledRule, len(rules))}
	var errs []error
	for i, rc := range rules {
		fail := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("severity rule %d (%q): %s", i, rc.Name, fmt.Sprintf(format, a...)))
		}
		if strings.TrimSpace(rc.Name) == "" {
			fail("name is empty")
		}
		lv, ok := ParseLevel(rc.Level)
		if !ok {
			fail("level %q is not one of error, warning, info, debug", rc.Level)
		}
		cr := compiledRule{name: rc.Name, level: lv}
		switch {
		case rc.Match != "" && rc.Regex != "":
			fail("set either match or regex, not both")
		case rc.Match == "" && rc.Regex == "":
			fail("set match (a substring) or regex")
		case rc.Match != "":
			cr.lit = []byte(rc.Match)
		default:
			re, err := regexp.Compile(rc.Regex)
			if err != nil {
				fail("regex: %v", err)
				break
			}
			cr.re = re
			cr.lit, cr.fold, cr.first = regexPrefilter(rc.Regex)
		}
		r.rules[i] = cr
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r.buildPrefilter()
	return r, nil
}

// byteCost estimates how often a byte occurs in build log messages, in
// about per mille (from the real fixtures), so that rare bytes are preferred
// as anchors.
func byteCost(c byte) int {
	switch {
	case c == ' ':
		return 150
	case strings.IndexByte("etaoinsrhl", c) >= 0:
		return 50
	case strings.IndexByte("kxjqz", c) >= 0:
		return 8
	case 'a' <= c && c <= 'z':
		return 25
	case '0' <= c && c <= '9':
		return 30
	case c == '.' || c == '/' || c == '-' || c == '_' || c == ':':
		return 25
	case c >= 0x80:
		return 20
	case c == '[' || c == ']' || c == ',' || c == '=' || c == '\'' || c == '"' || c == '(' || c == ')' || c == '+' || c == '\t' || c == '*':
		return 10
	case 'A' <= c && c <= 'Z':
		return 5
	}
	return 2
}

// passCost is the estimated cost of one more IndexByte pass over every
// message, in byteCost units (a call costs about as much as a dozen
// verified hits).
const passCost = 40

// buildPrefilter chooses anchor bytes by greedy weighted set cover: the
// total cost is passCost per distinct anchor plus byteCost of each literal's
// anchor. Each literal then uses the cheapest chosen byte it contains.
func (r *Rules) buildPrefilter() {
	usable := func(cr *compiledRule, c byte) bool {
		return !cr.fold || !(isASCIILetter(c) || c >= 0x80)
	}
	covered := make([]bool, len(r.rules))
	chosen := map[byte]bool{}
	for {
		var count [256]int
		for i := range r.rules {
			cr := &r.rules[i]
			if covered[i] || len(cr.lit) == 0 {
				continue
			}
			var seen [256]bool
			for _, c := range cr.lit {
				if !seen[c] && usable(cr, c) {
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
			ratio := float64(passCost+count[c]*byteCost(byte(c))) / float64(count[c])
			if best < 0 || ratio < bestRatio {
				best, bestRatio = c, ratio
			}
		}
		if best < 0 {
			break
		}
		chosen[byte(best)] = true
		for i := range r.rules {
			if !covered[i] && bytes.IndexByte(r.rules[i].lit, byte(best)) >= 0 && usable(&r.rules[i], byte(best)) {
				covered[i] = true
			}
		}
	}
	anchor := make([]int, len(r.rules))
	for i := range r.rules {
		cr := &r.rules[i]
		anchor[i] = -1
		bestCost := 1 << 30
		for j, c := range cr.lit {
			if chosen[c] && usable(cr, c) && byteCost(c) < bestCost {
				anchor[i], bestCost = j, byteCost(c)
			}
		}
	}
	groupOf := map[byte]int{}
	for i := range r.rules {
		cr := &r.rules[i]
		switch {
		case anchor[i] >= 0:
			b := cr.lit[anchor[i]]
			g, ok := groupOf[b]
			if !ok {
				g = len(r.groups)
				groupOf[b] = g
				r.groups = append(r.groups, anchorGroup{b: b, minRule: i})
			}
			r.groups[g].entries = append(r.groups[g].entries, anchorEntry{rule: i, off: anchor[i]})
		case cr.first != nil:
			r.start = append(r.start, i)
		default:
			r.always = append(r.always, i)
		}
	}
}

// Anchors returns the anchor bytes the prefilter scans for, in scan order
// (for tests and docs).
func (r *Rules) Anchors() []byte {
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

func (r *Rules) classify(msg []byte, cls *classifyScratch) Level {
	if i := r.match(msg, cls); i >= 0 {
		return r.rules[i].level
	}
	return LevelInfo
}

// match returns the index of the first rule that matches msg, or -1.
func (r *Rules) match(msg []byte, cls *classifyScratch) int {
	n := len(r.rules)
	if n == 0 {
		return -1
	}
	words := (n + 63) / 64
	if cap(cls.cand) < words {
		cls.cand = make([]uint64, words)
	}
	cand := cls.cand[:words]
	clear(cand)
	best := n
	if len(msg) > 0 {
		c := msg[0]
		for _, i := range r.start {
			if r.rules[i].first[c] {
				cand[i>>6] |= 1 << (i & 63)
			}
		}
	}
	for gi := range r.groups {
		g := &r.groups[gi]
		if g.minRule >= best {
			continue
		}
		for pos := 0; pos < len(msg); {
			i := bytes.IndexByte(msg[pos:], g.b)
			if i < 0 {
				break
			}
			i += pos
			pos = i + 1
			for _, e := range g.entries {
				if e.rule >= best {
					break // entries are in rule order
				}
				cr := &r.rules[e.rule]
				s := i - e.off
				if s < 0 || s+len(cr.lit) > len(msg) {
					continue
				}
				w := msg[s : s+len(cr.lit)]
				if cr.fold {
					if !bytes.EqualFold(w, cr.lit) {
						continue
					}
				} else if string(w) != string(cr.lit) {
					continue
				}
				if cr.re == nil {
					best = e.rule
					break
				}
				cand[e.rule>>6] |= 1 << (e.rule & 63)
			}
		}
	}
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
			if r.rules[i].re.Match(msg) {
				return i
			}
		}
	}
	return ruleOrNone(best, n)
}

func ruleOrNone(best, n int) int {
	if best >= n {
		return -1
	}
	return best
}

// regexPrefilter derives a prefilter from a regex: a literal that every
// match contains (and whether it is case-folded), or, for a regex anchored at
// the start of the text, the set of bytes a match can begin with.
func regexPrefilter(expr string) (lit []byte, fold bool, first *[256]bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, false, nil
	}
	re = re.Simplify()
	if anchoredStart(re) {
		// Checking the first byte is O(1); prefer it to a scan.
		var set [256]bool
		if firstBytes(startAfterAnchor(re), &set) {
			return nil, false, &set
		}
	}
	l, f := requiredLiteral(re)
	return []byte(string(l)), f, nil
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
