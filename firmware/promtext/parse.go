package promtext

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Family is a parsed metric family.
type Family struct {
	Name, Type, Help string
	Samples          []ParsedSample
}

// ParsedSample is one parsed series.
type ParsedSample struct {
	Labels map[string]string
	Value  float64
}

var (
	nameRE  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// ErrFormat is wrapped by every error of Parse.
	ErrFormat = errors.New("promtext: bad exposition")
)

// Types are the TYPE values of the format.
var Types = []string{"counter", "gauge", "histogram", "summary", "untyped"}

// Parse reads an exposition strictly (see the package comment) and
// returns its families in order. It allows only what Writer writes:
// no timestamps, no comments other than HELP and TYPE, and only the
// counter and gauge sample names of their family (no histogram or
// summary suffixes).
func Parse(data string) ([]Family, error) {
	if !utf8.ValidString(data) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrFormat)
	}
	if data != "" && !strings.HasSuffix(data, "\n") {
		return nil, fmt.Errorf("%w: does not end with a newline", ErrFormat)
	}
	var fams []Family
	seen := map[string]bool{}
	var cur *Family
	series := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(data, "\n"), "\n") {
		n := i + 1
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%w: line %d: %s: %q", ErrFormat, n, fmt.Sprintf(format, args...), line)
		}
		if data == "" {
			break
		}
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name, help, _ := strings.Cut(line[len("# HELP "):], " ")
			if !nameRE.MatchString(name) {
				return nil, fail("bad metric name")
			}
			if seen[name] {
				return nil, fail("family %s appears twice", name)
			}
			h, err := unescape(help, false)
			if err != nil {
				return nil, fail("%v", err)
			}
			seen[name] = true
			fams = append(fams, Family{Name: name, Help: h})
			cur = &fams[len(fams)-1]
		case strings.HasPrefix(line, "# TYPE "):
			name, typ, _ := strings.Cut(line[len("# TYPE "):], " ")
			if cur == nil || cur.Name != name || cur.Type != "" || len(cur.Samples) > 0 {
				return nil, fail("TYPE must follow its family's HELP, before its samples")
			}
			if !slices.Contains(Types, typ) {
				return nil, fail("unknown type")
			}
			cur.Type = typ
		case strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "":
			return nil, fail("stray comment or blank line")
		default:
			name, labels, value, err := sampleLine(line)
			if err != nil {
				return nil, fail("%v", err)
			}
			if cur == nil || cur.Type == "" || name != cur.Name {
				return nil, fail("sample outside its family's HELP and TYPE")
			}
			key := name + "{" + canonical(labels) + "}"
			if series[key] {
				return nil, fail("series appears twice")
			}
			series[key] = true
			if cur.Type == "counter" && (value < 0 || math.IsNaN(value)) {
				return nil, fail("a counter is never negative")
			}
			cur.Samples = append(cur.Samples, ParsedSample{Labels: labels, Value: value})
		}
	}
	for _, f := range fams {
		if f.Type == "" {
			return nil, fmt.Errorf("%w: family %s has no TYPE", ErrFormat, f.Name)
		}
	}
	return fams, nil
}

func canonical(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + strconv.Quote(l[k]) + ",")
	}
	return b.String()
}

// sampleLine parses `name{a="x",b="y"} value`.
func sampleLine(line string) (string, map[string]string, float64, error) {
	end := strings.IndexAny(line, "{ ")
	if end < 0 {
		return "", nil, 0, errors.New("no value")
	}
	name, rest := line[:end], line[end:]
	if !nameRE.MatchString(name) {
		return "", nil, 0, errors.New("bad metric name")
	}
	labels := map[string]string{}
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return "", nil, 0, errors.New("bad label")
			}
			ln := rest[:eq]
			if !labelRE.MatchString(ln) || strings.HasPrefix(ln, "__") {
				return "", nil, 0, fmt.Errorf("bad label name %q", ln)
			}
			if _, dup := labels[ln]; dup {
				return "", nil, 0, fmt.Errorf("label %s twice", ln)
			}
			rest = rest[eq+2:]
			var val strings.Builder
			closed := false
			for i := 0; i < len(rest); i++ {
				c := rest[i]
				if c == '\\' && i+1 < len(rest) {
					switch rest[i+1] {
					case '\\', '"':
						val.WriteByte(rest[i+1])
					case 'n':
						val.WriteByte('\n')
					default:
						return "", nil, 0, errors.New(`bad escape in a label value`)
					}
					i++
					continue
				}
				if c == '"' {
					rest, closed = rest[i+1:], true
					break
				}
				if c == '\n' || c == '\\' {
					return "", nil, 0, errors.New("unescaped newline or backslash")
				}
				val.WriteByte(c)
			}
			if !closed {
				return "", nil, 0, errors.New("unterminated label value")
			}
			labels[ln] = val.String()
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
				if strings.HasPrefix(rest, "}") {
					return "", nil, 0, errors.New("trailing comma")
				}
			} else if !strings.HasPrefix(rest, "}") {
				return "", nil, 0, errors.New("labels not separated by a comma")
			}
		}
		rest = rest[1:]
	}
	if !strings.HasPrefix(rest, " ") || strings.Contains(rest[1:], " ") {
		return "", nil, 0, errors.New("want one space, then the value (no timestamp)")
	}
	v, err := parseValue(rest[1:])
	return name, labels, v, err
}

func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	if strings.ContainsAny(s, "_xXpP") || strings.EqualFold(s, "inf") || strings.EqualFold(s, "infinity") {
		return 0, fmt.Errorf("bad value %q", s)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("bad value %q", s)
	}
	return v, nil
}

func unescape(s string, quote bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", errors.New("lone backslash")
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case '"':
			if !quote {
				return "", errors.New(`\" in HELP`)
			}
			b.WriteByte('"')
		default:
			return "", errors.New("bad escape")
		}
	}
	return b.String(), nil
}

// Find returns the samples of the family name (nil when absent).
func Find(fams []Family, name string) []ParsedSample {
	for _, f := range fams {
		if f.Name == name {
			return f.Samples
		}
	}
	return nil
}
