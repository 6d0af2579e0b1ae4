package dialoginfo

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any input is a document within the limits or an error,
// never a panic; a tracker takes every document that parses. Seeds are
// the RFC 4235 examples in testdata/.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.xml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Parse(b)
		if err != nil {
			return
		}
		if len(info.Dialogs) > MaxDialogs || info.Entity == "" {
			t.Fatalf("out of limits: %+v", info)
		}
		for _, d := range info.Dialogs {
			switch d.State {
			case Trying, Proceeding, Early, Confirmed, Terminated:
			default:
				t.Fatalf("state %q accepted", d.State)
			}
		}
		var tr Tracker
		full := *info
		full.Full = true
		if err := tr.Apply(&full); err != nil {
			t.Fatalf("full state refused: %v", err)
		}
		switch LampState(tr.Dialogs()) {
		case Idle, Ringing, Busy:
		default:
			t.Fatal("unknown lamp state")
		}
	})
}

// FuzzParseList: resource-list bodies parse within the limits or fail,
// never panic. The seed is testdata/rfc4662-list.txt.
func FuzzParseList(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "rfc4662-list.txt"))
	if err != nil {
		f.Fatal(err)
	}
	ct, body := loadList(f, b)
	f.Add(ct, body)
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		l, err := ParseList(ct, body)
		if err != nil {
			return
		}
		if len(l.Resources) > MaxResources {
			t.Fatalf("%d resources", len(l.Resources))
		}
		var tr ListTracker
		full := *l
		full.Full = true
		if _, gap := tr.Apply(&full); gap && len(l.Resources) == 0 {
			t.Fatal("gap reported for an empty full list")
		}
	})
}
