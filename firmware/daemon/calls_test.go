package daemon

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/tools/pbx"
)

// These tests run several whole phones against one tools/pbx (two for the
// two-line tests) and check each call feature end to end, by what the
// phones' speakers play: every phone's microphone plays its own tone
// (A 700 Hz, B 1000 Hz, C 1300 Hz, D 1700 Hz, away from the US
// call-progress tones), so who hears whom is read off the audio.

const (
	hzA = 700
	hzB = 1000
	hzC = 1300
	hzD = 1700
	// hzWaiting is the US call-waiting tone (audio.tones: us).
	hzWaiting = 440
)

// office starts a PBX with users 1001..1004 and n phones on it (A, B,
// C, D in that order), each with its tone; mut, when set, changes phone
// i's config. It waits until all are registered.
func office(t *testing.T, n int, mut func(i int, c *config.Config)) (*pbx.Server, []*testPhone) {
	t.Helper()
	users := map[string]string{}
	for i := range 4 {
		u := fmt.Sprintf("100%d", i+1)
		users[u] = "pw" + u
	}
	p := startPBXWith(t, "test", users)
	hz := []float64{hzA, hzB, hzC, hzD}
	var phones []*testPhone
	for i := range n {
		u := fmt.Sprintf("100%d", i+1)
		phones = append(phones, startPhoneWith(t, p, u, "pw"+u, uint16(30060+200*i), hz[i], func(c *config.Config) {
			c.Audio.Tones = "us"
			if mut != nil {
				mut(i, c)
			}
		}))
	}
	waitFor(t, "every phone registered", 10*time.Second, func() bool {
		for _, tp := range phones {
			if !tp.registered() {
				return false
			}
		}
		return true
	})
	return p, phones
}

// call returns the phone's call whose far end is user (in Remote or the
// identity's number), and whether there is one.
func (tp *testPhone) call(user string) (phone.CallStatus, bool) {
	for _, c := range tp.d.Status().Phone.Calls {
		if strings.Contains(c.Remote, user) || c.Identity.Number == user {
			return c, true
		}
	}
	return phone.CallStatus{}, false
}

// callIn reports whether the phone has a call with user in state.
func (tp *testPhone) callIn(user, state string) bool {
	c, ok := tp.call(user)
	return ok && c.State == state
}

// calls describes the phone's calls, for failure messages.
func (tp *testPhone) calls() string {
	var b strings.Builder
	for _, c := range tp.d.Status().Phone.Calls {
		fmt.Fprintf(&b, "[%s line %d %s %s active=%v] ", c.ID, c.Line, c.Remote, c.State, c.Active)
	}
	return b.String()
}

// hearsAll reports whether the last 200 ms played contain every one of hz.
func (tp *testPhone) hearsAll(hz ...float64) bool {
	s := tp.out.Samples(1600)
	if len(s) < 1600 {
		return false
	}
	for _, f := range hz {
		if !tone.Contains(s, f, 8000) {
			return false
		}
	}
	return true
}

// hearsNone reports whether the last 200 ms played contain none of hz
// (silence, or other sounds).
func (tp *testPhone) hearsNone(hz ...float64) bool {
	s := tp.out.Samples(1600)
	for _, f := range hz {
		if len(s) == 1600 && tone.Contains(s, f, 8000) {
			return false
		}
	}
	return true
}

// beeped reports whether hz sounded in any 40 ms of the last 2 s played,
// even well under other audio: the call-waiting tone is a 300 ms beep
// laid over the call 6 dB under its -16 dBFS level, against the far end's
// tone at -10 dBFS, about 6 % of the power; a tone 260 Hz away leaks
// about 0.1 % into a 40 ms block.
func (tp *testPhone) beeped(hz float64) bool {
	s := tp.out.Samples(16000)
	for i := 0; i+320 <= len(s); i += 160 {
		b := s[i : i+320]
		var sq float64
		for _, v := range b {
			sq += float64(v) * float64(v)
		}
		if math.Sqrt(sq/320) > 100 && tone.Goertzel(b, hz, 8000) >= 0.02 {
			return true
		}
	}
	return false
}

// stays checks cond on every poll for d: what must not happen (a held
// party hearing the others) is looked for over a stretch of audio, not
// one window.
func stays(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(end) {
		if !cond() {
			t.Fatalf("not %s", what)
		}
		<-tick.C
	}
}

