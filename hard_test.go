package main

// Tests of the hardening around the process: the state file lock, an
// unusable state directory, readiness while commits fail, the lifecycle
// endpoint and the connection limit.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/syncbuf"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

// runBinaryFor runs the binary for at most d (an exporter that should have
// refused to start is killed then) and returns its exit status and stderr.
func runBinaryFor(t *testing.T, d time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	_ = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v still running after %s, want it to exit at once:\n%s", args, d, stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

func TestSecondInstanceOnOneStateFileExits1(t *testing.T) {
	j := fastJob("locked")
	_, url := startSimulator(t, simulator.Options{Seed: 5, Jobs: []simulator.JobSpec{j}})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, url, "", jobLine(j.ID, j.Name))
	state := filepath.Join(dir, "state.json")
	first := startExporter(t, nil, "--config.file="+cfg, "--state.file="+state)

	// A temporary file of the running exporter's next commit.
	live := filepath.Join(dir, ".state.json.tmp-4242")
	require.NoError(t, os.WriteFile(live, []byte("{"), 0o600))
	code, stderr := runBinaryFor(t, 20*time.Second, "--config.file="+cfg, "--state.file="+state, "--web.listen-address=127.0.0.1:0")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, fmt.Sprintf("is held by process %d", first.cmd.Process.Pid))
	require.FileExists(t, live, "the second instance must not delete a running exporter's temporary file")

	// Once the holder is gone (even by kill -9) the next one starts and
	// cleans up what the dead one left.
	first.kill9()
	startExporter(t, nil, "--config.file="+cfg, "--state.file="+state)
	require.NoFileExists(t, live)
}

func TestUnusableStateDirectoryExits1(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o600))
	for _, state := range []string{
		filepath.Join(dir, "missing", "state.json"),
		filepath.Join(notADir, "state.json"),
	} {
		code, stderr := runBinaryFor(t, 20*time.Second, "--demo", "--state.file="+state, "--web.listen-address=127.0.0.1:0")
		require.Equal(t, 1, code, stderr)
		require.Contains(t, stderr, filepath.Dir(state), "the message names the path")
	}
}

func TestNotReadyWhileStateWritesFail(t *testing.T) {
	j := fastJob("ready")
	_, url := startSimulator(t, simulator.Options{Seed: 6, Jobs: []simulator.JobSpec{j}})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, url, "", jobLine(j.ID, j.Name))
	state := filepath.Join(dir, "state.json")
	e := startExporter(t, nil, "--config.file="+cfg, "--state.file="+state)
	ready := func() (int, string) { return e.do(http.MethodGet, "/-/ready") }
	eventually(t, 30*time.Second, "ready", func() bool { c, _ := ready(); return c == http.StatusOK })

	// The state file becomes a directory nothing can be renamed over.
	require.NoError(t, os.Remove(state))
	require.NoError(t, os.MkdirAll(filepath.Join(state, "blocker"), 0o700))
	eventually(t, 30*time.Second, "503 while commits fail", func() bool {
		c, body := ready()
		return c == http.StatusServiceUnavailable && strings.Contains(body, "state file cannot be written")
	})
	require.NoError(t, os.RemoveAll(state))
	eventually(t, 30*time.Second, "ready again after a commit succeeds", func() bool { c, _ := ready(); return c == http.StatusOK })
	require.FileExists(t, state)
}

func TestReloadEndpointNeedsLifecycleFlag(t *testing.T) {
	e := startExporter(t, nil, "--demo")
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		code, body := e.do(m, "/-/reload")
		require.Equal(t, http.StatusForbidden, code, body)
		require.Contains(t, body, "--web.enable-lifecycle")
	}
	e = startExporter(t, nil, "--demo", "--web.enable-lifecycle")
	code, _ := e.do(http.MethodGet, "/-/reload")
	require.Equal(t, http.StatusMethodNotAllowed, code)
	code, _ = e.do(http.MethodPost, "/-/reload")
	require.Equal(t, http.StatusOK, code)
}

func TestMaxConnections(t *testing.T) {
	e := startExporter(t, nil, "--demo", "--web.max-connections=3")
	addr := strings.TrimPrefix(e.url, "http://")
	var idle []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		idle = append(idle, c)
	}
	t.Cleanup(func() {
		for _, c := range idle {
			c.Close()
		}
	})
	time.Sleep(200 * time.Millisecond) // let the server accept them
	got := make(chan int, 1)
	go func() {
		resp, err := http.Get(e.url + "/-/healthy")
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	select {
	case c := <-got:
		t.Fatalf("a 4th connection was served (%d) while 3 were open", c)
	case <-time.After(time.Second):
	}
	idle[0].Close()
	select {
	case c := <-got:
		require.Equal(t, http.StatusOK, c)
	case <-time.After(5 * time.Second):
		t.Fatal("not served after a connection closed")
	}
}

// TestEchoedTokenNeverShown: a CodeArts that quotes the token back in its
// errors, whole, cut, in other cases and in halves, gets none of it (no 8
// characters in a row, in any case) into the log or onto /metrics.
func TestEchoedTokenNeverShown(t *testing.T) {
	j := fastJob("echo")
	_, url := startSimulator(t, simulator.Options{Seed: 7, Jobs: []simulator.JobSpec{j}, Hostile: simulator.HostileEcho})
	cfg := writeConfig(t, t.TempDir(), url, "", jobLine(j.ID, j.Name))
	e := startExporter(t, nil, "--config.file="+cfg, "--log.level=debug")
	eventually(t, 30*time.Second, "the failed poll in the log", func() bool {
		return strings.Contains(e.stderr.String(), "poll failed")
	})
	_, text := e.scrape()
	_, landing := e.do(http.MethodGet, "/")
	code, status := e.do(http.MethodGet, "/status")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, status, "CB.00060200", "the status page shows the poll error")
	for where, s := range map[string]string{"log": e.stderr.String(), "metrics": text, "landing page": landing, "status page": status} {
		low, secret := strings.ToLower(s), strings.ToLower(testToken)
		for k := 0; k+8 <= len(secret); k++ {
			if i := strings.Index(low, secret[k:k+8]); i >= 0 {
				t.Errorf("the %s shows %q of the token: …%s…", where, secret[k:k+8], s[max(0, i-60):min(len(s), i+30)])
				break
			}
		}
	}
	require.Contains(t, e.stderr.String(), "<secret>", "the echo was redacted visibly")
}
