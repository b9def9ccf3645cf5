package analyze

import (
	"unicode/utf8"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/cpuid"
)

// validBlocksAVX2 reports whether p[:n], n a multiple of 32, has no UTF-8
// error but for a character cut at n; in utf8_amd64.s.
//
//go:noescape
func validBlocksAVX2(p *byte, n int) bool

// useAVX2 selects validBlocksAVX2 in validUTF8 (tests turn it off).
var useAVX2 = cpuid.AVX2

// validUTF8 is utf8.Valid: with AVX2, 32 bytes at a time whatever the
// text (utf8.Valid is fast on ASCII only), then the last character the
// blocks may have cut and the last bytes with utf8.Valid.
func validUTF8(p []byte) bool {
	n := len(p) &^ 31
	if !useAVX2 || n == 0 {
		return utf8.Valid(p)
	}
	if !validBlocksAVX2(&p[0], n) {
		return false
	}
	// The blocks checked every byte against the bytes before it; from the
	// last lead byte among their last three bytes (if no ASCII byte
	// follows it), utf8.Valid checks that its character is finished.
	s := n
	for j := n - 1; j >= n-3; j-- {
		if c := p[j]; c >= 0xc0 {
			s = j
			break
		} else if c < utf8.RuneSelf {
			break
		}
	}
	return utf8.Valid(p[s:])
}
