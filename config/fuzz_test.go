package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad: for any file content the loader returns a config or a list of
// errors that each name the file, and never panics or hangs (aliases, which
// could expand without bound, are refused before decoding). The seeds are
// every file in testdata; `go test -fuzz FuzzLoad ./config` explores.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.yml")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	const file = "testdata/fuzz.yml" // *_file secrets resolve inside testdata
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(file, data, noEnv)
		if err == nil {
			if c == nil {
				t.Fatal("no config and no error")
			}
			_ = c.String()
			return
		}
		list, ok := err.(ErrorList)
		if !ok || len(list) == 0 {
			t.Fatalf("error is %T %v, want a non-empty ErrorList", err, err)
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, file+":") {
				t.Fatalf("error line %q does not name the file", line)
			}
		}
	})
}
