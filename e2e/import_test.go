package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Grafana's Dashboards → Import asks for a data source only when the JSON
// declares it in __inputs, and then replaces "${NAME}" everywhere in the
// file with the chosen data source's uid. The dashboards declare one
// Prometheus input, used only as the starting value of the Data source
// variable; every panel and query goes through that variable.
func TestDashboardImportInputs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "dashboards", "*.json"))
	if err != nil || len(files) < 2 {
		t.Fatalf("dashboards: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				Inputs []struct {
					Name, Label, Type, PluginID string
				} `json:"__inputs"`
				Requires []struct {
					Type, ID string
				} `json:"__requires"`
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			if len(d.Inputs) != 1 || d.Inputs[0].Type != "datasource" || d.Inputs[0].PluginID != "prometheus" || d.Inputs[0].Label == "" {
				t.Fatalf("__inputs %+v: want one Prometheus data source input", d.Inputs)
			}
			required := map[string]bool{}
			for _, r := range d.Requires {
				required[r.Type+"/"+r.ID] = true
			}
			if !required["grafana/grafana"] || !required["datasource/prometheus"] {
				t.Errorf("__requires %+v: want grafana and the prometheus data source", d.Requires)
			}
			ref := "${" + d.Inputs[0].Name + "}"
			if n := strings.Count(string(raw), ref); n != 1 {
				t.Errorf("%s appears %d times: want it only as the Data source variable's current value", ref, n)
			}

			// What Grafana's import does, with the uid of the chosen data source.
			const uid = "P1809F7CD0C75ACF3"
			var imported struct {
				Templating struct {
					List []struct {
						Name    string `json:"name"`
						Type    string `json:"type"`
						Current struct {
							Value string `json:"value"`
						} `json:"current"`
					} `json:"list"`
				} `json:"templating"`
			}
			if err := json.Unmarshal([]byte(strings.ReplaceAll(string(raw), ref, uid)), &imported); err != nil {
				t.Fatalf("after import: %v", err)
			}
			found := false
			for _, v := range imported.Templating.List {
				if v.Name == "datasource" && v.Type == "datasource" {
					found = true
					if v.Current.Value != uid {
						t.Errorf("after import the Data source variable starts on %q, want the chosen %q", v.Current.Value, uid)
					}
				}
			}
			if !found {
				t.Error("no Data source variable")
			}
		})
	}
}
