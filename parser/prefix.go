package parser

// CodeArts writes a timestamp prefix in one of two forms (docs/parser.md):
//
//	[2026/09/10 17:26:22.661 GMT+08:00]   form 1, 35 bytes
//	[Sep 14, 2026 02:29:37.820 GMT+08:00] form 2, 36 or 37 bytes (day of month 1 or 2 digits)
//
// The offset may be any GMT±HH:MM. Validation is strict (every digit, every
// separator, month, day of month, hour, minute, second and offset ranges) so
// that "[INFO]", "[slave]", "[2026" or a tool's own "[2026-09-10 09:27:30]"
// inside a message never start a record.

const (
	form1Len     = 35
	maxPrefixLen = 37
)

// prefixResult says whether b starts with a prefix.
type prefixResult uint8

const (
	prefixNo    prefixResult = iota // b does not start with a prefix
	prefixYes                       // b starts with a complete, valid prefix
	prefixShort                     // b is a valid beginning of a prefix but too short to decide
)

var monthInitial = [256]bool{'J': true, 'F': true, 'M': true, 'A': true, 'S': true, 'O': true, 'N': true, 'D': true}

// matchPrefix reports whether b (which starts with '[') starts with a
// timestamp prefix. On prefixYes it also returns the prefix length and the
// timestamp in Unix milliseconds.
func matchPrefix(b []byte) (prefixResult, int, int64) {
	if len(b) < 2 {
		if len(b) == 1 && b[0] == '[' {
			return prefixShort, 0, 0
		}
		return prefixNo, 0, 0
	}
	c := b[1]
	if c-'0' < 10 {
		if len(b) >= form1Len {
			if ms, ok := parseForm1(b); ok {
				return prefixYes, form1Len, ms
			}
			return prefixNo, 0, 0
		}
		return matchShort(b, form1Pattern), 0, 0
	}
	if monthInitial[c] {
		if len(b) >= maxPrefixLen || (len(b) >= maxPrefixLen-1 && b[6] == ',') {
			if n, ms, ok := parseForm2(b); ok {
				return prefixYes, n, ms
			}
			return prefixNo, 0, 0
		}
		r := matchShort(b, form2Pattern2)
		if r == prefixNo {
			r = matchShort(b, form2Pattern1)
		}
		return r, 0, 0
	}
	return prefixNo, 0, 0
}

// Patterns for prefixes cut off by the end of a chunk: 'd' is a digit, 's'
// a sign, 'M' a month-name letter, anything else itself. They only decide
// "could still become a prefix"; a full prefix is checked by parseForm1/2.
const (
	form1Pattern  = "[dddd/dd/dd dd:dd:dd.ddd GMTsdd:dd]"
	form2Pattern2 = "[MMM dd, dddd dd:dd:dd.ddd GMTsdd:dd]"
	form2Pattern1 = "[MMM d, dddd dd:dd:dd.ddd GMTsdd:dd]"
)

func matchShort(b []byte, pat string) prefixResult {
	for i := 0; i < len(b) && i < len(pat); i++ {
		c := b[i]
		switch pat[i] {
		case 'd':
			if c-'0' >= 10 {
				return prefixNo
			}
		case 's':
			if c != '+' && c != '-' {
				return prefixNo
			}
		case 'M':
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
				return prefixNo
			}
		default:
			if c != pat[i] {
				return prefixNo
			}
		}
	}
	if len(b) >= 4 && monthNumber(b[1], b[2], b[3]) == 0 && b[1]-'0' >= 10 {
		return prefixNo
	}
	return prefixShort
}

// dig2 returns the value of two ASCII digits, or a value > 99 if either is
// not a digit.
func dig2(a, b byte) int {
	x, y := int(a-'0'), int(b-'0')
	if x > 9 || y > 9 {
		return 1000
	}
	return x*10 + y
}

