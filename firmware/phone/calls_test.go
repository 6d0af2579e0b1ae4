package phone

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
)

// xcall is a fake call that can also forward and transfer.
type xcall struct {
	*fakeCall
	ident Identity
}

func (c *xcall) Redirect(target string) error { return c.act("redirect " + target) }
func (c *xcall) Transfer(target string) error { return c.act("transfer " + target) }
func (c *xcall) TransferReplacing(o Call) error {
	return c.act("transfer-replacing " + o.ID())
}
func (c *xcall) Identity() Identity {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ident
}

// setIdent changes what Identity returns (a P-Asserted-Identity that
// arrives with a response).
func (c *xcall) setIdent(id Identity) {
	c.mu.Lock()
	c.ident = id
	c.mu.Unlock()
}

// incoming makes an incoming call whose far end sends lvl.
func incoming(id string, lvl int16) *xcall {
	return &xcall{fakeCall: &fakeCall{id: id, remote: "sip:" + id + "@pbx", media: &fakeMedia{level: level(lvl)}}}
}

// memHistory keeps the history entries.
type memHistory struct {
	mu sync.Mutex
	e  []HistoryEntry
}

func (h *memHistory) Add(e HistoryEntry) { h.mu.Lock(); h.e = append(h.e, e); h.mu.Unlock() }
func (h *memHistory) entries() []HistoryEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.e)
}

func (r *rig) call(id string) CallStatus {
	r.t.Helper()
	synctest.Wait()
	for _, c := range r.p.Status().Calls {
		if c.ID == id {
			return c
		}
	}
	r.t.Fatalf("call %s not in status %+v", id, r.p.Status().Calls)
	return CallStatus{}
}

// wantCalls checks each call's state, in order.
func (r *rig) wantCalls(want ...string) {
	r.t.Helper()
	synctest.Wait()
	var got []string
	for _, c := range r.p.Status().Calls {
		s := c.ID + ":" + c.State
		if c.Active {
			s += "*"
		}
		got = append(got, s)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		r.t.Fatalf("calls %v, want %v", got, want)
	}
}

func wantActions(t *testing.T, c *fakeCall, want ...string) {
	t.Helper()
	synctest.Wait()
	if got := c.Actions(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s actions %v, want %v", c.id, got, want)
	}
}

// heard returns the value of the newest speaker samples and whether they
// all have that value (the fakes send constant levels).
func (r *rig) heard() int16 {
	r.t.Helper()
	time.Sleep(100 * time.Millisecond)
	synctest.Wait()
	s := r.out.Samples(160)
	for _, v := range s {
		if v != s[0] {
			r.t.Fatalf("speaker frame not constant: %v", s[:8])
		}
	}
	return s[0]
}

// sent returns what call c's far end hears (the newest frame its capture
// loop read; 0 when the loop read nothing in the last 100 ms: a held
// call's loop is stopped), and fails when that is not one constant value.
func sent(t *testing.T, c *fakeCall) int16 {
	t.Helper()
	c.media.mu.Lock()
	before := c.media.frames
	c.media.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	synctest.Wait()
	c.media.mu.Lock()
	defer c.media.mu.Unlock()
	if len(c.media.last) == 0 {
		t.Fatalf("%s: capture loop read nothing", c.id)
	}
	if c.media.frames == before {
		return 0
	}
	for _, v := range c.media.last {
		if v != c.media.last[0] {
			t.Fatalf("%s: frame not constant", c.id)
		}
	}
	return c.media.last[0]
}

// twoLines is a rig with two lines whose call IDs start a- and b-.
func twoLines(t *testing.T, set func(*Config)) (*rig, *fakeLine, *fakeLine) {
	a, b := &fakeLine{prefix: "a-"}, &fakeLine{prefix: "b-"}
	r := newRigWith(t, func(c *Config) {
		c.Lines = []Line{a, b}
		if set != nil {
			set(c)
		}
	})
	return r, a, b
}

