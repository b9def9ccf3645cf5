//go:build !unix

package collector

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked by another process")

// flockExclusive: without flock(2) the state file is not locked.
func flockExclusive(*os.File) error { return nil }
