package phone

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
)

// level is a constant-value frame source, so a test can tell which
// source the speaker is playing.
type level int16

func (l level) NextFrame(dst []int16) {
	for i := range dst {
		dst[i] = int16(l)
	}
}

type fakeTones struct{}

func (fakeTones) Dial() hal.FrameSource        { return level(1000) }
func (fakeTones) Ringback() hal.FrameSource    { return level(2000) }
func (fakeTones) Busy() hal.FrameSource        { return level(3000) }
func (fakeTones) Congestion() hal.FrameSource  { return level(4000) }
func (fakeTones) CallWaiting() hal.FrameSource { return level(300) }

type fakeMedia struct {
	level
	mu     sync.Mutex
	runs   int
	frames int
	last   []int16 // the last frame the capture loop read (what the far end hears)
	hook   func()  // armed by OnNextAudio
}

func (m *fakeMedia) OnNextAudio(f func()) {
	m.mu.Lock()
	m.hook = f
	m.mu.Unlock()
}

// arrive plays a packet to be played arriving, as voip/media does: it
// runs the armed hook, once. It reports whether one was armed.
func (m *fakeMedia) arrive() bool {
	m.mu.Lock()
	f := m.hook
	m.hook = nil
	m.mu.Unlock()
	if f != nil {
		f()
	}
	return f != nil
}

func (m *fakeMedia) Run(ctx context.Context, in hal.AudioIn) error {
	m.mu.Lock()
	m.runs++
	m.mu.Unlock()
	buf := make([]int16, in.Format().FrameSamples())
	for {
		if err := in.ReadFrame(ctx, buf); err != nil {
			return err
		}
		m.mu.Lock()
		m.frames++
		m.last = append(m.last[:0], buf...)
		m.mu.Unlock()
	}
}

type fakeCall struct {
	id, remote string
	media      *fakeMedia
	mu         sync.Mutex
	actions    []string
}

func (c *fakeCall) act(a string) error {
	c.mu.Lock()
	c.actions = append(c.actions, a)
	c.mu.Unlock()
	return nil
}
func (c *fakeCall) ID() string              { return c.id }
func (c *fakeCall) Remote() string          { return c.remote }
func (c *fakeCall) Answer() error           { return c.act("answer") }
func (c *fakeCall) Reject(code int) error   { return c.act(fmt.Sprintf("reject %d", code)) }
func (c *fakeCall) Hangup() error           { return c.act("hangup") }
func (c *fakeCall) Hold() error             { return c.act("hold") }
func (c *fakeCall) Resume() error           { return c.act("resume") }
func (c *fakeCall) SendDTMF(d string) error { return c.act("dtmf " + d) }
func (c *fakeCall) Media() Media            { return c.media }
func (c *fakeCall) Actions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.actions...)
}

type fakeLine struct {
	prefix string // of the call IDs
	plain  bool   // calls without Transferer
	mu     sync.Mutex
	dials  []string
	calls  []*fakeCall
	fail   error
}

func (l *fakeLine) Dial(ctx context.Context, target string) (Call, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dials = append(l.dials, target)
	if l.fail != nil {
		return nil, l.fail
	}
	c := &fakeCall{id: fmt.Sprintf("%sout-%d", l.prefix, len(l.dials)), remote: target, media: &fakeMedia{level: 5000}}
	l.calls = append(l.calls, c)
	if l.plain {
		return c, nil
	}
	return &xcall{fakeCall: c}, nil
}

func (l *fakeLine) Dials() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.dials...)
}

func (l *fakeLine) last() *fakeCall {
	synctest.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[len(l.calls)-1]
}

type rig struct {
	t      *testing.T
	p      *Phone
	line   *fakeLine
	keys   *haltest.Keypad
	hook   *haltest.Hook
	out    *haltest.AudioOut
	board  *hal.Board
	cancel context.CancelFunc
	done   chan struct{}
}

func newRig(t *testing.T) *rig { return newRigWith(t, nil) }

