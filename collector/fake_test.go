package collector

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// fakeAPI is a scripted api for behaviour the simulator does not produce:
// a service that accepts only build_record_id as record_id, and a log whose
// end_offset stops moving.
type fakeAPI struct {
	mu         sync.Mutex
	latest     int64
	rec        buildRecord
	acceptID   string // the only record_id full-stages accepts
	stageCalls []string
	stagesOut  []stageInfo
	pages      map[int64]logPage // by start offset
	pageCalls  []int64
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
	if got := c.published.Load().Jobs["fake"].RecordIDField; got != "build_record_id" {
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
			0:   {HasMore: true, EndOffset: 100, Log: line},
			100: {HasMore: true, EndOffset: 100, Log: line},
		},
	}
	c, _ := fakeCollector(t, f)
	if err := c.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.pageCalls; len(got) != 2 || got[0] != 0 || got[1] != 100 {
		t.Fatalf("page requests %v, want [0 100] (no repeat of the stuck cursor)", got)
	}
	if got := c.published.Load().Jobs["fake"].Builds[0].Stages[0].Cursor; got != 100 {
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
		pages:          map[int64]logPage{0: {HasMore: false, EndOffset: 42, Log: "[2026/09/10 17:26:22.661 GMT+08:00] done\n"}},
		consoleRefuses: true,
	}
	c, _ := fakeCollector(t, f)
	if err := c.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := c.published.Load().Jobs["fake"]
	if len(j.Builds) != 0 || j.BuildDur["success"] == nil || j.BuildDur["success"].Count != 1 {
		t.Fatalf("build not completed through the ShowActionInfo fallback: %+v", j)
	}
	if j.Records["build"][1][2] != 1 {
		t.Fatalf("records %v, want one output/info record", j.Records)
	}
}
