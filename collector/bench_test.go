package collector

import (
	"bufio"
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

// BenchmarkIngest measures the CPU the collector spends per MB of step log
// through the whole stack — signed HTTP requests, JSON decoding, paging,
// parsing, ledger updates and (state-file) commits — and compares it with
// the bare parser on the same text in the same run:
//
//	collector_CPU_ms/MB  process CPU time (user+system) per MB of log
//	parser_CPU_ms/MB     the same for parser.Stream alone (run after every ingest)
//	collector/parser     the ratio of the two
//	collector_MB/s       wall throughput
//	floor_CPU_ms/MB      the same requests sent bare (floorLoop), after every ingest
//	floor/parser         the floor over the parser
//	above_floor/parser   what the collector spends above the floor, over the parser
//	collector_user_ms/MB the user part of collector_CPU_ms/MB: the exporter's own
//	                     code, which moves much less with the host than the system
//	                     part (the kernel's work for each request and answer)
//	collector_sys_ms/MB  the system part; floor_sys_ms/MB the floor's
//	user/parser          collector_user_ms/MB over the parser's CPU
//
// The simulator's answers are recorded once and replayed by a plain HTTP
// server in a child process (TestReplayServer), so the CPU measured is the
// exporter's alone: HTTP client, signing, decoding, parsing, ledger.
// pages=5KB are 2,000–8,000 characters, pages=30KB 20,000–40,000; the real
// service's page size is unknown (docs/api-reference.md §12 Q1).
//
// The builds are finished when they are read, most of their stages
// successful, so the failure classifier reads only the failed stages' logs
// (poll.go classifies). The failed-stages variant serves every successful
// stage as failed: the classifier reads every record, as it does for the
// logs of running stages, which a steady exporter reads most of. The
// state-file variant commits every 50 pages.
func BenchmarkIngest(b *testing.B) {
	for _, pc := range []struct {
		name     string
		min, max int
	}{{"5KB", 2000, 8000}, {"30KB", 20000, 40000}} {
		for _, v := range []struct {
			name                  string
			withState, failStages bool
		}{{"no-state-file", false, false}, {"state-file", true, false}, {"failed-stages", false, true}} {
			b.Run("pages="+pc.name+"/"+v.name, func(b *testing.B) { benchIngest(b, pc.min, pc.max, v.withState, v.failStages) })
		}
	}
}

// replay records the answers of next per request (path and query, in
// order) while recording, and serves them again afterwards.
type replay struct {
	next      http.Handler
	mu        sync.Mutex
	recording bool
	Answers   map[string][]Recorded
	served    map[string]int
}

// Recorded is one recorded answer (exported for gob).
type Recorded struct {
	Status int
	CType  string
	Body   []byte
}

func (r *replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	key := req.URL.Path + "?" + req.URL.RawQuery
	r.mu.Lock()
	if r.recording {
		r.mu.Unlock()
		rec := httptest.NewRecorder()
		r.next.ServeHTTP(rec, req)
		r.mu.Lock()
		r.Answers[key] = append(r.Answers[key], Recorded{rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()})
		r.mu.Unlock()
		w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	if req.URL.Path == "/-/reset" {
		r.served = map[string]int{}
		r.mu.Unlock()
		return
	}
	n := r.served[key]
	r.served[key]++
	r.mu.Unlock()
	as := r.Answers[key]
	if n >= len(as) {
		http.Error(w, "not recorded: "+key, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", as[n].CType)
	w.WriteHeader(as[n].Status)
	_, _ = w.Write(as[n].Body)
}

// TestReplayServer is not a test: BenchmarkIngest runs the test binary
// with COLLECTOR_REPLAY_ANSWERS set to serve recorded answers from another
// process, so that the CPU it measures is the exporter's alone.
func TestReplayServer(t *testing.T) {
	file := os.Getenv("COLLECTOR_REPLAY_ANSWERS")
	if file == "" {
		t.Skip("helper process of BenchmarkIngest")
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	rp := &replay{served: map[string]int{}}
	if err := gob.NewDecoder(f).Decode(&rp.Answers); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("listening on", ln.Addr())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); _ = ln.Close() }() // the benchmark closes stdin when done
	_ = http.Serve(ln, rp)
}

// startReplay runs TestReplayServer in a child process serving answers and
// returns its base URL.
func startReplay(b *testing.B, answers map[string][]Recorded) string {
	file := filepath.Join(b.TempDir(), "answers.gob")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := gob.NewEncoder(f).Encode(answers); err != nil {
		b.Fatal(err)
	}
	_ = f.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplayServer$", "-test.v")
	cmd.Env = append(os.Environ(), "COLLECTOR_REPLAY_ANSWERS="+file)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return "http://" + addr
		}
	}
	b.Fatal("the replay server did not start")
	return ""
}

// floorLoop sends the requests an ingest sent (every recorded answer's
// path and query, once each) to the replay server over one kept-alive
// connection, as bare as HTTP/1.1 allows: a canned request with no
// signature, the answer's framing read just enough to find its end, the
// body discarded. It returns the process CPU time it used: what a page
// costs this process whatever the client does (the system calls of a
// request and its answer on loopback, whose receiving side the kernel runs
// in the writer's call). It fails the benchmark unless it read every body
// byte the server has for those requests.
func floorLoop(b *testing.B, base string, answers map[string][]Recorded) cpuUse {
	b.Helper()
	if resp, err := http.Get(base + "/-/reset"); err != nil {
		b.Fatal(err)
	} else {
		resp.Body.Close()
	}
	host := strings.TrimPrefix(base, "http://")
	var reqs [][]byte
	var want int64
	for key, as := range answers {
		for _, a := range as {
			reqs = append(reqs, []byte("GET "+key+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n"))
			want += int64(len(a.Body))
		}
	}
	conn, err := net.Dial("tcp", host)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 16<<10)
	start := cpuTimes(b)
	var got int64
	for _, req := range reqs {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		n, err := readAnswer(br)
		if err != nil {
			b.Fatal(err)
		}
		got += n
	}
	used := cpuTimes(b).sub(start)
	if got != want {
		b.Fatalf("the floor loop read %d body bytes, want %d", got, want)
	}
	return used
}

// readAnswer reads one HTTP/1.1 answer from br, with a Content-Length or
// chunked body, and returns the length of its body.
func readAnswer(br *bufio.Reader) (int64, error) {
	length, chunked := int64(-1), false
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if first {
			continue // the status line
		}
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil {
				return 0, err
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		}
	}
	if !chunked {
		if length < 0 {
			return 0, fmt.Errorf("an answer without Content-Length or chunked encoding")
		}
		_, err := br.Discard(int(length))
		return length, err
	}
	var body int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		size, err := strconv.ParseInt(string(bytes.TrimRight(line, "\r\n")), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("chunk size %q: %w", line, err)
		}
		if _, err := br.Discard(int(size) + 2); err != nil { // the data and its CRLF
			return 0, err
		}
		if size == 0 {
			return body, nil // no trailers from this server
		}
		body += size
	}
}