// TestLines: CallOn and the line keys place calls on the line chosen;
// an incoming call keeps its line; a line key answers the call ringing
// on it.
func TestLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, a, b := twoLines(t, nil)
		ctx := context.Background()
		if err := r.p.CallOn(ctx, 1, "200"); err != nil {
			t.Fatal(err)
		}
		if d := b.Dials(); fmt.Sprint(d) != "[200]" || len(a.Dials()) != 0 {
			t.Fatalf("dials a %v b %v, want b [200]", a.Dials(), d)
		}
		if c := r.call("b-out-1"); c.Line != 1 || c.Direction != "outgoing" || c.State != "calling" || !c.Active {
			t.Fatalf("call %+v", c)
		}
		if err := r.p.CallOn(ctx, 2, "x"); !errors.Is(err, ErrNoLine) {
			t.Fatalf("line 2 of 2: err %v", err)
		}
		if err := r.p.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		r.wantState(Idle)

		r.keys.Press(hal.KeyLine2)
		synctest.Wait()
		r.wantState(OffHook)
		if st := r.p.Status(); st.Line != 1 || !st.Speaker {
			t.Fatalf("after line 2 key: %+v", st)
		}
		r.keys.Type("33#")
		synctest.Wait()
		r.wantState(Calling)
		if d := b.Dials(); fmt.Sprint(d) != "[200 33]" {
			t.Fatalf("b dials %v", d)
		}
		r.keys.Press(hal.KeySpeaker)
		synctest.Wait()
		r.wantState(Idle)
		r.keys.Press(hal.KeyLine3) // no third line: nothing
		synctest.Wait()
		r.wantState(Idle)
		r.hook.Lift()
		synctest.Wait()
		r.keys.Type("44#") // the default line again
		synctest.Wait()
		synctest.Wait()
		if d := a.Dials(); fmt.Sprint(d) != "[44]" {
			t.Fatalf("a dials %v", d)
		}
		r.hook.HangUp()
		synctest.Wait()
		r.wantState(Idle)

		in := incoming("in-1", 7000)
		r.p.CallEvent(CallEvent{Call: in, State: CallIncoming, Line: 1})
		synctest.Wait()
		r.wantState(Ringing)
		if c := r.call("in-1"); c.Line != 1 || c.State != "incoming" || c.Direction != "incoming" {
			t.Fatalf("incoming %+v", c)
		}
		r.keys.Press(hal.KeyLine1) // another line's key does not answer it
		synctest.Wait()
		synctest.Wait()
		wantActions(t, in.fakeCall)
		r.keys.Press(hal.KeySpeaker) // speaker off again
		synctest.Wait()
		r.keys.Press(hal.KeyLine2)
		synctest.Wait()
		r.wantState(Talking)
		wantActions(t, in.fakeCall, "answer")
		if st := r.p.Status(); st.CallID != "in-1" || st.Remote != "sip:in-1@pbx" || st.Route != RouteSpeaker {
			t.Fatalf("status %+v", st)
		}
		// The other line's key during the call: hold it, dial on line 0.
		r.keys.Press(hal.KeyLine1)
		synctest.Wait()
		r.wantState(OffHook)
		r.wantCalls("in-1:held")
		r.keys.Type("55#")
		synctest.Wait()
		if d := a.Dials(); fmt.Sprint(d) != "[44 55]" {
			t.Fatalf("a dials %v", d)
		}
		r.keys.Press(hal.KeyLine2) // back to the held call: the unanswered attempt is cancelled
		synctest.Wait()
		r.wantCalls("in-1:talking*")
		wantActions(t, a.calls[1], "hangup")
	})
}

