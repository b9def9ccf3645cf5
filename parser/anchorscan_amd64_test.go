package parser

import "testing"

// The SSE2 path too, on a CPU with AVX2.
func TestAnchorScanSSE2(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2: TestAnchorScanMatchesLoop tested SSE2")
	}
	useAVX2 = false
	defer func() { useAVX2 = true }()
	TestAnchorScanMatchesLoop(t)
}
