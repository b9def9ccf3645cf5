// Package codearts is the exporter's client for the Huawei Cloud CodeArts
// Build API: a typed, signed, rate-limited and retrying caller of the
// read-only operations the collector needs (step logs, running status, build
// records, stages, build history and jobs). It knows nothing about jobs or
// metrics of builds; the collector decides what to call and when. Section
// numbers (§n) refer to docs/api-reference.md.
//
// The AK/SK signer (SDK-HMAC-SHA256) lives in signer.go and is also used by
// the simulator to verify signatures. docs/api-client.md describes
// authentication, retries, rate limits, error classification, the
// client's self-metrics and its HTTP/1.1 transport (transport.go), which
// writes each request and reads its answer on the calling goroutine.
package codearts
