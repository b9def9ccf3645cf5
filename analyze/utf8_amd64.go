package analyze

import (
	"unicode/utf8"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/cpuid"
)

// textBlocksAVX2 reports whether p[:n], n a multiple of 32, has no UTF-8
// error but for a character cut at n, and whether it has a control
// character that controls counts; in utf8_amd64.s.
//
//go:noescape
func textBlocksAVX2(p *byte, n int) (valid, odd bool)

// useAVX2 selects textBlocksAVX2 (tests turn it off).
var useAVX2 = cpuid.AVX2

// checkText is validUTF8(p) and, if p is valid, controls(p), in one pass
// over p where the CPU has AVX2.
func checkText(p []byte) (valid bool, bad int64, nul int) {
	n := len(p) &^ 31
	if !useAVX2 || n == 0 {
		if !utf8.Valid(p) {
			return false, 0, -1
		}
		bad, nul = controls(p)
		return true, bad, nul
	}
	valid, odd := textBlocksAVX2(&p[0], n)
	if !valid || !utf8.Valid(p[lastLead(p, n):]) {
		return false, 0, -1
	}
	if odd {
		bad, nul = controls(p)
		return true, bad, nul
	}
	bad, nul = controls(p[n:])
	if nul >= 0 {
		nul += n
	}
	return true, bad, nul
}

// validUTF8 is utf8.Valid: with AVX2, 32 bytes at a time whatever the
// text (utf8.Valid is fast on ASCII only), then the last character the
// blocks may have cut and the last bytes with utf8.Valid.
func validUTF8(p []byte) bool {
	n := len(p) &^ 31
	if !useAVX2 || n == 0 {
		return utf8.Valid(p)
	}
	valid, _ := textBlocksAVX2(&p[0], n)
	return valid && utf8.Valid(p[lastLead(p, n):])
}

// lastLead is where utf8.Valid continues the check of textBlocksAVX2 on
// p[:n]: the blocks checked every byte against the bytes before it, so
// from the last lead byte among their last three bytes (if no ASCII byte
// follows it), or else from n.
func lastLead(p []byte, n int) int {
	for j := n - 1; j >= n-3; j-- {
		if c := p[j]; c >= 0xc0 {
			return j
		} else if c < utf8.RuneSelf {
			break
		}
	}
	return n
}
