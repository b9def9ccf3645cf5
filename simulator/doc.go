// Package simulator is a faithful fake of the Huawei Cloud CodeArts Build
// API, for --demo, end-to-end tests and benchmarks. It is a peer of the real
// service: an http.Handler serving the read-only operations of
// docs/api-reference.md (cited as §n) with their documented JSON
// shapes, error bodies, paging and faults, and its own JSON types (it does
// not use the client's).
//
// The simulated world is a pure function of Options.Seed and Clock.Now():
// each job starts build n at a scheduled slot; a build's timeline (stage
// durations, outcome, error spike) and its step logs are derived by hashing
// the seed, the job and n, and a step's log becomes visible record by record
// as the clock passes each record's time. Requests never change the world
// (apart from remembering which cursor was last answered with an empty page,
// and IAM-issued tokens), so a faulted request changes nothing, and Truth()
// can report exactly what a perfect client has been able to read.
//
// Usage in a test:
//
//	clock := simulator.NewManualClock(t0)
//	sim, err := simulator.New(simulator.Options{Seed: 1, Clock: clock, Jobs: jobs})
//	srv := httptest.NewServer(sim)
//	... point the client at srv.URL, clock.Advance(10*time.Second), compare with sim.Truth().
//
// Usage for --demo:
//
//	opts := simulator.DemoOptions(seed)
//	sim, _ := simulator.New(opts)
//	baseURL, stop, _ := sim.Start("127.0.0.1:0")
//	// client: Endpoint baseURL, ProjectID opts.ProjectID,
//	//         AccessKey opts.AccessKey, SecretKey opts.SecretKey;
//	// collector jobs: sim.Jobs() (ID, Name).
//
// docs/simulator.md describes what is modelled, what offsets mean, the
// faults and every option.
package simulator
