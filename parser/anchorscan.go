package parser

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// One pass over a message finds the positions of all anchor bytes at once
// (instead of one bytes.IndexByte scan per anchor byte, each costing a call
// whatever the message length): anchorMask compares each 16-byte block of
// the message with up to four anchor bytes in SSE2 registers on amd64
// (anchorscan_amd64.s) and returns one bit per position. Other
// architectures use the SWAR loop maskAnchorsSWAR (anchorscan_generic.go).
// The rules use it where the CPU has no AVX2 (with AVX2: pairscan.go); the
// record split uses it everywhere (stream.go).

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

// SWAR ("SIMD within a register") constants: a byte repeated eight times.
const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
	swarLow7  = 0x7f7f7f7f7f7f7f7f
)

// maskAnchorsSWAR is maskAnchors without vector instructions, for the
// architectures that have no assembly version (arm64 among them): it tests
// eight bytes per step against each anchor. For t = word ^ anchor*swarOnes a
// byte of t is zero exactly where the word's byte equals the anchor, and
// ^(((t & 0x7f..) + 0x7f..) | t | 0x7f..) sets the high bit of exactly those
// bytes (no borrow crosses bytes, unlike the shorter haszero trick). Hits
// are rare, so they are moved into the result one by one.
func maskAnchorsSWAR(p *byte, n int, v *anchorVec) uint64 {
	b := unsafe.Slice(p, n)
	a0, a1 := uint64(v[0][0])*swarOnes, uint64(v[1][0])*swarOnes
	a2, a3 := uint64(v[2][0])*swarOnes, uint64(v[3][0])*swarOnes
	var m uint64
	i := 0
	for ; i+8 <= n; i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		hits := swarZeroBytes(w^a0) | swarZeroBytes(w^a1) | swarZeroBytes(w^a2) | swarZeroBytes(w^a3)
		for hits != 0 {
			m |= 1 << (i + bits.TrailingZeros64(hits)/8)
			hits &= hits - 1
		}
	}
	for ; i < n; i++ {
		if c := b[i]; c == v[0][0] || c == v[1][0] || c == v[2][0] || c == v[3][0] {
			m |= 1 << i
		}
	}
	return m
}

// swarZeroBytes sets the high bit of every zero byte of t, and no other bit.
func swarZeroBytes(t uint64) uint64 {
	return ^(((t & swarLow7) + swarLow7) | t | swarLow7)
}
