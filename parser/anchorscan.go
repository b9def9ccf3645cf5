package parser

import "unsafe"

// One pass over a message finds the positions of all anchor bytes at once
// (instead of one bytes.IndexByte scan per anchor byte, each costing a call
// whatever the message length): anchorMask compares each 16-byte block of
// the message with up to four anchor bytes in SSE2 registers on amd64
// (anchorscan_amd64.s) and returns one bit per position. Other
// architectures use the table loop in anchorscan_generic.go.

// anchorsPerVec is how many anchor bytes one anchorVec holds.
const anchorsPerVec = 4

// anchorVec holds up to four anchor bytes, each repeated 16 times (one
// SSE2 register each). Unused slots repeat the first byte.
type anchorVec [anchorsPerVec][16]byte

// anchorScanner finds the anchor bytes of a Rules in a message.
type anchorScanner struct {
	vecs  []anchorVec // amd64: the anchor bytes, four per vector
	isAnc [256]bool   // every anchor byte (the generic path and short tails)
}

func newAnchorScanner(anchors []byte) anchorScanner {
	var s anchorScanner
	for i, b := range anchors {
		s.isAnc[b] = true
		if i%anchorsPerVec == 0 {
			var v anchorVec
			for k := range v {
				for j := range v[k] {
					v[k][j] = b
				}
			}
			s.vecs = append(s.vecs, v)
		}
		for j := range s.vecs[i/anchorsPerVec][i%anchorsPerVec] {
			s.vecs[i/anchorsPerVec][i%anchorsPerVec][j] = b
		}
	}
	return s
}

// mask64 returns a mask of the positions i < min(len(b), 64) with
// b[i] an anchor byte (bit i set). The common case (at most four anchors,
// 16 bytes or more) is one call of maskAnchors.
func (s *anchorScanner) mask64(b []byte) uint64 {
	if len(b) >= 16 && len(s.vecs) == 1 {
		return maskAnchors(&b[0], min(len(b), 64), &s.vecs[0])
	}
	return s.maskSlow(b[:min(len(b), 64)])
}

// maskSlow is mask64 for fewer than 16 bytes (a table loop is as fast as a
// call) or more than four anchors (one call per four).
func (s *anchorScanner) maskSlow(b []byte) uint64 {
	var m uint64
	if len(b) < 16 {
		for i, c := range b {
			if s.isAnc[c] {
				m |= 1 << i
			}
		}
		return m
	}
	for vi := range s.vecs {
		m |= maskAnchors(&b[0], len(b), &s.vecs[vi])
	}
	return m
}

// maskAnchorsGeneric is the portable maskAnchors (and the reference the
// amd64 version is tested against): a bit per byte of p[:n] (n <= 64) that
// equals one of the anchor bytes of v.
func maskAnchorsGeneric(p *byte, n int, v *anchorVec) uint64 {
	var m uint64
	for i, c := range unsafe.Slice(p, n) {
		if c == v[0][0] || c == v[1][0] || c == v[2][0] || c == v[3][0] {
			m |= 1 << i
		}
	}
	return m
}
