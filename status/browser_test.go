package status

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/browsertest"
)

// TestHostileTextInChromium loads the overview and a job page full of
// hostile text (script tags and event handlers in log lines, action names,
// job names and error messages) in a real Chromium and checks that nothing
// ran, that no element was made of it, and that it shows as text.
func TestHostileTextInChromium(t *testing.T) {
	b := browsertest.New(t)
	srv := httptest.NewServer(testHandler(hostileFixture()))
	defer srv.Close()

	for _, page := range []string{"/status", "/status?job=" + urlQuery("api-"+quoteText)} {
		require.NoError(t, b.Load(srv.URL+page, false), page)
		pwned, err := browsertest.Eval[bool](b, `window.pwned !== undefined`)
		require.NoError(t, err)
		require.False(t, pwned, "%s: injected script ran", page)
		made, err := browsertest.Eval[int](b, `document.querySelectorAll("script, img, svg, iframe, [onerror], [onload]").length`)
		require.NoError(t, err)
		require.Zero(t, made, "%s: hostile text became elements", page)
		text, err := browsertest.Eval[string](b, `document.body.innerText`)
		require.NoError(t, err)
		require.Contains(t, text, scriptText, page)
		require.Contains(t, text, imgText, page)
	}
	evidence, err := browsertest.Eval[[]string](b,
		`[...document.querySelectorAll("#evidence tr")].map(r => r.cells[0].innerText + "|" + r.cells[1].innerText)`)
	require.NoError(t, err)
	require.Equal(t, []string{
		"118|E   AssertionError: " + scriptText,
		"131|FAILED tests/test_api.py::test_login - " + imgText,
	}, evidence)
	b.Screenshot("status-hostile-job.png")
	require.Empty(t, b.Problems(), "console errors, exceptions or dialogs")
}
