package phone

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
)

// talkingOut places an API call to target and has it answered.
func (r *rig) talkingOut(target string) *fakeCall {
	r.t.Helper()
	if err := r.p.Call(context.Background(), target); err != nil {
		r.t.Fatal(err)
	}
	c := r.line.last()
	r.p.CallEvent(CallEvent{Call: c, State: CallAnswered})
	synctest.Wait()
	r.wantState(Talking)
	return c
}

// TestTransferKeyBlind: the transfer key holds the call and gives dial
// tone; dialling and the transfer key again send it blind; progress
// shows in status; the line ends the call.
func TestTransferKeyBlind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &memHistory{}
		r := newRigWith(t, func(c *Config) { c.History = h })
		c := r.talkingOut("100")
		r.keys.Press(hal.KeyTransfer)
		synctest.Wait()
		r.wantState(OffHook)
		r.wantPlaying(level(1000))
		r.wantCalls("out-1:held")
		r.keys.Type("200")
		synctest.Wait()
		r.keys.Press(hal.KeyTransfer)
		synctest.Wait()
		synctest.Wait()
		wantActions(t, c, "hold", "transfer 200")
		if d := r.line.Dials(); len(d) != 1 {
			t.Fatalf("dials %v: a consult call was placed", d)
		}
		r.wantState(Held) // hands-free: back on hook, the call held until the line ends it
		if st := r.p.Status(); st.Speaker {
			t.Fatal("speaker still on after the transfer")
		}
		r.p.CallEvent(CallEvent{Call: c, State: CallTransferProgress, Code: 100, Reason: "Trying"})
		synctest.Wait()
		if s := r.call("out-1").Transfer; s != "100 Trying" {
			t.Fatalf("transfer progress %q", s)
		}
		r.p.CallEvent(CallEvent{Call: c, State: CallTransferProgress, Code: 200, Reason: "OK", Final: true})
		synctest.Wait()
		if s := r.call("out-1").Transfer; !strings.HasPrefix(s, "done") {
			t.Fatalf("transfer progress %q", s)
		}
		r.p.CallEvent(CallEvent{Call: c, State: CallEnded})
		synctest.Wait()
		r.wantState(Idle)
		if e := h.entries(); len(e) != 1 || e[0].Kind != KindPlaced {
			t.Fatalf("history %+v", e)
		}
	})
}

// TestTransferKeyConsultRinging: the consult call placed and ringing,
// the transfer key cancels it and sends the held call blind to its
// number.
func TestTransferKeyConsultRinging(t *testing.T) {
	for _, how := range []string{"transfer key", "terminator"} {
		t.Run(how, func(t *testing.T) { testTransferKeyConsultRinging(t, how) })
	}
}

func testTransferKeyConsultRinging(t *testing.T, how string) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		c := r.talkingOut("100")
		r.keys.Press(hal.KeyTransfer)
		synctest.Wait()
		r.keys.Type("300#")
		synctest.Wait()
		r.wantCalls("out-1:held", "out-2:calling*")
		consult := r.line.last()
		r.p.CallEvent(CallEvent{Call: consult, State: CallRinging})
		synctest.Wait()
		if how == "terminator" {
			r.keys.Type("#")
		} else {
			r.keys.Press(hal.KeyTransfer)
		}
		synctest.Wait()
		wantActions(t, consult, "hangup")
		wantActions(t, c, "hold", "transfer 300")
		r.wantCalls("out-1:held")
	})
}

// TestTransferKeyAttended: once the consult call answers, the transfer
// key connects the held call's far end to it (REFER with Replaces).
func TestTransferKeyAttended(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		c := r.talkingOut("100")
		r.keys.Press(hal.KeyTransfer)
		synctest.Wait()
		r.keys.Type("300#")
		synctest.Wait()
		consult := r.line.last()
		r.p.CallEvent(CallEvent{Call: consult, State: CallAnswered})
		synctest.Wait()
		r.wantCalls("out-1:held", "out-2:talking*")
		r.keys.Press(hal.KeyTransfer)
		synctest.Wait()
		wantActions(t, c, "hold", "transfer-replacing out-2")
		wantActions(t, consult)
	})
}

