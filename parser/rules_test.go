package parser

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDefaultRulesExamples(t *testing.T) {
	for _, tc := range []struct {
		msg   string
		level Level
		rule  string // "" = no rule matched
	}{
		// Tool output carrying its own level.
		{"[ERROR] Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:3.11.0:compile", LevelError, "tool-error"},
		{"[WARNING] Using platform encoding (UTF-8 actually)", LevelWarning, "tool-warning"},
		{"[INFO] BUILD FAILURE", LevelError, "maven-build-failure"},
		{"[INFO] BUILD SUCCESS", LevelInfo, "tool-info"},
		{"[INFO] Tests run: 42, Failures: 0, Errors: 0, Skipped: 1", LevelInfo, "tool-info"},
		{"[INFO] error: none", LevelInfo, "tool-info"},
		{"[DEBUG] Using local repository", LevelDebug, "tool-debug"},
		{"2026-09-10 09:28:01 [sched] [281473700065568] [ERROR] Environment allocation rejected", LevelError, "tool-error"},
		{"2026-09-10 09:27:30 [sched] [281473752154144] [WARNING] pytest collect stderr:", LevelWarning, "tool-warning"},
		{"[2026-09-10 09:27:30][INFO][plugin.py:285] Infra logging initialized", LevelInfo, "tool-info"},
		{"[ERROR]execute openlibing-pytest-executor. main.py fail", LevelError, "tool-error"},
		{"[WARN]DEV.CB.02101217,用户名或密码为空。", LevelWarning, "tool-warn"},
		{"BUILD FAILED in 3s", LevelError, "gradle-build-failed"},
		{"FAILURE: Build failed with an exception.", LevelError, "gradle-failure"},
		// Shell trace: the command, not its outcome.
		{"+ echo '[ERROR]execute openlibing-pytest-executor. main.py fail'", LevelInfo, "shell-xtrace"},
		{"++ grep -Eo 'error: [0-9]+'", LevelInfo, "shell-xtrace"},
		{"+ exit 1", LevelInfo, "shell-xtrace"},
		// npm.
		{"npm ERR! code ELIFECYCLE", LevelError, "npm-err"},
		{"npm error code E404", LevelError, "npm-error"},
		{"npm WARN deprecated request@2.88.2", LevelWarning, "npm-warn"},
		{"npm warn deprecated inflight@1.0.6", LevelWarning, "npm-warn-lower"},
		// Go.
		{"panic: runtime error: index out of range [3] with length 3", LevelError, "go-panic"},
		{"--- FAIL: TestParseOrder (0.00s)", LevelError, "go-test-fail"},
		{"    --- FAIL: TestParseOrder/sub (0.00s)", LevelError, "go-test-fail"},
		{"FAIL\texample.com/polyglot/order\t0.021s", LevelError, "go-test-pkg-fail"},
		{"ok  \texample.com/polyglot/util\t0.004s", LevelInfo, ""},
		// Python and Java.
		{"Traceback (most recent call last):", LevelError, "python-traceback"},
		{"RuntimeError: Environment allocation rejected: Unknown", LevelError, "exception-error"},
		{"java.lang.IllegalStateException: boom", LevelError, "exception"},
		{"raise RuntimeError(", LevelInfo, ""},
		{"conftest.py:19: PytestUnknownMarkWarning: Unknown pytest.mark.archive_src", LevelWarning, "generic-warning-title"},
		// Exit codes.
		{"script returned exit code 1", LevelError, "exit-code"},
		{"Process exited with exit code 0", LevelInfo, ""},
		{"subprocess.CalledProcessError: Command 'make' returned non-zero exit status 2.", LevelError, "exception-error"},
		{"Command 'make' returned non-zero exit status 2.", LevelError, "exit-status"},
		// Generic words.
		{"ERROR: Could not find a version that satisfies the requirement", LevelError, "generic-error-upper"},
		{"main.c:3:10: fatal error: x.h: No such file or directory", LevelError, "generic-error"},
		{"fatal: unable to access 'https://example.com/x.git/'", LevelError, "generic-fatal"},
		{"FATAL Out of memory", LevelError, "generic-fatal-start"},
		{"FATAL: out of memory", LevelError, "generic-fatal-upper"},
		{"2026-09-10 FATAL [main] x", LevelInfo, ""},
		{"WARNING: apt does not have a stable CLI interface.", LevelWarning, "generic-warning-upper"},
		{"warning: LF will be replaced by CRLF", LevelWarning, "generic-warning"},
		{"Finished: FAILURE", LevelError, "finished-failure"},
		{"Finished: UNSTABLE", LevelWarning, "finished-unstable"},
		{"Finished: SUCCESS", LevelInfo, ""},
		// False positives that must stay info.
		{"Compiler: 0 error(s), errors=0, warnings=0", LevelInfo, ""},
		{"'infra_log_level': 'INFO', 'error_log_fail': 'true'", LevelInfo, ""},
		{"on_error: continue", LevelInfo, ""},
		{"NONFATAL condition", LevelInfo, ""},
		{"Tests run: 5, Failures: 0, Errors: 0", LevelInfo, ""},
		{"state: Code checkout, status: error", LevelInfo, ""},
		{"the errors: list is empty", LevelInfo, ""},
		{"", LevelInfo, ""},
	} {
		lvl, i := DefaultRules().Classify([]byte(tc.msg))
		name := ""
		if i >= 0 {
			name = DefaultRules().RuleName(i)
		}
		if lvl != tc.level || name != tc.rule {
			t.Errorf("%q: got %v by %q, want %v by %q", tc.msg, lvl, name, tc.level, tc.rule)
		}
	}
}

