package simulator

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"
)

type listJobPage struct {
	Result struct {
		Total   int `json:"total"`
		JobList []struct {
			ID            string          `json:"id"`
			Name          string          `json:"job_name"`
			ProjectID     string          `json:"project_id"`
			BuildNumber   json.RawMessage `json:"build_number"`
			IsFinished    bool            `json:"is_finished"`
			LastBuildTime int64           `json:"last_build_time"`
		} `json:"job_list"`
	} `json:"result"`
}

func listJob(t *testing.T, base string, page, size int) listJobPage {
	t.Helper()
	f := &fixture{srv: &httptest.Server{URL: base}}
	r := f.get(t, "/v1/job/list", url.Values{"page_index": {strconv.Itoa(page)}, "page_size": {strconv.Itoa(size)}})
	if r.status != 200 {
		t.Fatalf("ListJob page %d: %d %s", page, r.status, r.raw)
	}
	var p listJobPage
	if err := json.Unmarshal([]byte(r.raw), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestManyJobsListJob(t *testing.T) {
	const n, active = 250, 5
	clock := NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s, err := New(Options{Seed: 1, Clock: clock, Jobs: ManyJobs(n, active)})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	srv := httptest.NewServer(s)
	defer srv.Close()

	forms := map[string]int{}
	running, seen := 0, map[string]bool{}
	var pages []int
	for page := 0; ; page++ {
		p := listJob(t, srv.URL, page, 100)
		if p.Result.Total != n {
			t.Fatalf("total %d, want %d", p.Result.Total, n)
		}
		pages = append(pages, len(p.Result.JobList))
		for _, j := range p.Result.JobList {
			i := len(seen)
			if j.ID != ManyJobID(i) || j.Name != ManyJobName(i) || seen[j.ID] {
				t.Fatalf("entry %d: %s %s", i, j.ID, j.Name)
			}
			seen[j.ID] = true
			if want := []string{ManyProjectA, ManyProjectB}[i%2]; j.ProjectID != want {
				t.Errorf("%s: project %s, want %s", j.Name, j.ProjectID, want)
			}
			switch b := string(j.BuildNumber); {
			case b == `""`:
				forms["empty"]++
				if i%50 != 49 {
					t.Errorf("%s: build_number \"\" but it has builds", j.Name)
				}
			case b[0] == '"':
				forms["string"]++
			default:
				forms["number"]++
			}
			if !j.IsFinished {
				running++
				if !ManyJobActive(i, n, active) {
					t.Errorf("idle job %s has an unfinished build", j.Name)
				}
			}
			if j.LastBuildTime != 0 && j.LastBuildTime < 1e12 {
				t.Errorf("%s: last_build_time %d is not epoch ms", j.Name, j.LastBuildTime)
			}
		}
		if len(p.Result.JobList) < 100 {
			break
		}
	}
	if len(seen) != n || len(pages) != 3 || pages[2] != 50 {
		t.Fatalf("walked %d jobs in pages %v", len(seen), pages)
	}
	if forms["empty"] != n/50 || forms["string"] == 0 || forms["number"] == 0 {
		t.Errorf("build_number forms %v: want \"\" for the never-built, strings and numbers", forms)
	}
	if running == 0 || running > active {
		t.Errorf("%d unfinished builds, want 1..%d", running, active)
	}

	// Listing generated no build: the idle world costs nothing.
	s.mu.Lock()
	held := len(s.byRecordID)
	s.mu.Unlock()
	if held != 0 {
		t.Errorf("ListJob generated %d builds", held/2)
	}

	// A hidden job leaves the list, and comes back.
	if err := s.SetListed(ManyJobID(3), false); err != nil {
		t.Fatal(err)
	}
	if p := listJob(t, srv.URL, 0, 100); p.Result.Total != n-1 || p.Result.JobList[3].ID != ManyJobID(4) {
		t.Fatalf("after hiding job 3: total %d, entry 3 %s", p.Result.Total, p.Result.JobList[3].Name)
	}
	if err := s.SetListed(ManyJobID(3), true); err != nil {
		t.Fatal(err)
	}
	if p := listJob(t, srv.URL, 0, 100); p.Result.Total != n || p.Result.JobList[3].ID != ManyJobID(3) {
		t.Fatal("job 3 did not come back")
	}
	if err := s.SetListed("nosuchjob", false); err == nil {
		t.Error("SetListed of an unknown job: no error")
	}

	// Calls are counted by operation and by job.
	f := &fixture{srv: srv}
	if r := f.get(t, "/v1/job/"+ManyJobID(0)+"/running-status", nil); r.status != 200 {
		t.Fatal(r.raw)
	}
	st := s.Stats()
	if st.Ops["ListJob"] != 5 || st.Ops["ShowRunningStatus"] != 1 || st.JobCalls[ManyJobID(0)] != 1 || len(st.JobCalls) != 1 {
		t.Errorf("stats ops %v jobs %v", st.Ops, st.JobCalls)
	}
}
