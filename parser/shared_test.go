package parser

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
)

// A pair of rule lists the shared engine is tested with.
type sharedCase struct {
	name string
	sev  []RuleConfig
	fail []FailureRuleConfig
}

func sharedCases() []sharedCase {
	// Failure rules with the engine's corners: a case-folded literal, a
	// regex without a literal, a regex anchored at the start.
	fail := append(DefaultFailureRuleConfigs(),
		FailureRuleConfig{Name: "fold", Regex: `(?i)quota hit: `, Category: CategoryDisk, Cause: "x"},
		FailureRuleConfig{Name: "no-literal", Regex: `[0-9]{4}z`, Category: CategoryScript, Cause: "x"},
		FailureRuleConfig{Name: "start", Regex: `^(?:make|ninja): \*\*\*`, Category: CategoryCompile, Cause: "x"},
	)
	return []sharedCase{
		{"default", DefaultRuleConfigs(), DefaultFailureRuleConfigs()},
		{"custom", customRuleConfigs(), fail},
		{"no severity rules", nil, DefaultFailureRuleConfigs()},
		{"no failure rules", DefaultRuleConfigs(), nil},
	}
}

func asRuleConfigs(fail []FailureRuleConfig) []RuleConfig {
	rules := make([]RuleConfig, len(fail))
	for i, fc := range fail {
		rules[i] = RuleConfig{Name: fc.Name, Match: fc.Match, Regex: fc.Regex, Level: "info"}
	}
	return rules
}

func regexesOf(rules []RuleConfig) []*regexp.Regexp {
	res := make([]*regexp.Regexp, len(rules))
	for i, rc := range rules {
		if rc.Regex != "" {
			res[i] = regexp.MustCompile(rc.Regex)
		}
	}
	return res
}

// exampleOf returns a text that re matches: every repetition as few times
// as it may be, the first alternative, a letter, digit or space from a
// class.
func exampleOf(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune)
	case syntax.OpCharClass:
		for _, c := range "a0 xA" {
			for i := 0; i+1 < len(re.Rune); i += 2 {
				if re.Rune[i] <= c && c <= re.Rune[i+1] {
					return string(c)
				}
			}
		}
		return string(re.Rune[0])
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return "x"
	case syntax.OpCapture, syntax.OpPlus:
		return exampleOf(re.Sub[0])
	case syntax.OpRepeat:
		return strings.Repeat(exampleOf(re.Sub[0]), re.Min)
	case syntax.OpConcat:
		var b strings.Builder
		for _, sub := range re.Sub {
			b.WriteString(exampleOf(sub))
		}
		return b.String()
	case syntax.OpAlternate:
		return exampleOf(re.Sub[0])
	}
	return "" // assertions, X*, X?, the empty string
}

