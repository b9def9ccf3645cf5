package codearts

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// Log pages are nearly all the bytes the client reads. encoding/json reads
// each one several times (validation, then decoding, then once more inside
// every json.Unmarshaler), byte by byte through its state machine; the
// parser that consumes the text is some fifty times faster than that. So
// the answer of ShowActionInfo/ShowConsoleInfo has its own decoder for
// the form the service sends: one pass over the body, strings found with
// vector or word-at-a-time scans (plainRun) and unescaped into one buffer.
//
// It declines (ok false) anything it is not sure to decode exactly as
// encoding/json with the types of types.go would: keys that differ from
// the fields only in case, escaped or non-ASCII keys, surrogate escapes, invalid UTF-8,
// numbers that are not plain integers, string-typed booleans, numbers as
// strings other than offsets,
// a repeated or null "result", nesting deeper than 32. The caller then
// takes the general path, which gives the same values or the same errors as
// before this decoder existed (TestFastLogMatchesEncodingJSON checks it).

// fastLogEnvelope decodes body as {"status":…,"error_code":…,"result":{log
// page}}. ok is false when it declines; the other results are then unset.
func fastLogEnvelope(body []byte) (status, errorCode flexString, w wireLog, ok bool) {
	d := fastDecoder{b: body}
	return d.envelope()
}

// fastLogEnvelopeInto is fastLogEnvelope that decodes the log text into
// buf (from its start, grown when needed) and returns it as text, leaving
// w.Log empty. text is nil when the answer has no log or a null one.
func fastLogEnvelopeInto(body, buf []byte) (status, errorCode flexString, w wireLog, text []byte, ok bool) {
	d := fastDecoder{b: body, into: buf, intoSet: true}
	status, errorCode, w, ok = d.envelope()
	return status, errorCode, w, d.text, ok
}

func (d *fastDecoder) envelope() (status, errorCode flexString, w wireLog, ok bool) {
	d.ws()
	if !d.consume('{') {
		return "", "", wireLog{}, false
	}
	seenResult := false
	d.ws()
	if d.consume('}') {
		return "", "", wireLog{}, false // no result
	}
	for {
		key, good := d.key()
		if !good {
			return "", "", wireLog{}, false
		}
		switch string(key) {
		case "status":
			status, good = d.flexString()
		case "error_code":
			errorCode, good = d.flexString()
		case "result":
			if seenResult {
				return "", "", wireLog{}, false
			}
			seenResult = true
			w, good = d.logResult()
		default:
			good = !foldsToAny(string(key), "status", "error_code", "result") && d.skip(0)
		}
		if !good {
			return "", "", wireLog{}, false
		}
		d.ws()
		if d.consume(',') {
			d.ws()
			continue
		}
		if !d.consume('}') {
			return "", "", wireLog{}, false
		}
		break
	}
	d.ws()
	if d.i != len(d.b) || !seenResult {
		return "", "", wireLog{}, false
	}
	return status, errorCode, w, true
}

type fastDecoder struct {
	b []byte
	i int
	// With intoSet, the log text is decoded into into (logResult sets
	// intoNow for str), and text is the result.
	into             []byte
	text             []byte
	intoSet, intoNow bool
}

func (d *fastDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDecoder) consume(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *fastDecoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// key reads `"name"` and the colon after it. Escaped names are declined.
func (d *fastDecoder) key() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			k := d.b[start:d.i] // not a string: switch string(k) does not allocate
			d.i++
			d.ws()
			if !d.consume(':') {
				return nil, false
			}
			d.ws()
			return k, true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, false // escaped or non-ASCII (Unicode case folding) names
		}
		d.i++
	}
	return nil, false
}

// logResult reads the result object of a log page into a wireLog.
func (d *fastDecoder) logResult() (w wireLog, ok bool) {
	if !d.consume('{') {
		return w, false // null, or not an object: the general path says what is wrong
	}
	d.ws()
	if d.consume('}') {
		return w, true
	}
	for {
		key, good := d.key()
		if !good {
			return w, false
		}
		switch string(key) {
		case "has_more":
			switch {
			case d.literal("true"):
				w.HasMore = true
			case d.literal("false"), d.literal("null"):
				w.HasMore = false
			default:
				return w, false
			}
		case "start_offset":
			w.StartOffset, good = d.flexInt()
		case "end_offset":
			w.EndOffset, good = d.flexInt()
		case "log":
			d.intoNow = d.intoSet
			d.text = nil // a repeated key: the last one counts, as for encoding/json
			w.Log, good = d.flexString()
			d.intoNow = false
		case "location":
			w.Location, good = d.flexString()
		default:
			good = !foldsToAny(string(key), "has_more", "start_offset", "end_offset", "log", "location") && d.skip(1)
		}
		if !good {
			return w, false
		}
		d.ws()
		if d.consume(',') {
			d.ws()
			continue
		}
		return w, d.consume('}')
	}
}