// connect has a call b and b answer it hands-free; it returns once both
// talk and hear each other.
func connect(t *testing.T, a, b *testPhone, aUser, bUser string, aHz, bHz float64) {
	t.Helper()
	ctx := context.Background()
	if err := a.d.Phone().Call(ctx, bUser); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bUser+" rings", 5*time.Second, func() bool { return b.callIn(aUser, "incoming") })
	in, _ := b.call(aUser)
	if err := b.d.Phone().AnswerCall(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aUser+" and "+bUser+" talking", 5*time.Second, func() bool {
		return a.callIn(bUser, "talking") && b.callIn(aUser, "talking")
	})
	waitFor(t, bUser+" hears "+aUser, 5*time.Second, func() bool { return b.hears(aHz) })
	waitFor(t, aUser+" hears "+bUser, 5*time.Second, func() bool { return a.hears(bHz) })
}

// hangupAll ends every call of the phones and puts them back on hook
// (a caller told busy stays in busy until then).
func hangupAll(t *testing.T, phones ...*testPhone) {
	t.Helper()
	ctx := context.Background()
	for _, tp := range phones {
		for _, c := range tp.d.Status().Phone.Calls {
			_ = tp.d.Phone().HangupCall(ctx, c.ID)
		}
		if tp.state() != "idle" {
			_ = tp.d.Phone().Hangup(ctx)
		}
	}
	waitFor(t, "no calls left", 10*time.Second, func() bool {
		for _, tp := range phones {
			if len(tp.d.Status().Phone.Calls) != 0 || len(tp.d.Status().Calls) != 0 || tp.state() != "idle" {
				return false
			}
		}
		return true
	})
}

// TestCallOnSecondLine: a call placed on line 1 goes out through line 1's
// PBX (line 0's does not know the number), and both phones show it on
// the line it is on.
func TestCallOnSecondLine(t *testing.T) {
	pa := startPBXWith(t, "a.test", map[string]string{"1001": "pw1001"})
	pb := startPBXWith(t, "b.test", map[string]string{"2001": "pw2001", "2002": "pw2002"})
	x := startLines(t, []config.Account{
		pbxAccount(pa, "1001", "pw1001", "a.test"),
		pbxAccount(pb, "2001", "pw2001", "b.test"),
	}, 31060, hzA, nil)
	y := startLines(t, []config.Account{pbxAccount(pb, "2002", "pw2002", "b.test")}, 31260, hzB, nil)
	waitFor(t, "registered", 10*time.Second, func() bool {
		st := x.d.Status()
		return st.Lines[0].Registration.State == "registered" && st.Lines[1].Registration.State == "registered" && y.registered()
	})
	ctx := context.Background()
	if err := x.d.Phone().CallOn(ctx, 1, "2002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2002 rings", 5*time.Second, func() bool { return y.callIn("2001", "incoming") })
	if c, _ := x.call("2002"); c.Line != 1 {
		t.Errorf("the caller shows the call on line %d, want 1: %s", c.Line, x.calls())
	}
	if st := x.d.Status(); len(st.Calls) != 1 || st.Calls[0].Line != 1 {
		t.Errorf("status calls %+v, want one on line 1", st.Calls)
	}
	in, _ := y.call("2001")
	if in.Identity.Number != "2001" || in.Line != 0 {
		t.Errorf("the callee shows %+v, want the caller's number 2001 (its identity) on its line 0", in)
	}
	if err := y.d.Phone().AnswerCall(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "x hears y", 5*time.Second, func() bool { return x.hears(hzB) })
	waitFor(t, "y hears x", 5*time.Second, func() bool { return y.hears(hzA) })
	hangupAll(t, x, y)

	// And a call to line 1's number shows line 1 at the phone.
	if err := y.d.Phone().Call(ctx, "2001"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "x rings on line 1", 5*time.Second, func() bool {
		c, ok := x.call("2002")
		return ok && c.State == "incoming" && c.Line == 1
	})
	hangupAll(t, x, y)
}

