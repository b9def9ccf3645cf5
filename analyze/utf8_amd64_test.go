package analyze

import "testing"

// textBlocksAVX2 reports a chunk as holding odd controls exactly when it
// does: a false alarm would send every chunk to the byte-by-byte count.
func TestTextBlocksOddExactly(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2")
	}
	buf := make([]byte, 64)
	for c := range 256 {
		for _, at := range []int{0, 15, 16, 31, 32, 63} {
			for i := range buf {
				buf[i] = 'a'
			}
			buf[at] = byte(c)
			bad, nul := controlsSWAR(buf)
			_, odd := textBlocksAVX2(&buf[0], len(buf))
			if want := bad > 0 || nul >= 0; odd != want {
				t.Fatalf("byte %#02x at %d: odd %v, want %v", c, at, odd, want)
			}
		}
	}
}
