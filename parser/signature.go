package parser

import (
	"bytes"
	"cmp"
	"math/bits"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error signatures: error records grouped into templates, so that "which
// error is this" has an answer when a log holds hundreds of them. The
// grouping is the fixed-depth tree of Drain (He et al., ICWS 2017): records
// are split into tokens, tokens that carry numbers, paths or ids are masked
// as <*>, and a record joins the group with the same token count and first
// token whose template it shares at least half of its tokens with; the
// tokens that differ become <*>.

// Bounds of a Signatures value: its memory is at most about
// MaxSignatures * maxSigTokens * maxSigToken bytes whatever the input.
const (
	MaxSignatures = 200
	maxSigTokens  = 32 // tokens compared; the rest of a line is one <*>
	maxSigToken   = 48 // longer tokens are masked
	sigMask       = "<*>"
	// MaxTopSignatures is how many templates an Analysis reports.
	MaxTopSignatures = 10
)

// Signature is one template and the records it stands for.
type Signature struct {
	Template  string // tokens joined by one space, masked parts as <*>
	Count     int64
	FirstLine int64 // line of the first record it grouped
	tokens    []string
}

// Signatures groups records into templates. The zero value is not usable;
// use NewSignatures.
type Signatures struct {
	// groups are the templates by first token, in order of creation;
	// only those with the same token count are compared.
	groups map[string][]*Signature
	all    []*Signature
	// Other counts the records that matched no template once
	// MaxSignatures templates existed.
	Other int64
	buf   []byte // Add's template
}

// NewSignatures returns an empty set of templates.
func NewSignatures() *Signatures {
	return &Signatures{groups: map[string][]*Signature{}}
}

// Add groups the first line of msg, a record starting at line.
func (s *Signatures) Add(msg []byte, line int64) {
	var n int
	s.buf, n = appendTemplate(s.buf[:0], msg)
	s.addTemplate(s.buf, n, line)
}

// addTemplate groups a record whose template (appendTemplate) is tpl, of n
// tokens. It allocates only for a new or changed template.
func (s *Signatures) addTemplate(tpl []byte, n int, line int64) {
	if n == 0 {
		return
	}
	first := tpl
	if i := bytes.IndexByte(tpl, ' '); i >= 0 {
		first = tpl[:i]
	}
	group := s.groups[string(first)]
	// Most error records repeat a template as it is: the first such group
	// is the one the comparison below would choose (no other can be more
	// similar), and it stays as it is.
	for _, g := range group {
		if len(g.tokens) == n && g.Template == string(tpl) {
			g.Count++
			return
		}
	}
	var best *Signature
	bestSim := 0
	for _, g := range group {
		if len(g.tokens) != n {
			continue
		}
		sim := 0
		for i, rest := 0, tpl; i < n; i++ {
			var t []byte
			t, rest = nextToken(rest)
			if g.tokens[i] == string(t) {
				sim++
			}
		}
		if sim > bestSim {
			best, bestSim = g, sim
		}
	}
	if best != nil && 2*bestSim >= n {
		changed := false
		for i, rest := 0, tpl; i < n; i++ {
			var t []byte
			t, rest = nextToken(rest)
			if best.tokens[i] != string(t) && best.tokens[i] != sigMask {
				best.tokens[i], changed = sigMask, true
			}
		}
		if changed {
			best.Template = strings.Join(best.tokens, " ")
		}
		best.Count++
		return
	}
	if len(s.all) >= MaxSignatures {
		s.Other++
		return
	}
	t := string(tpl)
	sig := &Signature{Template: t, Count: 1, FirstLine: line, tokens: strings.Split(t, " ")}
	s.groups[sig.tokens[0]] = append(group, sig)
	s.all = append(s.all, sig)
}

// nextToken splits the first token off a template.
func nextToken(tpl []byte) (tok, rest []byte) {
	if i := bytes.IndexByte(tpl, ' '); i >= 0 {
		return tpl[:i], tpl[i+1:]
	}
	return tpl, nil
}

// Top returns the n templates with the most records, most first (ties: the
// earlier first line first), and the number of templates in all.
func (s *Signatures) Top(n int) ([]Signature, int) {
	sorted := slices.Clone(s.all)
	slices.SortStableFunc(sorted, func(a, b *Signature) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.FirstLine, b.FirstLine))
	})
	out := make([]Signature, 0, min(n, len(sorted)))
	for _, sig := range sorted[:min(n, len(sorted))] {
		out = append(out, Signature{Template: sig.Template, Count: sig.Count, FirstLine: sig.FirstLine})
	}
	return out, len(s.all)
}

