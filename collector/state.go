package collector

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

// State file format 1 (docs/collector.md, "The state file"), read to
// migrate it; this exporter writes format 2 (journal.go):
//
//	{"format":"codearts_build_exporter.state","version":1,
//	 "written_at":"2026-09-10T09:26:22Z",
//	 "action_duration_buckets":[...],"build_duration_buckets":[...],
//	 "jobs_sha256":"<hex sha256 of the bytes of the jobs value>",
//	 "jobs":{ "<job_name>": {...jobLedger...}, ... }}
//
// The checksum covers the exact bytes of "jobs" as stored, so a file that
// was edited by hand, truncated or damaged on disk is refused instead of
// being loaded with wrong counter values.
const (
	stateFormat  = "codearts_build_exporter.state"
	stateVersion = 1
)

// stateHeader opens every state file: format 2's first line and, with the
// jobs, format 1's whole object. The bucket lists are the ones the
// histograms were written with, so that a file from an exporter with other
// buckets is re-bucketed on load.
type stateHeader struct {
	Format        string    `json:"format"`
	Version       int       `json:"version"`
	WrittenAt     time.Time `json:"written_at"`
	ActionBuckets []float64 `json:"action_duration_buckets"`
	BuildBuckets  []float64 `json:"build_duration_buckets"`
}

// newStateHeader is the header this exporter writes for format version.
func newStateHeader(version int, now time.Time) stateHeader {
	return stateHeader{Format: stateFormat, Version: version, WrittenAt: now.UTC().Truncate(time.Second),
		ActionBuckets: metrics.ActionDurationBuckets, BuildBuckets: metrics.BuildDurationBuckets}
}

// stateEnvelope is a format 1 file: the header and every job in one JSON
// object. It is only read now, to migrate it.
type stateEnvelope struct {
	stateHeader
	JobsSHA256 string          `json:"jobs_sha256"`
	Jobs       json.RawMessage `json:"jobs"`
}

// StateFileError is returned by New when the state file exists but cannot be
// used. The exporter must not start on it: starting from zero silently would
// not be wrong for Prometheus, but starting from a damaged file could count
// logs twice. The way out is in the message: move the file aside.
type StateFileError struct {
	Path string
	Err  error
}

func (e *StateFileError) Error() string {
	return fmt.Sprintf("state file %s: %v; refusing to start so that no log is counted twice. "+
		"To start over, move the file aside (mv %s %s.broken) and restart: the codearts_build_* "+
		"counters then restart from zero, which Prometheus handles as a counter reset",
		e.Path, e.Err, e.Path, e.Path)
}

func (e *StateFileError) Unwrap() error { return e.Err }

// decodeState parses a format 1 state file's content. Errors say what is wrong, not
// where the file is (the caller wraps them in a StateFileError).
func decodeState(data []byte) (*ledger, []string, error) {
	var env stateEnvelope
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&env); err != nil {
		return nil, nil, fmt.Errorf("not a valid state file (JSON: %v)", err)
	}
	if env.Format != stateFormat {
		return nil, nil, fmt.Errorf("not a codearts_build_exporter state file (format %q, want %q)", env.Format, stateFormat)
	}
	if env.Version != stateVersion {
		return nil, nil, fmt.Errorf("state format version %d is not supported by this exporter (it reads version %d)", env.Version, stateVersion)
	}
	sum := sha256.Sum256(env.Jobs)
	if hex.EncodeToString(sum[:]) != env.JobsSHA256 {
		return nil, nil, errors.New("checksum mismatch: the file was modified or damaged after it was written")
	}
	var jobs map[string]*jobLedger
	if err := json.Unmarshal(env.Jobs, &jobs); err != nil {
		return nil, nil, fmt.Errorf("jobs section: %v", err)
	}
	for name, j := range jobs {
		if j == nil {
			return nil, nil, fmt.Errorf("job %q: null entry", name)
		}
		if err := j.validate(len(env.ActionBuckets), len(env.BuildBuckets)); err != nil {
			return nil, nil, fmt.Errorf("job %q: %v", name, err)
		}
	}
	l := newLedger(jobs)
	notes, _ := l.rebucket(env.ActionBuckets, env.BuildBuckets)
	return l, notes, nil
}

