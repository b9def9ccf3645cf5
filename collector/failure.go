package collector

// failureRecord is the newest failed action run of a job, classified by the
// failure rules: what /status and the logs show about why a build broke.
type failureRecord struct {
	BuildNumber int64          `json:"build_number"`
	Action      string         `json:"action"`
	Category    string         `json:"category"`
	Cause       string         `json:"cause"`
	Code        string         `json:"code,omitempty"`      // DEV.CB.xxxx when present
	ExitCode    string         `json:"exit_code,omitempty"` // when present
	Evidence    []evidenceLine `json:"evidence,omitempty"`  // at most 8, each at most 512 bytes
	FinishedMs  int64          `json:"finished_ms,omitempty"`
}

// evidenceLine is one log line that shows why an action run failed.
type evidenceLine struct {
	Line int64  `json:"line"` // 1-based line number within the step's log
	Text string `json:"text"`
}
