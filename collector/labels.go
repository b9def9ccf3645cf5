package collector

import (
	"strings"
	"unicode/utf8"
)

// MaxLabelRunes bounds the label values that come from the API (action:
// a stage's display name; job_name of a discovered job): longer values are
// cut to their first MaxLabelRunes characters and end in "…". A real
// display name is a few words; a 1 MB one must not become a 1 MB label.
const MaxLabelRunes = 128

// labelValue makes s usable as a label value: valid UTF-8 (invalid bytes
// become U+FFFD), at most MaxLabelRunes characters.
func labelValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= MaxLabelRunes {
		return s
	}
	n, i := 0, 0
	for i = range s {
		if n == MaxLabelRunes-1 {
			break
		}
		n++
	}
	return s[:i] + "…"
}
