package collector

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
)

// State file format 2: a journal of per-job records (docs/collector.md,
// "The state file"). Every line is
//
//	<crc32c of the JSON, 8 hex digits> <JSON>\n
//
// The first line is the header
//
//	{"format":"codearts_build_exporter.state","version":2,"written_at":...,
//	 "action_duration_buckets":[...],"build_duration_buckets":[...]}
//
// and every further line is one job's whole ledger entry as committed:
//
//	{"job":"<job_name>","entry":{...jobLedger...}}
//
// A commit appends it compressed, as "z" and the base64 of its DEFLATE;
// a compaction writes plain JSON.
//
// A later line for a job replaces the earlier ones. A commit appends one line
// and fsyncs the file, so it writes what the job's entry weighs, not what
// the whole ledger weighs. When the superseded lines outweigh the live ones
// (and at least journalMinGarbage), the commit instead rewrites the file
// with one line per job, atomically (temporary file, fsync, rename), which
// bounds the file at about twice the live size.
//
// A line that does not end in a newline can only be the tail of an append
// the process did not finish (killed, or the machine went down): that commit
// was never published, and the line is ignored. Any other line that does not
// check out means the file was damaged or edited, and it is refused.
const (
	stateVersionJournal = 2
	// journalMinGarbage is the superseded bytes below which the journal
	// is never compacted, so that small installations do not rewrite
	// their file every few commits.
	journalMinGarbage = 4 << 20
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

type journalRecord struct {
	Job   string     `json:"job"`
	Entry *jobLedger `json:"entry"`
}

// appendJournalLine appends the line for the JSON value v to buf.
func appendJournalLine(buf []byte, v any) ([]byte, error) {
	start := len(buf)
	buf = append(buf, "00000000 "...)
	w := bytes.NewBuffer(buf)
	enc := json.NewEncoder(w) // Encode ends the value with '\n'
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return buf[:start], err
	}
	buf = w.Bytes()
	putChecksum(buf[start:], crc32.Checksum(buf[start+9:len(buf)-1], crc32c))
	return buf, nil
}

// putChecksum writes sum as 8 hex digits at the start of line.
func putChecksum(line []byte, sum uint32) {
	h := [4]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}
	hex.Encode(line[:8], h[:])
}

// encodeJournal serialises the whole ledger as a compacted journal. It also
// returns the length of each job's line.
func encodeJournal(l *ledger, now time.Time) ([]byte, map[string]int64, error) {
	buf, err := appendJournalLine(nil, newStateHeader(stateVersionJournal, now))
	if err != nil {
		return nil, nil, fmt.Errorf("encode state: %w", err)
	}
	lens := make(map[string]int64, l.len())
	for _, name := range l.names() {
		n := len(buf)
		if buf, err = appendJournalLine(buf, journalRecord{Job: name, Entry: l.job(name)}); err != nil {
			return nil, nil, fmt.Errorf("encode state of job %q: %w", name, err)
		}
		lens[name] = int64(len(buf) - n)
	}
	return buf, lens, nil
}

// journalLine checks one line (without its newline) and returns its JSON.
func journalLine(line []byte) ([]byte, error) {
	if len(line) < 10 || line[8] != ' ' {
		return nil, errors.New("not a state file line (want <checksum> <JSON>)")
	}
	want, err := strconv.ParseUint(string(line[:8]), 16, 32)
	if err != nil {
		return nil, errors.New("not a state file line (want <checksum> <JSON>)")
	}
	if crc32.Checksum(line[9:], crc32c) != uint32(want) {
		return nil, errors.New("checksum mismatch: the file was modified or damaged after it was written")
	}
	return line[9:], nil
}

// journalStats is what decodeJournal learnt about the file beyond the ledger.
type journalStats struct {
	size    int64            // bytes of the file up to the last complete line
	live    map[string]int64 // job -> bytes of its newest line
	torn    int64            // bytes of an unfinished last line (ignored)
	rewrite bool             // buckets changed: appending is not possible
}

