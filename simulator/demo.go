package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Credentials of DemoOptions. They are made-up values for the in-process
// demo, not secrets: the demo client signs with them and the demo
// simulator verifies them.
const (
	DemoAccessKey = "HWDEMOAKSIMULATOR0001"
	DemoSecretKey = "demoSecretKeyForTheInProcessSimulator0001"
	DemoProjectID = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
)

// demoOrigin anchors the demo's build schedules at a fixed instant, so that
// a restarted demo (same seed) serves the same builds and logs as before —
// an exporter restarted with the same --state.file finds the world it left.
var demoOrigin = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// DemoJobID returns the demo job id for a name: the first 32 hex digits of
// SHA-256("codearts-demo/" + name), stable across seeds and restarts.
func DemoJobID(name string) string {
	sum := sha256.Sum256([]byte("codearts-demo/" + name))
	return hex.EncodeToString(sum[:])[:32]
}

// DemoOptions returns the simulator configuration of --demo: four jobs that
// build continuously (unbounded), each build taking about one to two
// minutes with steps of 10–40 s:
//
//   - backend-ci: Chinese actions 代码检出 / Maven构建 / 单元测试, occasional
//     failures and error spikes; Continuous, so a build is (nearly) always
//     running;
//   - frontend-build: English actions (Code checkout, npm install, npm build,
//     Lint), log timestamps in GMT+00:00;
//   - payment-service: a Go service with a Chinese/English mix, one stage
//     without a log (node_id null) and API times in the 2024-08-12T02:31:01+0800 form;
//   - nightly-e2e: fails often, aborts now and then, has frequent error
//     spikes, and writes the alternative log form ([Sep 14, 2026 …],
//     INTERNAL level, "Cache Check" and "Code checkout#preCheckout" tags).
//
// It uses the wall clock, a schedule anchored at a fixed instant (so that at
// any moment builds are in progress and a restart finds the same world),
// AK/SK authentication with DemoAccessKey / DemoSecretKey / DemoProjectID,
// pages of 256–4096 characters and a low rate (2%) of faults with short
// delays, so the exporter's retry path is exercised without slowing it down.
func DemoOptions(seed int64) Options {
	origin := demoOrigin
	if time.Now().Before(origin.Add(time.Hour)) {
		// A machine clock set before the fixed origin: anchor a day back.
		origin = time.Now().Add(-24 * time.Hour).Truncate(24 * time.Hour)
	}
	sec := time.Second
	return Options{
		Seed:      seed,
		Origin:    origin,
		ChunkMin:  256,
		ChunkMax:  4096,
		AccessKey: DemoAccessKey,
		SecretKey: DemoSecretKey,
		ProjectID: DemoProjectID,
		Faults: Faults{
			Rate:       0.02,
			SlowDelay:  300 * time.Millisecond,
			RetryAfter: time.Second,
			// A demo 429 must not slow an adaptive client to 10 calls a minute.
			ThrottleLimit: 6000,
		},
		Jobs: []JobSpec{
			{
				ID: DemoJobID("backend-ci"), Name: "backend-ci", Continuous: true,
				Period: 105 * sec, FailureRate: 0.15, AbortRate: 0.05, ErrorSpikeRate: 0.2, SpikeRecords: 150,
				RecordsPerSecond: 9,
				Stages: []StageSpec{
					{DisplayName: "代码检出", Tool: "git", MinDuration: 10 * sec, MaxDuration: 15 * sec},
					{DisplayName: "Maven构建", Tool: "maven", MinDuration: 20 * sec, MaxDuration: 35 * sec},
					{DisplayName: "单元测试", Tool: "junit", MinDuration: 15 * sec, MaxDuration: 30 * sec},
				},
			},
			{
				ID: DemoJobID("frontend-build"), Name: "frontend-build", English: true, LogZone: time.FixedZone("GMT+00:00", 0),
				Offset: -37 * sec, Period: 115 * sec, FailureRate: 0.1, AbortRate: 0.05, ErrorSpikeRate: 0.1,
				RecordsPerSecond: 7,
				Stages: []StageSpec{
					{DisplayName: "Code checkout", Tool: "git", MinDuration: 10 * sec, MaxDuration: 12 * sec},
					{DisplayName: "npm install", Tool: "npm", MinDuration: 12 * sec, MaxDuration: 25 * sec},
					{DisplayName: "npm build", Tool: "npm", MinDuration: 15 * sec, MaxDuration: 30 * sec},
					{DisplayName: "Lint", Tool: "lint", MinDuration: 10 * sec, MaxDuration: 20 * sec},
				},
			},
			{
				ID: DemoJobID("payment-service"), Name: "payment-service", CompactAPITimes: true,
				Offset: -71 * sec, Period: 130 * sec, FailureRate: 0.1, AbortRate: 0.03, ErrorSpikeRate: 0.1,
				RecordsPerSecond: 7,
				Stages: []StageSpec{
					{DisplayName: "代码检出", Tool: "git", MinDuration: 10 * sec, MaxDuration: 12 * sec},
					{DisplayName: "Go编译", Tool: "go", MinDuration: 15 * sec, MaxDuration: 30 * sec},
					{DisplayName: "go test", Tool: "gotest", MinDuration: 15 * sec, MaxDuration: 35 * sec},
					{DisplayName: "镜像推送", Tool: "docker", MinDuration: 10 * sec, MaxDuration: 20 * sec, NoLog: true},
				},
			},
			{
				ID: DemoJobID("nightly-e2e"), Name: "nightly-e2e", English: true, AltFormat: true,
				Offset: -13 * sec, Period: 95 * sec, FailureRate: 0.45, AbortRate: 0.1, ErrorSpikeRate: 0.35, SpikeRecords: 250,
				RecordsPerSecond: 10,
				Stages: []StageSpec{
					{DisplayName: "Cache Check", Tag: "Cache Check", Tool: "shell", MinDuration: 10 * sec, MaxDuration: 12 * sec},
					{DisplayName: "Code checkout", Tag: "Code checkout#preCheckout", Tool: "git", MinDuration: 10 * sec, MaxDuration: 15 * sec},
					{DisplayName: "pytest e2e", Tag: "pytest e2e#runTests", Tool: "pytest", MinDuration: 20 * sec, MaxDuration: 40 * sec},
				},
			},
		},
	}
}
