package status

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// ago says how long before now t was ("3m ago"); "never" for a zero time.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + short(-d)
	}
	if d < time.Second {
		return "just now"
	}
	return short(d) + " ago"
}

// short prints a duration with its two largest units: 45s, 3m12s, 2h5m, 3d4h.
func short(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// dur prints a build or action duration; sub-second ones in ms.
func dur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return short(d)
}

// stamp prints t in UTC to the second; "" for a zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// rateText prints a calls-per-second limit as calls per minute, the unit
// the API's limits are stated in.
func rateText(perSecond float64) string {
	if math.IsInf(perSecond, 1) || perSecond > 1e9 {
		return "unlimited"
	}
	return fmt.Sprintf("%.6g calls/min (%.4g/s)", perSecond*60, perSecond)
}

func levelName(i int) string { return parser.Level(i).String() }

// firstLine returns the first line of s, cut to n bytes on a rune boundary.
func firstLine(n int, s string) string {
	line, _, more := strings.Cut(s, "\n")
	if len(line) > n {
		for n > 0 && line[n]&0xC0 == 0x80 {
			n--
		}
		return line[:n] + "…"
	}
	if more {
		return line + " …"
	}
	return line
}

// pct is done out of total in whole percent (0 when total is 0).
func pct(done, total int) int {
	if total <= 0 {
		return 0
	}
	return min(done*100/total, 100)
}
