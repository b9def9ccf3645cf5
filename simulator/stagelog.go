package simulator

import (
	"sort"
	"time"
	"unicode/utf8"
)

// stageLog is the complete log of one step, generated when its build
// starts, plus an index of its records. What a client can see at time now is
// the prefix made of the records whose visibility time is <= now, so serving
// a page never copies or rebuilds the log: it slices text.
//
// Positions (offsets) are counted in characters (runes) so that a page can
// never end inside a UTF-8 sequence; see docs/simulator.md.
type stageLog struct {
	text    string
	byteEnd []int   // byteEnd[i]: byte offset just after record i
	runeEnd []int   // runeEnd[i]: character offset just after record i
	at      []int64 // at[i]: unix ms from which record i is visible; non-decreasing
	ts      []int64 // ts[i]: unix ms written in record i's prefix
}

// visible returns how many records are visible at now (unix ms).
func (l *stageLog) visible(now int64) int {
	return sort.Search(len(l.at), func(i int) bool { return l.at[i] > now })
}

// bytesOf and runesOf return the byte and character length of the first k records.
func (l *stageLog) bytesOf(k int) int {
	if k == 0 {
		return 0
	}
	return l.byteEnd[k-1]
}

func (l *stageLog) runesOf(k int) int {
	if k == 0 {
		return 0
	}
	return l.runeEnd[k-1]
}

// byteOfRune converts a character position (at most the log's length in
// characters) to a byte offset. It finds the record holding the position by
// binary search and decodes from the record's start.
func (l *stageLog) byteOfRune(p int) int {
	k := sort.Search(len(l.runeEnd), func(i int) bool { return l.runeEnd[i] > p })
	if k == len(l.runeEnd) {
		return len(l.text)
	}
	b, r := l.bytesOf(k), l.runesOf(k)
	for r < p {
		_, size := utf8.DecodeRuneInString(l.text[b:])
		b += size
		r++
	}
	return b
}

// logBuilder assembles a stageLog record by record.
type logBuilder struct {
	alt   bool
	zone  *time.Location
	buf   []byte
	l     stageLog
	runes int
}

// Timestamp prefix layouts: the common form and the "alt" form of the
// fixtures README (day always two digits).
const (
	prefixLayout    = "2006/01/02 15:04:05.000 GMT-07:00"
	altPrefixLayout = "Jan 02, 2006 15:04:05.000 GMT-07:00"
)

// add appends one record: the prefix with timestamp ts, then body (the text
// after the prefix: usually " message\n"; no line end means the next record
// is glued onto the same line). at is when the record becomes visible; it is
// clamped so that visibility times never decrease.
func (b *logBuilder) add(at, ts int64, body string) {
	if n := len(b.l.at); n > 0 && at < b.l.at[n-1] {
		at = b.l.at[n-1]
	}
	start := len(b.buf)
	b.buf = append(b.buf, '[')
	layout := prefixLayout
	if b.alt {
		layout = altPrefixLayout
	}
	b.buf = time.UnixMilli(ts).In(b.zone).AppendFormat(b.buf, layout)
	b.buf = append(b.buf, ']')
	b.buf = append(b.buf, body...)
	b.runes += utf8.RuneCount(b.buf[start:])
	b.l.byteEnd = append(b.l.byteEnd, len(b.buf))
	b.l.runeEnd = append(b.l.runeEnd, b.runes)
	b.l.at = append(b.l.at, at)
	b.l.ts = append(b.l.ts, ts)
}

func (b *logBuilder) finish() *stageLog {
	b.l.text = string(b.buf)
	b.buf = nil
	l := b.l
	return &l
}
