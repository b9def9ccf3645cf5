package analyze

// indexOddControl returns the index of the first byte of p below 0x20
// other than '\n', or len(p); in textcheck_amd64.s.
//
//go:noescape
func indexOddControl(p []byte) int

// controls: see controlsSWAR. Line ends, the only control character
// of most lines, are skipped sixteen bytes at a time with the others.
func controls(p []byte) (bad int64, nul int) {
	for i := 0; ; {
		k := i + indexOddControl(p[i:])
		if k == len(p) {
			return bad, -1
		}
		switch c := p[k]; {
		case c == 0:
			return bad, k
		case !isTextControl(c):
			bad++
		}
		i = k + 1
	}
}
