// Command codearts_build_exporter is a Prometheus exporter for Huawei Cloud
// CodeArts Build: it polls the configured build jobs, reads every step log
// exactly once (across pages and restarts) and serves log record counts by
// action and level, action and build durations and build results on
// /metrics. `codearts_build_exporter analyze FILE...` analyses build logs
// offline. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/codearts-build-exporter/codearts_build_exporter/analyze"
	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
	"github.com/codearts-build-exporter/codearts_build_exporter/collector"
	"github.com/codearts-build-exporter/codearts_build_exporter/config"
	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/status"
)

const name = "codearts_build_exporter"

// defaultAddress: 9100-9999 are all taken on the Prometheus default port
// allocations page (9876, the first plan, is Sachet's), so the exporter
// uses a port outside that range that no listed exporter uses (README).
const defaultAddress = ":19876"

func main() {
	if version.Version == "" {
		// Without -ldflags, say at least which module version was built
		// ("(devel)" for a local build, v1.2.3 for go install ...@v1.2.3).
		if bi, ok := debug.ReadBuildInfo(); ok {
			version.Version = bi.Main.Version
		}
	}
	if len(os.Args) > 1 && os.Args[1] == "analyze" {
		os.Exit(analyze.Main(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the exporter: it returns the exit status (0 ok, 1 bad config or
// failure, 2 usage error).
func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New(name, "Prometheus exporter for Huawei Cloud CodeArts Build logs and builds.\n"+
		"Run `"+name+" analyze --help` for the offline build log analyser.")
	var (
		configSet   bool
		configFile  = app.Flag("config.file", "Path to the YAML configuration file.").Default(name + ".yml").IsSetByUser(&configSet).String()
		configCheck = app.Flag("config.check", "Validate the configuration file (and --web.config.file) and exit: 0 when valid, 1 otherwise.").Bool()
		metricsPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		stateFile   = app.Flag("state.file", "Checkpoint file holding log offsets and every counter, so counters continue across restarts. Empty disables checkpointing.").Default("").String()
		demo        = app.Flag("demo", "Run against an embedded CodeArts simulator: no config file or account needed.").Bool()
		demoSeed    = app.Flag("demo.seed", "Seed of the --demo simulator.").Default("1").Int64()
		demoJobs    = app.Flag("demo.jobs", "With --demo: add this many jobs (1% of them building, the rest idle) and follow them all through discovery.").Default("0").Int()
		shard       = app.Flag("shard", "The shard this instance polls and exports, 0 to --total-shards minus 1 (a job's shard is a hash of its id).").Default("0").Int()
		totalShards = app.Flag("total-shards", "Number of instances that split the jobs between them (each with its own --state.file).").Default("1").Int()
		durHist     = app.Flag("metrics.duration-histograms", "How the two duration histograms are exposed: classic (fixed buckets), native (Prometheus native histograms only, one series each; a text scrape sees _sum and _count) or both.").Default("classic").Enum(metrics.HistogramModes...)
		maxConns    = app.Flag("web.max-connections", "Maximum number of simultaneous HTTP connections (0: no limit).").Default("512").Int()
		lifecycle   = app.Flag("web.enable-lifecycle", "Enable POST /-/reload (SIGHUP always reloads).").Bool()
		webFlags    = kingpinflag.AddFlags(app, defaultAddress)
		logConfig   = &promslog.Config{}
	)
	promslogflag.AddFlags(app, logConfig)
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s: error: %v, try --help\n", name, err)
		return 2
	}
	// Catch SIGHUP from here on: its default action would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	logConfig.Writer = stderr
	logger := promslog.New(logConfig)

	if *configCheck {
		return checkConfig(*configFile, *webFlags.WebConfigFile, stdout, stderr)
	}
	if *totalShards < 1 || *shard < 0 || *shard >= *totalShards {
		fmt.Fprintf(stderr, "%s: error: --shard=%d --total-shards=%d: want 0 <= shard < total-shards, try --help\n", name, *shard, *totalShards)
		return 2
	}
	if *demoJobs < 0 || *demoJobs > 100_000 {
		fmt.Fprintf(stderr, "%s: error: --demo.jobs=%d: want 0 to 100000, try --help\n", name, *demoJobs)
		return 2
	}
	logger.Info("Starting "+name, "version", version.Info())
	logger.Info("Build context", "build_context", version.BuildContext())

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector(name),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	sc := config.NewSafeConfig(reg)
	// The CodeArts client's self-metrics live in a registry of their own,
	// served on /metrics with the rest, so /status can read them without
	// gathering every job's series.
	apiReg := prometheus.NewRegistry()
	loads := &loadStatus{}

	var cfg *config.Config
	if *demo {
		if configSet {
			logger.Warn("--config.file is ignored with --demo", "file", *configFile)
		}
		c, stopSim, err := startDemo(*demoSeed, *demoJobs, logger)
		if err != nil {
			logger.Error("Cannot start the demo simulator", "err", err)
			return 1
		}
		defer stopSim()
		cfg = c
	} else {
		c, err := config.Load(*configFile)
		if err != nil {
			logger.Error("Error loading config", "err", err)
			return 1
		}
		cfg = c
		loads.file = *configFile
	}
	sc.Set(cfg)
	loads.record(nil)

	clients := &clientKeeper{logger: logger}
	inst := instance{shard: *shard, totalShards: *totalShards}
	inst.histograms, _ = metrics.ParseHistogramMode(*durHist) // kingpin checked the enum
	opts, err := collectorOptions(cfg, *stateFile, inst, clients, logger, apiReg)
	if err != nil {
		logger.Error("Error applying config", "err", err)
		return 1
	}
	if *stateFile != "" {
		// Held until the process ends: a second exporter on this file
		// exits here, naming this one's pid.
		lock, removed, err := collector.LockStateFile(*stateFile)
		if err != nil {
			logger.Error("Cannot use the state file", "err", err)
			return 1
		}
		defer lock.Release()
		for _, f := range removed {
			logger.Info("removed a temporary state file left by an interrupted write", "file", f)
		}
	}
	coll, err := collector.New(opts)
	if err != nil {
		logger.Error("Cannot start the collector", "err", err)
		return 1
	}
	// The ledger's families are served by coll.Gatherer (routes), built
	// straight from the published ledger; only the Collector's own
	// counters and gauges go through the registry.
	reg.MustRegister(coll.SelfMetrics())
	reloadConfig := func() error {
		if *demo {
			logger.Info("Nothing to reload in --demo mode")
			return nil
		}
		err := sc.ReloadConfig(*configFile, func(c *config.Config) error {
			o, err := collectorOptions(c, *stateFile, inst, clients, logger, apiReg)
			if err != nil {
				return err
			}
			if err := coll.Update(o); err != nil {
				return err
			}
			clients.keep(o.Client)
			return nil
		})
		loads.record(err)
		if err != nil {
			logger.Error("Error reloading config; the previous config stays in force", "err", err)
			return err
		}
		logger.Info("Reloaded config file", "file", *configFile, "jobs", len(sc.Get().Jobs))
		return nil
	}

	reload := reloadConfig
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	polling := make(chan struct{})
	go func() { coll.Run(ctx); close(polling) }()

	page := status.New(status.Options{
		Jobs:        coll,
		API:         func() codearts.ClientStatus { return clients.current().Status() },
		APIMetrics:  apiReg,
		Reload:      loads.get,
		Version:     version.Version,
		MetricsPath: *metricsPath,
		Logger:      logger.With("component", "status"),
	})
	if !*lifecycle {
		reload = nil
	}
	srv := newServer(routes(reg, apiReg, coll, reload, page, *metricsPath, logger))
	served := make(chan error, 1)
	go func() { served <- listenAndServe(srv, webFlags, *maxConns, logger) }()

	status := 0
loop:
	for {
		select {
		case <-hup:
			_ = reloadConfig()
		case err := <-served:
			logger.Error("HTTP server stopped", "err", err)
			status = 1
			stop()
			break loop
		case <-ctx.Done():
			logger.Info("Shutting down")
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = srv.Shutdown(shutdownCtx)
			cancel()
			break loop
		}
	}
	<-polling
	return status
}

func routes(reg *prometheus.Registry, apiReg prometheus.Gatherer, coll *collector.Collector, reload func() error, page http.Handler, metricsPath string, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(metricsPath, promhttp.HandlerFor(coll.Gatherer(reg, apiReg), promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
		Registry: reg,
	}))
	mux.Handle(status.Path, page)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Healthy.")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if err := coll.StateWriteError(); err != nil {
			http.Error(w, "Not ready: the state file cannot be written, so nothing new is published: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if !coll.Ready() {
			http.Error(w, "Not ready: the first poll has not finished and no state file was loaded.", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready.")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if reload == nil {
			// As Prometheus: a cross-site POST from a browser must not be
			// able to reload a running exporter by default.
			http.Error(w, "Lifecycle API is not enabled: start with --web.enable-lifecycle (or send SIGHUP).", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "This endpoint requires a POST request.", http.StatusMethodNotAllowed)
			return
		}
		if err := reload(); err != nil {
			http.Error(w, "failed to reload config: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded.")
	})
	if metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "CodeArts Build Exporter",
			Description: "Prometheus exporter for Huawei Cloud CodeArts Build logs and builds",
			Version:     version.Info(),
			Profiling:   "false", // no /debug/pprof here: don't link to it
			Links: []web.LandingLinks{
				{Address: metricsPath, Text: "Metrics"},
				{Address: status.Path, Text: "Status"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
			},
		})
		if err != nil {
			logger.Error("Cannot build the landing page", "err", err)
		} else {
			mux.Handle("/", landing)
		}
	}
	return mux
}

