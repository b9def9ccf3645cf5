package parser

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
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
	groups map[sigKey][]*Signature
	all    []*Signature
	// Other counts the records that matched no template once
	// MaxSignatures templates existed.
	Other int64
}

type sigKey struct {
	n     int
	first string
}

// NewSignatures returns an empty set of templates.
func NewSignatures() *Signatures {
	return &Signatures{groups: map[sigKey][]*Signature{}}
}

// Add groups the first line of msg, a record starting at line.
func (s *Signatures) Add(msg []byte, line int64) {
	if i := bytes.IndexAny(msg, "\r\n"); i >= 0 {
		msg = msg[:i]
	}
	toks := sigTokens(msg)
	if len(toks) == 0 {
		return
	}
	key := sigKey{len(toks), toks[0]}
	var best *Signature
	bestSim := 0
	for _, g := range s.groups[key] {
		sim := 0
		for i, t := range toks {
			if g.tokens[i] == t {
				sim++
			}
		}
		if sim > bestSim {
			best, bestSim = g, sim
		}
	}
	if best != nil && 2*bestSim >= len(toks) {
		changed := false
		for i, t := range toks {
			if best.tokens[i] != t && best.tokens[i] != sigMask {
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
	sig := &Signature{Template: strings.Join(toks, " "), Count: 1, FirstLine: line, tokens: toks}
	s.groups[key] = append(s.groups[key], sig)
	s.all = append(s.all, sig)
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

// sigTokens splits a line into at most maxSigTokens tokens, masking the
// variable ones.
func sigTokens(line []byte) []string {
	fields := strings.Fields(strings.ToValidUTF8(string(line), "\uFFFD"))
	if len(fields) > maxSigTokens {
		fields = append(fields[:maxSigTokens-1], sigMask)
	}
	for i, f := range fields {
		if variableToken(f) {
			fields[i] = sigMask
		}
	}
	return fields
}

// variableToken reports whether a token is likely to differ between two
// records of the same kind: it holds a digit (counts, times, ids, line
// numbers), a path or URL separator, or is very long.
func variableToken(t string) bool {
	if len(t) > maxSigToken || utf8.RuneCountInString(t) != len(t) && len(t) > maxSigToken/2 {
		return true
	}
	return strings.ContainsAny(t, "0123456789/\\")
}
