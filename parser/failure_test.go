package parser

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// corpusCase is one line of testdata/failures/expected.tsv.
type corpusCase struct{ file, category, action string }

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	f, err := os.Open("testdata/failures/expected.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []corpusCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 3 {
			t.Fatalf("expected.tsv:%d: want 3 tab-separated fields, got %d", n, len(fields))
		}
		cases = append(cases, corpusCase{fields[0], fields[1], fields[2]})
	}
	return cases
}

// Every log of the failure corpus is classified as expected and blamed on
// the expected action; the accuracy is reported.
func TestFailureCorpus(t *testing.T) {
	cases := loadCorpus(t)
	perCategory := map[string]int{}
	right := 0
	for _, c := range cases {
		perCategory[c.category]++
		data, err := os.ReadFile(filepath.Join("testdata/failures", c.file))
		if err != nil {
			t.Fatal(err)
		}
		z := NewAnalyzer(nil)
		z.Write(data)
		a := z.Finish()
		if len(a.Failures) != 1 {
			t.Errorf("%s: %d failures, want 1: %+v", c.file, len(a.Failures), a.Failures)
			continue
		}
		f := a.Failures[0]
		if f.Category != c.category || f.Action != c.action {
			t.Errorf("%s: got %s blamed on %q (rule %q, cause %q), want %s on %q; evidence %+v",
				c.file, f.Category, f.Action, f.Rule, f.Cause, c.category, c.action, f.Evidence)
			continue
		}
		if len(f.Evidence) == 0 {
			t.Errorf("%s: no evidence", c.file)
			continue
		}
		right++
	}
	for _, cat := range Categories {
		if perCategory[cat] < 3 {
			t.Errorf("category %s has %d corpus logs, want at least 3", cat, perCategory[cat])
		}
	}
	if len(cases) < 36 {
		t.Errorf("corpus has %d logs, want at least 36", len(cases))
	}
	t.Logf("failure corpus: %d/%d classified and blamed correctly (%.1f%%)", right, len(cases), 100*float64(right)/float64(len(cases)))
}

// The evidence names the line of the deciding record in the whole log.
func TestFailureEvidenceLines(t *testing.T) {
	data, err := os.ReadFile("testdata/failures/network-checkout-codearts.log")
	if err != nil {
		t.Fatal(err)
	}
	z := NewAnalyzer(nil)
	z.Write(data)
	f := z.Finish().Failures[0]
	lines := strings.Split(string(data), "\n")
	found := false
	for _, e := range f.Evidence {
		if !strings.Contains(lines[e.Line-1], e.Text) {
			t.Errorf("evidence line %d is %q, not %q", e.Line, lines[e.Line-1], e.Text)
		}
		found = found || strings.Contains(e.Text, "Failed to pull the code")
	}
	if !found || f.Code != "DEV.CB.0210043" {
		t.Errorf("failure = %+v, want the DEV.CB.0210043 line as evidence and code", f)
	}
}

func classifyWhole(data []byte) Failure {
	c := NewFailureClassifier(nil)
	s := NewStream(nil, c.Record)
	s.Write(data)
	s.Flush()
	return c.Result()
}

// A classifier restored from its JSON state at any cut classifies exactly
// as an uninterrupted one: the collector depends on it across restarts.
func TestFailureClassifierRestoreAnywhere(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range loadCorpus(t) {
		data, err := os.ReadFile(filepath.Join("testdata/failures", c.file))
		if err != nil {
			t.Fatal(err)
		}
		want := classifyWhole(data)
		var cls *FailureClassifier
		var s *Stream
		var fst FailureState
		var sst StreamState
		for pos := 0; pos < len(data); {
			n := 1 + rng.IntN(200)
			end := min(pos+n, len(data))
			cls = NewFailureClassifier(nil)
			cls.Restore(fst)
			s = NewStream(nil, cls.Record)
			s.Restore(sst)
			s.Write(data[pos:end])
			pos = end
			// Through JSON, as the state file holds it.
			b, err := json.Marshal(cls.State())
			if err != nil {
				t.Fatal(err)
			}
			fst = FailureState{}
			if err := json.Unmarshal(b, &fst); err != nil {
				t.Fatal(err)
			}
			sst = s.State()
		}
		cls = NewFailureClassifier(nil)
		cls.Restore(fst)
		s = NewStream(nil, cls.Record)
		s.Restore(sst)
		s.Flush()
		if got := cls.Result(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: restored classification\n%+v\nwant\n%+v", c.file, got, want)
		}
	}
}

func outRec(level Level, msg string) *Record {
	return &Record{Raw: []byte(msg + "\n"), HasTime: true, Source: SourceOutput, Level: level, Message: []byte(msg)}
}