func parseForm1(b []byte) (int64, bool) {
	_ = b[34]
	if b[5] != '/' || b[8] != '/' || b[11] != ' ' || b[14] != ':' || b[17] != ':' || b[20] != '.' ||
		b[24] != ' ' || b[25] != 'G' || b[26] != 'M' || b[27] != 'T' || b[31] != ':' || b[34] != ']' {
		return 0, false
	}
	y1, y2 := dig2(b[1], b[2]), dig2(b[3], b[4])
	if y1 > 99 || y2 > 99 {
		return 0, false
	}
	return civilMillis(y1*100+y2, dig2(b[6], b[7]), dig2(b[9], b[10]), b[12:])
}

func parseForm2(b []byte) (int, int64, bool) {
	mon := monthNumber(b[1], b[2], b[3])
	if mon == 0 || b[4] != ' ' {
		return 0, 0, false
	}
	var day, i int
	if b[6] == ',' { // one-digit day
		if b[5]-'0' >= 10 {
			return 0, 0, false
		}
		day, i = int(b[5]-'0'), 7
	} else {
		day, i = dig2(b[5], b[6]), 8
		if b[7] != ',' {
			return 0, 0, false
		}
	}
	// b[i:] = " 2026 02:29:37.820 GMT+08:00]" (29 bytes)
	if len(b) < i+29 {
		return 0, 0, false
	}
	t := b[i : i+29]
	if t[0] != ' ' || t[5] != ' ' {
		return 0, 0, false
	}
	y1, y2 := dig2(t[1], t[2]), dig2(t[3], t[4])
	if y1 > 99 || y2 > 99 {
		return 0, 0, false
	}
	ms, ok := civilMillis(y1*100+y2, mon, day, t[6:])
	return i + 29, ms, ok
}

