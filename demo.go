package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/config"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

// startDemo serves the simulator's demo world on a loopback port and
// returns a configuration pointing at it with a short poll interval, so
// /metrics changes within seconds of start. extra > 0 adds that many jobs
// of a large account (1% of them building) and follows every job through
// discovery instead of listing the demo jobs.
func startDemo(seed int64, extra int, logger *slog.Logger) (*config.Config, func(), error) {
	o := simulator.DemoOptions(seed)
	if extra > 0 {
		o.Jobs = append(o.Jobs, simulator.ManyJobs(extra, (extra+99)/100)...)
	}
	sim, err := simulator.New(o)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("Demo simulator stopped", "err", err)
		}
	}()
	c := config.Default()
	c.CodeArts.Endpoint = "http://" + ln.Addr().String()
	c.CodeArts.ProjectID = o.ProjectID
	c.CodeArts.Auth = config.Auth{AccessKey: config.Secret(o.AccessKey), SecretKey: config.Secret(o.SecretKey)}
	c.CodeArts.RequestsPerSecond, c.CodeArts.Burst, c.CodeArts.MaxConcurrency = 200, 50, 8
	c.CodeArts.Timeout = 5 * time.Second
	c.PollInterval = time.Second
	c.BackfillBuilds = 2
	if extra > 0 {
		c.Discovery = &config.Discovery{}
	} else {
		for _, j := range o.Jobs {
			c.Jobs = append(c.Jobs, config.Job{ID: j.ID, Name: j.Name})
		}
	}
	logger.Info("Demo mode: serving the CodeArts simulator", "endpoint", c.CodeArts.Endpoint, "jobs", len(o.Jobs), "discovery", extra > 0, "seed", seed)
	return c, func() { _ = srv.Close() }, nil
}
