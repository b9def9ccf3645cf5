package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

// The dashboards, rules and exporter are checked together: a metric renamed
// in the collector, a recording rule renamed in rules.yaml or a typo in a
// panel query breaks these tests, not a user's first Grafana import.

const dsRef = "${datasource}"

type dsRefJSON struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	Datasource   *dsRefJSON `json:"datasource"`
	Expr         string     `json:"expr"`
	RefID        string     `json:"refId"`
	Instant      bool       `json:"instant"`
	LegendFormat string     `json:"legendFormat"`
	Format       string     `json:"format"`
}

type gridPos struct{ H, W, X, Y int }

type link struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

type panel struct {
	ID          int        `json:"id"`
	Type        string     `json:"type"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Datasource  *dsRefJSON `json:"datasource"`
	GridPos     gridPos    `json:"gridPos"`
	Targets     []target   `json:"targets"`
	Panels      []panel    `json:"panels"` // a collapsed row's panels
	Links       []link     `json:"links"`
	FieldConfig struct {
		Overrides []struct {
			Properties []struct {
				ID    string          `json:"id"`
				Value json.RawMessage `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Datasource *dsRefJSON      `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

// queryString is the PromQL (or label_values(...)) text of a query
// variable, whichever of the two JSON shapes Grafana stored.
func (v variable) queryString() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	if json.Unmarshal(v.Query, &o) == nil {
		return o.Query
	}
	return ""
}

type dashboard struct {
	file          string
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Links  []link  `json:"links"`
	Panels []panel `json:"panels"`
}

// allPanels flattens rows: the top-level panels and those nested in
// collapsed rows.
func (d dashboard) allPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

func (d dashboard) variable(name string) (variable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return variable{}, false
}

// panelQuery is one target of one panel.
type panelQuery struct {
	dashboard, panel, refID, expr string
	instant                       bool
}

func (q panelQuery) String() string {
	return fmt.Sprintf("%s / %q / %s", q.dashboard, q.panel, q.refID)
}

func (d dashboard) queries() []panelQuery {
	var out []panelQuery
	for _, p := range d.allPanels() {
		for _, t := range p.Targets {
			out = append(out, panelQuery{d.file, p.Title, t.RefID, t.Expr, t.Instant})
		}
	}
	return out
}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found above e2e/: %v", err)
	}
	return root
}

func loadDashboards(t testing.TB) []dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("want the overview and the job dashboard in dashboards/, found %d files", len(files))
	}
	var out []dashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: not valid dashboard JSON: %v", f, err)
		}
		d.file = filepath.Base(f)
		out = append(out, d)
	}
	return out
}

// rulesFile is the part of rules.yaml the tests read.
type rulesFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t testing.TB) rulesFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rf rulesFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("rules.yaml: %v", err)
	}
	return rf
}

func (rf rulesFile) recordNames() []string {
	var out []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				out = append(out, r.Record)
			}
		}
	}
	return out
}

var metricLiteral = regexp.MustCompile(`"(codearts_[a-z0-9_]+)"`)

// exposedMetricNames lists the metric families the exporter can expose: the
// codearts_* names spelled out as string literals in the module's non-test
// Go source (the metrics package, the collector, the API client, main), the
// _bucket/_count/_sum series of each, and the families of client_golang's
// process collector that the rules use. The live end-to-end test
// (TestPrometheusEndToEnd) then proves that the ones the dashboards use
// really have data.
func exposedMetricNames(t testing.TB) map[string]bool {
	t.Helper()
	root := repoRoot(t)
	names := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "e2e", "testdata", "node_modules", "simulator":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range metricLiteral.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"process_start_time_seconds"} {
		names[n] = true
	}
	for n := range names {
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			names[n+suffix] = true
		}
	}
	return names
}

// prometheusNames are series Prometheus itself makes for every target.
var prometheusNames = map[string]bool{"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true}

func TestExposedMetricNamesIncludeTheContract(t *testing.T) {
	names := exposedMetricNames(t)
	for _, n := range []string{metrics.LogRecordsTotal, metrics.LogBytesTotal, metrics.ActionDurationSeconds + "_bucket",
		metrics.BuildDurationSeconds + "_count", metrics.LastBuildNumber, metrics.JobInfo, metrics.APIRequestsTotal,
		metrics.LastPollSuccessSeconds} {
		if !names[n] {
			t.Errorf("the source scan does not find %s: it cannot vouch for any other name either", n)
		}
	}
}

func TestDashboardsStructure(t *testing.T) {
	exposed := exposedMetricNames(t)
	records := loadRules(t).recordNames()
	known := func(n string) bool { return exposed[n] || prometheusNames[n] || slices.Contains(records, n) }

	uids := map[string]string{}
	for _, d := range loadDashboards(t) {
		t.Run(d.file, func(t *testing.T) {
			if d.UID == "" || d.Title == "" {
				t.Errorf("uid %q / title %q: both are needed for stable links", d.UID, d.Title)
			}
			if other, dup := uids[d.UID]; dup {
				t.Errorf("uid %q also used by %s", d.UID, other)
			}
			uids[d.UID] = d.file
			if d.SchemaVersion < 39 {
				t.Errorf("schemaVersion %d, want >= 39", d.SchemaVersion)
			}

			// Variables.
			ds, ok := d.variable("datasource")
			if !ok || ds.Type != "datasource" || ds.queryString() != "prometheus" {
				t.Errorf("want a variable datasource of type datasource, query prometheus; got %+v", ds)
			}
			defined := map[string]bool{}
			for _, v := range d.Templating.List {
				defined[v.Name] = true
			}
			for _, name := range []string{"job_name", "action"} {
				v, ok := d.variable(name)
				if !ok {
					t.Errorf("variable %s missing", name)
					continue
				}
				if v.Type != "query" || !strings.HasPrefix(v.queryString(), "label_values(") {
					t.Errorf("variable %s: want a label_values(...) query variable, got type %q query %q", name, v.Type, v.queryString())
				}
			}
			for _, v := range d.Templating.List {
				if v.Type != "query" {
					continue
				}
				if v.Datasource == nil || v.Datasource.UID != dsRef || v.Datasource.Type != "prometheus" {
					t.Errorf("variable %s: datasource %+v, want prometheus %s", v.Name, v.Datasource, dsRef)
				}
				q := v.queryString()
				if v.Definition != q {
					t.Errorf("variable %s: definition %q differs from query %q", v.Name, v.Definition, q)
				}
				sel, label, err := splitLabelValues(q)
				if err != nil {
					t.Errorf("variable %s: %v", v.Name, err)
					continue
				}
				if !regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`).MatchString(label) {
					t.Errorf("variable %s: %q is not a label name", v.Name, label)
				}
				checkExpr(t, "variable "+v.Name, sel, known, defined)
			}

			// Panels.
			ids := map[int]bool{}
			var boxes []panel
			for _, p := range d.allPanels() {
				where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
				if ids[p.ID] {
					t.Errorf("%s: duplicate panel id", where)
				}
				ids[p.ID] = true
				if p.Title == "" {
					t.Errorf("%s: no title", where)
				}
				if p.Datasource == nil || p.Datasource.UID != dsRef || p.Datasource.Type != "prometheus" {
					t.Errorf("%s: datasource %+v, want prometheus %s", where, p.Datasource, dsRef)
				}
				if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
					t.Errorf("%s: gridPos %+v outside the 24-column grid", where, p.GridPos)
				}
				for _, b := range boxes {
					if overlap(b.GridPos, p.GridPos) {
						t.Errorf("%s overlaps panel %d %q", where, b.ID, b.Title)
					}
				}
				boxes = append(boxes, p)
				if p.Type == "row" {
					continue
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: no queries", where)
				}
				if p.Description == "" {
					t.Errorf("%s: no description (what it shows and what to do about it)", where)
				}
				refs := map[string]bool{}
				for _, tg := range p.Targets {
					if tg.Datasource == nil || tg.Datasource.UID != dsRef {
						t.Errorf("%s target %s: datasource %+v, want %s", where, tg.RefID, tg.Datasource, dsRef)
					}
					if tg.RefID == "" || refs[tg.RefID] {
						t.Errorf("%s: empty or duplicate refId %q", where, tg.RefID)
					}
					refs[tg.RefID] = true
					checkExpr(t, where+" target "+tg.RefID, tg.Expr, known, defined)
				}
				for _, l := range p.Links {
					checkVars(t, where+" link", l.URL, defined)
				}
			}
			for _, l := range d.Links {
				checkVars(t, "dashboard link "+l.Title, l.URL, defined)
			}
		})
	}
}

