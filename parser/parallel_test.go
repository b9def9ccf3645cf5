package parser

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/codearts-build-exporter/codearts_build_exporter/internal/loggen"
)

// analyseSequential is the reference: the log written whole to an Analyzer.
func analyseSequential(data []byte) *Analysis {
	z := NewAnalyzer(nil)
	_, _ = z.Write(data)
	return z.Finish()
}

// analyseParallel runs ReadLog with the given block size and workers.
func analyseParallel(t testing.TB, r io.Reader, blockSize, workers int) *Analysis {
	t.Helper()
	z := NewAnalyzer(nil)
	z.blockSize, z.workers = blockSize, workers
	if _, err := z.ReadLog(r); err != nil {
		t.Fatalf("ReadLog: %v", err)
	}
	return z.Finish()
}

func equalAnalysis(t testing.TB, name string, got, want *Analysis) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, w := fmt.Sprintf("%+v", *got), fmt.Sprintf("%+v", *want)
		i := 0
		for i < min(len(g), len(w)) && g[i] == w[i] {
			i++
		}
		t.Fatalf("%s: parallel analysis differs from the sequential one at\n got %.300s\nwant %.300s", name, g[max(0, i-100):], w[max(0, i-100):])
	}
}

// parallelInputs are the fixtures of analyze, the failure corpus, a
// synthetic log, and variants with CRLF line ends, records glued mid-line,
// long records and a log that starts without a prefix.
func parallelInputs(t testing.TB) map[string][]byte {
	in := fixtures(t)
	paths, err := filepath.Glob("testdata/failures/*.log")
	if err != nil || len(paths) < 10 {
		t.Fatalf("failure corpus: %v (found %d)", err, len(paths))
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		in["failures/"+filepath.Base(p)] = b
	}
	var syn bytes.Buffer
	if _, err := loggen.Write(&syn, 1<<20, 3); err != nil {
		t.Fatal(err)
	}
	in["synthetic"] = syn.Bytes()
	for name, b := range fixtures(t) {
		in[name+"/crlf"] = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
		// Every other line glued to the one before: prefixes mid-line.
		in[name+"/glued"] = bytes.ReplaceAll(b, []byte("\n["), []byte("["))
		in[name+"/unprefixed-head"] = append([]byte("启动 build agent\nno prefix yet\n"), b...)
	}
	long := strings.Repeat("长行 GMT [2026/09/10 ", MaxCarriedBytes/8)
	// Shifted by 0-2 bytes, so that one of them is cut inside a character
	// at MaxCarriedBytes.
	for pad := range 3 {
		in[fmt.Sprint("long-records/", pad)] = []byte(strings.Repeat("x", pad) +
			"[2026/09/10 17:26:22.661 GMT+08:00] [ERROR] [编译构建:abc] : " + long + "\n" +
			"[2026/09/10 17:26:23.661 GMT+08:00] exit code 2 " + strings.Repeat("y", pad) + long + "\r\n" +
			"[2026/09/10 17:26:24.661 GMT+08:00] Finished: FAILURE\n")
	}
	return in
}

// The parallel analysis equals the sequential one for every input, with
// blocks so small that their boundaries fall inside records, prefixes,
// CRLF pairs and UTF-8 characters, and with the default blocks.
func TestParallelAnalysisEqualsSequential(t *testing.T) {
	for name, data := range parallelInputs(t) {
		want := analyseSequential(data)
		sizes := []int{1, 7, 37, 100, 4093, 0}
		if len(data) > 200<<10 {
			sizes = []int{37, 4093, 0} // keep the big ones fast
		}
		for _, size := range sizes {
			for _, workers := range []int{1, 3} {
				got := analyseParallel(t, bytes.NewReader(data), size, workers)
				equalAnalysis(t, fmt.Sprintf("%s, blocks of %d, %d workers", name, size, workers), got, want)
			}
		}
		// Reads of any length, as from a pipe.
		got := analyseParallel(t, iotest.HalfReader(bytes.NewReader(data)), 512, 2)
		equalAnalysis(t, name+", half reads", got, want)
	}
}

