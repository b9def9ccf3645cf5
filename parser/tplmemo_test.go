package parser

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestTemplateMemoEqualsAdd checks the analysis's signatures, whose workers
// reuse the template of an equal error line seen earlier in their block,
// against Signatures.Add on every error line. The lines are built to fall
// into the same memo slot (the same length, first, middle and last byte)
// while their templates differ, so a memo that trusted its slot would
// count them under the wrong template. The log spans several blocks, so a
// memo not emptied when its block is reused fails it too.
func TestTemplateMemoEqualsAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const free = "ab1 /.Z"
	var log bytes.Buffer
	want := NewSignatures()
	line := int64(1)
	for i := range 100000 {
		msg := []byte("E..................Z")
		for j := 1; j < len(msg)-1; j++ {
			if j != len(msg)/2 {
				msg[j] = free[rng.IntN(len(free))]
			}
		}
		if i%3 == 0 { // and repeats, which the memo serves
			msg = []byte("Eab1 ab1 aMb1 ab1 aZ")
		}
		fmt.Fprintf(&log, "[2026/09/10 17:26:22.764 GMT+08:00] [ERROR] [Build:step] : %s\n", msg)
		want.Add(msg, line)
		line++
	}
	z := NewAnalyzer(DefaultRules())
	if _, err := z.ReadLog(bytes.NewReader(log.Bytes())); err != nil {
		t.Fatal(err)
	}
	a := z.Finish()
	top, count := want.Top(MaxTopSignatures)
	if a.SignatureCount != count || len(a.Signatures) != len(top) {
		t.Fatalf("%d templates, top %d; want %d, top %d", a.SignatureCount, len(a.Signatures), count, len(top))
	}
	for i := range top {
		g, w := a.Signatures[i], top[i]
		if g.Template != w.Template || g.Count != w.Count || g.FirstLine != w.FirstLine {
			t.Errorf("signature %d = %q ×%d from line %d; want %q ×%d from line %d", i, g.Template, g.Count, g.FirstLine, w.Template, w.Count, w.FirstLine)
		}
	}
}
