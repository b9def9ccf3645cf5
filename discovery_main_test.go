package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestShardFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"--demo", "--shard=2", "--total-shards=2"},
		{"--demo", "--shard=-1"},
		{"--demo", "--total-shards=0"},
		{"--demo", "--demo.jobs=-5"},
	} {
		code, _, stderr := runBinary(t, nil, args...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Contains(t, stderr, "try --help", "%v", args)
	}
}

// TestDemoDiscovery: --demo.jobs adds a large account that the exporter
// follows through ListJob.
func TestDemoDiscovery(t *testing.T) {
	e := startExporter(t, nil, "--demo", "--demo.jobs=300")
	eventually(t, 60*time.Second, "304 jobs followed and records of backend-ci", func() bool {
		s, _ := e.scrape()
		v, _ := sum(s, "codearts_build_log_records_total", `job_name="backend-ci"`)
		return s["codearts_exporter_jobs_followed"] == 304 && s["codearts_exporter_list_job_pages"] == 4 && v > 0
	})
	require.Contains(t, e.stderr.String(), `"msg":"discovery: jobs listed and followed"`)
	require.Equal(t, 0, e.terminate(), "stderr:\n%s", e.stderr)
}