// TestCallWaiting: a call during a call waits with the beep over the
// call's audio (no bell); answering it holds the first; swap goes back
// and forth; the user can reject a waiting call.
func TestCallWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := context.Background()
		ringer := r.board.Ringer.(*haltest.Ringer)
		c1, c2 := incoming("in-1", 5000), incoming("in-2", 6000)
		r.p.CallEvent(CallEvent{Call: c1, State: CallIncoming})
		synctest.Wait()
		r.hook.Lift()
		synctest.Wait()
		r.wantState(Talking)
		if got := r.heard(); got != 5000 {
			t.Fatalf("speaker %d, want the call's 5000", got)
		}
		r.p.CallEvent(CallEvent{Call: c2, State: CallIncoming})
		synctest.Wait()
		r.wantState(Talking)
		r.wantCalls("in-1:talking*", "in-2:waiting")
		if ringer.Ringing() {
			t.Fatal("the bell rings for a waiting call")
		}
		beep := int16(5000 + (300*int32(cwGain))>>14)
		if got := r.heard(); got != beep {
			t.Fatalf("speaker %d, want the call with the beep %d", got, beep)
		}
		if st := r.p.Status(); st.CallID != "in-1" {
			t.Fatalf("top-level call %s, want the active in-1", st.CallID)
		}

		if err := r.p.AnswerCall(ctx, "in-2"); err != nil {
			t.Fatal(err)
		}
		r.wantCalls("in-1:held", "in-2:talking*")
		wantActions(t, c1.fakeCall, "answer", "hold")
		wantActions(t, c2.fakeCall, "answer")
		if got := r.heard(); got != 6000 {
			t.Fatalf("speaker %d, want the second call's 6000 (no beep)", got)
		}
		if c := r.call("in-1"); !c.LocalHold || c.RemoteHold {
			t.Fatalf("held call %+v", c)
		}

		if err := r.p.Swap(ctx); err != nil {
			t.Fatal(err)
		}
		r.wantCalls("in-1:talking*", "in-2:held")
		r.keys.Press(hal.KeySwap)
		synctest.Wait()
		r.wantCalls("in-1:held", "in-2:talking*")
		wantActions(t, c1.fakeCall, "answer", "hold", "resume", "hold")

		c3 := incoming("in-3", 7000)
		r.p.CallEvent(CallEvent{Call: c3, State: CallIncoming})
		synctest.Wait()
		r.wantCalls("in-1:held", "in-2:talking*", "in-3:waiting")
		if err := r.p.RejectCall(ctx, "in-3", 0); err != nil {
			t.Fatal(err)
		}
		wantActions(t, c3.fakeCall, "reject 486")
		r.wantCalls("in-1:held", "in-2:talking*")
		if got := r.heard(); got != 6000 {
			t.Fatalf("speaker %d after the reject, want 6000 (beep gone)", got)
		}
		if err := r.p.RejectCall(ctx, "in-2", 0); !errors.Is(err, ErrNoCall) {
			t.Fatalf("reject of a connected call: err %v", err)
		}
	})
}

// TestCallWaitingKeys: the OK key, the line key and the call's line key
// each answer a waiting call, holding the active one.
func TestCallWaitingKeys(t *testing.T) {
	for _, key := range []hal.Key{hal.KeyOK, hal.KeyLine, hal.KeyLine1} {
		t.Run(key.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				if err := r.p.Call(context.Background(), "100"); err != nil {
					t.Fatal(err)
				}
				out := r.line.last()
				r.p.CallEvent(CallEvent{Call: out, State: CallAnswered})
				synctest.Wait()
				in := incoming("in-1", 6000)
				r.p.CallEvent(CallEvent{Call: in, State: CallIncoming})
				synctest.Wait()
				r.wantCalls("out-1:talking*", "in-1:waiting")
				r.keys.Press(key)
				synctest.Wait()
				r.wantCalls("out-1:held", "in-1:talking*")
				wantActions(t, out, "hold")
				r.keys.Press(hal.KeyHold) // holds the active
				synctest.Wait()
				r.wantCalls("out-1:held", "in-1:held*")
				r.wantState(Held)
				r.keys.Press(hal.KeyHold) // resumes it
				synctest.Wait()
				r.wantCalls("out-1:held", "in-1:talking*")
			})
		})
	}
}

// TestWaitingRingsAfterHangup: the user hangs up the call with another
// waiting: that one rings; lifting answers it.
func TestWaitingRingsAfterHangup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ringer := r.board.Ringer.(*haltest.Ringer)
		c1, c2 := incoming("in-1", 5000), incoming("in-2", 6000)
		r.p.CallEvent(CallEvent{Call: c1, State: CallIncoming})
		synctest.Wait()
		r.hook.Lift()
		synctest.Wait()
		r.p.CallEvent(CallEvent{Call: c2, State: CallIncoming})
		synctest.Wait()
		r.wantCalls("in-1:talking*", "in-2:waiting")
		r.hook.HangUp()
		synctest.Wait()
		r.wantState(Ringing)
		r.wantCalls("in-2:incoming")
		wantActions(t, c1.fakeCall, "answer", "hangup")
		if !ringer.Ringing() {
			t.Fatal("the waiting call does not ring after the hang-up")
		}
		r.hook.Lift()
		synctest.Wait()
		r.wantState(Talking)
		r.wantCalls("in-2:talking*")
		if ringer.Ringing() {
			t.Fatal("still ringing")
		}
	})
}

