package collector

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// twoJobLedger is sampleLedger with a second job, so that a journal has a
// line in the middle.
func twoJobLedger() *ledger {
	l := sampleLedger()
	j := l.job("backend-ci").clone()
	j.Bytes = 777
	l.set("frontend-ci", j)
	return l
}

func TestJournalFileErrors(t *testing.T) {
	dir := t.TempDir()
	good, _, err := encodeJournal(twoJobLedger(), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(good, []byte("\n"))
	if len(lines) != 4 || len(lines[3]) != 0 {
		t.Fatalf("want header, two job lines and nothing else, got %q", good)
	}
	cases := map[string]struct {
		data []byte
		want string
	}{
		"edited middle line": {bytes.Replace(good, []byte(`"bytes":4096`), []byte(`"bytes":4097`), 1), "line 2 (byte "},
		"edited last line":   {bytes.Replace(good, []byte(`"bytes":777`), []byte(`"bytes":778`), 1), "line 3 (byte "},
		"lost middle bytes":  {concat(lines[0], lines[1][:20], lines[2]), "line 2"},
		"header":             {bytes.Replace(good, []byte(`"version":2`), []byte(`"version":3`), 1), "checksum mismatch"},
		"version":            {relined(bytes.Replace(good, []byte(`"version":2`), []byte(`"version":7`), 1)), "version 7"},
		"format":             {relined(bytes.Replace(good, []byte(stateFormat), []byte("something.else"), 1)), "not a codearts_build_exporter state file"},
		"no checksum":        {[]byte("hello\nworld\n"), "not a valid state file"},
		"unfinished header":  {lines[0][:len(lines[0])-1], "header line is incomplete"},
		"null entry":         {relined(bytes.Replace(good, []byte(`"entry":{`), []byte(`"entry":null,"x":{`), 1)), "null entry"},
		"inconsistent count": {relined(bytes.Replace(good, []byte(`"count":1,`), []byte(`"count":5,`), 1)), "count is 5"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(tc.data, good) {
				t.Fatal("test corruption did not change the file")
			}
			loadDamaged(t, filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".state"), tc.data, tc.want)
		})
	}
}

// concat joins byte slices.
func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// relined recomputes the checksum of every line, as an editor who knows the
// format would: the content checks must then catch what is wrong.
func relined(data []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) < 10 {
			continue
		}
		var err error
		if out, err = appendJournalLine(out, rawJSON(bytes.TrimSuffix(line[9:], []byte("\n")))); err != nil {
			panic(err)
		}
	}
	return out
}

