package analyze

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/codearts-build-exporter/codearts_build_exporter/metrics"
	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// textTimeLayout shows times in the zone the log was written in
// (GMT+08:00 stays +08:00), with the offset.
const textTimeLayout = "2006-01-02 15:04:05.000Z07:00"

func textTime(ok bool, ms int64, zone *time.Location) string {
	if !ok {
		return "-"
	}
	return time.UnixMilli(ms).In(zone).Format(textTimeLayout)
}

// utcOffset formats seconds east of UTC as "+08:00".
func utcOffset(offset int) string {
	sign := '+'
	if offset < 0 {
		sign, offset = '-', -offset
	}
	return fmt.Sprintf("%c%02d:%02d", sign, offset/3600, offset/60%60)
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) + "s" }

// shorten returns the first line of s, cut to n runes.
func shorten(s string, n int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " …"
	}
	if utf8.RuneCountInString(s) > n {
		r := []rune(s)
		s = string(r[:n-1]) + "…"
	}
	return s
}

func levelsText(l [parser.NumLevels]int64) string {
	return fmt.Sprintf("error %d, warning %d, info %d, debug %d",
		l[parser.LevelError], l[parser.LevelWarning], l[parser.LevelInfo], l[parser.LevelDebug])
}

func writeText(w io.Writer, logs []Log) error {
	for i, l := range logs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		a := l.Analysis
		fmt.Fprintf(w, "== %s\n", displayName(l.Name))
		status := a.Build.Status
		if status == "" {
			status = "no Finished: line"
		}
		dur := "-"
		if a.Build.Finished && a.HasTime {
			dur = seconds(a.Build.DurationSeconds())
		}
		off := time.FixedZone("", a.UTCOffset)
		fmt.Fprintf(w, "build:   %s (result %s), %s .. %s, duration %s\n", status, a.Build.Result,
			textTime(a.HasTime, a.Build.StartMilli, off), textTime(a.HasTime, a.Build.EndMilli, off), dur)
		fmt.Fprintf(w, "records: %d (%s), %d lines, %d bytes\n", a.Records, levelsText(a.Levels), a.Lines, a.Bytes)
		if len(a.Runs) == 0 {
			fmt.Fprintln(w, "actions: no action runs (no start markers)")
		} else {
			fmt.Fprintln(w)
			rows := [][]string{{"ACTION", "TAG", "START", "DURATION", "RESULT", "ENDED BY", "ERROR", "WARN", "INFO", "DEBUG", "FIRST ERROR"}}
			for i := range a.Runs {
				r := &a.Runs[i]
				fe := "-"
				if r.FirstError != nil {
					fe = fmt.Sprintf("line %d: %s", r.FirstError.Line, shorten(r.FirstError.Message, 60))
				}
				rows = append(rows, []string{r.Action, r.Tag, textTime(true, r.StartMilli, off), seconds(r.DurationSeconds()),
					r.Result, r.EndedBy, count(r.Records[parser.LevelError]), count(r.Records[parser.LevelWarning]),
					count(r.Records[parser.LevelInfo]), count(r.Records[parser.LevelDebug]), fe})
			}
			if outside := a.Outside; outside != [parser.NumLevels]int64{} {
				result := "-"
				for _, f := range a.Failures {
					if f.Tag == "" {
						result = metrics.ResultFailure
					}
				}
				fe := "-"
				if r := a.OutsideFirstError; r != nil {
					fe = fmt.Sprintf("line %d: %s", r.Line, shorten(r.Message, 60))
				}
				rows = append(rows, []string{parser.JobAction, "(outside every run)", "-", "-", result, "-",
					count(outside[parser.LevelError]), count(outside[parser.LevelWarning]),
					count(outside[parser.LevelInfo]), count(outside[parser.LevelDebug]), fe})
			}
			writeTable(w, rows)
		}
		for _, f := range a.Failures {
			writeFailureText(w, &f)
		}
		if len(a.Signatures) > 0 {
			fmt.Fprintf(w, "\nerror signatures (%d of %d):\n", len(a.Signatures), a.SignatureCount)
			rows := [][]string{{"  COUNT", "FIRST LINE", "TEMPLATE"}}
			for _, sig := range a.Signatures {
				rows = append(rows, []string{"  " + count(sig.Count), count(sig.FirstLine), shorten(sig.Template, 120)})
			}
			writeTable(w, rows)
		}
		if fe := a.FirstError; fe != nil {
			fmt.Fprintf(w, "\nfirst error: line %d, action %s, %s: %s\n", fe.Line, fe.Action, fe.Source, shorten(fe.Message, 120))
		}
	}
	return nil
}