// validate checks the invariants decodeState relies on, so a file that is
// well-formed JSON but inconsistent is refused instead of half-used.
// nAction and nBuild are the lengths of the bucket lists the file was
// written with.
func (j *jobLedger) validate(nAction, nBuild int) error {
	check := func(what string, h *histogram, nb int) error {
		if h == nil {
			return fmt.Errorf("%s: null histogram", what)
		}
		if len(h.Buckets) != nb+1 {
			return fmt.Errorf("%s: %d buckets, want %d", what, len(h.Buckets), nb+1)
		}
		var n uint64
		for _, b := range h.Buckets {
			n += b
		}
		if n != h.Count || h.SumMs < 0 {
			return fmt.Errorf("%s: bucket counts add up to %d but count is %d (sum %d ms)", what, n, h.Count, h.SumMs)
		}
		for k := range h.Native {
			if k < metrics.NativeMinKey || k > metrics.NativeMaxKey {
				return fmt.Errorf("%s: native bucket %d is outside [%d, %d]", what, k, metrics.NativeMinKey, metrics.NativeMaxKey)
			}
		}
		return nil
	}
	for a, byResult := range j.ActionDur {
		for r, h := range byResult {
			if err := check(fmt.Sprintf("action duration %q/%q", a, r), h, nAction); err != nil {
				return err
			}
		}
	}
	for r, h := range j.BuildDur {
		if err := check(fmt.Sprintf("build duration %q", r), h, nBuild); err != nil {
			return err
		}
	}
	for i, b := range j.Builds {
		if b == nil {
			return fmt.Errorf("build entry %d is null", i)
		}
		for k, s := range b.Stages {
			if s == nil {
				return fmt.Errorf("build %d: stage entry %d is null", b.Number, k)
			}
		}
	}
	return nil
}

// loadState reads path and returns the ledger it holds and the store that
// commits to it. A missing file is not an error (nil ledger): the exporter
// starts from zero and the first commit creates the file. A format 1 file
// (one JSON document) is read and rewritten as format 2 at the first commit.
// Anything else that prevents using the file is a *StateFileError.
func loadState(path string) (*ledger, []string, *stateStore, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, newStateStore(path, journalStats{rewrite: true}), nil
	}
	if err != nil {
		return nil, nil, nil, &StateFileError{Path: path, Err: err}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, nil, &StateFileError{Path: path, Err: errors.New("file is empty (an interrupted write cannot leave an empty file; it was truncated by something else)")}
	}
	if data[0] == '{' {
		l, notes, err := decodeState(data)
		if err != nil {
			return nil, nil, nil, &StateFileError{Path: path, Err: err}
		}
		notes = append(notes, "the file is in format 1 (one JSON document); the first commit rewrites it in format 2 (a journal of per-job records)")
		return l, notes, newStateStore(path, journalStats{rewrite: true}), nil
	}
	l, notes, st, err := decodeJournal(data)
	if err != nil {
		return nil, nil, nil, &StateFileError{Path: path, Err: err}
	}
	if st.torn > 0 {
		notes = append(notes, fmt.Sprintf("ignored an unfinished last line of %d bytes (a commit interrupted before it was published); the first commit rewrites the file", st.torn))
	}
	return l, notes, newStateStore(path, st), nil
}

// writeFileAtomic replaces path with data so that a crash at any moment
// leaves either the old or the new content: write a temporary file in the
// same directory, fsync it, rename it over path, fsync the directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmpName, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if serr := d.Sync(); serr != nil && !errors.Is(serr, os.ErrInvalid) {
		_ = d.Close()
		return fmt.Errorf("fsync directory %s: %w", dir, serr)
	}
	return d.Close()
}

// removeStaleTemps deletes temporary files a crash during writeFileAtomic
// left next to path (".<name>.tmp-*"). It returns the names removed.
func removeStaleTemps(path string) []string {
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(path), "."+globEscape(filepath.Base(path))+".tmp-*"))
	if err != nil {
		return nil
	}
	var removed []string
	for _, m := range matches {
		if os.Remove(m) == nil {
			removed = append(removed, m)
		}
	}
	return removed
}

// globEscape quotes the metacharacters of filepath.Match in s.
func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
