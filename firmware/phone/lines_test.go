package phone

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
)

// TestDND: do-not-disturb refuses calls on its line with its code and
// logs them rejected; the DND key toggles line 0; other lines ring.
func TestDND(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &memHistory{}
		r, _, _ := twoLines(t, func(c *Config) {
			c.History = h
			c.Settings = []LineSettings{{}, {DND: true, DNDCode: 480}}
		})
		ctx := context.Background()
		c1 := incoming("in-1", 1)
		r.p.CallEvent(CallEvent{Call: c1, State: CallIncoming, Line: 1})
		synctest.Wait()
		wantActions(t, c1.fakeCall, "reject 480")
		r.wantState(Idle)

		r.keys.Press(hal.KeyDND)
		synctest.Wait()
		if st := r.p.Status(); !st.Lines[0].DND || !st.Lines[1].DND {
			t.Fatalf("lines %+v", st.Lines)
		}
		c2 := incoming("in-2", 1)
		r.p.CallEvent(CallEvent{Call: c2, State: CallIncoming, Line: 0})
		synctest.Wait()
		wantActions(t, c2.fakeCall, "reject 486")

		if err := r.p.SetLine(ctx, 1, LineSettings{}); err != nil {
			t.Fatal(err)
		}
		c3 := incoming("in-3", 1)
		r.p.CallEvent(CallEvent{Call: c3, State: CallIncoming, Line: 1})
		synctest.Wait()
		r.wantState(Ringing)
		e := h.entries()
		if len(e) != 2 || e[0].Kind != KindRejected || e[0].Code != 480 || e[0].Line != 1 || e[1].Code != 486 || e[1].Line != 0 {
			t.Fatalf("history %+v", e)
		}
		if st := r.p.Status(); st.MissedCalls != 0 {
			t.Fatalf("DND refusals counted missed: %d", st.MissedCalls)
		}

		for _, bad := range []struct {
			line int
			s    LineSettings
			want error
		}{
			{0, LineSettings{DNDCode: 404}, ErrBadSettings},
			{0, LineSettings{Forward: Forward{NoAnswerAfter: -time.Second}}, ErrBadSettings},
			{2, LineSettings{}, ErrNoLine},
		} {
			if err := r.p.SetLine(ctx, bad.line, bad.s); !errors.Is(err, bad.want) {
				t.Errorf("SetLine(%d, %+v) = %v, want %v", bad.line, bad.s, err, bad.want)
			}
		}
		if _, err := New(Config{Board: r.board, Line: r.line, Tones: fakeTones{}, Settings: []LineSettings{{DNDCode: 1}}}); !errors.Is(err, ErrBadSettings) {
			t.Fatalf("New with a bad DND code: %v", err)
		}
	})
}

// TestForward: always forwards at once; busy forwards when the phone
// cannot take the call; no-answer forwards after the ring time; each is
// logged with its target. A call that cannot be redirected is refused.
func TestForward(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &memHistory{}
		r := newRigWith(t, func(c *Config) {
			c.History = h
			c.NoCallWaiting = true
			c.Settings = []LineSettings{{Forward: Forward{Busy: "busy@pbx", NoAnswer: "vm@pbx"}}}
		})
		ctx := context.Background()

		// No answer: 20 s by default.
		c1 := incoming("in-1", 1)
		r.p.CallEvent(CallEvent{Call: c1, State: CallIncoming})
		synctest.Wait()
		time.Sleep(19 * time.Second)
		wantActions(t, c1.fakeCall)
		r.wantState(Ringing)
		time.Sleep(2 * time.Second)
		wantActions(t, c1.fakeCall, "redirect vm@pbx")
		r.wantState(Idle)
		if r.board.Ringer.(*haltest.Ringer).Ringing() {
			t.Fatal("still ringing after the forward")
		}

		// Answered in time: no forward.
		c2 := incoming("in-2", 1)
		r.p.CallEvent(CallEvent{Call: c2, State: CallIncoming})
		synctest.Wait()
		time.Sleep(5 * time.Second)
		r.hook.Lift()
		time.Sleep(30 * time.Second)
		wantActions(t, c2.fakeCall, "answer")

		// Busy.
		c3 := incoming("in-3", 1)
		r.p.CallEvent(CallEvent{Call: c3, State: CallIncoming})
		synctest.Wait()
		wantActions(t, c3.fakeCall, "redirect busy@pbx")

		// Always, even while idle.
		r.hook.HangUp()
		synctest.Wait()
		if err := r.p.SetLine(ctx, 0, LineSettings{Forward: Forward{Always: "900", NoAnswerAfter: time.Second}}); err != nil {
			t.Fatal(err)
		}
		c4 := incoming("in-4", 1)
		r.p.CallEvent(CallEvent{Call: c4, State: CallIncoming})
		synctest.Wait()
		wantActions(t, c4.fakeCall, "redirect 900")
		plain := &fakeCall{id: "in-5", remote: "sip:5@pbx", media: &fakeMedia{}}
		r.p.CallEvent(CallEvent{Call: plain, State: CallIncoming})
		synctest.Wait()
		wantActions(t, plain, "reject 486")
		r.wantState(Idle)

		var got []string
		for _, e := range h.entries() {
			got = append(got, fmt.Sprintf("%s:%s:%s:%d", e.Remote, e.Kind, e.ForwardedTo, e.Code))
		}
		want := "[sip:in-1@pbx:forwarded:vm@pbx:302 sip:in-3@pbx:forwarded:busy@pbx:302 sip:in-2@pbx:received::0 sip:in-4@pbx:forwarded:900:302 sip:5@pbx:rejected::486]"
		if fmt.Sprint(got) != want {
			t.Fatalf("history\n%v\nwant\n%v", got, want)
		}
	})
}

