package analyze

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/loggen"
)

// refCheck is the byte-at-a-time check the fast path must agree with.
type refCheck struct {
	total, bad, nulAt int64
}

func (r *refCheck) run(p []byte) {
	r.nulAt = -1
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && !isTextControl(c) {
				if c == 0 {
					r.nulAt = r.total
					return
				}
				r.bad++
			}
			i++
			r.total++
			continue
		}
		rn, size := utf8.DecodeRune(p[i:])
		if rn == utf8.RuneError && size == 1 {
			r.bad++
		}
		i += size
		r.total += int64(size)
	}
}

// The fast path gives the same verdict, counts and NUL offset as a plain
// byte-at-a-time check, whatever the input and however it is chunked.
func TestTextCheckMatchesByteLoop(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	pieces := [][]byte{[]byte("[2026/09/10 17:26:22.661 GMT+08:00] [INFO] ok\n"), []byte("构建成功\r\n"), []byte("\t\x1b[31mred\x1b[0m"),
		[]byte("\x01"), []byte("\x7f"), []byte("\xff"), []byte("\xe8\xaf"), []byte("😀"), []byte(" \n \x0b\x0c\x08"), []byte("\x00")}
	for range 3000 {
		var in []byte
		for range rnd.IntN(200) {
			p := pieces[rnd.IntN(len(pieces))]
			if bytes.Equal(p, []byte("\x00")) && rnd.IntN(4) != 0 {
				continue
			}
			in = append(in, p...)
		}
		// Chunks as a file is read, and as short as a pipe's writes, so
		// that characters are cut between them.
		checkTextCheck(t, in, func() int { return 1 + rnd.IntN(64+rnd.IntN(2)*1000) })
	}
}

// checkTextCheck feeds in to a textCheck in chunks of the lengths chunk
// returns and checks its verdict, counts and NUL offset against refCheck.
func checkTextCheck(t testing.TB, in []byte, chunk func() int) {
	t.Helper()
	var ref refCheck
	ref.run(in)
	var tc textCheck
	var err error
	for p := in; len(p) > 0 && err == nil; {
		k := min(len(p), chunk())
		err = tc.write(p[:k])
		p = p[k:]
	}
	if err == nil {
		err = tc.finish()
	}
	// finish counts an unfinished last character as bad, as the
	// reference does for its invalid bytes.
	if ref.nulAt >= 0 {
		if tc.nulAt != ref.nulAt || err == nil {
			t.Fatalf("%q: NUL at %d (err %v), want at %d", in, tc.nulAt, err, ref.nulAt)
		}
		return
	}
	if tc.total != ref.total || tc.bad != ref.bad {
		t.Fatalf("%q: total %d bad %d, want %d %d", in, tc.total, tc.bad, ref.total, ref.bad)
	}
	if want := ref.bad*badRatio > ref.total; (err != nil) != want {
		t.Fatalf("%q: err %v, want an error: %v", in, err, want)
	}
}

// controls (a vector version on amd64) and controlsSWAR count every byte
// value at every position, next to any other, as the byte loop does.
func TestControlsMatchByteLoop(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	fills := []byte{'a', ' ', '\n', '\t', 0x1f, 0x20, 0x80, 0xe6}
	for n := range 2000 {
		in := make([]byte, rnd.IntN(80))
		fill := fills[rnd.IntN(len(fills))]
		for i := range in {
			in[i] = fill
		}
		for range rnd.IntN(4) {
			if len(in) > 0 {
				in[rnd.IntN(len(in))] = byte(rnd.IntN(0x30)) // controls and their neighbours
			}
		}
		var wantBad int64
		wantNul := -1
		for i, c := range in {
			if c == 0 {
				wantNul = i
				break
			}
			if c < 0x20 && !isTextControl(c) {
				wantBad++
			}
		}
		for name, f := range map[string]func([]byte) (int64, int){"controls": controls, "controlsSWAR": controlsSWAR} {
			bad, nul := f(in)
			if nul != wantNul || wantNul < 0 && bad != wantBad {
				t.Fatalf("input %d %q: %s: bad %d, NUL at %d; want %d, %d", n, in, name, bad, nul, wantBad, wantNul)
			}
		}
	}
}

// BenchmarkTextCheck times the text check alone, on a generated log in the
// CPU's cache (as analyze checks what it has just read):
//
//	go test -run X -bench TextCheck ./analyze
func BenchmarkTextCheck(b *testing.B) {
	var log bytes.Buffer
	if _, err := loggen.Write(&log, 256<<10, 1); err != nil {
		b.Fatal(err)
	}
	data := log.Bytes()[:256<<10]
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var tc textCheck
		if err := tc.write(data); err != nil {
			b.Fatal(err)
		}
	}
}