// newRigWith is newRig with a Config changed by set.
func newRigWith(t *testing.T, set func(*Config)) *rig {
	board, kp, hk, _, out := haltest.NewBoard(level(100)) // the microphone hears 100
	line := &fakeLine{}
	cfg := Config{Board: board, Line: line, Tones: fakeTones{}}
	if set != nil {
		set(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, p: p, line: line, keys: kp, hook: hk, out: out, board: board, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); p.Run(ctx) }()
	t.Cleanup(r.stop)
	synctest.Wait()
	return r
}

func (r *rig) stop() {
	r.cancel()
	<-r.done
	r.board.Close()
}

func (r *rig) wantState(s State) {
	r.t.Helper()
	synctest.Wait()
	if got := r.p.Status().State; got != s.String() {
		r.t.Fatalf("state = %s, want %s", got, s)
	}
}

func (r *rig) wantPlaying(want hal.FrameSource) {
	r.t.Helper()
	synctest.Wait()
	got := r.out.Source()
	if !sameSource(got, want) {
		r.t.Fatalf("speaker plays %v, want %v", got, want)
	}
}

func TestLiftDialTimeoutSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.hook.Lift()
		r.wantState(OffHook)
		r.wantPlaying(level(1000))
		r.keys.Type("1002")
		r.wantState(Dialing)
		r.wantPlaying(nil)
		time.Sleep(3900 * time.Millisecond)
		synctest.Wait()
		if d := r.line.Dials(); len(d) != 0 {
			t.Fatalf("dialled %v before the 4 s pause", d)
		}
		time.Sleep(200 * time.Millisecond)
		r.wantState(Calling)
		if d := r.line.Dials(); len(d) != 1 || d[0] != "1002" {
			t.Fatalf("dials = %v, want [1002]", d)
		}
		r.wantPlaying(level(2000)) // local ringback
	})
}

func TestHashSendsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.hook.Lift()
		r.keys.Type("55#")
		r.wantState(Calling)
		if d := r.line.Dials(); len(d) != 1 || d[0] != "55" {
			t.Fatalf("dials = %v", d)
		}
	})
}

func TestEarlyMediaThenAnswerThenFarHangup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.hook.Lift()
		r.keys.Type("7#")
		c := r.line.last()
		r.p.CallEvent(CallEvent{Call: c, State: CallEarly})
		r.wantState(Early)
		r.wantPlaying(c.media) // early media replaces local ringback
		r.p.CallEvent(CallEvent{Call: c, State: CallAnswered})
		r.wantState(Talking)
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		c.media.mu.Lock()
		runs, frames := c.media.runs, c.media.frames
		c.media.mu.Unlock()
		if runs != 1 || frames < 5 {
			t.Fatalf("capture loop runs=%d frames=%d, want 1 run and frames flowing", runs, frames)
		}
		r.keys.Type("5")
		synctest.Wait()
		r.p.CallEvent(CallEvent{Call: c, State: CallEnded})
		r.wantState(Busy)
		r.wantPlaying(level(3000))
		r.hook.HangUp()
		r.wantState(Idle)
		if a := c.Actions(); len(a) != 1 || a[0] != "dtmf 5" {
			t.Fatalf("actions = %v, want [dtmf 5] (no hangup after the far end ended)", a)
		}
	})
}

func TestIncomingLiftAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		c := &fakeCall{id: "in-1", remote: "sip:1001@pbx", media: &fakeMedia{level: 5000}}
		r.p.CallEvent(CallEvent{Call: c, State: CallIncoming})
		r.wantState(Ringing)
		ringer := r.board.Ringer.(*haltest.Ringer)
		ind := r.board.Indicator.(*haltest.Indicator)
		if !ringer.Ringing() || ind.Get(hal.LEDLine) != hal.BlinkFast {
			t.Fatalf("ringing=%v line LED=%v, want ringing and fast blink", ringer.Ringing(), ind.Get(hal.LEDLine))
		}
		r.hook.Lift()
		r.wantState(Talking)
		if ringer.Ringing() {
			t.Fatal("still ringing after answer")
		}
		r.wantPlaying(c.media)
		r.hook.HangUp()
		r.wantState(Idle)
		if a := c.Actions(); len(a) != 2 || a[0] != "answer" || a[1] != "hangup" {
			t.Fatalf("actions = %v", a)
		}
	})
}

