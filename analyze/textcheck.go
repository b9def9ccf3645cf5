package analyze

import (
	"errors"
	"fmt"
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
	// Complete a character cut by the previous chunk.
	for t.ntail > 0 && len(p) > 0 {
		t.tail[t.ntail] = p[0]
		t.ntail++
		p = p[1:]
		t.total++
		if r, size := utf8.DecodeRune(t.tail[:t.ntail]); r != utf8.RuneError || size > 1 {
			t.ntail = 0
			break
		}
		if utf8.FullRune(t.tail[:t.ntail]) || t.ntail == utf8.UTFMax {
			t.bad += int64(t.ntail)
			t.ntail = 0
		}
	}
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && !isTextControl(c) {
				if c == 0 && t.nulAt < 0 {
					t.nulAt = t.total
					return t.finish()
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
				return nil
			}
			t.bad++
		}
		i += size
		t.total += int64(size)
	}
	if t.total >= 64<<10 && t.bad*badRatio > t.total {
		return t.finish()
	}
	return nil
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