func TestFailureSpecificBeatsGeneric(t *testing.T) {
	c := NewFailureClassifier(nil)
	c.Record(outRec(LevelInfo, "Out of memory: Killed process 311 (java) total-vm:8000000kB"))
	for range 30 {
		c.Record(outRec(LevelInfo, "cleanup"))
	}
	c.Record(outRec(LevelError, "script returned exit code 137, exitMessage is: command run failed"))
	f := c.Result()
	if f.Category != CategoryOOM || f.ExitCode != "137" {
		t.Errorf("got %+v, want oom with exit code 137", f)
	}
	c = NewFailureClassifier(nil)
	c.Record(outRec(LevelError, "script returned exit code 137, exitMessage is: command run failed"))
	if f := c.Result(); f.Category != CategoryScript || f.Rule != "exit-137" {
		t.Errorf("without an OOM line got %+v, want script (exit-137)", f)
	}
}

func TestFailureEarlyNoiseIgnored(t *testing.T) {
	c := NewFailureClassifier(nil)
	c.Record(outRec(LevelWarning, "[WARNING] Could not transfer metadata: Connection reset, retrying"))
	for range FailureWindow + 1 {
		c.Record(outRec(LevelInfo, "[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/x.jar"))
	}
	c.Record(outRec(LevelError, "[ERROR] Tests run: 3, Failures: 1, Errors: 0, Skipped: 0"))
	if f := c.Result(); f.Category != CategoryTest {
		t.Errorf("got %+v, want test: the early network warning is noise", f)
	}
	// The same warning near the failure is evidence.
	c = NewFailureClassifier(nil)
	c.Record(outRec(LevelWarning, "Could not resolve host: repo.example.com"))
	c.Record(outRec(LevelError, "script returned exit code 1"))
	if f := c.Result(); f.Category != CategoryNetwork {
		t.Errorf("got %+v, want network", f)
	}
}

// The state stays bounded whatever the input.
func TestFailureStateBounded(t *testing.T) {
	c := NewFailureClassifier(nil)
	long := strings.Repeat("x", 1000)
	for i := range 60 {
		for _, rc := range defaultFailureRuleConfigs[:40] {
			if rc.Match != "" {
				c.Record(outRec(LevelError, fmt.Sprint(i, " ", rc.Match, long)))
			}
		}
	}
	st := c.State()
	b, _ := json.Marshal(st)
	if len(st.Hits) > maxHits || len(st.Errors) > maxErrorLines || len(b) > (maxHits+maxErrorLines)*(MaxEvidenceText+100)+200 {
		t.Errorf("state grew: %d hits, %d errors, %d bytes", len(st.Hits), len(st.Errors), len(b))
	}
	if f := c.Result(); len(f.Evidence) > MaxEvidence {
		t.Errorf("%d evidence lines", len(f.Evidence))
	}
}

func TestFailureRestoreHostileState(t *testing.T) {
	c := NewFailureClassifier(nil)
	hits := make([]FailureHit, 100)
	for i := range hits {
		hits[i] = FailureHit{Rule: "no-space-left", Seq: int64(i), Text: "x"}
	}
	hits = append(hits, FailureHit{Rule: "not-a-rule", Seq: 5})
	c.Restore(FailureState{Hits: hits, Errors: make([]Evidence, 50), Point: -7})
	c.Record(outRec(LevelError, "boom"))
	_ = c.Result()
	if st := c.State(); len(st.Hits) > maxHits || len(st.Errors) > maxErrorLines {
		t.Errorf("restored state not bounded: %d hits, %d errors", len(st.Hits), len(st.Errors))
	}
}

func TestFailureCodeAndExitCode(t *testing.T) {
	for _, tc := range []struct{ in, code, exit string }{
		{"DEV.CB.0210043 Failed to pull the code.", "DEV.CB.0210043", ""},
		{"script returned exit code 2, exitMessage is: command run failed", "", "2"},
		{"did not complete successfully: exit code: 127", "", "127"},
		{"npm ERR! Exit status 134", "", "134"},
		{"exit code 0 and exit status 0", "", ""},
		{"codes DEV.CB.1 then DEV.CB.22", "DEV.CB.22", ""},
		{"npm ERR! Exit status 134 after exit code 2", "", "2"},
		{"exit code 2, then Exit status 134", "", "134"},
	} {
		if got := codeIn(tc.in); got != tc.code {
			t.Errorf("codeIn(%q) = %q, want %q", tc.in, got, tc.code)
		}
		if got := exitCodeIn(tc.in); got != tc.exit {
			t.Errorf("exitCodeIn(%q) = %q, want %q", tc.in, got, tc.exit)
		}
	}
}

