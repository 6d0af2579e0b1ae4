package phone

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
)

// pickLine is a line that can pick up by Replaces.
type pickLine struct {
	*fakeLine
	mu      sync.Mutex
	pickups []string // target|replaces
}

func (l *pickLine) Pickup(ctx context.Context, target, replaces string) (Call, error) {
	l.mu.Lock()
	l.pickups = append(l.pickups, target+"|"+replaces)
	l.mu.Unlock()
	c := &fakeCall{id: "pickup-1", remote: target, media: &fakeMedia{level: 6000}}
	return &xcall{fakeCall: c}, nil
}

func (l *pickLine) Pickups() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.pickups...)
}

func blfRig(t *testing.T, keys []BLFKey) (*rig, *pickLine, *fakeLine, *haltest.Indicator) {
	a, b := &pickLine{fakeLine: &fakeLine{prefix: "a-"}}, &fakeLine{prefix: "b-"}
	r := newRigWith(t, func(c *Config) {
		c.Lines = []Line{a, b}
		c.BLF = keys
	})
	return r, a, b, r.board.Indicator.(*haltest.Indicator)
}

func lampStates(st Status) string {
	s := ""
	for _, l := range st.Lamps {
		s += fmt.Sprintf("%s:%s:%s:%v ", l.Key, l.User, l.State, l.Pickup)
	}
	return s
}

// TestLamps: SetLamp drives the key's LED (off idle, fast blink ringing,
// on busy, off unknown) and Status.Lamps; every key watching the user
// changes, matched by user part against a SIP URI; bad states and
// unknown users change nothing.
func TestLamps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _, _, ind := blfRig(t, []BLFKey{
			{Key: hal.KeyBLF1, User: "201", Label: "Bob"},
			{Key: hal.KeyBLF3, Line: 1, User: "sip:carol@pbx.example.com"},
			{Key: hal.KeyBLF4, User: "201"},
		})
		ctx := context.Background()
		if got := lampStates(r.p.Status()); got != "blf1:201:unknown:false blf3:sip:carol@pbx.example.com:unknown:false blf4:201:unknown:false " {
			t.Fatalf("lamps at start: %s", got)
		}
		if err := r.p.SetLamp(ctx, 0, "sip:201@pbx.example.com", LampRinging, PickupInfo{Replaces: "c1;to-tag=a;from-tag=b"}); err != nil {
			t.Fatal(err)
		}
		if err := r.p.SetLamp(ctx, 1, "carol@PBX.example.com", LampBusy, PickupInfo{Replaces: "ignored;to-tag=a;from-tag=b"}); err != nil {
			t.Fatal(err)
		}
		st := r.p.Status()
		if got := lampStates(st); got != "blf1:201:ringing:true blf3:sip:carol@pbx.example.com:busy:false blf4:201:ringing:true " {
			t.Fatalf("lamps: %s", got)
		}
		if st.Lamps[0].Label != "Bob" || st.Lamps[1].Line != 1 {
			t.Fatalf("lamp status %+v", st.Lamps)
		}
		for led, want := range map[hal.LED]hal.Pattern{hal.LEDBLF1: hal.BlinkFast, hal.LEDBLF3: hal.On, hal.LEDBLF4: hal.BlinkFast, hal.LEDBLF2: hal.Off} {
			if got := ind.Get(led); got != want {
				t.Fatalf("%v = %v, want %v", led, got, want)
			}
		}
		if err := r.p.SetLamp(ctx, 0, "201", LampIdle, PickupInfo{}); err != nil {
			t.Fatal(err)
		}
		if ind.Get(hal.LEDBLF1) != hal.Off || r.p.Status().Lamps[0].State != LampIdle {
			t.Fatalf("idle lamp: %v %+v", ind.Get(hal.LEDBLF1), r.p.Status().Lamps[0])
		}
		if err := r.p.SetLamp(ctx, 0, "201", "on-the-phone", PickupInfo{}); !errors.Is(err, ErrBadSettings) {
			t.Fatalf("bad state: %v", err)
		}
		for _, u := range []string{"2011", "sip:2011@pbx.example.com", "", "20"} {
			if err := r.p.SetLamp(ctx, 0, u, LampBusy, PickupInfo{}); !errors.Is(err, ErrNoLamp) {
				t.Fatalf("SetLamp(%q) = %v, want ErrNoLamp", u, err)
			}
		}
		if got := lampStates(r.p.Status()); got != "blf1:201:idle:false blf3:sip:carol@pbx.example.com:busy:false blf4:201:idle:false " {
			t.Fatalf("bad input changed the lamps: %s", got)
		}
	})
}

