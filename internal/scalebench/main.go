// Command scalebench measures the exporter following a large account: it
// serves the simulator's ManyJobs world (1% of the jobs building) on a
// loopback port, runs the real exporter binary against it with discovery,
// and reports API calls per poll, the exporter's RSS, the state file's size
// and write time, and the size, series count and latency of /metrics.
//
//	go run ./internal/scalebench                 # 1,000 and 10,000 jobs
//	go run ./internal/scalebench -jobs 500 -polls 5
//
// It is a benchmark, not a test: it prints numbers and checks nothing.
// docs/collector.md ("Scale") records a run.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

const token = "scalebench-token-0123456789"

func main() {
	jobsFlag := flag.String("jobs", "1000,10000", "comma-separated numbers of jobs to measure")
	activePct := flag.Float64("active", 1, "percentage of the jobs that build continuously")
	polls := flag.Int("polls", 10, "poll rounds measured after the catch-up")
	backfill := flag.Int("backfill", 0, "backfill_builds of the exporter (0: measure the steady state only)")
	histograms := flag.String("histograms", "classic", "the exporter's --metrics.duration-histograms; with native or both, /metrics is scraped in protobuf and series are counted as a Prometheus with native histograms stores them")
	flag.Parse()
	dir, err := os.MkdirTemp("", "scalebench")
	check(err)
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "codearts_build_exporter")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	check(build.Run())
	fmt.Printf("%-7s %-6s %-9s %-10s %-10s %-9s %-9s %-10s %-12s %-11s %-8s %-10s\n",
		"jobs", "active", "catch-up", "calls/poll", "target", "RSS MiB", "peak MiB", "state KiB", "state write", "metrics KiB", "series", "scrape")
	for _, f := range strings.Split(*jobsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		check(err)
		active := max(int(float64(n)**activePct/100+0.5), 1)
		r := measure(bin, dir, n, active, *polls, *backfill, *histograms)
		fmt.Printf("%-7d %-6d %-9s %-10.1f %-10.1f %-9.1f %-9.1f %-10.1f %-12s %-11.1f %-8d %-10s\n",
			n, active, r.catchUp, r.callsPerPoll, r.target, r.rssMiB, r.peakMiB, r.stateKiB, r.stateWrite, r.metricsKiB, r.series, r.scrape)
	}
}

type result struct {
	callsPerPoll, target, rssMiB, peakMiB, stateKiB, metricsKiB float64
	stateWrite, scrape, catchUp                                 time.Duration
	series                                                      int
}

