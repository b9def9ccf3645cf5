package codearts

import (
	"encoding/json"
	"testing"
	"time"
)

func TestFlexInt64(t *testing.T) {
	for in, want := range map[string]FlexInt64{
		`12`:         {12, true},
		`"12"`:       {12, true},
		`" 12 "`:     {12, true},
		`0`:          {0, true},
		`"0"`:        {0, true},
		`null`:       {},
		`""`:         {},
		`1.75e12`:    {1750000000000, true},
		`-3`:         {-3, true},
		`2147483647`: {2147483647, true},
	} {
		var f FlexInt64
		if err := json.Unmarshal([]byte(in), &f); err != nil || f != want {
			t.Errorf("%s: got %+v, %v; want %+v", in, f, err, want)
		}
	}
	for _, in := range []string{`"12a"`, `1.5`, `true`, `{}`, `[]`} {
		var f FlexInt64
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("%s: accepted as %+v", in, f)
		}
	}
	// Missing field: unset.
	var s struct{ A FlexInt64 }
	if err := json.Unmarshal([]byte(`{}`), &s); err != nil || s.A.Set {
		t.Errorf("missing field: %+v %v", s, err)
	}
}

func TestFlexBool(t *testing.T) {
	for in, want := range map[string]FlexBool{
		`true`: true, `false`: false, `"true"`: true, `"false"`: false, `"TRUE"`: true,
		`1`: true, `0`: false, `null`: false, `""`: false,
	} {
		var f FlexBool = !want
		if err := json.Unmarshal([]byte(in), &f); err != nil || f != want {
			t.Errorf("%s: got %v, %v; want %v", in, f, err, want)
		}
	}
	var f FlexBool
	if err := json.Unmarshal([]byte(`"yes"`), &f); err == nil {
		t.Error(`"yes" accepted`)
	}
}

func TestFlexString(t *testing.T) {
	for in, want := range map[string]flexString{`"a"`: "a", `2111616838`: "2111616838", `null`: "", `true`: "true", `""`: ""} {
		var f flexString
		if err := json.Unmarshal([]byte(in), &f); err != nil || f != want {
			t.Errorf("%s: got %q, %v", in, f, err)
		}
	}
	var f flexString
	if err := json.Unmarshal([]byte(`{"a":1}`), &f); err == nil {
		t.Error("object accepted as string")
	}
}

func TestTimeFormats(t *testing.T) {
	cst := time.FixedZone("", 8*3600)
	for in, want := range map[string]time.Time{
		`"2022-10-11T08:28:42.000+00:00"`: time.Date(2022, 10, 11, 8, 28, 42, 0, time.UTC),
		`"2024-08-12T02:31:01+0800"`:      time.Date(2024, 8, 12, 2, 31, 1, 0, cst),
		`"2024-08-12T02:31:01.250+0800"`:  time.Date(2024, 8, 12, 2, 31, 1, 250e6, cst),
		`"2020-12-30T17:33:27+08:00"`:     time.Date(2020, 12, 30, 17, 33, 27, 0, cst),
		`"2020-12-30T09:33:27Z"`:          time.Date(2020, 12, 30, 9, 33, 27, 0, time.UTC),
		`"Wed Jun 26 16:25:09 CST 2024"`:  time.Date(2024, 6, 26, 16, 25, 9, 0, cst),
		`"Wed Jun  5 16:25:09 UTC 2024"`:  time.Date(2024, 6, 5, 16, 25, 9, 0, time.UTC),
		`1703554641000`:                   time.UnixMilli(1703554641000),
		`"1703554641000"`:                 time.UnixMilli(1703554641000),
	} {
		var v Time
		if err := json.Unmarshal([]byte(in), &v); err != nil || !v.Equal(want) {
			t.Errorf("%s: got %v, %v; want %v", in, v.Time, err, want)
		}
	}
	for _, in := range []string{`null`, `""`, `0`} {
		v := Time{time.Now()}
		if err := json.Unmarshal([]byte(in), &v); err != nil || !v.IsZero() {
			t.Errorf("%s: got %v, %v; want zero", in, v.Time, err)
		}
	}
	for _, in := range []string{`"yesterday"`, `"Wed Jun 26 16:25:09 PDT 2024"`, `"2024-13-01T00:00:00Z"`, `true`} {
		var v Time
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("%s: accepted as %v", in, v.Time)
		}
	}
}

func TestSortStagesNumericSuffix(t *testing.T) {
	st := []Stage{{Name: "final", Sequence: 3}, {Name: "stage10", Sequence: 1}, {Name: "stage2", Sequence: 1},
		{Name: "initial", Sequence: 1}, {Name: "odd", Sequence: 1}, {Name: "stage1", Sequence: 0}}
	sortStages(st)
	got := ""
	for _, s := range st {
		got += s.Name + ","
	}
	if got != "stage1,initial,stage2,stage10,odd,final," {
		t.Errorf("order %s", got)
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	s := truncate("代码检出代码检出", 4) // cuts inside the second rune
	if s != "代…" {
		t.Errorf("truncate = %q", s)
	}
}

// checkScalar compares jsonScalar on a JSON string with encoding/json's
// decoding of it (jsonScalar skips encoding/json for strings without
// escapes).
func checkScalar(t *testing.T, b []byte) {
	t.Helper()
	var want string
	wantErr := json.Unmarshal(b, &want)
	got, null, err := jsonScalar(b)
	if (err != nil) != (wantErr != nil) || err == nil && (got != want || null) {
		t.Fatalf("jsonScalar(%q) = %q, %v, %v; encoding/json: %q, %v", b, got, null, err, want, wantErr)
	}
}

func TestJSONScalarStrings(t *testing.T) {
	for _, s := range []string{`""`, `"a"`, `"DEV.CB.0510001"`, `"构建步骤"`, `"é\u00e9"`, `"a\"b"`, `"a\\b"`,
		`"a\nb"`, "\"a\x01b\"", "\"\xff\xfe\"", "\"\xe4\xb8\"", `"2024-08-12T02:31:01+0800"`, `"\ud800"`, `" spaced "`} {
		checkScalar(t, []byte(s))
	}
}

func FuzzJSONScalarString(f *testing.F) {
	for _, s := range []string{"a", "构建", "a\"b", "\\", "\xff", "\x00", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, _ := json.Marshal(s) // valid UTF-8 and escapes
		checkScalar(t, b)
		checkScalar(t, []byte(`"`+s+`"`)) // raw: invalid UTF-8, controls, stray quotes
	})
}
