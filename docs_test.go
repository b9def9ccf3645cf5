package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

var (
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading  = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	inlineCode = regexp.MustCompile("`[^`]*`")
)

// markdownDocs are the files whose links TestDocLinks checks.
func markdownDocs(t *testing.T) []string {
	docs, err := filepath.Glob("docs/*.md")
	require.NoError(t, err)
	return append([]string{"README.md"}, docs...)
}

// mdLines returns the lines of a Markdown file outside fenced code blocks.
func mdLines(t *testing.T, path string) []string {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []string
	fenced := false
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return out
}

// anchors returns the heading anchors GitHub makes for a Markdown file:
// lower case, punctuation dropped, spaces as hyphens, -1, -2 … for repeats.
func anchors(t *testing.T, path string) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	for _, line := range mdLines(t, path) {
		m := mdHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

func TestMarkdownAnchors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.md")
	require.NoError(t, os.WriteFile(path, []byte("# Offline analysis: `analyze`\n## 4. Container image\n## Tests\n## Tests\n```\n# not a heading\n```\n"), 0o644))
	require.Equal(t, map[string]bool{"offline-analysis-analyze": true, "4-container-image": true, "tests": true, "tests-1": true}, anchors(t, path))
}

// Every relative link in README.md and docs/*.md points at a file or
// directory of the repository, and every #anchor at a heading of its file.
func TestDocLinks(t *testing.T) {
	anchorCache := map[string]map[string]bool{}
	checked := 0
	for _, doc := range markdownDocs(t) {
		for i, line := range mdLines(t, doc) {
			for _, m := range mdLink.FindAllStringSubmatch(inlineCode.ReplaceAllString(line, ""), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				where := fmt.Sprintf("%s:%d: link %s", doc, i+1, target)
				file, anchor, _ := strings.Cut(target, "#")
				path := doc
				if file != "" {
					path = filepath.Join(filepath.Dir(doc), file)
					if _, err := os.Stat(path); err != nil {
						t.Errorf("%s: no such file in the repository", where)
						continue
					}
				}
				if anchor != "" {
					if !strings.HasSuffix(path, ".md") {
						t.Errorf("%s: an anchor into a file that is not Markdown", where)
						continue
					}
					if anchorCache[path] == nil {
						anchorCache[path] = anchors(t, path)
					}
					if !anchorCache[path][anchor] {
						t.Errorf("%s: %s has no heading with the anchor #%s", where, path, anchor)
					}
				}
				checked++
			}
		}
	}
	require.Greater(t, checked, 50, "links checked")
}