// TestSecondIncomingGetsBusy: without call waiting, a second call is
// refused 486 while the first rings.
func TestSecondIncomingGetsBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRigWith(t, func(c *Config) { c.NoCallWaiting = true })
		c1 := &fakeCall{id: "in-1", media: &fakeMedia{}}
		c2 := &fakeCall{id: "in-2", media: &fakeMedia{}}
		r.p.CallEvent(CallEvent{Call: c1, State: CallIncoming})
		r.p.CallEvent(CallEvent{Call: c2, State: CallIncoming})
		r.wantState(Ringing)
		if a := c2.Actions(); len(a) != 1 || a[0] != "reject 486" {
			t.Fatalf("second call actions = %v, want [reject 486]", a)
		}
	})
}

func TestFarEndCancelsWhileRinging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		c := &fakeCall{id: "in-1", media: &fakeMedia{}}
		r.p.CallEvent(CallEvent{Call: c, State: CallIncoming})
		r.wantState(Ringing)
		r.p.CallEvent(CallEvent{Call: c, State: CallEnded, Code: 487})
		r.wantState(Idle)
		if r.board.Ringer.(*haltest.Ringer).Ringing() {
			t.Fatal("ringer still on after CANCEL")
		}
	})
}

func TestBusyAndFailureTones(t *testing.T) {
	for _, tc := range []struct {
		code int
		tone level
	}{{486, 3000}, {404, 4000}, {503, 4000}} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				r.hook.Lift()
				r.keys.Type("9#")
				r.p.CallEvent(CallEvent{Call: r.line.last(), State: CallFailed, Code: tc.code, Reason: "x"})
				r.wantState(Busy)
				r.wantPlaying(tc.tone)
				if r.p.Status().Error == "" {
					t.Fatal("failure not reported in status")
				}
			})
		})
	}
}

func TestAPICallHoldResumeHangup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := context.Background()
		if err := r.p.Call(ctx, "echo"); err != nil {
			t.Fatal(err)
		}
		st := r.p.Status()
		if st.State != "calling" || !st.Speaker {
			t.Fatalf("status = %+v, want calling on speaker", st)
		}
		if err := r.p.Call(ctx, "other"); err == nil {
			t.Fatal("second call while calling accepted")
		}
		c := r.line.last()
		r.p.CallEvent(CallEvent{Call: c, State: CallAnswered})
		r.wantState(Talking)
		if err := r.p.Hold(ctx); err != nil {
			t.Fatal(err)
		}
		r.wantState(Held)
		r.wantPlaying(nil)
		if err := r.p.Hold(ctx); err == nil {
			t.Fatal("hold while held accepted")
		}
		if err := r.p.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		r.wantState(Talking)
		r.wantPlaying(c.media)
		if err := r.p.SendDTMF(ctx, "12"); err != nil {
			t.Fatal(err)
		}
		if err := r.p.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		r.wantState(Idle)
		want := []string{"hold", "resume", "dtmf 12", "hangup"}
		if fmt.Sprint(c.Actions()) != fmt.Sprint(want) {
			t.Fatalf("actions = %v, want %v", c.Actions(), want)
		}
	})
}

func TestHoldKeyAndRedialAndSpeakerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.keys.Press(hal.KeySpeaker)
		r.wantState(OffHook)
		r.keys.Type("123#")
		c := r.line.last()
		r.p.CallEvent(CallEvent{Call: c, State: CallAnswered})
		r.wantState(Talking)
		r.keys.Press(hal.KeyHold)
		r.wantState(Held)
		r.keys.Press(hal.KeyHold)
		r.wantState(Talking)
		r.keys.Press(hal.KeySpeaker) // speaker off with handset down: hang up
		r.wantState(Idle)
		r.keys.Press(hal.KeyRedial)
		r.wantState(Calling)
		if d := r.line.Dials(); len(d) != 2 || d[1] != "123" {
			t.Fatalf("dials = %v", d)
		}
	})
}

func TestDialFailureGivesCongestion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.line.fail = fmt.Errorf("no route")
		r.hook.Lift()
		r.keys.Type("1#")
		r.wantState(Busy)
		r.wantPlaying(level(4000))
		r.hook.HangUp()
		r.wantState(Idle)
	})
}

