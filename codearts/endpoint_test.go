package codearts

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// notFoundPage is what a web server that is not the CodeArts gateway answers
// for an API path: a page for people, not an API error.
const notFoundPage = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>404 Not Found - Example Portal</title>
<style>body { font-family: sans-serif; }</style></head>
<body><h1>Page not found</h1><p>The page you requested does not exist on portal.example.com.</p>
<script>window.location = "/home";</script></body></html>
`

// A wrong codearts.endpoint (or a path the host does not serve) answers with
// an HTML page. The error says what happened and what to check, with the
// status, and never quotes the page, neither in the error nor in the log.
func TestWrongEndpointHTMLPage(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
		want        string
	}{
		{"HTML 404", http.StatusNotFound, "text/html; charset=utf-8", notFoundPage, "HTTP 404 not an answer of the CodeArts API (an HTML page of "},
		{"HTML 200 (a portal's start page)", http.StatusOK, "text/html", notFoundPage, "HTTP 200 not an answer of the CodeArts API (an HTML page of "},
		{"Go's plain 404", http.StatusNotFound, "text/plain; charset=utf-8", "404 page not found\n", "HTTP 404 not an answer of the CodeArts API (a text/plain body of 19 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			var logs logBuffer
			c, _ := newTestClient(t, srv.URL, func(o *Options) { o.Logger = logs.logger() })

			_, err := c.ShowRunningStatus(bg, tJob)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			msg := err.Error()
			containsAll(t, msg, "ShowRunningStatus job="+tJob+":", tc.want, "check codearts.endpoint and the job id")
			for _, page := range []string{"<", "DOCTYPE", "Page not found", "portal.example.com", "window.location", "page not found"} {
				if strings.Contains(msg, page) || strings.Contains(logs.String(), page) {
					t.Errorf("the page leaks (%q) into the error %q or the log:\n%s", page, msg, logs.String())
				}
			}
			if ae.HTTPStatus != tc.status {
				t.Errorf("status %d, want %d", ae.HTTPStatus, tc.status)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("%d calls: a wrong endpoint is not worth a retry", n)
			}
		})
	}
}
