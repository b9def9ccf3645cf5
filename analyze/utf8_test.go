package analyze

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/loggen"
)

// edgeBytes are the byte values at which UTF-8's rules change: ASCII,
// the ends of the continuation ranges that follow E0, ED, F0 and F4, the
// leads that are never valid (C0, C1, F5 and up), a byte of every high
// nibble and of every row of the lookup tables.
var edgeBytes = []byte{
	0x00, 0x7f,
	0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
	0xc0, 0xc1, 0xc2, 0xdf,
	0xe0, 0xe1, 0xed, 0xef,
	0xf0, 0xf1, 0xf4, 0xf5, 0xf8, 0xff,
}

// placement puts a sequence at offset at, after ASCII or three-byte
// characters (so that the block before is not all ASCII; padded with
// spaces up to at), and before after.
type placement struct {
	lead  string
	at    int
	after string
}

const (
	asciiBlock = "ASCII text, enough of it to fill a block"
	textBlock  = "ü中文 and more text that fills a block up...."
)

// everywhere: across the 16-byte halves of a block, across the first
// block boundary (32) and the second, at the end of inputs of one and two
// blocks and a few bytes, before a block of ASCII (which only checks that
// the block before finished its last character) or of text.
var everywhere = func() []placement {
	var ps []placement
	for _, lead := range []string{"a", "中"} {
		for _, at := range []int{14, 15, 29, 30, 31, 32, 62, 63} {
			for _, after := range []string{"", asciiBlock, textBlock} {
				ps = append(ps, placement{lead, at, after})
			}
		}
	}
	return ps
}()

// checkValid compares validUTF8 with utf8.Valid for seq placed as each of
// ps says.
func checkValid(t *testing.T, buf *[]byte, seq []byte, ps []placement) {
	t.Helper()
	for _, p := range ps {
		b := (*buf)[:0]
		for len(b)+len(p.lead) <= p.at {
			b = append(b, p.lead...)
		}
		for len(b) < p.at {
			b = append(b, ' ')
		}
		b = append(b, seq...)
		b = append(b, p.after...)
		*buf = b
		if got, want := validUTF8(b), utf8.Valid(b); got != want {
			t.Fatalf("validUTF8(%q) = %v, utf8.Valid says %v (sequence % x at %d)", b, got, want, seq, p.at)
		}
	}
}

// Every sequence of one or two bytes, and every sequence of three and four
// of the edge bytes, is judged as utf8.Valid judges it, wherever it falls
// against the 32-byte blocks (the longer sequences in fewer places, for
// the time of the race detector's runs).
func TestValidUTF8Sequences(t *testing.T) {
	if !useAVX2 {
		t.Log("no AVX2: validUTF8 is utf8.Valid")
	}
	pairs := []placement{{"中", 15, textBlock}, {"中", 30, ""}, {"中", 31, ""}, {"中", 31, asciiBlock}, {"a", 31, textBlock}, {"a", 30, asciiBlock}}
	quads := []placement{{"中", 30, ""}, {"中", 29, asciiBlock}}
	var buf []byte
	seq := make([]byte, 4)
	for c := range 256 {
		checkValid(t, &buf, []byte{byte(c)}, everywhere)
		for d := range 256 {
			checkValid(t, &buf, []byte{byte(c), byte(d)}, pairs)
		}
	}
	for _, a := range edgeBytes {
		for _, b := range edgeBytes {
			for _, c := range edgeBytes {
				seq[0], seq[1], seq[2] = a, b, c
				checkValid(t, &buf, seq[:3], everywhere)
				for _, d := range edgeBytes {
					seq[3] = d
					checkValid(t, &buf, seq[:4], quads)
				}
			}
		}
	}
}

// Every valid character (every code point but the surrogates) passes in
// any position, and a character cut anywhere does not.
func TestValidUTF8EveryRune(t *testing.T) {
	var buf, enc []byte
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) || r%7 != 0 && r > 0x10000 && r < 0x10fff0 {
			continue // above the BMP, a seventh of the characters suffices
		}
		enc = utf8.AppendRune(enc[:0], r)
		for k := 1; k <= len(enc); k++ {
			buf = append(append(buf[:0], bytes.Repeat([]byte{'x'}, 31)...), enc[:k]...)
			buf = append(buf, bytes.Repeat([]byte("中"), 11)...)
			if got, want := validUTF8(buf), k == len(enc); got != want {
				t.Fatalf("U+%04X cut to %d bytes % x: validUTF8 %v", r, k, enc[:k], got)
			}
		}
	}
}

// checkText finds every control character, of every value, wherever it
// falls against the 32-byte blocks, after ASCII or multi-byte text, alone
// or after another, as controls does byte by byte.
func TestCheckTextControls(t *testing.T) {
	var buf []byte
	for _, fill := range []string{"a", "中"} {
		for c := range 0x80 {
			for _, at := range []int{0, 1, 15, 16, 30, 31, 32, 33, 63, 64, 95, 96, 100} {
				for _, second := range []int{-1, 0x01, 0x00, '\t'} {
					buf = buf[:0]
					for len(buf) < at {
						buf = append(buf, fill...)
					}
					buf = append(buf, byte(c))
					if second >= 0 {
						buf = append(buf, fill...)
						buf = append(buf, byte(second))
					}
					for len(buf) < 110 {
						buf = append(buf, fill...)
					}
					wantBad, wantNul := controlsSWAR(buf)
					valid, bad, nul := checkText(buf)
					if !valid || bad != wantBad || nul != wantNul {
						t.Fatalf("checkText(%q) = %v, %d, NUL at %d; want true, %d, %d", buf, valid, bad, nul, wantBad, wantNul)
					}
				}
			}
		}
	}
}

// FuzzValidUTF8 checks validUTF8 against utf8.Valid, and the text check
// fed in chunks against a byte-at-a-time check.
func FuzzValidUTF8(f *testing.F) {
	f.Add([]byte("[2026/09/10 17:26:22.661 GMT+08:00] [INFO] 构建成功 done\n"), uint8(7))
	f.Add(append(bytes.Repeat([]byte("é"), 16), 0xe4, 0xb8), uint8(33))
	f.Add(append(bytes.Repeat([]byte("a"), 31), 0xf0, 0x9f, 0x98, 0x80), uint8(32))
	f.Add(append(bytes.Repeat([]byte("a"), 31), 0xed, 0xa0, 0x80), uint8(31))
	f.Fuzz(func(t *testing.T, p []byte, chunk uint8) {
		if got, want := validUTF8(p), utf8.Valid(p); got != want {
			t.Fatalf("validUTF8(%q) = %v, utf8.Valid says %v", p, got, want)
		}
		checkTextCheck(t, p, func() int { return 1 + int(chunk) })
	})
}

// BenchmarkValidUTF8 times validUTF8 and, as its baseline in the same run,
// utf8.Valid, on a generated log (Chinese and English text) in the CPU's
// cache:
//
//	go test -run X -bench ValidUTF8 ./analyze
func BenchmarkValidUTF8(b *testing.B) {
	var log bytes.Buffer
	if _, err := loggen.Write(&log, 256<<10, 1); err != nil {
		b.Fatal(err)
	}
	data := log.Bytes()[:256<<10]
	data = data[:len(data)-cutRune(data)]
	for _, f := range []struct {
		name  string
		valid func([]byte) bool
	}{{"validUTF8", validUTF8}, {"utf8.Valid", utf8.Valid}} {
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if !f.valid(data) {
					b.Fatal("not valid")
				}
			}
		})
	}
}
