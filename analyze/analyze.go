// Package analyze implements `codearts_build_exporter analyze`: offline
// analysis of whole CodeArts Build logs (README.md) as a readable table,
// a stable JSON document (docs/analyze.md) or the OpenMetrics families of
// README.md, Metrics.
package analyze

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"gopkg.in/yaml.v3"

	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// Exit statuses (README.md).
const (
	exitOK    = 0
	exitInput = 1
	exitUsage = 2
)

// stdinArg stands for "-" while kingpin parses (NUL cannot occur in a path).
const stdinArg = "\x00stdin"

// Paths are paths: kingpin would otherwise read the arguments of
// `analyze @build.log` from build.log. The switch is global to kingpin, and
// the exporter's own flags have no use for @file expansion either.
func init() { kingpin.EnableFileExpansion = false }

// now is the clock used for the OpenMetrics timestamp of logs without any
// time in them; tests replace it.
var now = time.Now

// Log is one analysed input.
type Log struct {
	Name     string // file name as given; "-" is standard input
	Analysis *parser.Analysis
}

// Main runs the analyze command. args are the arguments after the word
// "analyze". It returns the exit status: 0 on success, 1 when an input or
// the rules file is unreadable or not a text log, 2 on usage errors.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := kingpin.New("codearts_build_exporter analyze",
		"Analyse whole CodeArts Build logs offline: records per action, source and level, action runs, build result.")
	app.Writer(stderr)
	exited, exitCode := false, 0
	app.Terminate(func(code int) { exited, exitCode = true, code })
	app.HelpFlag.Short('h')
	format := app.Flag("format", "Output format: text, json or openmetrics.").Default("text").Enum("text", "json", "openmetrics")
	jobName := app.Flag("job-name", "Value of the job_name label in openmetrics output.").Default("local").String()
	rulesFile := app.Flag("rules.file", "YAML file with severity rules for tool output (a list of {name, match|regex, level}), tried before the default rules, like severity_rules in the exporter config.").PlaceHolder("PATH").String()
	defaultRules := app.Flag("default-rules", "Also apply the default severity rules (after those of --rules.file); --no-default-rules keeps only yours.").Default("true").Bool()
	failureRulesFile := app.Flag("failure-rules.file", "YAML file with failure rules (a list of {name, match|regex, category, cause, generic}), tried before the default failure rules, like failure_rules in the exporter config.").PlaceHolder("PATH").String()
	defaultFailureRules := app.Flag("default-failure-rules", "Also apply the default failure rules (after those of --failure-rules.file); --no-default-failure-rules keeps only yours.").Default("true").Bool()
	files := app.Arg("file", "Build log files; - reads standard input.").Required().Strings()

	// kingpin turns a lone "-" into an empty argument; carry it through
	// under a name no file can have.
	parseArgs := make([]string, len(args))
	for i, a := range args {
		if a == "-" {
			a = stdinArg
		}
		parseArgs[i] = a
	}
	_, err := app.Parse(parseArgs)
	for i, f := range *files {
		if f == stdinArg {
			(*files)[i] = "-"
		}
	}
	if exited { // --help
		return exitCode
	}
	if err != nil {
		// Once: app.Usage(args) would parse args again and repeat the error.
		fmt.Fprintf(stderr, "analyze: %v\n", err)
		if ctx, cerr := app.ParseContext(nil); cerr == nil {
			_ = app.UsageForContext(ctx)
		}
		return exitUsage
	}
	if *jobName == "" {
		fmt.Fprintln(stderr, "analyze: --job-name must not be empty")
		return exitUsage
	}

	rules := parser.DefaultRules()
	if *rulesFile != "" || !*defaultRules {
		rules, err = loadRules(*rulesFile, *defaultRules)
		if err != nil {
			fmt.Fprintf(stderr, "analyze: %v\n", err)
			return exitInput
		}
	}

	frules := parser.DefaultFailureRules()
	if *failureRulesFile != "" || !*defaultFailureRules {
		frules, err = loadFailureRules(*failureRulesFile, *defaultFailureRules)
		if err != nil {
			fmt.Fprintf(stderr, "analyze: %v\n", err)
			return exitInput
		}
	}

	logs := make([]Log, 0, len(*files))
	failed := false
	stdinUsed := false
	for _, name := range *files {
		if name == "-" {
			if stdinUsed {
				fmt.Fprintln(stderr, "analyze: standard input (-) given more than once")
				return exitUsage
			}
			stdinUsed = true
		}
		a, err := analyzeFile(name, stdin, rules, frules)
		if err != nil {
			fmt.Fprintf(stderr, "analyze: %v\n", err)
			failed = true
			continue
		}
		warnNotCodeArts(stderr, name, a)
		logs = append(logs, Log{Name: name, Analysis: a})
	}
	if failed {
		return exitInput
	}

	var out bytes.Buffer
	switch *format {
	case "json":
		err = writeJSON(&out, logs)
	case "openmetrics":
		err = writeOpenMetrics(&out, logs, *jobName)
	default:
		err = writeText(&out, logs)
	}
	if err == nil {
		_, err = stdout.Write(out.Bytes())
	}
	if err != nil {
		fmt.Fprintf(stderr, "analyze: writing output: %v\n", err)
		return exitInput
	}
	return exitOK
}

