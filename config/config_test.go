package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// noEnv keeps the test machine's environment out of the loader.
func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadGood(t *testing.T) {
	c, err := load("testdata/good.yml", noEnv)
	require.NoError(t, err)

	require.Equal(t, "https://cloudbuild-ext.cn-north-4.myhuaweicloud.com", c.CodeArts.Endpoint)
	require.Equal(t, "0123456789abcdef0123456789abcdef", c.CodeArts.ProjectID)
	require.Equal(t, 1.5, c.CodeArts.RequestsPerSecond)
	require.Equal(t, 3, c.CodeArts.Burst)
	require.Equal(t, 2, c.CodeArts.MaxConcurrency)
	require.Equal(t, 20*time.Second, c.CodeArts.Timeout)
	require.Equal(t, 5, c.CodeArts.MaxRetries)
	require.Equal(t, Secret("AKGOODEXAMPLE"), c.CodeArts.Auth.AccessKey)
	require.Equal(t, Secret("SKGOODSECRETVALUE"), c.CodeArts.Auth.SecretKey, "secret_key_file is read relative to the config file, trailing newline dropped")
	require.Equal(t, "aksk", c.CodeArts.Auth.Method())
	require.Equal(t, 45*time.Second, c.PollInterval)
	require.Equal(t, 3, c.BackfillBuilds)
	require.Equal(t, 2, c.JobConcurrency)
	require.False(t, c.KeepDefaultSeverityRules)
	require.Len(t, c.SeverityRules, 2)
	require.Equal(t, c.SeverityRules, c.EffectiveSeverityRules(), "defaults dropped when keep_default_severity_rules is false")
	require.NotNil(t, c.Rules())
	require.Equal(t, Collector{MaxPagesPerStep: 10, MaxPagesPerPoll: 200, CommitEveryPages: 5,
		BuildGiveUpAfter: 3, MaxBuildsBehind: 7, MaxActionsPerJob: 50}, c.Collector)
	require.Equal(t, []Job{
		{ID: "0123456789abcdef0123456789abcdef", Name: "backend-ci"},
		{ID: "fedcba9876543210fedcba9876543210", Name: "前端构建"},
		{ID: "00000000000000000000000000000000", Name: "00000000000000000000000000000000"},
	}, c.Jobs)
}

func TestDefaults(t *testing.T) {
	c, err := parse("min.yml", []byte(`
codearts:
  endpoint: https://cloudbuild-ext.cn-north-4.myhuaweicloud.com
  project_id: p1
  auth: {token: T}
jobs: [{id: 0123456789abcdef0123456789abcdef}]
`), noEnv)
	require.NoError(t, err)
	d := Default()
	require.Equal(t, d.CodeArts.RequestsPerSecond, c.CodeArts.RequestsPerSecond)
	require.Equal(t, d.CodeArts.Burst, c.CodeArts.Burst)
	require.Equal(t, d.CodeArts.MaxConcurrency, c.CodeArts.MaxConcurrency)
	require.Equal(t, d.CodeArts.Timeout, c.CodeArts.Timeout)
	require.Equal(t, d.CodeArts.MaxRetries, c.CodeArts.MaxRetries)
	require.Equal(t, DefaultPollInterval, c.PollInterval)
	require.Equal(t, DefaultBackfillBuilds, c.BackfillBuilds)
	require.Equal(t, DefaultJobConcurrency, c.JobConcurrency)
	require.True(t, c.KeepDefaultSeverityRules)
	require.Equal(t, parser.DefaultRuleConfigs(), c.EffectiveSeverityRules())
	require.Equal(t, d.Collector, c.Collector)
	require.Equal(t, "token", c.CodeArts.Auth.Method())
}

func TestSeverityRulesKeepDefaults(t *testing.T) {
	c, err := parse("rules.yml", []byte(`
codearts:
  endpoint: https://cloudbuild-ext.cn-north-4.myhuaweicloud.com
  project_id: p1
  auth: {token: T}
severity_rules:
  - {name: mine, match: "OOPS", level: error}
jobs: [{id: 0123456789abcdef0123456789abcdef}]
`), noEnv)
	require.NoError(t, err)
	want := append([]parser.RuleConfig{{Name: "mine", Match: "OOPS", Level: "error"}}, parser.DefaultRuleConfigs()...)
	require.Equal(t, want, c.EffectiveSeverityRules(), "own rules first, then the defaults")
}