func TestCompileFailureRulesErrors(t *testing.T) {
	_, err := CompileFailureRules([]FailureRuleConfig{
		{Name: "a", Match: "x", Category: "cosmic-rays", Cause: "c"},
		{Name: "b", Regex: "(", Category: "oom", Cause: "c"},
		{Name: "c", Match: "x", Category: "oom"},
		{Name: "a", Match: "y", Category: "oom", Cause: "c"},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`failure rule 0 ("a"): category "cosmic-rays"`, `failure rule 1 ("b"): regex`, `failure rule 2 ("c"): cause is empty`, `failure rule 3 ("a"): name already used by failure rule 0`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// Every default rule has a literal or first-byte prefilter: none runs its
// regex on every record.
func TestDefaultFailureRulesPrefiltered(t *testing.T) {
	if n := len(DefaultFailureRules().m.always); n != 0 {
		for _, i := range DefaultFailureRules().m.always {
			t.Errorf("failure rule %q has no prefilter", defaultFailureRuleConfigs[i].Name)
		}
	}
}

// docs/failure-rules.md lists the default failure rules; keep it in step.
func TestDefaultFailureRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/failure-rules.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if len(line) > 2 && strings.HasPrefix(line, "| ") && line[2] >= '0' && line[2] <= '9' {
			rows++
		}
	}
	rules := DefaultFailureRuleConfigs()
	if rows != len(rules) {
		t.Errorf("docs/failure-rules.md has %d rule rows, the code %d rules", rows, len(rules))
	}
	for i, rc := range rules {
		kind, pat := "match", rc.Match
		if rc.Regex != "" {
			kind, pat = "regex", rc.Regex
		}
		generic := ""
		if rc.Generic {
			generic = " (generic)"
		}
		row := fmt.Sprintf("| %d | `%s` | %s | `%s` | %s%s | %s |", i+1, rc.Name, kind, strings.ReplaceAll(pat, "|", `\|`), rc.Category, generic, rc.Cause)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/failure-rules.md lacks the row %q", row)
		}
	}
}

// FuzzFailureClassifier: any log, cut anywhere with the state moved through
// JSON, classifies as the whole log does, and the state stays bounded.
func FuzzFailureClassifier(f *testing.F) {
	for _, c := range []string{"network-checkout-codearts.log", "oom-node-heap.log", "test-maven-surefire-network-noise.log"} {
		data, err := os.ReadFile(filepath.Join("testdata/failures", c))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint16(100))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		want := classifyWhole(data)
		at := min(int(cut), len(data))
		cls := NewFailureClassifier(nil)
		s := NewStream(nil, cls.Record)
		s.Write(data[:at])
		b, err := json.Marshal(cls.State())
		if err != nil {
			t.Fatal(err)
		}
		var st FailureState
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		cls2 := NewFailureClassifier(nil)
		cls2.Restore(st)
		s2 := NewStream(nil, cls2.Record)
		s2.Restore(s.State())
		s2.Write(data[at:])
		s2.Flush()
		got := cls2.Result()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("cut at %d: %+v, whole: %+v", at, got, want)
		}
		if len(got.Evidence) > MaxEvidence || len(cls2.State().Hits) > maxHits {
			t.Fatalf("unbounded: %d evidence, %d hits", len(got.Evidence), len(cls2.State().Hits))
		}
	})
}

// Every default rule's literal is case-sensitive: a case-folded literal
// cannot be anchored on a letter, which forced the common ' ' and 'e'
// anchors and made analyze half as fast again.
func TestDefaultFailureRulesCaseSensitiveLiterals(t *testing.T) {
	for i, cr := range DefaultFailureRules().m.rules {
		if cr.fold {
			t.Errorf("failure rule %q has a case-folded literal %q; spell the cases out ([Ee]rror)", defaultFailureRuleConfigs[i].Name, cr.lit)
		}
	}
}

// exitCodeInByWord is exitCodeIn as first written: each word searched for
// in turn, the rightmost non-zero code kept.
func exitCodeInByWord(s string) string {
	code, at := "", -1
	for _, word := range []string{"exit code", "exit status", "Exit status", "exit value"} {
		for off := 0; ; {
			i := strings.Index(s[off:], word)
			if i < 0 {
				break
			}
			off += i + len(word)
			rest := strings.TrimLeft(s[off:], ": ")
			n := 0
			for n < len(rest) && n < 10 && rest[n]-'0' < 10 {
				n++
			}
			if n > 0 && strings.Trim(rest[:n], "0") != "" && off > at {
				code, at = strings.TrimLeft(rest[:n], "0"), off
			}
		}
	}
	return code
}

// FuzzEvidenceScan: exitCodeIn finds what a search for each word finds,
// and firstLine cuts where bytes.IndexAny finds a line end.
func FuzzEvidenceScan(f *testing.F) {
	for _, s := range []string{
		"script returned exit code 2", "exit codexit code 7", "exit code exit code 3", "Exit status 134 after exit value 5",
		"xexit status: 09", "exit statusexit code 1\r\nexit code 2", "exit code\n", "", "x", "ex", "\rexit value 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := exitCodeIn(s), exitCodeInByWord(s); got != want {
			t.Errorf("exitCodeIn(%q) = %q, want %q", s, got, want)
		}
		want := []byte(s)
		if i := bytes.IndexAny(want, "\r\n"); i >= 0 {
			want = want[:i]
		}
		if got := firstLine([]byte(s)); !bytes.Equal(got, want) {
			t.Errorf("firstLine(%q) = %q, want %q", s, got, want)
		}
	})
}
