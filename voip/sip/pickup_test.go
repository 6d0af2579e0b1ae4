package sip

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/deskphone/phone/voip/dialoginfo"
)

// lampDialog is bob's side of call c as a busy lamp's dialog info shows
// it (the watched user's tag local), in state.
func lampDialog(c *Call, state string) dialoginfo.Dialog {
	c.mu.Lock()
	defer c.mu.Unlock()
	return dialoginfo.Dialog{CallID: c.id, LocalTag: c.d.localTag, RemoteTag: c.d.remoteTag, State: state}
}

// TestDialReplacingConfirmed: carol takes over bob's answered call with
// alice by an INVITE to bob with Replaces built from the dialog info
// (through tools/pbx): bob's UA sees the new call replace the old one
// and, answering it and hanging the old one up as the phone does, talks
// to carol; alice's call ends.
func TestDialReplacingConfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil)
		ab, ba := connect(t, tr.a, tr.b, "bob")
		rep, ok := lampDialog(ba, dialoginfo.Confirmed).Replaces()
		if !ok {
			t.Fatal("no Replaces from the dialog")
		}
		cb, err := tr.c.ua.DialReplacing(context.Background(), "bob", rep)
		if err != nil {
			t.Fatal(err)
		}
		bc := tr.b.waitIncoming(t)
		if bc.Replaces() != ba {
			t.Fatalf("bob's new call replaces %v, want %v", bc.Replaces(), ba)
		}
		bc.mu.Lock()
		inv := bc.inviteReq
		bc.mu.Unlock()
		if !hasHeaderValue(inv, "Require", "replaces") {
			t.Errorf("INVITE lacks Require: replaces:\n%s", inv)
		}
		if err := bc.Answer(); err != nil {
			t.Fatal(err)
		}
		if err := ba.Hangup(); err != nil {
			t.Fatal(err)
		}
		tr.c.waitCall(t, cb, StateTalking)
		waitDone(t, ab)
		hears(t, cb, bc, "carol-bob")
	})
}

// TestDialReplacingEarly: the pickup of bob's ringing call by Replaces,
// sent to bob through the proxy, is refused 481 by bob's UA (RFC 3891
// §3: an early dialog it did not initiate) and changes nothing: alice's
// call still rings bob and can be answered. With early-only, once bob
// answered, the same Replaces gets 486 and bob's call stays up.
func TestDialReplacingEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil)
		ab, err := tr.a.ua.Dial(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		ba := tr.b.waitIncoming(t)
		tr.a.next(t, "ringing", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == ab && ce.State == StateRinging
		})
		d := lampDialog(ba, dialoginfo.Early)
		rep, ok := d.Replaces()
		if !ok {
			t.Fatal("no Replaces from the dialog")
		}
		cb, err := tr.c.ua.DialReplacing(context.Background(), "bob", rep)
		if err != nil {
			t.Fatal(err)
		}
		if ev := tr.c.waitCall(t, cb, StateEnded); ev.Code != 481 {
			t.Fatalf("pickup of a ringing callee ended %d %q, want 481", ev.Code, ev.Reason)
		}
		if st := ba.State(); st != StateRinging && st != StateIncoming {
			t.Fatalf("bob's ringing call is %v after the refused pickup", st)
		}
		if err := ba.Answer(); err != nil {
			t.Fatal(err)
		}
		tr.a.waitCall(t, ab, StateTalking)

		// early-only against the now confirmed dialog: 486.
		cb2, err := tr.c.ua.DialReplacing(context.Background(), "bob", rep)
		if err != nil {
			t.Fatal(err)
		}
		if ev := tr.c.waitCall(t, cb2, StateEnded); ev.Code != 486 {
			t.Fatalf("early-only pickup of an answered call ended %d %q, want 486", ev.Code, ev.Reason)
		}
		hears(t, ab, ba, "alice-bob")
	})
}

// TestDialReplacingBad: a Replaces value that does not parse, or a bad
// target, sends nothing.
func TestDialReplacingBad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil)
		for _, bad := range []string{"", "abc", "abc;to-tag=1", "abc;to-tag=1;from-tag=2;to-tag=3", "a b;to-tag=1;from-tag=2", "abc;to-tag=1;from-tag=2;early-only=yes"} {
			if _, err := tr.c.ua.DialReplacing(context.Background(), "bob", bad); !errors.Is(err, ErrBadReplaces) {
				t.Errorf("DialReplacing(%q) = %v, want ErrBadReplaces", bad, err)
			}
		}
		if _, err := tr.c.ua.DialReplacing(context.Background(), "sip:", "abc;to-tag=1;from-tag=2"); err == nil {
			t.Error("bad target accepted")
		}
		if n := len(tr.c.ua.Calls()); n != 0 {
			t.Errorf("%d calls after refused dials", n)
		}
	})
}