// appendTemplate appends the template of the first line of msg to dst and
// returns it with its number of tokens: the line, with invalid UTF-8
// replaced by U+FFFD, split at white space (unicode.IsSpace) into at most
// maxSigTokens tokens (a longer line's last one is <*>), the variable
// tokens masked as <*>, joined by one space. It is one pass over the line
// that allocates nothing once dst is large enough.
func appendTemplate(dst, msg []byte) ([]byte, int) {
	t := tplBuilder{dst: dst, start: -1}
	msg = firstLine(msg)
	invalid := false // the last character was invalid UTF-8
	for i := 0; i < len(msg); {
		c := msg[i]
		if c < utf8.RuneSelf {
			invalid = false
			if sigClass[c] == sigSpace {
				i++
				t.endToken()
				continue
			}
			if !t.beginToken() {
				return t.dst, t.n
			}
			// The run of ASCII bytes up to the next space, at once.
			j, v := asciiRun(msg, i)
			t.variable = t.variable || v
			t.dst = append(t.dst, msg[i:j]...)
			i = j
			continue
		}
		r, size := utf8.DecodeRune(msg[i:])
		if r == utf8.RuneError && size == 1 {
			i++
			if invalid {
				continue // a run of invalid bytes is one U+FFFD
			}
			invalid = true
			if !t.beginToken() {
				return t.dst, t.n
			}
			t.nonASCII = true
			t.dst = append(t.dst, "\uFFFD"...)
			continue
		}
		invalid = false
		if unicode.IsSpace(r) {
			t.endToken()
			i += size
			continue
		}
		if !t.beginToken() {
			return t.dst, t.n
		}
		t.nonASCII = true
		t.dst = append(t.dst, msg[i:i+size]...)
		i += size
	}
	t.endToken()
	return t.dst, t.n
}

// tplBuilder is the state of appendTemplate (methods the compiler
// inlines, where closures cost a call per token).
type tplBuilder struct {
	dst      []byte
	n        int  // tokens started
	start    int  // start of the current token in dst, -1 between tokens
	variable bool // the current token holds a digit or a path separator
	nonASCII bool // ... or a character outside ASCII
}

// endToken ends the current token, if any, masking it if it is variable
// or too long.
func (t *tplBuilder) endToken() {
	if t.start < 0 {
		return
	}
	if l := len(t.dst) - t.start; t.variable || l > maxSigToken || t.nonASCII && l > maxSigToken/2 {
		t.dst = append(t.dst[:t.start], sigMask...)
	}
	t.start = -1
}

// beginToken starts a token, reporting false when the line has more than
// maxSigTokens: the last one is then <*> and the template done.
func (t *tplBuilder) beginToken() bool {
	if t.start >= 0 {
		return true
	}
	if t.n == maxSigTokens {
		t.dst = append(t.dst[:len(t.dst)-len(lastToken(t.dst))], sigMask...)
		return false
	}
	if t.n > 0 {
		t.dst = append(t.dst, ' ')
	}
	t.n++
	t.start, t.variable, t.nonASCII = len(t.dst), false, false
	return true
}

// asciiRun returns the end of the run of ASCII bytes other than white
// space that starts at msg[i], and whether one of them makes a token
// variable (sigVariable). It looks at eight bytes at a time: most tokens
// end within the first eight.
func asciiRun(msg []byte, i int) (end int, variable bool) {
	j := i
	for j+8 <= len(msg) {
		x := le64(msg[j:])
		if x&swarHighs != 0 {
			break // a byte outside ASCII: the loop below stops there
		}
		v := asciiBetween(x, '/', '9') | asciiBetween(x, '\\', '\\')
		if sp := asciiBetween(x, '\t', '\r') | asciiBetween(x, ' ', ' '); sp != 0 {
			k := bits.TrailingZeros64(sp) / 8 // bytes before the space
			return j + k, variable || v&(1<<(8*k)-1) != 0
		}
		variable = variable || v != 0
		j += 8
	}
	for j < len(msg) && sigClass[msg[j]]&(sigSpace|sigHigh) == 0 {
		variable = variable || sigClass[msg[j]] != 0
		j++
	}
	return j, variable
}

// asciiBetween sets the high bit of each byte of x, eight ASCII bytes, that
// lies in lo..hi: adding 0x80-n to a byte below 0x80 sets its high bit
// exactly when it is at least n, and never carries into the next byte.
func asciiBetween(x uint64, lo, hi byte) uint64 {
	return (x + swarOnes*uint64(0x80-lo)) &^ (x + swarOnes*uint64(0x7f-hi)) & swarHighs
}

// lastToken is the last token of a template.
func lastToken(tpl []byte) []byte {
	return tpl[bytes.LastIndexByte(tpl, ' ')+1:]
}

// sigClass classifies bytes for appendTemplate.
var sigClass = func() (t [256]uint8) {
	for _, c := range "\t\n\v\f\r " {
		t[c] = sigSpace
	}
	for _, c := range "0123456789/\\" {
		t[c] = sigVariable
	}
	for c := utf8.RuneSelf; c < len(t); c++ {
		t[c] = sigHigh
	}
	return t
}()

const (
	sigSpace    = 1 << iota // ASCII white space
	sigVariable             // makes a token variable
	sigHigh                 // not ASCII
)