// civilMillis validates and converts "HH:MM:SS.mmm GMT±HH:MM]" (t) with the
// given date to Unix milliseconds.
func civilMillis(year, month, day int, t []byte) (int64, bool) {
	_ = t[22]
	if t[2] != ':' || t[5] != ':' || t[8] != '.' || t[12] != ' ' || t[13] != 'G' || t[14] != 'M' ||
		t[15] != 'T' || t[19] != ':' || t[22] != ']' {
		return 0, false
	}
	hh, mi, ss := dig2(t[0], t[1]), dig2(t[3], t[4]), dig2(t[6], t[7])
	m3 := int(t[11] - '0')
	ms := dig2(t[9], t[10])*10 + m3
	oh, om := dig2(t[17], t[18]), dig2(t[20], t[21])
	sign := t[16]
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hh > 23 || mi > 59 || ss > 59 ||
		m3 > 9 || ms > 999 || oh > 14 || om > 59 || (sign != '+' && sign != '-') {
		return 0, false
	}
	off := (oh*60 + om) * 60
	if sign == '-' {
		off = -off
	}
	days := daysFromCivil(year, month, day)
	sec := days*86400 + int64(hh*3600+mi*60+ss) - int64(off)
	return sec*1000 + int64(ms), true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days since 1970-01-01 of a proleptic
// Gregorian date (H. Hinnant's algorithm), for years 0..9999.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := m + 9
	if m > 2 {
		mp = m - 3
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// monthNumber maps an English month abbreviation ("Jan".."Dec", first
// letter upper case, rest lower case) to 1..12, or 0.
func monthNumber(a, b, c byte) int {
	switch a {
	case 'J':
		switch {
		case b == 'a' && c == 'n':
			return 1
		case b == 'u' && c == 'n':
			return 6
		case b == 'u' && c == 'l':
			return 7
		}
	case 'F':
		if b == 'e' && c == 'b' {
			return 2
		}
	case 'M':
		if b == 'a' && c == 'r' {
			return 3
		}
		if b == 'a' && c == 'y' {
			return 5
		}
	case 'A':
		if b == 'p' && c == 'r' {
			return 4
		}
		if b == 'u' && c == 'g' {
			return 8
		}
	case 'S':
		if b == 'e' && c == 'p' {
			return 9
		}
	case 'O':
		if b == 'c' && c == 't' {
			return 10
		}
	case 'N':
		if b == 'o' && c == 'v' {
			return 11
		}
	case 'D':
		if b == 'e' && c == 'c' {
			return 12
		}
	}
	return 0
}

// dateCache remembers the date and offset part of the last prefix: records
// of one log almost always share them, so only the time of day has to be
// checked and converted. It is an optimisation only; a miss falls back to
// matchPrefix.
type dateCache struct {
	form       uint8 // 0 = empty, 1 or 2
	n          int   // prefix length
	k1, k2, k3 uint64
	base       int64 // Unix ms of 00:00:00.000 of the cached local date
	// hms holds the bytes "HH:MM:SS" of the last time of day parsed (0:
	// none) and sec their milliseconds since midnight: records come
	// several a second, and those of the same second need only their
	// milliseconds parsed.
	hms uint64
	sec int64
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// timeOfDay parses "HH:MM:SS.mmm GM" at the start of t (validated; the rest
// of the prefix is compared by the caller) into milliseconds.
func timeOfDay(t []byte) (int64, bool) {
	_ = t[14]
	if t[2] != ':' || t[5] != ':' || t[8] != '.' || t[12] != ' ' || t[13] != 'G' || t[14] != 'M' {
		return 0, false
	}
	hh, mi, ss := dig2(t[0], t[1]), dig2(t[3], t[4]), dig2(t[6], t[7])
	m3 := int(t[11] - '0')
	ms := dig2(t[9], t[10])*10 + m3
	if hh > 23 || mi > 59 || ss > 59 || m3 > 9 || ms > 999 {
		return 0, false
	}
	return int64((hh*3600+mi*60+ss)*1000 + ms), true
}

// timeOfDay is the function timeOfDay with the last second remembered:
// for a record of the same second, two word loads and a check of the
// milliseconds (millisGM).
func (c *dateCache) timeOfDay(t []byte) (int64, bool) {
	_ = t[15]
	if k := le64(t); k == c.hms && k != 0 {
		ms, ok := millisGM(le64(t[8:]))
		return c.sec + ms, ok
	}
	return c.newSecond(t)
}

// newSecond is timeOfDay for a time of another second than the last one.
func (c *dateCache) newSecond(t []byte) (int64, bool) {
	tod, ok := timeOfDay(t)
	if ok {
		c.hms, c.sec = le64(t), tod-tod%1000
	}
	return tod, ok
}

// millisGM parses w, the bytes ".mmm GM?" of a prefix (little-endian; the
// last byte is not looked at), into the milliseconds mmm.
func millisGM(w uint64) (int64, bool) {
	const (
		mask = 0x00ffffff000000ff
		want = '.' | ' '<<32 | 'G'<<40 | 'M'<<48
	)
	d1, d2, d3 := byte(w>>8)-'0', byte(w>>16)-'0', byte(w>>24)-'0'
	if w&mask != want || d1 > 9 || d2 > 9 || d3 > 9 {
		return 0, false
	}
	return int64(d1)*100 + int64(d2)*10 + int64(d3), true
}

// match is matchPrefix with the cache in front.
func (c *dateCache) match(b []byte) (prefixResult, int, int64) {
	switch c.form {
	case 1:
		if len(b) >= form1Len && le64(b[1:]) == c.k1 && le64(b[3:]) == c.k2 && le64(b[27:]) == c.k3 && b[11] == ' ' {
			if tod, ok := c.timeOfDay(b[12:]); ok {
				return prefixYes, form1Len, c.base + tod
			}
			return prefixNo, 0, 0
		}
	case 2:
		if n := c.n; len(b) >= n && le64(b) == c.k1 && le64(b[n-31:]) == c.k2 && le64(b[n-8:]) == c.k3 {
			if tod, ok := c.timeOfDay(b[n-23:]); ok {
				return prefixYes, n, c.base + tod
			}
			return prefixNo, 0, 0
		}
	}
	r, n, ms := matchPrefix(b)
	if r == prefixYes {
		if b[1]-'0' < 10 {
			c.form, c.n, c.k1, c.k2, c.k3 = 1, n, le64(b[1:]), le64(b[3:]), le64(b[27:])
		} else {
			c.form, c.n, c.k1, c.k2, c.k3 = 2, n, le64(b), le64(b[n-31:]), le64(b[n-8:])
		}
		tod, _ := timeOfDay(b[n-23:])
		c.base = ms - tod
	}
	return r, n, ms
}
