//go:build !amd64

package parser

// markWordsAVX2 is amd64-only (markAVX2 is false elsewhere).
func markWordsAVX2(p *byte, k int, m *markWord, nl, code uint32) { panic("parser: no AVX2") }