// TestCommandKinds: every command the public methods send has a name of
// its own, and a kind the loop does not know is refused without a state
// change.
func TestCommandKinds(t *testing.T) {
	seen := map[string]bool{}
	for k := cmdCall; k <= cmdKey; k++ {
		n := k.String()
		if n == "" || seen[n] || n == fmt.Sprintf("command(%d)", int(k)) {
			t.Errorf("kind %d: name %q", int(k), n)
		}
		seen[n] = true
	}
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		err := r.p.do(context.Background(), commandKind(99), "x")
		if err == nil || err.Error() != "phone: unknown command command(99)" {
			t.Fatalf("unknown kind: err %v", err)
		}
		r.wantState(Idle)
	})
}

// TestDialOrigin: a number entered on the keypad is dialled under
// OnKeypad's mark; one from the API (its call action, digits or the
// terminator it pressed, a redial it asked for) is not, so the line can
// keep service codes that wipe the phone to people at the phone.
func TestDialOrigin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		board, kp, hk, _, _ := haltest.NewBoard(nil)
		line := &originLine{}
		p, err := New(Config{Board: board, Line: line, Tones: fakeTones{}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); p.Run(ctx) }()
		defer func() { cancel(); <-done; board.Close() }()
		api := func(keys string) {
			for _, k := range keys {
				if err := p.Press(ctx, hal.Key(k)); err != nil {
					t.Fatal(err)
				}
			}
		}
		hangup := func() {
			if err := p.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}

		hk.Lift()
		kp.Type("**73738#") // at the phone
		synctest.Wait()
		hk.HangUp()
		hangup()
		_ = p.Call(ctx, "**73738") // the API's call action
		hangup()
		hk.Lift()
		synctest.Wait()
		api("**73738#") // the API's key presses
		synctest.Wait()
		hk.HangUp()
		hangup()
		hk.Lift()
		kp.Type("**7373") // typed at the phone, finished by the API
		synctest.Wait()
		api("8#")
		synctest.Wait()
		hk.HangUp()
		hangup()
		hk.Lift()
		kp.Type("**73738") // typed at the phone, sent by the dial timeout
		synctest.Wait()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		hk.HangUp()
		hangup()
		api(string(rune(hal.KeyRedial))) // the API redials it
		synctest.Wait()
		hangup()
		kp.Press(hal.KeyRedial) // redial at the phone
		synctest.Wait()

		want := "**73738:keypad **73738:remote **73738:remote **73738:remote **73738:keypad **73738:remote **73738:keypad"
		if got := strings.Join(line.Dials(), " "); got != want {
			t.Fatalf("dials %s\nwant  %s", got, want)
		}
	})
}

// originLine records each dial with whether it carried the keypad mark.
type originLine struct{ fakeLine }

func (l *originLine) Dial(ctx context.Context, target string) (Call, error) {
	o := ":remote"
	if DialledOnKeypad(ctx) {
		o = ":keypad"
	}
	return l.fakeLine.Dial(ctx, target+o)
}

// TestFarHangupHandsFreeGoesIdle: a call answered hands-free (the API's
// answer, the speaker key) that the far end ends leaves the phone idle
// with the speaker off, so the next call rings instead of getting 486.
func TestFarHangupHandsFreeGoesIdle(t *testing.T) {
	for _, how := range []string{"api", "speaker key"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				c := &fakeCall{id: "in-1", remote: "sip:1001@pbx", media: &fakeMedia{level: 5000}}
				r.p.CallEvent(CallEvent{Call: c, State: CallIncoming})
				r.wantState(Ringing)
				if how == "api" {
					if err := r.p.Answer(context.Background()); err != nil {
						t.Fatal(err)
					}
				} else {
					r.keys.Press(hal.KeySpeaker)
				}
				r.wantState(Talking)
				if !r.p.Status().Speaker {
					t.Fatal("answered hands-free but the speaker is off")
				}
				r.p.CallEvent(CallEvent{Call: c, State: CallEnded})
				r.wantState(Idle)
				r.wantPlaying(nil)
				st := r.p.Status()
				ind := r.board.Indicator.(*haltest.Indicator)
				if st.Speaker || ind.Get(hal.LEDSpeaker) != hal.Off || st.Remote != "" {
					t.Fatalf("status %+v speaker LED %v, want speaker off and no remote", st, ind.Get(hal.LEDSpeaker))
				}
				c2 := &fakeCall{id: "in-2", media: &fakeMedia{}}
				r.p.CallEvent(CallEvent{Call: c2, State: CallIncoming})
				r.wantState(Ringing)
				if a := c2.Actions(); len(a) != 0 {
					t.Fatalf("next call actions = %v, want it ringing untouched", a)
				}
				if a := c.Actions(); fmt.Sprint(a) != "[answer]" {
					t.Fatalf("first call actions = %v, want [answer] (no hangup after the far end ended)", a)
				}
			})
		})
	}
}

