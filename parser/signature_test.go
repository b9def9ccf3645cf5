package parser

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSignaturesGroupVariants(t *testing.T) {
	s := NewSignatures()
	s.Add([]byte("[ERROR] Failed to execute cases for env_id: cann_A2_device_1, retry 3"), 10)
	s.Add([]byte("[ERROR] Failed to execute cases for env_id: cann_A2_device_4, retry 1\ncontinuation"), 20)
	s.Add([]byte("npm ERR! code ELIFECYCLE"), 30)
	s.Add([]byte("npm ERR! code E404"), 40)
	s.Add([]byte("RuntimeError: Environment allocation rejected: Unknown"), 50)
	s.Add([]byte("RuntimeError: Environment allocation rejected: Unknown"), 60)
	top, n := s.Top(10)
	want := []Signature{
		{Template: "[ERROR] Failed to execute cases for env_id: <*> retry <*>", Count: 2, FirstLine: 10},
		{Template: "npm ERR! code <*>", Count: 2, FirstLine: 30},
		{Template: "RuntimeError: Environment allocation rejected: Unknown", Count: 2, FirstLine: 50},
	}
	if n != 3 || fmt.Sprint(top) != fmt.Sprint(want) {
		t.Errorf("Top = %d %+v\nwant 3 %+v", n, top, want)
	}
}

func TestSignaturesMaskVariableTokens(t *testing.T) {
	s := NewSignatures()
	s.Add([]byte("/workspace/src/decoder.cpp:77:10: fatal error: frame_pool.h: No such file or directory"), 1)
	top, _ := s.Top(1)
	if got := top[0].Template; got != "<*> fatal error: frame_pool.h: No such file or directory" {
		t.Errorf("template %q", got)
	}
}

// Memory stays bounded: at most MaxSignatures templates, the rest counted.
func TestSignaturesBounded(t *testing.T) {
	s := NewSignatures()
	letters := func(k int) string { // a token without digits, distinct per k
		var b strings.Builder
		for ; k > 0 || b.Len() == 0; k /= 26 {
			b.WriteByte(byte('a' + k%26))
		}
		return b.String()
	}
	n := 0
	for i := range 5000 {
		// Distinct tokens at every position: nothing merges.
		s.Add([]byte(letters(i)+" "+letters(i+7)+"x "+letters(i+13)+"y"), int64(i))
		n++
	}
	long := strings.Repeat("tok ", 5000)
	s.Add([]byte(long), 1)
	_, total := s.Top(10)
	if total > MaxSignatures || total+int(s.Other) > n+1 || s.Other == 0 {
		t.Errorf("%d templates, %d other, of %d records", total, s.Other, n+1)
	}
	for _, sig := range s.all {
		if len(sig.tokens) > maxSigTokens {
			t.Errorf("template of %d tokens", len(sig.tokens))
		}
	}
}

// sigTokensByFields is the definition appendTemplate implements in one
// pass: strings.Fields over the line made valid UTF-8, at most
// maxSigTokens tokens, variable ones masked.
func sigTokensByFields(line []byte) []string {
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(strings.ToValidUTF8(string(line), "\uFFFD"))
	if len(fields) > maxSigTokens {
		fields = append(fields[:maxSigTokens-1], sigMask)
	}
	for i, f := range fields {
		if len(f) > maxSigToken || utf8.RuneCountInString(f) != len(f) && len(f) > maxSigToken/2 ||
			strings.ContainsAny(f, "0123456789/\\") {
			fields[i] = sigMask
		}
	}
	return fields
}

// FuzzSignatureTemplate: appendTemplate gives the tokens of the definition,
// joined by one space, for any line.
func FuzzSignatureTemplate(f *testing.F) {
	for _, s := range []string{
		"", " ", "[ERROR] Failed to execute cases for env_id: cann_A2_device_1, retry 3",
		"\xff\xfe x\xffy \u00a0nbsp\u3000ideographic\u0085nel\u2028",
		"编译失败 " + strings.Repeat("错", 9) + " " + strings.Repeat("a", 49) + " " + strings.Repeat("b", 48),
		strings.Repeat("t ", 31) + "last", strings.Repeat("t ", 32) + "over", strings.Repeat("t ", 33),
		"\xef\xbf\xbd\xff\xef\xbf\xbd tab\tsep\vvt\ffeed\rcr",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		want := sigTokensByFields(line)
		got, n := appendTemplate([]byte("kept "), line)
		if string(got) != "kept "+strings.Join(want, " ") || n != len(want) {
			t.Fatalf("appendTemplate(%q) = %q, %d tokens; want %q", line, got[5:], n, want)
		}
	})
}

// asciiRun ends a run and tells a variable token exactly as a byte loop
// over sigClass does, for runs of every length around its eight-byte steps,
// with every ASCII byte and bytes outside ASCII anywhere.
func TestASCIIRunMatchesByteLoop(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	for n := range 20000 {
		msg := make([]byte, rnd.IntN(40))
		for i := range msg {
			switch rnd.IntN(8) {
			case 0:
				msg[i] = byte(rnd.IntN(256))
			case 1:
				const special = "\t\n\v\f\r /\\09.:"
				msg[i] = special[rnd.IntN(len(special))]
			default:
				msg[i] = byte('a' + rnd.IntN(26))
			}
		}
		i := 0
		if len(msg) > 0 {
			i = rnd.IntN(len(msg))
		}
		wantEnd, wantVar := i, false
		for wantEnd < len(msg) && sigClass[msg[wantEnd]]&(sigSpace|sigHigh) == 0 {
			wantVar = wantVar || sigClass[msg[wantEnd]] == sigVariable
			wantEnd++
		}
		if end, v := asciiRun(msg, i); end != wantEnd || v != wantVar {
			t.Fatalf("input %d %q from %d: end %d variable %v, want %d %v", n, msg, i, end, v, wantEnd, wantVar)
		}
	}
}
