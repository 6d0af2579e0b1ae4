package promtext

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
)

// ContentType is the format's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Sample is one series of a family: label pairs ("line", "0", ...) and
// a value.
type Sample struct {
	Labels []string
	Value  float64
}

// S makes a Sample: S(1, "line", "0").
func S(v float64, labels ...string) Sample { return Sample{Labels: labels, Value: v} }

// Writer writes families. Errors stick: Err returns the first.
type Writer struct {
	w   *bufio.Writer
	err error
}

// NewWriter writes to w; call Flush at the end.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriter(w)} }

// Gauge writes a gauge family.
func (w *Writer) Gauge(name, help string, samples ...Sample) { w.family(name, "gauge", help, samples) }

// Counter writes a counter family (by convention its name ends in
// _total).
func (w *Writer) Counter(name, help string, samples ...Sample) {
	w.family(name, "counter", help, samples)
}

// Flush writes what is buffered and returns the first error.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); w.err == nil {
		w.err = err
	}
	return w.err
}

func (w *Writer) family(name, typ, help string, samples []Sample) {
	b := w.w
	b.WriteString("# HELP " + name + " " + escape(help, false) + "\n")
	b.WriteString("# TYPE " + name + " " + typ + "\n")
	for _, s := range samples {
		b.WriteString(name)
		if len(s.Labels) > 0 {
			b.WriteByte('{')
			for i := 0; i+1 < len(s.Labels); i += 2 {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(s.Labels[i] + `="` + escape(s.Labels[i+1], true) + `"`)
			}
			b.WriteByte('}')
		}
		b.WriteString(" " + FormatValue(s.Value) + "\n")
	}
}

// escape escapes a HELP text (backslash, newline) or a label value
// (also the double quote).
func escape(s string, quote bool) string {
	s = strings.ToValidUTF8(s, "\uFFFD") // the format is UTF-8
	if !strings.ContainsAny(s, "\\\n\"") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '"' && quote:
			b.WriteString(`\"`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FormatValue writes a value as the format wants it: Go float syntax,
// +Inf, -Inf, NaN.
func FormatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