// TestLampsPerLine: a report lights only the keys of the line whose
// subscription made it: the same user watched on two lines (two PBXs,
// or two accounts on one) has a lamp per line, and a user watched on
// no key of the line is ErrNoLamp, though another line's key watches it.
func TestLampsPerLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _, _, ind := blfRig(t, []BLFKey{
			{Key: hal.KeyBLF1, User: "201"},
			{Key: hal.KeyBLF2, Line: 1, User: "201"},
			{Key: hal.KeyBLF3, Line: 1, User: "202"},
		})
		ctx := context.Background()
		if err := r.p.SetLamp(ctx, 1, "sip:201@pbx2.example.com", LampBusy, PickupInfo{}); err != nil {
			t.Fatal(err)
		}
		if got := lampStates(r.p.Status()); got != "blf1:201:unknown:false blf2:201:busy:false blf3:202:unknown:false " {
			t.Fatalf("line 1's report on 201: %s", got)
		}
		if ind.Get(hal.LEDBLF1) != hal.Off || ind.Get(hal.LEDBLF2) != hal.On {
			t.Fatalf("LEDs: blf1 %v blf2 %v", ind.Get(hal.LEDBLF1), ind.Get(hal.LEDBLF2))
		}
		if err := r.p.SetLamp(ctx, 0, "201", LampRinging, PickupInfo{Replaces: "c;to-tag=a;from-tag=b"}); err != nil {
			t.Fatal(err)
		}
		if got := lampStates(r.p.Status()); got != "blf1:201:ringing:true blf2:201:busy:false blf3:202:unknown:false " {
			t.Fatalf("line 0's report on 201: %s", got)
		}
		for _, bad := range []struct {
			line int
			user string
		}{{0, "202"}, {2, "201"}, {-1, "201"}} {
			if err := r.p.SetLamp(ctx, bad.line, bad.user, LampIdle, PickupInfo{}); !errors.Is(err, ErrNoLamp) {
				t.Fatalf("SetLamp(line %d, %q) = %v, want ErrNoLamp", bad.line, bad.user, err)
			}
		}
		if got := lampStates(r.p.Status()); got != "blf1:201:ringing:true blf2:201:busy:false blf3:202:unknown:false " {
			t.Fatalf("reports for no key of their line changed the lamps: %s", got)
		}
	})
}