// naive is the reference semantics: the first rule, in order, whose
// substring is contained or whose regex matches.
func naive(rules []RuleConfig, res []*regexp.Regexp, msg []byte) int {
	for i, rc := range rules {
		if rc.Match != "" {
			if bytes.Contains(msg, []byte(rc.Match)) {
				return i
			}
		} else if res[i].Match(msg) {
			return i
		}
	}
	return -1
}

// customRuleConfigs are the default severity rules and more that exercise
// the corners of the engine: a case-folded literal, a regex without a
// literal, case folds outside ASCII, U+FFFD, and over 64 rules (a
// candidate set of several words).
func customRuleConfigs() []RuleConfig {
	custom := append(DefaultRuleConfigs(),
		RuleConfig{Name: "ci-error", Regex: `(?i)build step: error`, Level: "error"},
		RuleConfig{Name: "no-literal", Regex: `[0-9]{3}x`, Level: "warning"},
		RuleConfig{Name: "alt", Regex: `^(?:gcc|clang): `, Level: "warning"},
		RuleConfig{Name: "unicode", Match: "构建失败", Level: "error"},
		RuleConfig{Name: "fold-unicode", Regex: `(?i)ß: stop`, Level: "debug"},
		// Case folds outside ASCII: k also matches the Kelvin sign
		// (3 bytes), s the long s (2 bytes), σ the Σ of other bytes.
		RuleConfig{Name: "fold-kelvin", Regex: `(?i)desk: full`, Level: "warning"},
		RuleConfig{Name: "fold-sigma", Regex: `(?i)xσ:`, Level: "warning"},
		// U+FFFD also matches an invalid byte.
		RuleConfig{Name: "replacement", Regex: `bad\x{FFFD}byte`, Level: "warning"},
	)
	// More than 64 rules exercise the multi-word candidate set.
	for i := 0; i < 70; i++ {
		custom = append(custom, RuleConfig{Name: fmt.Sprintf("r%d", i), Regex: fmt.Sprintf(`tok%d\b`, i), Level: "debug"})
	}
	custom = append(custom, RuleConfig{Name: "late", Match: "LATE!", Level: "error"})
	return custom
}

