package metrics

import "testing"

func TestResultFromStatus(t *testing.T) {
	cases := map[string]string{
		"SUCCESS": ResultSuccess, "success": ResultSuccess,
		"FAILED": ResultFailure, "FAILURE": ResultFailure, "ERROR": ResultFailure, "TIMEOUT": ResultFailure,
		"ABORTED": ResultAborted, "CANCELED": ResultAborted,
		"RUNNING": ResultUnknown, "": ResultUnknown, "SCHEDULE_FAILURE": ResultUnknown,
	}
	for in, want := range cases {
		if got := ResultFromStatus(in); got != want {
			t.Errorf("ResultFromStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsFinished(t *testing.T) {
	for _, s := range []string{"SUCCESS", "FAILED", "FAILURE", "ERROR", "TIMEOUT", "ABORTED", "CANCELED", "aborted"} {
		if !IsFinished(s) {
			t.Errorf("IsFinished(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"RUNNING", "PENDING", "QUEUED", "InQueue", "", "Finished"} {
		if IsFinished(s) {
			t.Errorf("IsFinished(%q) = true, want false", s)
		}
	}
}
