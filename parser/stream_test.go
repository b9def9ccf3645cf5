package parser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rec is a deep copy of a Record for comparisons.
type rec struct {
	Raw, Tag, Action, ActionID, Message string
	HasTime                             bool
	UnixMilli                           int64
	Source                              Source
	Level                               Level
	Cut                                 RecordCut
}

func (r rec) String() string {
	return fmt.Sprintf("{%s %s t=%v/%d tag=%q act=%q id=%q msg=%q}", r.Source, r.Level, r.HasTime, r.UnixMilli, r.Tag, r.Action, r.ActionID, r.Message)
}

func copyRec(r *Record) rec {
	return rec{Raw: string(r.Raw), Tag: string(r.Tag), Action: string(r.Action), ActionID: string(r.ActionID),
		Message: string(r.Message), HasTime: r.HasTime, UnixMilli: r.UnixMilli, Source: r.Source, Level: r.Level, Cut: r.Cut}
}

func parseAll(rules *Rules, data []byte) []rec {
	var out []rec
	s := NewStream(rules, func(r *Record) { out = append(out, copyRec(r)) })
	s.Write(data)
	s.Flush()
	return out
}

// parseChunks feeds data split at the given cut points; when restore is
// set, it moves the state through JSON into a new Stream at every cut.
func parseChunks(data []byte, cuts []int, restore bool) []rec {
	var out []rec
	emit := func(r *Record) { out = append(out, copyRec(r)) }
	s := NewStream(nil, emit)
	prev := 0
	for _, c := range append(cuts, len(data)) {
		chunk := append([]byte(nil), data[prev:c]...) // the caller may reuse its buffer
		s.Write(chunk)
		clear(chunk)
		prev = c
		if restore {
			js, err := json.Marshal(s.State())
			if err != nil {
				panic(err)
			}
			var st StreamState
			if err := json.Unmarshal(js, &st); err != nil {
				panic(err)
			}
			s = NewStream(nil, emit)
			s.Restore(st)
		}
	}
	s.Flush()
	return out
}

// fixtures returns every log the tests know: the real fixtures (copied byte
// for byte into ../analyze/testdata) and the ones written for this project.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("../analyze/testdata/*.log")
	if err != nil || len(paths) < 5 {
		t.Fatalf("fixtures: %v (found %d)", err, len(paths))
	}
	m := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m[filepath.Base(p)] = b
	}
	return m
}

// sumRaw is the bytes the records cover: Raw and the Cut of long ones.
func sumRaw(rs []rec) int {
	n := 0
	for _, r := range rs {
		n += len(r.Raw) + int(r.Cut.Bytes)
	}
	return n
}

func diffRecs(t *testing.T, name string, got, want []rec) {
	t.Helper()
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			t.Fatalf("%s: record %d differs:\n got %v\nwant %v", name, i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: got %d records, want %d", name, len(got), len(want))
	}
}

func TestFixturesWhole(t *testing.T) {
	for name, data := range fixtures(t) {
		rs := parseAll(nil, data)
		if sumRaw(rs) != len(data) {
			t.Errorf("%s: records cover %d bytes, input has %d", name, sumRaw(rs), len(data))
		}
		for i, r := range rs {
			if i > 0 && !r.HasTime {
				t.Errorf("%s: record %d has no time: %q", name, i, r.Raw)
			}
			if r.HasTime {
				if res, _, _ := matchPrefix([]byte(r.Raw)); res != prefixYes {
					t.Errorf("%s: record %d does not start with a prefix", name, i)
				}
			}
			if r.Source == SourcePlatform && r.Tag != "" && r.Action == "" {
				t.Errorf("%s: record %d has a tag but no action", name, i)
			}
		}
	}
}