// The prefilter never changes the result: random messages built from rule
// literals, near misses and noise classify like the naive evaluation, with
// both engines (pairs with AVX2, single anchor bytes without).
func TestPrefilterEqualsNaive(t *testing.T) {
	custom := customRuleConfigs()
	for _, rules := range [][]RuleConfig{DefaultRuleConfigs(), custom} {
		compiled, err := CompileRules(rules)
		if err != nil {
			t.Fatal(err)
		}
		// The engine of machines without AVX2 (single anchor bytes).
		avx2 := useAVX2
		useAVX2 = false
		bytewise, err := CompileRules(rules)
		useAVX2 = avx2
		if err != nil {
			t.Fatal(err)
		}
		res := make([]*regexp.Regexp, len(rules))
		for i, rc := range rules {
			if rc.Regex != "" {
				res[i] = regexp.MustCompile(rc.Regex)
			}
		}
		var pieces []string
		for _, rc := range rules {
			for _, s := range []string{rc.Match, rc.Regex} {
				if s == "" {
					continue
				}
				s = strings.NewReplacer(`\b`, "", `\w*`, "", `\+`, "+", `^`, "", `(?m)`, "", `\s*`, " ", `(?i)`, "", `\t`, "\t").Replace(s)
				pieces = append(pieces, s, strings.ToUpper(s), s[:len(s)/2], s[len(s)/2:])
			}
		}
		pieces = append(pieces, " ", "\n", "a", "123x", "tok7", "tok70", "Z", ":", "[", "+ ", "gcc: ", "SS: stop", "ß: STOP", "构建", "失败",
			"de\u017f\u212a: FULL", "DESK: full", "X\u03a3:", "x\u03c3:", "bad\xffbyte", "bad\ufffdbyte")
		rng := rand.New(rand.NewPCG(3, 4))
		for n := 0; n < 30000; n++ {
			var b []byte
			for k := rng.IntN(6); k >= 0; k-- {
				b = append(b, pieces[rng.IntN(len(pieces))]...)
			}
			want := naive(rules, res, b)
			if _, got := compiled.Classify(b); got != want {
				t.Fatalf("%q: prefilter picks rule %d, naive %d", b, got, want)
			}
			if _, got := bytewise.Classify(b); got != want {
				t.Fatalf("without AVX2, %q: prefilter picks rule %d, naive %d", b, got, want)
			}
		}
	}
}

func TestCompileRulesErrors(t *testing.T) {
	for _, tc := range []struct {
		rule RuleConfig
		want string
	}{
		{RuleConfig{Name: "both", Match: "x", Regex: "x", Level: "error"}, `severity rule 1 ("both"): set either match or regex, not both`},
		{RuleConfig{Name: "none", Level: "error"}, `severity rule 1 ("none"): set match (a substring) or regex`},
		{RuleConfig{Name: "lvl", Match: "x", Level: "critical"}, `severity rule 1 ("lvl"): level "critical" is not one of error, warning, info, debug`},
		{RuleConfig{Name: "re", Regex: "a(", Level: "info"}, `severity rule 1 ("re"): regex: error parsing regexp: missing closing )`},
		{RuleConfig{Match: "x", Level: "info"}, `severity rule 1 (""): name is empty`},
	} {
		_, err := CompileRules([]RuleConfig{{Name: "ok", Match: "ok", Level: "info"}, tc.rule})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.rule, err, tc.want)
		}
	}
	r, err := CompileRules(nil)
	if err != nil || r.Len() != 0 {
		t.Fatalf("empty rules: %v", err)
	}
	if lvl, i := r.Classify([]byte("ERROR: x")); lvl != LevelInfo || i != -1 {
		t.Errorf("empty rules classify as %v/%d", lvl, i)
	}
	if _, err := CompileRules([]RuleConfig{{Name: "Upper", Match: "x", Level: "WARNING"}}); err != nil {
		t.Errorf("level names ignore case: %v", err)
	}
}