// loadStatus remembers the outcome of the config loads for /status.
type loadStatus struct {
	file string // set once before the first record

	mu sync.Mutex
	st status.ReloadStatus
}

func (l *loadStatus) record(err error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.File, l.st.LastAttempt, l.st.OK, l.st.Error = l.file, now, err == nil, ""
	if err != nil {
		l.st.Error = err.Error()
		return
	}
	l.st.LastSuccess = now
}

func (l *loadStatus) get() status.ReloadStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// clientKeeper keeps one CodeArts client for the life of the process, so
// that a reload keeps its authentication pause, its throttled rate and its
// Retry-After wait: a reload storm after a 401 must not send a failing call
// per reload (the gateway locks an AK after more than 5 failures). Only a
// new endpoint, project id or credential gets a new client, which starts
// without the old one's pauses: that is a deliberate "try again" by the
// operator (README, "Reloading").
type clientKeeper struct {
	logger *slog.Logger
	mu     sync.Mutex
	c      *codearts.Client
}

// client returns the kept client reconfigured with o, or a new one when o
// names another endpoint or credential (or nothing is kept yet).
func (k *clientKeeper) client(o codearts.Options) (*codearts.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c != nil {
		err := k.c.Reconfigure(o)
		if err == nil {
			return k.c, nil
		}
		if !errors.Is(err, codearts.ErrIdentityChanged) {
			return nil, err
		}
		k.logger.Info("CodeArts endpoint or credentials changed: a new API client starts without the previous one's pauses and throttled rate")
	}
	c, err := codearts.New(o)
	if err != nil {
		return nil, err
	}
	if k.c == nil {
		k.c = c
	}
	return c, nil
}