func TestFailureRulesKeepDefaults(t *testing.T) {
	c, err := parse("rules.yml", []byte(`
codearts:
  endpoint: https://cloudbuild-ext.cn-north-4.myhuaweicloud.com
  project_id: p1
  auth: {token: T}
failure_rules:
  - {name: grid, match: "SessionNotCreatedException", category: environment, cause: "no browser session"}
jobs: [{id: 0123456789abcdef0123456789abcdef}]
`), noEnv)
	require.NoError(t, err)
	want := append([]parser.FailureRuleConfig{{Name: "grid", Match: "SessionNotCreatedException", Category: "environment", Cause: "no browser session"}},
		parser.DefaultFailureRuleConfigs()...)
	require.Equal(t, want, c.EffectiveFailureRules(), "own rules first, then the defaults")
	require.Equal(t, len(want), c.CompiledFailureRules().Len())

	c, err = parse("rules.yml", []byte(`
codearts:
  endpoint: https://cloudbuild-ext.cn-north-4.myhuaweicloud.com
  project_id: p1
  auth: {token: T}
keep_default_failure_rules: false
failure_rules:
  - {name: grid, match: "SessionNotCreatedException", category: environment, cause: "no browser session", generic: true}
jobs: [{id: 0123456789abcdef0123456789abcdef}]
`), noEnv)
	require.NoError(t, err)
	require.Equal(t, 1, c.CompiledFailureRules().Len(), "defaults dropped when keep_default_failure_rules is false")
	require.True(t, c.EffectiveFailureRules()[0].Generic)
}

// TestLoadBad runs every testdata/*bad*.yml; the first line of each file is
// "# want: " followed by a substring the error must contain, FILE:LINE included.
func TestLoadBad(t *testing.T) {
	files, err := filepath.Glob("testdata/*bad*.yml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 20)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := load(f, noEnv)
			require.Error(t, err)
			for _, want := range wantLines(t, f) {
				require.Contains(t, err.Error(), want)
			}
			var list ErrorList
			require.True(t, errors.As(err, &list), "Load returns an ErrorList")
			for _, e := range list {
				require.Equal(t, f, e.File)
			}
		})
	}
}

// wantLines returns the "# want: " lines a bad file starts with: one per
// problem the error must report.
func wantLines(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	s := bufio.NewScanner(f)
	var wants []string
	for s.Scan() {
		want, ok := strings.CutPrefix(s.Text(), "# want: ")
		if !ok {
			break
		}
		wants = append(wants, want)
	}
	require.NotEmpty(t, wants, "%s must start with a '# want: ' line", file)
	return wants
}

func TestAllProblemsReported(t *testing.T) {
	_, err := parse("many.yml", []byte(`codearts:
  endpoint: ftp://x
  project_id: p1
  auth: {token: T}
poll_interval: 0s
job_concurrency: 0
jobs:
  - id: short
  - id: 0123456789abcdef0123456789abcdef
    name: " padded "
`), noEnv)
	require.Error(t, err)
	var list ErrorList
	require.True(t, errors.As(err, &list))
	require.Equal(t, []string{
		`many.yml:2: codearts.endpoint "ftp://x" must start with https:// (or http://)`,
		`many.yml:5: poll_interval must be at least 1s, got 0s`,
		`many.yml:6: job_concurrency must be at least 1, got 0`,
		`many.yml:8: jobs[0].id "short" is not a CodeArts job id (32 characters of 0-9 and a-z)`,
		`many.yml:10: jobs[1].name " padded " must be valid UTF-8 without leading or trailing spaces`,
	}, strings.Split(err.Error(), "\n"))
}

func TestUnreadableSecretFileIsTheOnlyAuthError(t *testing.T) {
	_, err := load("testdata/bad-secret-file-missing.yml", noEnv)
	require.EqualError(t, err, "testdata/bad-secret-file-missing.yml:7: codearts.auth.secret_key_file: cannot read testdata/no-such-secret.txt: no such file or directory")
}

