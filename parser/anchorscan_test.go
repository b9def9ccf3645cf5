package parser

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// The SIMD anchor scan (SSE2 and, where the CPU has it, AVX2 on amd64)
// agrees with a plain loop for every length, alignment and anchor set.
func TestAnchorScanMatchesLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 200)
	for iter := 0; iter < 3000; iter++ {
		anchors := make([]byte, 1+rng.IntN(9)) // one or more vectors
		for i := range anchors {
			anchors[i] = byte(rng.IntN(256))
		}
		s := newAnchorScanner(anchors)
		// Few distinct bytes, so anchors occur often.
		for i := range buf {
			buf[i] = anchors[rng.IntN(len(anchors))] ^ byte(rng.IntN(4)&1)
		}
		off := rng.IntN(16)
		b := buf[off : off+rng.IntN(len(buf)-off)]
		var want uint64
		for i, c := range b[:min(len(b), 64)] {
			for _, a := range anchors {
				if c == a {
					want |= 1 << i
				}
			}
		}
		if got := s.mask64(b); got != want {
			t.Fatalf("anchors %q, %q: mask64 %064b, want %064b", anchors, b, got, want)
		}
		if n := min(len(b), 64); n >= 16 {
			for vi := range s.vecs {
				if got, want := maskAnchors(&b[0], n, &s.vecs[vi]), maskAnchorsGeneric(&b[0], n, &s.vecs[vi]); got != want {
					t.Fatalf("useAVX2 %v, anchors %q, %q: maskAnchors %064b, want %064b", useAVX2, anchors, b[:n], got, want)
				}
			}
		}
	}
}

// Literals are found wherever they sit in a long message: across the
// 64-byte windows of the scan and at the very end.
func TestAnchorsAcrossWindows(t *testing.T) {
	for _, lit := range []string{"[ERROR]", "FAILURE: Build failed", "x exit code 3", "] BUILD FAILURE"} {
		_, want := DefaultRules().Classify([]byte(lit))
		if want < 0 {
			t.Fatalf("%q matches no default rule", lit)
		}
		for pad := 0; pad < 200; pad++ {
			msg := []byte(strings.Repeat("a", pad) + lit)
			if _, got := DefaultRules().Classify(msg); got != want {
				t.Fatalf("%q after %d bytes: rule %d, want %d", lit, pad, got, want)
			}
			msg = append(msg, strings.Repeat("b", pad%70)...)
			if _, got := DefaultRules().Classify(msg); got != want {
				t.Fatalf("%q after %d bytes, then more: rule %d, want %d", lit, pad, got, want)
			}
		}
	}
}