// decodeJournal parses a format 2 state file.
func decodeJournal(data []byte) (*ledger, []string, journalStats, error) {
	st := journalStats{live: map[string]int64{}}
	l := &ledger{}
	var hdr stateHeader
	lineNo := 0
	for off := 0; off < len(data); {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			if lineNo == 0 {
				return nil, nil, st, errors.New("not a valid state file (the header line is incomplete)")
			}
			st.torn = int64(len(data) - off)
			break
		}
		line := data[off : off+nl]
		lineNo++
		where := fmt.Sprintf("line %d (byte %d)", lineNo, off)
		off += nl + 1
		js, err := journalLine(line)
		if err != nil {
			if lineNo == 1 {
				return nil, nil, st, fmt.Errorf("not a valid state file (%s: %v)", where, err)
			}
			return nil, nil, st, fmt.Errorf("%s: %v", where, err)
		}
		if lineNo == 1 {
			if err := json.Unmarshal(js, &hdr); err != nil {
				return nil, nil, st, fmt.Errorf("not a valid state file (header: %v)", err)
			}
			if hdr.Format != stateFormat {
				return nil, nil, st, fmt.Errorf("not a codearts_build_exporter state file (format %q, want %q)", hdr.Format, stateFormat)
			}
			if hdr.Version != stateVersionJournal {
				return nil, nil, st, fmt.Errorf("state format version %d is not supported by this exporter (it reads versions %d and %d)", hdr.Version, stateVersion, stateVersionJournal)
			}
			continue
		}
		if js[0] == 'z' {
			if js, err = inflate(js[1:]); err != nil {
				return nil, nil, st, fmt.Errorf("%s: %v", where, err)
			}
		}
		var rec journalRecord
		if err := json.Unmarshal(js, &rec); err != nil {
			return nil, nil, st, fmt.Errorf("%s: %v", where, err)
		}
		if rec.Entry == nil {
			return nil, nil, st, fmt.Errorf("%s: job %q: null entry", where, rec.Job)
		}
		if err := rec.Entry.validate(len(hdr.ActionBuckets), len(hdr.BuildBuckets)); err != nil {
			return nil, nil, st, fmt.Errorf("%s: job %q: %v", where, rec.Job, err)
		}
		l.set(rec.Job, rec.Entry)
		st.live[rec.Job] = int64(nl + 1)
	}
	st.size = int64(len(data)) - st.torn
	notes, changed := l.rebucket(hdr.ActionBuckets, hdr.BuildBuckets)
	st.rewrite = changed
	return l, notes, st, nil
}

// stateStore writes the ledger to the state file, one job's record per
// commit (format 2). It is used under Collector.commitMu only.
type stateStore struct {
	path string
	// size is the length of the file up to its last complete line; live
	// holds the length of each job's newest line, liveBytes their sum.
	size      int64
	live      map[string]int64
	liveBytes int64
	// rewrite forces the next commit to rewrite the whole file: it is
	// missing, in format 1, has an unfinished last line or other buckets,
	// or an append failed.
	rewrite bool
	buf     []byte
	// js, z and zw are the encoder's reused buffers and compressor.
	js, z bytes.Buffer
	zw    *flate.Writer
}

// newStateStore returns the store for a file decoded into st.
func newStateStore(path string, st journalStats) *stateStore {
	s := &stateStore{path: path, size: st.size, live: st.live, rewrite: st.rewrite || st.torn > 0}
	if s.live == nil {
		s.live = map[string]int64{}
	}
	for _, n := range s.live {
		s.liveBytes += n
	}
	return s
}

// encode prepares the record of job name in s.buf.
func (s *stateStore) encode(name string, jl *jobLedger) error {
	var err error
	s.buf, err = s.appendCompressed(s.buf[:0], journalRecord{Job: name, Entry: jl})
	if err != nil {
		return fmt.Errorf("encode state of job %q: %w", name, err)
	}
	return nil
}

// appendCompressed appends the line of a record in its compressed form:
// "<checksum> z<base64 of the DEFLATE of the JSON>". Appended lines are
// most of what the state file writes, and an entry's JSON (field names,
// bucket lists, base64 of carried records) shrinks four to six times.
func (s *stateStore) appendCompressed(buf []byte, v any) ([]byte, error) {
	s.js.Reset()
	enc := json.NewEncoder(&s.js)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return buf, err
	}
	s.z.Reset()
	if s.zw == nil {
		s.zw, _ = flate.NewWriter(&s.z, flate.BestSpeed) // the level is valid
	} else {
		s.zw.Reset(&s.z)
	}
	if _, err := s.zw.Write(bytes.TrimSuffix(s.js.Bytes(), []byte("\n"))); err != nil {
		return buf, err
	}
	if err := s.zw.Close(); err != nil {
		return buf, err
	}
	start := len(buf)
	buf = append(buf, "00000000 z"...)
	buf = base64.StdEncoding.AppendEncode(buf, s.z.Bytes())
	putChecksum(buf[start:], crc32.Checksum(buf[start+9:], crc32c))
	return append(buf, '\n'), nil
}