func TestMissingFile(t *testing.T) {
	_, err := load("testdata/does-not-exist.yml", noEnv)
	require.EqualError(t, err, "testdata/does-not-exist.yml: cannot read config file: no such file or directory")
}

const authBase = `codearts:
  endpoint: https://cloudbuild-ext.cn-north-4.myhuaweicloud.com
  project_id: p1
%s
jobs: [{id: 0123456789abcdef0123456789abcdef}]
`

func TestSecretsFromEnvironment(t *testing.T) {
	t.Run("aksk entirely from the environment", func(t *testing.T) {
		c, err := parse("env.yml", fmt.Appendf(nil, authBase, ""), envOf(map[string]string{
			EnvAccessKey: "AKENV", EnvSecretKey: "SKENV", EnvSecurityToken: "STSENV",
		}))
		require.NoError(t, err)
		a := c.CodeArts.Auth
		require.Equal(t, Secret("AKENV"), a.AccessKey)
		require.Equal(t, Secret("SKENV"), a.SecretKey)
		require.Equal(t, Secret("STSENV"), a.SecurityToken)
		require.Equal(t, "aksk", a.Method())
	})
	t.Run("file value wins over the environment", func(t *testing.T) {
		c, err := parse("env.yml", fmt.Appendf(nil, authBase, "  auth: {access_key: AKFILE, secret_key: SKFILE}"),
			envOf(map[string]string{EnvSecretKey: "SKENV"}))
		require.NoError(t, err)
		require.Equal(t, Secret("SKFILE"), c.CodeArts.Auth.SecretKey)
	})
	t.Run("access key in the file, secret key in the environment", func(t *testing.T) {
		c, err := parse("env.yml", fmt.Appendf(nil, authBase, "  auth: {access_key: AKFILE}"),
			envOf(map[string]string{EnvSecretKey: "SKENV"}))
		require.NoError(t, err)
		require.Equal(t, Secret("SKENV"), c.CodeArts.Auth.SecretKey)
	})
	t.Run("token", func(t *testing.T) {
		c, err := parse("env.yml", fmt.Appendf(nil, authBase, ""), envOf(map[string]string{EnvToken: "TOKENENV"}))
		require.NoError(t, err)
		require.Equal(t, "token", c.CodeArts.Auth.Method())
		require.Equal(t, Secret("TOKENENV"), c.CodeArts.Auth.Token)
	})
	t.Run("iam password", func(t *testing.T) {
		c, err := parse("env.yml", fmt.Appendf(nil, authBase, "  auth: {iam: {user: u, domain: d, project: cn-north-4}}"),
			envOf(map[string]string{EnvIAMPassword: "PWENV"}))
		require.NoError(t, err)
		require.Equal(t, "iam", c.CodeArts.Auth.Method())
		require.Equal(t, Secret("PWENV"), c.CodeArts.Auth.IAM.Password)
		require.Equal(t, DefaultIAMEndpoint, c.CodeArts.Auth.IAM.Endpoint)
	})
	t.Run("environment token plus file AK/SK is ambiguous and says where each came from", func(t *testing.T) {
		_, err := parse("env.yml", fmt.Appendf(nil, authBase, "  auth: {access_key: AKFILE, secret_key: SKFILE}"),
			envOf(map[string]string{EnvToken: "TOKENENV"}))
		require.ErrorContains(t, err, "env.yml:4: codearts.auth: exactly one authentication method is allowed, found access_key/secret_key (access_key, secret_key) and token (environment variable CODEARTS_TOKEN)")
		require.NotContains(t, err.Error(), "TOKENENV")
		require.NotContains(t, err.Error(), "SKFILE")
	})
	t.Run("no auth section and no environment", func(t *testing.T) {
		_, err := parse("env.yml", fmt.Appendf(nil, authBase, ""), noEnv)
		require.ErrorContains(t, err, "env.yml:1: codearts.auth: no authentication method")
	})
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ak"), []byte("AKFROMFILE\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sk"), []byte("SKFROMFILE\r\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pw"), []byte("PWFROMFILE"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty"), []byte("\n"), 0o600))
	write := func(auth string) string {
		p := filepath.Join(dir, "c.yml")
		require.NoError(t, os.WriteFile(p, fmt.Appendf(nil, authBase, auth), 0o600))
		return p
	}

	c, err := load(write("  auth: {access_key_file: ak, secret_key_file: "+filepath.Join(dir, "sk")+"}"), noEnv)
	require.NoError(t, err)
	require.Equal(t, Secret("AKFROMFILE"), c.CodeArts.Auth.AccessKey)
	require.Equal(t, Secret("SKFROMFILE"), c.CodeArts.Auth.SecretKey)

	c, err = load(write("  auth: {iam: {user: u, domain: d, password_file: pw}}"), noEnv)
	require.NoError(t, err)
	require.Equal(t, Secret("PWFROMFILE"), c.CodeArts.Auth.IAM.Password)

	_, err = load(write("  auth: {token_file: empty}"), noEnv)
	require.ErrorContains(t, err, ":4: codearts.auth.token_file: "+filepath.Join(dir, "empty")+" is empty")
}

