package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// The monitoring-mixin guidelines for alerts, as mixtool's lint checks them
// (https://monitoring.mixins.dev/#guidelines-for-alert-names-labels-and-annotations):
// CamelCase names, severity critical, warning or info, a summary that is a
// plain sentence (capitalised, ending in a period, no template: it groups
// notifications), and a description that uses templates (it says which job).
var (
	alertNameStyle  = regexp.MustCompile(`^([A-Z]+[a-z0-9]+)+$`)
	templated       = regexp.MustCompile(`\{\{.+\}\}`)
	sentence        = regexp.MustCompile(`^[A-Z].+\.$`)
	alertSeverities = map[string]bool{"critical": true, "warning": true, "info": true}
)

const maxAlertNameLen = 40

type alertRule struct {
	Name                string
	Labels, Annotations map[string]string
}

// alertStyleProblems lists how one alert departs from the guidelines.
func alertStyleProblems(r alertRule) []string {
	var p []string
	if !alertNameStyle.MatchString(r.Name) {
		p = append(p, "name is not CamelCase")
	}
	if len(r.Name) >= maxAlertNameLen {
		p = append(p, fmt.Sprintf("name has %d characters, want fewer than %d", len(r.Name), maxAlertNameLen))
	}
	if sev := r.Labels["severity"]; !alertSeverities[sev] {
		p = append(p, fmt.Sprintf("severity %q, want critical, warning or info", sev))
	}
	summary, ok := r.Annotations["summary"]
	switch {
	case !ok:
		p = append(p, "no summary")
	case templated.MatchString(summary):
		p = append(p, fmt.Sprintf("summary %q uses a template", summary))
	case !sentence.MatchString(summary):
		p = append(p, fmt.Sprintf("summary %q does not start with a capital letter and end with a period", summary))
	}
	description, ok := r.Annotations["description"]
	switch {
	case !ok:
		p = append(p, "no description")
	case !templated.MatchString(description):
		p = append(p, "description uses no template")
	}
	return p
}

func TestRulesStyle(t *testing.T) {
	alerts := 0
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			for _, problem := range alertStyleProblems(alertRule{r.Alert, r.Labels, r.Annotations}) {
				t.Errorf("rules.yaml: alert %s: %s", r.Alert, problem)
			}
		}
	}
	if alerts < 6 {
		t.Errorf("found %d alerts in rules.yaml", alerts)
	}
}

// The checks catch what they are meant to catch.
func TestRulesStyleCheck(t *testing.T) {
	good := alertRule{"CodeArtsBuildFailing", map[string]string{"severity": "warning"},
		map[string]string{"summary": "CodeArts job fails every build.", "description": "Job {{ $labels.job_name }} fails."}}
	if p := alertStyleProblems(good); len(p) != 0 {
		t.Fatalf("a good alert: %v", p)
	}
	for _, tc := range []struct {
		mutate func(*alertRule)
		want   string
	}{
		{func(r *alertRule) { r.Name = "codearts_build_failing" }, "CamelCase"},
		{func(r *alertRule) { r.Name = "CodeArtsBuildFailingForAVeryLongTimeNowReally" }, "characters"},
		{func(r *alertRule) { r.Labels = map[string]string{"severity": "page"} }, "severity"},
		{func(r *alertRule) { r.Annotations["summary"] = "Job {{ $labels.job_name }} fails." }, "template"},
		{func(r *alertRule) { r.Annotations["summary"] = "codeArts job fails." }, "capital"},
		{func(r *alertRule) { r.Annotations["summary"] = "CodeArts job fails" }, "period"},
		{func(r *alertRule) { r.Annotations["description"] = "A job fails." }, "description uses no template"},
		{func(r *alertRule) { delete(r.Annotations, "summary") }, "no summary"},
	} {
		r := alertRule{good.Name, map[string]string{"severity": "warning"}, map[string]string{}}
		for k, v := range good.Annotations {
			r.Annotations[k] = v
		}
		tc.mutate(&r)
		p := fmt.Sprint(alertStyleProblems(r))
		if !strings.Contains(p, tc.want) {
			t.Errorf("%+v: problems %s, want one about %q", r, p, tc.want)
		}
	}
}
