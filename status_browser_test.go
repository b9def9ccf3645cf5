package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/browsertest"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

// hostileStage is a stage display name (the action label) that would run
// script if the page interpreted it as HTML.
const hostileStage = `<img src=x onerror="window.pwned=1">`

// TestStatusPageInChromium runs the exporter on the simulator over real
// HTTP and reads /status in a real Chromium: the followed jobs, a failing
// poll, a failed build's action (and, with failure insight, its category
// and evidence lines), an action name full of markup shown as text, no
// console error. Screenshots of the overview (light and dark) and of a
// job page are saved as test artifacts.
func TestStatusPageInChromium(t *testing.T) {
	b := browsertest.New(t)
	sec := time.Second
	stages := func(s ...simulator.StageSpec) []simulator.StageSpec { return s }
	jobs := []simulator.JobSpec{
		{ID: simulator.DemoJobID("web-app"), Name: "web-app", FailureRate: 1, RecordsPerSecond: 20,
			Stages: stages(
				simulator.StageSpec{DisplayName: "Code checkout", Tool: "git", MinDuration: 2 * sec, MaxDuration: 3 * sec},
				simulator.StageSpec{DisplayName: "Maven build", Tool: "maven", MinDuration: 2 * sec, MaxDuration: 3 * sec},
				simulator.StageSpec{DisplayName: "Unit tests", Tool: "pytest", MinDuration: 2 * sec, MaxDuration: 3 * sec},
			)},
		{ID: simulator.DemoJobID("api-service"), Name: "api-service", RecordsPerSecond: 20, Continuous: true,
			Stages: stages(
				simulator.StageSpec{DisplayName: "Code checkout", Tool: "git", MinDuration: 2 * sec, MaxDuration: 3 * sec},
				simulator.StageSpec{DisplayName: "npm build", Tool: "npm", MinDuration: 3 * sec, MaxDuration: 5 * sec},
			)},
		{ID: simulator.DemoJobID("escaping"), Name: "escaping", RecordsPerSecond: 20,
			Stages: stages(
				simulator.StageSpec{DisplayName: hostileStage, Tool: "shell", MinDuration: 2 * sec, MaxDuration: 3 * sec},
			)},
	}
	sim, url := startSimulator(t, simulator.Options{Seed: 12, Jobs: jobs})
	dir := t.TempDir()
	var lines []string
	for _, j := range jobs {
		lines = append(lines, jobLine(j.ID, j.Name))
	}
	// A job the simulator does not know: every poll of it fails.
	lines = append(lines, jobLine(simulator.DemoJobID("ghost"), "ghost"))
	cfg := writeConfig(t, dir, url, "", lines...)
	e := startExporter(t, nil, "--config.file="+cfg, "--state.file="+filepath.Join(dir, "state.json"))

	// With failure insight, the failed build's category and evidence are
	// in the ledger too; wait for them when /metrics has the family.
	insight := func() bool {
		_, text := e.scrape()
		return strings.Contains(text, "codearts_build_failures_total{")
	}
	eventually(t, 60*time.Second, "a failed build of web-app on /status", func() bool {
		_, body := e.do(http.MethodGet, "/status?job=web-app")
		return strings.Contains(body, `<span class="badge failure">failure</span>`) &&
			(!insight() || strings.Contains(body, `id="last-failure"`))
	})
	eventually(t, 60*time.Second, "a finished build of the escaping job", func() bool {
		_, body := e.do(http.MethodGet, "/status?job=escaping")
		return strings.Contains(body, `class="card build"`)
	})

	// Overview.
	require.NoError(t, b.Load(e.url+"/status", false))
	names, err := browsertest.Eval[[]string](b, `[...document.querySelectorAll("#jobs tbody tr")].map(r => r.dataset.job)`)
	require.NoError(t, err)
	require.Equal(t, "ghost", names[0], "the job whose polls fail comes first")
	require.ElementsMatch(t, []string{"ghost", "web-app", "api-service", "escaping"}, names)
	ghost, err := browsertest.Eval[string](b, `document.querySelector('#jobs tr[data-job="ghost"]').innerText`)
	require.NoError(t, err)
	require.Contains(t, ghost, "failing")
	require.Contains(t, ghost, "ShowRunningStatus", "the poll error is shown")
	require.NotContains(t, ghost, "SECRETVALUE")
	webApp, err := browsertest.Eval[string](b, `document.querySelector('#jobs tr[data-job="web-app"]').innerText`)
	require.NoError(t, err)
	require.Contains(t, webApp, "failure")
	api, err := browsertest.Eval[string](b, `document.querySelector("#api").innerText`)
	require.NoError(t, err)
	require.Contains(t, api, "ShowRunningStatus")
	b.Screenshot("status-overview-light.png")
	require.NoError(t, b.Load(e.url+"/status", true))
	bg, err := browsertest.Eval[string](b, `getComputedStyle(document.body).backgroundColor`)
	require.NoError(t, err)
	require.Equal(t, "rgb(20, 23, 29)", bg, "the dark scheme applies")
	b.Screenshot("status-overview-dark.png")

	// The failed build of web-app: its failed action is the simulator's.
	require.NoError(t, b.Load(e.url+"/status?job=web-app", false))
	type failedBuild struct {
		Number int64  `json:"number"`
		Action string `json:"action"`
	}
	fb, err := browsertest.Eval[failedBuild](b, `(() => {
		const s = [...document.querySelectorAll("section.build")].find(s => s.querySelector(".badge.failure"));
		const row = [...s.querySelectorAll("tbody tr")].find(r => r.querySelector(".badge.failure"));
		return {number: Number(s.dataset.build), action: row.querySelector(".action").innerText};
	})()`)
	require.NoError(t, err)
	require.Equal(t, failedStage(t, sim.Truth(), "web-app", fb.Number), fb.Action)

	if insight() {
		type failure struct {
			Action   string   `json:"action"`
			Category string   `json:"category"`
			Evidence []string `json:"evidence"`
		}
		f, err := browsertest.Eval[failure](b, `({
			action: document.querySelector("#last-failure .failed-action").innerText,
			category: document.querySelector("#last-failure .failure-category").innerText,
			evidence: [...document.querySelectorAll("#evidence tr")].map(r => r.cells[0].innerText + "|" + r.cells[1].innerText),
		})`)
		require.NoError(t, err)
		require.NotEmpty(t, f.Action)
		require.Contains(t, []string{"compile", "test", "dependency", "docker", "timeout", "oom", "permission",
			"network", "disk", "environment", "script", "unknown"}, f.Category)
		require.NotEmpty(t, f.Evidence, "evidence lines of the newest failure")
		for _, ev := range f.Evidence {
			n, text, ok := strings.Cut(ev, "|")
			require.True(t, ok && n != "" && n != "0" && strings.TrimSpace(text) != "", "evidence line %q has a line number and text", ev)
		}
	} else {
		t.Log("no codearts_build_failures_total on /metrics (failure insight not built in): " +
			"the category and evidence assertions are skipped")
	}
	b.Screenshot("status-job-light.png")

	// The hostile action name is text, and nothing ran.
	require.NoError(t, b.Load(e.url+"/status?job=escaping", false))
	actions, err := browsertest.Eval[[]string](b, `[...document.querySelectorAll("td.action")].map(td => td.innerText)`)
	require.NoError(t, err)
	require.Contains(t, actions, hostileStage)
	made, err := browsertest.Eval[int](b, `document.querySelectorAll("img, script, [onerror]").length`)
	require.NoError(t, err)
	require.Zero(t, made)
	pwned, err := browsertest.Eval[bool](b, `window.pwned !== undefined`)
	require.NoError(t, err)
	require.False(t, pwned)

	require.Empty(t, b.Problems(), "console errors, exceptions or dialogs")
	if dst := os.Getenv("STATUS_SCREENSHOT"); dst != "" {
		// Refreshes the README's picture: STATUS_SCREENSHOT=docs/status.png.
		src, err := os.ReadFile(filepath.Join(browsertest.ArtifactDir(t), "status-overview-light.png"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dst, src, 0o644))
	}
}

// failedStage returns the display name of the failed stage of a build.
func failedStage(t *testing.T, tr simulator.Truth, job string, build int64) string {
	t.Helper()
	for _, j := range tr.Jobs {
		if j.Name != job {
			continue
		}
		for _, bt := range j.Builds {
			if bt.Number != build {
				continue
			}
			for _, st := range bt.Stages {
				if st.Status == "FAILED" {
					return st.DisplayName
				}
			}
		}
	}
	t.Fatalf("the simulator has no failed stage in build %d of %s", build, job)
	return ""
}
