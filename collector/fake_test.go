package collector

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// fakeAPI is a scripted api for behaviour the simulator does not produce:
// a service that accepts only build_record_id as record_id, and a log whose
// end_offset stops moving.
type fakeAPI struct {
	mu          sync.Mutex
	latest      int64
	rec         buildRecord
	acceptID    string // the only record_id full-stages accepts
	recordCalls int
	stageCalls  []string
	stagesOut   []stageInfo
	pages       map[int64]logPage // by start offset
	pageCalls   []int64
	// consoleRefuses makes ShowConsoleInfo refuse every request.
	consoleRefuses bool
}

var errFakeNotFound = errors.New("fake: not found")

func (f *fakeAPI) latestBuild(context.Context, string) (int64, error) { return f.latest, nil }
func (f *fakeAPI) listJobs(context.Context, int) (*jobList, error) {
	return nil, errors.New("fake: ListJob is not scripted")
}
func (f *fakeAPI) rate() float64 { return 0 }
func (f *fakeAPI) buildRecord(context.Context, string, int64) (*buildRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recordCalls++
	r := f.rec
	return &r, nil
}
func (f *fakeAPI) stages(_ context.Context, id string) ([]stageInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stageCalls = append(f.stageCalls, id)
	if id != f.acceptID {
		return nil, errFakeNotFound
	}
	return f.stagesOut, nil
}
func (f *fakeAPI) stepLog(_ context.Context, running bool, q logQuery) (*logPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pageCalls = append(f.pageCalls, q.StartOffset)
	if !running && f.consoleRefuses {
		return nil, errFakeNotFound
	}
	p, ok := f.pages[q.StartOffset]
	if !ok {
		return nil, errFakeNotFound
	}
	return &p, nil
}
func (f *fakeAPI) notFound(err error) bool { return errors.Is(err, errFakeNotFound) }
func (f *fakeAPI) refused(err error) bool  { return errors.Is(err, errFakeNotFound) }
func (f *fakeAPI) errKey(err error) string { return err.Error() }

func fakeCollector(t *testing.T, f *fakeAPI) (*Collector, Options) {
	t.Helper()
	o := Options{api: f, Jobs: []Job{{ID: "0123456789abcdef0123456789abcdef", Name: "fake"}}, BackfillBuilds: 1, StateFile: tempState(t)}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, o
}

// TestRecordIDFallbackIsCached: full-stages rejects record-info's id and
// accepts build_record_id; the winner is remembered (also across a restart)
// and tried first from then on.
func TestRecordIDFallbackIsCached(t *testing.T) {
	f := &fakeAPI{
		latest:    1,
		rec:       buildRecord{ID: "id-1", BuildRecordID: "brid-1", Status: "RUNNING"},
		acceptID:  "brid-1",
		stagesOut: []stageInfo{{Name: "stage1", Display: "build", NodeID: 7, HasNode: true, Sequence: 1, Status: "RUNNING"}},
		pages:     map[int64]logPage{0: {HasMore: false, EndOffset: 0}},
	}
	c, o := fakeCollector(t, f)
	ctx := context.Background()
	if err := c.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.stageCalls, ","); got != "id-1,brid-1" {
		t.Fatalf("first poll asked full-stages for %s, want id-1,brid-1", got)
	}
	if got := c.published.Load().job("fake").RecordIDField; got != "build_record_id" {
		t.Fatalf("cached field %q, want build_record_id", got)
	}
	f.stageCalls = nil
	if err := c.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.stageCalls, ","); got != "brid-1" {
		t.Fatalf("second poll asked full-stages for %s, want the cached brid-1 only", got)
	}
	c2, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.stageCalls = nil
	if err := c2.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.stageCalls, ","); got != "brid-1" {
		t.Fatalf("after a restart full-stages was asked for %s, want brid-1", got)
	}
}

