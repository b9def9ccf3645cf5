//go:build !amd64

package parser

// maskAnchors: see anchorscan_amd64.go.
func maskAnchors(p *byte, n int, v *anchorVec) uint64 { return maskAnchorsSWAR(p, n, v) }

// useAVX2 is amd64-only (see anchorscan_amd64.go).
var useAVX2 = false