// TestSecretsNeverShown prints and marshals a loaded config every way a log
// line or a status page might, and errors about it, and finds no secret.
func TestSecretsNeverShown(t *testing.T) {
	secrets := []string{"AKGOODEXAMPLE", "SKGOODSECRETVALUE"}
	c, err := load("testdata/good.yml", noEnv)
	require.NoError(t, err)

	j, err := json.Marshal(c)
	require.NoError(t, err)
	y, err := yaml.Marshal(c)
	require.NoError(t, err)
	renderings := map[string]string{
		"String": c.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", *c),
		"%#v": fmt.Sprintf("%#v", *c), "%v auth": fmt.Sprintf("%v", c.CodeArts.Auth), "json": string(j), "yaml": string(y),
	}
	for name, s := range renderings {
		for _, secret := range secrets {
			require.NotContains(t, s, secret, "%s rendering shows a secret", name)
		}
	}
	require.Contains(t, c.String(), "secret_key: <secret>")
	require.Contains(t, c.String(), "secret_key_file: secret_key.txt")

	// Errors about auth never echo values, even misplaced ones.
	for _, auth := range []string{
		"  auth: SKMISPLACED",
		"  auth: {access_key: AKX, secret_key: SKX, token: SKMISPLACED}",
		"  auth: {secret_key: SKMISPLACED}",
		"  auth: {iam: {user: u, password: SKMISPLACED}}",
		"  auth: {token: SKMISPLACED, security_token: SKMISPLACED}",
	} {
		_, err := parse("s.yml", fmt.Appendf(nil, authBase, auth), noEnv)
		require.Error(t, err, auth)
		require.NotContains(t, err.Error(), "SKMISPLACED", auth)
	}
}

func TestSafeConfigReload(t *testing.T) {
	reg := prometheus.NewRegistry()
	sc := NewSafeConfig(reg)
	require.Nil(t, sc.Get())

	dir := t.TempDir()
	path := filepath.Join(dir, "c.yml")
	write := func(s string) { require.NoError(t, os.WriteFile(path, []byte(s), 0o600)) }
	good := fmt.Sprintf(authBase, "  auth: {token: T}")

	write(good)
	var applied *Config
	require.NoError(t, sc.ReloadConfig(path, func(c *Config) error { applied = c; return nil }))
	first := sc.Get()
	require.Same(t, applied, first)
	require.Equal(t, 1.0, testutil.ToFloat64(sc.reloadSuccess))
	require.Greater(t, testutil.ToFloat64(sc.reloadSeconds), 0.0)

	// A bad file: old config kept, gauge 0, error names file and line, apply not called.
	write(strings.Replace(good, "project_id: p1", "project_id: p1\n  bogus: 1", 1))
	err := sc.ReloadConfig(path, func(*Config) error { t.Fatal("apply called for a bad file"); return nil })
	require.ErrorContains(t, err, path+":4: unknown key \"bogus\" in codearts")
	require.Same(t, first, sc.Get())
	require.Equal(t, 0.0, testutil.ToFloat64(sc.reloadSuccess))

	// apply refuses: old config kept.
	write(good)
	err = sc.ReloadConfig(path, func(*Config) error { return errors.New("collector said no") })
	require.EqualError(t, err, "collector said no")
	require.Same(t, first, sc.Get())

	require.NoError(t, sc.ReloadConfig(path, nil))
	require.NotSame(t, first, sc.Get())
	require.Equal(t, 1.0, testutil.ToFloat64(sc.reloadSuccess))
}

