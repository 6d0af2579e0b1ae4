package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/transport/v4/stdnet"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/sip"
)

// TestFarEndResumeIsCallResumed: a call that comes back from hold (by
// either side) reaches the phone as CallResumed, not as a second
// CallAnswered; a refresh of a talking call reaches it as nothing.
func TestFarEndResumeIsCallResumed(t *testing.T) {
	lc := &lineCall{}
	steps := []struct {
		name string
		ev   sip.CallEvent
		want phone.CallState
		sent bool
	}{
		{"ringing", sip.CallEvent{State: sip.StateRinging}, phone.CallRinging, true},
		{"answered", sip.CallEvent{State: sip.StateTalking}, phone.CallAnswered, true},
		{"refreshed", sip.CallEvent{State: sip.StateTalking}, 0, false},
		{"far end holds", sip.CallEvent{State: sip.StateTalking, RemoteHold: true}, phone.CallHeld, true},
		{"far end resumes", sip.CallEvent{State: sip.StateTalking}, phone.CallResumed, true},
		{"we hold", sip.CallEvent{State: sip.StateHeld, LocalHold: true}, phone.CallHeld, true},
		{"both hold", sip.CallEvent{State: sip.StateHeld, LocalHold: true, RemoteHold: true}, phone.CallHeld, true},
		{"we resume, far end still holds", sip.CallEvent{State: sip.StateTalking, RemoteHold: true}, phone.CallHeld, true},
		{"far end resumes too", sip.CallEvent{State: sip.StateTalking}, phone.CallResumed, true},
		{"ended", sip.CallEvent{State: sip.StateEnded}, phone.CallEnded, true},
	}
	for _, st := range steps {
		got, sent := lc.track(&st.ev)
		if sent != st.sent || (sent && got != st.want) {
			t.Errorf("%s: phone told %v (%v), want %v (%v)", st.name, got, sent, st.want, st.sent)
		}
	}
	failed := &lineCall{}
	if got, _ := failed.track(&sip.CallEvent{State: sip.StateEnded, Code: 486}); got != phone.CallFailed {
		t.Errorf("ended 486: %v, want failed", got)
	}
}

// TestStatusVolumeFromConfig: the phone's status starts at the volume
// audio.volume set on the codec, not at a built-in 70; 0 is silent.
func TestStatusVolumeFromConfig(t *testing.T) {
	for _, vol := range []int{35, 0, 100} {
		cfg := config.Default()
		cfg.API.Listen = ""
		cfg.NAT.UPnP = false
		cfg.Audio.Volume = vol
		b, _, _, _, _ := haltest.NewBoard(tone.Sine(440, 8000, -10))
		d, err := New(Options{Config: cfg, Board: b})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Status().Phone.Volume; got != vol {
			t.Errorf("audio.volume %d: status volume %d", vol, got)
		}
		d.closeParts()
	}
}

