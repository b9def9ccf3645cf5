package parser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// longRecordLog is a log whose second record continues over many lines
// without a prefix, size bytes in all, followed by an error record on the
// line errLine; end is its last record's text.
func longRecordLog(size int, end string) (data []byte, errLine int64) {
	var b bytes.Buffer
	b.WriteString("[2026/09/10 17:26:22.661 GMT+08:00] [INFO] [编译构建:abc] : This step is start\n")
	b.WriteString("[2026/09/10 17:26:22.700 GMT+08:00] downloading\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "  progress line %d of a record without a prefix, 构建\n", i)
	}
	errLine = int64(bytes.Count(b.Bytes(), []byte{'\n'})) + 1
	b.WriteString("[2026/09/10 17:26:23.000 GMT+08:00] npm ERR! code ECONNRESET\n")
	b.WriteString(end)
	return b.Bytes(), errLine
}

// wantLines is Analysis.Lines by its definition: '\n'-terminated lines
// plus an unterminated last one.
func wantLines(data []byte) int {
	n := bytes.Count(data, []byte{'\n'})
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// The line numbers after a record longer than MaxCarriedBytes count its
// lines, also those of the part that is not kept: in the analysis (every
// way of feeding it) and in the failure classifier's evidence, across a
// saved and restored state.
func TestLongRecordLineNumbers(t *testing.T) {
	for _, c := range []struct {
		name string
		size int
		end  string
	}{
		{"200 KB record", 200 << 10, "[2026/09/10 17:26:24.000 GMT+08:00] Finished: FAILURE\n"},
		{"3 MB record, longer than a block", 3 << 20, "[2026/09/10 17:26:24.000 GMT+08:00] Finished: FAILURE"},
		{"log ends in a long record", 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, errLine := longRecordLog(c.size, c.end)
			if c.size == 0 { // the long record is the last one, ending with '\n'
				data = append(data, "[2026/09/10 17:26:25.000 GMT+08:00] tail"...)
				for len(data) < 300<<10 {
					data = append(data, "\nmore of the last record"...)
				}
				data = append(data, '\n')
			}
			check := func(how string, a *Analysis) {
				t.Helper()
				if a.Lines != wantLines(data) {
					t.Errorf("%s: Lines = %d, want %d", how, a.Lines, wantLines(data))
				}
				if a.FirstError == nil || int64(a.FirstError.Line) != errLine {
					t.Errorf("%s: first error %+v, want line %d", how, a.FirstError, errLine)
				}
			}
			check("Write whole", analyseSequential(data))
			for _, chunk := range []int{1000, 64 << 10, 100_003} {
				z := NewAnalyzer(nil)
				for p := data; len(p) > 0; {
					n := min(len(p), chunk)
					_, _ = z.Write(p[:n])
					p = p[n:]
				}
				check(fmt.Sprintf("Write in chunks of %d", chunk), z.Finish())
			}
			for _, size := range []int{0, 4096, 70 << 10} {
				check(fmt.Sprintf("ReadLog, blocks of %d", size), analyseParallel(t, bytes.NewReader(data), size, 2))
			}

			// The classifier, fed through a Stream whose state is saved
			// and restored (through JSON, as the collector stores it) in
			// the middle of the long record.
			cut := len(data) / 2
			c1 := NewFailureClassifier(nil)
			s1 := NewStream(nil, c1.Record)
			_, _ = s1.Write(data[:cut])
			var st StreamState
			var fst FailureState
			roundTrip(t, s1.State(), &st)
			roundTrip(t, c1.State(), &fst)
			c2 := NewFailureClassifier(nil)
			c2.Restore(fst)
			s2 := NewStream(nil, c2.Record)
			s2.Restore(st)
			_, _ = s2.Write(data[cut:])
			s2.Flush()
			f := c2.Result()
			found := false
			for _, e := range f.Evidence {
				if strings.Contains(e.Text, "ECONNRESET") {
					found = true
					if e.Line != errLine {
						t.Errorf("classifier evidence %q on line %d, want %d", e.Text, e.Line, errLine)
					}
				}
			}
			if !found {
				t.Errorf("classifier evidence %+v lacks the error record", f.Evidence)
			}
		})
	}
}

func roundTrip(t *testing.T, v, into any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}