// TestBusyWhenFull: beyond MaxCalls, or with call waiting off, an
// incoming call is refused 486 and logged missed.
func TestBusyWhenFull(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
	}{
		{"max calls", func(c *Config) { c.MaxCalls = 2 }},
		{"no call waiting", func(c *Config) { c.NoCallWaiting = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &memHistory{}
				r := newRigWith(t, func(c *Config) { tc.set(c); c.History = h })
				c1 := incoming("in-1", 5000)
				r.p.CallEvent(CallEvent{Call: c1, State: CallIncoming})
				synctest.Wait()
				r.hook.Lift()
				synctest.Wait()
				n := 2
				if tc.name == "max calls" {
					r.p.CallEvent(CallEvent{Call: incoming("in-2", 1), State: CallIncoming})
					synctest.Wait()
					n = 3
				}
				c3 := incoming(fmt.Sprintf("in-%d", n), 1)
				r.p.CallEvent(CallEvent{Call: c3, State: CallIncoming})
				synctest.Wait()
				wantActions(t, c3.fakeCall, "reject 486")
				e := h.entries()
				if len(e) != 1 || e[0].Kind != KindMissed || e[0].Code != 486 || e[0].Remote != c3.remote {
					t.Fatalf("history %+v", e)
				}
				if st := r.p.Status(); st.MissedCalls != 1 || st.State != "talking" {
					t.Fatalf("status %+v", st)
				}
			})
		})
	}
}

// TestHoldEitherWay: any call can be held and resumed by ID; resuming
// one holds the active; the far end's hold shows as remote_hold, our own
// as local_hold, both at once as held.
func TestHoldEitherWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := context.Background()
		c1, c2 := incoming("in-1", 5000), incoming("in-2", 6000)
		r.p.CallEvent(CallEvent{Call: c1, State: CallIncoming})
		synctest.Wait()
		if err := r.p.AnswerCall(ctx, "in-1"); err != nil {
			t.Fatal(err)
		}
		r.p.CallEvent(CallEvent{Call: c2, State: CallIncoming})
		synctest.Wait()
		if err := r.p.AnswerCall(ctx, "in-2"); err != nil {
			t.Fatal(err)
		}
		r.wantCalls("in-1:held", "in-2:talking*")
		if err := r.p.HoldCall(ctx, "in-1"); !errors.Is(err, ErrState) {
			t.Fatalf("hold of a held call: %v", err)
		}
		if err := r.p.HoldCall(ctx, "nope"); !errors.Is(err, ErrNoCall) {
			t.Fatalf("hold of an unknown call: %v", err)
		}
		r.p.CallEvent(CallEvent{Call: c1, State: CallHeld, RemoteHold: true})
		synctest.Wait()
		if c := r.call("in-1"); c.State != "held" || !c.LocalHold || !c.RemoteHold {
			t.Fatalf("held both ways: %+v", c)
		}
		r.p.CallEvent(CallEvent{Call: c2, State: CallHeld, RemoteHold: true})
		synctest.Wait()
		r.wantCalls("in-1:held", "in-2:held_remote*")
		r.wantState(HeldRemote)
		if c := r.call("in-2"); c.LocalHold || !c.RemoteHold {
			t.Fatalf("held by the far end: %+v", c)
		}

		if err := r.p.ResumeCall(ctx, "in-1"); err != nil {
			t.Fatal(err)
		}
		r.wantCalls("in-1:held_remote*", "in-2:held")
		r.wantState(HeldRemote) // the far end still holds in-1
		r.p.CallEvent(CallEvent{Call: c1, State: CallResumed})
		synctest.Wait()
		r.wantCalls("in-1:talking*", "in-2:held")
		if err := r.p.HoldCall(ctx, "in-1"); err != nil {
			t.Fatal(err)
		}
		r.wantCalls("in-1:held*", "in-2:held")
		r.wantState(Held)
		r.wantPlaying(nil)
		wantActions(t, c1.fakeCall, "answer", "hold", "resume", "hold")
		wantActions(t, c2.fakeCall, "answer", "hold")

		// The far end of the active call hangs up: the held one stays.
		if err := r.p.ResumeCall(ctx, "in-2"); err != nil {
			t.Fatal(err)
		}
		r.p.CallEvent(CallEvent{Call: c2, State: CallEnded})
		synctest.Wait()
		r.wantCalls("in-1:held")
		r.wantState(Held)
		r.keys.Press(hal.KeyHold) // resumes the held call
		synctest.Wait()
		r.wantCalls("in-1:talking*")
		if !r.p.Status().Speaker {
			t.Fatal("resumed hands-free with the speaker off")
		}
	})
}

