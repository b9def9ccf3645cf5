package simulator

import (
	"embed"
	"regexp"
	"strings"
	"sync"
)

// The real fixtures (copies in testdata/real) are split into records at
// every CodeArts timestamp prefix, exactly as docs/parser.md defines a
// record; the text after each prefix is kept (leading space, continuation
// lines, and no line end when the next record is glued on the same line).
// Windows of these records are replayed as the tool output of steps whose
// Tool is git, shell, pytest or curl.

//go:embed testdata/real/*.log
var fixtureFS embed.FS

// prefixPattern matches both CodeArts timestamp prefix forms.
var prefixPattern = regexp.MustCompile(`\[(?:\d{4}/\d{2}/\d{2}|[A-Z][a-z]{2} \d{1,2}, \d{4}) \d{2}:\d{2}:\d{2}\.\d{3} GMT[+-]\d{2}:\d{2}\]`)

// platformPattern recognises a platform record's body (the text after the
// prefix): " [LEVEL] [TAG] : " or the job-level " [LEVEL]  : ".
var platformPattern = regexp.MustCompile(`^ \[[A-Z]+\] (?:\[[^\]]*\] ?| ?): `)

// corpus holds record bodies (text after the prefix) of one kind of output.
type corpus struct {
	bodies []string
	errors []string // the subset that reads as an error
}

type corpora struct {
	git, shell, pytest, curl corpus
}

var (
	corporaOnce sync.Once
	theCorpora  corpora
)

func loadCorpora() *corpora {
	corporaOnce.Do(func() {
		pytest := splitBodies(mustFixture("full-build-failure-pytest.log"))
		tail := splitBodies(mustFixture("full-build-failure-truncated-tail.log"))
		excerpt := splitBodies(mustFixture("build-step-excerpt-success.log"))

		preStart := indexOf(pytest, "external_pre_checkout] : 该步骤开始执行", 0)
		postEnd := indexOf(pytest, "external_post_checkout] : 该步骤执行完成", 0)
		sched := indexOf(pytest, "[sched]", 0)
		finished := indexOf(pytest, "Finished:", 0)
		theCorpora.git = outputCorpus(pytest, preStart, postEnd)
		theCorpora.shell = outputCorpus(pytest, postEnd, sched)
		theCorpora.pytest = outputCorpus(pytest, sched, finished)
		tailSched := indexOf(tail, "[sched]", 0)
		more := outputCorpus(tail, tailSched, indexOf(tail, "Finished:", 0))
		theCorpora.pytest.bodies = append(theCorpora.pytest.bodies, more.bodies...)
		theCorpora.pytest.errors = append(theCorpora.pytest.errors, more.errors...)
		theCorpora.curl = outputCorpus(excerpt, 0, len(excerpt))
	})
	return &theCorpora
}

func mustFixture(name string) string {
	b, err := fixtureFS.ReadFile("testdata/real/" + name)
	if err != nil {
		// The files are embedded at build time; a missing one is a build defect.
		panic("simulator: embedded fixture missing: " + name)
	}
	return string(b)
}

// splitRecords splits a log into records, each starting at a prefix (text
// before the first prefix, if any, is a record of its own). The records
// concatenate back to the log.
func splitRecords(log string) []string {
	locs := prefixPattern.FindAllStringIndex(log, -1)
	var out []string
	prev := 0
	for _, l := range locs {
		if l[0] > prev {
			out = append(out, log[prev:l[0]])
		}
		prev = l[0]
	}
	if prev < len(log) {
		out = append(out, log[prev:])
	}
	return out
}

// splitBodies returns the text after the prefix of every record.
func splitBodies(log string) []string {
	recs := splitRecords(log)
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		if loc := prefixPattern.FindStringIndex(r); loc != nil && loc[0] == 0 {
			out = append(out, r[loc[1]:])
		}
	}
	return out
}

func indexOf(bodies []string, needle string, from int) int {
	for i := from; i < len(bodies); i++ {
		if strings.Contains(bodies[i], needle) {
			return i
		}
	}
	return -1
}

// outputCorpus keeps the tool-output bodies in [from, to) (the whole list
// when a marker was not found). A glued body (no line end) that is followed
// by a platform record in the fixture gets its line end back, so that a
// window never glues tool output to a platform record it did not precede.
func outputCorpus(bodies []string, from, to int) corpus {
	if from < 0 || to < 0 || from >= to {
		from, to = 0, len(bodies)
	}
	var c corpus
	for i := from; i < to; i++ {
		b := bodies[i]
		if platformPattern.MatchString(b) {
			continue
		}
		if !strings.HasSuffix(b, "\n") && (i+1 >= len(bodies) || platformPattern.MatchString(bodies[i+1])) {
			b += "\n"
		}
		c.bodies = append(c.bodies, b)
		if looksLikeError(b) {
			c.errors = append(c.errors, strings.TrimRight(b, " ")+ensureNL(b))
		}
	}
	return c
}

func ensureNL(b string) string {
	if strings.HasSuffix(b, "\n") {
		return ""
	}
	return "\n"
}

func looksLikeError(b string) bool {
	return strings.Contains(b, "[ERROR]") || strings.Contains(b, "Traceback") ||
		strings.Contains(b, "Error:") || strings.Contains(b, "RuntimeError")
}
