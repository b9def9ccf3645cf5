package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

// TestReloadStormKeepsAuthPause: after a 401 the client pauses CodeArts
// calls for 5 minutes, because the gateway locks an AK after more than 5
// consecutive failures. A reload used to build a new client and so end the
// pause: a SIGHUP every 200 ms with 1 s polls sent a failing call per poll.
// The kept client sends exactly one.
func TestReloadStormKeepsAuthPause(t *testing.T) {
	j := fastJob("storm")
	sim, url := startSimulator(t, simulator.Options{Seed: 5, Jobs: []simulator.JobSpec{j}})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, url, "", jobLine(j.ID, j.Name))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token.txt"), []byte("wrong-token-value\n"), 0o600))
	e := startExporter(t, nil, "--config.file="+cfg)
	eventually(t, 30*time.Second, "the authentication failure", func() bool { return sim.Stats().AuthFailed > 0 })
	for range 20 { // 4 s: four polls
		require.NoError(t, e.cmd.Process.Signal(syscall.SIGHUP))
		time.Sleep(200 * time.Millisecond)
	}
	eventually(t, 10*time.Second, "the reloads", func() bool {
		return strings.Count(e.stderr.String(), "Reloaded config file") >= 20
	})
	require.Equal(t, int64(1), sim.Stats().AuthFailed, "failing calls during a reload storm")

	// A new credential is a deliberate retry: the new client calls at once.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token.txt"), []byte(testToken+"\n"), 0o600))
	require.NoError(t, e.cmd.Process.Signal(syscall.SIGHUP))
	eventually(t, 30*time.Second, "polls succeed with the new token", func() bool {
		s, _ := e.scrape()
		return s[`codearts_exporter_job_up{job_name="storm"}`] == 1
	})
	require.Equal(t, int64(1), sim.Stats().AuthFailed)
}

// TestReplacedClientClosesIdleConnections: a reload that changes the
// credential replaces the API client; the old one's kept-alive connections
// are closed then, not left open until their idle timeout.
func TestReplacedClientClosesIdleConnections(t *testing.T) {
	var opened, closed atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"result":{"last_build_no":"1","is_running":false},"status":"success"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	k := &clientKeeper{logger: slog.New(slog.DiscardHandler)}
	opts := func(token string) codearts.Options {
		return codearts.Options{Endpoint: srv.URL, Auth: codearts.Auth{Token: token}, RequestsPerSecond: -1}
	}
	old, err := k.client(opts("first-token"))
	require.NoError(t, err)
	_, err = old.ShowRunningStatus(context.Background(), "901878212b1a49be9c1a1054c272762a")
	require.NoError(t, err)
	require.Equal(t, int64(1), opened.Load())

	c, err := k.client(opts("second-token"))
	require.NoError(t, err)
	require.NotSame(t, old, c)
	time.Sleep(50 * time.Millisecond)
	require.Zero(t, closed.Load(), "closed before the collector took the new client")
	k.keep(c)
	eventually(t, 5*time.Second, "the old client's connection closed", func() bool { return closed.Load() == 1 })
}