// Custom rules change the level of output records only; platform levels come
// from the platform.
func TestCustomRulesInStream(t *testing.T) {
	rules, err := CompileRules([]RuleConfig{{Name: "oom", Regex: `(?i)out of memory`, Level: "error"}, {Name: "dbg", Match: "trace:", Level: "debug"}})
	if err != nil {
		t.Fatal(err)
	}
	in := "[2026/09/10 17:26:22.661 GMT+08:00] Java heap: OUT OF MEMORY\n" +
		"[2026/09/10 17:26:22.661 GMT+08:00] [ERROR] x\n" +
		"[2026/09/10 17:26:22.661 GMT+08:00] trace: 1\n" +
		"[2026/09/10 17:26:22.661 GMT+08:00] [INFO] [A:b] : out of memory\n"
	got := parseAll(rules, []byte(in))
	want := []Level{LevelError, LevelInfo, LevelDebug, LevelInfo}
	for i, r := range got {
		if r.Level != want[i] {
			t.Errorf("record %d %v: want %v", i, r, want[i])
		}
	}
}

func TestAnchorsAreFew(t *testing.T) {
	// Without AVX2, up to four anchors share one SIMD pass over every
	// output message (anchorscan.go) and each hit costs a check: the
	// defaults must stay within one pass there. (With AVX2 any number of
	// anchors cost one pass.)
	avx2 := useAVX2
	useAVX2 = false
	r, err := CompileRules(DefaultRuleConfigs())
	useAVX2 = avx2
	if err != nil {
		t.Fatal(err)
	}
	if a := r.anchors(); len(a) > anchorsPerVec {
		t.Errorf("without AVX2, default rules scan for %d anchor bytes %q; keep it at %d or fewer", len(a), a, anchorsPerVec)
	}
	if len(DefaultRules().always) != 0 {
		t.Errorf("default rules %v run their regex on every record", DefaultRules().always)
	}
}

