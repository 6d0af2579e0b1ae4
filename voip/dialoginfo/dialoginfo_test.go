package dialoginfo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func load(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRFCExamples(t *testing.T) {
	info, err := Parse(load(t, "rfc4235-6.2-partial.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Full || info.Version != 1 || info.Entity != "sip:alice@example.com" || len(info.Dialogs) != 2 {
		t.Fatalf("got %+v", info)
	}
	d0, d1 := info.Dialogs[0], info.Dialogs[1]
	if d0.State != Terminated || d0.Event != "replaced" || d0.Direction != Initiator {
		t.Errorf("dialog 0: %+v", d0)
	}
	want := Dialog{ID: "sfhjsjk12", CallID: "o34oii1", LocalTag: "8903j9", RemoteTag: "78cjkus", Direction: Recipient, State: Confirmed,
		Local:  Participant{Identity: "sip:jforsters@home.net", Display: "Jason Forster", Target: "sip:alice@pc33.example.com"},
		Remote: Participant{Identity: "sip:cathy@example.com", Display: "Cathy Jones", Target: "sip:line3@host3.example.com"}}
	if d1 != want {
		t.Errorf("dialog 1:\n got %+v\nwant %+v", d1, want)
	}

	info, err = Parse(load(t, "rfc4235-6.1-trying.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if !info.Full || info.Version != 0 || info.Dialogs[0].State != Trying || info.Dialogs[0].RemoteTag != "" {
		t.Errorf("trying: %+v", info)
	}
	if _, ok := info.Dialogs[0].Replaces(); ok {
		t.Error("Replaces without a remote tag")
	}
}

func TestReplacesForPickup(t *testing.T) {
	info, err := Parse(load(t, "asterisk-early.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if LampState(info.Dialogs) != Ringing {
		t.Errorf("lamp %s, want ringing", LampState(info.Dialogs))
	}
	r, ok := info.Dialogs[0].Replaces()
	if want := "c1a6e2f0-5b1d;to-tag=as58f4201b;from-tag=a73kszlfl;early-only"; !ok || r != want {
		t.Errorf("Replaces = %q, want %q", r, want)
	}
	if d := info.Dialogs[0]; d.Remote.Display != "Alice" || d.Remote.Identity != "sip:200@pbx.example.com" {
		t.Errorf("remote %+v", d.Remote)
	}
}

func TestLampState(t *testing.T) {
	for _, tc := range []struct {
		ds   []Dialog
		want string
	}{
		{nil, Idle},
		{[]Dialog{{State: Terminated}}, Idle},
		{[]Dialog{{State: Early, Direction: Recipient}}, Ringing},
		{[]Dialog{{State: Proceeding}}, Ringing},
		{[]Dialog{{State: Early, Direction: Initiator}}, Busy},
		{[]Dialog{{State: Early, Direction: Recipient}, {State: Confirmed}}, Busy},
	} {
		if got := LampState(tc.ds); got != tc.want {
			t.Errorf("LampState(%+v) = %s, want %s", tc.ds, got, tc.want)
		}
	}
}

func TestTracker(t *testing.T) {
	var tr Tracker
	mustParse := func(s string) *Info {
		t.Helper()
		i, err := Parse([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	doc := func(v, state, dialogs string) string {
		return `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="` + v + `" state="` + state + `" entity="sip:bob@x">` + dialogs + `</dialog-info>`
	}
	if err := tr.Apply(mustParse(doc("1", "partial", ""))); !errors.Is(err, ErrGap) {
		t.Errorf("partial before full: %v", err)
	}
	if err := tr.Apply(mustParse(doc("5", "full", `<dialog id="a" direction="recipient"><state>early</state></dialog>`))); err != nil {
		t.Fatal(err)
	}
	if tr.State() != Ringing {
		t.Errorf("state %s", tr.State())
	}
	if err := tr.Apply(mustParse(doc("6", "partial", `<dialog id="a"><state>confirmed</state></dialog><dialog id="b"><state>trying</state></dialog>`))); err != nil {
		t.Fatal(err)
	}
	if tr.State() != Busy || len(tr.Dialogs()) != 2 {
		t.Errorf("after partial: %s %+v", tr.State(), tr.Dialogs())
	}
	if err := tr.Apply(mustParse(doc("8", "partial", `<dialog id="a"><state>terminated</state></dialog>`))); !errors.Is(err, ErrGap) {
		t.Errorf("gap not reported: %v", err)
	}
	if len(tr.Dialogs()) != 2 {
		t.Error("a document out of sequence changed the state")
	}
	if err := tr.Apply(mustParse(doc("7", "partial", `<dialog id="a"><state>terminated</state></dialog><dialog id="b"><state>terminated</state></dialog>`))); err != nil {
		t.Fatal(err)
	}
	if tr.State() != Idle || len(tr.Dialogs()) != 0 {
		t.Errorf("after terminated: %s %+v", tr.State(), tr.Dialogs())
	}
}

func TestParseRejects(t *testing.T) {
	const ns = `xmlns="urn:ietf:params:xml:ns:dialog-info"`
	ok := `<dialog-info ` + ns + ` version="0" state="full" entity="sip:a@b"><dialog id="x"><state>early</state></dialog></dialog-info>`
	if _, err := Parse([]byte(ok)); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	many := strings.Repeat(`<dialog id="x"><state>early</state></dialog>`, 1)
	for i := range MaxDialogs + 1 {
		many += `<dialog id="d` + strings.Repeat("z", i) + `"><state>early</state></dialog>`
	}
	deep := strings.Repeat("<x:a xmlns:x=\"urn:x\">", 40) + strings.Repeat("</x:a>", 40)
	for name, body := range map[string]string{
		"empty":        "",
		"broken":       `<dialog-info ` + ns + ` version="0" state="full" entity="sip:a@b"><dialog id="x"><state>early</state></dialog>`,
		"mismatched":   `<dialog-info ` + ns + ` version="0" state="full" entity="sip:a@b"></dialog>`,
		"no namespace": `<dialog-info version="0" state="full" entity="sip:a@b"/>`,
		"other ns":     `<dialog-info xmlns="urn:other" version="0" state="full" entity="sip:a@b"/>`,
		"no version":   `<dialog-info ` + ns + ` state="full" entity="sip:a@b"/>`,
		"bad version":  `<dialog-info ` + ns + ` version="-1" state="full" entity="sip:a@b"/>`,
		"bad state":    `<dialog-info ` + ns + ` version="0" state="most" entity="sip:a@b"/>`,
		"no entity":    `<dialog-info ` + ns + ` version="0" state="full"/>`,
		"dialog state": `<dialog-info ` + ns + ` version="0" state="full" entity="sip:a@b"><dialog id="x"><state>ringing</state></dialog></dialog-info>`,
		"no id":        `<dialog-info ` + ns + ` version="0" state="full" entity="sip:a@b"><dialog><state>early</state></dialog></dialog-info>`,
		"direction":    `<dialog-info ` + ns + ` version="0" state="full" entity="sip:a@b"><dialog id="x" direction="up"><state>early</state></dialog></dialog-info>`,
		"code":         `<dialog-info ` + ns + ` version="0" state="full" entity="sip:a@b"><dialog id="x"><state code="99999">early</state></dialog></dialog-info>`,
		"dup id":       `<dialog-info ` + ns + ` version="0" state="full" entity="sip:a@b"><dialog id="x"><state>early</state></dialog><dialog id="x"><state>early</state></dialog></dialog-info>`,
		"too many":     `<dialog-info ` + ns + ` version="0" state="full" entity="sip:a@b">` + many + `</dialog-info>`,
		"deep":         `<dialog-info ` + ns + ` version="0" state="full" entity="sip:a@b">` + deep + `</dialog-info>`,
		"doctype":      `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><dialog-info ` + ns + ` version="0" state="full" entity="&b;"/>`,
		"entity":       `<dialog-info ` + ns + ` version="0" state="full" entity="&xxe;"/>`,
		"encoding":     `<?xml version="1.0" encoding="ISO-8859-1"?><dialog-info ` + ns + ` version="0" state="full" entity="sip:a@b"/>`,
		"two roots":    ok + ok,
		"trailing":     ok + "junk",
		"huge":         `<dialog-info ` + ns + ` version="0" state="full" entity="sip:a@b">` + strings.Repeat("<!-- padding -->", MaxSize/16+1) + `</dialog-info>`,
	} {
		if info, err := Parse([]byte(body)); err == nil || !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: Parse = %+v, %v; want ErrSyntax", name, info, err)
		}
	}
}

func TestParseBOM(t *testing.T) {
	body := append([]byte("\xef\xbb\xbf"), load(t, "idle.xml")...)
	if info, err := Parse(body); err != nil || info.Version != 4 {
		t.Errorf("with a byte order mark: %+v, %v", info, err)
	}
}

func TestParseIgnoresExtensions(t *testing.T) {
	body := `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" xmlns:sa="urn:x-vendor" version="2" state="full" entity="sip:bob@x" sa:flag="1">
	<sa:extra><sa:dialog id="fake"><sa:state>confirmed</sa:state></sa:dialog></sa:extra>
	<dialog id="d1" direction="recipient" sa:x="y"><state>early</state><sa:note>hi</sa:note></dialog></dialog-info>`
	info, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Dialogs) != 1 || info.Dialogs[0].ID != "d1" || LampState(info.Dialogs) != Ringing {
		t.Errorf("got %+v", info)
	}
}
