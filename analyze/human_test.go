package analyze

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A usage error is reported once, followed by the usage; not once by us and
// again by kingpin.
func TestUsageErrorOnce(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"--bogus", "x.log"}, {"--format=xml", "x.log"}, {}} {
		code, out, errOut := run(t, "", args...)
		if code != exitUsage || out != "" {
			t.Errorf("%v: exit %d, stdout %q", args, code, out)
		}
		first, _, _ := strings.Cut(errOut, "\n")
		if !strings.HasPrefix(first, "analyze: ") {
			t.Errorf("%v: first line %q", args, first)
			continue
		}
		msg := strings.TrimPrefix(first, "analyze: ")
		if n := strings.Count(errOut, msg); n != 1 {
			t.Errorf("%v: the error %q appears %d times:\n%s", args, msg, n, errOut)
		}
		if !strings.Contains(errOut, "usage: codearts_build_exporter analyze") {
			t.Errorf("%v: no usage after the error:\n%s", args, errOut)
		}
	}
}

// A file without a single CodeArts timestamp prefix (here: an os-release
// file) is analysed, exits 0 as before, and a warning on stderr says that it
// does not look like a CodeArts log. Real logs get no warning.
func TestWarnNotCodeArts(t *testing.T) {
	dir := t.TempDir()
	osRelease := filepath.Join(dir, "os-release")
	if err := os.WriteFile(osRelease, []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "json", "openmetrics"} {
		code, out, errOut := run(t, "", "--format="+format, osRelease)
		if code != exitOK || out == "" {
			t.Errorf("%s: exit %d, stdout %q", format, code, out)
		}
		want := "analyze: warning: " + osRelease + " does not look like a CodeArts log: none of its 3 lines has a CodeArts timestamp prefix"
		if !strings.Contains(errOut, want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: stderr %q, want one line containing %q", format, errOut, want)
		}
	}

	code, _, errOut := run(t, "", filepath.Join(dir, "os-release"), "testdata/maven-npm-go.log")
	if code != exitOK || strings.Contains(errOut, "maven-npm-go.log") || !strings.Contains(errOut, "os-release") {
		t.Errorf("exit %d, stderr %q: want a warning for os-release only", code, errOut)
	}

	code, _, errOut = run(t, "", "-")
	if code != exitOK || errOut != "analyze: warning: standard input is empty\n" {
		t.Errorf("empty stdin: exit %d, stderr %q", code, errOut)
	}

	for _, log := range logFiles(t) {
		if code, _, errOut := run(t, "", log); code != exitOK || errOut != "" {
			t.Errorf("%s: exit %d, stderr %q", log, code, errOut)
		}
	}
}
