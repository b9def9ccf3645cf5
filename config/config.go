// Package config loads the exporter's YAML configuration strictly: an unknown
// key, a value of the wrong type, a bad duration, a malformed job id, a
// duplicate job, a missing or ambiguous authentication method or a bad
// severity rule is an error that names the file and the line. Secrets may be
// written inline, read from a *_file, or taken from an environment variable;
// they are masked whenever a Config is printed or marshalled.
//
// SafeConfig holds the current configuration behind a lock and reloads it
// atomically: a reload that fails keeps the previous configuration.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// Defaults of the keys that are optional. The CodeArts client knobs are the
// client's own defaults, which follow the strictest reading of the API's
// rate-limit policies (docs/api-client.md).
const (
	DefaultPollInterval      = 30 * time.Second
	DefaultBackfillBuilds    = 1
	DefaultJobConcurrency    = 4
	DefaultRequestsPerSecond = codearts.DefaultRequestsPerSecond
	DefaultBurst             = codearts.DefaultBurst
	DefaultMaxConcurrency    = codearts.DefaultMaxConcurrency
	DefaultTimeout           = codearts.DefaultTimeout
	DefaultMaxRetries        = codearts.DefaultMaxRetries
	DefaultIAMEndpoint       = codearts.DefaultIAMEndpoint
	// MinPollInterval keeps a typo such as "1ms" from hammering the API.
	MinPollInterval = time.Second
)

// Environment variables consulted for a secret that is neither written in the
// file nor given as a *_file.
const (
	EnvAccessKey     = "CODEARTS_ACCESS_KEY"
	EnvSecretKey     = "CODEARTS_SECRET_KEY"
	EnvSecurityToken = "CODEARTS_SECURITY_TOKEN"
	EnvToken         = "CODEARTS_TOKEN"
	EnvIAMPassword   = "CODEARTS_IAM_PASSWORD"
)

// jobIDPattern is the shape of a CodeArts job id (32 lower-case letters and digits).
var jobIDPattern = regexp.MustCompile(`^[0-9a-z]{32}$`)

// Config is the whole configuration file.
type Config struct {
	CodeArts       CodeArts      `yaml:"codearts"`
	PollInterval   time.Duration `yaml:"poll_interval"`
	BackfillBuilds int           `yaml:"backfill_builds"`
	JobConcurrency int           `yaml:"job_concurrency"`
	// KeepDefaultSeverityRules appends the built-in rules
	// (parser.DefaultRuleConfigs) after SeverityRules; false replaces them.
	KeepDefaultSeverityRules bool                `yaml:"keep_default_severity_rules"`
	SeverityRules            []parser.RuleConfig `yaml:"severity_rules,omitempty"`
	// KeepDefaultFailureRules appends the built-in failure rules
	// (parser.DefaultFailureRuleConfigs) after FailureRules; false replaces them.
	KeepDefaultFailureRules bool                       `yaml:"keep_default_failure_rules"`
	FailureRules            []parser.FailureRuleConfig `yaml:"failure_rules,omitempty"`
	Collector               Collector                  `yaml:"collector"`
	// Discovery, when present, follows every job ListJob returns that
	// passes its filters (besides Jobs). `discovery: {}` follows all.
	Discovery *Discovery `yaml:"discovery,omitempty"`
	Jobs      []Job      `yaml:"jobs"`

	// rules is SeverityRules (plus the defaults when kept), compiled;
	// failureRules likewise.
	rules        *parser.Rules
	failureRules *parser.FailureRules
}

// CodeArts is how to reach the CodeArts Build API.
type CodeArts struct {
	Endpoint          string        `yaml:"endpoint"`
	ProjectID         string        `yaml:"project_id"`
	RequestsPerSecond float64       `yaml:"requests_per_second"`
	Burst             int           `yaml:"burst"`
	MaxConcurrency    int           `yaml:"max_concurrency"`
	Timeout           time.Duration `yaml:"timeout"`
	MaxRetries        int           `yaml:"max_retries"`
	Auth              Auth          `yaml:"auth"`
}

