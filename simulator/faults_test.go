package simulator

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaultsAppearAtTheConfiguredRate(t *testing.T) {
	f := newFixture(t, Options{Seed: 7, Faults: Faults{Rate: 0.3, SlowDelay: time.Millisecond, RetryAfter: 3 * time.Second}})
	f.clock.Advance(30 * time.Second)
	const n = 1000
	byCode := map[string]int{}
	for i := 0; i < n; i++ {
		r := f.get(t, "/v1/job/"+testJobZH+"/running-status", nil)
		switch r.status {
		case 200:
			byCode["ok"]++
		case 500:
			code := r.body["error_code"].(string)
			if code != "CB.00060211" && code != "CB.00060101" {
				t.Fatalf("500 with %s", r.raw)
			}
			byCode[code]++
		case 429:
			expectError(t, r, 429, "APIG.0308")
			if r.header.Get("Retry-After") != "3" {
				t.Fatalf("429 Retry-After %q", r.header.Get("Retry-After"))
			}
			if !strings.Contains(r.body["error_msg"].(string), "policy user over ratelimit,limit:10,time:1 minute") {
				t.Fatalf("APIG.0308 message without the policy: %s", r.raw)
			}
			byCode["APIG.0308"]++
		default:
			t.Fatalf("unexpected %d %s", r.status, r.raw)
		}
	}
	failed := n - byCode["ok"]
	st := f.sim.Stats()
	if got := st.Faults[FaultThrottle500] + st.Faults[FaultThrottle429] + st.Faults[FaultInternal500]; got != int64(failed) {
		t.Errorf("Stats counts %d error faults, answers show %d", got, failed)
	}
	total := failed + int(st.Faults[FaultSlow])
	if total < 240 || total > 360 {
		t.Errorf("%d faults in %d requests at rate 0.3", total, n)
	}
	for _, code := range []string{"CB.00060211", "CB.00060101", "APIG.0308"} {
		if byCode[code] < 40 {
			t.Errorf("only %d answers with %s: %v", byCode[code], code, byCode)
		}
	}
	if st.Faults[FaultSlow] < 40 {
		t.Errorf("only %d slow answers", st.Faults[FaultSlow])
	}
}

func TestSlowAnswersAreDelayedButCorrect(t *testing.T) {
	f := newFixture(t, Options{Seed: 7, Faults: Faults{Rate: 1, Kinds: []FaultKind{FaultSlow}, SlowDelay: 80 * time.Millisecond}})
	f.clock.Advance(30 * time.Second)
	start := time.Now()
	r := f.get(t, "/v1/job/"+testJobZH+"/running-status", nil)
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("slow answer took only %v", d)
	}
	if r.status != 200 || r.body["status"] != "success" {
		t.Fatalf("slow answer: %s", r.raw)
	}
}

// TestFaultedRequestsChangeNothing pages the same log twice, once through
// faults: retrying every faulted request from the same cursor must give the
// same pages, the same cursors and the same text.
func TestFaultedRequestsChangeNothing(t *testing.T) {
	clean := newFixture(t, Options{Seed: 13, Jobs: []JobSpec{bigJob()}, ChunkMin: 100, ChunkMax: 2000})
	faulty := newFixture(t, Options{Seed: 13, Jobs: []JobSpec{bigJob()}, ChunkMin: 100, ChunkMax: 2000,
		Faults: Faults{Rate: 0.4, Kinds: []FaultKind{FaultThrottle500, FaultThrottle429, FaultInternal500}}})
	for _, f := range []*fixture{clean, faulty} {
		f.clock.Advance(50 * time.Second)
	}
	tr := clean.sim.Truth()
	b := tr.Jobs[0].Build(1)
	if b == nil || !b.Finished {
		t.Fatal("build 1 not finished at t0+50s")
	}
	step := b.Stages[1].NodeID
	type page struct {
		start, end int64
		log        string
		more       bool
	}
	read := func(f *fixture) ([]page, int) {
		var pages []page
		var cursor int64
		faults := 0
		for {
			r := f.get(t, "/v1/log/task/page", logQuery(bigJob().ID, 1, step, cursor, 0))
			if r.status != 200 {
				faults++
				continue // retry from the same cursor
			}
			res := r.result(t)
			s, _ := flexInt(t, res["start_offset"])
			e, _ := flexInt(t, res["end_offset"])
			p := page{s, e, res["log"].(string), res["has_more"].(bool)}
			pages = append(pages, p)
			cursor = e
			if !p.more {
				return pages, faults
			}
		}
	}
	want, _ := read(clean)
	got, faults := read(faulty)
	if faults < 100 {
		t.Fatalf("only %d faults while paging", faults)
	}
	if len(got) != len(want) {
		t.Fatalf("%d pages through faults, %d without", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("page %d differs after faults: %+v vs %+v", i, got[i].start, want[i].start)
		}
	}
	if ft := faulty.sim.Truth(); ft.Jobs[0].Build(1).Stages[1].Log != b.Stages[1].Log {
		t.Fatal("faults changed the truth")
	}
}

func TestFaultsAreDeterministicPerSeedAndSequence(t *testing.T) {
	seq := func(seed int64) string {
		f := newFixture(t, Options{Seed: seed, Faults: Faults{Rate: 0.5, Kinds: []FaultKind{FaultInternal500, FaultThrottle429}}})
		f.clock.Advance(30 * time.Second)
		var sb strings.Builder
		for i := 0; i < 64; i++ {
			r := f.get(t, "/v1/job/list", nil)
			sb.WriteString(http.StatusText(r.status)[:1])
		}
		return sb.String()
	}
	a, b, c := seq(1), seq(1), seq(2)
	if a != b {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, b)
	}
	if a == c {
		t.Fatalf("different seeds, same faults: %s", a)
	}
}

func TestSetFaultsSwitchesAtRuntime(t *testing.T) {
	f := newFixture(t, Options{Seed: 1})
	f.clock.Advance(30 * time.Second)
	f.sim.SetFaults(Faults{Rate: 1, Kinds: []FaultKind{FaultThrottle500}})
	expectError(t, f.get(t, "/v1/job/list", nil), 500, "CB.00060211")
	f.sim.SetFaults(Faults{})
	if r := f.get(t, "/v1/job/list", nil); r.status != 200 {
		t.Fatalf("after clearing faults: %s", r.raw)
	}
}

func TestGatewayRateLimit(t *testing.T) {
	f := newFixture(t, Options{Seed: 1, RateLimit: 1, RateBurst: 2})
	f.clock.Advance(30 * time.Second)
	codes := []int{}
	for i := 0; i < 4; i++ {
		codes = append(codes, f.get(t, "/v1/job/list", nil).status)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 || codes[3] != 429 {
		t.Fatalf("burst 2 at 1/s: %v", codes)
	}
	r := f.get(t, "/v1/job/list", nil)
	expectError(t, r, 429, "APIG.0308")
	if !strings.Contains(r.body["error_msg"].(string), "limit:60,time:1 minute") || r.header.Get("Retry-After") == "" {
		t.Fatalf("rate-limit answer does not name the limit: %s", r.raw)
	}
	f.clock.Advance(time.Second)
	if r := f.get(t, "/v1/job/list", nil); r.status != 200 {
		t.Fatalf("after a second: %d", r.status)
	}
	if f.sim.Stats().RateLimited != 3 {
		t.Errorf("RateLimited %d", f.sim.Stats().RateLimited)
	}
}
