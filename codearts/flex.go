package codearts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The CodeArts API documents some fields as strings and returns them as
// numbers (and the other way round), sends "" or null for unset values and
// uses several time formats (docs/api-reference.md §2.3, §10, §12 Q4). The types below
// decode all the observed forms; encoding/json's own types reject some.

// FlexInt64 is an integer that arrives as a JSON number, a digit string,
// null or "". Set is false for null, "" and a missing field.
type FlexInt64 struct {
	V   int64
	Set bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexInt64) UnmarshalJSON(b []byte) error {
	*f = FlexInt64{}
	s, null, err := jsonScalar(b)
	if err != nil {
		return err
	}
	if s = strings.TrimSpace(s); null || s == "" {
		return nil
	}
	v, err := parseInt(s)
	if err != nil {
		return fmt.Errorf("codearts: %s is not an integer", quoteValue(string(b)))
	}
	*f = FlexInt64{V: v, Set: true}
	return nil
}

// parseInt accepts decimal integers and integral floats ("1.75e12").
func parseInt(s string) (int64, error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<63-1024 {
		return 0, fmt.Errorf("not an integer")
	}
	return int64(f), nil
}

// FlexBool is a boolean that arrives as true/false, "true"/"false" (any
// case), 1/0 or null (false).
type FlexBool bool

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexBool) UnmarshalJSON(b []byte) error {
	s := strings.ToLower(strings.Trim(string(bytes.TrimSpace(b)), `"`))
	switch s {
	case "true", "1":
		*f = true
	case "false", "0", "", "null":
		*f = false
	default:
		return fmt.Errorf("codearts: %s is not a boolean", quoteValue(string(b)))
	}
	return nil
}

// flexString is a string that may arrive as a number or boolean (repo_id,
// health_score, …); null gives "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	s, _, err := jsonScalar(b)
	if err != nil {
		return err
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return fmt.Errorf("codearts: expected a string, got %s", quoteValue(string(b)))
	}
	*f = flexString(s)
	return nil
}

// Time is a timestamp in any of the forms the API uses (docs/api-reference.md §2.3):
// RFC 3339 ("2022-10-11T08:28:42.000+00:00"), an offset without colon
// ("2024-08-12T02:31:01+0800"), Java Date.toString ("Wed Jun 26 16:25:09 CST
// 2024", CST meaning UTC+8) or epoch milliseconds as a number or digit string.
// null, "", 0 and a missing field leave it zero ("unset").
type Time struct{ time.Time }

var chinaStandardTime = time.FixedZone("CST", 8*3600)

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	s, null, err := jsonScalar(b)
	if err != nil || null {
		return err
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// ParseTime parses one of the API's time forms (see Time). "" gives the zero
// time and no error.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:T ") {
		ms, err := parseInt(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("codearts: unrecognised time %s", quoteValue(s))
		}
		if ms <= 0 {
			return time.Time{}, nil
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05Z0700"} {
		if v, err := time.Parse(layout, s); err == nil {
			return v, nil
		}
	}
	// Java Date.toString: the zone is an abbreviation Go cannot resolve.
	if v, err := time.Parse("Mon Jan _2 15:04:05 MST 2006", s); err == nil {
		zone, _ := v.Zone()
		var loc *time.Location
		switch zone {
		case "CST":
			loc = chinaStandardTime
		case "UTC", "GMT":
			loc = time.UTC
		default:
			return time.Time{}, fmt.Errorf("codearts: unknown time zone %q in %s", zone, quoteValue(s))
		}
		return time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), loc), nil
	}
	return time.Time{}, fmt.Errorf("codearts: unrecognised time %s", quoteValue(s))
}

// quoteValue shows a short offending value in a decode error; a long one
// is only described, so that no credential a server might echo back can
// reach an error or log in part (redaction only catches whole secrets).
func quoteValue(v string) string {
	if len(v) <= 32 {
		return strconv.Quote(v)
	}
	return fmt.Sprintf("a %d-byte value", len(v))
}

// truncate shortens s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// jsonScalar is the shared start of the lenient decoders: the text of a
// JSON scalar, unquoted when it is a string, or null=true for null and empty
// input (s is then ""). Numbers, booleans and anything else come back as
// their raw (space-trimmed) text for the caller to judge.
func jsonScalar(b []byte) (s string, null bool, err error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return "", true, nil
	}
	if b[0] != '"' {
		return string(b), false, nil
	}
	// The log pages' string reader decodes what it accepts exactly as
	// encoding/json would (fastlog.go) and declines the rest, which
	// encoding/json then decodes or rejects.
	d := fastDecoder{b: b}
	if s, ok := d.str(); ok && d.i == len(b) {
		return s, false, nil
	}
	err = json.Unmarshal(b, &s)
	return s, false, err
}
