package codearts

import "strings"

// Redaction of secrets in everything the client puts in an error or a log
// line. A server may quote a credential back whole, cut, in another case or
// in pieces; so any run of minSecretRun or more characters of a secret, in
// any (ASCII) case, is replaced by "<secret>". Shorter secrets are replaced
// where they appear whole.
const (
	minSecretRun = 8
	// maxRedactInput: longer text is cut first (error messages are
	// shortened to a few hundred bytes anyway).
	maxRedactInput = 64 << 10
	redacted       = "<secret>"
)

// redactSecrets returns s with every run of at least minSecretRun
// characters of any of secrets (case-insensitively) replaced by "<secret>".
func redactSecrets(s string, secrets []string) string {
	if len(s) > maxRedactInput {
		s = truncate(s, maxRedactInput)
	}
	low := asciiLower(s)
	var covered []bool
	mark := func(i, n int) {
		if covered == nil {
			covered = make([]bool, len(s))
		}
		for k := i; k < i+n; k++ {
			covered[k] = true
		}
	}
	for _, sec := range secrets {
		ls := asciiLower(sec)
		switch {
		case len(ls) < 4:
			continue
		case len(ls) < minSecretRun:
			for i := 0; ; {
				j := strings.Index(low[i:], ls)
				if j < 0 {
					break
				}
				mark(i+j, len(ls))
				i += j + 1
			}
			continue
		}
		windows := make(map[string]struct{}, len(ls)-minSecretRun+1)
		for i := 0; i+minSecretRun <= len(ls); i++ {
			windows[ls[i:i+minSecretRun]] = struct{}{}
		}
		for i := 0; i+minSecretRun <= len(low); i++ {
			if _, ok := windows[low[i:i+minSecretRun]]; ok {
				mark(i, minSecretRun)
			}
		}
	}
	if covered == nil {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if !covered[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteString(redacted)
		for i < len(s) && covered[i] {
			i++
		}
	}
	return b.String()
}

// asciiLower lower-cases ASCII letters only, so byte positions stay the
// same as in s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
