package parser

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// analyseDeferred runs ReadLogAt over data with the given block size,
// workers and trail budget (0: the defaults); spans of over 1 KiB are read
// again in blocks, when blockSize is odd.
func analyseDeferred(t testing.TB, data []byte, ra io.ReaderAt, blockSize, workers, limit int) *Analysis {
	t.Helper()
	z := NewAnalyzer(nil)
	z.blockSize, z.workers, z.trails.limit = blockSize, workers, limit
	if blockSize%2 == 1 {
		z.trails.parallel = 1 << 10
	}
	if ra == nil {
		ra = bytes.NewReader(data)
	}
	if _, err := z.ReadLogAt(bytes.NewReader(data), ra); err != nil {
		t.Fatalf("ReadLogAt: %v", err)
	}
	return z.Finish()
}

// outputPool is the tool output of the failure corpus without prefixes:
// lines that hit the failure rules, error lines, codes and exit codes.
func outputPool(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob("testdata/failures/*.log")
	if err != nil || len(paths) == 0 {
		t.Fatalf("failure corpus: %v", err)
	}
	prefix := regexp.MustCompile(`^\[[^\]]*\] `)
	var pool []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for l := range strings.Lines(string(b)) {
			l = strings.TrimRight(l, "\n")
			if m := prefix.FindStringIndex(l); m != nil && !strings.HasPrefix(l[m[1]:], "[") {
				pool = append(pool, l[m[1]:])
			}
		}
	}
	return pool
}

// failLog generates a log of action runs for the deferred analysis: runs
// that fail (by a platform error, a fail marker or an exit code) or
// succeed, long and short, with tool output from the failure corpus, a DEV.CB
// code or an exit code far before the failure point, platform lines of other
// tags inside runs, untagged output between runs, and a build that fails
// or not.
func failLog(rng *rand.Rand, pool []string, records int) []byte {
	var b strings.Builder
	ms := int64(0)
	rec := func(body string) {
		ms += int64(rng.IntN(900))
		sec := ms / 1000
		fmt.Fprintf(&b, "[2026/09/10 %02d:%02d:%02d.%03d GMT+08:00] %s\n", 10+sec/3600%10, sec/60%60, sec%60, ms%1000, body)
	}
	tags := []string{"Maven构建:maven_build", "Run Shell:sh", "代码检出:checkout", "Npm构建:npm"}
	for n := 0; n < records; {
		tag := tags[rng.IntN(len(tags))]
		switch rng.IntN(6) {
		case 0: // untagged output outside runs, or a tag with no start
			for range rng.IntN(80) {
				rec(pool[rng.IntN(len(pool))])
				n++
			}
			rec("[ERROR] [" + tags[rng.IntN(len(tags))] + "] : stray platform error")
			n++
			continue
		}
		rec("[INFO] [" + tag + "] : This step is start")
		long := rng.IntN(3) == 0
		size := 1 + rng.IntN(120)
		if long {
			size = 500 + rng.IntN(3000)
		}
		for i := range size {
			switch k := rng.IntN(100); {
			case i == 3 && rng.IntN(3) == 0:
				rec("[WARN] [" + tag + "] : DEV.CB.0" + fmt.Sprint(1000000+rng.IntN(9000000)) + " far before the point")
			case k < 3:
				rec("[INFO] [" + tags[rng.IntN(len(tags))] + "] : another action's progress")
			case k < 5:
				rec("[ERROR] [" + tag + "] : compile step reported an error")
			case k < 6:
				rec("script returned exit code " + fmt.Sprint(rng.IntN(3)))
			default:
				rec(pool[rng.IntN(len(pool))])
			}
		}
		n += size + 2
		switch rng.IntN(4) {
		case 0:
			rec("[ERROR] [" + tag + "] : Failed to complete this step")
		case 1:
			// no end: the next start ends the run
		default:
			rec("[INFO] [" + tag + "] : This step is complete")
		}
	}
	switch rng.IntN(3) {
	case 0:
		rec("Finished: FAILURE")
	case 1:
		rec("Finished: SUCCESS")
	}
	return []byte(b.String())
}

// failLogs are generated logs with failed runs (and with none), some
// built so that runs cross many small blocks.
func failLogs(t testing.TB) map[string][]byte {
	pool := outputPool(t)
	in := map[string][]byte{}
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 11))
		in[fmt.Sprint("generated/", seed)] = failLog(rng, pool, 200+rng.IntN(6000))
	}
	return in
}

// The deferred analysis equals the sequential one on the fixtures, the
// failure corpus and their variants, and on generated logs with failed
// runs, with blocks whose edges fall inside runs and records, and with a
// trail budget so small that it falls back to one pass.
func TestDeferredAnalysisEqualsSequential(t *testing.T) {
	inputs := parallelInputs(t)
	for name, data := range failLogs(t) {
		inputs[name] = data
	}
	for name, data := range inputs {
		want := analyseSequential(data)
		for _, c := range []struct{ size, workers, limit int }{{37, 2, 0}, {512, 3, 0}, {4093, 1, 0}, {0, 2, 0}, {512, 2, 3}} {
			got := analyseDeferred(t, data, nil, c.size, c.workers, c.limit)
			equalAnalysis(t, fmt.Sprintf("%s, blocks of %d, %d workers, %d segments", name, c.size, c.workers, c.limit), got, want)
		}
	}
}

