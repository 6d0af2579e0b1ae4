package ui

import (
	"testing"

	"github.com/deskphone/phone/hal"
)

func TestSoftKeysFollowTheScreen(t *testing.T) {
	h := talking
	h.ID, h.State, h.Active = "c0", CallHeld, false
	for _, tc := range []struct {
		name string
		v    View
		want [4]string
	}{
		{"idle", View{Now: now}, [4]string{"History", "Contacts", "DND", "Menu"}},
		{"dialing", View{Now: now, Dialing: "12"}, [4]string{"Send", "", "", "Cancel"}},
		{"off hook", View{Now: now, OffHook: true}, [4]string{"History", "Contacts", "", "Cancel"}},
		{"incoming", View{Now: now, Calls: []Call{ringing}}, [4]string{"Answer", "", "", "Reject"}},
		{"talking", View{Now: now, Calls: []Call{talking}}, [4]string{"Hold", "Transfer", "Mute", "End"}},
		{"held", View{Now: now, Calls: []Call{h}}, [4]string{"Resume", "Transfer", "", "End"}},
		{"two calls", View{Now: now, Calls: []Call{talking, h}}, [4]string{"Swap", "Transfer", "Conf", "End"}},
	} {
		if got := withView(tc.v).SoftLabels(); got != tc.want {
			t.Errorf("%s: soft keys %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestIncomingCallKeys(t *testing.T) {
	u := withView(View{Now: now, Calls: []Call{ringing}})
	if a := press(t, u, hal.KeySoft1); a != (Action{Kind: ActAnswer, Call: "c2"}) {
		t.Errorf("Answer gave %v", a)
	}
	if a := press(t, u, hal.KeySoft4); a != (Action{Kind: ActReject, Call: "c2"}) {
		t.Errorf("Reject gave %v", a)
	}
	if a := press(t, u, hal.KeyOK); a != (Action{Kind: ActAnswer, Call: "c2"}) {
		t.Errorf("OK gave %v", a)
	}
}

func TestTalkingKeys(t *testing.T) {
	u := withView(View{Now: now, Calls: []Call{talking}})
	for k, want := range map[hal.Key]Action{
		hal.KeySoft1: {Kind: ActHold, Call: "c1"},
		hal.KeySoft3: {Kind: ActMute},
		hal.KeySoft4: {Kind: ActHangup, Call: "c1"},
	} {
		if a := press(t, u, k); a != want {
			t.Errorf("%v gave %v, want %v", k, a, want)
		}
	}
	// Digits in a call are DTMF: the phone's.
	if _, handled := u.Key(hal.KeyEvent{Key: '5', Down: true}); handled {
		t.Error("a digit in a call was taken by the screen")
	}
}

func TestCallListPicksWithArrows(t *testing.T) {
	h := talking
	h.ID, h.State, h.Active = "c0", CallHeld, false
	w := ringing
	w.State = CallWaiting
	u := withView(View{Now: now, Calls: []Call{h, talking}})
	// The active call is selected first.
	if c, _ := u.selected(); c.ID != "c1" {
		t.Fatalf("selected %q, want the active c1", c.ID)
	}
	if a := press(t, u, hal.KeyUp, hal.KeyOK); a != (Action{Kind: ActResume, Call: "c0"}) {
		t.Errorf("Up, OK on the held call gave %v", a)
	}
	if a := press(t, u, hal.KeySoft1); a.Kind != ActResume {
		t.Errorf("soft 1 on the held call gave %v", a)
	}
	if a := press(t, u, hal.KeyDown, hal.KeySoft1); a.Kind != ActSwap {
		t.Errorf("soft 1 on the active call gave %v", a)
	}
	if a := press(t, u, hal.KeySoft2); a != (Action{Kind: ActTransfer}) {
		t.Errorf("Transfer with two calls gave %v, want an attended transfer", a)
	}
	// A waiting call is selected as it arrives; OK answers it.
	u.SetView(View{Now: now, Calls: []Call{h, talking, w}})
	if a := press(t, u, hal.KeyOK); a != (Action{Kind: ActAnswer, Call: "c2"}) {
		t.Errorf("OK on the waiting call gave %v", a)
	}
	// The selection follows the call, not the row, when the list changes.
	u.SetView(View{Now: now, Calls: []Call{w, h, talking}})
	if c, _ := u.selected(); c.ID != "c2" {
		t.Errorf("selection moved to %q", c.ID)
	}
}

func TestRingingClosesMenus(t *testing.T) {
	u := withView(richView())
	press(t, u, hal.KeyMenu, '4')
	if u.top() == nil {
		t.Fatal("menu did not open")
	}
	v := richView()
	v.Calls = []Call{ringing}
	u.SetView(v)
	if u.top() != nil {
		t.Fatal("an incoming call left the menu open")
	}
	// Opening the menu during the same ringing call keeps it open.
	press(t, u, hal.KeyMenu)
	u.SetView(v)
	if u.top() == nil {
		t.Fatal("the menu closed again for a call that was already ringing")
	}
}

func TestMenuNavigation(t *testing.T) {
	u := withView(richView())
	press(t, u, hal.KeyMenu, hal.KeyDown, hal.KeyDown, hal.KeyDown, hal.KeyOK)
	if f := u.top(); f == nil || f.p != pageNetwork {
		t.Fatalf("Down×3, OK opened %+v, want network status", u.top())
	}
	press(t, u, hal.KeyBack)
	if f := u.top(); f == nil || f.p != pageMenu || f.sel != 3 {
		t.Fatalf("Back went to %+v, want the menu on item 4", u.top())
	}
	press(t, u, hal.KeyMenu)
	if u.top() != nil {
		t.Fatal("Menu did not close the menu")
	}
	// Digits in the menu are shortcuts, not dialling.
	press(t, u, hal.KeyMenu)
	if _, handled := u.Key(hal.KeyEvent{Key: '7', Down: true}); !handled {
		t.Fatal("a digit in the menu went to the phone")
	}
	if f := u.top(); f.p != pageAudio {
		t.Fatalf("7 opened %v", f.p)
	}
	if a := press(t, u, hal.KeyRight); a != (Action{Kind: ActVolume, Delta: 10}) {
		t.Errorf("Right on volume gave %v", a)
	}
	if a := press(t, u, hal.KeyDown, hal.KeyOK); a.Kind != ActMute {
		t.Errorf("OK on mute gave %v", a)
	}
	// Keys the menu has no use for still reach the phone.
	if _, handled := u.Key(hal.KeyEvent{Key: hal.KeySpeaker, Down: true}); handled {
		t.Error("the menu took the speaker key")
	}
}

func TestFactoryResetNeedsConfirmation(t *testing.T) {
	u := withView(richView())
	if a := press(t, u, hal.KeyMenu, '9'); a.Kind != ActNone {
		t.Fatalf("opening the reset page gave %v", a)
	}
	if a := press(t, u, hal.KeySoft1); a.Kind != ActNone || u.top().p != pageMenu {
		t.Fatalf("No gave %v on %v", a, u.top().p)
	}
	if a := press(t, u, '9', hal.KeyBack); a.Kind != ActNone {
		t.Fatalf("Back gave %v", a)
	}
	if a := press(t, u, '9', hal.KeySoft4); a.Kind != ActFactoryReset {
		t.Fatalf("Reset gave %v", a)
	}
	if u.top() != nil {
		t.Error("the menu stayed open after the reset")
	}
}

func TestHistoryAndPhonebookDial(t *testing.T) {
	u := withView(richView())
	if a := press(t, u, hal.KeyHistory, hal.KeyDown, hal.KeyDown, hal.KeySoft4); a != (Action{Kind: ActDial, Number: "100"}) {
		t.Errorf("dial from history gave %v", a)
	}
	if u.top() != nil {
		t.Error("the history stayed open after dialling")
	}
	if a := press(t, u, hal.KeyContacts, hal.KeyUp, hal.KeyOK); a != (Action{Kind: ActDial, Number: "1004"}) {
		t.Errorf("dial from the phonebook (Up wraps to the last) gave %v", a)
	}
	if a := press(t, u, hal.KeyMenu, '3', hal.KeyOK); a != (Action{Kind: ActDial, Number: "100"}) {
		t.Errorf("speed dial gave %v", a)
	}
}

func TestTransferEntry(t *testing.T) {
	u := withView(View{Now: now, Calls: []Call{talking}})
	press(t, u, hal.KeySoft2, '1', '0', '0', '9', hal.KeySoft2, '3')
	if a := press(t, u, hal.KeyOK); a != (Action{Kind: ActTransfer, Call: "c1", Number: "1003"}) {
		t.Errorf("transfer gave %v", a)
	}
	// The page closes when the call ends under it.
	press(t, u, hal.KeySoft2)
	u.SetView(View{Now: now})
	if u.top() != nil {
		t.Error("the transfer page outlived the call")
	}
}

func TestIdleKeys(t *testing.T) {
	u := withView(View{Now: now, Lines: oneLine()})
	if _, handled := u.Key(hal.KeyEvent{Key: '5', Down: true}); handled {
		t.Error("a digit on the idle screen did not go to the phone")
	}
	if a := press(t, u, hal.KeySoft3); a != (Action{Kind: ActSetDND, On: true}) {
		t.Errorf("DND gave %v", a)
	}
	u.SetView(View{Now: now, Lines: oneLine(), DND: true})
	if a := press(t, u, hal.KeySoft3); a != (Action{Kind: ActSetDND, On: false}) {
		t.Errorf("DND off gave %v", a)
	}
	u.SetView(View{Now: now, Dialing: "12"})
	if a := press(t, u, hal.KeyOK); a.Kind != ActSend {
		t.Errorf("OK while dialling gave %v", a)
	}
	if a := press(t, u, hal.KeyBack); a.Kind != ActHangup {
		t.Errorf("Back while dialling gave %v", a)
	}
	if _, handled := u.Key(hal.KeyEvent{Key: hal.KeyMenu}); handled {
		t.Error("a release was handled")
	}
}

func TestMarqueeScrollsLongNames(t *testing.T) {
	c := ringing
	c.Name = "Maximilian Alexander von Hohenzollern-Sigmaringen"
	u := withView(View{Now: now, Calls: []Call{c}})
	a, b := NewFrame(), NewFrame()
	u.Render(a)
	if !u.Animating() {
		t.Fatal("a name wider than the panel does not scroll")
	}
	for range marqueeWait + 3 {
		u.Tick()
	}
	u.Render(b)
	if diffFrames(a, b) == "" {
		t.Fatal("the marquee did not move")
	}
	u.SetView(View{Now: now, Calls: []Call{ringing}})
	u.Render(b)
	if u.Animating() {
		t.Error("a name that fits scrolls")
	}
}

func TestCallerNameFromPhonebook(t *testing.T) {
	u := withView(View{Contacts: []Contact{{Name: "Bob", Number: "+33 (1) 23-45"}}})
	for number, want := range map[string]string{
		"+331 2345":        "Bob",
		"sip:+3312345@pbx": "Bob",
		"+3312346":         "+3312346",
		"":                 "Unknown",
	} {
		if got, _ := u.who(Call{Number: number}); got != want {
			t.Errorf("number %q shows %q, want %q", number, got, want)
		}
	}
	if got, _ := u.who(Call{Name: "Robert", Number: "+3312345"}); got != "Robert" {
		t.Errorf("the caller's own name was replaced by %q", got)
	}
}

func TestReadable(t *testing.T) {
	for in, want := range map[string]string{
		"Zoë":                 "Zoë",
		"Łukasz Żółć":         "Lukasz Zólc", // ó is Latin-1
		"Nguyễn Văn Ánh":      "Nguyen Van Ánh",
		"Œuvre “quoted” – x…": "OEuvre \"quoted\" - x…",
		"e\u0301cole":         "ecole", // combining accent dropped
		"山田 太郎":               "?? ??",
		"tab\tstop":           "tab stop",
		"\xff":                "?",
		"\uE100":              "?", // icons are not reachable from text
	} {
		if got := Readable(in); got != want {
			t.Errorf("Readable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWrap(t *testing.T) {
	lines := wrap("Calls may have no audio: use a TURN server", 60)
	for _, l := range lines {
		if TextWidth(l) > 60 {
			t.Errorf("line %q is %d px wide", l, TextWidth(l))
		}
	}
	if len(lines) < 3 {
		t.Errorf("wrapped into %q", lines)
	}
	got := wrap("address-and-port-dependent", 80)
	for _, l := range got[:len(got)-1] {
		if l[len(l)-1] != '-' {
			t.Errorf("long word cut as %q, want after hyphens", got)
		}
	}
}
