package codearts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"unsafe"
)

// slowLogEnvelope is the general path for a log page: the envelope with a
// raw result, then the result into wireLog.
func slowLogEnvelope(body []byte) (status, code flexString, w wireLog, err error) {
	var env struct {
		Status    flexString      `json:"status"`
		ErrorCode flexString      `json:"error_code"`
		Result    json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return "", "", w, err
	}
	if r := bytes.TrimSpace(env.Result); len(r) == 0 || string(r) == "null" {
		return "", "", w, errors.New("no result")
	}
	err = json.Unmarshal(env.Result, &w)
	return env.Status, env.ErrorCode, w, err
}

// checkFastLog fails when the fast decoder accepts body and gives anything
// but what the general path gives.
func checkFastLog(t testing.TB, body []byte) (accepted bool) {
	t.Helper()
	fs, fc, fw, ok := fastLogEnvelope(body)
	if !ok {
		return false
	}
	ss, sc, sw, err := slowLogEnvelope(body)
	if err != nil {
		t.Fatalf("fast path accepted what encoding/json refuses (%v):\n%q", err, body)
	}
	if fs != ss || fc != sc || fw != sw {
		t.Fatalf("fast path decoded differently:\n body %q\n fast %q %q %+v\n slow %q %q %+v", body, fs, fc, fw, ss, sc, sw)
	}
	// Into the caller's buffer (LogQuery.Into): the same values, the text
	// in the buffer when it is large enough, and w.Log empty.
	buf := append(make([]byte, 0, len(body)+64), "left over from a page before"...)
	is, ic, iw, text, iok := fastLogEnvelopeInto(body, buf)
	want := fw
	want.Log = ""
	if !iok || is != fs || ic != fc || iw != want || string(text) != string(fw.Log) {
		t.Fatalf("into a buffer decoded differently (ok %v):\n body %q\n into %q %q %+v text %q\n fast %q %q %+v", iok, body, is, ic, iw, text, fs, fc, fw)
	}
	if len(text) > 0 && &text[0] != &buf[:1][0] {
		t.Fatalf("the text was not decoded into the buffer given: %q", body)
	}
	return true
}

