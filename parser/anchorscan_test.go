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
				want := maskAnchorsGeneric(&b[0], n, &s.vecs[vi])
				if got := maskAnchors(&b[0], n, &s.vecs[vi]); got != want {
					t.Fatalf("useAVX2 %v, anchors %q, %q: maskAnchors %064b, want %064b", useAVX2, anchors, b[:n], got, want)
				}
				// The portable version, tested on every architecture.
				if got := maskAnchorsSWAR(&b[0], n, &s.vecs[vi]); got != want {
					t.Fatalf("anchors %q, %q: maskAnchorsSWAR %064b, want %064b", anchors, b[:n], got, want)
				}
			}
		}
	}
}

// The AVX2 pair scan agrees with a plain loop over its tables for every
// length from 17 to 65 and every alignment, with random buckets.
func TestPairScanMatchesLoop(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2: the pair engine is not used")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	buf := make([]byte, 200)
	for iter := 0; iter < 3000; iter++ {
		var tb pairTables
		for i := range 16 {
			tb.lo0[i], tb.hi0[i] = byte(rng.Uint32()), byte(rng.Uint32())
			tb.lo1[i], tb.hi1[i] = byte(rng.Uint32()), byte(rng.Uint32())
			if rng.IntN(2) == 0 { // sparse tables, so that some pairs fail
				tb.lo0[i] &= byte(rng.Uint32())
				tb.lo1[i] &= byte(rng.Uint32())
			}
		}
		for i := range 16 {
			tb.lo0[i+16], tb.hi0[i+16], tb.lo1[i+16], tb.hi1[i+16] = tb.lo0[i], tb.hi0[i], tb.lo1[i], tb.hi1[i]
		}
		for i := range tb.mask {
			tb.mask[i] = 0x0f
		}
		for i := range buf {
			buf[i] = byte(rng.IntN(256))
		}
		off := rng.IntN(16)
		n := 17 + rng.IntN(49)
		b := buf[off : off+n]
		want := maskPairsGeneric(&b[0], n, &tb)
		if got := maskPairs(&b[0], n, &tb); got != want {
			t.Fatalf("%q: maskPairs %064b, want %064b", b, got, want)
		}
		if want>>(n-1) != 0 {
			t.Fatalf("%q: a bit past the last pair: %064b", b, want)
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

// BenchmarkMaskAnchors compares, in one run, the byte loop (the reference),
// the portable SWAR version used off amd64 and the amd64 assembly, on a
// 64-byte window of tool output with the default rules' anchors.
func BenchmarkMaskAnchors(b *testing.B) {
	msg := []byte("[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/x.pom")[:64]
	s := newAnchorScanner(DefaultRules().anchors())
	v := &s.vecs[0]
	for _, f := range []struct {
		name string
		fn   func(*byte, int, *anchorVec) uint64
	}{{"loop", maskAnchorsGeneric}, {"swar", maskAnchorsSWAR}, {"native", maskAnchors}} {
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			var sink uint64
			for b.Loop() {
				sink |= f.fn(&msg[0], len(msg), v)
			}
			_ = sink
		})
	}
}