// writeFailureText prints one classified failure: which run, why, and the
// lines that show it.
func writeFailureText(w io.Writer, f *parser.RunFailure) {
	run := f.Action
	if f.Tag != "" {
		run = fmt.Sprintf("%s (%s, line %d)", f.Action, f.Tag, f.StartLine)
	}
	fmt.Fprintf(w, "\nfailure: %s\n", run)
	if f.BlamedBy == parser.BlamedByEvidence {
		if f.Tag == "" {
			fmt.Fprintf(w, "  blamed: the build failed and no action run did; the failing evidence is in output outside every action run (the step's output carries no action tag)\n")
		} else {
			fmt.Fprintf(w, "  blamed: the build failed and no action run did; this run holds the failing evidence\n")
		}
	}
	fmt.Fprintf(w, "  category: %s\n  cause:    %s\n", f.Category, f.Cause)
	if f.Rule != "" {
		fmt.Fprintf(w, "  rule:     %s\n", f.Rule)
	}
	if f.Code != "" {
		fmt.Fprintf(w, "  code:     %s\n", f.Code)
	}
	if f.ExitCode != "" {
		fmt.Fprintf(w, "  exit code: %s\n", f.ExitCode)
	}
	if len(f.Evidence) > 0 {
		fmt.Fprintln(w, "  evidence:")
		for _, e := range f.Evidence {
			fmt.Fprintf(w, "    line %d: %s\n", e.Line, shorten(e.Text, 160))
		}
	}
}

func count(n int64) string { return strconv.FormatInt(n, 10) }

// writeTable writes rows as columns separated by two spaces, padding by
// display width so that Chinese action names (two columns per character)
// stay aligned.
func writeTable(w io.Writer, rows [][]string) {
	const spaces = "                                " // 32
	// The widths of the cells, computed once: a log can have thousands of
	// action runs.
	cellWidths := make([]int, 0, len(rows)*11)
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			cw := displayWidth(cell)
			cellWidths = append(cellWidths, cw)
			widths[i] = max(widths[i], cw)
		}
	}
	var line []byte
	for _, row := range rows {
		line = line[:0]
		for i, cell := range row {
			line = append(line, cell...)
			if i < len(row)-1 {
				for pad := widths[i] - cellWidths[i] + 2; pad > 0; pad -= len(spaces) {
					line = append(line, spaces[:min(pad, len(spaces))]...)
				}
			}
		}
		cellWidths = cellWidths[len(row):]
		line = append(bytes.TrimRight(line, " "), '\n')
		_, _ = w.Write(line)
	}
}

// displayWidth counts East Asian wide characters as two columns.
func displayWidth(s string) int {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	n := i // ASCII: one column a byte
	for _, r := range s[i:] {
		n++
		if isWide(r) {
			n++
		}
	}
	return n
}

func isWide(r rune) bool {
	switch {
	case r < 0x1100:
		return false
	case r <= 0x115F, 0x2E80 <= r && r <= 0x303E, 0x3041 <= r && r <= 0x33FF, 0x3400 <= r && r <= 0x4DBF,
		0x4E00 <= r && r <= 0x9FFF, 0xA000 <= r && r <= 0xA4CF, 0xAC00 <= r && r <= 0xD7A3, 0xF900 <= r && r <= 0xFAFF,
		0xFE30 <= r && r <= 0xFE4F, 0xFF00 <= r && r <= 0xFF60, 0xFFE0 <= r && r <= 0xFFE6, 0x20000 <= r && r <= 0x3FFFD:
		return true
	}
	return false
}