// TestCallWaitingHoldAndSwap: B talks with A; C calls B: B hears the
// call-waiting tone over A and sees C waiting; answering C holds A (A
// hears nothing of B or C); swapping puts C on hold and A back.
func TestCallWaitingHoldAndSwap(t *testing.T) {
	_, ph := office(t, 3, nil)
	a, b, c := ph[0], ph[1], ph[2]
	ctx := context.Background()
	connect(t, a, b, "1001", "1002", hzA, hzB)

	if b.beeped(hzWaiting) {
		t.Fatal("B hears the call-waiting tone with no call waiting")
	}
	if err := c.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "C waiting at B", 5*time.Second, func() bool { return b.callIn("1003", "waiting") })
	waitFor(t, "B hears the call-waiting tone", 5*time.Second, func() bool { return b.beeped(hzWaiting) })
	if !b.callIn("1001", "talking") || !a.hears(hzB) {
		t.Fatalf("the first call was disturbed by the waiting one: %s", b.calls())
	}

	cw, _ := b.call("1003")
	if err := b.d.Phone().AnswerCall(ctx, cw.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B talks with C, A held", 5*time.Second, func() bool {
		return b.callIn("1003", "talking") && b.callIn("1001", "held") && a.callIn("1002", "held_remote")
	})
	waitFor(t, "B hears C", 5*time.Second, func() bool { return b.hears(hzC) && !b.hears(hzA) })
	waitFor(t, "C hears B", 5*time.Second, func() bool { return c.hears(hzB) })
	waitFor(t, "A hears silence", 5*time.Second, func() bool { return a.hearsNone(hzB, hzC) })
	stays(t, "A (held) hearing nothing of B or C", 600*time.Millisecond, func() bool { return a.hearsNone(hzB, hzC) })

	if err := b.d.Phone().Swap(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B back with A, C held", 5*time.Second, func() bool {
		return b.callIn("1001", "talking") && b.callIn("1003", "held") && c.callIn("1002", "held_remote")
	})
	waitFor(t, "B hears A again", 5*time.Second, func() bool { return b.hears(hzA) && !b.hears(hzC) })
	waitFor(t, "A hears B again", 5*time.Second, func() bool { return a.hears(hzB) })
	waitFor(t, "C hears silence", 5*time.Second, func() bool { return c.hearsNone(hzA, hzB) })
	stays(t, "C (held) hearing nothing of A or B", 600*time.Millisecond, func() bool { return c.hearsNone(hzA, hzB) })
	hangupAll(t, a, b, c)
}

// TestCallWaitingRejectAndOff: a waiting call can be refused (the caller
// is told 486); with calls.call_waiting off a second caller gets 486 and
// the phone never shows the call.
func TestCallWaitingRejectAndOff(t *testing.T) {
	_, ph := office(t, 3, func(i int, c *config.Config) {
		if i == 2 {
			c.Calls.CallWaiting = false
		}
	})
	a, b, c := ph[0], ph[1], ph[2]
	ctx := context.Background()
	connect(t, a, b, "1001", "1002", hzA, hzB)
	if err := c.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "C waiting at B", 5*time.Second, func() bool { return b.callIn("1003", "waiting") })
	cw, _ := b.call("1003")
	if err := b.d.Phone().RejectCall(ctx, cw.ID, 486); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "C told 486", 5*time.Second, func() bool { return strings.HasPrefix(c.d.Status().Phone.Error, "486") })
	if !b.callIn("1001", "talking") || !b.hears(hzA) {
		t.Fatalf("rejecting the waiting call disturbed the first: %s", b.calls())
	}
	hangupAll(t, a, b, c)

	// C has call waiting off: B calling C while A talks to C is refused.
	connect(t, a, c, "1001", "1003", hzA, hzC)
	if err := b.d.Phone().Call(ctx, "1003"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B told 486", 5*time.Second, func() bool { return strings.HasPrefix(b.d.Status().Phone.Error, "486") })
	if _, ok := c.call("1002"); ok {
		t.Errorf("C shows B's call with call waiting off: %s", c.calls())
	}
	hangupAll(t, a, b, c)
}

