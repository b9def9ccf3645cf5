package parser

import (
	"bytes"
	"regexp"
	"strconv"
	"time"
)

// regexpParser is the benchmark baseline: the same records, levels and
// labels as Stream, written the plain way, with package regexp for the
// prefix and the platform header, time.Date for the timestamp and the
// severity rules tried one after the other. TestBaselineAgrees keeps it
// honest.
type regexpParser struct {
	rules []RuleConfig
	res   []*regexp.Regexp
}

var (
	basePrefix = regexp.MustCompile(`\[(?:(\d{4})/(\d{2})/(\d{2})|(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{1,2}), (\d{4})) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) GMT([+-])(\d{2}):(\d{2})\]`)
	baseHeader = regexp.MustCompile(`^ \[([A-Za-z]{1,16})\](?: \[([^\r\n]{0,512}?)\])? {1,2}:(?: |$|[\r\n])`)
	baseMonths = map[string]time.Month{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}
)

func newRegexpParser(rules []RuleConfig) *regexpParser {
	p := &regexpParser{rules: rules, res: make([]*regexp.Regexp, len(rules))}
	for i, r := range rules {
		if r.Regex != "" {
			p.res[i] = regexp.MustCompile(r.Regex)
		}
	}
	return p
}

func atoi(b []byte) int { n, _ := strconv.Atoi(string(b)); return n }

// prefixTime validates a prefix match m (submatch indexes into data) and
// returns its time.
func prefixTime(data []byte, m []int) (int64, bool) {
	g := func(i int) []byte {
		if m[2*i] < 0 {
			return nil
		}
		return data[m[2*i]:m[2*i+1]]
	}
	var y, d int
	var mon time.Month
	if g(1) != nil {
		y, mon, d = atoi(g(1)), time.Month(atoi(g(2))), atoi(g(3))
	} else {
		y, mon, d = atoi(g(6)), baseMonths[string(g(4))], atoi(g(5))
	}
	hh, mi, ss, ms := atoi(g(7)), atoi(g(8)), atoi(g(9)), atoi(g(10))
	oh, om := atoi(g(12)), atoi(g(13))
	off := (oh*60 + om) * 60
	if string(g(11)) == "-" {
		off = -off
	}
	t := time.Date(y, mon, d, hh, mi, ss, ms*1e6, time.FixedZone("", off))
	if t.Year() != y || t.Month() != mon || t.Day() != d || t.Hour() != hh || t.Minute() != mi || t.Second() != ss || oh > 14 || om > 59 {
		return 0, false
	}
	return t.UnixMilli(), true
}

func (p *regexpParser) parse(data []byte, emit func(*Record)) {
	var starts []int
	var times []int64
	for _, m := range basePrefix.FindAllSubmatchIndex(data, -1) {
		if ms, ok := prefixTime(data, m); ok {
			starts = append(starts, m[0])
			times = append(times, ms)
		}
	}
	var r Record
	if len(starts) == 0 || starts[0] > 0 {
		end := len(data)
		if len(starts) > 0 {
			end = starts[0]
		}
		if end > 0 {
			r = Record{Raw: data[:end], Message: trimEOL(data[:end]), Source: SourceOutput, Level: LevelInfo}
			emit(&r)
		}
	}
	for i, s := range starts {
		end := len(data)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		raw := data[s:end]
		r = Record{Raw: raw, HasTime: true, UnixMilli: times[i], Source: SourceOutput, Level: LevelInfo}
		rest := raw[bytes.IndexByte(raw, ']')+1:]
		if h := baseHeader.FindSubmatchIndex(rest); h != nil {
			r.Source = SourcePlatform
			r.Level = platformLevel(rest[h[2]:h[3]])
			if h[4] >= 0 && h[5] > h[4] {
				r.Tag = rest[h[4]:h[5]]
				r.Action, r.ActionID = splitTag(r.Tag)
			}
			msg := rest[h[1]:]
			if h[1] > 0 && (rest[h[1]-1] == '\r' || rest[h[1]-1] == '\n') {
				msg = rest[h[1]-1:]
			}
			r.Message = trimEOL(msg)
		} else {
			if len(rest) > 0 && rest[0] == ' ' {
				rest = rest[1:]
			}
			r.Message = trimEOL(rest)
			for j, rule := range p.rules {
				var hit bool
				if rule.Match != "" {
					hit = bytes.Contains(r.Message, []byte(rule.Match))
				} else {
					hit = p.res[j].Match(r.Message)
				}
				if hit {
					r.Level, _ = ParseLevel(rule.Level)
					break
				}
			}
		}
		emit(&r)
	}
}
