//go:build !amd64

package analyze

import "unicode/utf8"

// useAVX2: there is no vector version here (utf8_amd64.go).
const useAVX2 = false

// validUTF8 is utf8.Valid.
func validUTF8(p []byte) bool { return utf8.Valid(p) }

// checkText is validUTF8(p) and, if p is valid, controls(p).
func checkText(p []byte) (valid bool, bad int64, nul int) {
	if !utf8.Valid(p) {
		return false, 0, -1
	}
	bad, nul = controls(p)
	return true, bad, nul
}
