package config

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a configuration file. Line is 0 when the problem
// is about the file as a whole.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ErrorList is every problem found in a file, in file order where known.
// Its Error method puts one problem on each line.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// problems gathers errors and knows where each key of the file is.
type problems struct {
	file  string
	data  []byte // the file's content, to place syntax errors
	index *nodeIndex
	list  ErrorList
}

// dropRepeats removes the problems after the first n (the type errors) that
// are on the line of one of them or of the key holding it: a key whose value
// had the wrong type keeps its default, and a check of that default would
// only repeat the problem in other words ("jobs: expected a list", then "no
// jobs"; "secret_key: expected a string", then "auth: secret_key is
// missing").
func (c *problems) dropRepeats(n int) {
	if n == 0 {
		return
	}
	lines := map[int]bool{}
	for _, e := range c.list[:n] {
		if e.Line <= 0 {
			continue
		}
		lines[e.Line] = true
		if c.index == nil {
			continue
		}
		for _, en := range c.index.entries {
			if en.key != nil && en.key.Line == e.Line || en.val.Line == e.Line {
				if parent := parentPath(en.path); parent != "" {
					lines[c.line(parent)] = true
				}
			}
		}
	}
	kept := c.list[:n]
	for _, e := range c.list[n:] {
		if !lines[e.Line] {
			kept = append(kept, e)
		}
	}
	c.list = kept
}

func (c *problems) add(line int, format string, args ...any) {
	// One problem per line of output: a value quoted in a message may
	// hold line breaks.
	msg := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", `\n`)
	c.list = append(c.list, &Error{File: c.file, Line: line, Msg: msg})
}

// addAt reports a problem at the line of path (e.g. "jobs[2].id"), or of the
// nearest enclosing key that is present in the file.
func (c *problems) addAt(path string, format string, args ...any) {
	c.add(c.line(path), format, args...)
}

func (c *problems) line(path string) int {
	if c.index == nil {
		return 0
	}
	for p := path; p != ""; p = parentPath(p) {
		if e, ok := c.index.byPath[p]; ok {
			if e.key != nil {
				return e.key.Line // where "key:" is written, even for a block below it
			}
			return e.val.Line
		}
	}
	return 0
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// nodeIndex maps every key path of a document to its key and value nodes.
type nodeIndex struct {
	byPath  map[string]entry
	entries []entry
}

type entry struct {
	path     string
	key, val *yaml.Node // key is nil for sequence items
}

func indexNodes(doc *yaml.Node) *nodeIndex {
	ix := &nodeIndex{byPath: map[string]entry{}}
	var walk func(path string, key, n *yaml.Node)
	walk = func(path string, key, n *yaml.Node) {
		e := entry{path: path, key: key, val: n}
		if path != "" {
			ix.entries = append(ix.entries, e)
			if _, dup := ix.byPath[path]; !dup {
				ix.byPath[path] = e
			}
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				walk(p, k, n.Content[i+1])
			}
		case yaml.SequenceNode:
			for i, item := range n.Content {
				walk(fmt.Sprintf("%s[%d]", path, i), nil, item)
			}
		case yaml.AliasNode:
			if n.Alias != nil {
				walk(path, key, n.Alias)
			}
		}
	}
	walk("", nil, doc)
	return ix
}

var (
	reSyntax    = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	reLine      = regexp.MustCompile(`(?s)^line (\d+): (.*)$`)
	reNotFound  = regexp.MustCompile("^field (.+) not found in type ")
	reUnmarshal = regexp.MustCompile("(?s)^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
	reDupKey    = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
)

// yamlError turns a yaml.v3 error into file:line errors in our own words.
func (c *problems) yamlError(err error, ix *nodeIndex) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, s := range te.Errors {
			m := reLine.FindStringSubmatch(s)
			if m == nil {
				c.add(0, "%s", s)
				continue
			}
			line, _ := strconv.Atoi(m[1])
			c.add(line, "%s", describe(m[2], line, ix))
		}
		return
	}
	msg := err.Error()
	if m := reSyntax.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		c.add(syntaxErrorLine(c.data, line, m[2]), "invalid YAML: %s", m[2])
		return
	}
	c.add(0, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// syntaxErrorLine returns the line a YAML syntax error is about. For
// errors inside a block (a key indented one space too far: "did not find
// expected key"), yaml.v3 reports the line where the enclosing block starts,
// which can be far above the mistake. The parser stops at the first token it
// cannot use, so the mistake is on the last line of the shortest beginning
// of the file that fails with the same message: found by bisection, from
// the reported line on (a handful of parses of a few lines each).
func syntaxErrorLine(data []byte, line int, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if line < 1 || line > len(lines) {
		return line
	}
	fails := func(n int) bool {
		var node yaml.Node
		err := yaml.Unmarshal(bytes.Join(lines[:n], nil), &node)
		if err == nil {
			return false
		}
		m := reSyntax.FindStringSubmatch(err.Error())
		return m != nil && m[2] == msg
	}
	lo, hi := line, len(lines)
	if !fails(hi) {
		return line
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// describe rewrites one yaml.v3 type error, naming the key by its path
// instead of Go type names.
func describe(msg string, line int, ix *nodeIndex) string {
	if m := reNotFound.FindStringSubmatch(msg); m != nil {
		key := m[1]
		if e, ok := ix.find(line, func(e entry) bool { return e.key != nil && e.key.Value == key && e.key.Line == line }); ok {
			if parent := parentPath(e.path); parent != "" {
				return fmt.Sprintf("unknown key %q in %s", key, parent)
			}
		}
		return fmt.Sprintf("unknown key %q", key)
	}
	if m := reDupKey.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("key %q is set twice (first at line %s)", m[1], m[2])
	}
	if m := reUnmarshal.FindStringSubmatch(msg); m != nil {
		tag, value, goType := m[1], m[2], m[3]
		want := wantedKind(goType)
		what := kindOfTag(tag)
		// yaml.v3 cuts values longer than 10 bytes to 7 bytes and "...".
		prefix, cut := strings.CutSuffix(value, "...")
		if e, ok := ix.find(line, func(e entry) bool {
			return e.val.Line == line && (value == "" || e.val.Value == value || cut && strings.HasPrefix(e.val.Value, prefix))
		}); ok {
			switch {
			case strings.HasPrefix(e.path, "codearts.auth"):
				what = kindOfTag(tag) // may be a misplaced secret: never echo it
			case value != "":
				what = strconv.Quote(e.val.Value)
			}
			return fmt.Sprintf("%s: expected %s, got %s", e.path, want, what)
		}
		return fmt.Sprintf("expected %s, got %s", want, what)
	}
	return msg
}

func (ix *nodeIndex) find(line int, ok func(entry) bool) (entry, bool) {
	if ix == nil {
		return entry{}, false
	}
	for _, e := range ix.entries {
		if ok(e) {
			return e, true
		}
	}
	return entry{}, false
}

func wantedKind(goType string) string {
	switch {
	case goType == "time.Duration":
		return "a duration such as 30s, 5m or 1h30m"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case goType == "string" || goType == "config.Secret":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	default:
		return "a mapping of keys"
	}
}

func kindOfTag(tag string) string {
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!null":
		return "nothing"
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	default:
		return "a " + strings.TrimPrefix(tag, "!!")
	}
}
