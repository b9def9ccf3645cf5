package parser

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/loggen"
)

// logOf builds a log from "LEVEL|TAG|message" platform lines and plain output
// lines, one second apart, starting 2026/09/10 17:00:00 GMT+08:00.
func logOf(lines ...string) string {
	var b strings.Builder
	for i, l := range lines {
		fmt.Fprintf(&b, "[2026/09/10 17:00:%02d.000 GMT+08:00] ", i)
		if parts := strings.SplitN(l, "|", 3); len(parts) == 3 {
			if parts[1] == "" {
				fmt.Fprintf(&b, "[%s]  : %s\n", parts[0], parts[2])
			} else {
				fmt.Fprintf(&b, "[%s] [%s] : %s\n", parts[0], parts[1], parts[2])
			}
		} else {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func analyse(s string) *Analysis {
	z := NewAnalyzer(nil)
	z.Write([]byte(s))
	return z.Finish()
}

type runSummary struct {
	Tag, Result, EndedBy string
	Start, End           int // seconds after 17:00:00
	Err, Info            int64
}

func summarize(a *Analysis) []runSummary {
	var out []runSummary
	base := int64(1789030800000)
	for _, r := range a.Runs {
		out = append(out, runSummary{r.Tag, r.Result, r.EndedBy, int((r.StartMilli - base) / 1000), int((r.EndMilli - base) / 1000),
			r.Records[LevelError], r.Records[LevelInfo]})
	}
	return out
}

func labels(a *Analysis) map[string]int64 {
	m := map[string]int64{}
	for _, c := range a.Counts {
		m[c.Action+"/"+c.Source.String()+"/"+c.Level.String()] += c.Count
	}
	return m
}

func TestActionRuns(t *testing.T) {
	for _, tc := range []struct {
		name   string
		log    string
		runs   []runSummary
		labels map[string]int64
		status string
		result string
	}{
		{
			name: "markers, job-level records, exit code fails the open run",
			log: logOf("INFO||onStarted", "INFO|A:a1|该步骤开始执行", "out a", "INFO|A:a1|该步骤执行完成",
				"between", "INFO|B#b1|This step is start", "+ make", "ERROR||script returned exit code 2",
				"INFO|B#b1|This step is complete", "Finished: FAILURE"),
			runs: []runSummary{{"A:a1", "success", "marker", 1, 3, 0, 3}, {"B#b1", "failure", "marker", 5, 8, 1, 3}},
			labels: map[string]int64{"job/platform/info": 1, "A/platform/info": 2, "A/output/info": 1, "job/output/info": 1,
				"B/platform/info": 2, "B/output/info": 1, "B/platform/error": 1, "job/output/error": 1},
			status: "FAILURE", result: "failure",
		},
		{
			name: "failure marker, run without end closed by the next start, end of log",
			log: logOf("INFO|Cache Check|This action starts.", "INFO|Code checkout#pre|This action starts.", "fatal: no network",
				"ERROR|Code checkout#pre|Failed to complete this step", "INFO|Build:b|This action starts.", "compiling",
				"Finished: ABORTED"),
			runs: []runSummary{{"Cache Check", "unknown", "next-start", 0, 1, 0, 1}, {"Code checkout#pre", "failure", "marker", 1, 3, 2, 1},
				{"Build:b", "aborted", "end-of-log", 4, 6, 0, 2}},
			labels: map[string]int64{"Cache Check/platform/info": 1, "Code checkout/platform/info": 1, "Code checkout/output/error": 1,
				"Code checkout/platform/error": 1, "Build/platform/info": 1, "Build/output/info": 1, "Build/output/warning": 1},
			status: "ABORTED", result: "aborted",
		},
		{
			name: "output error does not fail a run; exit code 0 does not either",
			log: logOf("INFO|T:t|该步骤开始执行", "[ERROR] flaky check", "exit code 0", "INFO|T:t|该步骤执行完成",
				"Finished: SUCCESS"),
			runs:   []runSummary{{"T:t", "success", "marker", 0, 3, 1, 3}},
			labels: map[string]int64{"T/platform/info": 2, "T/output/error": 1, "T/output/info": 1, "job/output/info": 1},
			status: "SUCCESS", result: "success",
		},
		{
			name: "a tag without start marker labels records until it ends; end marker without run",
			log: logOf("INFO|X:x|working", "out", "INFO|X:x|This step is complete", "after", "INFO|X:x|late line", "more",
				"Finished: UNSTABLE"),
			runs:   nil,
			labels: map[string]int64{"X/platform/info": 3, "X/output/info": 1, "job/output/info": 2, "job/output/warning": 1},
			status: "UNSTABLE", result: "unknown",
		},
		{
			name: "newest open action wins; when it ends the older one takes over",
			log: logOf("INFO|A:a|该步骤开始执行", "INFO|B:b|working", "out1", "INFO|B:b|该步骤执行完成", "out2",
				"INFO|A:a|该步骤执行完成", "out3"),
			runs:   []runSummary{{"A:a", "success", "marker", 0, 5, 0, 3}},
			labels: map[string]int64{"A/platform/info": 2, "B/platform/info": 2, "B/output/info": 1, "A/output/info": 1, "job/output/info": 1},
			result: "unknown",
		},
		{
			name:   "same tag started twice",
			log:    logOf("INFO|R:r|该步骤开始执行", "INFO|R:r|该步骤开始执行", "INFO|R:r|该步骤执行失败"),
			runs:   []runSummary{{"R:r", "unknown", "next-start", 0, 1, 0, 1}, {"R:r", "failure", "marker", 1, 2, 0, 2}},
			labels: map[string]int64{"R/platform/info": 3},
			result: "unknown",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := analyse(tc.log)
			if got := summarize(a); fmt.Sprint(got) != fmt.Sprint(tc.runs) {
				t.Errorf("runs\n got %v\nwant %v", got, tc.runs)
			}
			if got := labels(a); fmt.Sprint(got) != fmt.Sprint(tc.labels) {
				t.Errorf("labels\n got %v\nwant %v", got, tc.labels)
			}
			if a.Build.Status != tc.status || a.Build.Result != tc.result || a.Build.Finished != (tc.status != "") {
				t.Errorf("build %+v, want status %q result %q", a.Build, tc.status, tc.result)
			}
		})
	}
}

func TestAnalysisFirstErrorAndLines(t *testing.T) {
	log := "preamble\n" + logOf("ok", "INFO|S:s|This step is start", "line\n  continued", "RuntimeError: "+strings.Repeat("é", 400)) +
		"unterminated"
	a := analyse(log)
	if a.Lines != 7 || a.Records != 5 {
		t.Errorf("lines %d records %d", a.Lines, a.Records)
	}
	fe := a.FirstError
	if fe == nil || fe.Line != 6 || fe.Action != "S" || fe.Source != SourceOutput || len(fe.Message) > MaxRefMessage ||
		!strings.HasPrefix(fe.Message, "RuntimeError: éé") || !strings.HasSuffix(fe.Message, "é") {
		t.Errorf("first error %+v", fe)
	}
	if a.Runs[0].FirstError == nil || a.Runs[0].FirstError.Line != 6 || a.Runs[0].EndedBy != EndedByEndOfLog {
		t.Errorf("run %+v", a.Runs[0])
	}
	if a.Bytes != int64(len(log)) {
		t.Errorf("bytes %d, want %d", a.Bytes, len(log))
	}
}

func TestHasFailingExitCode(t *testing.T) {
	for s, want := range map[string]bool{
		"script returned exit code 1": true, "exit code 0": false, "exit code 00, then exit code 3": true,
		"exit code ": false, "exit code x": false, "exit code 137 (killed)": true, "": false,
		"xexit code 2": true, "exit code exit code 2": true, "exxit code 1": false, "x": false, "exit code x exit code 5": true,
	} {
		if _, got, _ := scanMessage([]byte(s), true); got != want {
			t.Errorf("%q: got %v", s, got)
		}
	}
}

// A record's summary counts its lines and finds a failing exit code as a
// plain count and search over the whole record do, for every record of the
// fixtures, of a generated log and of random text with long records, lone
// carriage returns and platform headers ending the line.
func TestSummaryLinesAndExitCodes(t *testing.T) {
	logs := fixtures(t)
	var gen bytes.Buffer
	if _, err := loggen.Write(&gen, 2<<20, benchSeed); err != nil {
		t.Fatal(err)
	}
	logs["generated"] = gen.Bytes()
	rnd := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"[2026/09/10 17:26:22.661 GMT+08:00]", " [INFO] [A:b] : ", " [ERROR]  :", " [WARN] : ", "\n", "\r", "\r\n",
		"exit code ", "0", "7", "x", "e", "text ", "构建", strings.Repeat("long ", 20000), "DEV.CB.", "D", "DEV.CB", "xit ", "Exit ", "DEV."}
	for n := range 200 {
		var b strings.Builder
		for range rnd.IntN(40) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		logs[fmt.Sprint("random ", n)] = []byte(b.String())
	}
	for name, data := range logs {
		var blk summaryBlock
		var cls classifyScratch
		s := NewStream(nil, func(r *Record) {
			blk.reset(r.Raw)
			blk.summarize(r, DefaultFailureRules(), &cls)
			got := blk.recs[0]
			wantExit := false
			for m := r.Message; ; {
				i := bytes.Index(m, exitCodeWord)
				if i < 0 {
					break
				}
				m = m[i+len(exitCodeWord):]
				if d := len(m) - len(bytes.TrimLeft(m, "0123456789")); d > 0 && strings.Trim(string(m[:d]), "0") != "" {
					wantExit = true
				}
			}
			wantExit = wantExit && !(r.Source == SourcePlatform && r.Level == LevelError) && !got.fail
			if got.lines != r.Newlines() || got.failExit != wantExit {
				t.Fatalf("%s: record %q: lines %d, failing exit code %v; want %d, %v", name, r.Raw, got.lines, got.failExit, r.Newlines(), wantExit)
			}
			wantCode := bytes.Contains(r.Message, devCB) || bytes.Contains(r.Message, xitWord)
			if _, _, mayCode := scanMessage(r.Message, false); mayCode != wantCode {
				t.Fatalf("%s: record %q: may hold a code %v, want %v", name, r.Raw, mayCode, wantCode)
			}
		})
		_, _ = s.Write(data)
		s.Flush()
	}
}

// mayHaveMarker finds every marker wherever it lies in a message, across
// the 64-byte windows of its scan, and says no where no head occurs.
func TestMayHaveMarker(t *testing.T) {
	markers := slices.Concat(startMarkers, endMarkers, failMarkers)
	for _, m := range markers {
		for pad := range 140 {
			msg := append(bytes.Repeat([]byte("Tx F该"), pad/6+1)[:pad], m...)
			if !mayHaveMarker(msg) {
				t.Fatalf("%q: no marker found", msg)
			}
			if mayHaveMarker(msg[:len(msg)-len(m)+3]) != containsAny(msg[:len(msg)-len(m)+3], markerHeads) {
				t.Fatalf("%q: differs from a search for each head", msg[:len(msg)-len(m)+3])
			}
		}
	}
}
