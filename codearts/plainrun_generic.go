//go:build !amd64

package codearts

// plainRun returns the length of the run at the start of b that holds no
// '"', '\\' or control character. Bytes of 0x80 and above are plain: str
// checks a string's UTF-8 once, at its end.
func plainRun(b []byte) int { return plainRunWords(b) }