// failAllStages rewrites the recorded full-stages answers so that every
// successful stage is reported failed.
func failAllStages(b *testing.B, answers map[string][]Recorded) {
	n := 0
	for key, as := range answers {
		if !strings.HasSuffix(strings.TrimSuffix(key, "?"), "/full-stages") {
			continue
		}
		for i := range as {
			n += bytes.Count(as[i].Body, []byte(`"status":"SUCCESS"`))
			as[i].Body = bytes.ReplaceAll(as[i].Body, []byte(`"status":"SUCCESS"`), []byte(`"status":"FAILED"`))
		}
	}
	if n == 0 {
		b.Fatal("no successful stage in the recorded full-stages answers")
	}
}

// cpuUse is CPU time in user and in system mode.
type cpuUse struct{ user, sys time.Duration }

func (u cpuUse) sub(v cpuUse) cpuUse  { return cpuUse{u.user - v.user, u.sys - v.sys} }
func (u cpuUse) add(v cpuUse) cpuUse  { return cpuUse{u.user + v.user, u.sys + v.sys} }
func (u cpuUse) total() time.Duration { return u.user + u.sys }

// cpuTimes is the CPU time this process has used.
func cpuTimes(b *testing.B) cpuUse {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return cpuUse{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

// cpuTime is the CPU time (user+system) this process has used.
func cpuTime(b *testing.B) time.Duration { return cpuTimes(b).total() }

func benchIngest(b *testing.B, chunkMin, chunkMax int, withState, failStages bool) {
	sec := time.Second
	const builds = 4
	jobs := []simulator.JobSpec{{
		ID: simulator.DemoJobID("bench"), Name: "bench", MaxBuilds: builds, RecordsPerSecond: 150,
		ErrorSpikeRate: 0.5, SpikeRecords: 300, FailureRate: 0.2,
		Stages: []simulator.StageSpec{
			{DisplayName: "代码检出", Tool: "git", MinDuration: 20 * sec, MaxDuration: 30 * sec},
			{DisplayName: "Maven构建", Tool: "maven", MinDuration: 40 * sec, MaxDuration: 60 * sec},
			{DisplayName: "单元测试", Tool: "junit", MinDuration: 40 * sec, MaxDuration: 60 * sec},
			{DisplayName: "pytest", Tool: "pytest", MinDuration: 30 * sec, MaxDuration: 40 * sec},
		},
	}}
	e := newEnv(b, envOpts{seed: 1, jobs: jobs, chunkMin: chunkMin, chunkMax: chunkMax})
	for !e.allDone() {
		e.clock.Advance(time.Minute)
	}
	tr := e.sim.Truth()
	var texts []string
	var total int64
	for _, bt := range tr.Jobs[0].Builds {
		for _, st := range bt.Stages {
			if st.NodeID != 0 {
				texts = append(texts, st.Log)
				total += int64(len(st.Log))
			}
		}
	}

	// The bare parser on the same text, run for at least d after every
	// ingest, so that both see the same load of a shared machine. Each
	// step's text goes through one reused Stream, as a page does in the
	// collector: WriteString's copy into the stream's buffer is counted,
	// allocating a new stream and buffer for every text is not.
	var records int
	emit := func(*parser.Record) { records++ }
	rules := parser.DefaultRules()
	var pcpu time.Duration
	var pbytes int64
	s := parser.NewStream(rules, emit)
	bareParser := func(d time.Duration) {
		start, wall := cpuTime(b), time.Now()
		for pass := 0; pass == 0 || time.Since(wall) < d; pass++ {
			for _, t := range texts {
				_, _ = s.WriteString(t)
				s.Flush()
				pbytes += int64(len(t))
			}
		}
		pcpu += cpuTime(b) - start
	}

	// INGEST_PARSER_FOR=0 runs the bare parser exactly once per ingest, so
	// that the benchmark executes the same instructions every time: for
	// comparing builds by instruction counts (docs/performance.md).
	parserFor := 150 * time.Millisecond
	if v, ok := os.LookupEnv("INGEST_PARSER_FOR"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("INGEST_PARSER_FOR: %v", err)
		}
		parserFor = d
	}

	rp := &replay{next: e.sim, recording: true, Answers: map[string][]Recorded{}}
	srv := httptest.NewServer(rp)
	defer srv.Close()
	newClient := func(url string) *codearts.Client {
		client, err := codearts.New(codearts.Options{
			Endpoint: url, ProjectID: testProject, Auth: codearts.Auth{AccessKey: testAK, SecretKey: testSK},
			RequestsPerSecond: -1, MaxConcurrency: 8, Timeout: 10 * time.Second, Now: e.clock.Now,
		})
		if err != nil {
			b.Fatal(err)
		}
		return client
	}
	client := newClient(srv.URL)
	ingest := func() *Collector {
		state := ""
		if withState {
			state = tempState(b)
		}
		o := e.options(state)
		o.Client = client
		o.BackfillBuilds = builds
		o.MaxPagesPerStep, o.MaxPagesPerPoll, o.CommitEveryPages = 100000, 100000, 50
		c, err := New(o)
		if err != nil {
			b.Fatal(err)
		}
		// Empty pages (5%) end a step's reading for a poll, so it takes a
		// few polls; nothing else waits between them.
		for p := 0; ; p++ {
			if err := c.PollOnce(context.Background()); err != nil {
				b.Fatal(err)
			}
			if j := c.published.Load().job("bench"); j != nil && len(j.Builds) == 0 {
				break
			}
			if p > 100 {
				b.Fatal("not ingested after 100 polls")
			}
		}
		if got := c.published.Load().job("bench"); got.Bytes != uint64(total) {
			b.Fatalf("ingested %d bytes, want %d", got.Bytes, total)
		}
		return c
	}
	ingest() // records the answers
	if failStages {
		failAllStages(b, rp.Answers)
	}
	replayURL := startReplay(b, rp.Answers)
	client = newClient(replayURL)

	var writes, pages, failed, writeSeconds, fileBytes, written float64
	var cpu, fcpu cpuUse
	var fbytes int64
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if resp, err := http.Get(replayURL + "/-/reset"); err != nil {
			b.Fatal(err)
		} else {
			resp.Body.Close()
		}
		start := cpuTimes(b)
		c := ingest()
		cpu = cpu.add(cpuTimes(b).sub(start))
		b.StopTimer()
		bareParser(parserFor)
		fcpu = fcpu.add(floorLoop(b, replayURL, rp.Answers))
		fbytes += total
		writes += testutil.ToFloat64(c.self.stateWrites)
		pages += testutil.ToFloat64(c.self.pages)
		for _, byCat := range c.published.Load().job("bench").Failures {
			for _, n := range byCat {
				failed += float64(n)
			}
		}
		if withState {
			var m dto.Metric
			_ = c.self.stateDuration.Write(&m)
			writeSeconds += m.GetHistogram().GetSampleSum()
			fileBytes = testutil.ToFloat64(c.self.stateBytes)
			written += testutil.ToFloat64(c.self.stateWritten)
		}
		b.StartTimer()
	}
	b.StopTimer()
	parserCPU := float64(pcpu) / float64(time.Millisecond) / (float64(pbytes) / 1e6)
	mb := float64(total) * float64(b.N) / 1e6
	perMB := func(d time.Duration, mb float64) float64 { return float64(d) / float64(time.Millisecond) / mb }
	collectorCPU := perMB(cpu.total(), mb)
	b.ReportMetric(mb/b.Elapsed().Seconds(), "collector_MB/s")
	b.ReportMetric(collectorCPU, "collector_CPU_ms/MB")
	b.ReportMetric(parserCPU, "parser_CPU_ms/MB")
	b.ReportMetric(collectorCPU/parserCPU, "collector/parser")
	floorCPU := perMB(fcpu.total(), float64(fbytes)/1e6)
	b.ReportMetric(floorCPU, "floor_CPU_ms/MB")
	b.ReportMetric(floorCPU/parserCPU, "floor/parser")
	b.ReportMetric((collectorCPU-floorCPU)/parserCPU, "above_floor/parser")
	b.ReportMetric(perMB(cpu.user, mb), "collector_user_ms/MB")
	b.ReportMetric(perMB(cpu.sys, mb), "collector_sys_ms/MB")
	b.ReportMetric(perMB(fcpu.sys, float64(fbytes)/1e6), "floor_sys_ms/MB")
	b.ReportMetric(perMB(cpu.user, mb)/parserCPU, "user/parser")
	b.ReportMetric(pages/float64(b.N), "pages/op")
	b.ReportMetric(failed/float64(b.N), "failed_stages/op")
	if withState {
		b.ReportMetric(writes/float64(b.N), "state_writes/op")
		b.ReportMetric(writeSeconds/writes*1000, "ms/state_write")
		b.ReportMetric(fileBytes, "state_file_bytes")
		// What one job of this shape writes an hour when it commits every
		// 15 s (a real job's entry, unlike BenchmarkStateCommit's model).
		b.ReportMetric(written/writes, "written_B/commit")
		b.ReportMetric(written/writes*240/1e6*100, "MB/h_for_100_jobs")
	}
}