// rawJSON marshals as itself.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// An append the process did not finish (kill -9 in the middle of write)
// leaves a last line without its newline: that commit was never
// published, so the file loads as the commit before it and the next commit
// rewrites the file without the broken tail.
func TestJournalUnfinishedAppendIsIgnored(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state")
	l := twoJobLedger()
	good, _, err := encodeJournal(l, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	next := l.job("backend-ci").clone()
	next.Bytes = 1 << 30
	rec, err := appendJournalLine(nil, journalRecord{Job: "backend-ci", Entry: next})
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{1, 9, len(rec) / 2, len(rec) - 1} {
		if err := os.WriteFile(p, concat(good, rec[:cut]), 0o600); err != nil {
			t.Fatal(err)
		}
		got, notes, store, err := loadState(p)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if !reflect.DeepEqual(got, l) {
			t.Fatalf("cut at %d: the unfinished record changed the ledger", cut)
		}
		if len(notes) != 1 || !strings.Contains(notes[0], "unfinished last line") || !store.rewrite {
			t.Fatalf("cut at %d: notes %v, rewrite %v; want the torn tail reported and a rewrite due", cut, notes, store.rewrite)
		}
	}
}

// newStoreCollector is a Collector with a state file and no API, for
// driving commits directly.
func newStoreCollector(t testing.TB, path string) *Collector {
	t.Helper()
	c, err := New(Options{api: unusedAPI{}, StateFile: path, Logger: testLogger(), now: func() time.Time { return time.Unix(1_790_000_000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type unusedAPI struct{ api }

// Commits append one line each, compact when the superseded lines outweigh
// the live ones, and the file always loads as the published ledger.
func TestJournalCommitsAndCompaction(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state")
	c := newStoreCollector(t, p)
	base := sampleLedger().job("backend-ci")
	pending := make([]byte, 64<<10) // 64 KiB carried that does not compress: ~88 KiB lines
	_, _ = rand.NewChaCha8([32]byte{1}).Read(pending)
	base.Builds[0].Stages[0].Stream.Pending = pending
	var compactions, lastSize int64
	for i := range 200 {
		name := fmt.Sprintf("job-%d", i%3)
		jl := base.clone()
		jl.Bytes = uint64(i)
		if err := c.commit(name, jl); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != c.store.size {
			t.Fatalf("commit %d: file has %d bytes, store thinks %d", i, st.Size(), c.store.size)
		}
		if st.Size() < lastSize {
			compactions++
		} else if i > 0 && st.Size()-lastSize > 100<<10 {
			t.Fatalf("commit %d appended %d bytes for one ~88 KiB record", i, st.Size()-lastSize)
		}
		lastSize = st.Size()
		if max := 2*c.store.liveBytes + journalMinGarbage + 100<<10; st.Size() > max {
			t.Fatalf("commit %d: file %d bytes, over the compaction bound %d", i, st.Size(), max)
		}
	}
	// 200 records of ~88 KiB, 3 live: ~17 MB appended, compacted every ~4 MiB.
	if compactions < 3 || compactions > 6 {
		t.Errorf("%d compactions, want 3-6", compactions)
	}
	got, notes, store, err := loadState(p)
	if err != nil || len(notes) != 0 || store.rewrite {
		t.Fatalf("reload: %v %v rewrite=%v", err, notes, store.rewrite)
	}
	if want := c.published.Load(); !reflect.DeepEqual(got, want) {
		t.Fatal("the file does not load as the published ledger")
	}
	if store.size != c.store.size || store.liveBytes != c.store.liveBytes {
		t.Errorf("reloaded size %d live %d, writer had %d and %d", store.size, store.liveBytes, c.store.size, c.store.liveBytes)
	}
}

// A format 1 state file (one JSON document, written by earlier versions)
// is loaded with every value and rewritten in format 2 at the first commit.
func TestStateFileFormat1IsMigrated(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	old := twoJobLedger()
	data, err := encodeState(old, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c := newStoreCollector(t, p)
	if !reflect.DeepEqual(c.published.Load(), old) {
		t.Fatal("format 1 file not loaded with its values")
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(after, data) {
		t.Fatal("loading rewrote the file before any commit")
	}
	jl := c.published.Load().job("frontend-ci").clone()
	jl.addRecord("Maven构建", parser.SourceOutput, parser.LevelError)
	if err := c.commit("frontend-ci", jl); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if after[0] == '{' || !bytes.Contains(after, []byte(`"version":2`)) {
		t.Fatalf("not rewritten in format 2: %.120q", after)
	}
	got, notes, _, err := loadState(p)
	if err != nil || len(notes) != 0 {
		t.Fatalf("reload: %v %v", err, notes)
	}
	want := old.withJob("frontend-ci", jl)
	if !reflect.DeepEqual(got, want) {
		t.Fatal("migrated file lost or changed values")
	}
	if got.job("backend-ci").Records["代码检出"] != old.job("backend-ci").Records["代码检出"] {
		t.Fatal("the job that did not commit lost its counts")
	}
}

// A file written with other bucket lists is re-bucketed on load, and the
// first commit rewrites it: appending records with the new buckets to a
// file whose header names the old ones would corrupt it.
func TestJournalOtherBucketsAreRewritten(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state")
	fewer := metrics.BuildDurationBuckets[:len(metrics.BuildDurationBuckets)-1] // the largest bound dropped
	data, err := appendJournalLine(nil, stateHeader{Format: stateFormat, Version: stateVersionJournal,
		ActionBuckets: metrics.ActionDurationBuckets, BuildBuckets: fewer})
	if err != nil {
		t.Fatal(err)
	}
	jl := sampleLedger().job("backend-ci")
	jl.BuildDur = map[string]*histogram{metrics.ResultFailure: newHistogram(fewer)}
	jl.BuildDur[metrics.ResultFailure].observe(fewer, 1_000_000_000) // +Inf
	if data, err = appendJournalLine(data, journalRecord{Job: "backend-ci", Entry: jl}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	l, notes, store, err := loadState(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "build duration buckets changed") || !store.rewrite {
		t.Fatalf("notes %v rewrite %v", notes, store.rewrite)
	}
	if h := l.job("backend-ci").BuildDur[metrics.ResultFailure]; len(h.Buckets) != len(metrics.BuildDurationBuckets)+1 || h.Buckets[len(h.Buckets)-1] != 1 {
		t.Fatalf("not re-bucketed: %v", h.Buckets)
	}
	c := newStoreCollector(t, p)
	if err := c.commit("backend-ci", c.published.Load().job("backend-ci").clone()); err != nil {
		t.Fatal(err)
	}
	if _, notes, _, err := loadState(p); err != nil || len(notes) != 0 {
		t.Fatalf("after the first commit: %v %v", err, notes)
	}
}

func TestCorruptJournalIsAClearErrorForNew(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state")
	c := newStoreCollector(t, p)
	if err := c.commit("backend-ci", sampleLedger().job("backend-ci")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	data[len(data)-3] ^= 1
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{api: unusedAPI{}, StateFile: p, Registerer: prometheus.NewRegistry()})
	var sfe *StateFileError
	if !errors.As(err, &sfe) || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("got %v, want a checksum *StateFileError", err)
	}
}

// Appended lines are compressed; they load as what was committed, and a
// compressed line that checks out but does not inflate is refused.
func TestJournalCompressedLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state")
	c := newStoreCollector(t, p)
	jl := sampleLedger().job("backend-ci")
	for i := range 3 {
		jl = jl.clone()
		jl.Bytes += uint64(i)
		if err := c.commit("backend-ci", jl); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) != 4 || lines[1][9] != '{' || lines[2][9] != 'z' || lines[3][9] != 'z' {
		t.Fatalf("want a header, a plain line (the first write) and two compressed lines:\n%s", data)
	}
	plain, _ := appendJournalLine(nil, journalRecord{Job: "backend-ci", Entry: jl})
	if len(lines[3]) >= len(plain) {
		t.Errorf("compressed line %d bytes, plain %d", len(lines[3]), len(plain))
	}
	got, _, _, err := loadState(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c.published.Load()) {
		t.Fatal("the compressed lines do not load as the published ledger")
	}
	// Damage the compressed bytes and give the line a matching checksum.
	bad := bytes.Clone(lines[3][9:])
	bad[len(bad)/2] ^= 0x01
	damaged := append(bytes.Clone(lines[0]), '\n')
	line := append([]byte("00000000 "), bad...)
	putChecksum(line, crc32.Checksum(bad, crc32c))
	damaged = append(append(damaged, line...), '\n')
	loadDamaged(t, p, damaged, "line 2")
}