// TestFarHangupHandsetKeepsBusyTone: with the handset lifted, the far
// end's hang-up leaves the busy tone until the handset goes down.
func TestFarHangupHandsetKeepsBusyTone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		c := &fakeCall{id: "in-1", media: &fakeMedia{level: 5000}}
		r.p.CallEvent(CallEvent{Call: c, State: CallIncoming})
		r.wantState(Ringing)
		r.hook.Lift()
		r.wantState(Talking)
		r.p.CallEvent(CallEvent{Call: c, State: CallEnded})
		r.wantState(Busy)
		r.wantPlaying(level(3000))
		r.hook.HangUp()
		r.wantState(Idle)
	})
}

// TestMuteResetsPerCallVolumeStays: mute belongs to one call and is off
// when the next begins; the volume is the user's setting and stays.
func TestMuteResetsPerCallVolumeStays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		codec := r.board.Codec.(*haltest.Codec)
		ind := r.board.Indicator.(*haltest.Indicator)
		r.hook.Lift()
		r.keys.Type("7#")
		c := r.line.last()
		r.p.CallEvent(CallEvent{Call: c, State: CallAnswered})
		r.wantState(Talking)
		r.keys.Press(hal.KeyMute, hal.KeyVolUp)
		synctest.Wait()
		if st := r.p.Status(); !st.Muted || st.Volume != 80 {
			t.Fatalf("status %+v, want muted at volume 80", st)
		}
		r.p.CallEvent(CallEvent{Call: c, State: CallEnded})
		r.wantState(Busy)
		r.hook.HangUp()
		r.wantState(Idle)
		_, vol, muted := codec.State()
		if st := r.p.Status(); st.Muted || muted || ind.Get(hal.LEDMute) != hal.Off {
			t.Fatalf("after the call: status muted %v, codec muted %v, mute LED %v; want all off", st.Muted, muted, ind.Get(hal.LEDMute))
		}
		if st := r.p.Status(); st.Volume != 80 || vol != 80 {
			t.Fatalf("after the call: status volume %d, codec %d; want the user's 80 kept", st.Volume, vol)
		}

		// Muted, then the local user hangs up: the next call starts unmuted.
		r.hook.Lift()
		r.keys.Type("8#")
		c = r.line.last()
		r.p.CallEvent(CallEvent{Call: c, State: CallAnswered})
		r.wantState(Talking)
		r.keys.Press(hal.KeyMute)
		synctest.Wait()
		r.hook.HangUp()
		r.wantState(Idle)
		if _, _, muted := codec.State(); r.p.Status().Muted || muted {
			t.Fatal("mute kept after the local hang-up")
		}
	})
}