// TestFailurePanels: the overview shows the failures counter by category
// and by job (TestPrometheusEndToEnd proves every panel returns data).
func TestFailurePanels(t *testing.T) {
	want := map[string]string{"Failures by category": "sum by (category) (", "Failures by job": "sum by (job_name, category) ("}
	for _, d := range loadDashboards(t) {
		if d.UID != "codearts-build-overview" {
			continue
		}
		for _, q := range d.queries() {
			if prefix, ok := want[q.panel]; ok && strings.HasPrefix(q.expr, prefix) && strings.Contains(q.expr, metrics.FailuresTotal+"{") {
				delete(want, q.panel)
			}
		}
	}
	for title, prefix := range want {
		t.Errorf("overview dashboard: no panel %q querying %s%s...", title, prefix, metrics.FailuresTotal)
	}
}

// TestJobDashboardLinksToConsole: the job drill-down links to the job in the
// CodeArts console through a job_id variable taken from
// codearts_build_job_info for the selected job_name.
func TestJobDashboardLinksToConsole(t *testing.T) {
	for _, d := range loadDashboards(t) {
		if d.UID != "codearts-build-job" {
			continue
		}
		v, ok := d.variable("job_id")
		if !ok {
			t.Fatal("job dashboard: no job_id variable")
		}
		sel, label, err := splitLabelValues(v.queryString())
		if err != nil || label != "job_id" || !strings.HasPrefix(sel, metrics.JobInfo+"{") || !strings.Contains(sel, `job_name="$job_name"`) {
			t.Errorf("job_id variable: want label_values(%s{job_name=\"$job_name\"}, job_id), got %q (%v)", metrics.JobInfo, v.queryString(), err)
		}
		urls := []string{}
		for _, l := range d.Links {
			urls = append(urls, l.URL)
		}
		for _, p := range d.allPanels() {
			for _, l := range p.Links {
				urls = append(urls, l.URL)
			}
		}
		n := 0
		for _, u := range urls {
			if strings.HasPrefix(u, "${console_url}") && strings.Contains(u, "${job_id}") {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no link to ${console_url}...${job_id} in %q", urls)
		}
		return
	}
	t.Fatal("no dashboard with uid codearts-build-job")
}

// TestRulesUseKnownMetrics: every metric a rule reads is exposed by the
// exporter, made by Prometheus, or recorded by an earlier rule.
func TestRulesUseKnownMetrics(t *testing.T) {
	exposed := exposedMetricNames(t)
	rf := loadRules(t)
	records := rf.recordNames()
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			name := r.Record + r.Alert
			names, err := metricNames(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			for _, n := range names {
				if !exposed[n] && !prometheusNames[n] && !slices.Contains(records, n) {
					t.Errorf("%s reads %s, which neither the exporter nor a recording rule provides", name, n)
				}
			}
			if r.Alert != "" {
				if sev := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, sev) {
					t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, sev)
				}
				if r.Annotations["summary"] == "" || len(r.Annotations["description"]) < 100 {
					t.Errorf("%s: a summary and a description that says what to check are required", r.Alert)
				}
			}
		}
	}
}