// logBodies are answers the way services write them, with log text that
// needs every kind of escape.
func logBodies(rnd *rand.Rand, n int) [][]byte {
	pieces := []string{"[2026/09/10 17:26:22.661 GMT+08:00] ", "INFO ", "[ERROR] ", "构建成功", "\n", "\r\n", "\t",
		`"quoted"`, `back\slash`, "<html>&amp;", "\x00\x01\x1f", "\u2028", "😀", "\xff\xfe", "é", "/path/to", " "}
	var out [][]byte
	for range n {
		var sb strings.Builder
		for range rnd.IntN(40) {
			sb.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		result := map[string]any{"log": sb.String(), "has_more": rnd.IntN(2) == 0,
			"start_offset": rnd.Int64N(1 << 40), "end_offset": fmt.Sprint(rnd.Int64N(1 << 40))}
		if rnd.IntN(3) == 0 {
			result["location"] = "cn-north-4"
		}
		if rnd.IntN(4) == 0 {
			result["extra"] = []any{1.5e3, nil, map[string]any{"k": []any{true, "v"}}}
		}
		env := map[string]any{"status": []string{"success", "fail", ""}[rnd.IntN(3)], "result": result}
		if rnd.IntN(3) == 0 {
			env["error"] = map[string]any{"error_code": "CB.00060214", "error_msg": "x"}
		}
		if rnd.IntN(4) == 0 {
			env["error_code"] = "DEV.CB.0010001"
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(rnd.IntN(2) == 0)
		if rnd.IntN(3) == 0 {
			enc.SetIndent("", "  ")
		}
		if err := enc.Encode(env); err != nil {
			panic(err)
		}
		out = append(out, buf.Bytes())
	}
	return out
}

// mutate changes body the ways a broken or unusual service might.
func mutate(rnd *rand.Rand, body []byte) []byte {
	b := bytes.Clone(body)
	switch rnd.IntN(9) {
	case 0: // flip a byte
		if len(b) > 0 {
			b[rnd.IntN(len(b))] = byte(rnd.IntN(256))
		}
	case 1: // cut
		b = b[:rnd.IntN(len(b)+1)]
	case 2: // insert a JSON-significant byte
		i := rnd.IntN(len(b) + 1)
		b = append(b[:i], append([]byte{`{}[]",:\0e-.`[rnd.IntN(12)]}, b[i:]...)...)
	case 3: // a key in another case
		for _, k := range []string{`"log"`, `"status"`, `"has_more"`, `"result"`, `"end_offset"`} {
			b = bytes.Replace(b, []byte(k), []byte(strings.ToUpper(k)), rnd.IntN(2))
		}
	case 4: // values of other types
		b = bytes.Replace(b, []byte(`"has_more":true`), []byte([]string{`"has_more":"TRUE"`, `"has_more":1`, `"has_more":null`}[rnd.IntN(3)]), 1)
		b = bytes.Replace(b, []byte(`"end_offset":`), []byte([]string{`"end_offset":"7",`, `"end_offset":1.0e3,`, `"end_offset":null,"x":`}[rnd.IntN(3)]), 1)
	case 5: // duplicated result or null result
		b = bytes.Replace(b, []byte(`"result":`), []byte([]string{`"result":{"log":"dup"},"result":`, `"result":null,"x":`}[rnd.IntN(2)]), 1)
	case 6: // escapes of every kind in the log
		esc := `"log":"\u00e9\ud83d\ude00\/\b\f\u0041\uD800x`
		b = bytes.Replace(b, []byte(`"log":"`), []byte(esc[:7+rnd.IntN(len(esc)-6)]), 1)
	case 7: // trailing data
		b = append(b, []string{"x", "{}", " \n", "0"}[rnd.IntN(4)]...)
	case 8: // a non-ASCII key
		b = bytes.Replace(b, []byte(`"status"`), []byte(`"ſtatus"`), 1)
	}
	return b
}

func TestFastLogMatchesEncodingJSON(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	bodies := logBodies(rnd, 400)
	accepted, declined := 0, 0
	for _, body := range bodies {
		if !checkFastLog(t, body) {
			t.Fatalf("the fast path declined a plain answer:\n%q", body)
		}
		accepted++
		for range 50 {
			if checkFastLog(t, mutate(rnd, body)) {
				accepted++
			} else {
				declined++
			}
		}
	}
	t.Logf("%d accepted, %d declined", accepted, declined)
	if declined == 0 {
		t.Error("no mutation was declined: the mutations test nothing")
	}
	for _, body := range []string{
		`{"status":"success","result":{"log":"a\u0000b\n","end_offset":5,"has_more":false}}`,
		`{"result":{},"status":"success"}`,
		` {"result":{"log":"","has_more":null,"start_offset":null,"location":null}} `,
		`{"status":"success","result":{"log":"x","log":"y","end_offset":-0}}`,
		`{"result":{"start_offset":"0012","end_offset":"-7","log":""}}`, `{"result":{"end_offset":""}}`,
		`{"result":{"log":"构建 ok\n失败\n\t"}}`, `{"result":{"log":"` + "\xef\xbf\xbd" + `"}}`,
	} {
		if !checkFastLog(t, []byte(body)) {
			t.Errorf("declined %s", body)
		}
	}
	for _, body := range []string{
		`{"status":"success","result":null}`, `{"status":"success"}`, `{"result":{"log":"\ud83d\ude00"}}`,
		`{"result":{"Log":"x"}}`, `{"result":{"log":"x"}}{}`, `{"result":{"log":"a` + "\x01" + `"}}`,
		`{"result":{"end_offset":01}}`, `{"result":{"end_offset":"7x"}}`, `{"result":{"end_offset":" 7"}}`,
		`{"result":{"end_offset":"1e3"}}`, `{"result":{"log":"\xff"}}`,
		`{"result":{"log":"构` + "\xff" + `建"}}`, `{"result":{"log":"构` + "\xe5\x8f" + `"}}`, `{"result":{"log":"a` + "\xe5\x8f" + `b"}}`,
	} {
		if checkFastLog(t, []byte(body)) {
			t.Errorf("accepted %s", body)
		}
	}
}

func FuzzFastLogEnvelope(f *testing.F) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, b := range logBodies(rnd, 20) {
		f.Add(b)
		f.Add(mutate(rnd, b))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFastLog(t, body) })
}