// current returns the client in use.
func (k *clientKeeper) current() *codearts.Client {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.c
}

// keep makes c the client later reloads reconfigure (after the collector
// accepted it) and closes the idle connections of the one it replaces.
func (k *clientKeeper) keep(c *codearts.Client) {
	k.mu.Lock()
	old := k.c
	k.c = c
	k.mu.Unlock()
	if old != nil && old != c {
		old.CloseIdleConnections()
	}
}

// collectorOptions turns a configuration into collector options with the
// kept CodeArts client (see clientKeeper). Registerer is left for the
// caller: New registers the collector, Update must not.
// instance holds the flags that shape what this exporter follows and how it
// exposes it; they stay the same across config reloads.
type instance struct {
	shard, totalShards int
	histograms         metrics.HistogramMode
}

func collectorOptions(c *config.Config, stateFile string, inst instance, clients *clientKeeper, logger *slog.Logger, reg prometheus.Registerer) (collector.Options, error) {
	a := c.CodeArts.Auth
	auth := codearts.Auth{
		AccessKey:     string(a.AccessKey),
		SecretKey:     string(a.SecretKey),
		SecurityToken: string(a.SecurityToken),
		Token:         string(a.Token),
	}
	if a.IAM != nil {
		auth.IAM = &codearts.IAMPassword{
			Endpoint: a.IAM.Endpoint, User: a.IAM.User, Password: string(a.IAM.Password),
			Domain: a.IAM.Domain, ProjectName: a.IAM.Project,
		}
	}
	client, err := clients.client(codearts.Options{
		Endpoint:          c.CodeArts.Endpoint,
		ProjectID:         c.CodeArts.ProjectID,
		Auth:              auth,
		RequestsPerSecond: c.CodeArts.RequestsPerSecond,
		Burst:             c.CodeArts.Burst,
		MaxConcurrency:    c.CodeArts.MaxConcurrency,
		Timeout:           c.CodeArts.Timeout,
		MaxRetries:        c.CodeArts.MaxRetries,
		Registerer:        reg,
		Logger:            logger.With("component", "codearts"),
	})
	if err != nil {
		return collector.Options{}, err
	}
	jobs := make([]collector.Job, len(c.Jobs))
	for i, j := range c.Jobs {
		jobs[i] = collector.Job{ID: j.ID, Name: j.Name}
	}
	var disc *collector.Discovery
	if d := c.Discovery; d != nil {
		disc = &collector.Discovery{Projects: d.Projects, Include: d.IncludeRE(), Exclude: d.ExcludeRE()}
	}
	k := c.Collector
	return collector.Options{
		Client:           client,
		Jobs:             jobs,
		Discovery:        disc,
		Shard:            inst.shard,
		TotalShards:      inst.totalShards,
		PollInterval:     c.PollInterval,
		BackfillBuilds:   c.BackfillBuilds,
		Rules:            c.Rules(),
		FailureRules:     c.CompiledFailureRules(),
		StateFile:        stateFile,
		Concurrency:      c.JobConcurrency,
		Logger:           logger.With("component", "collector"),
		MaxPagesPerStep:  k.MaxPagesPerStep,
		MaxPagesPerPoll:  k.MaxPagesPerPoll,
		CommitEveryPages: k.CommitEveryPages,
		BuildGiveUpAfter: k.BuildGiveUpAfter,
		MaxBuildsBehind:  k.MaxBuildsBehind,
		MaxActionsPerJob: k.MaxActionsPerJob,

		DurationHistograms: inst.histograms,
	}, nil
}

// checkConfig is --config.check: every problem on its own FILE:LINE line.
func checkConfig(configFile, webConfigFile string, stdout, stderr io.Writer) int {
	status := 0
	c, err := config.Load(configFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		status = 1
	} else {
		jobs := count(len(c.Jobs), "job")
		if c.Discovery != nil {
			jobs += " and discovery"
		}
		fmt.Fprintf(stdout, "%s: OK: %s, %s authentication, %s\n", configFile,
			jobs, c.CodeArts.Auth.Method(), count(len(c.EffectiveSeverityRules()), "severity rule"))
	}
	if webConfigFile != "" {
		if err := web.Validate(webConfigFile); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", webConfigFile, err)
			status = 1
		} else {
			fmt.Fprintf(stdout, "%s: OK\n", webConfigFile)
		}
	}
	return status
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
