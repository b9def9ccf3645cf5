package parser

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// FuzzStream: for any input, no panic, the records' bytes add up to the
// input, every record but the first starts with a prefix, and feeding the
// input in random chunks (with the state moved through JSON into a new
// Stream at some cuts) gives exactly the records of feeding it whole. The
// seed corpus is every fixture plus hand-made edge cases; plain `go test`
// runs the seeds, `go test -fuzz FuzzStream ./parser` explores.
func FuzzStream(f *testing.F) {
	// The fixtures in windows of at most 4 KiB (starting anywhere, so also
	// mid-record): small inputs keep the fuzzer fast.
	for _, data := range fixtures(f) {
		for off := 0; off < len(data); off += 3000 {
			f.Add(data[off:min(off+4096, len(data))], uint64(off))
		}
	}
	for _, s := range []string{
		"", "[", "[2026/09/10 17:26:22.661 GMT+08:00]", "x[2026/09/10 17:26:22.661 GMT+08:00][2026/09/10 17:26:22.661 GMT+08:00]",
		"[Sep 4, 2026 02:29:37.820 GMT+08:00] [INTERNAL] [Cache Check] : This action starts.\r\n",
		"[2026/09/10 17:26:22.661 GMT+08:00] [ERROR]  : script returned exit code 1\n\xff\xfe\x00",
		"\xe4\xbb[2026/09/10 17:26:22.661 GMT+08:00] 代码检出 [Sep 14, 2026 02:29:37.820 GMT-08:00]",
		"[2026/09/10 17:26:22.661 GMT+08:00] [INFO] [" + string(make([]byte, 600)) + "] : x",
	} {
		f.Add([]byte(s), uint64(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		whole := parseAll(nil, data)
		// (A record longer than MaxCarriedBytes keeps only its head; Cut
		// accounts for the rest.)
		if sum := sumRaw(whole); sum != len(data) {
			t.Fatalf("records cover %d bytes of %d", sum, len(data))
		}
		var newlines int64
		for _, r := range whole {
			newlines += int64(strings.Count(r.Raw, "\n")) + r.Cut.Newlines
		}
		if want := int64(bytes.Count(data, []byte{'\n'})); newlines != want {
			t.Fatalf("records hold %d line ends of %d", newlines, want)
		}
		for i, r := range whole {
			if len(r.Raw) == 0 {
				t.Fatalf("record %d is empty", i)
			}
			if i > 0 && !r.HasTime {
				t.Fatalf("record %d has no prefix: %q", i, r.Raw)
			}
		}
		rng := rand.New(rand.NewPCG(seed, uint64(len(data))))
		var cuts []int
		step := max(64, len(data)/256) // at most a few hundred chunks
		for c := 0; len(data) > 0; {
			c += 1 + rng.IntN(min(len(data), step))
			if c >= len(data) {
				break
			}
			cuts = append(cuts, c)
		}
		var got []rec
		emit := func(r *Record) { got = append(got, copyRec(r)) }
		s := NewStream(nil, emit)
		prev := 0
		for _, c := range append(cuts, len(data)) {
			s.Write(data[prev:c])
			prev = c
			if rng.IntN(8) == 0 {
				js, err := json.Marshal(s.State())
				if err != nil {
					t.Fatal(err)
				}
				var st StreamState
				if err := json.Unmarshal(js, &st); err != nil {
					t.Fatal(err)
				}
				s = NewStream(nil, emit)
				s.Restore(st)
			}
		}
		s.Flush()
		diffRecs(t, "chunked", got, whole)

		// The whole-log analysis does not panic and counts every record.
		z := NewAnalyzer(nil)
		z.Write(data)
		a := z.Finish()
		if a.Records != int64(len(whole)) || a.Bytes != int64(len(data)) {
			t.Fatalf("analysis counts %d records / %d bytes, want %d / %d", a.Records, a.Bytes, len(whole), len(data))
		}
	})
}

// FuzzRestore: a StreamState that did not come from State (a corrupt or
// edited state file) never makes the stream panic or lose bytes.
func FuzzRestore(f *testing.F) {
	f.Add([]byte("[2026/09/10 17:26:22.661 GMT+08:00] a [2026/09"), []byte("/10 17:26:22.661 GMT+08:00] b"))
	f.Add([]byte("[2026/09/10 17:2"), []byte(""))
	f.Fuzz(func(t *testing.T, pending, next []byte) {
		n := 0
		s := NewStream(nil, func(r *Record) { n += len(r.Raw) })
		s.Restore(StreamState{Pending: pending})
		s.Write(next)
		s.Flush()
		if n != len(pending)+len(next) {
			t.Fatalf("emitted %d bytes of %d", n, len(pending)+len(next))
		}
	})
}

// classifySeeds are the seed messages of FuzzClassify and FuzzSharedMatch.
var classifySeeds = []string{"[INFO] BUILD FAILURE", "+ echo 'error: x'", "npm ERR! x", "FAIL\tx", "x exit code 3", "Warning: x", "a:b]c"}

// FuzzClassify: the prefiltered classification equals trying every default
// rule in order.
func FuzzClassify(f *testing.F) {
	for _, s := range classifySeeds {
		f.Add([]byte(s))
	}
	rules := DefaultRuleConfigs()
	res := make([]*regexp.Regexp, len(rules))
	for i, rc := range rules {
		if rc.Regex != "" {
			res[i] = regexp.MustCompile(rc.Regex)
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		_, got := DefaultRules().Classify(msg)
		if want := naive(rules, res, msg); got != want {
			t.Fatalf("%q: prefilter picks rule %d, naive %d", msg, got, want)
		}
	})
}