// fakeDir is a phonebook.
type fakeDir struct{}

func (fakeDir) Lookup(n string) (string, bool) {
	if n == "sip:in-1@pbx" || n == "1002" {
		return "Alice", true
	}
	return "", false
}

func (fakeDir) SpeedDial(k rune) (string, bool) {
	if k == '2' {
		return "1002", true
	}
	return "", false
}

// TestHistory: placed, received, missed and rejected calls, with line,
// remote, name, start and talk time; the missed count until the user
// looks (the history key, ClearMissed), and the message LED meanwhile.
func TestHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &memHistory{}
		r := newRigWith(t, func(c *Config) { c.History = h; c.Directory = fakeDir{} })
		ctx := context.Background()
		ind := r.board.Indicator.(*haltest.Indicator)
		start := time.Now()

		out := r.talkingOut("1002")
		if c := r.call("out-1"); c.Identity.Name != "Alice" || c.Identity.URI != "1002" {
			t.Fatalf("outgoing identity %+v", c.Identity)
		}
		time.Sleep(30 * time.Second)
		if err := r.p.Hangup(ctx); err != nil {
			t.Fatal(err)
		}

		in := incoming("in-1", 1)
		r.p.CallEvent(CallEvent{Call: in, State: CallIncoming})
		synctest.Wait()
		if c := r.call("in-1"); c.Identity.Name != "Alice" {
			t.Fatalf("caller not named from the directory: %+v", c.Identity)
		}
		r.p.CallEvent(CallEvent{Call: in, State: CallEnded, Code: 487, Reason: "Request Terminated"})
		synctest.Wait()
		if st := r.p.Status(); st.MissedCalls != 1 || ind.Get(hal.LEDMessage) != hal.On { // missed calls only: steady
			t.Fatalf("missed %d, message LED %v", st.MissedCalls, ind.Get(hal.LEDMessage))
		}

		named := incoming("in-2", 1)
		named.ident = Identity{Name: "Bob", Number: "1003"}
		r.p.CallEvent(CallEvent{Call: named, State: CallIncoming})
		synctest.Wait()
		r.wantState(Ringing)
		if err := r.p.Hangup(ctx); err != nil { // declines the ringing call
			t.Fatal(err)
		}
		wantActions(t, named.fakeCall, "reject 603")

		in3 := incoming("in-3", 1)
		r.p.CallEvent(CallEvent{Call: in3, State: CallIncoming})
		synctest.Wait()
		r.hook.Lift()
		synctest.Wait()
		time.Sleep(10 * time.Second)
		r.p.CallEvent(CallEvent{Call: in3, State: CallEnded})
		synctest.Wait()
		r.hook.HangUp()
		synctest.Wait()

		e := h.entries()
		var got []string
		for _, x := range e {
			got = append(got, fmt.Sprintf("%s %s %q %v %d", x.Kind, x.Remote, x.Name, x.Duration, x.Code))
		}
		want := `[placed 1002 "Alice" 30s 0 missed sip:in-1@pbx "Alice" 0s 487 rejected sip:in-2@pbx "Bob" 0s 603 received sip:in-3@pbx "" 10s 0]`
		if fmt.Sprint(got) != want {
			t.Fatalf("history\n%v\nwant\n%v", got, want)
		}
		if !e[0].Start.Equal(start) || e[0].Line != 0 {
			t.Fatalf("first entry %+v, start %v", e[0], start)
		}
		wantActions(t, out, "hangup")

		r.keys.Press(hal.KeyHistory)
		synctest.Wait()
		if st := r.p.Status(); st.MissedCalls != 0 || ind.Get(hal.LEDMessage) != hal.Off {
			t.Fatalf("after the history key: missed %d, LED %v", st.MissedCalls, ind.Get(hal.LEDMessage))
		}
		r.p.CallEvent(CallEvent{Call: incoming("in-4", 1), State: CallIncoming})
		synctest.Wait()
		r.p.CallEvent(CallEvent{Call: incoming("in-4", 1), State: CallEnded})
		synctest.Wait()
		if err := r.p.ClearMissed(ctx); err != nil || r.p.Status().MissedCalls != 0 {
			t.Fatalf("ClearMissed: %v, missed %d", err, r.p.Status().MissedCalls)
		}
	})
}

