package codearts

import "unsafe"

// specialIndex is plainRun for len(p[:n]) >= 16, sixteen bytes at a
// time; in plainrun_amd64.s.
//
//go:noescape
func specialIndex(p *byte, n int) int

// plainRun returns the length of the run at the start of b that holds no
// '"', '\\' or control character. Bytes of 0x80 and above are plain: str
// checks a string's UTF-8 once, at its end.
func plainRun(b []byte) int {
	if len(b) >= 16 {
		return specialIndex(unsafe.SliceData(b), len(b))
	}
	return plainRunWords(b)
}
