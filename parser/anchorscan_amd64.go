package parser

import "github.com/codearts-build-exporter/codearts_build_exporter/internal/cpuid"

// maskAnchors returns, for 16 <= n <= 64, a bit per byte of p[:n] (bit i
// for p[i]) that is set where the byte equals one of the four anchor bytes
// of v. SSE2, or AVX2 where the CPU has it; in anchorscan_amd64.s.
//
//go:noescape
func maskAnchors(p *byte, n int, v *anchorVec) uint64

// maskPairs returns, for 17 <= n <= 65, a bit per position i < n-1 of
// p[:n] for which t.pass(p[i], p[i+1]). AVX2 only; in anchorscan_amd64.s.
//
//go:noescape
func maskPairs(p *byte, n int, t *pairTables) uint64

// useAVX2 is read by maskAnchors.
var useAVX2 = cpuid.AVX2