// Auth holds exactly one authentication method: AK/SK (AccessKey and
// SecretKey, optionally SecurityToken), a static Token, or IAM password.
// After loading, every secret holds its resolved value whatever its source.
type Auth struct {
	AccessKey         Secret `yaml:"access_key,omitempty"`
	AccessKeyFile     string `yaml:"access_key_file,omitempty"`
	SecretKey         Secret `yaml:"secret_key,omitempty"`
	SecretKeyFile     string `yaml:"secret_key_file,omitempty"`
	SecurityToken     Secret `yaml:"security_token,omitempty"`
	SecurityTokenFile string `yaml:"security_token_file,omitempty"`
	Token             Secret `yaml:"token,omitempty"`
	TokenFile         string `yaml:"token_file,omitempty"`
	IAM               *IAM   `yaml:"iam,omitempty"`
}

// IAM is the IAM password method: the exporter trades user and password for a
// project-scoped token and renews it before it expires.
type IAM struct {
	Endpoint     string `yaml:"endpoint"`
	User         string `yaml:"user"`
	Password     Secret `yaml:"password,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty"`
	Domain       string `yaml:"domain"`
	// Project is the IAM project name (region, e.g. cn-north-4) the token is
	// scoped to; empty scopes it by codearts.project_id.
	Project string `yaml:"project,omitempty"`
}

// Collector holds the collector's bounds on work per poll; the defaults suit
// most installations (docs/collector.md explains each).
type Collector struct {
	// MaxPagesPerStep bounds the log pages read for one step in one poll.
	MaxPagesPerStep int `yaml:"max_pages_per_step"`
	// MaxPagesPerPoll bounds the log pages read for one job in one poll.
	MaxPagesPerPoll int `yaml:"max_pages_per_poll"`
	// CommitEveryPages checkpoints (state file, then /metrics) after this
	// many pages within a poll, bounding what a crash re-reads.
	CommitEveryPages int `yaml:"commit_every_pages"`
	// BuildGiveUpAfter drops a build that answered "not found" this many
	// polls in a row.
	BuildGiveUpAfter int `yaml:"build_give_up_after"`
	// MaxBuildsBehind bounds the builds one poll schedules for a known job
	// after an outage; older ones are skipped.
	MaxBuildsBehind int `yaml:"max_builds_behind"`
	// MaxActionsPerJob bounds the distinct action label values per job
	// (further actions are counted as action="_other").
	MaxActionsPerJob int `yaml:"max_actions_per_job"`
}

// Discovery selects the jobs to follow among those ListJob returns. Every
// filter is optional; a job must pass all that are set.
type Discovery struct {
	// Projects keeps the jobs whose CodeArts project_id is listed.
	Projects []string `yaml:"projects,omitempty"`
	// Include keeps the jobs whose name matches (RE2, unanchored).
	Include string `yaml:"include,omitempty"`
	// Exclude leaves out the jobs whose name matches (RE2, unanchored).
	Exclude string `yaml:"exclude,omitempty"`

	include, exclude *regexp.Regexp
}

// IncludeRE and ExcludeRE are the compiled filters; nil when not set (or
// for a Discovery that Load did not make).
func (d *Discovery) IncludeRE() *regexp.Regexp { return d.include }

// ExcludeRE: see IncludeRE.
func (d *Discovery) ExcludeRE() *regexp.Regexp { return d.exclude }

// Job is one CodeArts build job to watch.
type Job struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"` // value of the job_name label; defaults to ID
}

// Secret is a string that never shows itself: printing or marshalling it
// yields "<secret>" (or "" when empty).
type Secret string

const masked = "<secret>"

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return masked
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.mask() }

// GoString implements fmt.GoStringer, so %#v masks too.
func (s Secret) GoString() string { return `"` + s.mask() + `"` }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.mask(), nil }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.mask() + `"`), nil }

// Method names the authentication method in use: "aksk", "token" or "iam".
func (a *Auth) Method() string {
	switch {
	case a.IAM != nil:
		return "iam"
	case a.Token != "":
		return "token"
	default:
		return "aksk"
	}
}

// Rules returns the compiled effective severity rules. It is nil for a
// Config that Load did not make (such as Default()), which the collector
// takes as the built-in rules.
func (c *Config) Rules() *parser.Rules { return c.rules }

// CompiledFailureRules returns the compiled effective failure rules.
func (c *Config) CompiledFailureRules() *parser.FailureRules { return c.failureRules }

// EffectiveFailureRules returns the failure rules in the order they are
// tried: failure_rules, then the defaults unless keep_default_failure_rules
// is false.
func (c *Config) EffectiveFailureRules() []parser.FailureRuleConfig {
	rules := append([]parser.FailureRuleConfig(nil), c.FailureRules...)
	if c.KeepDefaultFailureRules {
		rules = append(rules, parser.DefaultFailureRuleConfigs()...)
	}
	return rules
}

