package parser

// markWordsAVX2 sets m[0:k] (m points to the first) to the marks of
// p[0:64k], reading p[0:64k+1], counting from nl and code marks before
// them; in blockmarks_amd64.s.
//
//go:noescape
func markWordsAVX2(p *byte, k int, m *markWord, nl, code uint32)
