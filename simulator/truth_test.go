package simulator

import (
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

func TestFixturesSplitIntoRecordsThatReassemble(t *testing.T) {
	for _, name := range []string{"full-build-failure-pytest.log", "full-build-failure-truncated-tail.log", "build-step-excerpt-success.log"} {
		log := mustFixture(name)
		recs := splitRecords(log)
		if strings.Join(recs, "") != log {
			t.Fatalf("%s: records do not reassemble", name)
		}
		if n := len(prefixPattern.FindAllStringIndex(log, -1)); n != len(recs) {
			t.Fatalf("%s: %d records for %d prefixes", name, len(recs), n)
		}
		if got := countParserRecords(log); got != len(recs) {
			t.Errorf("%s: the parser counts %d records, the simulator %d", name, got, len(recs))
		}
	}
	c := loadCorpora()
	for name, cp := range map[string]*corpus{"git": &c.git, "shell": &c.shell, "pytest": &c.pytest, "curl": &c.curl} {
		if len(cp.bodies) < 10 {
			t.Errorf("corpus %s has %d records", name, len(cp.bodies))
		}
		for _, b := range cp.bodies {
			if platformPattern.MatchString(b) || prefixPattern.MatchString(b) && !strings.Contains(b, "GIT_ASKPASS") {
				t.Errorf("corpus %s holds a platform record or a prefix: %q", name, b)
			}
		}
	}
	if len(c.pytest.errors) == 0 {
		t.Error("no error records in the pytest corpus")
	}
}

func countParserRecords(log string) int {
	n := 0
	s := parser.NewStream(parser.DefaultRules(), func(*parser.Record) { n++ })
	_, _ = s.WriteString(log)
	s.Flush()
	return n
}

// TestTruthAgreesWithTheParser checks Truth's bookkeeping against two
// independent readings of its texts: a prefix count, and the exporter's own
// parser (docs/parser.md), for every stage of every demo build — including
// glued records, continuation lines, both prefix forms and two zones.
func TestTruthAgreesWithTheParser(t *testing.T) {
	o := DemoOptions(5)
	clock := NewManualClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	o.Clock = clock
	o.RetainBuilds = 4
	sim, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	levels := map[string]int{}
	sources := map[string]int{}
	glued, stages := 0, 0
	for round := 0; round < 3; round++ {
		tr := sim.Truth()
		for _, j := range tr.Jobs {
			for _, b := range j.Builds {
				for _, s := range b.Stages {
					if s.NodeID == 0 {
						continue
					}
					stages++
					if int64(len(s.Log)) != s.Bytes || int64(utf8.RuneCountInString(s.Log)) != s.Chars || !utf8.ValidString(s.Log) {
						t.Fatalf("%s #%d %s: Bytes/Chars/UTF-8 wrong", j.Name, b.Number, s.Name)
					}
					if n := len(prefixPattern.FindAllStringIndex(s.Log, -1)); n != s.Records {
						t.Fatalf("%s #%d %s: %d prefixes, Records %d", j.Name, b.Number, s.Name, n, s.Records)
					}
					n := 0
					var first, last int64
					st := parser.NewStream(parser.DefaultRules(), func(r *parser.Record) {
						if n == 0 {
							first = r.UnixMilli
						}
						last = r.UnixMilli
						n++
						levels[r.Level.String()]++
						sources[r.Source.String()]++
					})
					_, _ = st.WriteString(s.Log)
					st.Flush()
					if n != s.Records {
						t.Fatalf("%s #%d %s: parser counts %d records, Records %d", j.Name, b.Number, s.Name, n, s.Records)
					}
					if n > 0 && (first != s.FirstRecordTime.UnixMilli() || last != s.LastRecordTime.UnixMilli()) {
						t.Fatalf("%s #%d %s: parser times %d..%d, truth %v..%v", j.Name, b.Number, s.Name, first, last, s.FirstRecordTime, s.LastRecordTime)
					}
					for _, line := range strings.Split(s.Log, "\n") {
						if len(prefixPattern.FindAllStringIndex(line, -1)) > 1 {
							glued++
						}
					}
				}
			}
		}
		clock.Advance(37 * time.Second)
	}
	for _, l := range []string{"error", "warning", "info", "debug"} {
		if levels[l] == 0 {
			t.Errorf("no %s records in the demo logs: %v", l, levels)
		}
	}
	if sources["platform"] == 0 || sources["output"] == 0 || glued == 0 {
		t.Errorf("sources %v, %d glued lines", sources, glued)
	}
	t.Logf("%d stage logs, levels %v, sources %v, %d glued lines", stages, levels, sources, glued)
}

func TestDemoOptions(t *testing.T) {
	o := DemoOptions(1)
	sim, err := New(o)
	if err != nil {
		t.Fatalf("DemoOptions do not validate: %v", err)
	}
	if o.AccessKey != DemoAccessKey || o.SecretKey != DemoSecretKey || o.ProjectID != DemoProjectID {
		t.Error("demo credentials")
	}
	names := map[string]bool{}
	for _, j := range sim.Jobs() {
		names[j.Name] = true
		if j.MaxBuilds != 0 {
			t.Errorf("demo job %s is bounded", j.Name)
		}
		if j.ID != DemoJobID(j.Name) {
			t.Errorf("demo job %s id %s", j.Name, j.ID)
		}
	}
	for _, n := range []string{"backend-ci", "frontend-build", "payment-service", "nightly-e2e"} {
		if !names[n] {
			t.Errorf("demo job %s missing", n)
		}
	}

	// Whenever the demo starts, some step log grows within 10 s, and builds
	// take one to two minutes.
	base := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	var failed, aborted, spikes, builds int
	for k := 0; k < 24; k++ {
		o := DemoOptions(int64(k))
		start := base.Add(time.Duration(k) * 7919 * time.Second)
		clock := NewManualClock(start)
		o.Clock = clock
		o.RetainBuilds = 2
		sim, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		before := totalBytes(sim.Truth(), true)
		running := 0
		for _, j := range sim.Truth().Jobs {
			if b := j.Build(j.LastBuildNo); b != nil && !b.Finished {
				running++
			}
			for _, b := range j.Builds {
				if !b.Finished {
					continue
				}
				builds++
				if d := b.FinishTime.Sub(b.StartTime); b.Status == StatusSuccess && (d < 40*time.Second || d > 2*time.Minute+10*time.Second) {
					t.Errorf("%s #%d took %v", j.Name, b.Number, d)
				}
				switch b.Status {
				case StatusFailed:
					failed++
				case StatusAborted:
					aborted++
				}
				if b.ErrorSpike {
					spikes++
				}
			}
		}
		if running == 0 {
			t.Errorf("start %v: no build running", start)
		}
		clock.Advance(10 * time.Second)
		if after := totalBytes(sim.Truth(), false); after <= before {
			t.Errorf("start %v: no log grew within 10 s", start)
		}
	}
	if failed == 0 || aborted == 0 || spikes == 0 {
		t.Errorf("in %d demo builds: %d failed, %d aborted, %d with spikes", builds, failed, aborted, spikes)
	}
}

// totalBytes sums the bytes of the newest build of each job (of the builds
// running at the time of the first call, when runningOnly).
func totalBytes(tr Truth, runningOnly bool) int64 {
	var n int64
	for _, j := range tr.Jobs {
		for _, b := range j.Builds {
			if runningOnly && b.Finished {
				continue
			}
			for _, s := range b.Stages {
				n += s.Bytes
			}
		}
	}
	return n
}

// TestTruthIsSafeWhileServing pages logs from several goroutines while
// others take Truths and the clock moves (run with -race).
func TestTruthIsSafeWhileServing(t *testing.T) {
	f := newFixture(t, Options{Seed: 17, ChunkMin: 50, ChunkMax: 400, Faults: Faults{Rate: 0.1, Kinds: []FaultKind{FaultInternal500}}})
	f.clock.Advance(40 * time.Second)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tr := f.sim.Truth()
				for _, j := range tr.Jobs {
					for _, b := range j.Builds {
						for _, s := range b.Stages {
							if s.NodeID != 0 {
								f.get(t, "/v1/log/task/step", logQuery(j.ID, b.Number, s.NodeID, 0, 0))
							}
						}
					}
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		f.clock.Advance(2 * time.Second)
		_ = f.sim.Truth()
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
}
