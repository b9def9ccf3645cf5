package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Projects of ManyJobs: even-numbered jobs belong to ManyProjectA, odd ones
// to ManyProjectB.
const (
	ManyProjectA = "a0000000000000000000000000000001"
	ManyProjectB = "b0000000000000000000000000000002"
)

// manyPrefixes name ManyJobs' jobs, so that include/exclude filters have
// something to choose from.
var manyPrefixes = []string{"backend", "web", "mobile", "data"}

// ManyJobID is the id of job i of ManyJobs: the first 32 hex digits of
// SHA-256("codearts-many/" + i), stable across seeds and sizes.
func ManyJobID(i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("codearts-many/%d", i)))
	return hex.EncodeToString(sum[:])[:32]
}

// ManyJobName is the name of job i of ManyJobs: "<prefix>-<i>" with prefix
// backend, web, mobile, data in turn and, for every tenth job, a
// "-sandbox" suffix.
func ManyJobName(i int) string {
	name := fmt.Sprintf("%s-%05d", manyPrefixes[i%len(manyPrefixes)], i)
	if i%10 == 9 {
		name += "-sandbox"
	}
	return name
}

// ManyJobActive reports whether job i of ManyJobs(n, active) is one of the
// active ones: they are spread evenly over the list, so every ListJob page
// holds about as many.
func ManyJobActive(i, n, active int) bool {
	if active <= 0 || i >= n {
		return false
	}
	step := max(n/active, 1)
	return i%step == 0 && i/step < active
}

// ManyJobs returns n job specs of a large account of which active build
// continuously (two short steps, a build every minute or so) and the others
// are idle: one to three builds that finished a day before Origin, and no
// build ever for every fiftieth job (ListJob's build_number "" case). Job i
// has id ManyJobID(i), name ManyJobName(i) and project ManyProjectA (even
// i) or ManyProjectB (odd i). The idle jobs cost the simulator nothing
// until one of their builds is asked for: ListJob computes only the newest
// build's plan.
func ManyJobs(n, active int) []JobSpec {
	sec := time.Second
	specs := make([]JobSpec, n)
	idleStages := []StageSpec{{DisplayName: "build", Tool: "shell", MinDuration: 2 * sec, MaxDuration: 5 * sec}}
	activeStages := []StageSpec{
		{DisplayName: "checkout", Tool: "git", MinDuration: 5 * sec, MaxDuration: 10 * sec},
		{DisplayName: "test", Tool: "gotest", MinDuration: 10 * sec, MaxDuration: 30 * sec},
	}
	for i := range specs {
		s := JobSpec{ID: ManyJobID(i), Name: ManyJobName(i), ProjectID: ManyProjectA, English: true}
		if i%2 == 1 {
			s.ProjectID = ManyProjectB
		}
		switch {
		case ManyJobActive(i, n, active):
			s.Stages, s.Continuous = activeStages, true
			s.Offset = -time.Duration(i%60) * sec
			s.FailureRate, s.RecordsPerSecond = 0.1, 4
		case i%50 == 49:
			s.Stages, s.MaxBuilds = idleStages, 1
			s.Offset = 100 * 365 * 24 * time.Hour // never built
		default:
			s.Stages, s.MaxBuilds = idleStages, 1+i%3
			s.Offset = -24 * time.Hour
			s.RecordsPerSecond = 2
		}
		specs[i] = s
	}
	return specs
}
