package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// promqlKeywords are identifiers that are never metric names: binary and set
// operators, modifiers, and the special numbers.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "atan2": true, "bool": true,
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "offset": true,
	"inf": true, "nan": true, "start": true, "end": true,
}

// aggregators can be followed by "by (...)" or "without (...)" before their
// parenthesised argument: `sum by (job) (x)`.
var aggregators = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true,
	"stdvar": true, "count": true, "count_values": true, "bottomk": true, "topk": true,
	"quantile": true, "limitk": true, "limit_ratio": true,
}

// labelListKeywords are followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true,
}

// metricNames returns the metric names an expression selects, in order of
// first appearance. It is a small PromQL lexer, not a parser: it skips
// strings, label matchers ({...}), ranges and subqueries ([...]), numbers and
// durations, Grafana variables ($x, ${x}, [[x]]), function names (an
// identifier followed by "("), keywords and the label lists after by,
// without, on, ignoring, group_left and group_right. Every other identifier
// is a metric name. It returns an error for unbalanced brackets or quotes,
// so a broken expression does not pass silently.
func metricNames(expr string) ([]string, error) {
	var names []string
	s := expr
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'' || c == '`':
			j, err := skipString(s, i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '{':
			j, err := skipBalanced(s, i, '{', '}')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '[':
			if strings.HasPrefix(s[i:], "[[") { // Grafana [[var]]
				j := strings.Index(s[i:], "]]")
				if j < 0 {
					return nil, fmt.Errorf("unclosed [[ at %d in %q", i, expr)
				}
				i += j + 2
				continue
			}
			j, err := skipBalanced(s, i, '[', ']')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				j := strings.IndexByte(s[i:], '}')
				if j < 0 {
					return nil, fmt.Errorf("unclosed ${ at %d in %q", i, expr)
				}
				i += j + 1
				continue
			}
			for i < len(s) && isIdentChar(s[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			// number or duration: 0.2, 1e-9, 0x1f, 5m, 1h30m
			i++
			for i < len(s) && (isIdentChar(s[i]) || s[i] == '.' ||
				(s[i] == '-' || s[i] == '+') && (s[i-1] == 'e' || s[i-1] == 'E')) {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			word := s[i:j]
			k := j
			for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r') {
				k++
			}
			lower := strings.ToLower(word)
			switch {
			case labelListKeywords[lower] && k < len(s) && s[k] == '(':
				end, err := skipBalanced(s, k, '(', ')')
				if err != nil {
					return nil, err
				}
				j = end
			case promqlKeywords[lower]:
			case aggregators[lower] && (hasWord(s[k:], "by") || hasWord(s[k:], "without")):
			case k < len(s) && s[k] == '(':
				// function or aggregation: its arguments are lexed as usual
			default:
				if !slices.Contains(names, word) {
					names = append(names, word)
				}
			}
			i = j
		case strings.IndexByte("()+-*/%^=!<>,@:", c) >= 0:
			i++
		default:
			return nil, fmt.Errorf("unexpected %q at %d in %q", c, i, expr)
		}
	}
	return names, nil
}

// hasWord reports whether s starts with the identifier w (not a longer one).
func hasWord(s, w string) bool {
	return strings.HasPrefix(s, w) && (len(s) == len(w) || !isIdentChar(s[len(w)]))
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unclosed string at %d in %q", i, s)
}

func skipBalanced(s string, i int, open, close byte) (int, error) {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '"', '\'', '`':
			end, err := skipString(s, j)
			if err != nil {
				return 0, err
			}
			j = end - 1
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced %c at %d in %q", open, i, s)
}

func TestMetricNames(t *testing.T) {
	cases := []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`sum by (job_name, level) (rate(codearts_build_log_records_total{level="error",job_name=~"$job_name"}[$__rate_interval]))`,
			[]string{"codearts_build_log_records_total"}},
		{`histogram_quantile(0.9, sum by (action, le) (rate(codearts_build_action_duration_seconds_bucket{job_name="a}b"}[1h])))`,
			[]string{"codearts_build_action_duration_seconds_bucket"}},
		{`a:b:rate5m > 4 * c:d:avg1d and on (job_name) e > 0.2 unless ignoring(x) group_left (y) f offset 5m`,
			[]string{"a:b:rate5m", "c:d:avg1d", "e", "f"}},
		{`avg_over_time(x:y:rate1h[7d:1h]) or x:y:avg1d`, []string{"x:y:rate1h", "x:y:avg1d"}},
		{`count(x == 1) or vector(0)`, []string{"x"}},
		{`sum(rate(m[5m])) by (job) / 1e-9 + 0x1F - .5 * inf`, []string{"m"}},
		{`time() - process_start_time_seconds`, []string{"process_start_time_seconds"}},
		{`label_values(codearts_build_job_info{job=~"$exporter_job"}, job_name)`, []string{"codearts_build_job_info", "job_name"}},
		{`max without (job_id) (codearts_build_job_info) * 0 + on (job, instance) group_left () (time() - p)`,
			[]string{"codearts_build_job_info", "p"}},
		{`{__name__="x"}`, nil},
		{`rate(m[${__rate_interval}]) * [[factor]]`, []string{"m"}},
		{`m @ start()`, []string{"m"}},
	}
	for _, c := range cases {
		got, err := metricNames(c.expr)
		if err != nil {
			t.Errorf("metricNames(%q): %v", c.expr, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
	for _, bad := range []string{`rate(m{a="b"[5m])`, `m{a="b}`, `sum(m[5m)`, `x # comment`} {
		if _, err := metricNames(bad); err == nil {
			t.Errorf("metricNames(%q): no error for a broken expression", bad)
		}
	}
}
