package config

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// SafeConfig holds the configuration in force and replaces it on reload.
// A reload that fails (bad file, or the apply step refused it) leaves the
// configuration in force untouched.
type SafeConfig struct {
	reloadMu sync.Mutex // one reload at a time (SIGHUP and /-/reload may race)

	mu sync.RWMutex
	c  *Config

	reloadSuccess prometheus.Gauge
	reloadSeconds prometheus.Gauge
}

// NewSafeConfig returns an empty SafeConfig whose reload gauges
// (codearts_exporter_config_last_reload_successful and
// codearts_exporter_config_last_reload_success_timestamp_seconds) are
// registered on reg, which may be nil.
func NewSafeConfig(reg prometheus.Registerer) *SafeConfig {
	sc := &SafeConfig{
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "codearts_exporter_config_last_reload_successful",
			Help: "Whether the last configuration load or reload succeeded (1) or failed (0).",
		}),
		reloadSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "codearts_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load or reload.",
		}),
	}
	if reg != nil {
		reg.MustRegister(sc.reloadSuccess, sc.reloadSeconds)
	}
	return sc
}

// Get returns the configuration in force (nil before the first load). The
// returned Config must not be modified.
func (sc *SafeConfig) Get() *Config {
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	return sc.c
}

// Set puts c in force without reading a file (used by --demo).
func (sc *SafeConfig) Set(c *Config) {
	sc.mu.Lock()
	sc.c = c
	sc.mu.Unlock()
	sc.reloadSuccess.Set(1)
	sc.reloadSeconds.SetToCurrentTime()
}

// ReloadConfig loads path and, if apply (which may be nil) accepts the new
// configuration, puts it in force. On any error the previous configuration
// stays in force and the error says why.
func (sc *SafeConfig) ReloadConfig(path string, apply func(*Config) error) (err error) {
	sc.reloadMu.Lock()
	defer sc.reloadMu.Unlock()
	defer func() {
		if err != nil {
			sc.reloadSuccess.Set(0)
		}
	}()

	c, err := Load(path)
	if err != nil {
		return err
	}
	if apply != nil {
		if err := apply(c); err != nil {
			return err
		}
	}
	sc.Set(c)
	return nil
}