// EffectiveSeverityRules returns the rules in the order they are tried:
// severity_rules, then the defaults unless keep_default_severity_rules is false.
func (c *Config) EffectiveSeverityRules() []parser.RuleConfig {
	rules := append([]parser.RuleConfig(nil), c.SeverityRules...)
	if c.KeepDefaultSeverityRules {
		rules = append(rules, parser.DefaultRuleConfigs()...)
	}
	return rules
}

// String renders the configuration as YAML with every secret masked.
func (c *Config) String() string {
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Sprintf("<config: %v>", err)
	}
	return string(b)
}

// Default returns a configuration with every optional key at its default
// and no jobs.
func Default() *Config {
	return &Config{
		CodeArts: CodeArts{
			RequestsPerSecond: DefaultRequestsPerSecond,
			Burst:             DefaultBurst,
			MaxConcurrency:    DefaultMaxConcurrency,
			Timeout:           DefaultTimeout,
			MaxRetries:        DefaultMaxRetries,
		},
		Collector: Collector{
			MaxPagesPerStep:  100,
			MaxPagesPerPoll:  1000,
			CommitEveryPages: 50,
			BuildGiveUpAfter: 20,
			MaxBuildsBehind:  100,
			MaxActionsPerJob: 200,
		},
		PollInterval:             DefaultPollInterval,
		BackfillBuilds:           DefaultBackfillBuilds,
		JobConcurrency:           DefaultJobConcurrency,
		KeepDefaultSeverityRules: true,
		KeepDefaultFailureRules:  true,
	}
}

// Load reads, decodes and validates the file at path. Secrets missing from
// the file are taken from the environment (Env* constants). The error, if
// any, is an ErrorList: one "FILE:LINE: problem" per line.
func Load(path string) (*Config, error) {
	return load(path, os.LookupEnv)
}

// MaxFileBytes bounds the size of a configuration file: ten thousand jobs
// take about 1 MiB.
const MaxFileBytes = 16 << 20

// MaxSecretFileBytes bounds what is read from a *_file secret.
const MaxSecretFileBytes = 64 << 10

func load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	data, err := readBounded(path, MaxFileBytes, false)
	if err != nil {
		return nil, ErrorList{{File: path, Msg: fmt.Sprintf("cannot read config file: %v", err)}}
	}
	return parse(path, data, lookupEnv)
}

// readBounded reads at most limit bytes from the file name; more is an
// error. With regularOnly, anything but a regular file is refused before it
// is opened (opening a FIFO blocks until a writer comes, and a device may
// never end): that is for *_file secrets. The config file may also be a
// pipe (--config.file=/dev/stdin for --config.check), but not a directory.
func readBounded(name string, limit int64, regularOnly bool) ([]byte, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if err := checkKind(fi, regularOnly); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, unwrapPathError(err)
	} else if err := checkKind(fi, regularOnly); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %s", byteSize(limit))
	}
	return b, nil
}

func checkKind(fi os.FileInfo, regularOnly bool) error {
	switch {
	case fi.IsDir():
		return errIsDir
	case regularOnly && !fi.Mode().IsRegular():
		return errNotRegular
	}
	return nil
}

func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

var (
	errNotRegular = errors.New("not a regular file")
	errIsDir      = errors.New("is a directory")
)

// firstAlias returns the first alias node of the tree, without following
// any alias.
func firstAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return n
	}
	for _, c := range n.Content {
		if a := firstAlias(c); a != nil {
			return a
		}
	}
	return nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func parse(file string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	errs := &problems{file: file, data: data}

	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		errs.yamlError(err, nil)
		return nil, errs.list
	}
	if root.Kind == 0 || len(root.Content) == 0 || root.Content[0].Kind == yaml.ScalarNode && root.Content[0].Tag == "!!null" {
		errs.add(0, "the file is empty: it needs at least codearts and jobs")
		return nil, errs.list
	}
	if a := firstAlias(&root); a != nil {
		// yaml.v3 expands aliases on decoding, and an alias may contain
		// itself or expand exponentially (a "billion laughs"): refuse them
		// before anything walks or decodes the tree.
		errs.add(a.Line, "YAML aliases (*%s) are not allowed in the configuration; write the value out", a.Value)
		return nil, errs.list
	}
	doc := root.Content[0]
	errs.index = indexNodes(doc)
	if doc.Kind != yaml.MappingNode {
		errs.add(doc.Line, "the top level must be a mapping of keys (codearts, jobs, ...)")
		return nil, errs.list
	}

	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// A type error (a wrong kind of value, an unknown key) does not stop
	// yaml.v3: it decodes everything else and reports them all, so the
	// checks below still run and every problem is reported at once.
	if err := dec.Decode(cfg); err != nil {
		errs.yamlError(err, errs.index)
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, errs.list
		}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		errs.add(extra.Line, "only one YAML document is allowed")
		return nil, errs.list
	}

	typeErrors := len(errs.list)
	v := validator{problems: errs, dir: filepath.Dir(file), lookupEnv: lookupEnv}
	v.validate(cfg)
	errs.dropRepeats(typeErrors)
	if len(errs.list) > 0 {
		if typeErrors > 0 { // two sources: put them in file order
			slices.SortStableFunc(errs.list, func(a, b *Error) int {
				return cmp.Compare(lineOrder(a.Line), lineOrder(b.Line))
			})
		}
		return nil, errs.list
	}
	return cfg, nil
}

