package analyze

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// textCheck decides whether an input is a text log. CodeArts returns logs as
// UTF-8 text; an input with a NUL byte, or where more than 1 byte in 20 is
// neither valid UTF-8 nor a usual text control character, is rejected as
// binary instead of being counted as garbage records.
type textCheck struct {
	total, bad int64
	nulAt      int64 // offset of the first NUL, -1 if none
	tail       [utf8.UTFMax]byte
	ntail      int
	started    bool
}

const badRatio = 20

func (t *textCheck) write(p []byte) error {
	if !t.started {
		t.started, t.nulAt = true, -1
	}
	if t.ntail > 0 {
		// A character was cut by the previous chunk: check the carried
		// bytes again followed by the first bytes of p.
		var q [2 * utf8.UTFMax]byte
		carried := copy(q[:], t.tail[:t.ntail])
		n := carried + copy(q[carried:], p[:min(len(p), utf8.UTFMax)])
		t.total -= int64(carried)
		t.ntail = 0
		i, err := t.slow(q[:n], carried)
		if err != nil || t.ntail > 0 {
			return err // an error, or p only continued the cut character
		}
		p = p[i-carried:]
	}
	// Fast path, for the text logs nearly all inputs are: valid UTF-8 up to
	// a character cut at the end, so only control characters need a look.
	end := len(p) - cutRune(p)
	if valid, bad, nul := checkText(p[:end]); valid {
		if nul >= 0 {
			t.nulAt = t.total + int64(nul)
			return t.finish()
		}
		t.bad += bad
		t.total += int64(end)
		t.ntail = copy(t.tail[:], p[end:])
		t.total += int64(len(p) - end)
		return t.ratio()
	}
	if _, err := t.slow(p, len(p)); err != nil {
		return err
	}
	return t.ratio()
}

// slow checks p character by character until offset stop (or the end of
// p) and returns the offset it reached. A character cut by the end of p
// is kept in t.tail.
func (t *textCheck) slow(p []byte, stop int) (int, error) {
	i := 0
	for i < stop && i < len(p) {
		c := p[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && !isTextControl(c) {
				if c == 0 {
					t.nulAt = t.total
					return i, t.finish()
				}
				t.bad++
			}
			i++
			t.total++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			if !utf8.FullRune(p[i:]) { // cut by the chunk end
				t.ntail = copy(t.tail[:], p[i:])
				t.total += int64(len(p) - i)
				return len(p), nil
			}
			t.bad++
		}
		i += size
		t.total += int64(size)
	}
	return i, nil
}

// ratio stops a long input early once it is clearly not text.
func (t *textCheck) ratio() error {
	if t.total >= 64<<10 && t.bad*badRatio > t.total {
		return t.finish()
	}
	return nil
}

// cutRune is the length of the beginning of a character at the end of p
// that the next chunk completes (0 if p ends on a character boundary).
func cutRune(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-(utf8.UTFMax-1); i-- {
		if utf8.RuneStart(p[i]) {
			if p[i] >= utf8.RuneSelf && !utf8.FullRune(p[i:]) {
				return len(p) - i
			}
			return 0
		}
	}
	return 0
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// controlsSWAR counts the control characters of p that text logs do not
// have, eight bytes at a time, and returns the offset of the first NUL (-1
// if none). p must be valid UTF-8 (its bytes of multi-byte characters are
// all 0x80 or above, so they are never taken for controls). It is
// controls where there is no vector version (textcheck_amd64.go).
func controlsSWAR(p []byte) (bad int64, nul int) {
	i := 0
	for ; i+8 <= len(p); i += 8 {
		x := binary.LittleEndian.Uint64(p[i:])
		// The high bit is set for every byte below 0x20, and possibly for
		// a byte just above one (the borrow), which the loop rechecks.
		m := (x - ones*0x20) &^ x & highs
		for m != 0 {
			j := i + bits.TrailingZeros64(m)/8
			if c := p[j]; c < 0x20 && !isTextControl(c) {
				if c == 0 {
					return bad, j
				}
				bad++
			}
			m &= m - 1
		}
	}
	for ; i < len(p); i++ {
		if c := p[i]; c < 0x20 && !isTextControl(c) {
			if c == 0 {
				return bad, i
			}
			bad++
		}
	}
	return bad, -1
}

func (t *textCheck) finish() error {
	if t.ntail > 0 {
		t.bad += int64(t.ntail)
		t.ntail = 0
	}
	if t.started && t.nulAt >= 0 {
		return fmt.Errorf("not a text log: NUL byte at offset %d (binary data?)", t.nulAt)
	}
	if t.bad*badRatio > t.total {
		return errors.New("not a text log: too many bytes that are neither UTF-8 text nor line control characters (binary data?)")
	}
	return nil
}

// isTextControl reports control characters that occur in real build logs:
// tab, line ends, form feed, vertical tab, backspace and ESC (ANSI colours).
func isTextControl(c byte) bool {
	switch c {
	case '\t', '\n', '\r', '\f', '\v', '\b', 0x1b:
		return true
	}
	return false
}