// The failure rules' matching (anchors, neighbour keys, regexes expanded
// into literals, start-byte checks) picks the rule that trying every rule
// in order with bytes.Contains and package regexp picks: on every message
// of the fixtures and the failure corpus, and on random messages built
// from the rules' literals, their case and digit variants and noise. Both
// anchor choices are checked: with AVX2 (any number of anchors) and
// without (at most a few, by set cover).
func TestFailureMatchEqualsNaive(t *testing.T) {
	cfgs := DefaultFailureRuleConfigs()
	rules := make([]RuleConfig, len(cfgs))
	res := make([]*regexp.Regexp, len(cfgs))
	for i, fc := range cfgs {
		rules[i] = RuleConfig{Name: fc.Name, Match: fc.Match, Regex: fc.Regex, Level: "info"}
		if fc.Regex != "" {
			res[i] = regexp.MustCompile(fc.Regex)
		}
	}
	msgs := fixtureMessages(t)
	var pieces []string
	for i, cr := range DefaultFailureRules().m.rules {
		lits := []string{cfgs[i].Match, string(cr.lit)}
		for _, sh := range cr.shapes {
			lits = append(lits, string(sh.lit), string(sh.lead)+string(sh.lit))
		}
		for _, l := range lits {
			if l != "" {
				pieces = append(pieces, l, strings.ToUpper(l), strings.ToLower(l), l[:len(l)/2], l[len(l)/2:], l[1:], l[:len(l)-1])
			}
		}
	}
	pieces = append(pieces, " ", "\n", "\t", ":", "0", "1", "137", "1370", "42", "x", "_", "/", ".", "::", "'", "\"", "a.c:1:2", "超时", "\xe8", "\xff")
	rng := rand.New(rand.NewPCG(5, 6))
	for range 40000 {
		var b []byte
		for k := rng.IntN(5); k >= 0; k-- {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		msgs = append(msgs, b)
	}
	avx2 := useAVX2
	defer func() { useAVX2 = avx2 }()
	for _, mode := range []bool{avx2, false} {
		useAVX2 = mode
		f, err := CompileFailureRules(cfgs)
		if err != nil {
			t.Fatal(err)
		}
		var cls classifyScratch
		for _, msg := range msgs {
			if got, want := f.m.match(msg, &cls), naive(rules, res, msg); got != want {
				t.Fatalf("AVX2 %v, %q: match picks rule %d, naive %d", mode, msg, got, want)
			}
		}
	}
}

// Regexes that denote a few literals with assertions are evaluated as
// those literals, without package regexp; the rest keep their regex.
func TestShapesOf(t *testing.T) {
	for _, tc := range []struct {
		re   string
		lits []string // nil: not reducible
	}{
		{`[Ee]nvironment allocation (?:rejected|failed)`, []string{"Environment allocation failed", "Environment allocation rejected", "environment allocation failed", "environment allocation rejected"}},
		{`[Ee]xit code:? 137\b`, []string{"Exit code 137", "Exit code: 137", "exit code 137", "exit code: 137"}},
		{`DEV\.CB\.\d+`, []string{"DEV.CB.[0123456789]"}},
		{`\b[Ee]xit code:? [1-9]`, []string{"Exit code [123456789]", "Exit code: [123456789]", "exit code [123456789]", "exit code: [123456789]"}},
		{`x[ab][cd]\b`, []string{"x[ab][cd]"}},
		{`[ab]`, []string{"a", "b"}},
		{`^\++ `, []string{" "}},
		{`(?m)^MemoryError\b`, []string{"MemoryError"}},
		{`资源(?:池)?(?:不足|已满)`, []string{"资源不足", "资源已满", "资源池不足", "资源池已满"}},
		{`(?i)k`, []string{"K", "k", "\u212a"}},
		{`\d+/\d+ nodes`, nil},           // a repetition in the middle
		{`\d+\b`, nil},                   // X+ then an assertion
		{`a\bb`, nil},                    // an assertion in the middle
		{`(?i)out of memory`, nil},       // too many case variants
		{`[^x]y`, nil},                   // too large a class
		{`x\x{FFFD}`, nil},               // U+FFFD also matches an invalid byte
		{`(?:a|)b`, []string{"ab", "b"}}, // an empty alternative inside
		{`(?:a)?`, nil},                  // can match the empty string
		{`\bexit code [1-9][0-9]*`, []string{"exit code [123456789]"}},
		{`a[0-9]*b`, nil}, // a repetition in the middle
		{`^\s*\d+ failing$`, nil},
	} {
		re, err := syntax.Parse(tc.re, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, sh := range shapesOf(re.Simplify()) {
			l := string(sh.lit)
			for _, set := range sh.post { // as a class of the bytes in it
				l += "["
				for c := range utf8.RuneSelf {
					if set[c>>6]&(1<<(c&63)) != 0 {
						l += string(rune(c))
					}
				}
				l += "]"
			}
			got = append(got, l)
		}
		if !slices.Equal(got, tc.lits) {
			t.Errorf("%s: literals %q, want %q", tc.re, got, tc.lits)
		}
	}
}

// BenchmarkMatch times the matching engine alone: every message of the
// fixtures and the failure corpus through the severity rules, through the
// failure rules, through both one after the other and through both in one
// scan (sharedRules, what a Stream told MatchFailureRules does) (MB/s of
// message text).
//
//	go test -run X -bench Match -count 5 ./parser
func BenchmarkMatch(b *testing.B) {
	msgs := fixtureMessages(b)
	size := 0
	for _, m := range msgs {
		size += len(m)
	}
	sev, fail := DefaultRules(), DefaultFailureRules()
	shared := fail.sharedWith(sev)
	for _, tc := range []struct {
		name  string
		match func([]byte, *classifyScratch) int
	}{
		{"severity", sev.match},
		{"failure", fail.m.match},
		{"both-separate", func(m []byte, cls *classifyScratch) int { return sev.match(m, cls) + fail.m.match(m, cls) }},
		{"both-shared", func(m []byte, cls *classifyScratch) int {
			lvl, f := shared.match(m, cls)
			return int(lvl) + f.rule
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			var cls classifyScratch
			n := 0
			for b.Loop() {
				for _, m := range msgs {
					n += tc.match(m, &cls)
				}
			}
			_ = n
		})
	}
}

// fixtureAndCorpusLogs returns the fixtures and the logs of the failure
// corpus, by path.
func fixtureAndCorpusLogs(tb testing.TB) map[string][]byte {
	logs := fixtures(tb)
	corpus, err := filepath.Glob("testdata/failures/*.log")
	if err != nil || len(corpus) == 0 {
		tb.Fatalf("failure corpus: %v", err)
	}
	for _, p := range corpus {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		logs[p] = b
	}
	return logs
}

// fixtureMessages returns the messages of every record of the fixtures and
// the failure corpus.
func fixtureMessages(tb testing.TB) [][]byte {
	var msgs [][]byte
	for _, data := range fixtureAndCorpusLogs(tb) {
		s := NewStream(nil, func(r *Record) { msgs = append(msgs, slices.Clone(r.Message)) })
		s.Write(data)
		s.Flush()
	}
	return msgs
}

// BenchmarkClassifierCost times, back to back in every iteration, a Stream
// alone and a Stream feeding a FailureClassifier on the real pytest fixture,
// and reports their ratio (with-classifier time over stream time): the
// failure rules' match is most of the difference. In the shared variant
// the stream matches the failure rules in its scan of the severity rules
// (MatchFailureRules), as the collector's streams do.
//
//	go test -run X -bench ClassifierCost -benchtime 2000x ./parser
func BenchmarkClassifierCost(b *testing.B) {
	data, err := os.ReadFile("../analyze/testdata/full-build-failure-pytest.log")
	if err != nil {
		b.Fatal(err)
	}
	for _, shared := range []bool{false, true} {
		b.Run(fmt.Sprintf("shared=%v", shared), func(b *testing.B) {
			backToBack(b, len(data), "stream", func() {
				s := NewStream(nil, func(*Record) {})
				s.Write(data)
				s.Flush()
			}, "classifier", func() {
				c := NewFailureClassifier(nil)
				s := NewStream(nil, c.Record)
				if shared {
					s.MatchFailureRules(DefaultFailureRules())
				}
				s.Write(data)
				s.Flush()
				_ = c.Result()
			}, "ratio")
		})
	}
}

// A regex that runs only after its literal was found is skipped when the
// message lacks one of the strings every match contains.
func TestRegexNeeds(t *testing.T) {
	for _, tc := range []struct {
		re, lit string
		want    [][]string
	}{
		{`DEV\.CB\.\d+.*(?:[Tt]imed? ?out|超时)`, "DEV.CB.", [][]string{{"Time out", "Timed out", "Timedout", "Timeout", "time out", "timed out", "timedout", "timeout", "超时"}}},
		{`^=+ (?:.*, )?\d+ failed`, "", [][]string{{" failed"}}},
		{`\.go:\d+:\d+: `, ".go:", [][]string{{": "}}},
		{`a[bc]?d+`, "", nil},                        // "", one byte: nothing to look for
		{`x(?:a|b|c|d|e|f|g|h|i|j|k|l|m)y`, "", nil}, // too many strings
	} {
		var got [][]string
		for _, set := range regexNeeds(tc.re, []byte(tc.lit)) {
			var strs []string
			for _, s := range set {
				strs = append(strs, string(s))
			}
			got = append(got, strs)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: needs %q, want %q", tc.re, got, tc.want)
		}
	}
}

// BenchmarkCompileDefaults compiles the default severity and failure rules,
// what the parser package does once at start-up:
//
//	go test -run X -bench CompileDefaults ./parser
func BenchmarkCompileDefaults(b *testing.B) {
	b.Run("severity", func(b *testing.B) {
		for b.Loop() {
			if _, err := CompileRules(defaultRuleConfigs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failure", func(b *testing.B) {
		for b.Loop() {
			if _, err := CompileFailureRules(defaultFailureRuleConfigs); err != nil {
				b.Fatal(err)
			}
		}
	})
}
