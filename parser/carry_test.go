package parser

import (
	"bytes"
	"strings"
	"testing"
)

// TestCarriedRecordIsBounded: a record without end (a 100 MB line without a
// newline or prefix) keeps at most MaxCarriedBytes of itself between
// writes and in its StreamState, whatever the chunking; it still counts as
// one record, classified on its first MaxCarriedBytes, and the next prefix
// is found even when it straddles a chunk boundary after the cut.
func TestCarriedRecordIsBounded(t *testing.T) {
	head := "[2026/09/10 17:26:22.661 GMT+08:00] [ERROR] [Maven构建:build] : "
	body := strings.Repeat("界x", 1<<20) // 4 MiB, no prefix, no newline
	next := "[2026/09/10 17:26:23.000 GMT+08:00] [INFO] [Maven构建:build] : done\n"
	log := head + body + next
	for _, chunk := range []int{1 << 20, 65537, 4093, 37} {
		var got []Record
		var raws [][]byte
		s := NewStream(nil, func(r *Record) {
			got = append(got, *r)
			raws = append(raws, bytes.Clone(r.Raw))
		})
		maxCarried := 0
		for i := 0; i < len(log); i += chunk {
			_, _ = s.WriteString(log[i:min(i+chunk, len(log))])
			st := s.State()
			maxCarried = max(maxCarried, len(st.Pending))
			if chunk == 4093 && i == 40*chunk {
				// A restored state continues the same way.
				s2 := NewStream(nil, nil)
				s2.Restore(st)
				if s2.State().Dropped != st.Dropped || !bytes.Equal(s2.State().Pending, st.Pending) {
					t.Fatalf("Restore does not keep the carried state")
				}
			}
		}
		s.Flush()
		if limit := MaxCarriedBytes + maxPrefixLen; maxCarried > limit {
			t.Errorf("chunk %d: carried %d bytes, want at most %d", chunk, maxCarried, limit)
		}
		if len(got) != 2 {
			t.Fatalf("chunk %d: %d records, want 2", chunk, len(got))
		}
		if got[0].Level != LevelError || got[1].Level != LevelInfo || string(got[1].Message) != "done" {
			t.Errorf("chunk %d: records %v / %v %q", chunk, got[0].Level, got[1].Level, got[1].Message)
		}
		if len(raws[0]) > MaxCarriedBytes || !strings.HasPrefix(log, string(raws[0])) || len(raws[0]) < MaxCarriedBytes-3 {
			t.Errorf("chunk %d: first record kept %d bytes, want its first %d (at a character boundary)", chunk, len(raws[0]), MaxCarriedBytes)
		}
		if chunk != 1<<20 && !bytes.Equal(raws[0], rawsFor(t, log)[0]) {
			t.Errorf("chunk %d: the kept prefix differs from the unchunked one", chunk)
		}
	}
}

func rawsFor(t *testing.T, log string) [][]byte {
	var raws [][]byte
	s := NewStream(nil, func(r *Record) { raws = append(raws, bytes.Clone(r.Raw)) })
	_, _ = s.WriteString(log)
	s.Flush()
	return raws
}