// lineOrder sorts problems without a line (about the file as a whole)
// after those with one.
func lineOrder(line int) int {
	if line <= 0 {
		return math.MaxInt
	}
	return line
}

type validator struct {
	*problems
	dir       string
	lookupEnv func(string) (string, bool)
}

func (v *validator) validate(c *Config) {
	v.validateCodeArts(&c.CodeArts)

	if c.PollInterval < MinPollInterval {
		v.addAt("poll_interval", "poll_interval must be at least %s, got %s", MinPollInterval, c.PollInterval)
	}
	if c.BackfillBuilds < 0 {
		v.addAt("backfill_builds", "backfill_builds must be 0 or more, got %d", c.BackfillBuilds)
	}
	if c.JobConcurrency < 1 {
		v.addAt("job_concurrency", "job_concurrency must be at least 1, got %d", c.JobConcurrency)
	}
	for _, k := range []struct {
		key string
		v   int
	}{
		{"max_pages_per_step", c.Collector.MaxPagesPerStep},
		{"max_pages_per_poll", c.Collector.MaxPagesPerPoll},
		{"commit_every_pages", c.Collector.CommitEveryPages},
		{"build_give_up_after", c.Collector.BuildGiveUpAfter},
		{"max_builds_behind", c.Collector.MaxBuildsBehind},
		{"max_actions_per_job", c.Collector.MaxActionsPerJob},
	} {
		if k.v < 1 {
			v.addAt("collector."+k.key, "collector.%s must be at least 1, got %d", k.key, k.v)
		}
	}
	v.validateDiscovery(c)
	v.validateJobs(c.Jobs, c.Discovery != nil)
	c.rules = v.compileRules(c)
	c.failureRules = v.compileFailureRules(c)
}

func (v *validator) validateCodeArts(ca *CodeArts) {
	if ca.Endpoint == "" {
		v.addAt("codearts.endpoint", "codearts.endpoint is required (e.g. https://cloudbuild-ext.cn-north-4.myhuaweicloud.com)")
	} else if err := checkURL(ca.Endpoint); err != nil {
		v.addAt("codearts.endpoint", "codearts.endpoint %v", err)
	}
	if ca.ProjectID == "" {
		v.addAt("codearts.project_id", "codearts.project_id is required (the IAM project id of the region)")
	} else if !isToken(ca.ProjectID) {
		v.addAt("codearts.project_id", "codearts.project_id %q may only contain letters, digits, '-' and '_'", ca.ProjectID)
	}
	if !(ca.RequestsPerSecond > 0) {
		v.addAt("codearts.requests_per_second", "codearts.requests_per_second must be greater than 0, got %v", ca.RequestsPerSecond)
	}
	if ca.Burst < 1 {
		v.addAt("codearts.burst", "codearts.burst must be at least 1, got %d", ca.Burst)
	}
	if ca.MaxConcurrency < 1 {
		v.addAt("codearts.max_concurrency", "codearts.max_concurrency must be at least 1, got %d", ca.MaxConcurrency)
	}
	if ca.Timeout <= 0 {
		v.addAt("codearts.timeout", "codearts.timeout must be greater than 0, got %s", ca.Timeout)
	}
	if ca.MaxRetries < 0 {
		v.addAt("codearts.max_retries", "codearts.max_retries must be 0 or more, got %d", ca.MaxRetries)
	}
	v.validateAuth(&ca.Auth)
}

