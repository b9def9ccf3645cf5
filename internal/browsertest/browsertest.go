// Package browsertest drives a real headless Chromium for the tests of the
// exporter's HTML pages: load a page, query its rendered DOM, collect every
// console error, uncaught exception and dialog, and save screenshots as test
// artifacts. It is imported by tests only.
//
// Chromium is Debian's `chromium` package (/usr/bin/chromium), which
// ./test.sh installs. Without it a test is skipped with a message, except
// when CI=true, where it fails.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ExecPath is where Debian's chromium package installs the browser.
const ExecPath = "/usr/bin/chromium"

// Browser is one headless Chromium process with a fresh profile.
type Browser struct {
	t   testing.TB
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

// New starts Chromium for the test and stops it when the test ends. It skips
// the test when Chromium is not installed, unless CI=true.
func New(t testing.TB) *Browser {
	t.Helper()
	path := ExecPath
	if _, err := os.Stat(path); err != nil {
		p, lerr := exec.LookPath("chromium")
		if lerr != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("Chromium is required in CI (CI=true) and %s is missing: install Debian's chromium package (./test.sh does)", ExecPath)
			}
			t.Skipf("Chromium not installed (%s missing): skipping the browser test; install Debian's chromium package or run ./test.sh as root", ExecPath)
		}
		path = p
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	b := &Browser{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser, opens the tab
		t.Fatalf("starting %s: %v", path, err)
	}
	console := chromedp.Console(ctx)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.note(fmt.Sprintf("console %s: %s (%s:%d)", m.Type, m, m.URL, m.Line+1))
			}
		}
	}()
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.note(fmt.Sprintf("a %s dialog opened: %q", ev.Type, ev.Message))
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return b
}

func (b *Browser) note(p string) {
	b.mu.Lock()
	b.problems = append(b.problems, p)
	b.mu.Unlock()
}

// Problems returns every console error, uncaught exception, browser log
// error (a refused or failed resource) and dialog seen so far.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.problems)
}

// Load navigates to url, in the dark color scheme if dark, and waits until
// the body is ready.
func (b *Browser) Load(url string, dark bool) error {
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	_, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	if err != nil {
		return err
	}
	return chromedp.Do(b.ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body")))
}

// Eval evaluates a JavaScript expression in b's page and decodes its value.
func Eval[T any](b *Browser, expr string) (T, error) {
	return chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
}

// Screenshot saves a full-page PNG of the current page as a test artifact
// named name and logs where it is.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(ArtifactDir(b.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("saving screenshot: %v", err)
	}
	b.t.Logf("screenshot saved: %s", path)
	return path
}

var (
	artifactsOnce sync.Once
	artifacts     string
	artifactsErr  error
)

// ArtifactDir is $TEST_ARTIFACTS when set, else a directory made once per
// test process under the system temp dir; it is kept after the tests.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	artifactsOnce.Do(func() {
		if d := os.Getenv("TEST_ARTIFACTS"); d != "" {
			artifacts, artifactsErr = d, os.MkdirAll(d, 0o755)
			return
		}
		artifacts, artifactsErr = os.MkdirTemp("", "codearts_build_exporter-artifacts-")
	})
	if artifactsErr != nil {
		t.Fatalf("artifact directory: %v", artifactsErr)
	}
	return artifacts
}
