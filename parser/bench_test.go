package parser

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/loggen"
)

var benchMB = flag.Int("bench.mb", 100, "size in MB of the generated log the benchmarks parse")

const benchSeed = 20260910

// benchLog returns the generated benchmark log. It is written once into the
// system temp directory (never into the repository) and reused.
func benchLog(tb testing.TB, mb int) []byte {
	tb.Helper()
	dir := filepath.Join(os.TempDir(), "codearts_build_exporter-bench")
	path := filepath.Join(dir, fmt.Sprintf("synthetic-%d-%dMB-v1.log", benchSeed, mb))
	if data, err := os.ReadFile(path); err == nil {
		return data
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := loggen.Write(&buf, int64(mb)<<20, benchSeed); err != nil {
		tb.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

type sink struct {
	records int
	levels  [NumLevels]int
	bytes   int
}

func (s *sink) emit(r *Record) {
	s.records++
	s.levels[r.Level]++
	s.bytes += len(r.Raw)
}

// cpuTime is the process's user+system CPU time. The benchmark machine is
// shared; MB/s per CPU second is not inflated by time spent descheduled.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs body b.N times over data and reports, besides ns/op and
// MB/s (wall clock), cpu-MB/s and ns/record.
func measure(b *testing.B, data []byte, s *sink, body func()) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	c0 := cpuTime()
	for b.Loop() {
		*s = sink{}
		body()
	}
	cpu := cpuTime() - c0
	if cpu > 0 {
		b.ReportMetric(float64(len(data))*float64(b.N)/1e6/cpu.Seconds(), "cpu-MB/s")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.records), "ns/record")
}

func feed(st *Stream, data []byte, chunk int) {
	for i := 0; i < len(data); i += chunk {
		st.Write(data[i:min(i+chunk, len(data))])
	}
	st.Flush()
}

// BenchmarkParse measures the Stream with the default rules (in 64 KiB
// chunks, as analyze reads files, and in one piece), the Stream without
// severity rules, and the plain regexp baseline with and without rules, on
// the same generated log in one `go test -bench` run:
//
//	go test -run '^$' -bench Parse -benchtime 3x ./parser/
func BenchmarkParse(b *testing.B) {
	data := benchLog(b, *benchMB)
	var s sink
	st := NewStream(nil, s.emit)
	b.Run("stream-64KiB", func(b *testing.B) { measure(b, data, &s, func() { feed(st, data, 64<<10) }) })
	b.Run("stream-whole", func(b *testing.B) { measure(b, data, &s, func() { feed(st, data, len(data)) }) })
	b.Run("stream-no-rules", func(b *testing.B) {
		none, _ := CompileRules(nil)
		st := NewStream(none, s.emit)
		measure(b, data, &s, func() { feed(st, data, 64<<10) })
	})
	b.Run("regexp-baseline", func(b *testing.B) {
		p := newRegexpParser(DefaultRuleConfigs())
		measure(b, data, &s, func() { p.parse(data, s.emit) })
	})
	b.Run("regexp-baseline-no-rules", func(b *testing.B) {
		p := newRegexpParser(nil)
		measure(b, data, &s, func() { p.parse(data, s.emit) })
	})
}

// BenchmarkSpeedup times the Stream and the regexp baseline back to back on
// the same data in every iteration and reports the ratio.
//
//	go test -run '^$' -bench Speedup -benchtime 3x ./parser/
func BenchmarkSpeedup(b *testing.B) {
	data := benchLog(b, *benchMB)
	var s sink
	st := NewStream(nil, s.emit)
	p := newRegexpParser(DefaultRuleConfigs())
	backToBack(b, len(data), "stream", func() { feed(st, data, 64<<10) }, "regexp", func() { p.parse(data, s.emit) }, "speedup")
}

// backToBack runs first and then second on n bytes in every iteration of b
// and reports the speed of each (NAME-MB/s) and the ratio of their times
// (second over first) as the metric ratio.
func backToBack(b *testing.B, n int, firstName string, first func(), secondName string, second func(), ratio string) {
	var t1, t2 time.Duration
	for b.Loop() {
		t0 := time.Now()
		first()
		mid := time.Now()
		second()
		t1 += mid.Sub(t0)
		t2 += time.Since(mid)
	}
	mb := float64(n) / 1e6 * float64(b.N)
	b.ReportMetric(mb/t1.Seconds(), firstName+"-MB/s")
	b.ReportMetric(mb/t2.Seconds(), secondName+"-MB/s")
	b.ReportMetric(t2.Seconds()/t1.Seconds(), ratio)
}

// The baseline parses the same records as the Stream (fixtures and a
// generated log), so the benchmark compares equal work.
func TestBaselineAgrees(t *testing.T) {
	logs := fixtures(t)
	var gen bytes.Buffer
	if _, err := loggen.Write(&gen, 2<<20, benchSeed); err != nil {
		t.Fatal(err)
	}
	logs["generated"] = gen.Bytes()
	p := newRegexpParser(DefaultRuleConfigs())
	for name, data := range logs {
		var got []rec
		p.parse(data, func(r *Record) { got = append(got, copyRec(r)) })
		diffRecs(t, name, got, parseAll(nil, data))
	}
}

// The generated log has what the issue asks for: all four levels from both
// sources, both prefix forms, Chinese and English actions, ~3% continuation
// lines and glued records.
func TestGeneratedLogShape(t *testing.T) {
	var gen bytes.Buffer
	if _, err := loggen.Write(&gen, 4<<20, benchSeed); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	loggen.Write(&again, 4<<20, benchSeed)
	if !bytes.Equal(gen.Bytes(), again.Bytes()) {
		t.Fatal("generator is not deterministic")
	}
	var levels [NumSources][NumLevels]int
	actions := map[string]bool{}
	var form2, glued int
	for _, r := range parseAll(nil, gen.Bytes()) {
		levels[r.Source][r.Level]++
		if r.Action != "" {
			actions[r.Action] = true
		}
		if r.Raw[1] == 'S' {
			form2++
		}
		if r.Raw[len(r.Raw)-1] == ' ' {
			glued++
		}
	}
	lines := bytes.Count(gen.Bytes(), []byte{'\n'})
	noPrefix := lines - bytes.Count(gen.Bytes(), []byte("\n[2026")) - bytes.Count(gen.Bytes(), []byte("\n[Sep"))
	ratio := float64(noPrefix) / float64(lines)
	for src := range levels {
		for lv := range levels[src] {
			if levels[src][lv] == 0 {
				t.Errorf("no %v %v records", Source(src), Level(lv))
			}
		}
	}
	if !actions["代码检出"] || !actions["Code checkout"] || form2 == 0 || glued == 0 || ratio < 0.02 || ratio > 0.04 {
		t.Errorf("actions %v, form2 %d, glued %d, continuation ratio %.3f", actions, form2, glued, ratio)
	}
}

// BenchmarkAnalyzer measures the whole-log analysis of the generated log
// on one goroutine (Write) and on all cores (ReadLog), in one run;
// cpu-MB/s shows what the parallel version costs in CPU:
//
//	go test -run '^$' -bench Analyzer -benchtime 3x ./parser/
func BenchmarkAnalyzer(b *testing.B) {
	data := benchLog(b, *benchMB)
	var s sink
	b.Run("Write", func(b *testing.B) {
		measure(b, data, &s, func() {
			z := NewAnalyzer(nil)
			for i := 0; i < len(data); i += 256 << 10 {
				_, _ = z.Write(data[i:min(i+256<<10, len(data))])
			}
			s.records = int(z.Finish().Records)
		})
	})
	b.Run("ReadLog", func(b *testing.B) {
		measure(b, data, &s, func() {
			z := NewAnalyzer(nil)
			if _, err := z.ReadLog(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			s.records = int(z.Finish().Records)
		})
	})
}