// validateAuth resolves every secret (inline, *_file or environment) and
// checks that exactly one method remains.
func (v *validator) validateAuth(a *Auth) {
	const p = "codearts.auth"
	src := map[string]string{}
	before := len(v.list)
	resolve := func(key string, val *Secret, file string, env string) {
		switch {
		case *val != "" && file != "":
			v.addAt(p+"."+key+"_file", "%s.%s and %s.%s_file are both set; keep one", p, key, p, key)
		case file != "":
			b, err := readSecretFile(v.dir, file)
			if err != nil {
				v.addAt(p+"."+key+"_file", "%s.%s_file: %v", p, key, err)
				return
			}
			*val, src[key] = Secret(b), key+"_file"
		case *val != "":
			src[key] = key
		default:
			if s, ok := v.lookupEnv(env); ok && s != "" {
				*val, src[key] = Secret(s), "environment variable "+env
			}
		}
	}
	resolve("access_key", &a.AccessKey, a.AccessKeyFile, EnvAccessKey)
	resolve("secret_key", &a.SecretKey, a.SecretKeyFile, EnvSecretKey)
	resolve("security_token", &a.SecurityToken, a.SecurityTokenFile, EnvSecurityToken)
	resolve("token", &a.Token, a.TokenFile, EnvToken)
	if len(v.list) > before {
		return // a secret could not be resolved: what follows would only guess
	}

	var methods []string
	if a.AccessKey != "" || a.SecretKey != "" {
		methods = append(methods, fmt.Sprintf("access_key/secret_key (%s)", joinSources(src, "access_key", "secret_key")))
	}
	if a.Token != "" {
		methods = append(methods, fmt.Sprintf("token (%s)", src["token"]))
	}
	if a.IAM != nil {
		methods = append(methods, "iam")
	}
	switch len(methods) {
	case 0:
		v.addAt(p, "%s: no authentication method; set access_key and secret_key, token, or iam (secrets may also come from *_file or the %s, %s, %s, %s environment variables)",
			p, EnvAccessKey, EnvSecretKey, EnvToken, EnvIAMPassword)
		return
	case 1:
	default:
		v.addAt(p, "%s: exactly one authentication method is allowed, found %s", p, strings.Join(methods, " and "))
		return
	}

	switch {
	case a.IAM != nil:
		v.validateIAM(a.IAM)
	case a.Token != "":
	default:
		if a.AccessKey == "" {
			v.addAt(p, "%s: secret_key is set but access_key is missing (or set %s)", p, EnvAccessKey)
		}
		if a.SecretKey == "" {
			v.addAt(p, "%s: access_key is set but secret_key is missing (or set %s)", p, EnvSecretKey)
		}
	}
	if a.SecurityToken != "" && (a.IAM != nil || a.Token != "") {
		v.addAt(p, "%s: security_token (%s) only goes with access_key/secret_key", p, src["security_token"])
	}
}

func (v *validator) validateIAM(iam *IAM) {
	const p = "codearts.auth.iam"
	if iam.Endpoint == "" {
		iam.Endpoint = DefaultIAMEndpoint
	} else if err := checkURL(iam.Endpoint); err != nil {
		v.addAt(p+".endpoint", "%s.endpoint %v", p, err)
	}
	if iam.User == "" {
		v.addAt(p, "%s.user is required", p)
	}
	if iam.Domain == "" {
		v.addAt(p, "%s.domain is required (the account name)", p)
	}
	switch {
	case iam.Password != "" && iam.PasswordFile != "":
		v.addAt(p+".password_file", "%s.password and %s.password_file are both set; keep one", p, p)
	case iam.PasswordFile != "":
		b, err := readSecretFile(v.dir, iam.PasswordFile)
		if err != nil {
			v.addAt(p+".password_file", "%s.password_file: %v", p, err)
		}
		iam.Password = Secret(b)
	case iam.Password == "":
		if s, ok := v.lookupEnv(EnvIAMPassword); ok && s != "" {
			iam.Password = Secret(s)
		} else {
			v.addAt(p, "%s.password is required (or password_file, or %s)", p, EnvIAMPassword)
		}
	}
}

// projectIDPattern is the shape of a CodeArts project id (32 hex digits,
// as ListJob's project_id).
var projectIDPattern = regexp.MustCompile(`^[0-9a-z]{32}$`)