// BenchmarkLogDecode compares the decoding of one log page's answer with
// the fast decoder and with the general path it replaces, in the same run.
func BenchmarkLogDecode(b *testing.B) {
	for _, size := range []int{5000, 30000} {
		var sb strings.Builder
		for i := 0; sb.Len() < size; i++ {
			fmt.Fprintf(&sb, "[2026/09/10 17:26:22.%03d GMT+08:00] [INFO] Downloading org/apache/maven/%d.jar 构建\n", i%1000, i)
		}
		body, _ := json.Marshal(map[string]any{"status": "success", "result": map[string]any{
			"log": sb.String(), "has_more": true, "start_offset": 100, "end_offset": 100 + size}})
		b.Run(fmt.Sprintf("page=%dB/fast", size), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, _, _, ok := fastLogEnvelope(body); !ok {
					b.Fatal("declined")
				}
			}
		})
		b.Run(fmt.Sprintf("page=%dB/encoding-json", size), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, _, _, err := slowLogEnvelope(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPlainRunStopsAtFirstSpecial checks plainRun (vector code on amd64)
// and the word-at-a-time plainRunWords against their definition, for every
// byte value at every offset of inputs that end inside and outside a
// block, after every other kind of byte just before it: a borrow from a
// byte below 0x20 or an equal byte must not move the stop to a later byte.
func TestPlainRunStopsAtFirstSpecial(t *testing.T) {
	plain := func(c byte) bool { return c != '"' && c != '\\' && c >= 0x20 }
	want := func(b []byte) int {
		for i, c := range b {
			if !plain(c) {
				return i
			}
		}
		return len(b)
	}
	buf := make([]byte, 70)
	for pos := 0; pos < len(buf); pos++ {
		for c := 0; c < 256; c++ {
			for _, next := range []byte{0, 0x1f, '"', '\\', 0x80, 0xff, 'a'} {
				for i := range buf {
					buf[i] = "xé"[i%3] // ASCII and the bytes of é
				}
				buf[pos] = byte(c)
				if pos+1 < len(buf) {
					buf[pos+1] = next
				}
				for _, n := range []int{pos + 1, pos + 2, 16, 17, 31, 32, 33, 47, len(buf)} {
					b := buf[:min(n, len(buf))]
					w := want(b)
					if got := plainRun(b); got != w {
						t.Fatalf("plainRun(%q) = %d, want %d", b, got, w)
					}
					if got := plainRunWords(b); got != w {
						t.Fatalf("plainRunWords(%q) = %d, want %d", b, got, w)
					}
				}
			}
		}
	}
}

// TestOwnStringKeepsNoLargeBuffer checks that a decoded string shares its
// buffer only when it fills at least half of it: a short escaped string
// (a location before the log) must not keep a body-sized buffer alive.
func TestOwnStringKeepsNoLargeBuffer(t *testing.T) {
	for _, c := range []struct {
		n, capacity int
		shared      bool
	}{{10, 100_000, false}, {49, 100, false}, {50, 100, true}, {90_000, 100_000, true}} {
		b := make([]byte, c.n, c.capacity)
		s := ownString(b)
		if shared := unsafe.StringData(s) == unsafe.SliceData(b); shared != c.shared || len(s) != c.n {
			t.Errorf("len %d of cap %d: shared %v (len %d), want %v", c.n, c.capacity, shared, len(s), c.shared)
		}
	}
	// Through the decoder: a short escaped location, then the log.
	long := strings.Repeat(`x\n`, 20_000)
	body := []byte(`{"status":"success","result":{"location":"a\/b","log":"` + long + `","has_more":false}}`)
	_, _, w, ok := fastLogEnvelope(body)
	if !ok || w.Location != "a/b" || len(w.Log) != 40_000 {
		t.Fatalf("decoded ok=%v location %q, log of %d bytes", ok, w.Location, len(w.Log))
	}
}

// TestLogQueryInto: with LogQuery.Into, page after page is decoded into
// the caller's one buffer and comes back as Text, Log empty; an answer that
// only the general path decodes (a key in another case) lands in the
// buffer too; a buffer too small for a page is replaced by a larger one.
func TestLogQueryInto(t *testing.T) {
	pages := []string{
		`{"result":{"log":"first page\n","has_more":true,"end_offset":11},"status":"success"}`,
		`{"result":{"log":"second \"page\"\n","has_more":true,"end_offset":26},"status":"success"}`,
		`{"result":{"LOG":"general path\n","has_more":true,"end_offset":39},"status":"success"}`,
		`{"result":{"log":null,"has_more":false,"end_offset":39},"status":"success"}`,
	}
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, pages[n-1]) })
	c, _ := newTestClient(t, srv.URL, nil)
	var buf []byte // nil: grown by the first page
	for i, want := range []string{"first page\n", "second \"page\"\n", "general path\n", ""} {
		ch, err := c.ShowConsoleInfo(bg, LogQuery{JobID: tJob, BuildNo: 1, StepID: 7, Into: &buf})
		if err != nil {
			t.Fatal(err)
		}
		if string(ch.Text) != want || ch.Log != "" {
			t.Fatalf("page %d: text %q, log %q; want text %q", i, ch.Text, ch.Log, want)
		}
		if len(ch.Text) > 0 && unsafe.SliceData(ch.Text) != unsafe.SliceData(buf[:1]) {
			t.Errorf("page %d: the text is not in the caller's buffer", i)
		}
		if cap(buf) < len(want) {
			t.Errorf("page %d: the buffer was not grown for the text (capacity %d)", i, cap(buf))
		}
	}
	// Large enough: used as it is.
	big := make([]byte, 0, 4096)
	buf = big
	srv2 := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, pages[1]) })
	c2, _ := newTestClient(t, srv2.URL, nil)
	ch, err := c2.ShowConsoleInfo(bg, LogQuery{JobID: tJob, BuildNo: 1, StepID: 7, Into: &buf})
	if err != nil || unsafe.SliceData(ch.Text) != unsafe.SliceData(big[:1]) || cap(buf) != 4096 {
		t.Errorf("a buffer large enough was not used as it is (%v)", err)
	}
}
