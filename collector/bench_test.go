package collector

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
	"github.com/codearts-build-exporter/codearts_build_exporter/simulator"
)

// BenchmarkIngest measures how fast the collector ingests step logs through
// the whole stack — signed HTTP requests to the simulator, JSON decoding,
// paging, parsing, ledger updates and state file commits — and compares it
// with the raw parser on the same text in the same run:
//
//	collector_MB/s  log bytes per second through the collector
//	parser_MB/s     the same bytes through parser.Stream alone
//	parser/collector  how many times faster the bare parser is
//
// Pages are 2,000–8,000 characters; the real service's page size is unknown
// (reference §12 Q1). The state file sub-benchmark commits every 50 pages.
func BenchmarkIngest(b *testing.B) {
	for _, withState := range []bool{false, true} {
		name := "no-state-file"
		if withState {
			name = "state-file"
		}
		b.Run(name, func(b *testing.B) { benchIngest(b, withState) })
	}
}

func benchIngest(b *testing.B, withState bool) {
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
	e := newEnv(b, envOpts{seed: 1, jobs: jobs, chunkMin: 2000, chunkMax: 8000})
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

	// The raw parser on the same text, timed over at least 300 ms.
	var records int
	emit := func(*parser.Record) { records++ }
	rules := parser.DefaultRules()
	pstart := time.Now()
	var pbytes int64
	for time.Since(pstart) < 300*time.Millisecond {
		for _, t := range texts {
			s := parser.NewStream(rules, emit)
			_, _ = s.WriteString(t)
			s.Flush()
			pbytes += int64(len(t))
		}
	}
	parserMBps := float64(pbytes) / time.Since(pstart).Seconds() / 1e6

	ctx := context.Background()
	var writes, pages, writeSeconds, fileBytes float64
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		state := ""
		if withState {
			state = tempState(b)
		}
		o := e.options(state)
		o.BackfillBuilds = builds
		o.MaxPagesPerStep, o.MaxPagesPerPoll, o.CommitEveryPages = 100000, 100000, 50
		c, err := New(o)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		// Empty pages (5%) end a step's reading for a poll, so it takes a
		// few polls; nothing else waits between them.
		for p := 0; ; p++ {
			if err := c.PollOnce(ctx); err != nil {
				b.Fatal(err)
			}
			if j := c.published.Load().Jobs["bench"]; j != nil && len(j.Builds) == 0 {
				break
			}
			if p > 100 {
				b.Fatal("not ingested after 100 polls")
			}
		}
		b.StopTimer()
		if got := c.published.Load().Jobs["bench"]; got.Bytes != uint64(total) {
			b.Fatalf("ingested %d bytes, want %d", got.Bytes, total)
		}
		writes += testutil.ToFloat64(c.self.stateWrites)
		pages += testutil.ToFloat64(c.self.pages)
		if withState {
			var m dto.Metric
			_ = c.self.stateDuration.Write(&m)
			writeSeconds += m.GetHistogram().GetSampleSum()
			fileBytes = testutil.ToFloat64(c.self.stateBytes)
		}
		b.StartTimer()
	}
	b.StopTimer()
	collectorMBps := float64(total) * float64(b.N) / b.Elapsed().Seconds() / 1e6
	b.ReportMetric(collectorMBps, "collector_MB/s")
	b.ReportMetric(parserMBps, "parser_MB/s")
	b.ReportMetric(parserMBps/collectorMBps, "parser/collector")
	b.ReportMetric(float64(total), "log_bytes")
	b.ReportMetric(pages/float64(b.N), "pages/op")
	if withState {
		b.ReportMetric(writes/float64(b.N), "state_writes/op")
		b.ReportMetric(writeSeconds/writes*1000, "ms/state_write")
		b.ReportMetric(fileBytes, "state_file_bytes")
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
	l := &ledger{Jobs: make(map[string]*jobLedger, n)}
	for j := range n {
		l.Jobs[fmt.Sprintf("job-%05d", j)] = busyJob(j)
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
				names := sortedKeys(l.Jobs)
				if _, err := c.store.compact(l, time.Now()); err != nil { // the file as a restart leaves it
					b.Fatal(err)
				}
				var written float64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					name := names[(i*7919)%len(names)]
					jl := c.published.Load().Jobs[name].clone()
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
	names := sortedKeys(full.Jobs)
	var written, secs float64
	for i := 0; i < b.N; i++ {
		c, err := New(Options{api: unusedAPI{}, StateFile: tempState(b)})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for _, name := range names {
			if err := c.commit(name, &jobLedger{JobID: full.Jobs[name].JobID, LastBuildNo: 1000, NextBuildNo: 999}); err != nil {
				b.Fatal(err)
			}
		}
		for _, name := range names {
			if err := c.commit(name, full.Jobs[name]); err != nil {
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