// TestBlindTransfer: A talks with B; B transfers A to C (REFER); C rings,
// answers, and A and C hear each other; B is left with no call.
func TestBlindTransfer(t *testing.T) {
	_, ph := office(t, 3, nil)
	a, b, c := ph[0], ph[1], ph[2]
	ctx := context.Background()
	connect(t, a, b, "1001", "1002", hzA, hzB)
	if err := b.d.Phone().Transfer(ctx, "1003"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "C rings from A", 10*time.Second, func() bool { return c.callIn("1001", "incoming") })
	in, _ := c.call("1001")
	if err := c.d.Phone().AnswerCall(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A talks with C", 5*time.Second, func() bool { return a.callIn("1003", "talking") && c.callIn("1001", "talking") })
	waitFor(t, "B has no call", 5*time.Second, func() bool { return len(b.d.Status().Phone.Calls) == 0 && len(b.d.Status().Calls) == 0 })
	// B's call ends when it sends its BYE; A's when the BYE arrives.
	waitFor(t, "A's call with B ended", 5*time.Second, func() bool {
		_, ok := a.call("1002")
		return !ok
	})
	waitFor(t, "A hears C", 5*time.Second, func() bool { return a.hears(hzC) && !a.hears(hzB) })
	waitFor(t, "C hears A", 5*time.Second, func() bool { return c.hears(hzA) })
	waitFor(t, "B hears nothing", 5*time.Second, func() bool { return b.hearsNone(hzA, hzC) })
	stays(t, "B hearing nothing of A or C", 600*time.Millisecond, func() bool { return b.hearsNone(hzA, hzC) })
	hangupAll(t, a, b, c)
}

// TestAttendedTransfer: A talks with B; B holds A and calls C (the
// consult call; A hears nothing of it); B transfers: A and C talk (REFER
// with Replaces, C's call with B replaced by A's) and B has no call.
func TestAttendedTransfer(t *testing.T) {
	_, ph := office(t, 3, nil)
	a, b, c := ph[0], ph[1], ph[2]
	ctx := context.Background()
	connect(t, a, b, "1001", "1002", hzA, hzB)
	held, _ := b.call("1001")
	if err := b.d.Phone().HoldCall(ctx, held.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A held", 5*time.Second, func() bool { return a.callIn("1002", "held_remote") })
	// The held state shows when the re-INVITE is answered; the audio in
	// flight (and the last 200 ms the speaker played) takes a moment more.
	waitFor(t, "A hears nothing of B once held", 5*time.Second, func() bool { return a.hearsNone(hzB) })
	if err := b.d.Phone().CallOn(ctx, 0, "1003"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "C rings from B", 5*time.Second, func() bool { return c.callIn("1002", "incoming") })
	in, _ := c.call("1002")
	if err := c.d.Phone().AnswerCall(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B consults C", 5*time.Second, func() bool { return b.callIn("1003", "talking") && b.hears(hzC) })
	stays(t, "A (held) hearing nothing of the consultation", 600*time.Millisecond, func() bool { return a.hearsNone(hzB, hzC) })

	if err := b.d.Phone().Transfer(ctx, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A talks with C", 10*time.Second, func() bool { return a.callIn("1003", "talking") && c.callIn("1001", "talking") })
	waitFor(t, "B has no call", 5*time.Second, func() bool { return len(b.d.Status().Phone.Calls) == 0 && len(b.d.Status().Calls) == 0 })
	// The replaced calls end as their BYEs arrive.
	waitFor(t, "one call each at A and C", 5*time.Second, func() bool {
		return len(a.d.Status().Phone.Calls) == 1 && len(c.d.Status().Phone.Calls) == 1
	})
	waitFor(t, "A hears C", 5*time.Second, func() bool { return a.hears(hzC) && !a.hears(hzB) })
	waitFor(t, "C hears A", 5*time.Second, func() bool { return c.hears(hzA) && !c.hears(hzB) })
	hangupAll(t, a, b, c)
}

// TestConference: B talks with A, holds A, calls C, and joins both: each
// of the three hears the other two.
func TestConference(t *testing.T) {
	_, ph := office(t, 3, nil)
	a, b, c := ph[0], ph[1], ph[2]
	ctx := context.Background()
	connect(t, a, b, "1001", "1002", hzA, hzB)
	held, _ := b.call("1001")
	if err := b.d.Phone().HoldCall(ctx, held.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.d.Phone().CallOn(ctx, 0, "1003"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "C rings", 5*time.Second, func() bool { return c.callIn("1002", "incoming") })
	in, _ := c.call("1002")
	if err := c.d.Phone().AnswerCall(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B talks with C", 5*time.Second, func() bool { return b.callIn("1003", "talking") })
	if err := b.d.Phone().Conference(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B in conference", 5*time.Second, func() bool { return b.d.Status().Phone.Conference })
	waitFor(t, "A hears B and C", 5*time.Second, func() bool { return a.hearsAll(hzB, hzC) })
	waitFor(t, "C hears A and B", 5*time.Second, func() bool { return c.hearsAll(hzA, hzB) })
	waitFor(t, "B hears A and C", 5*time.Second, func() bool { return b.hearsAll(hzA, hzC) })
	if a.hears(hzA) || c.hears(hzC) || b.hears(hzB) {
		t.Error("a party hears itself in the conference mix")
	}
	hangupAll(t, a, b, c)
}

// TestDND: a line in do-not-disturb refuses calls with its dnd_code
// without ringing; turned off at run time, calls ring again.
func TestDND(t *testing.T) {
	_, ph := office(t, 3, func(i int, c *config.Config) {
		switch i {
		case 1:
			c.Accounts[0].DND, c.Accounts[0].DNDCode = true, 480
		case 2:
			c.Accounts[0].DND = true // dnd_code 486
		}
	})
	a, b, c := ph[0], ph[1], ph[2]
	ctx := context.Background()
	for _, tc := range []struct {
		callee *testPhone
		user   string
		code   string
	}{{b, "1002", "480"}, {c, "1003", "486"}} {
		if err := a.d.Phone().Call(ctx, tc.user); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "A told "+tc.code, 5*time.Second, func() bool { return strings.HasPrefix(a.d.Status().Phone.Error, tc.code) })
		if n := len(tc.callee.d.Status().Phone.Calls); n != 0 || tc.callee.d.Status().Phone.State == "ringing" {
			t.Errorf("%s rang in DND: %s", tc.user, tc.callee.calls())
		}
		hangupAll(t, a)
		waitFor(t, "A idle", 10*time.Second, func() bool { return a.state() == "idle" })
	}
	if st := b.d.Status().Phone.Lines; len(st) != 1 || !st[0].DND || st[0].DNDCode != 480 {
		t.Errorf("B's line status %+v, want DND 480", st)
	}
	if err := b.d.Phone().SetLine(ctx, 0, phone.LineSettings{}); err != nil {
		t.Fatal(err)
	}
	if err := a.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B rings with DND off", 5*time.Second, func() bool { return b.callIn("1001", "incoming") })
	hangupAll(t, a, b)
}

// TestForward: forward always, on busy and on no answer each bring the
// caller to the target (302 with the target as Contact), who hears the
// caller.
func TestForward(t *testing.T) {
	_, ph := office(t, 4, func(i int, c *config.Config) {
		if i == 1 {
			c.Accounts[0].ForwardNoAnswer = "1003"
			c.Accounts[0].ForwardNoAnswerAfter = 2 * time.Second
			c.Accounts[0].ForwardBusy = "1003"
			// Busy at the cap: the UA lets the call beyond it reach the
			// phone, which forwards it (rather than the UA's bare 486).
			c.Calls.MaxCalls = 1
		}
	})
	a, b, c, d := ph[0], ph[1], ph[2], ph[3]
	ctx := context.Background()
	reachC := func(what string) {
		t.Helper()
		waitFor(t, what+": C rings from A", 10*time.Second, func() bool { return c.callIn("1001", "incoming") })
		in, _ := c.call("1001")
		if err := c.d.Phone().AnswerCall(ctx, in.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, what+": A hears C", 5*time.Second, func() bool { return a.hears(hzC) })
		waitFor(t, what+": C hears A", 5*time.Second, func() bool { return c.hears(hzA) })
		hangupAll(t, a, c)
	}

	// No answer: B rings for 2 s, then A is sent to C.
	if err := a.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B rings", 5*time.Second, func() bool { return b.callIn("1001", "incoming") })
	reachC("no answer")
	waitFor(t, "B no longer rings", 5*time.Second, func() bool { return len(b.d.Status().Phone.Calls) == 0 })

	// Busy: B talks with D (max_calls 1); A is sent to C.
	connect(t, d, b, "1004", "1002", hzD, hzB)
	if err := a.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	reachC("busy")
	if !b.callIn("1004", "talking") {
		t.Errorf("B's call was disturbed: %s", b.calls())
	}
	hangupAll(t, b, d)

	// Always, set at run time.
	if err := b.d.Phone().SetLine(ctx, 0, phone.LineSettings{Forward: phone.Forward{Always: "1003"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	reachC("always")
	if n := len(b.d.Status().Phone.Calls); n != 0 {
		t.Errorf("B shows %d calls with forward always", n)
	}
	// B's history: each forwarded call from A, with where it went (and
	// D's answered call).
	waitFor(t, "B's history", 5*time.Second, func() bool { return len(b.history()) == 4 })
	fwd := 0
	for _, e := range b.history() {
		if e.Kind == "forwarded" {
			fwd++
			if !strings.Contains(e.Remote, "1001") || !strings.Contains(e.ForwardedTo, "1003") {
				t.Errorf("forwarded entry %+v, want from 1001 to 1003", e)
			}
		}
	}
	if fwd != 3 {
		t.Errorf("B's history %+v: want 3 forwarded calls", b.history())
	}
}

// history is the phone's call history (the daemon's store), oldest
// first.
func (tp *testPhone) history() []phone.HistoryEntry {
	var out []phone.HistoryEntry
	for _, e := range tp.d.store.history.List("", 0) {
		out = append([]phone.HistoryEntry{e.HistoryEntry}, out...)
	}
	return out
}

// TestHistory: an answered call is "placed" at the caller and "received"
// at the callee, with its line and talk time; a call the caller gives up
// on is "missed" at the callee (and counted); a refused one "rejected".
func TestHistory(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001", "1002": "pw1002"})
	dir := t.TempDir()
	withFile := func(name string) func(*config.Config) {
		return func(c *config.Config) { c.History.File = filepath.Join(dir, name) }
	}
	a := startPhoneWith(t, p, "1001", "pw1001", 32060, hzA, withFile("a.json"))
	b := startPhoneWith(t, p, "1002", "pw1002", 32260, hzB, withFile("b.json"))
	waitFor(t, "registered", 10*time.Second, func() bool { return a.registered() && b.registered() })
	ctx := context.Background()

	connect(t, a, b, "1001", "1002", hzA, hzB)
	hangupAll(t, a, b)
	if err := a.d.Phone().Call(ctx, "1002"); err != nil { // missed
		t.Fatal(err)
	}
	waitFor(t, "B rings", 5*time.Second, func() bool { return b.callIn("1001", "incoming") })
	hangupAll(t, a)
	waitFor(t, "B idle", 5*time.Second, func() bool { return len(b.d.Status().Phone.Calls) == 0 })
	if err := a.d.Phone().Call(ctx, "1002"); err != nil { // rejected
		t.Fatal(err)
	}
	waitFor(t, "B rings", 5*time.Second, func() bool { return b.callIn("1001", "incoming") })
	in, _ := b.call("1001")
	if err := b.d.Phone().RejectCall(ctx, in.ID, 0); err != nil {
		t.Fatal(err)
	}
	hangupAll(t, a, b)

	waitFor(t, "three entries each", 5*time.Second, func() bool { return len(a.history()) == 3 && len(b.history()) == 3 })
	ea, eb := a.history(), b.history()
	for i, want := range []string{"placed", "placed", "placed"} {
		if ea[i].Kind != want || !strings.Contains(ea[i].Remote, "1002") || ea[i].Line != 0 {
			t.Errorf("A's entry %d: %+v, want %s to 1002 on line 0", i, ea[i], want)
		}
	}
	for i, want := range []string{"received", "missed", "rejected"} {
		if eb[i].Kind != want || !strings.Contains(eb[i].Remote, "1001") {
			t.Errorf("B's entry %d: %+v, want %s from 1001", i, eb[i], want)
		}
	}
	if ea[0].Duration <= 0 || eb[0].Duration <= 0 || eb[1].Duration != 0 {
		t.Errorf("durations: placed %v, received %v, missed %v", ea[0].Duration, eb[0].Duration, eb[1].Duration)
	}
	if n := b.d.Status().Phone.MissedCalls; n != 1 {
		t.Errorf("B's missed calls %d, want 1", n)
	}
}