func measure(bin, dir string, n, active, polls, backfill int, histograms string) result {
	sim, err := simulator.New(simulator.Options{Seed: 1, Jobs: simulator.ManyJobs(n, active), Token: token,
		ChunkMin: 4096, ChunkMax: 8192})
	check(err)
	url, stop, err := sim.Start("127.0.0.1:0")
	check(err)
	defer func() { _ = stop(context.Background()) }()

	run := filepath.Join(dir, strconv.Itoa(n))
	check(os.MkdirAll(run, 0o700))
	cfg := filepath.Join(run, "config.yml")
	check(os.WriteFile(cfg, fmt.Appendf(nil, `codearts:
  endpoint: %q
  project_id: "0123456789abcdef0123456789abcdef"
  requests_per_second: 2000
  burst: 200
  max_concurrency: 16
  auth: {token: %q}
poll_interval: 2s
backfill_builds: %d
job_concurrency: 16
discovery: {}
`, url, token, backfill), 0o600))
	state := filepath.Join(run, "state.json")
	cmd := exec.Command(bin, "--config.file="+cfg, "--state.file="+state, "--web.listen-address=127.0.0.1:0", "--log.format=json",
		"--metrics.duration-histograms="+histograms)
	stderr, err := cmd.StderrPipe()
	check(err)
	check(cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	addr := make(chan string, 1)
	var caughtUp atomic.Bool
	go func() {
		re := regexp.MustCompile(`"msg":"Listening on","address":"([^"]+)"`)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- "http://" + m[1]
			}
			if strings.Contains(sc.Text(), `"msg":"caught up`) {
				caughtUp.Store(true)
			}
		}
	}()
	var base string
	select {
	case base = <-addr:
	case <-time.After(30 * time.Second):
		panic("the exporter did not listen")
	}

	// Catch-up: every job followed and polled (with backfill: the
	// exporter's "caught up" log), only the active ones in flight.
	deadline := time.Now().Add(15 * time.Minute)
	start := time.Now()
	for {
		m := metricsOf(base)
		if m["codearts_exporter_jobs_followed"] == float64(n) && sumOf(m, "codearts_exporter_builds_in_flight") <= float64(active) &&
			m["codearts_exporter_discovery_jobs_listed"] == float64(n) && (backfill == 0 || caughtUp.Load()) {
			break
		}
		if time.Now().After(deadline) {
			panic("catch-up not done in 15 minutes")
		}
		time.Sleep(time.Second)
	}
	catchUp := time.Since(start)
	pages := float64((n + 99) / 100)
	before := sim.Stats()
	time.Sleep(time.Duration(polls) * 2 * time.Second)
	after := sim.Stats()
	rounds := float64(after.Ops["ListJob"]-before.Ops["ListJob"]) / pages
	activeIDs := map[string]bool{}
	for i := range n {
		if simulator.ManyJobActive(i, n, active) {
			activeIDs[simulator.ManyJobID(i)] = true
		}
	}
	var activeCalls int64
	for id, v := range after.JobCalls {
		if activeIDs[id] {
			activeCalls += v - before.JobCalls[id]
		}
	}
	r := result{
		catchUp:      catchUp.Round(time.Second),
		callsPerPoll: float64(after.Served-before.Served) / rounds,
		target:       pages + float64(activeCalls)/rounds,
	}
	r.rssMiB, r.peakMiB = rss(cmd.Process.Pid)
	if st, err := os.Stat(state); err == nil {
		r.stateKiB = float64(st.Size()) / 1024
	}
	m := metricsOf(base)
	if c := m["codearts_exporter_state_write_duration_seconds_count"]; c > 0 {
		r.stateWrite = time.Duration(m["codearts_exporter_state_write_duration_seconds_sum"] / c * float64(time.Second)).Round(10 * time.Microsecond)
	}
	var lat []time.Duration
	for range 5 {
		start := time.Now()
		if histograms == "classic" {
			body := get(base + "/metrics")
			lat = append(lat, time.Since(start))
			r.metricsKiB = float64(len(body)) / 1024
			r.series = 0
			for _, line := range strings.Split(body, "\n") {
				if line != "" && line[0] != '#' {
					r.series++
				}
			}
			continue
		}
		body := getProto(base + "/metrics")
		lat = append(lat, time.Since(start))
		r.metricsKiB = float64(len(body)) / 1024
		r.series = storedSeries(body)
	}
	slices.Sort(lat)
	r.scrape = lat[len(lat)/2].Round(time.Millisecond)
	return r
}

func get(url string) string {
	resp, err := http.Get(url)
	check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	check(err)
	return string(b)
}

// getProto asks for /metrics in the protobuf format, as a Prometheus with
// native histograms enabled does.
func getProto(url string) []byte {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	check(err)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	resp, err := http.DefaultClient.Do(req)
	check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	check(err)
	return b
}

// storedSeries counts the series a Prometheus with native histograms enabled
// stores from a protobuf exposition: one per native histogram (its classic
// buckets are dropped), a _bucket per bound, _sum and _count per classic one,
// one per other sample.
func storedSeries(body []byte) int {
	dec := expfmt.NewDecoder(bytes.NewReader(body), expfmt.NewFormat(expfmt.TypeProtoDelim))
	n := 0
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if err == io.EOF {
			return n
		}
		check(err)
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			switch {
			case h == nil:
				n++
			case len(h.GetPositiveSpan()) > 0 || len(h.GetNegativeSpan()) > 0 || h.GetZeroCount() > 0 || h.GetZeroThreshold() > 0:
				n++
			default:
				n += len(h.GetBucket()) + 3 // the bounds, +Inf, _sum, _count
			}
		}
	}
}

// metricsOf returns the samples of /metrics without labels, and label sets
// summed under "name{...}" keys for sumOf.
func metricsOf(base string) map[string]float64 {
	m := map[string]float64{}
	for _, line := range strings.Split(get(base+"/metrics"), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m
}

func sumOf(m map[string]float64, name string) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, name+"{") || k == name {
			s += v
		}
	}
	return s
}

// rss reads the current and peak resident set size of pid in MiB.
func rss(pid int) (cur, peak float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return cur, peak
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