// The real fixtures' known shapes (README of the fixtures).
func TestRealFixtureFacts(t *testing.T) {
	fx := fixtures(t)
	rs := parseAll(nil, fx["full-build-failure-pytest.log"])
	lines := bytes.Count(fx["full-build-failure-pytest.log"], []byte{'\n'})
	// 537 lines, 21 without a prefix, 2 lines holding two records each.
	if lines != 537 || len(rs) != 537-21+2 {
		t.Errorf("pytest: %d lines, %d records; want 537 lines and 518 records", lines, len(rs))
	}
	var glued, platform, jobLevel int
	for i, r := range rs {
		if strings.HasSuffix(r.Raw, "password**** ") {
			glued++
			if !strings.HasPrefix(rs[i+1].Message, "scmType is gitcode") {
				t.Errorf("record after glued one: %v", rs[i+1])
			}
		}
		if r.Source == SourcePlatform {
			platform++
			if r.Tag == "" {
				jobLevel++
			}
		}
	}
	if glued != 2 || platform != 17 || jobLevel != 3 {
		t.Errorf("glued=%d platform=%d job-level=%d; want 2, 17, 3", glued, platform, jobLevel)
	}
	last := rs[len(rs)-1]
	if last.Message != "Finished: FAILURE" || last.Level != LevelError || last.Source != SourceOutput {
		t.Errorf("last record %v", last)
	}
	exit := rs[len(rs)-3]
	if exit.Source != SourcePlatform || exit.Level != LevelError || exit.Tag != "" ||
		exit.Message != "script returned exit code 1, exitMessage is: command run failed" {
		t.Errorf("exit code record %v", exit)
	}
}

func TestRecordShapes(t *testing.T) {
	const p1 = "[2026/09/10 17:26:22.661 GMT+08:00]"
	const ms1 = 1789032382661
	for _, tc := range []struct {
		name string
		in   string
		want []rec
	}{
		{"text before the first prefix", "apt progress\r\nmore\n" + p1 + " x\n", []rec{
			{Raw: "apt progress\r\nmore\n", Message: "apt progress\r\nmore", Source: SourceOutput, Level: LevelInfo},
			{Raw: p1 + " x\n", Message: "x", HasTime: true, UnixMilli: ms1, Source: SourceOutput, Level: LevelInfo},
		}},
		{"glued records and prefix-only record", p1 + " a " + p1 + "\n" + p1, []rec{
			{Raw: p1 + " a ", Message: "a ", HasTime: true, UnixMilli: ms1, Source: SourceOutput, Level: LevelInfo},
			{Raw: p1 + "\n", Message: "", HasTime: true, UnixMilli: ms1, Source: SourceOutput, Level: LevelInfo},
			{Raw: p1, Message: "", HasTime: true, UnixMilli: ms1, Source: SourceOutput, Level: LevelInfo},
		}},
		{"continuation lines and CRLF", p1 + " [INFO] [BUILD:build_execute] : start\r\n(progress 5%\r\n(progress 10%\r\n", []rec{
			{Raw: p1 + " [INFO] [BUILD:build_execute] : start\r\n(progress 5%\r\n(progress 10%\r\n", Tag: "BUILD:build_execute",
				Action: "BUILD", ActionID: "build_execute", Message: "start\r\n(progress 5%\r\n(progress 10%",
				HasTime: true, UnixMilli: ms1, Source: SourcePlatform, Level: LevelInfo},
		}},
		{"job-level, two spaces", p1 + " [ERROR]  : script returned exit code 1\n", []rec{
			{Raw: p1 + " [ERROR]  : script returned exit code 1\n", Message: "script returned exit code 1",
				HasTime: true, UnixMilli: ms1, Source: SourcePlatform, Level: LevelError},
		}},
		{"job-level, one space", p1 + " [WARN] : w\n", []rec{
			{Raw: p1 + " [WARN] : w\n", Message: "w", HasTime: true, UnixMilli: ms1, Source: SourcePlatform, Level: LevelWarning},
		}},
		{"INTERNAL, tag with #", p1 + " [INTERNAL] [Code checkout#preCheckout] : x\n", []rec{
			{Raw: p1 + " [INTERNAL] [Code checkout#preCheckout] : x\n", Tag: "Code checkout#preCheckout", Action: "Code checkout",
				ActionID: "preCheckout", Message: "x", HasTime: true, UnixMilli: ms1, Source: SourcePlatform, Level: LevelDebug},
		}},
		{"tag without id, unknown level", p1 + " [NOTICE] [Cache Check] :\n", []rec{
			{Raw: p1 + " [NOTICE] [Cache Check] :\n", Tag: "Cache Check", Action: "Cache Check", Message: "",
				HasTime: true, UnixMilli: ms1, Source: SourcePlatform, Level: LevelInfo},
		}},
		{"tool output that looks like a header is output", p1 + " [INFO] clear workspace dir\n" + p1 + " [INFO]: x\n" + p1 + " [ERROR]execute fail\n", []rec{
			{Raw: p1 + " [INFO] clear workspace dir\n", Message: "[INFO] clear workspace dir", HasTime: true, UnixMilli: ms1, Source: SourceOutput, Level: LevelInfo},
			{Raw: p1 + " [INFO]: x\n", Message: "[INFO]: x", HasTime: true, UnixMilli: ms1, Source: SourceOutput, Level: LevelInfo},
			{Raw: p1 + " [ERROR]execute fail\n", Message: "[ERROR]execute fail", HasTime: true, UnixMilli: ms1, Source: SourceOutput, Level: LevelError},
		}},
		{"text that is not a prefix stays in the record", p1 + " see [2026/09/10 and [Sep 14, 2026] and [2026-09-10 09:27:30][INFO]\n", []rec{
			{Raw: p1 + " see [2026/09/10 and [Sep 14, 2026] and [2026-09-10 09:27:30][INFO]\n",
				Message: "see [2026/09/10 and [Sep 14, 2026] and [2026-09-10 09:27:30][INFO]", HasTime: true, UnixMilli: ms1, Source: SourceOutput, Level: LevelInfo},
		}},
		{"Chinese tag", p1 + " [INFO] [代码检出:external_pre_checkout] : 该步骤开始执行\n", []rec{
			{Raw: p1 + " [INFO] [代码检出:external_pre_checkout] : 该步骤开始执行\n", Tag: "代码检出:external_pre_checkout",
				Action: "代码检出", ActionID: "external_pre_checkout", Message: "该步骤开始执行", HasTime: true, UnixMilli: ms1,
				Source: SourcePlatform, Level: LevelInfo},
		}},
		{"empty log", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseAll(nil, []byte(tc.in))
			diffRecs(t, tc.name, got, tc.want)
			for i := 1; i < len(tc.in); i++ { // every single cut
				diffRecs(t, fmt.Sprintf("%s cut at %d", tc.name, i), parseChunks([]byte(tc.in), []int{i}, i%2 == 0), tc.want)
			}
		})
	}
}

