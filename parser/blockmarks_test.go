package parser

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// markTexts are texts of every length up to a few words, made of the bytes
// the marks look for, so that pairs straddle words and the end.
func markTexts(t *testing.T) [][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	alphabet := []byte("\nGMxiDE [a")
	var texts [][]byte
	for n := range 300 {
		for range 4 {
			b := make([]byte, n)
			for i := range b {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
			texts = append(texts, b)
		}
	}
	return texts
}

// The vector pass marks exactly what the byte loop marks, whether the
// words are computed all at once or a few at a time.
func TestBlockMarksAVX2(t *testing.T) {
	if !markAVX2 {
		t.Skip("no AVX2")
	}
	for _, text := range markTexts(t) {
		want := make([]markWord, len(text)/64+1)
		markWordsGeneric(text, 0, want)
		for _, step := range []int{0, 1, 2, 3} {
			var m blockMarks
			m.reset(text)
			if len(m.words) != len(want) {
				t.Fatalf("len %d: %d words, want %d", len(text), len(m.words), len(want))
			}
			for w := 0; w < len(want); w += step {
				m.markTo(w)
				if step == 0 {
					break
				}
			}
			m.markTo(len(want) - 1)
			for w := range want {
				if m.words[w] != want[w] {
					t.Fatalf("len %d word %d (steps of %d): got %+v, want %+v (%q)", len(text), w, step, m.words[w], want[w], text)
				}
			}
		}
	}
}

// ranks and nextPrefix over the marks agree with bytes.Count and
// nextPrefix.
func TestBlockMarksQueries(t *testing.T) {
	var m blockMarks
	for _, text := range markTexts(t)[:600] {
		m.reset(text)
		m.markTo(len(m.words) - 1)
		for i := 0; i <= len(text); i++ {
			nl, code := m.ranks(i)
			if want := uint32(bytes.Count(text[:i], []byte("\n"))); nl != want {
				t.Fatalf("newlines before %d of %q: %d, want %d", i, text, nl, want)
			}
			// The pairs starting before i (the second byte may be text[i]).
			var want uint32
			for j := 0; j < i && j+1 < len(text); j++ {
				if p := string(text[j : j+2]); p == "xi" || p == "DE" {
					want++
				}
			}
			if code != want {
				t.Fatalf("code marks before %d of %q: %d, want %d", i, text, code, want)
			}
		}
	}
	// Prefixes among other text, from every start, with the marks
	// computed as the search goes.
	log := []byte("x[2026/09/10 17:26:22.661 GMT+08:00] a GMT\n[Sep 14, 2026 02:29:37.820 GMT+08:00] b\n" +
		"[Sep 4, 2026 02:29:37.820 GMT-03:30]GM [2026/09/10 17:26:22.661 GMT+08:00]")
	log = bytes.Repeat(log, 50)
	for from := 0; from <= len(log); from++ {
		m.reset(log)
		var dc1, dc2 dateCache
		i1, n1, ms1, _ := nextPrefix(log, from, &dc1)
		i2, n2, ms2 := m.nextPrefix(from, &dc2)
		if i1 != i2 || n1 != n2 || ms1 != ms2 {
			t.Fatalf("from %d: marks give %d %d %d, nextPrefix %d %d %d", from, i2, n2, ms2, i1, n1, ms1)
		}
	}
}

// Without the marks (a CPU without AVX2), the workers search as Stream
// does; with the marks built by the byte loop, they use them.
func TestParallelAnalysisWithoutMarks(t *testing.T) {
	for _, tc := range []struct {
		name        string
		marks, avx2 bool
	}{{"no marks", false, markAVX2}, {"byte-loop marks", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			savedMarks, savedAVX2 := useBlockMarks, markAVX2
			defer func() { useBlockMarks, markAVX2 = savedMarks, savedAVX2 }()
			useBlockMarks, markAVX2 = tc.marks, tc.avx2
			TestParallelAnalysisEqualsSequential(t)
			TestDeferredAnalysisEqualsSequential(t)
		})
	}
}