func (d *fastDecoder) literal(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// flexString reads a string (or null, as ""). Numbers and booleans, which
// flexString takes as their text, are declined: they are rare.
func (d *fastDecoder) flexString() (flexString, bool) {
	if d.literal("null") {
		return "", true
	}
	s, ok := d.str()
	return flexString(s), ok
}

// flexInt reads a plain JSON integer, the same as a digit string (the
// service sends offsets both ways), or null or "" (unset).
func (d *fastDecoder) flexInt() (FlexInt64, bool) {
	if d.literal("null") {
		return FlexInt64{}, true
	}
	if d.peek() == '"' {
		s, ok := d.str()
		if !ok {
			return FlexInt64{}, false
		}
		if s == "" {
			return FlexInt64{}, true
		}
		sd := fastDecoder{b: []byte(s)}
		v, ok := sd.integer(false)
		return v, ok && sd.i == len(sd.b)
	}
	return d.integer(true)
}

// integer reads -?[0-9]{1,18}; strict refuses leading zeros as JSON does.
func (d *fastDecoder) integer(strict bool) (FlexInt64, bool) {
	start := d.i
	if d.peek() == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	n := d.i - digits
	if n == 0 || n > 18 || (strict && n > 1 && d.b[digits] == '0') {
		return FlexInt64{}, false
	}
	if c := d.peek(); c == '.' || c == 'e' || c == 'E' {
		return FlexInt64{}, false
	}
	v, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 64)
	return FlexInt64{V: v, Set: true}, err == nil
}

const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// plainRunWords is plainRun eight bytes at a time.
func plainRunWords(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		quote := x ^ (swarOnes * '"')
		bslash := x ^ (swarOnes * '\\')
		// A zero byte in quote or bslash, or a byte below 0x20; "&^ x"
		// drops the high bytes. Borrows carry only upwards, so the
		// lowest flagged byte is exact (higher ones may be false).
		t := ((quote - swarOnes) &^ quote) | ((bslash - swarOnes) &^ bslash) | ((x - swarOnes*0x20) &^ x)
		if m := t & swarHighs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		c := b[i]
		if c == '"' || c == '\\' || c < 0x20 {
			break
		}
	}
	return i
}

// str reads a JSON string and returns its value.
func (d *fastDecoder) str() (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	var out []byte // nil while no escape was seen, unless intoNow
	if d.intoNow {
		out = d.into[:0]
		if need := len(d.b) - d.i; cap(out) < need {
			out = make([]byte, 0, need) // the rest of the body: room for the whole text
		}
	}
	start, raw := d.i, d.i
	for {
		d.i += plainRun(d.b[d.i:])
		if d.i >= len(d.b) {
			return "", false
		}
		c := d.b[d.i]
		switch {
		case c == '"':
			// The string's bytes of 0x80 and above are valid UTF-8
			// exactly when its text as sent is: escapes are ASCII, and
			// what they decode to is whole characters.
			if !utf8.Valid(d.b[raw:d.i]) {
				return "", false // encoding/json would replace them
			}
			var s string
			switch {
			case d.intoNow: // the text goes to d.text, the string stays empty
				d.text = append(out, d.b[start:d.i]...)
				d.into = d.text
			case out == nil:
				s = string(d.b[start:d.i])
			default:
				s = ownString(append(out, d.b[start:d.i]...))
			}
			d.i++
			return s, true
		case c == '\\':
			if out == nil {
				out = make([]byte, 0, len(d.b)-start)
			}
			out = append(out, d.b[start:d.i]...)
			if d.i+1 < len(d.b) && d.b[d.i+1] == 'n' { // the line end of every line
				out = append(out, '\n')
				d.i += 2
				start = d.i
				continue
			}
			r, n := unescape(d.b[d.i:])
			if n == 0 {
				return "", false
			}
			out = utf8.AppendRune(out, r)
			d.i += n
			start = d.i
		default: // a control character
			return "", false
		}
	}
}

// ownString returns the text of b, a buffer of str's own that is never
// written again (sized for the rest of the body): b itself when the text
// fills at least half of it, as a log page's does, so that the page is not
// copied a second time (as strings.Builder does); a copy otherwise, so that
// a short string does not keep a buffer the size of the body alive.
func ownString(b []byte) string {
	if len(b) >= cap(b)/2 {
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	return string(b)
}

// unescape decodes the escape at the start of b (which begins with '\\').
// n is 0 for an escape it declines (invalid, or a UTF-16 surrogate).
func unescape(b []byte) (r rune, n int) {
	if len(b) < 2 {
		return 0, 0
	}
	switch b[1] {
	case '"', '\\', '/':
		return rune(b[1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		if len(b) < 6 {
			return 0, 0
		}
		v, err := strconv.ParseUint(string(b[2:6]), 16, 32)
		if err != nil || v >= 0xD800 && v < 0xE000 {
			return 0, 0
		}
		return rune(v), 6
	}
	return 0, 0
}

// skip validates and skips any JSON value, nesting at most 32 deep.
func (d *fastDecoder) skip(depth int) bool {
	if depth > 32 {
		return false
	}
	switch c := d.peek(); {
	case c == '"':
		_, ok := d.str()
		return ok
	case c == '{' || c == '[':
		d.i++
		d.ws()
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		if d.consume(end) {
			return true
		}
		for {
			if c == '{' {
				if _, ok := d.key(); !ok {
					return false
				}
			}
			if !d.skip(depth + 1) {
				return false
			}
			d.ws()
			if d.consume(',') {
				d.ws()
				continue
			}
			return d.consume(end)
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return false
}

// number skips a JSON number, checking its grammar.
func (d *fastDecoder) number() bool {
	d.consume('-')
	digits := func() int {
		s := d.i
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
		return d.i - s
	}
	if d.consume('0') {
		if c := d.peek(); c >= '0' && c <= '9' {
			return false
		}
	} else if digits() == 0 {
		return false
	}
	if d.consume('.') && digits() == 0 {
		return false
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.i++
		if c := d.peek(); c == '+' || c == '-' {
			d.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// foldsToAny reports whether key matches one of names in encoding/json's
// case-insensitive way without being equal to it: such a key would set the
// field there, so the fast path declines it.
func foldsToAny(key string, names ...string) bool {
	for _, n := range names {
		if len(key) == len(n) && key != n && equalFoldASCII(key, n) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
