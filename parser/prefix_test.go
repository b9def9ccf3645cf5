package parser

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestMatchPrefixValid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // RFC 3339 instant
		n    int
	}{
		{"[2026/09/10 17:26:22.661 GMT+08:00]", "2026-09-10T09:26:22.661Z", 35},
		{"[Sep 14, 2026 02:29:37.820 GMT+08:00]", "2026-09-13T18:29:37.820Z", 37},
		{"[Sep 4, 2026 02:29:37.820 GMT+08:00]", "2026-09-03T18:29:37.820Z", 36},
		{"[2026/01/01 00:00:00.000 GMT-05:30] rest", "2026-01-01T05:30:00Z", 35},
		{"[2024/02/29 23:59:59.999 GMT+00:00]", "2024-02-29T23:59:59.999Z", 35},
		{"[Dec 31, 1999 23:59:59.001 GMT+14:00]", "1999-12-31T09:59:59.001Z", 37},
		{"[Jan 1, 1970 00:00:00.000 GMT+00:00]", "1970-01-01T00:00:00Z", 36},
	} {
		r, n, ms := matchPrefix([]byte(tc.in))
		want, _ := time.Parse(time.RFC3339Nano, tc.want)
		if r != prefixYes || n != tc.n || ms != want.UnixMilli() {
			t.Errorf("%q: got (%v, %d, %s), want (yes, %d, %s)", tc.in, r, n, time.UnixMilli(ms).UTC(), tc.n, want)
		}
	}
}

func TestMatchPrefixRejects(t *testing.T) {
	for _, in := range []string{
		"[INFO]", "[slave] resources", "[2026", "[2026-09-10 09:27:30][INFO]", "[ERROR]  : x",
		"[2026/13/10 17:26:22.661 GMT+08:00]", // month 13
		"[2026/04/31 17:26:22.661 GMT+08:00]", // 31 April
		"[2025/02/29 17:26:22.661 GMT+08:00]", // not a leap year
		"[2026/09/10 24:26:22.661 GMT+08:00]", // hour 24
		"[2026/09/10 17:60:22.661 GMT+08:00]",
		"[2026/09/10 17:26:60.661 GMT+08:00]",
		"[2026/09/10 17:26:22.66 GMT+08:00] ",
		"[2026/09/10 17:26:22.661 UTC+08:00]",
		"[2026/09/10 17:26:22.661 GMT*08:00]",
		"[2026/09/10 17:26:22.661 GMT+15:00]",
		"[2026/09/10 17:26:22.661 GMT+08:60]",
		"[2026/09/10 17:26:22.661 GMT+0800] ",
		"[2026/09/10 17:26:22.661 GMT+08:00)",
		"[2026/9/10 17:26:22.661 GMT+08:00]  ",
		"[Sept 14, 2026 02:29:37.820 GMT+08:00]",
		"[sep 14, 2026 02:29:37.820 GMT+08:00]",
		"[Sep 14 2026 02:29:37.820 GMT+08:00] ",
		"[Sep 31, 2026 02:29:37.820 GMT+08:00]",
		"[Sep 0, 2026 02:29:37.820 GMT+08:00] ",
		"[Sep 14, 2026 2:29:37.820 GMT+08:00] ",
		"[Mar 14, 20x6 02:29:37.820 GMT+08:00]",
		"[Dez 14, 2026 02:29:37.820 GMT+08:00]",
		"[2026/09/10 17:26:22.661 GMT+08:00", // truncated but long enough to be wrong? no: short
	} {
		if r, _, _ := matchPrefix([]byte(in)); r == prefixYes {
			t.Errorf("%q accepted as a prefix", in)
		}
	}
}

// Every cut of a valid prefix is "short" (could still become a prefix), and
// cuts of texts that clearly are not prefixes are rejected early.
func TestMatchPrefixShort(t *testing.T) {
	for _, full := range []string{"[2026/09/10 17:26:22.661 GMT+08:00]", "[Sep 14, 2026 02:29:37.820 GMT-08:00]", "[Sep 4, 2026 02:29:37.820 GMT+08:00]"} {
		for i := 1; i < len(full); i++ {
			if r, _, _ := matchPrefix([]byte(full[:i])); r != prefixShort {
				t.Errorf("%q: got %v, want short", full[:i], r)
			}
		}
	}
	for _, in := range []string{"[I", "[INFO", "[2026-", "[Sex", "[Sep 1x", "[2026/09/10 17:26:22.661 X"} {
		if r, _, _ := matchPrefix([]byte(in)); r != prefixNo {
			t.Errorf("%q: got %v, want no", in, r)
		}
	}
}

// Random instants and offsets, written in both forms with the time package,
// parse back to the same instant.
func TestMatchPrefixRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		ms := rng.Int64N(8000 * 365 * 86400 * 1000) // years 1970..9970
		offMin := (rng.IntN(29) - 14) * 60
		if rng.IntN(4) == 0 {
			offMin += 30
		}
		zone := time.FixedZone("", offMin*60)
		tm := time.UnixMilli(ms).In(zone)
		if tm.Year() > 9999 {
			continue
		}
		var s string
		if i%2 == 0 {
			s = tm.Format("[2006/01/02 15:04:05.000 GMT-07:00]")
		} else {
			s = tm.Format("[Jan 2, 2006 15:04:05.000 GMT-07:00]")
		}
		r, n, got := matchPrefix([]byte(s + " text"))
		if r != prefixYes || n != len(s) || got != ms {
			t.Fatalf("%q: got (%v, %d, %d), want (yes, %d, %d)", s, r, n, got, len(s), ms)
		}
	}
}

// The date cache gives what matchPrefix gives, for prefixes of the same
// date and second as the one before and for ones that differ from it in
// any byte.
func TestDateCacheMatchesMatchPrefix(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	zone := time.FixedZone("", 8*3600)
	tm := time.Date(2026, 9, 10, 23, 59, 0, 0, zone)
	junk := []byte("0123456789:. /GMT+-x\x00[]")
	var dc dateCache
	layout := "[2006/01/02 15:04:05.000 GMT-07:00]"
	for range 50000 {
		tm = tm.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
		if rng.IntN(500) == 0 {
			layout = "[Jan 2, 2006 15:04:05.000 GMT-07:00]"
		} else if rng.IntN(500) == 0 {
			layout = "[2006/01/02 15:04:05.000 GMT-07:00]"
		}
		b := tm.AppendFormat(nil, layout)
		if rng.IntN(3) == 0 { // a byte changed: still a prefix or not
			b[rng.IntN(len(b))] = junk[rng.IntN(len(junk))]
		}
		b = append(b, " text"...)
		r, n, ms := dc.match(b)
		wr, wn, wms := matchPrefix(b)
		if r != wr || n != wn || ms != wms {
			t.Fatalf("%q: cache gives (%v, %d, %d), matchPrefix (%v, %d, %d)", b, r, n, ms, wr, wn, wms)
		}
	}
}