// rangeReader records the byte ranges read through ReadAt.
type rangeReader struct {
	r      io.ReaderAt
	mu     sync.Mutex
	ranges [][2]int64
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.r.ReadAt(p, off)
	r.mu.Lock()
	r.ranges = append(r.ranges, [2]int64{off, off + int64(n)})
	r.mu.Unlock()
	return n, err
}

func (r *rangeReader) read() int64 {
	var n int64
	for _, g := range r.ranges {
		n += g[1] - g[0]
	}
	return n
}

// stamp is a record's timestamp prefix.
func stamp(i int) string {
	return fmt.Sprintf("[2026/09/10 17:%02d:%02d.%03d GMT+08:00] ", i/60000%60, i/1000%60, i%1000)
}

// The second pass reads the failed run's records from a little before its
// last error, and nothing of the successful runs around it: a failed run
// of many blocks, known to fail only at its end, whose deciding rule hit
// (not an error line) is after its last error, and whose DEV.CB code is in
// a rule hit near its start.
func TestDeferredReadsOnlyTheFailedRunsTail(t *testing.T) {
	var b strings.Builder
	i := 0
	add := func(body string) { b.WriteString(stamp(i) + body + "\n"); i++ }
	run := func(tag string, n int, fail bool) (from, to int) {
		from = b.Len()
		add("[INFO] [" + tag + "] : This step is start")
		if fail {
			add("npm ERR! code E404 DEV.CB.0123456") // a rule hit with a code, no error
			add("[ERROR] an early error")            // tool output: the run does not fail by it
		}
		for k := range n {
			add(fmt.Sprintf("compiling module %d of %d", k, n))
		}
		if fail {
			add("[ERROR] the last error")
			for k := range 30 {
				add(fmt.Sprintf("cleanup %d", k))
			}
			add("fatal: Authentication failed for 'https://example.com/repo.git/'") // a rule hit after it
			add("[ERROR] [" + tag + "] : Failed to complete this step")
		} else {
			add("[INFO] [" + tag + "] : This step is complete")
		}
		return from, b.Len()
	}
	run("Build:a", 3000, false)
	from, to := run("Test:b", 20000, true)
	run("Deploy:c", 3000, false)
	add("Finished: FAILURE")
	data := []byte(b.String())

	want := analyseSequential(data)
	if len(want.Failures) != 1 || want.Failures[0].Rule == "" || want.Failures[0].Code != "DEV.CB.0123456" {
		t.Fatalf("the log does not test what it should: %+v", want.Failures)
	}
	rr := &rangeReader{r: bytes.NewReader(data)}
	got := analyseDeferred(t, data, rr, 4096, 2, 0)
	equalAnalysis(t, "failed run", got, want)
	for _, g := range rr.ranges {
		if g[0] < int64(from) || g[1] > int64(to) {
			t.Errorf("read bytes %d-%d outside the failed run (%d-%d)", g[0], g[1], from, to)
		}
	}
	if n := rr.read(); n == 0 || n > 8<<10 {
		t.Errorf("read %d bytes again; want its last records (under 8 KiB of the run's %d)", n, to-from)
	}

	// Without a failure nothing is read again.
	data = bytes.Replace(data, []byte("Finished: FAILURE"), []byte("Finished: SUCCESS"), 1)
	data = bytes.ReplaceAll(data, []byte("[ERROR] [Test:b] : Failed to complete this step"), []byte("[INFO] [Test:b] : This step is complete"))
	rr = &rangeReader{r: bytes.NewReader(data)}
	equalAnalysis(t, "no failure", analyseDeferred(t, data, rr, 4096, 2, 0), analyseSequential(data))
	if len(rr.ranges) > 0 {
		t.Errorf("read %v again for a log without a failure", rr.ranges)
	}
}

// Once a run is known to fail (here by a platform error at its start), the
// first pass matches the records of the blocks it hands out from then on,
// and the run is not read again.
func TestDeferredKnownFailedRunMatchedOnce(t *testing.T) {
	var b strings.Builder
	b.WriteString(stamp(0) + "[INFO] [Build:b] : This step is start\n" + stamp(1) + "[ERROR] [Build:b] : the one platform error\n")
	for i := 2; i < 30000; i++ {
		b.WriteString(stamp(i) + fmt.Sprintf("compiling module %d\n", i))
		if i == 29980 {
			b.WriteString(stamp(i) + "fatal: Authentication failed for 'https://example.com/repo.git/'\n")
		}
	}
	data := []byte(b.String())
	want := analyseSequential(data)
	if len(want.Failures) != 1 || want.Failures[0].Rule == "" {
		t.Fatalf("the log does not test what it should: %+v", want.Failures)
	}
	rr := &rangeReader{r: bytes.NewReader(data)}
	equalAnalysis(t, "known failed run", analyseDeferred(t, data, rr, 4096, 2, 0), want)
	if len(rr.ranges) > 0 {
		t.Errorf("read %d bytes again", rr.read())
	}
}