// TestStuckEndOffsetIsNotReread: a page with has_more=true whose end_offset
// equals its start must not be asked for again in the same poll (that would
// count its text twice per page budget); the step waits for the next poll.
func TestStuckEndOffsetIsNotReread(t *testing.T) {
	line := "[2026/09/10 17:26:22.661 GMT+08:00] hello\n"
	f := &fakeAPI{
		latest:    1,
		rec:       buildRecord{ID: "id-1", Status: "RUNNING"},
		acceptID:  "id-1",
		stagesOut: []stageInfo{{Name: "stage1", Display: "build", NodeID: 7, HasNode: true, Sequence: 1, Status: "RUNNING"}},
		pages: map[int64]logPage{
			0:   {HasMore: true, EndOffset: 100, Log: []byte(line)},
			100: {HasMore: true, EndOffset: 100, Log: []byte(line)},
		},
	}
	c, _ := fakeCollector(t, f)
	if err := c.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.pageCalls; len(got) != 2 || got[0] != 0 || got[1] != 100 {
		t.Fatalf("page requests %v, want [0 100] (no repeat of the stuck cursor)", got)
	}
	if got := c.published.Load().job("fake").Builds[0].Stages[0].Cursor; got != 100 {
		t.Fatalf("cursor %d, want 100", got)
	}
}

// TestConsoleRefusedFallsBackToActionInfo: when ShowConsoleInfo refuses a
// finished step, its log is read with ShowActionInfo instead of wedging the
// build.
func TestConsoleRefusedFallsBackToActionInfo(t *testing.T) {
	f := &fakeAPI{
		latest:         1,
		rec:            buildRecord{ID: "id-1", Status: "SUCCESS", StartMs: 1000, FinishMs: 61_000},
		acceptID:       "id-1",
		stagesOut:      []stageInfo{{Name: "stage1", Display: "build", NodeID: 7, HasNode: true, Sequence: 1, Status: "SUCCESS"}},
		pages:          map[int64]logPage{0: {HasMore: false, EndOffset: 42, Log: []byte("[2026/09/10 17:26:22.661 GMT+08:00] done\n")}},
		consoleRefuses: true,
	}
	c, _ := fakeCollector(t, f)
	if err := c.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := c.published.Load().job("fake")
	if len(j.Builds) != 0 || j.BuildDur["success"] == nil || j.BuildDur["success"].Count != 1 {
		t.Fatalf("build not completed through the ShowActionInfo fallback: %+v", j)
	}
	if j.Records["build"][1][2] != 1 {
		t.Fatalf("records %v, want one output/info record", j.Records)
	}
}

// classifiedLog is a step log whose failure the default rules classify
// (disk), with error records before the failure point and a record split
// across every page boundary of classifiedPages.
const classifiedLog = "[2026/09/10 17:26:22.661 GMT+08:00] [INFO] [BUILD:run] : 该步骤开始执行\n" +
	"[2026/09/10 17:26:23.000 GMT+08:00] npm install\n" +
	"[2026/09/10 17:26:24.000 GMT+08:00] ERROR: cannot fetch the registry index\n  retrying\n" +
	"[2026/09/10 17:26:25.000 GMT+08:00] + echo ENOSPC\n" +
	"[2026/09/10 17:26:26.000 GMT+08:00] npm ERR! code ENOSPC\n" +
	"[2026/09/10 17:26:27.000 GMT+08:00] npm ERR! errno -28\n" +
	"[2026/09/10 17:26:28.000 GMT+08:00] [ERROR] [BUILD:run] : DEV.CB.0210043: exit code: 228\n"

// classifiedPages cuts log into n pages of about the same size, keyed by
// start offset; every page but the last has has_more.
func classifiedPages(log string, n int) map[int64]logPage {
	pages := map[int64]logPage{}
	for i := range n {
		from, to := len(log)*i/n, len(log)*(i+1)/n
		pages[int64(from)] = logPage{HasMore: i < n-1, EndOffset: int64(to), Log: []byte(log[from:to])}
	}
	return pages
}

