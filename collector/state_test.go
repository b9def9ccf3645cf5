package collector

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

func sampleLedger() *ledger {
	j := &jobLedger{JobID: "0123456789abcdef0123456789abcdef", LastBuildNo: 12, NextBuildNo: 13, RecordIDField: "id", Bytes: 4096}
	j.addRecord("代码检出", parser.SourcePlatform, parser.LevelInfo)
	j.addRecord("代码检出", parser.SourceOutput, parser.LevelError)
	j.addRecord("Maven构建", parser.SourceOutput, parser.LevelWarning)
	j.observeAction("代码检出", metrics.ResultSuccess, 1500)
	j.observeAction("Maven构建", metrics.ResultFailure, 61_000)
	j.observeBuild(metrics.ResultFailure, 95_500)
	j.LastBuild = &lastBuild{Number: 11, Result: metrics.ResultFailure, FinishedMs: 1_790_000_000_000, DurationMs: 95_500}
	j.Builds = []*buildProgress{{Number: 12, RecordID: "3f1c2a9e-7b4d-4c1e-9a55-0d2e8b7c6f10", Status: "RUNNING",
		Stages: []*stageProgress{{Key: "stage2", NodeID: 81, Display: "Maven构建", Status: "RUNNING", Cursor: 1236,
			Stream:  parser.StreamState{Pending: []byte("[2026/09/10 17:26:22.661 GMT+08:00] half a rec"), Offset: 999},
			HasTime: true, FirstMs: 1, LastMs: 2}}}}
	return newLedger(map[string]*jobLedger{"backend-ci": j})
}

// encodeState writes l in format 1, the single JSON document earlier
// versions of the exporter wrote at every commit: the migration tests start
// from it, and BenchmarkStateCommit compares the journal with it.
func encodeState(l *ledger, now time.Time) ([]byte, error) {
	jobs := map[string]*jobLedger{}
	for name, jl := range l.all() {
		jobs[name] = jl
	}
	raw, err := json.Marshal(jobs)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	out, err := json.Marshal(stateEnvelope{stateHeader: newStateHeader(stateVersion, now),
		JobsSHA256: hex.EncodeToString(sum[:]), Jobs: raw})
	return append(out, '\n'), err
}

