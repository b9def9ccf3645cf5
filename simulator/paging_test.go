package simulator

import (
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// bigJob writes a long, mostly Chinese step log: about 200 records a
// second for 30–40 s.
func bigJob() JobSpec {
	return JobSpec{
		ID: "a1b2c3d4e5f60718293a4b5c6d7e8f90", Name: "big", MaxBuilds: 1, RecordsPerSecond: 200,
		ErrorSpikeRate: 1, SpikeRecords: 500,
		Stages: []StageSpec{{DisplayName: "Maven构建", Tool: "maven", MinDuration: 30 * time.Second, MaxDuration: 40 * time.Second}},
	}
}

// pageStats counts what paging saw.
type pageStats struct {
	pages, empty, numeric, strs int
}

// pageAll follows end_offset from cursor until has_more is false and
// returns the text read and the final cursor. Every page must be valid
// UTF-8 and echo the requested start_offset.
func pageAll(t *testing.T, f *fixture, op, job string, build, step, cursor int64, st *pageStats) (string, int64) {
	t.Helper()
	var sb strings.Builder
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatal("paging does not end")
		}
		r := f.get(t, op, logQuery(job, build, step, cursor, 0))
		if r.body["status"] != "success" {
			t.Fatalf("%s at %d: %d %s", op, cursor, r.status, r.raw)
		}
		res := r.result(t)
		start, s1 := flexInt(t, res["start_offset"])
		end, s2 := flexInt(t, res["end_offset"])
		if start != cursor {
			t.Fatalf("start_offset %d, requested %d", start, cursor)
		}
		if s1 != s2 {
			t.Fatalf("offsets of one answer in different forms: %s", r.raw)
		}
		if s1 {
			st.strs++
		} else {
			st.numeric++
		}
		text := res["log"].(string)
		if !utf8.ValidString(text) || strings.ContainsRune(text, utf8.RuneError) {
			t.Fatalf("page at %d is not clean UTF-8", cursor)
		}
		st.pages++
		if text == "" && res["has_more"] == true {
			st.empty++
		}
		sb.WriteString(text)
		cursor = end
		if res["has_more"] == false {
			return sb.String(), cursor
		}
	}
}

