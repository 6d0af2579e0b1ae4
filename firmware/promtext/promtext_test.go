package promtext

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Gauge("phone_line_registered", "1 when the line is registered.\nSecond \\ line.",
		S(1, "line", "0", "account", `a"b\c`+"\nd"), S(0, "line", "1", "account", ""))
	w.Counter("phone_calls_total", "Calls.", S(3, "direction", "in"), S(math.Inf(1), "direction", "out"))
	w.Gauge("go_goroutines", "Goroutines.", S(12.5))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fams, err := Parse(b.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if len(fams) != 3 || fams[0].Help != "1 when the line is registered.\nSecond \\ line." || fams[1].Type != "counter" {
		t.Errorf("families %+v", fams)
	}
	s := Find(fams, "phone_line_registered")
	if len(s) != 2 || s[0].Labels["account"] != `a"b\c`+"\nd" || s[0].Value != 1 {
		t.Errorf("samples %+v", s)
	}
	if s := Find(fams, "go_goroutines"); len(s) != 1 || s[0].Value != 12.5 || len(s[0].Labels) != 0 {
		t.Errorf("samples %+v", s)
	}
}

func TestParseRefuses(t *testing.T) {
	ok := "# HELP a A.\n# TYPE a gauge\n"
	for _, bad := range []string{
		ok + "a 1",                              // no final newline
		"a 1\n",                                 // no HELP/TYPE
		"# HELP a A.\na 1\n",                    // no TYPE
		ok + "b 1\n",                            // another family's sample
		ok + "a{x=\"1\"} 1\na{x=\"1\"} 2\n",     // series twice
		ok + ok,                                 // family twice
		ok + "a{x=\"1\",} 1\n",                  // trailing comma
		ok + "a{x=\"1\" y=\"2\"} 1\n",           // no comma
		ok + "a{__x=\"1\"} 1\n",                 // reserved label
		ok + "a{1x=\"1\"} 1\n",                  // bad label name
		ok + "a{x=\"\\t\"} 1\n",                 // bad escape
		ok + "a{x=\"1} 1\n",                     // unterminated
		ok + "a 1 1700000000\n",                 // timestamp
		ok + "a  1\n",                           // two spaces
		ok + "a one\n",                          // bad value
		ok + "a 0x1\n",                          // hex
		ok + "\n",                               // blank line
		ok + "# comment\n",                      // stray comment
		"# HELP a A.\n# TYPE a hist\n",          // unknown type
		"# HELP 1a A.\n# TYPE 1a gauge\n",       // bad name
		"# HELP a A.\n# TYPE a counter\na -1\n", // negative counter
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add("help \\ text", "va\"l\nue", 1.5)
	f.Add("", "", math.NaN())
	f.Fuzz(func(t *testing.T, help, val string, v float64) {
		var b bytes.Buffer
		w := NewWriter(&b)
		w.Gauge("m", help, S(v, "l", val))
		_ = w.Flush()
		fams, err := Parse(b.String())
		if strings.ContainsAny(help+val, "\r") || !validUTF8(help+val) {
			return // the writer does not promise these
		}
		if err != nil {
			t.Fatalf("%v\n%q", err, b.String())
		}
		s := fams[0].Samples[0]
		if fams[0].Help != help || s.Labels["l"] != val || (s.Value != v && !(math.IsNaN(v) && math.IsNaN(s.Value))) {
			t.Errorf("round trip: %+v", fams)
		}
	})
}

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func FuzzParse(f *testing.F) {
	f.Add("# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\n")
	f.Fuzz(func(t *testing.T, s string) { _, _ = Parse(s) })
}
