package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/codearts-build-exporter/codearts_build_exporter/config"
)

const exampleConfig = "examples/codearts_build_exporter.yml"

// envWithout is the test's environment without the variables the config
// loader reads secrets from, so the machine's own cannot leak in.
func envWithout(prefix string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// The example configuration is valid as shipped, with the key pair from the
// environment as its comments say.
func TestExampleConfig(t *testing.T) {
	cmd := exec.Command(binary, "--config.check", "--config.file="+exampleConfig)
	cmd.Env = envWithout("CODEARTS_", "CODEARTS_ACCESS_KEY=AKEXAMPLE", "CODEARTS_SECRET_KEY=from-the-environment")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "OK: 2 jobs, aksk authentication")

	cmd = exec.Command(binary, "--config.check", "--config.file="+exampleConfig)
	cmd.Env = envWithout("CODEARTS_")
	out, err = cmd.CombinedOutput()
	require.Error(t, err, "without the key pair in the environment the example must not pass: %s", out)
	require.Contains(t, string(out), "no authentication method")
}

// Every key the configuration knows is shown in the example, set or as a
// commented line, so the example stays the complete reference.
func TestExampleConfigHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(exampleConfig)
	require.NoError(t, err)
	keys := map[string]bool{}
	yamlKeys(reflect.TypeFor[config.Config](), keys)
	require.Greater(t, len(keys), 30, "keys found by reflection: %v", keys)
	for key := range keys {
		re := regexp.MustCompile(`(?m)^[ \t]*(?:#[ \t]*)?(?:-[ \t]+)?` + regexp.QuoteMeta(key) + `:`)
		require.True(t, re.Match(data), "%s does not show the key %q", exampleConfig, key)
	}
}

// yamlKeys collects the yaml key names of t's fields, recursively.
func yamlKeys(t reflect.Type, keys map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for f := range t.Fields() {
		tag, ok := f.Tag.Lookup("yaml")
		if !ok || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || name == "" {
			continue
		}
		keys[name] = true
		yamlKeys(f.Type, keys)
	}
}

const systemdUnit = "deploy/systemd/codearts_build_exporter.service"

// The systemd unit passes systemd-analyze verify without a single warning,
// and its sandbox keeps systemd's exposure score at 2.0 ("OK") or lower.
// The unit names /usr/local/bin/codearts_build_exporter, which verify wants
// to exist: the test checks a copy that names the binary under test.
func TestSystemdUnit(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("SKIPPED: systemd-analyze not installed (Debian package systemd), the unit is not verified")
	}
	data, err := os.ReadFile(systemdUnit)
	require.NoError(t, err)
	unit := string(data)
	for _, want := range []string{
		"DynamicUser=yes", "StateDirectory=codearts_build_exporter", "NoNewPrivileges=yes",
		"ProtectSystem=strict", "ReadOnlyPaths=/etc/codearts_build_exporter",
		"--state.file=/var/lib/codearts_build_exporter/state.json",
		"--config.file=/etc/codearts_build_exporter/codearts_build_exporter.yml",
	} {
		require.Contains(t, unit, want)
	}
	const installed = "/usr/local/bin/codearts_build_exporter"
	require.Contains(t, unit, "ExecStart="+installed)
	path := filepath.Join(t.TempDir(), "codearts_build_exporter.service")
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(unit, installed, binary)), 0o644))

	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	require.NoError(t, err, "systemd-analyze verify:\n%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify has something to say")

	out, err = exec.Command("systemd-analyze", "security", "--offline=true", "--threshold=20", path).CombinedOutput()
	require.NoError(t, err, "systemd-analyze security: exposure above 2.0:\n%s", out)
	require.Regexp(t, `Overall exposure level for \S+: [0-2]\.\d`, string(out))
}

// The configuration in the Kubernetes ConfigMap is valid with the key pair
// the StatefulSet passes from the Secret, and every flag the StatefulSet
// passes exists. (deploy/kubernetes has its own module, whose test checks the
// manifests against the Kubernetes API types.)
func TestKubernetesConfigAndFlags(t *testing.T) {
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	data, err := os.ReadFile("deploy/kubernetes/configmap.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &cm))
	cfg, ok := cm.Data["codearts_build_exporter.yml"]
	require.True(t, ok, "configmap.yaml has no codearts_build_exporter.yml")
	path := filepath.Join(t.TempDir(), "codearts_build_exporter.yml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	cmd := exec.Command(binary, "--config.check", "--config.file="+path)
	cmd.Env = envWithout("CODEARTS_", "CODEARTS_ACCESS_KEY=AKEXAMPLE", "CODEARTS_SECRET_KEY=from-the-secret")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	var sts struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Args []string `yaml:"args"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	data, err = os.ReadFile("deploy/kubernetes/statefulset.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &sts))
	require.Len(t, sts.Spec.Template.Spec.Containers, 1)
	_, help, _ := runBinary(t, nil, "--help-long")
	args := sts.Spec.Template.Spec.Containers[0].Args
	require.NotEmpty(t, args)
	for _, a := range args {
		flag, _, hasValue := strings.Cut(a, "=")
		known := "  " + flag + "="
		if !hasValue { // a boolean flag: --[no-]name in the help
			known = "--[no-]" + strings.TrimPrefix(flag, "--") + " "
		}
		require.Contains(t, help, known, "statefulset.yaml passes %s, which the exporter does not know", flag)
	}
}