// TestBLFKeyCalls: an idle or busy lamp's key calls the user on the
// key's line, hands-free; a ringing one picks the call up by Replaces
// when the server identified it and the line can, with the pickup code
// when one is configured (it wins), else it calls the user.
func TestBLFKeyCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, a, b, _ := blfRig(t, []BLFKey{
			{Key: hal.KeyBLF1, User: "201"},
			{Key: hal.KeyBLF2, User: "202", PickupCode: "*8"},
			{Key: hal.KeyBLF3, Line: 1, User: "203"},
		})
		ctx := context.Background()
		hangup := func() {
			t.Helper()
			if err := r.p.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			r.wantState(Idle)
		}

		r.keys.Press(hal.KeyBLF1) // unknown: call
		r.wantState(Calling)
		if d := a.Dials(); fmt.Sprint(d) != "[201]" || !r.p.Status().Speaker {
			t.Fatalf("dials %v, status %+v", d, r.p.Status())
		}
		hangup()

		_ = r.p.SetLamp(ctx, 0, "201", LampRinging, PickupInfo{Replaces: "abc@h;to-tag=t1;from-tag=f1;early-only"})
		r.keys.Press(hal.KeyBLF1)
		r.wantState(Calling)
		if p := a.Pickups(); fmt.Sprint(p) != "[201|abc@h;to-tag=t1;from-tag=f1;early-only]" {
			t.Fatalf("pickups %v", p)
		}
		if st := r.p.Status(); st.CallID != "pickup-1" || len(a.Dials()) != 1 {
			t.Fatalf("pickup call not current: %+v, dials %v", st, a.Dials())
		}
		hangup()

		_ = r.p.SetLamp(ctx, 0, "202", LampRinging, PickupInfo{Replaces: "x;to-tag=t;from-tag=f"})
		r.keys.Press(hal.KeyBLF2)
		r.wantState(Calling)
		if d := a.Dials(); fmt.Sprint(d) != "[201 *8202]" || len(a.Pickups()) != 1 {
			t.Fatalf("pickup code: dials %v, pickups %v", d, a.Pickups())
		}
		hangup()

		// Line 1 cannot pick up by Replaces: the key calls the user.
		_ = r.p.SetLamp(ctx, 1, "203", LampRinging, PickupInfo{Replaces: "y;to-tag=t;from-tag=f"})
		if st := r.p.Status(); st.Lamps[2].Pickup {
			t.Fatalf("lamp offers a pickup its line cannot make: %+v", st.Lamps[2])
		}
		r.keys.Press(hal.KeyBLF3)
		r.wantState(Calling)
		if d := b.Dials(); fmt.Sprint(d) != "[203]" {
			t.Fatalf("line 1 dials %v", d)
		}
		// While a call is set up, lamp keys do nothing.
		r.keys.Press(hal.KeyBLF1)
		synctest.Wait()
		if len(a.Dials()) != 2 || len(a.Pickups()) != 1 {
			t.Fatalf("a lamp key placed a call during another's setup: %v %v", a.Dials(), a.Pickups())
		}
		// Once it is connected, a lamp key holds it and calls.
		c := b.last()
		r.p.CallEvent(CallEvent{Call: c, State: CallAnswered, Line: 1})
		r.wantState(Talking)
		_ = r.p.SetLamp(ctx, 0, "201", LampBusy, PickupInfo{})
		if err := r.p.Press(ctx, hal.KeyBLF1); err != nil {
			t.Fatal(err)
		}
		r.wantState(Calling)
		wantActions(t, c, "hold")
		if d := a.Dials(); fmt.Sprint(d) != "[201 *8202 201]" {
			t.Fatalf("dials %v", d)
		}
		// A key with no configuration does nothing.
		r.keys.Press(hal.KeyBLF8)
		synctest.Wait()
		if len(a.Dials()) != 3 || len(b.Dials()) != 1 {
			t.Fatal("an unconfigured lamp key placed a call")
		}
	})
}

// TestBLFKeyMarksKeypad: a lamp key pressed on the phone dials under
// OnKeypad; pressed through the API it does not.
func TestBLFKeyMarksKeypad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kl := &keypadLine{}
		r := newRigWith(t, func(c *Config) {
			c.Line = kl
			c.BLF = []BLFKey{{Key: hal.KeyBLF1, User: "201"}}
		})
		r.keys.Press(hal.KeyBLF1)
		r.wantState(Calling)
		if err := r.p.Hangup(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := r.p.Press(context.Background(), hal.KeyBLF1); err != nil {
			t.Fatal(err)
		}
		r.wantState(Calling)
		if got := kl.marks(); fmt.Sprint(got) != "[true false]" {
			t.Fatalf("keypad marks %v, want [true false]", got)
		}
	})
}

// keypadLine records whether each dial was marked OnKeypad.
type keypadLine struct {
	fakeLine
	mu sync.Mutex
	kp []bool
}

func (l *keypadLine) Dial(ctx context.Context, target string) (Call, error) {
	l.mu.Lock()
	l.kp = append(l.kp, DialledOnKeypad(ctx))
	l.mu.Unlock()
	return l.fakeLine.Dial(ctx, target)
}

func (l *keypadLine) marks() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.kp...)
}