// loadDamaged writes data to p and checks that loading it is a
// *StateFileError that names the file, says want, and gives the way out.
func loadDamaged(t *testing.T, p string, data []byte, want string) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := loadState(p)
	var sfe *StateFileError
	if !errors.As(err, &sfe) {
		t.Fatalf("want *StateFileError, got %v", err)
	}
	for _, w := range []string{p, want, "move the file aside", "mv " + p} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	l := sampleLedger()
	t.Run("format 1", func(t *testing.T) {
		data, err := encodeState(l, time.Unix(1_790_000_000, 0))
		if err != nil {
			t.Fatal(err)
		}
		got, notes, err := decodeState(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(notes) != 0 {
			t.Errorf("unexpected notes: %v", notes)
		}
		if !reflect.DeepEqual(got, l) {
			t.Errorf("round trip changed the ledger:\n got %+v\nwant %+v", got.job("backend-ci"), l.job("backend-ci"))
		}
	})
	t.Run("format 2", func(t *testing.T) {
		data, lens, err := encodeJournal(l, time.Unix(1_790_000_000, 0))
		if err != nil {
			t.Fatal(err)
		}
		got, notes, st, err := decodeJournal(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(notes) != 0 || st.rewrite || st.torn != 0 {
			t.Errorf("unexpected notes %v, rewrite %v, torn %d", notes, st.rewrite, st.torn)
		}
		if !reflect.DeepEqual(got, l) {
			t.Errorf("round trip changed the ledger:\n got %+v\nwant %+v", got.job("backend-ci"), l.job("backend-ci"))
		}
		if !reflect.DeepEqual(st.live, lens) || st.size != int64(len(data)) {
			t.Errorf("decoded line lengths %v (size %d), encoded %v (size %d)", st.live, st.size, lens, len(data))
		}
	})
}

func TestCloneIsDeep(t *testing.T) {
	l := sampleLedger()
	orig, _, _ := encodeJournal(l, time.Unix(0, 0))
	c := l.job("backend-ci").clone()
	c.addRecord("代码检出", parser.SourcePlatform, parser.LevelInfo)
	c.observeAction("代码检出", metrics.ResultSuccess, 1)
	c.observeBuild(metrics.ResultFailure, 1)
	c.Builds[0].Stages[0].Cursor = 5
	c.Builds[0].Stages[0].Stream.Pending[0] = 'X'
	c.LastBuild.Number = 99
	c.Bytes++
	after, _, _ := encodeJournal(l, time.Unix(0, 0))
	if !bytes.Equal(orig, after) {
		t.Fatal("mutating a clone changed the original")
	}
}

func TestStateFileErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := encodeState(sampleLedger(), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":     {nil, "empty"},
		"truncated": {good[:len(good)/2], "not a valid state file"},
		"garbage":   {[]byte("hello\n"), "not a valid state file"},
		"format":    {bytes.Replace(good, []byte(stateFormat), []byte("something.else"), 1), "not a codearts_build_exporter state file"},
		"version":   {bytes.Replace(good, []byte(`"version":1`), []byte(`"version":7`), 1), "version 7"},
		"checksum":  {bytes.Replace(good, []byte(`"bytes":4096`), []byte(`"bytes":4097`), 1), "checksum mismatch"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if name != "empty" && bytes.Equal(tc.data, good) {
				t.Fatal("test corruption did not change the file")
			}
			loadDamaged(t, filepath.Join(dir, name+".json"), tc.data, tc.want)
		})
	}
	t.Run("missing", func(t *testing.T) {
		l, _, store, err := loadState(filepath.Join(dir, "nope.json"))
		if l != nil || err != nil || store == nil || !store.rewrite {
			t.Fatalf("missing file: got %v, %v; want nil, nil", l, err)
		}
	})
	t.Run("inconsistent histogram", func(t *testing.T) {
		l := sampleLedger()
		l.job("backend-ci").BuildDur[metrics.ResultFailure].Count = 5
		data, _ := encodeState(l, time.Unix(0, 0))
		if _, _, err := decodeState(data); err == nil || !strings.Contains(err.Error(), "count is 5") {
			t.Fatalf("want a count mismatch error, got %v", err)
		}
	})
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for _, content := range []string{"first\n", "second, longer content\n", "3\n"} {
		if err := writeFileAtomic(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read back %q, %v; want %q", got, err, content)
		}
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 (the file may reveal job names)", st.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
	if err := writeFileAtomic(filepath.Join(dir, "no", "such", "dir", "s.json"), []byte("x")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestHistogramBuckets(t *testing.T) {
	b := []float64{1, 5, 10}
	h := newHistogram(b)
	for _, ms := range []int64{0, 1000, 1001, 5000, 10_000, 10_001, -5} {
		h.observe(b, ms)
	}
	// le is inclusive: 0,1000,-5(→0) ≤1; 1001,5000 ≤5; 10000 ≤10; 10001 +Inf.
	if want := []uint64{3, 2, 1, 1}; !reflect.DeepEqual(h.Buckets, want) {
		t.Fatalf("buckets %v, want %v", h.Buckets, want)
	}
	if h.Count != 7 || h.SumMs != 27_002 {
		t.Fatalf("count %d sum %d", h.Count, h.SumMs)
	}
	cum := h.cumulative(b)
	if cum[1] != 3 || cum[5] != 5 || cum[10] != 6 {
		t.Fatalf("cumulative %v", cum)
	}
	// Re-bucketing keeps the cumulative count of every bound in both lists.
	to := []float64{1, 2, 10, 20}
	h.rebucket(b, to)
	cum2 := h.cumulative(to)
	if cum2[1] != cum[1] || cum2[10] != cum[10] {
		t.Fatalf("rebucket changed common bounds: before %v after %v", cum, cum2)
	}
	var n uint64
	for _, x := range h.Buckets {
		n += x
	}
	if n != h.Count {
		t.Fatalf("rebucket lost observations: %v vs count %d", h.Buckets, h.Count)
	}
}

func TestStaleTempFilesAreRemoved(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state[1].json")
	stale := filepath.Join(dir, ".state[1].json.tmp-12345")
	other := filepath.Join(dir, ".other.json.tmp-1")
	for _, f := range []string{stale, other} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := removeStaleTemps(p); len(got) != 1 || got[0] != stale {
		t.Fatalf("removed %v, want only %s", got, stale)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not ours was removed: %v", err)
	}
}

// withJobs returns a new ledger and leaves the published one as it was:
// entries are added, replaced and removed, the others are shared, and a
// ledger built entry by entry equals one built by commits.
func TestLedgerWithJobs(t *testing.T) {
	a, b, c := &jobLedger{JobID: "a"}, &jobLedger{JobID: "b"}, &jobLedger{JobID: "c"}
	var names []string
	base := &ledger{}
	for i := range 1000 {
		name := fmt.Sprintf("job-%04d", i)
		names = append(names, name)
		base = base.withJob(name, a)
	}
	next := base.withJobs(map[string]*jobLedger{"job-0001": b, "job-0002": nil, "new": c, "absent": nil})
	if base.len() != 1000 || base.job("job-0001") != a || base.job("job-0002") != a || base.job("new") != nil {
		t.Fatalf("the base ledger changed: len %d, job-0001 %v, job-0002 %v", base.len(), base.job("job-0001"), base.job("job-0002"))
	}
	if next.len() != 1000 || next.job("job-0001") != b || next.job("job-0002") != nil || next.job("new") != c || next.job("job-0999") != a {
		t.Fatalf("next: len %d, job-0001 %v, job-0002 %v, new %v", next.len(), next.job("job-0001"), next.job("job-0002"), next.job("new"))
	}
	want := append(slices.Clone(names[:2]), names[3:]...)
	want = append(want, "new")
	slices.Sort(want)
	if got := next.names(); !slices.Equal(got, want) {
		t.Fatalf("names: %d, want %d", len(got), len(want))
	}
	direct := map[string]*jobLedger{}
	for name, jl := range next.all() {
		direct[name] = jl
	}
	if !reflect.DeepEqual(newLedger(direct), next) {
		t.Fatal("a ledger built from the same entries differs from the committed one")
	}
	// Removing every entry of a part leaves it as newLedger would.
	empty := next
	for _, name := range next.names() {
		empty = empty.withJob(name, nil)
	}
	if empty.len() != 0 || !reflect.DeepEqual(empty, newLedger(nil)) {
		t.Fatalf("after removing every entry: len %d, %+v", empty.len(), empty.parts[partOf("new")])
	}
}