// TestTransferGivenUp: the hold key while setting up a transfer goes
// back to the call; the transfer key then starts afresh.
func TestTransferGivenUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		c := r.talkingOut("100")
		r.keys.Press(hal.KeyTransfer)
		synctest.Wait()
		r.keys.Type("2")
		r.keys.Press(hal.KeyHold)
		synctest.Wait()
		r.wantCalls("out-1:talking*")
		r.keys.Press(hal.KeyTransfer)
		synctest.Wait()
		r.wantState(OffHook)
		r.keys.Type("3")
		r.keys.Press(hal.KeyTransfer)
		synctest.Wait()
		wantActions(t, c, "hold", "resume", "hold", "transfer 3")
	})
}

// TestTransferFailsCallStaysHeld: a transfer the far end refuses shows
// the failure; the original call stays held and resumes.
func TestTransferFailsCallStaysHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := context.Background()
		c := r.talkingOut("100")
		r.keys.Press(hal.KeyTransfer)
		synctest.Wait()
		r.keys.Type("200")
		synctest.Wait()
		r.keys.Press(hal.KeyTransfer)
		synctest.Wait()
		r.p.CallEvent(CallEvent{Call: c, State: CallTransferProgress, Code: 486, Reason: "Busy Here", Final: true})
		synctest.Wait()
		st := r.p.Status()
		if !strings.Contains(st.Error, "486") || !strings.HasPrefix(r.call("out-1").Transfer, "failed") {
			t.Fatalf("status %+v", st)
		}
		r.wantCalls("out-1:held")
		if err := r.p.ResumeCall(ctx, "out-1"); err != nil {
			t.Fatal(err)
		}
		r.wantCalls("out-1:talking*")
	})
}

// TestTransferAPI: blind with a target; attended with none (the held
// call's far end to the active call's).
func TestTransferAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := context.Background()
		if err := r.p.Transfer(ctx, "x"); !errors.Is(err, ErrNoCall) {
			t.Fatalf("transfer with no call: %v", err)
		}
		c1 := r.talkingOut("100")
		if err := r.p.Transfer(ctx, ""); !errors.Is(err, ErrState) {
			t.Fatalf("attended with no held call: %v", err)
		}
		in := incoming("in-1", 6000)
		r.p.CallEvent(CallEvent{Call: in, State: CallIncoming})
		synctest.Wait()
		if err := r.p.AnswerCall(ctx, "in-1"); err != nil {
			t.Fatal(err)
		}
		if err := r.p.Transfer(ctx, ""); err != nil {
			t.Fatal(err)
		}
		wantActions(t, c1, "hold", "transfer-replacing in-1")
		if err := r.p.Transfer(ctx, "500"); err != nil {
			t.Fatal(err)
		}
		wantActions(t, in.fakeCall, "answer", "hold", "transfer 500")

		// A call whose line cannot transfer says so.
		r2 := newRigWith(t, nil)
		r2.line.plain = true
		r2.talkingOut("1")
		if err := r2.p.Transfer(ctx, "2"); !errors.Is(err, ErrNoTransfer) {
			t.Fatalf("plain call: %v", err)
		}
	})
}

// TestReferred: the far end asks us to call a third party; the line's
// new call becomes the active outgoing one (ringback), the old one ends.
func TestReferred(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		old := r.talkingOut("100")
		nc := &fakeCall{id: "ref-1", remote: "sip:300@pbx", media: &fakeMedia{level: 7000}}
		x := &xcall{fakeCall: nc}
		r.p.CallEvent(CallEvent{Call: x, State: CallReferred, Old: old})
		synctest.Wait()
		r.wantCalls("out-1:talking", "ref-1:calling*")
		r.wantState(Calling)
		r.wantPlaying(level(2000))
		r.p.CallEvent(CallEvent{Call: old, State: CallEnded})
		synctest.Wait()
		r.wantCalls("ref-1:calling*")
		x.setIdent(Identity{Name: "Carol", Number: "300"}) // P-Asserted-Identity in the 200
		r.p.CallEvent(CallEvent{Call: x, State: CallAnswered})
		synctest.Wait()
		r.wantState(Talking)
		r.wantPlaying(nc.media)
		if id := r.call("ref-1").Identity; id.Name != "Carol" || id.Number != "300" {
			t.Fatalf("identity after the answer %+v", id)
		}
		if st := r.p.Status(); st.Remote != "sip:300@pbx" {
			t.Fatalf("remote %q", st.Remote)
		}
	})
}

