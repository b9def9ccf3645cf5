package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An exporter pointed at a host that is not CodeArts (a web server answering
// an HTML 404 page): the first poll fails, the log says what to check and
// never quotes the page, and /-/ready answers 200 as the README says:
// readiness is about /metrics having its values, not about CodeArts.
func TestWrongEndpointReadyAndLogged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<!DOCTYPE html><html><head><title>Not Found</title></head><body><h1>No such page on www.example.com</h1></body></html>\n")
	}))
	t.Cleanup(srv.Close)

	cfg := writeConfig(t, t.TempDir(), srv.URL, "", jobLine("0123456789abcdef0123456789abcdef", "wrong-host"))
	e := startExporter(t, nil, "--config.file="+cfg)
	eventually(t, 20*time.Second, "/-/ready after the failed first poll", func() bool {
		code, _ := e.do(http.MethodGet, "/-/ready")
		return code == http.StatusOK
	})
	samples, _ := e.scrape()
	up, n := sum(samples, "codearts_exporter_job_up", `job_name="wrong-host"`)
	require.Equal(t, 1, n)
	require.Zero(t, up, "the failed poll shows in codearts_exporter_job_up")

	logs := e.stderr.String()
	require.Contains(t, logs, "HTTP 404 not an answer of the CodeArts API (an HTML page of ")
	require.Contains(t, logs, "check codearts.endpoint and the job id")
	for _, page := range []string{"DOCTYPE", "<html", "No such page", "www.example.com"} {
		require.False(t, strings.Contains(logs, page), "the log quotes the page (%q):\n%s", page, logs)
	}
	require.Equal(t, 0, e.terminate())
}
