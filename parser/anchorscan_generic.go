//go:build !amd64

package parser

// maskAnchors: see anchorscan_amd64.go.
func maskAnchors(p *byte, n int, v *anchorVec) uint64 { return maskAnchorsSWAR(p, n, v) }

// maskPairs is only used with AVX2 (see anchorscan_amd64.go).
func maskPairs(p *byte, n int, t *pairTables) uint64 { return maskPairsGeneric(p, n, t) }

// useAVX2 is amd64-only (see anchorscan_amd64.go).
var useAVX2 = false