// TestLinesInConfigOrder: the enabled accounts are the lines, in order;
// a disabled one is skipped; each line has its own UA, and the status
// lists them with line 0's registration also at the top.
func TestLinesInConfigOrder(t *testing.T) {
	cfg := config.Default()
	cfg.API.Listen = ""
	cfg.NAT.UPnP = false
	mk := func(user string, enabled bool) config.Account {
		a := config.DefaultAccount()
		a.User, a.Domain, a.Enabled = user, "example.com", enabled
		a.Registrar = ""
		return a
	}
	cfg.Accounts = []config.Account{mk("off", false), mk("100", true), mk("200", true)}
	cfg.Accounts[2].DND, cfg.Accounts[2].DNDCode = true, 480
	cfg.Accounts[2].ForwardBusy = "300"
	cfg.Accounts[2].Mailbox = "*97"
	b, _, _, _, _ := haltest.NewBoard(tone.Sine(440, 8000, -10))
	d, err := New(Options{Config: cfg, Board: b})
	if err != nil {
		t.Fatal(err)
	}
	defer d.closeParts()
	if len(d.lines) != 2 || d.lines[0].name != "100@example.com" || d.lines[1].name != "200@example.com" {
		t.Fatalf("lines %+v", d.lines)
	}
	if d.lines[0].ua == d.lines[1].ua || d.lines[0].mp == d.lines[1].mp {
		t.Fatal("two lines share a UA or a mapper")
	}
	if s := lineSettings(cfg.Accounts[2]); !s.DND || s.DNDCode != 480 || s.Forward.Busy != "300" || s.Forward.NoAnswerAfter != 20*time.Second {
		t.Errorf("settings of line 1: %+v", s)
	}
	st := d.Status()
	if len(st.Lines) != 2 || st.Lines[1].Line != 1 || st.Lines[1].Account != "200@example.com" {
		t.Fatalf("status lines %+v", st.Lines)
	}
	if st.Registration != st.Lines[0].Registration {
		t.Errorf("top-level registration %+v is not line 0's %+v", st.Registration, st.Lines[0].Registration)
	}
	doc, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"lines":[{"line":0,"account":"100@example.com","registration":`, `"sip_transport":`, `{"line":1,"account":"200@example.com"`, `"mailbox":"*97"`} {
		if !strings.Contains(string(doc), key) {
			t.Errorf("status lacks %s: %s", key, doc)
		}
	}
}

// TestTwoLinesTwoDomains: one phone with two lines registered at two
// PBXs for two domains, each from its own SIP socket; a call to line 1's
// number rings the phone on line 1 (and the status says so), and is
// answered with audio both ways.
func TestTwoLinesTwoDomains(t *testing.T) {
	pa := startPBXWith(t, "a.test", map[string]string{"1001": "pw1001", "1002": "pw1002"})
	pb := startPBXWith(t, "b.test", map[string]string{"2001": "pw2001", "2002": "pw2002"})
	x := startLines(t, []config.Account{
		pbxAccount(pa, "1001", "pw1001", "a.test"),
		pbxAccount(pb, "2001", "pw2001", "b.test"),
	}, 27260, 700, nil)
	y := startLines(t, []config.Account{pbxAccount(pb, "2002", "pw2002", "b.test")}, 27460, 1300, nil)
	waitFor(t, "both lines and the caller registered", 10*time.Second, func() bool {
		st := x.d.Status()
		return len(st.Lines) == 2 && st.Lines[0].Registration.State == sip.RegRegistered &&
			st.Lines[1].Registration.State == sip.RegRegistered && y.registered()
	})
	st := x.d.Status()
	if st.Lines[0].Account != "1001@a.test" || st.Lines[1].Account != "2001@b.test" {
		t.Errorf("line accounts %q %q", st.Lines[0].Account, st.Lines[1].Account)
	}
	if st.Lines[0].ExternalSIP == "" || st.Lines[0].ExternalSIP == st.Lines[1].ExternalSIP {
		t.Errorf("the lines' SIP flows %q and %q: want two sockets", st.Lines[0].ExternalSIP, st.Lines[1].ExternalSIP)
	}
	if len(pa.Bindings("1001")) != 1 || len(pb.Bindings("2001")) != 1 {
		t.Fatalf("bindings: a.test %v, b.test %v", pa.Bindings("1001"), pb.Bindings("2001"))
	}
	if ca, cb := pa.Bindings("1001")[0].Contact, pb.Bindings("2001")[0].Contact; ca.Port == cb.Port {
		t.Errorf("both lines registered from port %d", ca.Port)
	}

	ctx := context.Background()
	if err := y.d.Phone().Call(ctx, "2001"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the phone rings on line 1", 5*time.Second, func() bool {
		st := x.d.Status()
		return x.state() == "ringing" && len(st.Calls) == 1 && st.Calls[0].Line == 1
	})
	if err := x.d.Phone().Answer(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "talking", 5*time.Second, func() bool { return x.state() == "talking" && y.state() == "talking" })
	waitFor(t, "the phone hears the caller", 5*time.Second, func() bool { return x.hears(1300) })
	waitFor(t, "the caller hears the phone", 5*time.Second, func() bool { return y.hears(700) })
	if err := y.d.Phone().Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the phone idle", 5*time.Second, func() bool { return x.state() == "idle" && len(x.d.Status().Calls) == 0 })
}

// TestHandsFreeFailedCallGoesIdle: a call placed hands-free (POST
// /api/call) that fails (603 declined, 404 unknown number) plays the busy
// (or reorder) tone briefly and goes back to idle with the speaker off,
// as a desk phone does, instead of staying busy with the speaker on until
// someone hangs up. (A lifted handset stays busy until it is hung up; see
// TestTwoPhonesCallWithAudioBothWays.)
func TestHandsFreeFailedCallGoesIdle(t *testing.T) {
	p := startPBX(t)
	a := startPhone(t, p, "1001", "pw1001", 27660, 440)
	b := startPhone(t, p, "1002", "pw1002", 27860, 1000)
	waitFor(t, "both registered", 10*time.Second, func() bool { return a.registered() && b.registered() })
	ctx := context.Background()
	for _, tc := range []struct {
		to, code string
		refuse   bool
	}{{"1002", "603", true}, {"1999", "404", false}} {
		if err := (actions{a.d}).Call(ctx, tc.to); err != nil { // POST /api/call
			t.Fatal(err)
		}
		if tc.refuse {
			waitFor(t, "B ringing", 5*time.Second, func() bool { return b.state() == "ringing" })
			if err := b.d.Phone().Hangup(ctx); err != nil { // reject: 603
				t.Fatal(err)
			}
		}
		waitFor(t, "A told "+tc.code, 5*time.Second, func() bool { return strings.HasPrefix(a.d.Status().Phone.Error, tc.code) })
		waitFor(t, "A idle with the speaker off after "+tc.code, 10*time.Second, func() bool {
			st := a.d.Status().Phone
			return st.State == "idle" && !st.Speaker
		})
	}
}

// TestRegistrarObservationsGoToTheirLine: each line's mapper remembers
// the SIP flow its UA holds (not its media), and what a line's registrar
// saw (rport, a rewritten Contact) moves that line's flow only; the port
// manager's events name it.
func TestRegistrarObservationsGoToTheirLine(t *testing.T) {
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	pm, err := portmgr.New(portmgr.Config{Net: n, SIPPorts: portmgr.Range{Min: 28060, Max: 28069},
		MediaPorts: portmgr.Range{Min: 28100, Max: 28199}, Strategies: []portmgr.Strategy{portmgr.StrategyLocal}})
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	d := &Daemon{pm: pm, log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	registrar := netip.MustParseAddrPort("127.0.0.1:5060")
	var lines []*uaLine
	for i := range 2 {
		l := &uaLine{d: d, n: i, mp: &lineMapper{pm: pm}, log: d.log}
		sipMp, err := l.mp.Map(ctx, portmgr.KindSIP, portmgr.UDP, registrar)
		if err != nil {
			t.Fatal(err)
		}
		media, err := l.mp.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.mp.Release(media); err != nil {
			t.Fatal(err)
		}
		if l.mp.sipMapping() != sipMp {
			t.Fatalf("line %d: mapper holds %v, want its SIP flow", i, l.mp.sipMapping())
		}
		lines = append(lines, l)
	}
	l0, l1 := lines[0].mp.sipMapping(), lines[1].mp.sipMapping()
	before := l1.External()
	seen := netip.MustParseAddrPort("203.0.113.5:40000")
	lines[0].registration(sip.RegStatus{State: sip.RegRegistered, Received: seen,
		ContactAddr: l0.External(), EchoedContact: netip.MustParseAddrPort("203.0.113.250:5060")})
	if l0.External() != seen || l1.External() != before {
		t.Fatalf("after line 0's registrar saw %v: line 0 %v, line 1 %v (was %v)", seen, l0.External(), l1.External(), before)
	}
	for range 2 {
		if ev := <-pm.Events(); ev.Mapping != l0 {
			t.Errorf("event %v names %p, want line 0's flow %p", ev.Kind, ev.Mapping, l0)
		}
	}
	if !pm.Report().ALGSeen {
		t.Error("the rewritten Contact was not reported as an ALG")
	}
	if err := lines[1].mp.Release(l1); err != nil {
		t.Fatal(err)
	}
	if lines[1].mp.sipMapping() != nil {
		t.Error("a released flow is still the line's")
	}
}

// registers records the Contact of every authenticated REGISTER a PBX
// receives.
type registers struct {
	mu       sync.Mutex
	contacts []string
}

func (r *registers) hook(req *siplib.Request, authed bool) pbx.Override {
	if authed {
		r.mu.Lock()
		if c := req.Contact(); c != nil {
			r.contacts = append(r.contacts, c.Address.String())
		} else {
			r.contacts = append(r.contacts, "")
		}
		r.mu.Unlock()
	}
	return pbx.Override{}
}

func (r *registers) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.contacts...)
}

// TestNATChangeReregistersItsLineOnly: when the port manager moves line
// 1's SIP flow (here: its registrar reported another source address),
// the event reaches every line's UA and line 1, whose flow it is,
// registers its new address; line 0 sends nothing.
func TestNATChangeReregistersItsLineOnly(t *testing.T) {
	var ra, rb registers
	pa := startPBXConfig(t, pbx.Config{Realm: "a.test", Users: map[string]string{"1001": "pw1001"}, OnRegister: ra.hook})
	pb := startPBXConfig(t, pbx.Config{Realm: "b.test", Users: map[string]string{"2001": "pw2001"}, OnRegister: rb.hook})
	x := startLines(t, []config.Account{
		pbxAccount(pa, "1001", "pw1001", "a.test"),
		pbxAccount(pb, "2001", "pw2001", "b.test"),
	}, 28260, hzA, nil)
	waitFor(t, "both lines registered", 10*time.Second, func() bool {
		st := x.d.Status()
		return st.Lines[0].Registration.State == sip.RegRegistered && st.Lines[1].Registration.State == sip.RegRegistered
	})
	before := len(ra.list())
	moved := netip.MustParseAddrPort("203.0.113.5:40000")
	x.d.pm.ObserveRportFor(x.d.lines[1].mp.sipMapping(), moved)
	waitFor(t, "line 1 registers its new address", 10*time.Second, func() bool {
		return slices.ContainsFunc(rb.list(), func(c string) bool { return strings.Contains(c, moved.String()) })
	})
	stays(t, "line 0 sending no REGISTER", 300*time.Millisecond, func() bool { return len(ra.list()) == before })
}

// TestLineThatCannotStartLeavesTheOthers: a line that cannot start (here
// no SIP port is left for it, a config Validate refuses, built in code)
// is reported in its status and the phone runs on the other lines; with
// no line at all that starts, Run fails.
func TestLineThatCannotStartLeavesTheOthers(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001", "1002": "pw1002", "1003": "pw1003"})
	cfg := config.Default()
	cfg.Accounts = []config.Account{pbxAccount(p, "1001", "pw1001", ""), pbxAccount(p, "1002", "pw1002", ""), pbxAccount(p, "1003", "pw1003", "")}
	cfg.Ports.SIP = config.PortRange{Min: 28460, Max: 28461}
	cfg.Ports.Media = config.PortRange{Min: 28500, Max: 28599}
	cfg.API.Listen = ""
	cfg.NAT.UPnP = false
	b, _, _, _, _ := haltest.NewBoard(tone.Sine(440, 8000, -10))
	d, err := New(Options{Config: cfg, Board: b})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, "two lines registered, the third failed", 10*time.Second, func() bool {
		st := d.Status()
		return st.Lines[0].Registration.State == sip.RegRegistered && st.Lines[1].Registration.State == sip.RegRegistered &&
			strings.Contains(st.Lines[2].Error, "exhausted")
	})
	if err := d.Phone().Call(ctx, "echo"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a call on line 0", 5*time.Second, func() bool { return d.Status().Phone.State == "talking" })

	// Alone, the line that cannot start fails Run.
	cfg2 := config.Default()
	cfg2.Accounts = []config.Account{pbxAccount(p, "1003", "pw1003", "")}
	cfg2.Ports = config.Ports{SIP: cfg.Ports.SIP, Media: config.PortRange{Min: 28600, Max: 28699}}
	cfg2.API.Listen = ""
	cfg2.NAT.UPnP = false
	b2, _, _, _, _ := haltest.NewBoard(tone.Sine(440, 8000, -10))
	d2, err := New(Options{Config: cfg2, Board: b2})
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Run(ctx); err == nil || !strings.Contains(err.Error(), "exhausted") {
		t.Errorf("Run of a phone whose only line cannot start: %v", err)
	}
}

// TestAttendedTransferNeedsAPhoneCall: TransferReplacing names another
// call of this phone; anything else is refused before a REFER is sent.
func TestAttendedTransferNeedsAPhoneCall(t *testing.T) {
	var lc lineCall
	if err := lc.TransferReplacing(nil); err == nil {
		t.Error("attended transfer to no call accepted")
	}
	if err := lc.TransferReplacing((*lineCall)(nil)); err == nil {
		t.Error("attended transfer to a nil call accepted")
	}
}

// TestMessageWaitingPerLine: line 0 subscribes to its message summary
// (subscribe_mwi) and line 1 does not; a NOTIFY in line 0's subscription
// and an unsolicited one to line 1 (as Asterisk sends) each show on their
// own line, and the voicemail key dials line 0's mailbox.
func TestMessageWaitingPerLine(t *testing.T) {
	pa := startPBXWith(t, "a.test", map[string]string{"1001": "pw1001"})
	pb := startPBXWith(t, "b.test", map[string]string{"2001": "pw2001"})
	a0 := pbxAccount(pa, "1001", "pw1001", "a.test")
	a0.SubscribeMWI, a0.Mailbox = true, "echo"
	a1 := pbxAccount(pb, "2001", "pw2001", "b.test")
	a1.Mailbox = "*97"
	x := startLines(t, []config.Account{a0, a1}, 28860, hzA, nil)
	waitFor(t, "both lines registered, line 0 subscribed", 10*time.Second, func() bool {
		st := x.d.Status()
		return st.Lines[0].Registration.State == sip.RegRegistered && st.Lines[1].Registration.State == sip.RegRegistered &&
			slices.ContainsFunc(pa.Subscriptions(), func(s pbx.EventSub) bool { return s.Event == "message-summary" && s.User == "1001" })
	})
	if subs := pb.Subscriptions(); len(subs) != 0 {
		t.Errorf("line 1 subscribed without subscribe_mwi: %+v", subs)
	}
	ctx := context.Background()
	const mt = "application/simple-message-summary"
	if _, err := pa.Notify(ctx, "message-summary", "1001", mt, []byte("Messages-Waiting: yes\r\nMessage-Account: sip:1001@a.test\r\nVoice-Message: 2/8 (0/0)\r\n")); err != nil {
		t.Fatal(err)
	}
	if code, err := pb.NotifyUnsolicited(ctx, "2001", mt, []byte("Messages-Waiting: yes\r\nVoice-Message: 1/0 (0/0)\r\n")); err != nil || code != 200 {
		t.Fatalf("unsolicited NOTIFY: %d %v", code, err)
	}
	waitFor(t, "each line's messages", 5*time.Second, func() bool {
		ls := x.d.Status().Phone.Lines
		return len(ls) == 2 && ls[0].Messages == phone.Messages{Waiting: true, New: 2, Old: 8} &&
			ls[1].Messages == phone.Messages{Waiting: true, New: 1}
	})
	if ls := x.d.Status().Phone.Lines; ls[0].Voicemail != "echo" || ls[1].Voicemail != "*97" {
		t.Errorf("voicemail numbers %q %q", ls[0].Voicemail, ls[1].Voicemail)
	}
	// The line picks up through the UA (the phone's busy lamp keys use
	// it); a malformed Replaces is refused before anything is sent.
	if c, err := x.d.lines[0].Pickup(ctx, "1002", "no-tags-here"); !errors.Is(err, sip.ErrBadReplaces) || c != nil {
		t.Errorf("Pickup with a bad Replaces: %v %v", c, err)
	}
	x.keys.Press(hal.KeyVoicemail)
	waitFor(t, "the voicemail key calls line 0's mailbox", 5*time.Second, func() bool {
		c, ok := x.call("echo")
		return ok && c.Line == 0 && c.State == "talking"
	})
	hangupAll(t, x)
}