// TestHeldByFarEnd: a call the far end holds (its re-INVITE sendonly or
// inactive) shows held_remote, not talking; the speaker plays nothing (its
// clock stops) until what the far end sends (music on hold) arrives, then
// plays it, and the call returns to talking when the far end resumes.
// Our own hold on top of it shows held until we resume.
func TestHeldByFarEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := context.Background()
		if err := r.p.Call(ctx, "7"); err != nil {
			t.Fatal(err)
		}
		c := r.line.last()
		r.p.CallEvent(CallEvent{Call: c, State: CallAnswered})
		r.wantState(Talking)
		r.p.CallEvent(CallEvent{Call: c, State: CallHeld, RemoteHold: true})
		r.wantState(HeldRemote)
		if HeldRemote.String() != "held_remote" {
			t.Fatalf("HeldRemote is %q", HeldRemote)
		}
		r.wantPlaying(nil) // an inactive hold sends nothing
		if !c.media.arrive() {
			t.Fatal("no arrival hook armed while the far end holds")
		}
		r.wantPlaying(c.media) // music on hold
		if c.media.arrive() {
			t.Fatal("arrival hook armed again once the audio plays")
		}
		r.p.CallEvent(CallEvent{Call: c, State: CallAnswered}) // the far end resumes (re-INVITE sendrecv)
		r.wantState(Talking)
		r.wantPlaying(c.media)

		// Held again, and resumed before anything arrived: the hook is
		// taken back and the call plays.
		r.p.CallEvent(CallEvent{Call: c, State: CallHeld, RemoteHold: true})
		r.wantPlaying(nil)
		r.p.CallEvent(CallEvent{Call: c, State: CallResumed})
		r.wantState(Talking)
		r.wantPlaying(c.media)
		if c.media.arrive() {
			t.Fatal("arrival hook still armed after the far end resumed")
		}

		r.p.CallEvent(CallEvent{Call: c, State: CallHeld, RemoteHold: true})
		r.wantState(HeldRemote)
		if err := r.p.Hold(ctx); err != nil {
			t.Fatalf("hold while held by the far end: %v", err)
		}
		r.wantState(Held)
		r.p.CallEvent(CallEvent{Call: c, State: CallHeld, RemoteHold: true}) // our hold answered (inactive)
		r.wantState(Held)
		if err := r.p.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		r.wantState(HeldRemote) // the far end still holds
		r.p.CallEvent(CallEvent{Call: c, State: CallResumed})
		r.wantState(Talking)
		r.wantPlaying(c.media)
	})
}

// sameSource reports whether a and b are the same source: the same
// pointer, or equal values (a level).
func sameSource(a, b hal.FrameSource) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// TestFailedHandsFreeGoesIdle: a call placed hands-free (the API's call,
// the handset on its hook) that fails plays the busy or congestion tone
// for BusyHandsFree, then the phone is idle with the speaker off, so the
// next call rings. With the handset lifted the tone stays until it goes
// down, as before.
func TestFailedHandsFreeGoesIdle(t *testing.T) {
	for _, tc := range []struct {
		code int
		tone func(Tones) hal.FrameSource
	}{{486, Tones.Busy}, {404, Tones.Congestion}} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				if err := r.p.Call(context.Background(), "1002"); err != nil {
					t.Fatal(err)
				}
				r.wantState(Calling)
				c := r.line.last()
				r.p.CallEvent(CallEvent{Call: c, State: CallFailed, Code: tc.code, Reason: "no"})
				r.wantState(Busy)
				r.wantPlaying(tc.tone(r.p.cfg.Tones))
				time.Sleep(BusyHandsFree - time.Millisecond)
				synctest.Wait()
				if st := r.p.Status(); st.State != Busy.String() || !st.Speaker {
					t.Fatalf("before %v: %+v, want busy on the speaker", BusyHandsFree, st)
				}
				time.Sleep(time.Millisecond)
				r.wantState(Idle)
				r.wantPlaying(nil)
				if st := r.p.Status(); st.Speaker {
					t.Fatalf("speaker still on after the busy tone: %+v", st)
				}
				c2 := &fakeCall{id: "in-2", media: &fakeMedia{}}
				r.p.CallEvent(CallEvent{Call: c2, State: CallIncoming})
				r.wantState(Ringing)
			})
		})
	}
	t.Run("handset", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t)
			r.hook.Lift()
			r.wantState(OffHook)
			for _, d := range "1002#" {
				r.keys.Press(hal.Key(d))
			}
			r.wantState(Calling)
			r.p.CallEvent(CallEvent{Call: r.line.last(), State: CallFailed, Code: 486})
			r.wantState(Busy)
			time.Sleep(10 * BusyHandsFree)
			r.wantState(Busy)
		})
	})
}