func TestPagingReassemblesFinishedLogByteForByte(t *testing.T) {
	f := newFixture(t, Options{Seed: 11, Jobs: []JobSpec{bigJob()}, ChunkMin: 1, ChunkMax: 3000})
	tr := f.advanceUntil(t, 10*time.Second, 2*time.Minute, func(tr Truth) bool { b := tr.Jobs[0].Build(1); return b != nil && b.Finished })
	st := tr.Jobs[0].Builds[0].Stages[1]
	if st.Bytes < 500_000 || st.Chars == st.Bytes {
		t.Fatalf("want a long log with multi-byte characters, got %d bytes, %d characters", st.Bytes, st.Chars)
	}
	var ps pageStats
	for _, op := range []string{"/v1/log/task/page", "/v1/log/task/step"} {
		got, _ := pageAll(t, f, op, bigJob().ID, 1, st.NodeID, 0, &ps)
		if got != st.Log {
			t.Fatalf("%s: reassembled %d bytes, truth %d bytes; first difference at %d", op, len(got), len(st.Log), firstDiff(got, st.Log))
		}
	}
	if ps.numeric == 0 || ps.strs == 0 {
		t.Errorf("offsets: %d numeric, %d string answers; want both", ps.numeric, ps.strs)
	}
	if ps.empty == 0 {
		t.Errorf("no empty page with has_more true in %d pages", ps.pages)
	}
	t.Logf("%d pages, %d empty, %d numeric / %d string offsets", ps.pages, ps.empty, ps.numeric, ps.strs)
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestPagingARunningStepCatchesUpAndContinues(t *testing.T) {
	job := bigJob()
	job.RecordsPerSecond = 20
	f := newFixture(t, Options{Seed: 5, Jobs: []JobSpec{job}, ChunkMin: 50, ChunkMax: 500})
	tr := f.advanceUntil(t, time.Second, time.Minute, func(tr Truth) bool {
		b := tr.Jobs[0].Builds
		return len(b) == 1 && b[0].Stages[1].Status == StatusRunning
	})
	step := tr.Jobs[0].Builds[0].Stages[1].NodeID
	var read strings.Builder
	var cursor int64
	var ps pageStats
	for i := 0; ; i++ {
		text, next := pageAll(t, f, "/v1/log/task/step", job.ID, 1, step, cursor, &ps)
		read.WriteString(text)
		cursor = next
		truth := f.sim.Truth().Jobs[0].Builds[0].Stages[1]
		// has_more false on a running step means: caught up with what is written now.
		if read.String() != truth.Log {
			t.Fatalf("after catching up at poll %d: read %d bytes, truth %d", i, read.Len(), truth.Bytes)
		}
		if truth.Finished {
			break
		}
		f.clock.Advance(time.Duration(1+i%3) * time.Second)
	}
	if ps.pages < 20 {
		t.Errorf("only %d pages", ps.pages)
	}
}

func TestPagingIsDeterministicAndIdempotent(t *testing.T) {
	f := newFixture(t, Options{Seed: 9, Jobs: []JobSpec{bigJob()}, ChunkMin: 10, ChunkMax: 900, EmptyPageRate: -1})
	tr := f.advanceUntil(t, 10*time.Second, 2*time.Minute, func(tr Truth) bool { b := tr.Jobs[0].Build(1); return b != nil && b.Finished })
	step := tr.Jobs[0].Builds[0].Stages[1].NodeID
	first := f.get(t, "/v1/log/task/page", logQuery(bigJob().ID, 1, step, 0, 0))
	again := f.get(t, "/v1/log/task/page", logQuery(bigJob().ID, 1, step, 0, 0))
	if string(first.raw) != string(again.raw) {
		t.Fatal("the same request got two different answers")
	}
	// end_offset bounds the page.
	end, _ := flexInt(t, first.result(t)["end_offset"])
	r := f.get(t, "/v1/log/task/page", logQuery(bigJob().ID, 1, step, 0, end-3))
	if got, want := r.result(t)["log"].(string), first.result(t)["log"].(string); got == "" || !strings.HasPrefix(want, got) || len(got) >= len(want) {
		t.Fatalf("end_offset did not bound the page: %q vs %q", got, want)
	}
	if r.result(t)["has_more"] != true {
		t.Fatal("a page bounded by end_offset must have has_more true")
	}
}

func TestOffsetsAreNotByteCounts(t *testing.T) {
	f := newFixture(t, Options{Seed: 2, ChunkMin: 100, ChunkMax: 100, EmptyPageRate: -1})
	tr := f.advanceUntil(t, 5*time.Second, 5*time.Minute, func(tr Truth) bool { b := tr.Jobs[0].Build(1); return b != nil && b.Finished })
	b := tr.Jobs[0].Builds[0]
	st := b.Stages[1] // Chinese checkout: multi-byte characters
	r := f.get(t, "/v1/log/task/page", logQuery(testJobZH, 1, st.NodeID, 0, 0))
	res := r.result(t)
	end, _ := flexInt(t, res["end_offset"])
	text := res["log"].(string)
	if end == int64(len(text)) || end == int64(utf8.RuneCountInString(text)) {
		t.Fatalf("end_offset %d equals a length of the page", end)
	}
	// A client that computes the next start from the text it got is refused
	// instead of silently served the wrong text.
	bad := f.get(t, "/v1/log/task/page", logQuery(testJobZH, 1, st.NodeID, int64(len(text)), 0))
	expectError(t, bad, 400, "CB.00060200")
	// Another step's cursor space is different too.
	other := b.Stages[2]
	r2 := f.get(t, "/v1/log/task/page", logQuery(testJobZH, 1, other.NodeID, 0, 0))
	end2, _ := flexInt(t, r2.result(t)["end_offset"])
	if end2-int64(utf8.RuneCountInString(r2.result(t)["log"].(string))) == end-int64(utf8.RuneCountInString(text)) {
		t.Errorf("two steps share the same offset base")
	}
}

func TestRandomChunkSizesCoverTheConfiguredRange(t *testing.T) {
	f := newFixture(t, Options{Seed: 4, Jobs: []JobSpec{bigJob()}, ChunkMin: 20, ChunkMax: 60, EmptyPageRate: -1})
	tr := f.advanceUntil(t, 10*time.Second, 2*time.Minute, func(tr Truth) bool { b := tr.Jobs[0].Build(1); return b != nil && b.Finished })
	step := tr.Jobs[0].Builds[0].Stages[1].NodeID
	sizes := map[int]int{}
	var cursor int64
	for i := 0; i < 300; i++ {
		res := f.get(t, "/v1/log/task/page", logQuery(bigJob().ID, 1, step, cursor, 0)).result(t)
		end, _ := flexInt(t, res["end_offset"])
		n := utf8.RuneCountInString(res["log"].(string))
		if i > 0 && int64(n) != end-cursor {
			t.Fatalf("page of %d characters moved the cursor by %d", n, end-cursor)
		}
		if n < 20 || n > 60 {
			t.Fatalf("page of %d characters outside [20, 60]", n)
		}
		sizes[n]++
		cursor = end
	}
	if len(sizes) < 20 {
		t.Errorf("only %d distinct page sizes in 300 pages", len(sizes))
	}
}

// TestPagingAtRandomMomentsMatchesTruth pages several steps of several
// builds with a random clock and random chunk sizes.
func TestPagingAtRandomMomentsMatchesTruth(t *testing.T) {
	f := newFixture(t, Options{Seed: 21, ChunkMin: 1, ChunkMax: 700, EmptyPageRate: 0.2})
	rng := rand.New(rand.NewPCG(1, 2))
	cursors := map[string]int64{}
	read := map[string]*strings.Builder{}
	for round := 0; round < 60; round++ {
		f.clock.Advance(time.Duration(1+rng.IntN(5)) * time.Second)
		tr := f.sim.Truth()
		for _, j := range tr.Jobs {
			for _, b := range j.Builds {
				for _, st := range b.Stages {
					if st.NodeID == 0 {
						continue
					}
					key := j.ID + "/" + strconv.FormatInt(b.Number, 10) + "/" + strconv.FormatInt(st.NodeID, 10)
					if read[key] == nil {
						read[key] = &strings.Builder{}
					}
					var ps pageStats
					text, next := pageAll(t, f, "/v1/log/task/step", j.ID, b.Number, st.NodeID, cursors[key], &ps)
					read[key].WriteString(text)
					cursors[key] = next
					if read[key].String() != st.Log {
						t.Fatalf("round %d %s: read %d bytes, truth %d", round, key, read[key].Len(), st.Bytes)
					}
				}
			}
		}
	}
}

func TestPagingRejectsBadParameters(t *testing.T) {
	f := newFixture(t, Options{Seed: 1})
	f.clock.Advance(20 * time.Second)
	step := f.sim.Truth().Jobs[0].Builds[0].Stages[0].NodeID
	q := logQuery(testJobZH, 1, step, 0, 0)
	q.Set("sort", "DESC")
	expectError(t, f.get(t, "/v1/log/task/step", q), 400, "CB.00060200")
	q = logQuery(testJobZH, 1, step, 0, 0)
	q.Set("sort", "AES")
	if r := f.get(t, "/v1/log/task/step", q); r.status != 200 {
		t.Fatalf("sort=AES: %s", r.raw)
	}
	q = logQuery(testJobZH, 1, step, 0, 0)
	q.Set("start_offset", "-1")
	expectError(t, f.get(t, "/v1/log/task/step", q), 400, "CB.00060200")
	q = url.Values{}
	expectError(t, f.get(t, "/v1/log/task/step", q), 400, "CB.00060201")
}