// busyJob is the ledger entry of a job that builds all the time: 10
// actions with records at every source and level and action histograms for
// two results, 4 build results, 2 builds in flight with 5 stages each.
func busyJob(j int) *jobLedger {
	jl := &jobLedger{JobID: fmt.Sprintf("%032d", j), LastBuildNo: 1000, NextBuildNo: 1001, Bytes: 1 << 40}
	for a := range 10 {
		action := fmt.Sprintf("构建步骤-%d", a)
		for s := range parser.NumSources {
			for lv := range parser.NumLevels {
				jl.addRecord(action, parser.Source(s), parser.Level(lv))
			}
		}
		jl.observeAction(action, "success", 12_345)
		jl.observeAction(action, "failure", 99_999)
	}
	for _, r := range allResults {
		jl.observeBuild(r, 600_000)
	}
	for n := range 2 {
		bp := &buildProgress{Number: 999 + int64(n), RecordID: "3f1c2a9e-7b4d-4c1e-9a55-0d2e8b7c6f10", Status: "RUNNING"}
		for s := range 5 {
			bp.Stages = append(bp.Stages, &stageProgress{Key: fmt.Sprintf("stage%d", s), NodeID: int64(s), Display: "构建步骤",
				Cursor: 123456789, Stream: parser.StreamState{Pending: []byte("[2026/09/10 17:26:22.661 GMT+08:00] a partial record")}})
		}
		jl.Builds = append(jl.Builds, bp)
	}
	return jl
}