// warnNotCodeArts tells a person who analysed the wrong file (a log that is
// not from CodeArts, a config file) why every number is zero. The file is
// still analysed and the exit status is unchanged: an empty log or output
// without a single timestamp is not an error.
func warnNotCodeArts(stderr io.Writer, name string, a *parser.Analysis) {
	switch {
	case a.Bytes == 0:
		fmt.Fprintf(stderr, "analyze: warning: %s is empty\n", displayName(name))
	case !a.HasTime:
		fmt.Fprintf(stderr, "analyze: warning: %s does not look like a CodeArts log: none of its %d lines has a CodeArts timestamp prefix such as [2026/09/10 17:26:22.661 GMT+08:00]\n",
			displayName(name), a.Lines)
	}
}

func displayName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}

// analyzeFile reads one log through an Analyzer, checking that it is text.
func analyzeFile(name string, stdin io.Reader, rules *parser.Rules, frules *parser.FailureRules) (*parser.Analysis, error) {
	var (
		r  io.Reader
		ra io.ReaderAt // a regular file, read again where failures are classified
	)
	if name == "-" {
		if stdin == nil {
			return nil, errors.New("standard input: not available")
		}
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err // *PathError names the file
		}
		defer f.Close()
		st, err := f.Stat()
		if err == nil && st.IsDir() {
			return nil, fmt.Errorf("%s: is a directory, not a log file", name)
		}
		if err == nil && st.Mode().IsRegular() {
			ra = f
		}
		r = f
	}
	z := parser.NewAnalyzer(rules)
	z.UseFailureRules(frules)
	// The Analyzer reads on one goroutine (checking the text as it goes)
	// and splits and classifies blocks of records on the others. A regular
	// file is read again where the failure rules' verdict is used; standard
	// input and pipes are classified as they are read.
	read := z.ReadLog
	if ra != nil {
		read = func(r io.Reader) (int64, error) { return z.ReadLogAt(r, ra) }
	}
	if _, err := read(&textReader{r: r}); err != nil {
		return nil, fmt.Errorf("%s: %w", displayName(name), err)
	}
	return z.Finish(), nil
}

// textReader reads r, checking that it is a text log: a Read that shows it
// is not returns the textCheck's error, and so does every Read after it.
type textReader struct {
	r   io.Reader
	tc  textCheck
	err error
}

func (t *textReader) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	n, err := t.r.Read(p)
	if n > 0 {
		if cerr := t.tc.write(p[:n]); cerr != nil {
			t.err = cerr
			return n, cerr
		}
	}
	switch {
	case err == io.EOF:
		if cerr := t.tc.finish(); cerr != nil {
			t.err = cerr
			return n, cerr
		}
	case err != nil:
		t.err = fmt.Errorf("reading: %w", err)
		return n, t.err
	}
	return n, err
}

// loadRules reads the rules file (if any) and appends the defaults when
// withDefaults is set: the same order as severity_rules and
// keep_default_severity_rules in the exporter config.
func loadRules(path string, withDefaults bool) (*parser.Rules, error) {
	cfg, err := readRulesFile[parser.RuleConfig]("rules file", path)
	if err != nil {
		return nil, err
	}
	if withDefaults {
		cfg = append(cfg, parser.DefaultRuleConfigs()...)
	}
	rules, err := parser.CompileRules(cfg)
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %w", path, err)
	}
	return rules, nil
}

// loadFailureRules is loadRules for --failure-rules.file.
func loadFailureRules(path string, withDefaults bool) (*parser.FailureRules, error) {
	cfg, err := readRulesFile[parser.FailureRuleConfig]("failure rules file", path)
	if err != nil {
		return nil, err
	}
	if withDefaults {
		cfg = append(cfg, parser.DefaultFailureRuleConfigs()...)
	}
	rules, err := parser.CompileFailureRules(cfg)
	if err != nil {
		return nil, fmt.Errorf("failure rules file %s: %w", path, err)
	}
	return rules, nil
}

// readRulesFile decodes a YAML list of rules, rejecting unknown fields; an
// empty path is an empty list.
func readRulesFile[T any](what, path string) ([]T, error) {
	var cfg []T
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s %s: empty (it must be a YAML list of rules)", what, path)
		}
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return cfg, nil
}