// TestRuleAnnotationsNamePanelsThatExist: the alert descriptions send the
// reader to dashboards and panels by title; those must exist.
func TestRuleAnnotationsNamePanelsThatExist(t *testing.T) {
	titles := map[string]bool{}
	for _, d := range loadDashboards(t) {
		titles[d.Title] = true
		for _, p := range d.allPanels() {
			titles[p.Title] = true
		}
	}
	refs := regexp.MustCompile(`(?:dashboard|panel) "([^"]+)"|"([^"]+)" (?:row|dashboard)`)
	seen := 0
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			for _, text := range r.Annotations {
				for _, m := range refs.FindAllStringSubmatch(text, -1) {
					title := m[1] + m[2]
					seen++
					if !titles[title] {
						t.Errorf("%s names %q, which is no dashboard, row or panel title", r.Alert, title)
					}
				}
			}
		}
	}
	if seen == 0 {
		t.Error("no alert names a dashboard or panel: the pattern no longer matches the annotations")
	}
}

// splitLabelValues splits label_values(SELECTOR, LABEL).
func splitLabelValues(q string) (selector, label string, err error) {
	q = strings.TrimSpace(q)
	if !strings.HasPrefix(q, "label_values(") || !strings.HasSuffix(q, ")") {
		return "", "", fmt.Errorf("%q is not label_values(selector, label)", q)
	}
	inner := q[len("label_values(") : len(q)-1]
	i := strings.LastIndexByte(inner, ',')
	if i < 0 {
		return "", "", fmt.Errorf("%q: label_values needs a selector and a label", q)
	}
	return strings.TrimSpace(inner[:i]), strings.TrimSpace(inner[i+1:]), nil
}

var varRef = regexp.MustCompile(`\$\{([a-zA-Z0-9_.]+)(?::[a-z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)`)

// grafanaBuiltins are variables Grafana defines itself.
var grafanaBuiltins = map[string]bool{
	"__rate_interval": true, "__interval": true, "__interval_ms": true, "__range": true, "__range_s": true,
	"__range_ms": true, "__url_time_range": true, "__value.raw": true, "__value.text": true,
}

func checkVars(t *testing.T, where, s string, defined map[string]bool) {
	t.Helper()
	for _, m := range varRef.FindAllStringSubmatch(s, -1) {
		name := m[1] + m[2]
		if !defined[name] && !grafanaBuiltins[name] && !strings.HasPrefix(name, "__data.") {
			t.Errorf("%s: uses $%s, which is not a variable of the dashboard", where, name)
		}
	}
}

func checkExpr(t *testing.T, where, expr string, known func(string) bool, defined map[string]bool) {
	t.Helper()
	if strings.TrimSpace(expr) == "" {
		t.Errorf("%s: empty expression", where)
		return
	}
	checkVars(t, where, expr, defined)
	names, err := metricNames(expr)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	if len(names) == 0 {
		t.Errorf("%s: %q selects no metric", where, expr)
	}
	var unknown []string
	for _, n := range names {
		if !known(n) {
			unknown = append(unknown, n)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("%s: %q uses %q, which neither the exporter exposes nor rules.yaml records", where, expr, unknown)
	}
}

func overlap(a, b gridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}