// maxRecordJSON bounds what one compressed line may expand to, so that a
// damaged or hostile file cannot make loading take unbounded memory.
const maxRecordJSON = 256 << 20

// inflate returns the JSON of a compressed line's payload (after the 'z').
func inflate(payload []byte) ([]byte, error) {
	z := make([]byte, base64.StdEncoding.DecodedLen(len(payload)))
	n, err := base64.StdEncoding.Decode(z, payload)
	if err != nil {
		return nil, fmt.Errorf("compressed record: %v", err)
	}
	js, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z[:n])), maxRecordJSON+1))
	if err != nil {
		return nil, fmt.Errorf("compressed record: %v", err)
	}
	if len(js) > maxRecordJSON {
		return nil, fmt.Errorf("compressed record expands beyond %d bytes", maxRecordJSON)
	}
	return js, nil
}

// write makes the record prepared by encode durable: appended and fsynced,
// or, when the journal is due for compaction, the whole ledger next (which
// includes the record) rewritten atomically. It returns the bytes written.
func (s *stateStore) write(name string, next *ledger, now time.Time) (n int64, compacted bool, err error) {
	rec := int64(len(s.buf))
	garbage := s.size - s.liveBytes + s.live[name] // superseded bytes after the append
	if s.rewrite || garbage > max(s.liveBytes, journalMinGarbage) {
		n, err := s.compact(next, now)
		return n, true, err
	}
	if err := s.append(); err != nil {
		return 0, false, err
	}
	s.size += rec
	s.liveBytes += rec - s.live[name]
	s.live[name] = rec
	return rec, false, nil
}

// append writes s.buf at the end of the file and fsyncs it. After a
// failure the end of the file is unknown (part of the line may be there, or
// the file may be gone), so the next commit rewrites the whole file.
func (s *stateStore) append() (err error) {
	defer func() {
		if err != nil {
			s.rewrite = true
		}
	}()
	f, err := os.OpenFile(s.path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err = f.WriteAt(s.buf, s.size); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// compact rewrites the file with the newest record of every job of l.
func (s *stateStore) compact(l *ledger, now time.Time) (int64, error) {
	data, lens, err := encodeJournal(l, now)
	if err != nil {
		return 0, err
	}
	if err := writeFileAtomic(s.path, data); err != nil {
		return 0, err
	}
	s.rewrite = false
	s.size = int64(len(data))
	s.live = lens
	s.liveBytes = 0
	for _, n := range lens {
		s.liveBytes += n
	}
	return int64(len(data)), nil
}

// rebucket moves histogram counts recorded against other bucket lists onto
// the current ones (see histogram.rebucket) and rebuilds the native buckets
// of histograms written without them (see histogram.seedNative). It reports
// what changed.
func (l *ledger) rebucket(action, build []float64) (notes []string, changed bool) {
	if !slices.Equal(action, metrics.ActionDurationBuckets) {
		for _, j := range l.all() {
			for _, byResult := range j.ActionDur {
				for _, h := range byResult {
					h.rebucket(action, metrics.ActionDurationBuckets)
				}
			}
		}
		notes = append(notes, fmt.Sprintf("action duration buckets changed from %v to %v; counts were moved to the nearest bound above", action, metrics.ActionDurationBuckets))
	}
	if !slices.Equal(build, metrics.BuildDurationBuckets) {
		for _, j := range l.all() {
			for _, h := range j.BuildDur {
				h.rebucket(build, metrics.BuildDurationBuckets)
			}
		}
		notes = append(notes, fmt.Sprintf("build duration buckets changed from %v to %v; counts were moved to the nearest bound above", build, metrics.BuildDurationBuckets))
	}
	seeded := 0
	seed := func(h *histogram, bounds []float64) {
		if !h.nativeComplete() {
			h.seedNative(bounds)
			seeded++
		}
	}
	for _, j := range l.all() {
		for _, byResult := range j.ActionDur {
			for _, h := range byResult {
				seed(h, metrics.ActionDurationBuckets)
			}
		}
		for _, h := range j.BuildDur {
			seed(h, metrics.BuildDurationBuckets)
		}
	}
	if seeded > 0 {
		notes = append(notes, fmt.Sprintf("%d duration histograms were written without native buckets; theirs were rebuilt from the classic buckets (each observation at its bucket's upper bound)", seeded))
	}
	return notes, len(notes) > 0
}
