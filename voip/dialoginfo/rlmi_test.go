package dialoginfo

import (
	"errors"
	"strings"
	"testing"
)

// loadList reads testdata/rfc4662-list.txt: Content-Type on the first
// line, then the body, with CRLF line ends as on the wire.
func loadList(t testing.TB, b []byte) (string, []byte) {
	t.Helper()
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	ct, body, _ := strings.Cut(s, "\n")
	return ct, []byte(strings.ReplaceAll(body, "\n", "\r\n"))
}

func TestParseList(t *testing.T) {
	ct, body := loadList(t, load(t, "rfc4662-list.txt"))
	l, err := ParseList(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	if l.URI != "sip:blf-alice@pbx.example.com" || !l.Full || l.Version != 1 || len(l.Resources) != 4 {
		t.Fatalf("list %+v", l)
	}
	bob, dave, ed, fred := l.Resources[0], l.Resources[1], l.Resources[2], l.Resources[3]
	if bob.Name != "Bob Smith" || bob.State != "active" || bob.Info == nil || bob.Info.Dialogs[0].CallID != "cid-bob" {
		t.Errorf("bob %+v", bob)
	}
	if dave.Info == nil || len(dave.Info.Dialogs) != 0 {
		t.Errorf("dave %+v", dave)
	}
	if ed.State != "pending" || ed.Info != nil || fred.State != "terminated" || fred.Reason != "rejected" {
		t.Errorf("ed %+v fred %+v", ed, fred)
	}

	var tr ListTracker
	changed, gap := tr.Apply(l)
	if gap || len(changed) != 2 || changed[0].State != Ringing || changed[1].State != Idle || changed[0].Name != "Bob Smith" {
		t.Errorf("changed %+v gap %v", changed, gap)
	}
	partial := *l
	partial.Full, partial.Version = false, 3
	if ch, gap := tr.Apply(&partial); !gap || ch != nil {
		t.Errorf("list version gap not reported: %+v %v", ch, gap)
	}
}

func TestParseListRejects(t *testing.T) {
	ct, body := loadList(t, load(t, "rfc4662-list.txt"))
	for name, tc := range map[string]struct{ ct, body string }{
		"not multipart":   {"application/dialog-info+xml", string(body)},
		"no boundary":     {`multipart/related;type="application/rlmi+xml"`, string(body)},
		"wrong boundary":  {strings.Replace(ct, "50UBfW7LSCVLtggUPe5z", "other", 1), string(body)},
		"broken rlmi":     {ct, strings.Replace(string(body), "</list>", "", 1)},
		"bad part":        {ct, strings.Replace(string(body), "<state>early</state>", "<state>ringing</state>", 1)},
		"instance state":  {ct, strings.Replace(string(body), `state="pending"`, `state="sleepy"`, 1)},
		"root not rlmi":   {strings.Replace(ct, "nXYxAE", "bUZBsM", 1), string(body)},
		"doctype in rlmi": {ct, strings.Replace(string(body), `<?xml version="1.0" encoding="UTF-8"?>`, `<!DOCTYPE l [<!ENTITY x "y">]>`, 1)},
		"huge":            {ct, string(body) + strings.Repeat(" ", MaxListSize)},
	} {
		if l, err := ParseList(tc.ct, []byte(tc.body)); err == nil || !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: ParseList = %+v, %v; want ErrSyntax", name, l, err)
		}
	}
}
