package analyze

import (
	"encoding/json"
	"io"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/parser"
)

// SchemaVersion is the version of the JSON document (docs/analyze.md). It
// changes only when a field is removed or changes meaning; new fields may be
// added without a change.
const SchemaVersion = 1

// The JSON document of `analyze --format=json`. Field order is the output order.
type jsonDoc struct {
	SchemaVersion int       `json:"schema_version"`
	Logs          []jsonLog `json:"logs"`
}

type jsonLog struct {
	File       string         `json:"file"`
	Bytes      int64          `json:"bytes"`
	Lines      int            `json:"lines"`
	Records    int64          `json:"records"`
	Levels     jsonLevels     `json:"levels"`
	FirstTime  *string        `json:"first_time"`
	LastTime   *string        `json:"last_time"`
	Build      jsonBuild      `json:"build"`
	Runs       []jsonRun      `json:"runs"`
	ByLabels   []jsonCount    `json:"records_by_label"`
	FirstError *jsonRecordRef `json:"first_error"`
	UTCOffset  string         `json:"utc_offset"`
	Failures   []jsonFailure  `json:"failures"`
	// Signatures: templates of the error records (docs/analyze.md).
	Signatures      []jsonSignature `json:"error_signatures"`
	SignatureCount  int             `json:"error_signature_count"`
	SignaturesOther int64           `json:"error_signatures_other"`
}

type jsonSignature struct {
	Template  string `json:"template"`
	Count     int64  `json:"count"`
	FirstLine int64  `json:"first_line"`
}

// jsonFailure is one failed action run, classified (docs/failure-rules.md).
type jsonFailure struct {
	Action    string            `json:"action"`
	Tag       string            `json:"tag"`
	ActionID  string            `json:"action_id"`
	StartLine int               `json:"start_line"`
	BlamedBy  string            `json:"blamed_by"`
	Category  string            `json:"category"`
	Cause     string            `json:"cause"`
	Rule      string            `json:"rule"`
	Code      string            `json:"code"`
	ExitCode  string            `json:"exit_code"`
	Evidence  []parser.Evidence `json:"evidence"`
}

type jsonLevels struct {
	Error   int64 `json:"error"`
	Warning int64 `json:"warning"`
	Info    int64 `json:"info"`
	Debug   int64 `json:"debug"`
}

type jsonBuild struct {
	Status          string  `json:"status"`
	Result          string  `json:"result"`
	Finished        bool    `json:"finished"`
	StartTime       *string `json:"start_time"`
	EndTime         *string `json:"end_time"`
	DurationSeconds float64 `json:"duration_seconds"`
}

type jsonRun struct {
	Action          string         `json:"action"`
	Tag             string         `json:"tag"`
	ActionID        string         `json:"action_id"`
	StartTime       string         `json:"start_time"`
	EndTime         string         `json:"end_time"`
	StartLine       int            `json:"start_line"`
	EndLine         int            `json:"end_line"`
	DurationSeconds float64        `json:"duration_seconds"`
	Result          string         `json:"result"`
	EndedBy         string         `json:"ended_by"`
	Records         jsonLevels     `json:"records"`
	FirstError      *jsonRecordRef `json:"first_error"`
}

type jsonCount struct {
	Action string `json:"action"`
	Source string `json:"source"`
	Level  string `json:"level"`
	Count  int64  `json:"count"`
}

type jsonRecordRef struct {
	Line    int     `json:"line"`
	Time    *string `json:"time"`
	Action  string  `json:"action"`
	Source  string  `json:"source"`
	Level   string  `json:"level"`
	Message string  `json:"message"`
}

// jsonTimeLayout is RFC 3339 in UTC with milliseconds.
const jsonTimeLayout = "2006-01-02T15:04:05.000Z07:00"

func fmtTime(ms int64) string { return time.UnixMilli(ms).UTC().Format(jsonTimeLayout) }

func optTime(ok bool, ms int64) *string {
	if !ok {
		return nil
	}
	s := fmtTime(ms)
	return &s
}

func levels(l [parser.NumLevels]int64) jsonLevels {
	return jsonLevels{Error: l[parser.LevelError], Warning: l[parser.LevelWarning], Info: l[parser.LevelInfo], Debug: l[parser.LevelDebug]}
}

func ref(r *parser.RecordRef) *jsonRecordRef {
	if r == nil {
		return nil
	}
	return &jsonRecordRef{Line: r.Line, Time: optTime(r.HasTime, r.UnixMilli), Action: r.Action,
		Source: r.Source.String(), Level: r.Level.String(), Message: r.Message}
}

func toJSON(logs []Log) jsonDoc {
	doc := jsonDoc{SchemaVersion: SchemaVersion, Logs: make([]jsonLog, 0, len(logs))}
	for _, l := range logs {
		a := l.Analysis
		jl := jsonLog{
			File: l.Name, Bytes: a.Bytes, Lines: a.Lines, Records: a.Records, Levels: levels(a.Levels),
			FirstTime: optTime(a.HasTime, a.FirstMilli), LastTime: optTime(a.HasTime, a.LastMilli),
			Build: jsonBuild{
				Status: a.Build.Status, Result: a.Build.Result, Finished: a.Build.Finished,
				StartTime: optTime(a.HasTime, a.Build.StartMilli), EndTime: optTime(a.HasTime, a.Build.EndMilli),
				DurationSeconds: a.Build.DurationSeconds(),
			},
			Runs:       make([]jsonRun, 0, len(a.Runs)),
			ByLabels:   make([]jsonCount, 0, len(a.Counts)),
			FirstError: ref(a.FirstError),
		}
		for i := range a.Runs {
			r := &a.Runs[i]
			jl.Runs = append(jl.Runs, jsonRun{
				Action: r.Action, Tag: r.Tag, ActionID: r.ActionID,
				StartTime: fmtTime(r.StartMilli), EndTime: fmtTime(r.EndMilli),
				StartLine: r.StartLine, EndLine: r.EndLine, DurationSeconds: r.DurationSeconds(),
				Result: r.Result, EndedBy: r.EndedBy, Records: levels(r.Records), FirstError: ref(r.FirstError),
			})
		}
		jl.UTCOffset = utcOffset(a.UTCOffset)
		jl.Failures = make([]jsonFailure, 0, len(a.Failures))
		for _, f := range a.Failures {
			ev := f.Evidence
			if ev == nil {
				ev = []parser.Evidence{}
			}
			jl.Failures = append(jl.Failures, jsonFailure{Action: f.Action, Tag: f.Tag, ActionID: f.ActionID,
				StartLine: f.StartLine, BlamedBy: f.BlamedBy, Category: f.Category, Cause: f.Cause, Rule: f.Rule,
				Code: f.Code, ExitCode: f.ExitCode, Evidence: ev})
		}
		jl.Signatures = make([]jsonSignature, 0, len(a.Signatures))
		for _, sig := range a.Signatures {
			jl.Signatures = append(jl.Signatures, jsonSignature{Template: sig.Template, Count: sig.Count, FirstLine: sig.FirstLine})
		}
		jl.SignatureCount, jl.SignaturesOther = a.SignatureCount, a.SignatureOther
		for _, c := range a.Counts {
			jl.ByLabels = append(jl.ByLabels, jsonCount{Action: c.Action, Source: c.Source.String(), Level: c.Level.String(), Count: c.Count})
		}
		doc.Logs = append(doc.Logs, jl)
	}
	return doc
}

func writeJSON(w io.Writer, logs []Log) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(toJSON(logs))
}
