package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireTool skips the test when a command is missing, except in CI, where
// ./test.sh installs it and its absence is a failure.
func requireTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (./test.sh installs it): %v", tool, err)
		}
		t.Skipf("SKIPPED: %s not installed", tool)
	}
}

func gitOutput(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", args...).Output()
	require.NoError(t, err, "git %v", args)
	return strings.TrimSpace(string(out))
}

// `make build`, the documented way to build, gives a binary whose --version
// names the version git describes and the commit it was built from.
func TestMakeBuildVersion(t *testing.T) {
	requireTool(t, "make")
	requireTool(t, "git")
	if err := exec.Command("git", "rev-parse", "--verify", "HEAD").Run(); err != nil {
		t.Skip("SKIPPED: not a git checkout with a commit")
	}
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("make", "--no-print-directory", "build", "BIN="+bin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make build:\n%s", out)

	full := gitOutput(t, "rev-parse", "HEAD")
	short := gitOutput(t, "rev-parse", "--short", "HEAD")
	describe := strings.TrimPrefix(gitOutput(t, "describe", "--tags", "--always", "--dirty"), "v")

	out, err = exec.Command(bin, "--version").CombinedOutput()
	require.NoError(t, err)
	m := regexp.MustCompile(`^codearts_build_exporter, version (\S+) \(branch: (\S*), revision: (\S+)\)`).FindStringSubmatch(string(out))
	require.NotNil(t, m, "--version output:\n%s", out)
	require.Equal(t, describe, m[1], "version")
	require.Equal(t, full, m[3], "revision")
	require.Contains(t, m[1]+" "+m[3], short)
	require.NotContains(t, string(out), "(devel)")
	require.Regexp(t, `build date:\s+\d{8}-\d\d:\d\d:\d\d`, string(out))

	// The same on /metrics and on the landing page.
	e := startBinary(t, bin, nil, "--demo")
	_, metrics := e.scrape()
	require.Regexp(t, `(?m)^codearts_build_exporter_build_info\{[^}]*revision="`+full+`"[^}]*version="`+regexp.QuoteMeta(describe)+`"[^}]*\} 1$`, metrics)
	code, landing := e.do(http.MethodGet, "/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, landing, "version="+describe)
	require.Contains(t, landing, "revision="+full)
	require.Equal(t, 0, e.terminate())
}