func TestSplitTag(t *testing.T) {
	for _, tc := range []struct{ tag, display, id string }{
		{"代码检出:external_pre_checkout", "代码检出", "external_pre_checkout"},
		{"a:b:c", "a:b", "c"},
		{"Code checkout#preCheckout", "Code checkout", "preCheckout"},
		{"a#b#c", "a", "b#c"},
		{"a#b:c", "a#b", "c"},
		{"Cache Check", "Cache Check", ""},
		{":x", ":x", "x"},
	} {
		d, id := splitTag([]byte(tc.tag))
		if string(d) != tc.display || string(id) != tc.id {
			t.Errorf("%q: got (%q, %q), want (%q, %q)", tc.tag, d, id, tc.display, tc.id)
		}
	}
}

func TestPlatformLevels(t *testing.T) {
	for tok, want := range map[string]Level{"ERROR": LevelError, "FATAL": LevelError, "WARNING": LevelWarning, "WARN": LevelWarning,
		"INFO": LevelInfo, "DEBUG": LevelDebug, "TRACE": LevelDebug, "INTERNAL": LevelDebug, "NOTICE": LevelInfo, "error": LevelError} {
		if got := platformLevel([]byte(tok)); got != want {
			t.Errorf("%s: got %v, want %v", tok, got, want)
		}
	}
}