// patternReader yields head, then n bytes of pattern repeated, then tail,
// without holding the n bytes.
type patternReader struct {
	head, pattern, tail []byte
	n                   int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	switch {
	case len(p.head) > 0:
		k := copy(b, p.head)
		p.head = p.head[k:]
		return k, nil
	case p.n > 0:
		k := 0
		for k < len(b) && p.n > 0 {
			c := copy(b[k:min(len(b), k+int(min(p.n, int64(len(p.pattern)))))], p.pattern)
			k += c
			p.n -= int64(c)
		}
		return k, nil
	case len(p.tail) > 0:
		k := copy(b, p.tail)
		p.tail = p.tail[k:]
		return k, nil
	}
	return 0, io.EOF
}

// A record far longer than any block (one line of 256 MiB with no prefix,
// but with bytes that begin one) gives the sequential result, and the
// parallel analysis keeps its memory bounded while reading past it.
func TestParallelAnalysisLongRecord(t *testing.T) {
	const n = 256 << 20
	head := []byte("[2026/09/10 17:26:22.661 GMT+08:00] [ERROR] [编译构建:abc] : This step is start\n" +
		"[2026/09/10 17:26:23.661 GMT+08:00] npm ERR! ")
	pattern := []byte("GMT [2026/09/10 17:26:2 代码\r")
	tail := []byte("[2026/09/10 17:26:24.661 GMT+08:00] Finished: FAILURE\n")
	for _, c := range []struct {
		name string
		head []byte
	}{{"after a prefix", head}, {"at the log start", nil}} {
		t.Run(c.name, func(t *testing.T) {
			seq := NewAnalyzer(nil)
			if _, err := io.Copy(seq, &patternReader{head: c.head, pattern: pattern, tail: tail, n: n}); err != nil {
				t.Fatal(err)
			}
			want := seq.Finish()

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			got := analyseParallel(t, &patternReader{head: c.head, pattern: pattern, tail: tail, n: n}, 0, 2)
			runtime.ReadMemStats(&after)
			equalAnalysis(t, c.name, got, want)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("ReadLog allocated %d MiB for a %d MiB record", alloc>>20, n>>20)
			}
		})
	}
}

// A read error ends the analysis with that error; what was read before is
// analysed.
func TestParallelAnalysisReadError(t *testing.T) {
	data := fixtures(t)["full-build-failure-pytest.log"]
	boom := errors.New("boom")
	z := NewAnalyzer(nil)
	z.blockSize = 4096
	n, err := z.ReadLog(io.MultiReader(bytes.NewReader(data[:10000]), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || n != 10000 {
		t.Fatalf("ReadLog = %d, %v; want 10000, boom", n, err)
	}
	equalAnalysis(t, "cut by an error", z.Finish(), analyseSequential(data[:10000]))

	z = NewAnalyzer(nil)
	_, _ = z.Write([]byte("x"))
	if _, err := z.ReadLog(bytes.NewReader(data)); err == nil {
		t.Error("ReadLog after Write: no error")
	}
}

// FuzzParallelAnalysis: for any input, block size and worker count, the
// parallel analysis, with the failure rules in one pass or two, equals the
// sequential one.
func FuzzParallelAnalysis(f *testing.F) {
	for name, data := range parallelInputs(f) {
		if strings.Contains(name, "/") && !strings.HasPrefix(name, "failures/") {
			continue // the variants: their windows are below
		}
		for off := 0; off < len(data) && off < 64<<10; off += 3000 {
			f.Add(data[off:min(off+4096, len(data))], uint16(off%97), uint8(off%4))
		}
	}
	f.Add([]byte("[2026/09/10 17:26:22.661 GMT+08:00] [ERROR] [a:b] : x\r\n[2026/09/10 17:26:22.661 GMT+08:00]"), uint16(36), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, size uint16, workers uint8) {
		want := analyseSequential(data)
		got := analyseParallel(t, iotest.HalfReader(bytes.NewReader(data)), int(size), int(workers%4))
		equalAnalysis(t, "fuzz", got, want)
		rng := rand.New(rand.NewPCG(uint64(size), uint64(len(data))))
		got = analyseParallel(t, bytes.NewReader(data), 1+rng.IntN(64), 2)
		equalAnalysis(t, "fuzz, random block", got, want)
		// The failure rules in a second pass (deferred.go), also with a
		// budget of spans so small that it falls back to one pass.
		got = analyseDeferred(t, data, nil, 1+rng.IntN(256), 2, rng.IntN(4))
		equalAnalysis(t, "fuzz, deferred", got, want)
	})
}
