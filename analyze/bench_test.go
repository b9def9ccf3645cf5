package analyze

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/loggen"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// benchFile writes a log of about size bytes once per benchmark run.
func benchFile(b *testing.B, name string, size int64, write func(w *bufio.Writer, size int64) error) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := write(w, size); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

// syntheticLog is the generated log of the parser's benchmarks.
func syntheticLog(b *testing.B) string {
	return benchFile(b, "synthetic.log", 154<<20, func(w *bufio.Writer, size int64) error {
		_, err := loggen.Write(w, size, 1)
		return err
	})
}

// realLogs are the real fixtures repeated to about 150 MB.
func realLogs(b *testing.B) string {
	var logs [][]byte
	for _, n := range []string{"build-step-excerpt-success.log", "full-build-failure-pytest.log", "full-build-failure-truncated-tail.log"} {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			b.Fatal(err)
		}
		logs = append(logs, data)
	}
	return benchFile(b, "real.log", 150<<20, func(w *bufio.Writer, size int64) error {
		for n := int64(0); n < size; {
			for _, l := range logs {
				if _, err := w.Write(l); err != nil {
					return err
				}
				n += int64(len(l))
			}
		}
		return nil
	})
}

// cpuTime is the CPU time (user and system) this process has used: on a
// shared machine, the analysis's CPU per MB does not depend on whether a
// second core was free.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAnalyze times analyzeFile (reading, the text check and the
// Analyzer, all of `analyze` but the output) on a 154 MB synthetic log and
// on the real fixtures repeated to 150 MB, and in the same iteration the
// baselines: `wc -l` on the same file (when it is installed),
// parser.Stream alone on the same bytes, and the same analysis on one
// goroutine (the text check and Analyzer.Write, which is what ReadLog's
// workers and applier do between them). The file is in the page cache
// after the first iteration, for all of them. It also reports the CPU time
// of analyze per MB and over that of the bare parser
// (cpu_analyze/parser), which other work on the machine moves less than
// the wall times.
//
//	go test -run X -bench Analyze -benchtime 5x ./analyze
func BenchmarkAnalyze(b *testing.B) {
	for _, c := range []struct {
		name string
		file func(*testing.B) string
	}{{"synthetic-154MB", syntheticLog}, {"real-150MB", realLogs}} {
		b.Run(c.name, func(b *testing.B) {
			path := c.file(b)
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			wc, _ := exec.LookPath("wc")
			rules := parser.DefaultRules()
			var tAnalyze, tWC, tParser, tSeq, cAnalyze, cParser time.Duration
			b.SetBytes(st.Size())
			for b.Loop() {
				t0, c0 := time.Now(), cpuTime(b)
				if _, err := analyzeFile(path, nil, rules, parser.DefaultFailureRules()); err != nil {
					b.Fatal(err)
				}
				tAnalyze += time.Since(t0)
				cAnalyze += cpuTime(b) - c0
				if wc != "" {
					t0 = time.Now()
					if err := exec.Command(wc, "-l", path).Run(); err != nil {
						b.Fatal(err)
					}
					tWC += time.Since(t0)
				}
				t0, c0 = time.Now(), cpuTime(b)
				s := parser.NewStream(rules, func(*parser.Record) {})
				for p := data; len(p) > 0; {
					n := min(len(p), 256<<10)
					_, _ = s.Write(p[:n])
					p = p[n:]
				}
				s.Flush()
				tParser += time.Since(t0)
				cParser += cpuTime(b) - c0
				t0 = time.Now()
				z := parser.NewAnalyzer(rules)
				tr := &textReader{r: bytes.NewReader(data)}
				for p := make([]byte, 256<<10); ; {
					n, err := tr.Read(p)
					_, _ = z.Write(p[:n])
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				z.Finish()
				tSeq += time.Since(t0)
			}
			mb := float64(st.Size()) / 1e6 * float64(b.N)
			b.ReportMetric(mb/tAnalyze.Seconds(), "analyze_MB/s")
			b.ReportMetric(mb/tParser.Seconds(), "parser_MB/s")
			b.ReportMetric(tAnalyze.Seconds()/tParser.Seconds(), "analyze/parser")
			b.ReportMetric(mb/cAnalyze.Seconds(), "analyze_cpu-MB/s")
			b.ReportMetric(cAnalyze.Seconds()/cParser.Seconds(), "cpu_analyze/parser")
			b.ReportMetric(mb/tSeq.Seconds(), "sequential_MB/s")
			b.ReportMetric(tAnalyze.Seconds()/tSeq.Seconds(), "analyze/sequential")
			if wc != "" {
				b.ReportMetric(mb/tWC.Seconds(), "wc-l_MB/s")
				b.ReportMetric(tAnalyze.Seconds()/tWC.Seconds(), "analyze/wc-l")
			}
		})
	}
}