func (v *validator) validateDiscovery(c *Config) {
	if c.Discovery == nil {
		if v.index == nil {
			return
		}
		if e, ok := v.index.byPath["discovery"]; ok && e.val.Tag == "!!null" {
			v.addAt("discovery", "discovery: is empty; write `discovery: {}` to follow every job, or leave the key out")
		}
		return
	}
	d := c.Discovery
	for i, p := range d.Projects {
		if !projectIDPattern.MatchString(p) {
			at := fmt.Sprintf("discovery.projects[%d]", i)
			v.addAt(at, "%s %q is not a CodeArts project id (32 characters of 0-9 and a-z)", at, p)
		}
	}
	compile := func(key, expr string) *regexp.Regexp {
		if expr == "" {
			return nil
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			v.addAt("discovery."+key, "discovery.%s: %v", key, err)
			return nil
		}
		return re
	}
	d.include = compile("include", d.Include)
	d.exclude = compile("exclude", d.Exclude)
}

func (v *validator) validateJobs(jobs []Job, discovery bool) {
	if len(jobs) == 0 {
		if !discovery {
			v.addAt("jobs", "jobs: at least one job is required (or discovery, to follow the jobs ListJob returns)")
		}
		return
	}
	byID := map[string]int{}
	byName := map[string]int{}
	for i := range jobs {
		j := &jobs[i]
		at := fmt.Sprintf("jobs[%d]", i)
		if !jobIDPattern.MatchString(j.ID) {
			v.addAt(at+".id", "%s.id %q is not a CodeArts job id (32 characters of 0-9 and a-z)", at, j.ID)
		} else if first, dup := byID[j.ID]; dup {
			v.addAt(at+".id", "%s.id %q is already used by jobs[%d] (line %d)", at, j.ID, first, v.line(fmt.Sprintf("jobs[%d].id", first)))
		} else {
			byID[j.ID] = i
		}
		if j.Name == "" {
			j.Name = j.ID
		}
		if !utf8.ValidString(j.Name) || strings.TrimSpace(j.Name) != j.Name {
			v.addAt(at+".name", "%s.name %q must be valid UTF-8 without leading or trailing spaces", at, j.Name)
		} else if first, dup := byName[j.Name]; dup {
			v.addAt(at+".name", "%s.name %q is already used by jobs[%d] (line %d); job_name label values must be unique", at, j.Name, first, v.line(fmt.Sprintf("jobs[%d]", first)))
		} else {
			byName[j.Name] = i
		}
	}
}

// compileRules compiles the effective rules; on error it finds the first
// rule that breaks the compilation to report that rule's line.
func (v *validator) compileRules(c *Config) *parser.Rules {
	rules := c.EffectiveSeverityRules()
	compiled, err := parser.CompileRules(rules)
	if err == nil {
		return compiled
	}
	at := "severity_rules"
	for i := range c.SeverityRules {
		if _, e := parser.CompileRules(rules[:i+1]); e != nil {
			at = fmt.Sprintf("severity_rules[%d]", i)
			err = e
			break
		}
	}
	v.addLines(at, "severity_rules", err)
	return nil
}

// addLines reports err at the line of path, one problem per line of its
// text: a rule compiler may report several.
func (v *validator) addLines(path, key string, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		v.addAt(path, "%s: %s", key, line)
	}
}

// compileFailureRules is compileRules for failure_rules.
func (v *validator) compileFailureRules(c *Config) *parser.FailureRules {
	rules := c.EffectiveFailureRules()
	compiled, err := parser.CompileFailureRules(rules)
	if err == nil {
		return compiled
	}
	at := "failure_rules"
	for i := range c.FailureRules {
		if _, e := parser.CompileFailureRules(rules[:i+1]); e != nil {
			at = fmt.Sprintf("failure_rules[%d]", i)
			err = e
			break
		}
	}
	v.addLines(at, "failure_rules", err)
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", s, unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q must start with https:// (or http://)", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if u.User != nil {
		return fmt.Errorf("must not carry credentials")
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isToken(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

// readSecretFile reads a secret from a regular file of at most
// MaxSecretFileBytes (relative paths are relative to the config file's
// directory); trailing line breaks and spaces are dropped.
func readSecretFile(dir, name string) (string, error) {
	if !filepath.IsAbs(name) {
		name = filepath.Join(dir, name)
	}
	b, err := readBounded(name, MaxSecretFileBytes, true)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", name, err)
	}
	s := strings.TrimRight(string(b), " \t\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", name)
	}
	return s, nil
}

func joinSources(src map[string]string, keys ...string) string {
	var out []string
	for _, k := range keys {
		if s, ok := src[k]; ok {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}