// TestSpeedDial: a long press of a digit, idle or off hook, dials its
// speed-dial number; the digit the press typed is taken back.
func TestSpeedDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRigWith(t, func(c *Config) { c.Directory = fakeDir{} })
		long := func(k hal.Key) {
			r.keys.Send(hal.KeyEvent{Key: k, Down: true})
			r.keys.Send(hal.KeyEvent{Key: k, Down: true, Long: true})
			r.keys.Send(hal.KeyEvent{Key: k})
			synctest.Wait()
		}
		long('2')
		r.wantState(Calling)
		if d := r.line.Dials(); fmt.Sprint(d) != "[1002]" {
			t.Fatalf("dials %v", d)
		}
		if st := r.p.Status(); !st.Speaker || st.Remote != "1002" {
			t.Fatalf("status %+v", st)
		}
		r.keys.Press(hal.KeySpeaker)
		r.hook.Lift()
		synctest.Wait()
		long('2')
		r.wantState(Calling)
		r.hook.HangUp()
		r.hook.Lift()
		synctest.Wait()
		r.keys.Type("5")
		long('3') // no speed dial on 3; a number being dialled stays
		long('2') // after other digits: not a speed dial
		r.wantState(Dialing)
		if d := r.line.Dials(); fmt.Sprint(d) != "[1002 1002]" {
			t.Fatalf("dials %v", d)
		}
		if st := r.p.Status(); st.Digits != "532" {
			t.Fatalf("digits %q", st.Digits)
		}
	})
}

// TestHeadset: the headset key and SetRoute move the audio to the
// headset on a board that has one; the route shows in status; without
// a headset they do nothing.
func TestHeadset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r := newRig(t)
		r.keys.Press(hal.KeyHeadset)
		r.wantState(Idle)
		if err := r.p.SetRoute(ctx, RouteHeadset); !errors.Is(err, ErrState) {
			t.Fatalf("SetRoute(headset) without one: %v", err)
		}
		if err := r.p.SetRoute(ctx, "loud"); !errors.Is(err, ErrState) {
			t.Fatalf("SetRoute(loud): %v", err)
		}
		if err := r.p.SetRoute(ctx, RouteSpeaker); !errors.Is(err, ErrNoCall) {
			t.Fatalf("SetRoute(speaker) while idle: %v", err)
		}
		if st := r.p.Status(); st.Speaker || st.Route != "" {
			t.Fatalf("a refused SetRoute changed the status: %+v", st)
		}

		r = newRigWith(t, func(c *Config) { c.Board.Headset = true })
		codec := r.board.Codec.(*haltest.Codec)
		in := incoming("in-1", 5000)
		r.p.CallEvent(CallEvent{Call: in, State: CallIncoming})
		synctest.Wait()
		r.keys.Press(hal.KeyHeadset) // answers on the headset
		synctest.Wait()
		r.wantState(Talking)
		if rt, _, _ := codec.State(); rt != hal.RouteHeadset || r.p.Status().Route != RouteHeadset {
			t.Fatalf("codec route %v, status %q", rt, r.p.Status().Route)
		}
		if err := r.p.SetRoute(ctx, RouteSpeaker); err != nil {
			t.Fatal(err)
		}
		if rt, _, _ := codec.State(); rt != hal.RouteSpeaker || r.p.Status().Route != RouteSpeaker {
			t.Fatalf("codec route %v, status %q", rt, r.p.Status().Route)
		}
		if err := r.p.SetRoute(ctx, RouteHandset); !errors.Is(err, ErrState) {
			t.Fatalf("SetRoute(handset) on hook: %v", err)
		}
		r.hook.Lift()
		synctest.Wait()
		if r.p.Status().Route != RouteHandset {
			t.Fatalf("route %q after lifting", r.p.Status().Route)
		}
		if err := r.p.SetRoute(ctx, RouteHeadset); err != nil {
			t.Fatal(err)
		}
		r.hook.HangUp() // the call stays on the headset
		synctest.Wait()
		r.wantState(Talking)
		r.keys.Press(hal.KeyHeadset) // headset off, handset down: the call goes to the speaker
		synctest.Wait()
		r.wantState(Talking)
		if st := r.p.Status(); st.Route != RouteSpeaker || st.Headset {
			t.Fatalf("status %+v", st)
		}
		r.keys.Press(hal.KeySpeaker) // speaker off, nothing else: hang up
		synctest.Wait()
		r.wantState(Idle)
		wantActions(t, in.fakeCall, "answer", "hangup")
	})
}

// TestHeadsetFarHangupGoesIdle: a call on the headset that the far end
// ends leaves the phone idle, as a hands-free one does.
func TestHeadsetFarHangupGoesIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRigWith(t, func(c *Config) { c.Board.Headset = true })
		in := incoming("in-1", 5000)
		r.p.CallEvent(CallEvent{Call: in, State: CallIncoming})
		synctest.Wait()
		r.keys.Press(hal.KeyHeadset)
		synctest.Wait()
		r.wantState(Talking)
		r.p.CallEvent(CallEvent{Call: in, State: CallEnded})
		synctest.Wait()
		r.wantState(Idle)
		if st := r.p.Status(); st.Headset || st.Route != "" {
			t.Fatalf("status %+v", st)
		}
	})
}
