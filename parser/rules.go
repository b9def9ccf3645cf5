package parser

import "fmt"

// RuleConfig is one severity rule for tool output, YAML-embeddable (the
// exporter config holds a list of them). Exactly one of Match and Regex is set.
type RuleConfig struct {
	Name  string `yaml:"name" json:"name"`
	Match string `yaml:"match,omitempty" json:"match,omitempty"` // substring, case-sensitive
	Regex string `yaml:"regex,omitempty" json:"regex,omitempty"` // RE2
	Level string `yaml:"level" json:"level"`                     // error|warning|info|debug
}

// Rules is a compiled, ordered list of severity rules. It is immutable and
// safe for concurrent use.
type Rules struct {
	rules []compiledRule
}

type compiledRule struct {
	name  string
	level Level
	match []byte
}

// DefaultRuleConfigs returns the documented default severity rules
// (docs/severity-rules.md), in order. The caller may modify the copy.
func DefaultRuleConfigs() []RuleConfig {
	return nil
}

// CompileRules checks and compiles rules. The error names the rule (index and
// name) and the problem.
func CompileRules(rules []RuleConfig) (*Rules, error) {
	r := &Rules{}
	for i, rc := range rules {
		lv, ok := ParseLevel(rc.Level)
		if !ok {
			return nil, fmt.Errorf("severity rule %d (%q): unknown level %q", i, rc.Name, rc.Level)
		}
		r.rules = append(r.rules, compiledRule{name: rc.Name, level: lv, match: []byte(rc.Match)})
	}
	return r, nil
}

// DefaultRules returns the compiled default rules.
func DefaultRules() *Rules {
	r, _ := CompileRules(DefaultRuleConfigs())
	return r
}