// ruleExamples returns, for every rule, a message that the rule matches:
// its Match text, or a text its Regex matches.
func ruleExamples(t *testing.T, rules []RuleConfig) []string {
	t.Helper()
	examples := make([]string, len(rules))
	for i, rc := range rules {
		if rc.Match != "" {
			examples[i] = rc.Match
			continue
		}
		re, err := syntax.Parse(rc.Regex, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		examples[i] = exampleOf(re.Simplify())
		if !regexp.MustCompile(rc.Regex).MatchString(examples[i]) {
			t.Fatalf("rule %q: the example %q does not match its regex", rc.Name, examples[i])
		}
	}
	return examples
}

// sharedMessages returns the messages of the fixtures and the failure
// corpus, the fuzz seeds, each rule's example alone, and random mixes of
// the examples of both lists (ASCII case changed, cut in half) and noise.
func sharedMessages(t *testing.T, sev, fail []RuleConfig, seed uint64) [][]byte {
	msgs := fixtureMessages(t)
	for _, s := range classifySeeds {
		msgs = append(msgs, []byte(s))
	}
	var pieces []string
	for _, ex := range append(ruleExamples(t, sev), ruleExamples(t, fail)...) {
		msgs = append(msgs, []byte(ex))
		pieces = append(pieces, ex, strings.ToUpper(ex), strings.ToLower(ex), ex[:len(ex)/2], ex[len(ex)/2:])
	}
	pieces = append(pieces, " ", "\n", "\t", ":", "+ ", "0", "137", "x", "'", "超时", "\xe8", "\xff", "QUOTA HIT: ", "1234z")
	rng := rand.New(rand.NewPCG(seed, 7))
	for range 20000 {
		var b []byte
		for k := rng.IntN(5); k >= 0; k-- {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		msgs = append(msgs, b)
	}
	return msgs
}

// compileShared compiles both lists with or without AVX2 and returns the
// severity rules, the failure rules and their shared rules.
func compileShared(t *testing.T, c sharedCase, avx2 bool) (*Rules, *FailureRules, *sharedRules) {
	t.Helper()
	was := useAVX2
	useAVX2 = avx2
	defer func() { useAVX2 = was }()
	sev, err := CompileRules(c.sev)
	if err != nil {
		t.Fatal(err)
	}
	fail, err := CompileFailureRules(c.fail)
	if err != nil {
		t.Fatal(err)
	}
	return sev, fail, fail.sharedWith(sev)
}

// engineModes are the engines this machine runs: pairs (AVX2), and single
// anchor bytes, which every machine can run.
func engineModes() []bool {
	if useAVX2 {
		return []bool{true, false}
	}
	return []bool{false}
}

// sharedPick returns the first severity rule and the first failure rule
// the shared scan finds in msg (-1: none).
func sharedPick(sh *sharedRules, msg []byte, cls *classifyScratch) [2]int {
	s, f := sh.m.matchSets(msg, cls)
	if f >= 0 {
		f -= sh.m.split
	}
	return [2]int{s, f}
}

// One scan of a message through the shared rules finds what the severity
// rules and the failure rules find each on their own, and what trying
// every rule of each list in order finds: the first matching rule of each
// list, the same level. Both engines: pairs (AVX2) and single anchor bytes.
func TestSharedMatchEqualsSeparate(t *testing.T) {
	for ci, c := range sharedCases() {
		failCfg := asRuleConfigs(c.fail)
		sevRes, failRes := regexesOf(c.sev), regexesOf(failCfg)
		msgs := sharedMessages(t, c.sev, failCfg, uint64(ci))
		want := make([][2]int, len(msgs))
		for k, msg := range msgs {
			want[k] = [2]int{naive(c.sev, sevRes, msg), naive(failCfg, failRes, msg)}
		}
		for _, avx2 := range engineModes() {
			sev, fail, sh := compileShared(t, c, avx2)
			var cls classifyScratch
			for k, msg := range msgs {
				got := sharedPick(sh, msg, &cls)
				if got != want[k] {
					t.Fatalf("%s, AVX2 %v, %q: shared match picks rules %v, in order %v", c.name, avx2, msg, got, want[k])
				}
				s, f := got[0], got[1]
				if s != sev.match(msg, &cls) || f != fail.m.match(msg, &cls) {
					t.Fatalf("%s, AVX2 %v, %q: shared match picks rules %v, the separate matches %d, %d",
						c.name, avx2, msg, [2]int{s, f}, sev.match(msg, &cls), fail.m.match(msg, &cls))
				}
				lvl, fm := sh.match(msg, &cls)
				if lvl != sev.classify(msg, &cls) || fm != (failureMatch{rules: fail, rule: f}) {
					t.Fatalf("%s, AVX2 %v, %q: level %v, failure match %+v", c.name, avx2, msg, lvl, fm)
				}
			}
		}
	}
}

// No rule of either list is lost to a hit of the other: a message that
// holds an example of a severity rule and one of a failure rule, in either
// order, gets both lists' first matching rules from the shared scan.
func TestSharedMatchFindsEveryRule(t *testing.T) {
	c := sharedCases()[1]
	failCfg := asRuleConfigs(c.fail)
	sevRes, failRes := regexesOf(c.sev), regexesOf(failCfg)
	sevEx, failEx := ruleExamples(t, c.sev), ruleExamples(t, failCfg)
	var msgs [][]byte
	var want [][2]int
	// Every example takes part in a message where both lists match.
	sevBoth, failBoth := make([]bool, len(sevEx)), make([]bool, len(failEx))
	for i, s := range sevEx {
		for j, f := range failEx {
			for _, msg := range []string{s + "\n" + f, f + "\n" + s} {
				w := [2]int{naive(c.sev, sevRes, []byte(msg)), naive(failCfg, failRes, []byte(msg))}
				if w[0] >= 0 && w[1] >= 0 {
					sevBoth[i], failBoth[j] = true, true
				}
				msgs, want = append(msgs, []byte(msg)), append(want, w)
			}
		}
	}
	for i, ok := range sevBoth {
		if !ok {
			t.Errorf("severity rule %q: no message with its example matches rules of both lists", c.sev[i].Name)
		}
	}
	for j, ok := range failBoth {
		if !ok {
			t.Errorf("failure rule %q: no message with its example matches rules of both lists", failCfg[j].Name)
		}
	}
	for _, avx2 := range engineModes() {
		_, _, sh := compileShared(t, c, avx2)
		var cls classifyScratch
		for k, msg := range msgs {
			if got := sharedPick(sh, msg, &cls); got != want[k] {
				t.Fatalf("AVX2 %v, %q: shared match picks rules %v, in order %v", avx2, msg, got, want[k])
			}
		}
	}
}

// A stream that matches the failure rules in its severity scan emits the
// same records, and a classifier fed from it classifies as one that
// matches on its own: the same state after every log, whatever the
// chunks, with the shared scan switched on and off between them. A
// classifier with other failure rules matches on its own.
func TestStreamMatchFailureRules(t *testing.T) {
	fail := DefaultFailureRules()
	other, err := CompileFailureRules(sharedCases()[1].fail)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for name, data := range fixtureAndCorpusLogs(t) {
		var plain, shared []rec
		c1, c2, o1, o2 := NewFailureClassifier(fail), NewFailureClassifier(fail), NewFailureClassifier(other), NewFailureClassifier(other)
		s1 := NewStream(nil, func(r *Record) { plain = append(plain, copyRec(r)); c1.Record(r); o1.Record(r) })
		var sharing bool
		matched := 0
		s2 := NewStream(nil, func(r *Record) {
			shared = append(shared, copyRec(r))
			if r.failure.rules != nil {
				matched++
				if r.Source != SourceOutput {
					t.Fatalf("%s: a %s record carries a failure match", name, r.Source)
				}
				var cls classifyScratch
				if want := fail.m.match(r.Message, &cls); r.failure.rule != want {
					t.Fatalf("%s: %q carries failure rule %d, want %d", name, r.Message, r.failure.rule, want)
				}
			} else if sharing && r.Source == SourceOutput && r.HasTime {
				t.Fatalf("%s: output record %q without a failure match", name, r.Message)
			}
			c2.Record(r)
			o2.Record(r)
		})
		for k, p := 0, data; len(p) > 0; k++ {
			n := min(len(p), 1+rng.IntN(4096))
			if sharing = k%4 != 3; sharing {
				s2.MatchFailureRules(fail)
			} else {
				s2.MatchFailureRules(nil)
			}
			s1.Write(p[:n])
			s2.Write(p[:n])
			p = p[n:]
		}
		s1.Flush()
		s2.Flush()
		diffRecs(t, name, shared, plain)
		if !reflect.DeepEqual(c2.State(), c1.State()) || !reflect.DeepEqual(c2.Result(), c1.Result()) {
			t.Fatalf("%s: shared scan classifies %+v, separate %+v", name, c2.Result(), c1.Result())
		}
		if !reflect.DeepEqual(o2.State(), o1.State()) {
			t.Fatalf("%s: a classifier with other rules classifies %+v from a shared stream, %+v from a plain one", name, o2.Result(), o1.Result())
		}
		if matched == 0 && bytes.Contains(data, []byte("\n")) {
			t.Fatalf("%s: no record carried a failure match", name)
		}
	}
}

// The shared rules of a stream are compiled once for its severity rules
// and kept with the failure rules.
func TestSharedRulesKept(t *testing.T) {
	fail, err := CompileFailureRules(DefaultFailureRuleConfigs())
	if err != nil {
		t.Fatal(err)
	}
	sev := DefaultRules()
	if a, b := fail.sharedWith(sev), fail.sharedWith(sev); a != b || a.sev != sev || a.fail != fail {
		t.Fatal("the shared rules were compiled again for the same severity rules")
	}
	other, err := CompileRules(customRuleConfigs())
	if err != nil {
		t.Fatal(err)
	}
	if sh := fail.sharedWith(other); sh.sev != other || sh.m.split != other.Len() || len(sh.m.rules) != other.Len()+fail.Len() {
		t.Fatal("the shared rules do not follow the stream's severity rules")
	}
}

// FuzzSharedMatch: one scan through the shared default rules finds what
// the two separate matches find.
func FuzzSharedMatch(f *testing.F) {
	for _, s := range classifySeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte("+ echo No space left on device"))
	f.Add([]byte("[ERROR] npm error code E404 ... exit code 137"))
	sev, fail := DefaultRules(), DefaultFailureRules()
	sh := fail.sharedWith(sev)
	f.Fuzz(func(t *testing.T, msg []byte) {
		var cls classifyScratch
		lvl, fm := sh.match(msg, &cls)
		if want := fail.m.match(msg, &cls); lvl != sev.classify(msg, &cls) || fm.rule != want {
			t.Fatalf("%q: shared match gives %v and failure rule %d, the separate matches %v and %d", msg, lvl, fm.rule, sev.classify(msg, &cls), want)
		}
	})
}

// Over 256 rules the candidate set lives outside the scratch's fixed
// array: the result is the same, alone and shared.
func TestManyRegexRules(t *testing.T) {
	var sev []RuleConfig
	for i := range 300 {
		sev = append(sev, RuleConfig{Name: fmt.Sprintf("r%d", i), Regex: fmt.Sprintf(`tok%d [0-9]+x`, i), Level: "warning"})
	}
	c := sharedCase{"many", sev, DefaultFailureRuleConfigs()}
	res, failCfg := regexesOf(sev), asRuleConfigs(c.fail)
	failRes := regexesOf(failCfg)
	var msgs [][]byte
	for _, i := range []int{0, 63, 64, 255, 256, 299} {
		msgs = append(msgs, fmt.Appendf(nil, "tok%d 12x", i), fmt.Appendf(nil, "tok%d 12y No space left on device", i),
			fmt.Appendf(nil, "ENOSPC tok%d 7x tok1 3x", i))
	}
	for _, avx2 := range engineModes() {
		r, _, sh := compileShared(t, c, avx2)
		var cls classifyScratch
		for _, msg := range msgs {
			want := [2]int{naive(sev, res, msg), naive(failCfg, failRes, msg)}
			if got := r.match(msg, &cls); got != want[0] {
				t.Fatalf("AVX2 %v, %q: rule %d, in order %d", avx2, msg, got, want[0])
			}
			if got := sharedPick(sh, msg, &cls); got != want {
				t.Fatalf("AVX2 %v, %q: shared match picks rules %v, in order %v", avx2, msg, got, want)
			}
		}
	}
}
