package phonebook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits.
const (
	// MaxFileSize is the largest phonebook file read.
	MaxFileSize = 1 << 20
	// MaxEntries is the most entries a phonebook holds.
	MaxEntries = 2000
	// MaxNumbers is the most numbers one entry holds.
	MaxNumbers = 10

	maxName   = 128
	maxNumber = 256
	maxLabel  = 32
	maxID     = 32
	maxErrors = 50
)

// Version is the file format's version.
const Version = 1

// Entry is one phonebook entry.
type Entry struct {
	// ID names the entry in the API; letters, digits, '-' and '_'.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Numbers are the entry's numbers, the first the one speed dial
	// calls.
	Numbers []Number `json:"numbers"`
	// SpeedDial is "" or one digit "0".."9".
	SpeedDial string `json:"speed_dial,omitempty"`
}

// Number is one of an entry's numbers.
type Number struct {
	Number string `json:"number"`
	Label  string `json:"label,omitempty"`
}

// Clone returns a deep copy of e.
func (e Entry) Clone() Entry {
	e.Numbers = slices.Clone(e.Numbers)
	return e
}

// problem is a problem with a field, before its line is known.
type problem struct {
	field, text string
	err         error
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// checkEntry returns the problems of one entry; path prefixes the field
// names ("entries[3]" in a file, "" from the API).
func checkEntry(e Entry, path string) []problem {
	var ps []problem
	add := func(field, format string, args ...any) {
		ps = append(ps, problem{joinField(path, field), fmt.Sprintf(format, args...), ErrInvalid})
	}
	if e.ID != "" && (len(e.ID) > maxID || !idRE.MatchString(e.ID)) {
		add("id", "%q is not 1..%d letters, digits, '-' or '_'", e.ID, maxID)
	}
	switch {
	case strings.TrimSpace(e.Name) == "":
		add("name", "required")
	case len(e.Name) > maxName:
		add("name", "longer than %d bytes", maxName)
	case !printable(e.Name):
		add("name", "%q holds control characters or invalid UTF-8", e.Name)
	}
	switch {
	case len(e.Numbers) == 0:
		add("numbers", "at least one number is required")
	case len(e.Numbers) > MaxNumbers:
		add("numbers", "more than %d numbers", MaxNumbers)
	}
	for i, n := range e.Numbers {
		f := fmt.Sprintf("numbers[%d]", i)
		switch {
		case strings.TrimSpace(n.Number) == "":
			add(f+".number", "required")
		case len(n.Number) > maxNumber:
			add(f+".number", "longer than %d bytes", maxNumber)
		case !printable(n.Number) || strings.ContainsAny(n.Number, "\t\r\n"):
			add(f+".number", "%q holds control characters or invalid UTF-8", n.Number)
		case Normalize(n.Number) == "":
			add(f+".number", "%q has no user part to dial", n.Number)
		}
		if len(n.Label) > maxLabel || !printable(n.Label) {
			add(f+".label", "%q is longer than %d bytes or holds control characters", n.Label, maxLabel)
		}
	}
	if s := e.SpeedDial; s != "" && (len(s) != 1 || s[0] < '0' || s[0] > '9') {
		add("speed_dial", "%q is not one digit 0-9", s)
	}
	return ps
}

// checkAll checks a file's entries and what they must not share (ids and
// speed-dial digits); path names entry i.
func checkAll(es []Entry, path func(i int) string) []problem {
	var ps []problem
	if len(es) > MaxEntries {
		ps = append(ps, problem{"entries", fmt.Sprintf("more than %d entries", MaxEntries), ErrInvalid})
	}
	ids, keys := map[string]int{}, map[string]int{}
	for i, e := range es {
		ps = append(ps, checkEntry(e, path(i))...)
		if e.ID != "" {
			if j, dup := ids[e.ID]; dup {
				ps = append(ps, problem{joinField(path(i), "id"), fmt.Sprintf("%q is also the id of %s", e.ID, path(j)), ErrConflict})
			} else {
				ids[e.ID] = i
			}
		}
		if e.SpeedDial != "" {
			if j, dup := keys[e.SpeedDial]; dup {
				ps = append(ps, problem{joinField(path(i), "speed_dial"), fmt.Sprintf("%s is also the speed dial of %s (%s)", e.SpeedDial, path(j), es[j].Name), ErrConflict})
			} else {
				keys[e.SpeedDial] = i
			}
		}
	}
	return ps
}

func joinField(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// parser walks the YAML node tree, recording each field's line.
type parser struct {
	file  string
	lines map[string]int
	errs  []*FieldError
}

func (p *parser) fail(line int, field string, err error, format string, args ...any) {
	if len(p.errs) == maxErrors {
		p.errs = append(p.errs, &FieldError{File: p.file, Line: line, Problem: "too many problems; stopping", Err: ErrInvalid})
	}
	if len(p.errs) > maxErrors {
		return
	}
	p.errs = append(p.errs, &FieldError{File: p.file, Line: line, Field: field, Problem: fmt.Sprintf(format, args...), Err: err})
}

// line returns the line of field or of its nearest ancestor.
func (p *parser) line(field string) int {
	for field != "" {
		if l, ok := p.lines[field]; ok {
			return l
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			break
		}
		field = field[:i]
	}
	return 0
}

// Parse reads a phonebook file's content. filename is only used in
// errors, which are *FieldErrors joined with errors.Join, every problem
// found. Entries without an id get one.
func Parse(filename string, data []byte) ([]Entry, error) {
	if len(data) > MaxFileSize {
		return nil, &FieldError{File: filename, Problem: fmt.Sprintf("larger than %d bytes", MaxFileSize), Err: ErrInvalid}
	}
	p := &parser{file: filename, lines: map[string]int{}}
	doc, err := decodeYAML(data)
	if err != nil {
		fe := &FieldError{File: filename, Problem: err.Error(), Err: ErrInvalid}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			fe.Line, _ = strconv.Atoi(m[1])
			fe.Problem = "yaml: " + m[2]
		}
		return nil, fe
	}
	var entries []Entry
	if doc != nil {
		entries = p.root(doc)
	}
	if len(p.errs) == 0 {
		for _, pr := range checkAll(entries, func(i int) string { return fmt.Sprintf("entries[%d]", i) }) {
			p.fail(p.line(pr.field), pr.field, pr.err, "%s", pr.text)
		}
	}
	if len(p.errs) > 0 {
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	assignIDs(entries)
	return entries, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeYAML parses the one document in data; nil for an empty file. The
// YAML library is not expected to panic, but a phonebook must not take
// the phone down if it does.
func decodeYAML(data []byte) (doc *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("yaml: internal error: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("yaml: line %d: more than one document (\"---\"); a phonebook holds one", max(next.Line, 1))
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
		return nil, nil
	}
	return n.Content[0], nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// mapping calls f for each key of a mapping node, reporting unknown and
// duplicate keys, aliases and merge keys.
func (p *parser) mapping(n *yaml.Node, path string, known []string, f func(key string, v *yaml.Node, field string)) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n.Line, path, ErrInvalid, "expected a mapping, got %s", kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			p.fail(k.Line, path, ErrInvalid, "keys must be plain names, got %s", kindName(k))
			continue
		}
		field := joinField(path, k.Value)
		if !slices.Contains(known, k.Value) {
			p.fail(k.Line, joinField(path, strconv.Quote(k.Value)), ErrInvalid, "unknown key (known keys: %s)", strings.Join(known, ", "))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.fail(k.Line, field, ErrInvalid, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		p.lines[field] = k.Line
		if v.Kind == yaml.AliasNode {
			p.fail(v.Line, field, ErrInvalid, "aliases are not supported")
			continue
		}
		f(k.Value, v, field)
	}
}

// scalar returns a scalar's text; ok is false (after a report) when n is
// not one, and false without report when it is null.
func (p *parser) scalar(n *yaml.Node, field string) (string, bool) {
	if isNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(n.Line, field, ErrInvalid, "expected a single value, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) root(n *yaml.Node) []Entry {
	var entries []Entry
	p.mapping(n, "", []string{"entries", "version"}, func(key string, v *yaml.Node, field string) {
		switch key {
		case "version":
			if s, ok := p.scalar(v, field); ok && s != strconv.Itoa(Version) {
				p.fail(v.Line, field, ErrInvalid, "%q is not a known version (%d)", s, Version)
			}
		case "entries":
			if isNull(v) {
				return
			}
			if v.Kind != yaml.SequenceNode {
				p.fail(v.Line, field, ErrInvalid, "expected a list, got %s", kindName(v))
				return
			}
			if len(v.Content) > MaxEntries {
				p.fail(v.Line, field, ErrInvalid, "more than %d entries", MaxEntries)
				return
			}
			for i, en := range v.Content {
				ef := fmt.Sprintf("entries[%d]", i)
				p.lines[ef] = en.Line
				entries = append(entries, p.entry(en, ef))
			}
		}
	})
	return entries
}

func (p *parser) entry(n *yaml.Node, path string) Entry {
	var e Entry
	if n.Kind == yaml.AliasNode {
		p.fail(n.Line, path, ErrInvalid, "aliases are not supported")
		return e
	}
	if isNull(n) {
		p.fail(n.Line, path, ErrInvalid, "empty entry")
		return e
	}
	p.mapping(n, path, []string{"id", "name", "numbers", "speed_dial"}, func(key string, v *yaml.Node, field string) {
		switch key {
		case "id":
			e.ID, _ = p.scalar(v, field)
		case "name":
			e.Name, _ = p.scalar(v, field)
		case "speed_dial":
			e.SpeedDial, _ = p.scalar(v, field)
		case "numbers":
			e.Numbers = p.numbers(v, field)
		}
	})
	return e
}

func (p *parser) numbers(n *yaml.Node, path string) []Number {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		// One number without a list is fine too.
		if s, ok := p.scalar(n, path); ok {
			return []Number{{Number: s}}
		}
		return nil
	}
	if len(n.Content) > MaxNumbers {
		p.fail(n.Line, path, ErrInvalid, "more than %d numbers", MaxNumbers)
		return nil
	}
	var out []Number
	for i, v := range n.Content {
		field := fmt.Sprintf("%s[%d]", path, i)
		p.lines[field] = v.Line
		var num Number
		switch v.Kind {
		case yaml.ScalarNode:
			num.Number, _ = p.scalar(v, field)
		case yaml.MappingNode:
			p.mapping(v, field, []string{"label", "number"}, func(key string, v *yaml.Node, f string) {
				if key == "label" {
					num.Label, _ = p.scalar(v, f)
				} else {
					num.Number, _ = p.scalar(v, f)
				}
			})
		default:
			p.fail(v.Line, field, ErrInvalid, "expected a number or {number, label}, got %s", kindName(v))
		}
		out = append(out, num)
	}
	return out
}

// assignIDs gives every entry without an id the smallest free number.
func assignIDs(es []Entry) {
	used := map[string]bool{}
	for _, e := range es {
		used[e.ID] = true
	}
	next := 1
	for i := range es {
		if es[i].ID != "" {
			continue
		}
		for used[strconv.Itoa(next)] {
			next++
		}
		es[i].ID = strconv.Itoa(next)
		used[es[i].ID] = true
	}
}

// Marshal writes entries in the file format.
func Marshal(es []Entry) []byte {
	type numberYAML struct {
		Number string `yaml:"number"`
		Label  string `yaml:"label,omitempty"`
	}
	type entryYAML struct {
		ID        string       `yaml:"id"`
		Name      string       `yaml:"name"`
		SpeedDial string       `yaml:"speed_dial,omitempty"`
		Numbers   []numberYAML `yaml:"numbers"`
	}
	type fileYAML struct {
		Version int         `yaml:"version"`
		Entries []entryYAML `yaml:"entries"`
	}
	f := fileYAML{Version: Version, Entries: make([]entryYAML, 0, len(es))}
	for _, e := range es {
		ey := entryYAML{ID: e.ID, Name: e.Name, SpeedDial: e.SpeedDial}
		for _, n := range e.Numbers {
			ey.Numbers = append(ey.Numbers, numberYAML(n))
		}
		f.Entries = append(f.Entries, ey)
	}
	var b bytes.Buffer
	b.WriteString("# The phone's phonebook, written by phoned (docs/api.md, /api/phonebook).\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		// Plain strings and ints always encode.
		panic(fmt.Sprintf("phonebook: encoding: %v", err))
	}
	_ = enc.Close()
	return b.Bytes()
}
