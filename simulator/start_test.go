package simulator

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestStartServesOnARealListener is how --demo runs the simulator: New,
// then Start on 127.0.0.1:0.
func TestStartServesOnARealListener(t *testing.T) {
	sim, err := New(Options{Seed: 1, Jobs: testJobs(), Clock: NewManualClock(t0.Add(time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	base, stop, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/v1/job/list")
	if err != nil {
		t.Fatal(err)
	}
	r := readReply(t, resp)
	if r.status != 200 || r.body["status"] != "success" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/v1/job/list"); err == nil {
		t.Fatal("still serving after stop")
	}
	if _, _, err := sim.Start("256.0.0.1:0"); err == nil {
		t.Fatal("Start on a bad address did not fail")
	}
}

func TestScaledClockRunsFaster(t *testing.T) {
	c := ScaledClock(t0, 1000)
	time.Sleep(20 * time.Millisecond)
	if d := c.Now().Sub(t0); d < 15*time.Second || d > 10*time.Minute {
		t.Fatalf("1000x clock advanced %v in ~20 ms", d)
	}
	if d := ScaledClock(t0, 0).Now().Sub(t0); d < 0 || d > time.Second {
		t.Fatalf("factor 0 (= 1) clock: %v", d)
	}
}
