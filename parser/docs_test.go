package parser

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// docs/severity-rules.md lists the default rules; keep it in step.
func TestDefaultRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/severity-rules.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| ") && strings.Contains(line, "| `") && !strings.HasPrefix(line, "| #") {
			rows++
		}
	}
	rules := DefaultRuleConfigs()
	if rows != len(rules) {
		t.Errorf("docs/severity-rules.md has %d rule rows, the code %d rules", rows, len(rules))
	}
	for i, rc := range rules {
		kind, pat := "match", rc.Match
		if rc.Regex != "" {
			kind, pat = "regex", rc.Regex
		}
		row := fmt.Sprintf("| %d | `%s` | %s | `%s` | %s |", i+1, rc.Name, kind, pat, rc.Level)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/severity-rules.md lacks the row %q", row)
		}
	}
}