// TestReplaces: an INVITE with Replaces is answered at once, takes the
// audio, and the replaced call is hung up; one naming no call of ours
// is refused 481.
func TestReplaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		old := r.talkingOut("100")
		nc := incoming("in-9", 7000)
		r.p.CallEvent(CallEvent{Call: nc, State: CallIncoming, Replaces: old})
		synctest.Wait()
		r.wantCalls("in-9:talking*")
		wantActions(t, nc.fakeCall, "answer")
		wantActions(t, old, "hangup")
		r.wantPlaying(nc.media)
		if r.board.Ringer.(*haltest.Ringer).Ringing() {
			t.Fatal("a replacing call rang")
		}
		stray := incoming("in-10", 1)
		r.p.CallEvent(CallEvent{Call: stray, State: CallIncoming, Replaces: old})
		synctest.Wait()
		wantActions(t, stray.fakeCall, "reject 481")
		r.wantCalls("in-9:talking*")
	})
}

// TestConference: the active and the held call joined; each party hears
// the microphone and the other party, the speaker both; hold holds both;
// split holds the other; one party hanging up leaves the other a normal
// call.
func TestConference(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := context.Background()
		c1, c2 := incoming("in-1", 5000), incoming("in-2", 6000)
		r.p.CallEvent(CallEvent{Call: c1, State: CallIncoming})
		synctest.Wait()
		r.hook.Lift()
		synctest.Wait()
		r.p.CallEvent(CallEvent{Call: c2, State: CallIncoming})
		synctest.Wait()
		r.keys.Press(hal.KeyOK)
		synctest.Wait()
		r.wantCalls("in-1:held", "in-2:talking*")
		r.keys.Press(hal.KeyConference)
		synctest.Wait()
		r.wantCalls("in-1:conference", "in-2:conference*")
		if !r.p.Status().Conference {
			t.Fatal("status does not show the conference")
		}
		check := func(what string, spk, to1, to2 int16) {
			t.Helper()
			if got := r.heard(); got != spk {
				t.Fatalf("%s: speaker %d, want %d", what, got, spk)
			}
			if got := sent(t, c1.fakeCall); got != to1 {
				t.Fatalf("%s: in-1 hears %d, want %d", what, got, to1)
			}
			if got := sent(t, c2.fakeCall); got != to2 {
				t.Fatalf("%s: in-2 hears %d, want %d", what, got, to2)
			}
		}
		check("conference", 11000, 100+6000, 100+5000)

		r.keys.Press(hal.KeyHold)
		synctest.Wait()
		r.wantCalls("in-1:held", "in-2:held*")
		check("held", 0, 0, 0)
		r.keys.Press(hal.KeyHold)
		synctest.Wait()
		r.wantCalls("in-1:conference", "in-2:conference*")
		check("resumed", 11000, 100+6000, 100+5000)

		if err := r.p.Split(ctx); err != nil {
			t.Fatal(err)
		}
		r.wantCalls("in-1:held", "in-2:talking*")
		check("split", 6000, 0, 100)

		if err := r.p.Conference(ctx); err != nil {
			t.Fatal(err)
		}
		r.p.CallEvent(CallEvent{Call: c1, State: CallEnded})
		synctest.Wait()
		r.wantCalls("in-2:talking*")
		if r.p.Status().Conference {
			t.Fatal("conference shown with one party")
		}
		check("one left", 6000, 0, 100)
		r.wantPlaying(c2.media)
		if err := r.p.Conference(ctx); !errors.Is(err, ErrState) {
			t.Fatalf("conference of one call: %v", err)
		}
	})
}

// TestConferenceHangupLeavesOther: our hang-up of one party leaves the
// other talking.
func TestConferenceHangupLeavesOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := context.Background()
		c1 := r.talkingOut("100")
		c2 := incoming("in-2", 6000)
		r.p.CallEvent(CallEvent{Call: c2, State: CallIncoming})
		synctest.Wait()
		r.keys.Press(hal.KeyOK)
		synctest.Wait()
		if err := r.p.Conference(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.p.HangupCall(ctx, "in-2"); err != nil {
			t.Fatal(err)
		}
		r.wantCalls("out-1:talking*")
		r.wantPlaying(c1.media)
		if got := sent(t, c1); got != 100 {
			t.Fatalf("out-1 hears %d", got)
		}
	})
}
