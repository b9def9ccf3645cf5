package simulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// benchFixture is a finished build with a long (~1 MB) mostly Chinese step log.
func benchFixture(b *testing.B) (*fixture, int64, StageTruth) {
	job := bigJob()
	job.SpikeRecords = 2000
	f := newFixture(b, Options{Seed: 1, Jobs: []JobSpec{job}, ChunkMin: 4000, ChunkMax: 8000, EmptyPageRate: -1})
	f.clock.Advance(time.Minute)
	st := f.sim.Truth().Jobs[0].Build(1).Stages[1]
	return f, st.NodeID, st
}

// BenchmarkServeLogPages measures the handler alone (no network): paging a
// whole step log, in bytes of log served per second.
func BenchmarkServeLogPages(b *testing.B) {
	f, step, st := benchFixture(b)
	b.SetBytes(st.Bytes)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var cursor int64
		for {
			req := httptest.NewRequest(http.MethodGet, "/v1/log/task/page?"+logQuery(bigJob().ID, 1, step, cursor, 0).Encode(), nil)
			w := httptest.NewRecorder()
			f.sim.ServeHTTP(w, req)
			// Decode only the cursor (the log stays raw): measure the server.
			var page struct {
				Result struct {
					HasMore   bool            `json:"has_more"`
					EndOffset json.Number     `json:"end_offset"`
					Log       json.RawMessage `json:"log"`
				} `json:"result"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
				b.Fatal(err)
			}
			cursor, _ = page.Result.EndOffset.Int64()
			if !page.Result.HasMore {
				break
			}
		}
	}
}

// BenchmarkTruth measures taking a Truth of the demo world (80 builds).
func BenchmarkTruth(b *testing.B) {
	o := DemoOptions(1)
	o.Clock = NewManualClock(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	sim, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	sim.Truth()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sim.Truth()
	}
}