// TestBLFConfig: bad busy lamp keys are refused by New.
func TestBLFConfig(t *testing.T) {
	board, _, _, _, _ := haltest.NewBoard(level(0))
	defer board.Close()
	for name, keys := range map[string][]BLFKey{
		"not a BLF key": {{Key: hal.KeyLine1, User: "201"}},
		"twice":         {{Key: hal.KeyBLF1, User: "201"}, {Key: hal.KeyBLF1, User: "202"}},
		"no line":       {{Key: hal.KeyBLF1, User: "201", Line: 1}},
		"no user":       {{Key: hal.KeyBLF1, User: " "}},
		"space in user": {{Key: hal.KeyBLF1, User: "2 01"}},
		"pickup code":   {{Key: hal.KeyBLF1, User: "201", PickupCode: "*8x"}},
	} {
		if _, err := New(Config{Board: board, Line: &fakeLine{}, Tones: fakeTones{}, BLF: keys}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSameUser(t *testing.T) {
	for _, c := range []struct {
		key, named string
		want       bool
	}{
		{"201", "201", true},
		{"201", "sip:201@pbx", true},
		{"201", "<sips:201@pbx;transport=tls>", true},
		{"sip:bob@PBX.example.com", "sip:bob@pbx.example.com", true},
		{"bob@pbx", "SIP:bob@pbx", true},
		{"Bob@pbx", "bob@pbx", false}, // the user part is case-sensitive
		{"201", "2010", false},
		{"201@a", "201@b", false},
		{"201", "", false},
		{"", "", false},
		{"201", "tel:201", false},
	} {
		if got := sameUser(c.key, c.named); got != c.want {
			t.Errorf("sameUser(%q, %q) = %v, want %v", c.key, c.named, got, c.want)
		}
	}
}

// FuzzSameUser: matching a key's user to the server's never panics, is
// symmetric, and matches a plain user to itself and to its SIP URI.
func FuzzSameUser(f *testing.F) {
	for _, s := range [][2]string{{"201", "sip:201@pbx"}, {"<sips:bob@h;x=1>", "bob"}, {"sip:", ":"}, {"@", "a@"}, {"", "sip:?"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if sameUser(a, b) != sameUser(b, a) {
			t.Fatalf("sameUser(%q, %q) is not symmetric", a, b)
		}
		plain := a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_+*#") == ""
		if plain && (!sameUser(a, a) || !sameUser(a, "sip:"+a+"@pbx.example.com")) {
			t.Fatalf("user %q does not match itself or its URI", a)
		}
	})
}

// TestSetBLF: keys applied while the phone runs. A key that stays keeps
// its lamp, a changed one starts unknown, a removed key's LED goes off
// and the key no longer calls; a key on a line the phone lacks, or a
// key used twice, is refused and changes nothing.
func TestSetBLF(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _, _, ind := blfRig(t, []BLFKey{
			{Key: hal.KeyBLF1, User: "201"},
			{Key: hal.KeyBLF2, User: "202"},
			{Key: hal.KeyBLF3, Line: 1, User: "203"},
		})
		ctx := context.Background()
		for _, u := range []struct {
			line int
			user string
		}{{0, "201"}, {0, "202"}, {1, "203"}} {
			if err := r.p.SetLamp(ctx, u.line, u.user, LampBusy, PickupInfo{}); err != nil {
				t.Fatal(err)
			}
		}
		before := lampStates(r.p.Status())
		for _, bad := range [][]BLFKey{
			{{Key: hal.KeyBLF1, Line: 2, User: "201"}},
			{{Key: hal.KeyBLF1, User: "201"}, {Key: hal.KeyBLF1, User: "202"}},
			{{Key: hal.KeyBLF1, User: "two words"}},
		} {
			if err := r.p.SetBLF(ctx, bad); err == nil {
				t.Errorf("SetBLF(%+v) accepted", bad)
			}
		}
		if got := lampStates(r.p.Status()); got != before {
			t.Fatalf("refused keys changed the lamps: %s, was %s", got, before)
		}
		// blf1 stays, blf2 now watches 204, blf3 goes, blf5 is new.
		if err := r.p.SetBLF(ctx, []BLFKey{
			{Key: hal.KeyBLF1, User: "201"},
			{Key: hal.KeyBLF2, User: "204"},
			{Key: hal.KeyBLF5, Line: 1, User: "205"},
		}); err != nil {
			t.Fatal(err)
		}
		if got := lampStates(r.p.Status()); got != "blf1:201:busy:false blf2:204:unknown:false blf5:205:unknown:false " {
			t.Fatalf("lamps after SetBLF: %s", got)
		}
		for led, want := range map[hal.LED]hal.Pattern{hal.LEDBLF1: hal.On, hal.LEDBLF2: hal.Off, hal.LEDBLF3: hal.Off, hal.LEDBLF5: hal.Off} {
			if got := ind.Get(led); got != want {
				t.Errorf("%v = %v, want %v", led, got, want)
			}
		}
		if err := r.p.SetLamp(ctx, 1, "203", LampBusy, PickupInfo{}); !errors.Is(err, ErrNoLamp) {
			t.Errorf("removed key's user still has a lamp: %v", err)
		}
		if err := r.p.SetLamp(ctx, 1, "205", LampRinging, PickupInfo{}); err != nil || ind.Get(hal.LEDBLF5) != hal.BlinkFast {
			t.Errorf("new key's lamp: %v %v", err, ind.Get(hal.LEDBLF5))
		}
	})
}