// TestFailureClassificationAcrossRestarts reads one step log a page per
// poll while its reported status changes, once without interruption and
// once restarting the exporter after every poll (from the state file as a
// kill -9 leaves it, half of them dying after a page before any commit). The
// classifier is fed only while the step may still end failed (running, or
// reported failed); both runs must count and classify the failure exactly
// as the whole log classified at once, and a step reported successful must
// not carry classifier state.
func TestFailureClassificationAcrossRestarts(t *testing.T) {
	const nPages = 5
	cls := parser.NewFailureClassifier(nil)
	stream := parser.NewStream(nil, cls.Record)
	_, _ = stream.WriteString(classifiedLog)
	stream.Flush()
	whole := cls.Result()
	if whole.Category != parser.CategoryDisk || len(whole.Evidence) < 2 {
		t.Fatalf("the test log classifies as %+v, want disk with evidence", whole)
	}
	unclassified := parser.Failure{Category: parser.CategoryUnknown, Cause: causeUnclassified}
	for _, tc := range []struct {
		name     string
		statuses []string // the step's status when page i is read; the last one holds on
		running  int      // the build runs while the first running pages are read, whatever the step's status
		want     *parser.Failure
	}{
		{"failed", []string{"FAILED"}, 0, &whole},
		{"running then failed", []string{"RUNNING", "RUNNING", "RUNNING", "FAILED"}, 0, &whole},
		{"successful", []string{"SUCCESS"}, 0, nil},
		{"running then successful", []string{"RUNNING", "RUNNING", "SUCCESS"}, 0, nil},
		// A service that changes a finished step's result while the build
		// runs: the records read while it was successful were not
		// classified.
		{"successful then failed", []string{"RUNNING", "SUCCESS", "FAILED"}, 3, &unclassified},
		// Once the build and its step have finished, their statuses are
		// not asked for again (buildProgress.Final): a later change is
		// not seen.
		{"finished, then changed", []string{"RUNNING", "SUCCESS", "FAILED"}, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var results []*failureRecord
			for _, restart := range []bool{false, true} {
				f := &fakeAPI{latest: 1, acceptID: "id-1", pages: classifiedPages(classifiedLog, nPages)}
				crashNext := false
				_, o := fakeCollector(t, f)
				o.MaxPagesPerPoll = 1
				o.hook = func(p string) bool { return crashNext && p == hookAfterPage }
				c, err := New(o)
				if err != nil {
					t.Fatal(err)
				}
				for poll := 0; ; poll++ {
					if poll > 4*nPages {
						t.Fatalf("restart=%v: build not finished after %d polls", restart, poll)
					}
					// The status depends on the page read next, so that both
					// runs see the same status with the same page.
					next := 0
					if j := c.published.Load().job("fake"); j != nil && len(j.Builds) == 1 && len(j.Builds[0].Stages) == 1 {
						next = int(j.Builds[0].Stages[0].Cursor) * nPages / len(classifiedLog)
					}
					status := tc.statuses[min(next, len(tc.statuses)-1)]
					f.rec = buildRecord{ID: "id-1", Status: "RUNNING"}
					if metrics.IsFinished(status) && next >= tc.running {
						f.rec.Status = status
					}
					f.stagesOut = []stageInfo{{Name: "stage1", Display: "build", NodeID: 7, HasNode: true, Sequence: 1, Status: status}}
					crashNext = restart && poll%2 == 0
					seq := int64(-1)
					if j := c.published.Load().job("fake"); j != nil && len(j.Builds) == 1 && len(j.Builds[0].Stages) == 1 {
						seq = j.Builds[0].Stages[0].Failure.Seq
					}
					err = c.PollOnce(context.Background())
					if restart {
						if c, err = New(o); err != nil {
							t.Fatal(err)
						}
					} else if err != nil {
						t.Fatal(err)
					}
					j := c.published.Load().job("fake")
					if j == nil || len(j.Builds) == 1 && len(j.Builds[0].Stages) == 0 {
						continue // died before the first commit
					}
					if len(j.Builds) == 0 {
						results = append(results, j.LastFailure)
						if n := j.Failures["build"]; (tc.want != nil) != (len(n) == 1) {
							t.Fatalf("restart=%v: failures counted %v", restart, j.Failures)
						}
						break
					}
					if st := j.Builds[0].Stages; status == "SUCCESS" && seq >= 0 && st[0].Failure.Seq != seq {
						t.Errorf("restart=%v poll %d: a successful step's records were classified (%d, %d before)", restart, poll, st[0].Failure.Seq, seq)
					}
				}
			}
			for i, got := range results {
				if tc.want == nil {
					if got != nil {
						t.Errorf("run %d: failure %+v, want none", i, got)
					}
					continue
				}
				if got == nil || got.Category != tc.want.Category || got.Cause != tc.want.Cause || got.Code != tc.want.Code || got.ExitCode != tc.want.ExitCode {
					t.Fatalf("run %d: failure %+v, want %+v", i, got, tc.want)
				}
				var ev []parser.Evidence
				for _, e := range got.Evidence {
					ev = append(ev, parser.Evidence{Line: e.Line, Text: e.Text})
				}
				if !slices.Equal(ev, tc.want.Evidence) {
					t.Errorf("run %d: evidence %+v, want %+v", i, ev, tc.want.Evidence)
				}
			}
		})
	}
}