// busyLedger has n busy jobs named job-00000 ….
func busyLedger(n int) *ledger {
	l := &ledger{}
	for j := range n {
		l.set(fmt.Sprintf("job-%05d", j), busyJob(j))
	}
	return l
}

// advance is what one poll of a busy job changes: a page of one stage.
func advance(jl *jobLedger, i int) {
	jl.Bytes += 5000
	jl.addRecord("构建步骤-3", parser.SourceOutput, parser.LevelInfo)
	st := jl.Builds[i%2].Stages[i%5]
	st.Cursor += 5000
	st.Records++
}

// BenchmarkStateCommit measures one job's commit (encode, write, fsync,
// publish) with 100, 1,000 and 10,000 busy jobs in the ledger, for the
// journal (format 2) and, in the same run, the whole-file writer of format
// 1 that it replaced (encode everything, temporary file, fsync, rename,
// directory fsync). Reported per commit: written_B (bytes written to the
// state file, compactions included) and ns/op. For 100 jobs, MB/h is what
// 100 jobs each committing every 15 s write in an hour (24,000 commits).
func BenchmarkStateCommit(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		for _, writer := range []string{"journal", "whole-file"} {
			b.Run(fmt.Sprintf("jobs=%d/writer=%s", n, writer), func(b *testing.B) {
				c, err := New(Options{api: unusedAPI{}, StateFile: tempState(b)})
				if err != nil {
					b.Fatal(err)
				}
				l := busyLedger(n)
				c.published.Store(l)
				names := l.names()
				if _, err := c.store.compact(l, time.Now()); err != nil { // the file as a restart leaves it
					b.Fatal(err)
				}
				var written float64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					name := names[(i*7919)%len(names)]
					jl := c.published.Load().job(name).clone()
					advance(jl, i)
					if writer == "journal" {
						if err := c.commit(name, jl); err != nil {
							b.Fatal(err)
						}
						continue
					}
					next := c.published.Load().withJob(name, jl)
					data, err := encodeState(next, time.Now())
					if err != nil {
						b.Fatal(err)
					}
					if err := writeFileAtomic(c.stateFile, data); err != nil {
						b.Fatal(err)
					}
					c.published.Store(next)
					written += float64(len(data))
				}
				b.StopTimer()
				if writer == "journal" {
					written = testutil.ToFloat64(c.self.stateWritten)
				}
				b.ReportMetric(written/float64(b.N), "written_B/commit")
				if n == 100 {
					b.ReportMetric(written/float64(b.N)*24000/1e6, "MB/h")
				}
			})
		}
	}
}

// BenchmarkStateFirstStart is the first start of an exporter with 10,000
// busy jobs and no state file: every job commits twice, first sight (its
// id and build numbers) and then its data. Reported per start: MB written
// to the state file and the commits' wall time.
func BenchmarkStateFirstStart(b *testing.B) {
	const n = 10000
	full := busyLedger(n)
	names := full.names()
	var written, secs float64
	for i := 0; i < b.N; i++ {
		c, err := New(Options{api: unusedAPI{}, StateFile: tempState(b)})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for _, name := range names {
			if err := c.commit(name, &jobLedger{JobID: full.job(name).JobID, LastBuildNo: 1000, NextBuildNo: 999}); err != nil {
				b.Fatal(err)
			}
		}
		for _, name := range names {
			if err := c.commit(name, full.job(name)); err != nil {
				b.Fatal(err)
			}
		}
		secs += time.Since(start).Seconds()
		written += testutil.ToFloat64(c.self.stateWritten)
	}
	b.ReportMetric(written/float64(b.N)/1e6, "MB_written/start")
	b.ReportMetric(secs/float64(b.N), "s/start")
	b.ReportMetric(secs/float64(b.N)/(2*n)*1000, "ms/commit")
}