// When the build failed and no run did, the classifier with the newest
// evidence is found without reading all others again: the real fixtures
// one after another.
func TestDeferredEvidenceReadsLittle(t *testing.T) {
	fx := fixtures(t)
	var data []byte
	for range 20 {
		for _, n := range []string{"build-step-excerpt-success.log", "full-build-failure-pytest.log", "full-build-failure-truncated-tail.log"} {
			data = append(data, fx[n]...)
		}
	}
	want := analyseSequential(data)
	if len(want.Failures) != 1 || want.Failures[0].BlamedBy != BlamedByEvidence {
		t.Fatalf("the log does not test what it should: %+v", want.Failures)
	}
	rr := &rangeReader{r: bytes.NewReader(data)}
	equalAnalysis(t, "evidence", analyseDeferred(t, data, rr, 0, 2, 0), want)
	if n := rr.read(); n == 0 || n > int64(len(data))/20 {
		t.Errorf("read %d of %d bytes again", n, len(data))
	}
}

// A log that changed between the passes is an error, not a wrong result.
func TestDeferredChangedLog(t *testing.T) {
	data := fixtures(t)["maven-npm-go.log"]
	changed := bytes.ReplaceAll(data, []byte("GMT+08:00]"), []byte("GMT+08:00)")) // fewer records
	z := NewAnalyzer(nil)
	if _, err := z.ReadLogAt(bytes.NewReader(data), bytes.NewReader(changed)); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("ReadLogAt over a changed log: %v", err)
	}
	boom := errors.New("boom")
	z = NewAnalyzer(nil)
	if _, err := z.ReadLogAt(bytes.NewReader(data), errReaderAt{boom}); !errors.Is(err, boom) {
		t.Errorf("ReadLogAt with a failing ReadAt: %v", err)
	}
}

type errReaderAt struct{ err error }

func (e errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, e.err }

// BenchmarkAnalyzerDeferred compares, in every iteration and on the same
// bytes in memory, ReadLogAt (the failure rules where their verdict is
// used) with ReadLog (the failure rules on every record): on the generated
// log of the other benchmarks (no action runs, no build result: nothing to
// classify), on the real fixtures one after another (the build failed, no
// run did), and on one failed run whose only error line is its first
// record (known to fail from there, so matched by the first pass: before
// that, the worst case, read again whole).
//
//	go test -run '^$' -bench AnalyzerDeferred -benchtime 3x ./parser/
func BenchmarkAnalyzerDeferred(b *testing.B) {
	size := *benchMB << 20
	fx := fixtures(b)
	inputs := []struct {
		name string
		data func() []byte
	}{
		{"generated", func() []byte { return benchLog(b, *benchMB) }},
		{"real-fixtures", func() []byte {
			var d []byte
			for len(d) < size {
				for _, n := range []string{"build-step-excerpt-success.log", "full-build-failure-pytest.log", "full-build-failure-truncated-tail.log"} {
					d = append(d, fx[n]...)
				}
			}
			return d
		}},
		{"failed-run-early-error", func() []byte {
			d := []byte(stamp(0) + "[INFO] [Build:b] : This step is start\n" + stamp(1) + "[ERROR] [Build:b] : the one error\n")
			for i := 2; len(d) < size; i++ {
				d = append(d, stamp(i)+"[INFO] Compiling 214 source files with javac [debug target 17] to target/classes\n"...)
			}
			return d
		}},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			data := in.data()
			var wall, cpu [2]time.Duration // ReadLog, ReadLogAt
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				for i := range 2 {
					t0, c0 := time.Now(), cpuTime()
					z := NewAnalyzer(nil)
					var err error
					if i == 0 {
						_, err = z.ReadLog(bytes.NewReader(data))
					} else {
						_, err = z.ReadLogAt(bytes.NewReader(data), bytes.NewReader(data))
					}
					if err != nil {
						b.Fatal(err)
					}
					z.Finish()
					wall[i] += time.Since(t0)
					cpu[i] += cpuTime() - c0
				}
			}
			mb := float64(len(data)) * float64(b.N) / 1e6
			b.ReportMetric(mb/wall[1].Seconds(), "deferred_MB/s")
			b.ReportMetric(mb/wall[0].Seconds(), "onepass_MB/s")
			b.ReportMetric(wall[1].Seconds()/wall[0].Seconds(), "deferred/onepass")
			if cpu[0] > 0 {
				b.ReportMetric(cpu[1].Seconds()/cpu[0].Seconds(), "cpu_deferred/onepass")
			}
		})
	}
}