// TestFinishedBuildAskedOnce: a finished build whose logs take several
// polls is asked for its record and stages once, also across a restart
// (buildProgress.Final is in the state), and is still observed with the
// record's result and duration. A running build is asked every poll, and
// so is a finished one with a stage that has not reached a finished status.
func TestFinishedBuildAskedOnce(t *testing.T) {
	for _, tc := range []struct {
		name, build, stage string
		once               bool
	}{
		{"finished", "FAILED", "FAILED", true},
		{"running", "RUNNING", "RUNNING", false},
		{"finished, a stage not", "FAILED", "RUNNING", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const nPages = 5
			f := &fakeAPI{
				latest: 1, acceptID: "id-1", pages: classifiedPages(classifiedLog, nPages),
				rec:       buildRecord{ID: "id-1", Status: tc.build, StartMs: 1_000, FinishMs: 61_000},
				stagesOut: []stageInfo{{Name: "stage1", Display: "build", NodeID: 7, HasNode: true, Sequence: 1, Status: tc.stage}},
			}
			_, o := fakeCollector(t, f)
			o.MaxPagesPerPoll = 1
			polls, maxPolls := 0, nPages+2
			if tc.build == "RUNNING" {
				maxPolls = 3 // pages 0-2; the build never finishes
			}
			for ; polls < maxPolls; polls++ {
				c, err := New(o) // a restart before every poll
				if err != nil {
					t.Fatal(err)
				}
				if err := c.PollOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
				if j := c.published.Load().job("fake"); len(j.Builds) == 0 {
					if lb := j.LastBuild; lb == nil || lb.Result != "failure" || lb.DurationMs != 60_000 || lb.FinishedMs != 61_000 {
						t.Fatalf("last build %+v, want a failure of 60 s finished at 61,000", lb)
					}
					polls++
					break
				}
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if tc.build != "RUNNING" && polls != nPages {
				t.Errorf("finished after %d polls, want %d", polls, nPages)
			}
			want := polls
			if tc.once {
				want = 1
			}
			if f.recordCalls != want || len(f.stageCalls) != want {
				t.Errorf("record asked %d times, stages %d times in %d polls; want %d each", f.recordCalls, len(f.stageCalls), polls, want)
			}
		})
	}
}
