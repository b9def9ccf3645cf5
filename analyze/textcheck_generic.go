//go:build !amd64

package analyze

// controls: see controlsSWAR.
func controls(p []byte) (bad int64, nul int) { return controlsSWAR(p) }
