package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/haltest"
	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/tools/pbx"
)

// These tests run whole phones (config, board fakes, port manager, UA,
// state machine) against the real tools/pbx on loopback, in real time.

func startPBX(t *testing.T) *pbx.Server {
	t.Helper()
	return startPBXWith(t, "test", map[string]string{"1001": "pw1001", "1002": "pw1002"})
}

// startPBXWith starts a PBX on loopback with the realm (also its SIP
// domain) and users.
func startPBXWith(t *testing.T, realm string, users map[string]string) *pbx.Server {
	t.Helper()
	return startPBXConfig(t, pbx.Config{Realm: realm, Users: users})
}

// startPBXConfig starts a PBX with cfg on a free loopback port.
func startPBXConfig(t *testing.T, cfg pbx.Config) *pbx.Server {
	t.Helper()
	cfg.Listen = netip.MustParseAddrPort("127.0.0.1:0")
	s, err := pbx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type testPhone struct {
	d    *Daemon
	keys *haltest.Keypad
	hook *haltest.Hook
	out  *haltest.AudioOut
	done chan error
}

func startPhone(t *testing.T, p *pbx.Server, user, pass string, sipPort uint16, micHz float64) *testPhone {
	t.Helper()
	return startPhoneWith(t, p, user, pass, sipPort, micHz, nil)
}

// pbxAccount is an account registered at p: domain is the SIP domain
// ("127.0.0.1" when empty); with another domain the PBX is the outbound
// proxy as well, since the domain does not resolve.
func pbxAccount(p *pbx.Server, user, pass, domain string) config.Account {
	a := config.DefaultAccount()
	a.User, a.AuthUser, a.Password, a.Domain = user, user, pass, domain
	if a.Domain == "" {
		a.Domain = "127.0.0.1"
	} else {
		a.OutboundProxy = p.Addr().String()
	}
	a.Registrar = p.Addr().String()
	a.Expires = 300 * time.Second
	return a
}

// startPhoneWith is startPhone with a change to the config.
func startPhoneWith(t *testing.T, p *pbx.Server, user, pass string, sipPort uint16, micHz float64, mut func(*config.Config)) *testPhone {
	t.Helper()
	return startLines(t, []config.Account{pbxAccount(p, user, pass, "")}, sipPort, micHz, mut)
}

// startLines runs a phone with the accounts (its lines), SIP on the ten
// ports from sipPort (one per line, and room for a port another process
// on this shared host holds), media on the 100 ports from sipPort+100,
// and a microphone playing micHz.
func startLines(t *testing.T, accounts []config.Account, sipPort uint16, micHz float64, mut func(*config.Config)) *testPhone {
	t.Helper()
	cfg := config.Default()
	cfg.Accounts = accounts
	cfg.Ports.SIP = config.PortRange{Min: sipPort, Max: sipPort + 9}
	cfg.Ports.Media = config.PortRange{Min: sipPort + 100, Max: sipPort + 199}
	cfg.API.Listen = ""
	cfg.NAT.UPnP = false // tests send nothing beyond loopback: no gateway probes
	cfg.DialPlan.Timeout = 2 * time.Second
	if mut != nil {
		mut(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b, kp, hk, _, out := haltest.NewBoard(tone.Sine(micHz, cfg.Audio.SampleRate, -10))
	if r := cfg.Audio.SampleRate; r != 8000 {
		// A wideband handset: microphone and speaker at r.
		f := hal.Narrowband
		f.SampleRate = r
		out = haltest.NewAudioOut(f)
		b.AudioIn, b.AudioOut = haltest.NewAudioIn(f, tone.Sine(micHz, r, -10)), out
	}
	d, err := New(Options{Config: cfg, Board: b})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testPhone{d: d, keys: kp, hook: hk, out: out, done: make(chan error, 1)}
	go func() { tp.done <- d.Run(ctx) }()
	name := accounts[0].User
	t.Cleanup(func() {
		cancel()
		select {
		case <-tp.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: daemon did not stop within 10 s", name)
		}
	})
	return tp
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

func (tp *testPhone) state() string { return tp.d.Status().Phone.State }

func (tp *testPhone) registered() bool { return tp.d.Status().Registration.State == "registered" }

// hears reports whether the last 200 ms the speaker played contain hz.
func (tp *testPhone) hears(hz float64) bool {
	s := tp.out.Samples(1600)
	return len(s) == 1600 && tone.Contains(s, hz, 8000)
}

func TestTwoPhonesCallWithAudioBothWays(t *testing.T) {
	p := startPBX(t)
	a := startPhone(t, p, "1001", "pw1001", 25060, 440)
	b := startPhone(t, p, "1002", "pw1002", 25260, 1000)
	waitFor(t, "both registered", 10*time.Second, func() bool { return a.registered() && b.registered() })

	// A lifts the handset and dials; B rings; B lifts and talks.
	a.hook.Lift()
	waitFor(t, "A dial tone", 2*time.Second, func() bool { return a.state() == "offhook" })
	a.keys.Type("1002#")
	waitFor(t, "B ringing", 5*time.Second, func() bool { return b.state() == "ringing" })
	waitFor(t, "A hears ringback", 2*time.Second, func() bool { return a.state() == "calling" })
	b.hook.Lift()
	waitFor(t, "both talking", 5*time.Second, func() bool { return a.state() == "talking" && b.state() == "talking" })

	waitFor(t, "A hears B's 1 kHz", 5*time.Second, func() bool { return a.hears(1000) })
	waitFor(t, "B hears A's 440 Hz", 5*time.Second, func() bool { return b.hears(440) })
	if a.hears(440) || b.hears(1000) {
		t.Fatal("a phone hears its own tone: audio is looped, not carried")
	}
	st := a.d.Status()
	if len(st.Calls) != 1 || st.Calls[0].Codec != "G722" || st.Calls[0].RTP.Sent == 0 || st.Calls[0].RTP.Received == 0 {
		t.Fatalf("A's status calls = %+v", st.Calls)
	}
	// The port manager's report is the status document's "nat" section.
	doc, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"nat":{"type":`, `"mapping":`, `"filtering":`, `"external_sip":`, `"strategy":`, `"media_strategy":`, `"binding_lifetime_s":`, `"gateway_found":`, `"alg_seen":`, `"dropped_oversize":`, `"sip_transport":{"state":"up"`} {
		if !strings.Contains(string(doc), key) {
			t.Errorf("status lacks %s: %s", key, doc)
		}
	}

	// Hold from A: B stops hearing A; resume: it hears A again.
	ctx := context.Background()
	if err := a.d.Phone().Hold(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B hears silence while held", 5*time.Second, func() bool { return !b.hears(440) })
	if err := a.d.Phone().Resume(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B hears A after resume", 5*time.Second, func() bool { return b.hears(440) })

	// B hangs up: A hears busy until it hangs up too.
	b.hook.HangUp()
	waitFor(t, "B idle", 5*time.Second, func() bool { return b.state() == "idle" })
	waitFor(t, "A busy tone", 5*time.Second, func() bool { return a.state() == "busy" })
	a.hook.HangUp()
	waitFor(t, "A idle", 2*time.Second, func() bool { return a.state() == "idle" })
	waitFor(t, "calls gone", 5*time.Second, func() bool {
		return len(a.d.Status().Calls) == 0 && len(b.d.Status().Calls) == 0
	})
}

func TestCallEchoAndWrongPassword(t *testing.T) {
	p := startPBX(t)
	a := startPhone(t, p, "1001", "pw1001", 25460, 440)
	bad := startPhone(t, p, "1002", "wrong", 25660, 1000)
	waitFor(t, "registered", 10*time.Second, a.registered)
	waitFor(t, "wrong password reported", 10*time.Second, func() bool {
		r := bad.d.Status().Registration
		return r.State == "failed" && strings.Contains(r.Reason, "auth")
	})
	if err := a.d.Phone().Call(context.Background(), "echo"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "talking to echo", 5*time.Second, func() bool { return a.state() == "talking" })
	waitFor(t, "own tone echoed", 5*time.Second, func() bool { return a.hears(440) })
	if err := a.d.Phone().Hangup(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "idle", 2*time.Second, func() bool { return a.state() == "idle" })
}

func TestRejectGivesBusyToCaller(t *testing.T) {
	p := startPBX(t)
	a := startPhone(t, p, "1001", "pw1001", 25860, 440)
	b := startPhone(t, p, "1002", "pw1002", 26060, 1000)
	waitFor(t, "both registered", 10*time.Second, func() bool { return a.registered() && b.registered() })
	if err := a.d.Phone().Call(context.Background(), "1002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B ringing", 5*time.Second, func() bool { return b.state() == "ringing" })
	if err := b.d.Phone().Hangup(context.Background()); err != nil { // reject: 603
		t.Fatal(err)
	}
	// A placed the call hands-free: it plays the busy tone briefly and
	// goes back to idle (TestHandsFreeFailedCallGoesIdle), so only the
	// reason is waited for here.
	waitFor(t, "A told 603", 5*time.Second, func() bool { return strings.HasPrefix(a.d.Status().Phone.Error, "603") })
	waitFor(t, "B idle", 2*time.Second, func() bool { return b.state() == "idle" })
}

var _ hal.FrameSource = (*tone.Generator)(nil)

func TestPortConfigFromNATSection(t *testing.T) {
	cfg := config.Default()
	cfg.NAT.STUNServers = []string{"198.51.100.1:3478"}
	cfg.NAT.TURN = config.TURN{Server: "198.51.100.1:3478", Username: "u", Password: "p"}
	cfg.NAT.StaticExternal = "203.0.113.9"
	cfg.NAT.EarlyUDP = false
	pc, err := portConfig(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pc.STUNServers) != 1 || pc.TURN.Username != "u" || pc.StaticExternal.String() != "203.0.113.9" || !pc.DisableEarlyUDP {
		t.Fatalf("port config %+v", pc)
	}
	if len(pc.Strategies) != 4 || pc.Strategies[0] != portmgr.StrategyStatic {
		t.Fatalf("default strategies %v", pc.Strategies)
	}
	if pc.ChangeCheck != 5*time.Second {
		t.Fatalf("default change check %v, want 5s", pc.ChangeCheck)
	}
	if pc.SIPPorts != portmgr.DefaultSIPRange || pc.MediaPorts != portmgr.DefaultMediaRange {
		t.Fatalf("default ports sip %v media %v, want the port manager's %v and %v",
			pc.SIPPorts, pc.MediaPorts, portmgr.DefaultSIPRange, portmgr.DefaultMediaRange)
	}
	cfg.NAT.ChangeCheck = 0
	if pc, _ = portConfig(cfg, nil, nil); pc.ChangeCheck >= 0 {
		t.Fatalf("change_check 0 -> %v, want negative (keepalive interval only)", pc.ChangeCheck)
	}
	cfg.NAT.Strategies = nil
	cfg.NAT.StaticExternal = "not-an-ip"
	if _, err := portConfig(cfg, nil, nil); err == nil {
		t.Fatal("bad static_external accepted")
	}
	cfg.NAT.StaticExternal = ""
	pc, _ = portConfig(cfg, nil, nil)
	if len(pc.Strategies) != 1 || pc.Strategies[0] != portmgr.StrategyLocal {
		t.Fatalf("empty strategies -> %v, want [local]", pc.Strategies)
	}
}

// TestServiceCode: a dialled service code runs its function and places
// no call.
func TestServiceCode(t *testing.T) {
	cfg := config.Default()
	cfg.API.Listen = ""
	cfg.NAT.UPnP = false
	b, _, _, _, _ := haltest.NewBoard(tone.Sine(440, 8000, -10))
	ran := 0
	d, err := New(Options{Config: cfg, Board: b, ServiceCodes: map[string]func(){"**73738": func() { ran++ }}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.closeParts()
	c, err := d.lines[0].Dial(phone.OnKeypad(context.Background()), "**73738")
	if !errors.Is(err, ErrServiceCode) || c != nil || ran != 1 {
		t.Fatalf("call %v err %v ran %d", c, err, ran)
	}
	if len(d.lines[0].ua.Calls()) != 0 {
		t.Fatal("a call was placed")
	}
}

// TestServiceCodeNotThroughAPI: the API cannot run a service code, by its
// call action or by pressing the keys: a web page that reaches the API
// (or a token holder) must not factory-reset the phone. The same code
// dialled on the keypad still runs.
func TestServiceCodeNotThroughAPI(t *testing.T) {
	cfg := config.Default()
	cfg.API.Listen = ""
	cfg.NAT.UPnP = false
	cfg.DialPlan.Timeout = time.Hour // only '#' sends
	b, kp, hk, _, _ := haltest.NewBoard(tone.Sine(440, 8000, -10))
	var ran atomic.Int32
	d, err := New(Options{Config: cfg, Board: b, ServiceCodes: map[string]func(){"**73738": func() { ran.Add(1) }}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.closeParts()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	d.scr.start() // the keypad reaches the phone through the screen
	go func() { done <- d.ph.Run(ctx) }()
	defer func() { cancel(); <-done }()

	h := api.Handler(api.Config{Actions: actions{d}, Status: func() any { return d.Status() }})
	post := func(path, body string) (int, string) {
		r := httptest.NewRequest("POST", path, strings.NewReader(body))
		r.Host = "127.0.0.1:8080"
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	if code, body := post("/api/call", `{"to":"**73738"}`); code != http.StatusForbidden {
		t.Errorf("POST /api/call **73738: %d %s, want 403", code, body)
	}
	post("/api/hangup", ``)
	for _, k := range []string{"speaker", "*", "*", "7", "3", "7", "3", "8", "#"} {
		if code, body := post("/api/key", `{"key":"`+k+`"}`); code != 200 {
			t.Fatalf("key %s: %d %s", k, code, body)
		}
	}
	// The keys did dial it (and were refused).
	// (The phone publishes its status just after it answers a command.)
	waitFor(t, "the API's keys to dial and be refused", 10*time.Second, func() bool {
		st := d.ph.Status()
		return st.LastDial == "**73738" && strings.Contains(st.Error, "keypad only")
	})
	post("/api/hangup", ``)
	waitFor(t, "the hang-up", 10*time.Second, func() bool { return d.ph.Status().State == "idle" })
	post("/api/key", `{"key":"redial"}`) // the service code runs (or not) before the answer
	post("/api/hangup", ``)
	if n := ran.Load(); n != 0 {
		t.Fatalf("the API ran the service code %d times", n)
	}
	if len(d.lines[0].ua.Calls()) != 0 {
		t.Fatal("a call was placed")
	}

	// At the phone it still works.
	hk.Lift()
	kp.Type("**73738#")
	waitFor(t, "the keypad's service code", 10*time.Second, func() bool { return ran.Load() == 1 })
}

// TestHandsFreeFarHangupThenNextCallRings: B answers through the API
// (hands-free); while A holds the call both B's phone and its call say
// held_remote; A hangs up and B is idle with the speaker off, so A's next
// call rings at B instead of getting 486.
func TestHandsFreeFarHangupThenNextCallRings(t *testing.T) {
	p := startPBX(t)
	a := startPhone(t, p, "1001", "pw1001", 26260, 440)
	b := startPhone(t, p, "1002", "pw1002", 26460, 1000)
	waitFor(t, "both registered", 10*time.Second, func() bool { return a.registered() && b.registered() })
	ctx := context.Background()
	if err := a.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B ringing", 5*time.Second, func() bool { return b.state() == "ringing" })
	if err := (actions{b.d}).Answer(ctx); err != nil { // POST /api/answer
		t.Fatal(err)
	}
	waitFor(t, "both talking", 5*time.Second, func() bool { return a.state() == "talking" && b.state() == "talking" })
	if !b.d.Status().Phone.Speaker {
		t.Fatal("B answered through the API but its speaker is off")
	}

	if err := a.d.Phone().Hold(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B held by A", 5*time.Second, func() bool {
		st := b.d.Status()
		return st.Phone.State == "held_remote" && len(st.Calls) == 1 && st.Calls[0].State == "held_remote"
	})
	// A's own state moves when B's 200 reaches it, which may be after B
	// has moved: wait for it as well.
	waitFor(t, "A holding", 5*time.Second, func() bool {
		st := a.d.Status()
		return st.Phone.State == "held" && len(st.Calls) == 1 && st.Calls[0].State == "held"
	})
	if err := a.d.Phone().Resume(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B talking again", 5*time.Second, func() bool {
		st := b.d.Status()
		return st.Phone.State == "talking" && len(st.Calls) == 1 && st.Calls[0].State == "talking"
	})

	if err := a.d.Phone().Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B idle after A's hang-up", 5*time.Second, func() bool { return b.state() == "idle" })
	if b.d.Status().Phone.Speaker {
		t.Fatal("B's speaker still on after the far end hung up")
	}
	waitFor(t, "B's call gone", 5*time.Second, func() bool { return len(b.d.Status().Calls) == 0 })
	if err := a.d.Phone().Call(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B rings for the next call", 5*time.Second, func() bool { return b.state() == "ringing" })
	if err := a.d.Phone().Hangup(ctx); err != nil {
		t.Fatal(err)
	}
}