func TestDiscovery(t *testing.T) {
	const head = `codearts:
  endpoint: https://cloudbuild-ext.cn-north-4.myhuaweicloud.com
  project_id: p1
  auth: {token: T}
`
	// discovery: {} follows everything; jobs becomes optional.
	c, err := parse("all.yml", []byte(head+"discovery: {}\n"), noEnv)
	require.NoError(t, err)
	require.NotNil(t, c.Discovery)
	require.Nil(t, c.Discovery.IncludeRE())
	require.Nil(t, c.Discovery.ExcludeRE())
	require.Empty(t, c.Jobs)

	// Without discovery, jobs stays required.
	_, err = parse("none.yml", []byte(head), noEnv)
	require.ErrorContains(t, err, "jobs: at least one job is required")

	c, err = parse("filters.yml", []byte(head+`discovery:
  projects: ["b4d3971c3988463b865f6f920846149e"]
  include: "^(backend|web)-"
  exclude: "-(tmp|sandbox)$"
jobs: [{id: 0123456789abcdef0123456789abcdef, name: pinned}]
`), noEnv)
	require.NoError(t, err)
	d := c.Discovery
	require.Equal(t, []string{"b4d3971c3988463b865f6f920846149e"}, d.Projects)
	require.True(t, d.IncludeRE().MatchString("backend-api"))
	require.False(t, d.IncludeRE().MatchString("mobile"))
	require.True(t, d.ExcludeRE().MatchString("web-sandbox"))
	require.Len(t, c.Jobs, 1)
}

// TestAliasesRejectedCheaply: an alias that contains itself, or a
// billion-laughs file, is refused with FILE:LINE before anything expands
// it, in little time and memory (it used to take gigabytes).
func TestAliasesRejectedCheaply(t *testing.T) {
	for _, f := range []string{"bad-alias-cycle.yml", "bad-alias-billion-laughs.yml"} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err := load(filepath.Join("testdata", f), noEnv)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		require.Error(t, err, f)
		require.Contains(t, err.Error(), "YAML aliases", f)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "%s: bytes allocated to reject it", f)
		require.Less(t, took, 5*time.Second, f)
	}
}

// TestConfigFileKinds: the config file may be a pipe (read up to
// MaxFileBytes), but not a directory; an endless device is cut off at the
// bound instead of being read forever.
func TestConfigFileKinds(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "good.yml"))
	require.NoError(t, err)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "config.yml")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	// good.yml's secret_key_file is relative to the config's directory.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret_key.txt"), []byte("SKFROMFILE\n"), 0o600))
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		_, _ = f.Write(good)
		_ = f.Close()
	}()
	cfg, err := load(fifo, noEnv)
	require.NoError(t, err)
	require.Len(t, cfg.Jobs, 3)

	_, err = load("/dev/zero", noEnv)
	require.ErrorContains(t, err, "/dev/zero: cannot read config file: larger than 16 MiB")
	_, err = load(dir, noEnv)
	require.ErrorContains(t, err, dir+": cannot read config file: is a directory")
}

// TestSecretFileLimits: a *_file secret is read from a regular file only,
// and at most 64 KiB of it.
func TestSecretFileLimits(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	require.NoError(t, os.WriteFile(big, bytes.Repeat([]byte("k"), 64<<10+1), 0o600))
	exact := filepath.Join(dir, "exact")
	require.NoError(t, os.WriteFile(exact, bytes.Repeat([]byte("k"), 64<<10), 0o600))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for _, c := range []struct{ file, want string }{
		{big, "larger than 64 KiB"},
		{fifo, "not a regular file"},
		{"/dev/zero", "not a regular file"},
		{dir, "is a directory"},
	} {
		done := make(chan error, 1)
		go func() { _, err := readSecretFile(dir, c.file); done <- err }()
		select {
		case err := <-done:
			require.ErrorContains(t, err, c.want, c.file)
		case <-time.After(5 * time.Second):
			t.Fatalf("reading %s as a secret file hangs", c.file)
		}
	}
	s, err := readSecretFile(dir, exact)
	require.NoError(t, err)
	require.Len(t, s, 64<<10)
}