// Chunked equals whole, with and without moving the state through JSON
// into a new Stream at every cut, over every fixture.
func TestChunkedEqualsWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for name, data := range fixtures(t) {
		want := parseAll(nil, data)
		for round := 0; round < 30; round++ {
			var cuts []int
			switch round % 3 {
			case 0: // many tiny chunks
				for c := rng.IntN(8) + 1; c < len(data); c += rng.IntN(40) + 1 {
					cuts = append(cuts, c)
				}
			case 1: // page-sized chunks
				for c := rng.IntN(4000) + 1; c < len(data); c += rng.IntN(4000) + 1 {
					cuts = append(cuts, c)
				}
			default: // a few random cuts
				for i := 0; i < 10; i++ {
					cuts = append(cuts, rng.IntN(len(data)+1))
				}
				sortInts(cuts)
			}
			got := parseChunks(data, cuts, round%2 == 1)
			diffRecs(t, fmt.Sprintf("%s round %d", name, round), got, want)
		}
	}
}

// Byte-by-byte feeding, the worst case for straddling prefixes.
func TestByteByByte(t *testing.T) {
	data := fixtures(t)["build-step-excerpt-success.log"]
	want := parseAll(nil, data)
	cuts := make([]int, 0, len(data))
	for i := 1; i < len(data); i++ {
		cuts = append(cuts, i)
	}
	diffRecs(t, "byte by byte", parseChunks(data, cuts, false), want)
	diffRecs(t, "byte by byte with restore", parseChunks(data[:3000], cuts[:2999], true), parseAll(nil, data[:3000]))
}

func TestWriteStringEqualsWrite(t *testing.T) {
	for name, data := range fixtures(t) {
		var got []rec
		s := NewStream(nil, func(r *Record) { got = append(got, copyRec(r)) })
		for i := 0; i < len(data); i += 1000 {
			s.WriteString(string(data[i:min(i+1000, len(data))]))
		}
		s.Flush()
		diffRecs(t, name, got, parseAll(nil, data))
	}
}

func TestStateAndFlush(t *testing.T) {
	s := NewStream(nil, func(*Record) {})
	if st := s.State(); len(st.Pending) != 0 || st.Offset != 0 {
		t.Fatalf("fresh state %+v", st)
	}
	s.WriteString("[2026/09/10 17:26:22.661 GMT+08:00] a\n[2026/09/10 17:2")
	st := s.State()
	if string(st.Pending) != "[2026/09/10 17:26:22.661 GMT+08:00] a\n[2026/09/10 17:2" || st.Offset != 54 {
		t.Fatalf("state %+v", st)
	}
	st.Pending[0] = 'X' // a deep copy
	if s.State().Pending[0] != '[' {
		t.Fatal("State aliases the stream's buffer")
	}
	// A state that State never produces (complete prefixes inside) is kept
	// as one record, without a panic.
	var got []rec
	s2 := NewStream(nil, func(r *Record) { got = append(got, copyRec(r)) })
	foreign := "[2026/09/10 17:26:22.661 GMT+08:00] a [2026/09/10 17:26:22.661 GMT+08:00] b [2026/09"
	s2.Restore(StreamState{Pending: []byte(foreign)})
	s2.WriteString("/10 17:26:22.661 GMT+08:00] c")
	s2.Flush()
	if len(got) != 2 || got[1].Message != "c" || sumRaw(got) != len(foreign)+29 {
		t.Fatalf("foreign state: %v", got)
	}
	// After Flush the stream starts a new log.
	got = nil
	s2.WriteString("no prefix")
	s2.Flush()
	if len(got) != 1 || got[0].HasTime {
		t.Fatalf("after flush: %v", got)
	}
}

func TestSteadyStateAllocations(t *testing.T) {
	data := fixtures(t)["full-build-failure-pytest.log"]
	n := 0
	s := NewStream(nil, func(*Record) { n++ })
	chunks := [][]byte{data[:len(data)/3], data[len(data)/3 : 2*len(data)/3], data[2*len(data)/3:]}
	for _, c := range chunks { // warm up buffers
		s.Write(c)
	}
	s.Flush()
	allocs := testing.AllocsPerRun(20, func() {
		for _, c := range chunks {
			s.Write(c)
		}
		s.Flush()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per log of %d records, want 0", allocs, n/21)
	}
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
