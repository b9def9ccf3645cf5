package parser

import "math/bits"

// Block marks: ReadLog's workers find, in one vector pass over a whole
// block, the bytes that the record split and the record summary would
// otherwise look for record by record (docs/parser.md, "Analysis on several
// cores"): the line ends, the "GM" of every " GMT" (where a timestamp
// prefix may end; nextPrefix looks for its 'G' with one IndexByte call per
// record), and the pairs "xi" and "DE", without which a message holds no
// "exit code N", "xit " or "DEV.CB." (scanMessage). A record then costs a
// few bit operations on the words that cover it instead of two searches.

// markWord holds the marks of 64 bytes of a block, bit i for byte i, and
// how many of the block's bytes before them are marked.
type markWord struct {
	nl   uint64 // '\n'
	gm   uint64 // 'G' followed by 'M'
	code uint64 // 'x' followed by 'i', or 'D' followed by 'E'
	// nlBefore and codeBefore count the nl and code marks of the words
	// before this one: the marks of any range are two lookups away.
	nlBefore, codeBefore uint32
}

// useBlockMarks: the workers mark their blocks. Only with AVX2
// (markAVX2), where marking costs less than one instruction per byte;
// elsewhere the record split and scanMessage search as Stream does. Tests
// set both.
var (
	markAVX2      = useAVX2
	useBlockMarks = markAVX2
)

// blockMarks are the marks of one block's text: word k for text[64k:],
// and one word more, past the text, so that every position up to
// len(text) has a word. The words are computed as the record split
// reaches them, a few KiB at a time, so that the text they were computed
// from is still in the core's cache when the records are parsed, and
// themselves when the records are summarised.
type blockMarks struct {
	text  []byte
	words []markWord
	done  int // words computed
	vec   int // words the vector pass may compute (it reads one byte past each)
}

// markStep is how many words are computed at a time (4 KiB of text).
const markStep = 64

// reset starts the marks of text, reusing m's array. Blocks are far
// smaller than 4 GiB.
func (m *blockMarks) reset(text []byte) {
	n := len(text)/64 + 1
	if cap(m.words) < n {
		m.words = make([]markWord, n, n+n/4)
	}
	m.text, m.words, m.done, m.vec = text, m.words[:n], 0, 0
	if markAVX2 && len(text) > 64 {
		m.vec = (len(text) - 1) / 64
	}
}

// markTo computes the words up to and including word w (or a few more).
func (m *blockMarks) markTo(w int) {
	for m.done <= w {
		k := m.done
		var nl, code uint32
		if k > 0 {
			p := &m.words[k-1]
			nl = p.nlBefore + uint32(bits.OnesCount64(p.nl))
			code = p.codeBefore + uint32(bits.OnesCount64(p.code))
		}
		if k < m.vec {
			n := min(m.vec-k, max(markStep, w+1-k))
			markWordsAVX2(&m.text[k*64], n, &m.words[k], nl, code)
			m.done = k + n
			continue
		}
		markWordsGeneric(m.text, k, m.words)
		m.done = len(m.words)
	}
}

// markWordsGeneric computes the words of m from k on, given those before
// (the reference the vector pass is tested against).
func markWordsGeneric(text []byte, k int, m []markWord) {
	for w := k; w < len(m); w++ {
		var mw markWord
		if w > 0 {
			p := &m[w-1]
			mw.nlBefore = p.nlBefore + uint32(bits.OnesCount64(p.nl))
			mw.codeBefore = p.codeBefore + uint32(bits.OnesCount64(p.code))
		}
		for i := w * 64; i < min(len(text), w*64+64); i++ {
			bit := uint64(1) << (i & 63)
			var next byte
			if i+1 < len(text) {
				next = text[i+1]
			}
			switch c := text[i]; {
			case c == '\n':
				mw.nl |= bit
			case c == 'G' && next == 'M':
				mw.gm |= bit
			case c == 'x' && next == 'i', c == 'D' && next == 'E':
				mw.code |= bit
			}
		}
		m[w] = mw
	}
}

// ranks counts the line ends and the code marks in text[:i], i <=
// len(text), whose words were computed: those of a record's text were
// when the split looked for the prefix after it (nextPrefix).
func (m *blockMarks) ranks(i int) (nl, code uint32) {
	w := &m.words[i>>6]
	below := uint64(1)<<(i&63) - 1
	return w.nlBefore + uint32(bits.OnesCount64(w.nl&below)), w.codeBefore + uint32(bits.OnesCount64(w.code&below))
}

// nextPrefix is nextPrefix(m.text, from, dc) without the partial
// position: the 'G' of the prefixes' " GMT" are taken from the marks,
// which it computes up to the word of the 'G' it returns the prefix of
// (all of them when it finds none).
func (m *blockMarks) nextPrefix(from int, dc *dateCache) (idx, n int, ms int64) {
	b := m.text
	for pos := from; pos < len(b); {
		g := m.nextGM(pos)
		if g < 0 { // none in the words computed so far
			if m.done == len(m.words) {
				break
			}
			pos = max(pos, m.done*64)
			m.markTo(m.done)
			continue
		}
		pos = g + 1
		// nextPrefix's check of the three places a prefix with this
		// 'G' can start, written out again: as a shared function it is
		// not inlined, and the call per record cost 1.3% of analyze's
		// instructions on the real fixtures.
		for _, k := range [3]int{25, 27, 26} {
			st := g - k
			if st < from || b[st] != '[' {
				continue
			}
			if r, pn, t := dc.match(b[st:]); r == prefixYes {
				return st, pn, t
			}
		}
	}
	m.markTo(len(m.words) - 1)
	return -1, 0, 0
}

// nextGM returns the position of the first "GM" mark at or after i in the
// words computed so far, -1 if there is none. It calls nothing, so that
// the loop keeps its values in registers.
func (m *blockMarks) nextGM(i int) int {
	w := i >> 6
	if w >= m.done {
		return -1
	}
	gm := m.words[w].gm &^ (1<<(i&63) - 1)
	for gm == 0 {
		if w++; w >= m.done {
			return -1
		}
		gm = m.words[w].gm
	}
	return w<<6 + bits.TrailingZeros64(gm)
}