// TestHeldPartyHearsNothing: the microphone goes to the active call
// only; a held call's capture loop gets silence.
func TestHeldPartyHearsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := context.Background()
		c1, c2 := incoming("in-1", 5000), incoming("in-2", 6000)
		r.p.CallEvent(CallEvent{Call: c1, State: CallIncoming})
		synctest.Wait()
		r.hook.Lift()
		synctest.Wait()
		if got := sent(t, c1.fakeCall); got != 100 {
			t.Fatalf("in-1 hears %d, want the microphone's 100", got)
		}
		r.p.CallEvent(CallEvent{Call: c2, State: CallIncoming})
		synctest.Wait()
		if err := r.p.AnswerCall(ctx, "in-2"); err != nil {
			t.Fatal(err)
		}
		if got, got2 := sent(t, c1.fakeCall), sent(t, c2.fakeCall); got != 0 || got2 != 100 {
			t.Fatalf("held in-1 hears %d (want 0), active in-2 %d (want 100)", got, got2)
		}
		r.keys.Press(hal.KeyMute)
		synctest.Wait()
		if got := sent(t, c2.fakeCall); got != 0 {
			t.Fatalf("muted: in-2 hears %d", got)
		}
		if got := r.heard(); got != 6000 {
			t.Fatalf("speaker %d, want in-2's 6000", got)
		}
	})
}

// TestLiftWithHeldCallGivesDialTone: with the only call held, lifting
// the handset gives dial tone for a new call; the held one stays.
func TestLiftWithHeldCallGivesDialTone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.talkingOut("100")
		r.keys.Press(hal.KeyHold)
		synctest.Wait()
		r.wantCalls("out-1:held*")
		r.hook.Lift()
		synctest.Wait()
		r.wantState(OffHook)
		r.wantPlaying(level(1000))
		r.keys.Type("5#")
		synctest.Wait()
		r.wantCalls("out-1:held", "out-2:calling*")
		r.hook.HangUp()
		synctest.Wait()
		r.wantCalls("out-1:held")
		r.wantState(Held)
	})
}

// failingIn is a microphone whose next read fails once when told.
type failingIn struct {
	*haltest.AudioIn
	mu   sync.Mutex
	fail bool
}

func (f *failingIn) ReadFrame(ctx context.Context, dst []int16) error {
	f.mu.Lock()
	fail := f.fail
	f.fail = false
	f.mu.Unlock()
	if fail {
		return errors.New("device gone")
	}
	return f.AudioIn.ReadFrame(ctx, dst)
}

// TestMicrophoneFailure: a microphone error ends the capture loops; the
// next call starts a new reader and has audio.
func TestMicrophoneFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mic *failingIn
		r := newRigWith(t, func(c *Config) {
			mic = &failingIn{AudioIn: c.Board.AudioIn.(*haltest.AudioIn)}
			c.Board.AudioIn = mic
		})
		c1 := r.talkingOut("1")
		if got := sent(t, c1); got != 100 {
			t.Fatalf("first call hears %d", got)
		}
		mic.mu.Lock()
		mic.fail = true
		mic.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		c2 := r.talkingOut("2") // the first is held meanwhile
		r.wantCalls("out-1:held", "out-2:talking*")
		if got := sent(t, c2); got != 100 {
			t.Fatalf("second call hears %d", got)
		}
		if err := r.p.Swap(context.Background()); err != nil {
			t.Fatal(err)
		}
		c1.media.mu.Lock()
		c1.media.last = nil
		c1.media.mu.Unlock()
		if got := sent(t, c1); got != 100 {
			t.Fatalf("first call, resumed, hears %d", got)
		}
	})
}
