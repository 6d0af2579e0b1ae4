package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/firmware/phonebook"
	"github.com/deskphone/phone/firmware/ui"
)

// shows reports whether the phone's screen (as GET /api/screen.png
// renders it) shows s.
func (tp *testPhone) shows(s string) bool { return ui.Shows(tp.d.scr.image(), s) }

// TestScreenEndToEnd (issue 18) drives two phones through tools/pbx and
// reads the callee's screen as a person would: an incoming call shows
// the caller's name from the phonebook; answering, holding, resuming and
// hanging up change the screen; a call not answered counts as missed on
// the idle screen.
func TestScreenEndToEnd(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001", "1002": "pw1002"})
	a := startPhoneWith(t, p, "1001", "pw1001", 32060, 700, nil)
	book := t.TempDir() + "/phonebook.yaml"
	b := startPhoneWith(t, p, "1002", "pw1002", 32260, 1000, func(c *config.Config) { c.Phonebook.File = book })
	waitFor(t, "both registered", 10*time.Second, func() bool { return a.registered() && b.registered() })
	if _, err := b.d.store.phonebook.Add(phonebook.Entry{Name: "Alice", Numbers: []phonebook.Number{{Number: "1001"}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B's idle screen: registered", 5*time.Second, func() bool {
		return b.shows(string(ui.IconRegistered)) && !b.shows("1 missed call")
	})
	ctx := context.Background()
	if err := a.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B's screen: Alice calling, Answer and Reject", 5*time.Second, func() bool {
		return b.shows("Alice") && b.shows("Answer") && b.shows("Reject")
	})
	in, _ := b.call("1001")
	if err := b.d.Phone().AnswerCall(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B's screen: talking to Alice (Hold, End)", 5*time.Second, func() bool {
		return b.shows("Alice") && b.shows("Hold") && b.shows("End") && !b.shows("Answer")
	})
	// Hold is refused while the answer's ACK is on its way (the screen
	// already shows the call talking): try until the call takes it.
	waitFor(t, "B holds", 5*time.Second, func() bool { return b.d.Phone().Hold(ctx) == nil })
	waitFor(t, "B's screen: held (Resume)", 5*time.Second, func() bool { return b.shows("Resume") && !b.shows("Hold") })
	waitFor(t, "B resumes", 5*time.Second, func() bool { return b.d.Phone().Resume(ctx) == nil })
	waitFor(t, "B's screen: talking again", 5*time.Second, func() bool { return b.shows("Hold") })
	hangupAll(t, a, b)
	waitFor(t, "B's screen: idle, no missed call", 5*time.Second, func() bool {
		return !b.shows("Alice") && b.shows(string(ui.IconRegistered)) && !b.shows("1 missed call")
	})

	// A call B does not answer: A gives up; B's idle screen counts it.
	if err := a.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B rings", 5*time.Second, func() bool { return b.shows("Alice") })
	hangupAll(t, a)
	waitFor(t, "B's screen: 1 missed call", 5*time.Second, func() bool { return b.shows("1 missed call") })
}

// TestScreenLock: the in-call screen's lock follows the call's security
// as the daemon sees it (SRTP with keys sent over TLS only).
func TestScreenLock(t *testing.T) {
	in := viewInput{Secure: map[string]bool{"c1": true}}
	if !uiCall(phone.CallStatus{ID: "c1", State: "talking"}, in).Secure {
		t.Error("secure call without the lock")
	}
	if uiCall(phone.CallStatus{ID: "c2", State: "talking"}, in).Secure {
		t.Error("plain call with the lock")
	}
}

// TestScreenLamps: the busy lamp keys reach the idle screen, each with
// its state and its label (or the watched user's number).
func TestScreenLamps(t *testing.T) {
	v := buildView(viewInput{Phone: phone.Status{Lamps: []phone.LampStatus{
		{Key: "blf1", User: "sip:1002@pbx.example.com", State: phone.LampBusy},
		{Key: "blf2", User: "1003", Label: "Reception", State: phone.LampRinging},
		{Key: "blf3", User: "1004", State: phone.LampUnknown},
	}}})
	want := []ui.Lamp{{Label: "1002", State: ui.LampBusy}, {Label: "Reception", State: ui.LampRinging}, {Label: "1004", State: ui.LampUnknown}}
	if len(v.Lamps) != len(want) {
		t.Fatalf("lamps %+v", v.Lamps)
	}
	for i := range want {
		if v.Lamps[i] != want[i] {
			t.Errorf("lamp %d: %+v, want %+v", i, v.Lamps[i], want[i])
		}
	}
}
