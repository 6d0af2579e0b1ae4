package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/hal/haltest"
	"github.com/deskphone/phone/hal/tone"
)

// livePhone is a test phone whose config lives in a file, changed
// through the API's config endpoints (served in-process).
type livePhone struct {
	*testPhone
	path string
	api  http.Handler
}

// startLive runs a phone as startLines does, with its config saved to a
// file (Options.ConfigPath), so that PUT and PATCH /api/config apply.
func startLive(t *testing.T, accounts []config.Account, sipPort uint16, micHz float64) *livePhone {
	t.Helper()
	return startLiveWith(t, accounts, sipPort, micHz, nil, nil)
}

// startLiveWith is startLive with a change to the config and a logger.
func startLiveWith(t *testing.T, accounts []config.Account, sipPort uint16, micHz float64, mut func(*config.Config), log *slog.Logger) *livePhone {
	t.Helper()
	cfg := config.Default()
	cfg.Accounts = accounts
	cfg.Ports.SIP = config.PortRange{Min: sipPort, Max: sipPort + 9}
	cfg.Ports.Media = config.PortRange{Min: sipPort + 100, Max: sipPort + 199}
	cfg.API.Listen = ""
	cfg.NAT.UPnP = false
	cfg.DialPlan.Timeout = 2 * time.Second
	// A known admin password: the daemon generates none (no log noise).
	cfg.Web.PasswordHash = "$2a$04$abcdefghijklmnopqrstuuTb8U3ZJcCsbk6MDZ8jc4RCHo8NZyQ6a"
	if mut != nil {
		mut(cfg)
	}
	path := filepath.Join(t.TempDir(), "phone.yaml")
	if err := config.Save(path, cfg); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b, kp, hk, _, out := haltest.NewBoard(tone.Sine(micHz, 8000, -10))
	d, err := New(Options{Config: loaded, Board: b, ConfigPath: path, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testPhone{d: d, keys: kp, hook: hk, out: out, done: make(chan error, 1)}
	go func() { tp.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-tp.done:
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop within 10 s")
		}
	})
	h := api.Handler(api.Config{Listen: "127.0.0.1:8080", Status: func() any { return d.Status() },
		Actions: actions{d}, ConfigStore: d.web.store})
	return &livePhone{testPhone: tp, path: path, api: h}
}

// send sends a config request and returns the status and the decoded
// answer.
func (lp *livePhone) send(t *testing.T, method, body string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, "http://127.0.0.1:8080/api/config", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	lp.api.ServeHTTP(w, r)
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("%s /api/config: %d %q: %v", method, w.Code, w.Body, err)
	}
	return w.Code, doc
}

// accountsPatch is a PATCH body replacing the accounts.
func accountsPatch(t *testing.T, accts ...config.Account) string {
	t.Helper()
	c := config.Default()
	c.Accounts = accts
	doc, err := api.ConfigDocument(c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"accounts": doc["accounts"]})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (tp *testPhone) lineState(n int) string {
	ls := tp.d.Status().Lines
	if n >= len(ls) {
		return ""
	}
	return string(ls[n].Registration.State)
}

// TestApplyPasswordRegistersLive: a phone with a wrong password fails to
// register; the right password sent with PATCH /api/config makes it
// register without a restart; an added account becomes a second line
// that registers, and removing it removes the line.
func TestApplyPasswordRegistersLive(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001", "1002": "pw1002"})
	lp := startLive(t, []config.Account{pbxAccount(p, "1001", "wrong", "")}, 31060, hzA)
	waitFor(t, "the wrong password refused", 10*time.Second, func() bool { return lp.lineState(0) == "failed" })

	code, doc := lp.send(t, "PATCH", accountsPatch(t, pbxAccount(p, "1001", "pw1001", "")))
	if code != http.StatusOK || doc["restart_required"] != false {
		t.Fatalf("PATCH = %d %v, want 200 without restart", code, doc)
	}
	waitFor(t, "registered with the new password", 10*time.Second, func() bool { return lp.lineState(0) == "registered" })
	saved, err := config.Load(lp.path)
	if err != nil || saved.Accounts[0].Password != "pw1001" {
		t.Fatalf("saved config: %v, %+v", err, saved)
	}

	code, doc = lp.send(t, "PATCH", accountsPatch(t, pbxAccount(p, "1001", "pw1001", ""), pbxAccount(p, "1002", "pw1002", "")))
	if code != http.StatusOK || doc["restart_required"] != false {
		t.Fatalf("PATCH adding a line = %d %v", code, doc)
	}
	waitFor(t, "both lines registered", 10*time.Second, func() bool {
		return lp.lineState(0) == "registered" && lp.lineState(1) == "registered"
	})
	if n := len(lp.d.Status().Phone.Lines); n != 2 {
		t.Fatalf("the phone has %d lines, want 2", n)
	}

	code, doc = lp.send(t, "PATCH", accountsPatch(t, pbxAccount(p, "1002", "pw1002", "")))
	if code != http.StatusOK {
		t.Fatalf("PATCH removing a line = %d %v", code, doc)
	}
	waitFor(t, "one line, 1002", 10*time.Second, func() bool {
		st := lp.d.Status()
		return len(st.Lines) == 1 && st.Lines[0].Account == "1002@127.0.0.1" && st.Lines[0].Registration.State == "registered"
	})
	if n := len(lp.d.Status().Phone.Lines); n != 1 {
		t.Fatalf("the phone has %d lines, want 1", n)
	}
}

// TestApplyKeepsCallOnOtherLine: a call on line 0 goes on, audio both
// ways, while line 1's account is changed (and its user agent rebuilt).
func TestApplyKeepsCallOnOtherLine(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001", "1002": "pw1002", "1003": "pw1003"})
	l0, l1 := pbxAccount(p, "1001", "pw1001", ""), pbxAccount(p, "1002", "pw1002", "")
	a := startLive(t, []config.Account{l0, l1}, 31260, hzA)
	b := startPhone(t, p, "1003", "pw1003", 31460, hzB)
	waitFor(t, "all registered", 10*time.Second, func() bool {
		return a.lineState(0) == "registered" && a.lineState(1) == "registered" && b.registered()
	})
	b.hook.Lift()
	waitFor(t, "B dial tone", 2*time.Second, func() bool { return b.state() == "offhook" })
	b.keys.Type("1001#")
	waitFor(t, "A ringing", 5*time.Second, func() bool { return a.state() == "ringing" })
	a.hook.Lift()
	waitFor(t, "both talking", 5*time.Second, func() bool { return a.state() == "talking" && b.state() == "talking" })
	callID := a.d.Status().Calls[0].ID
	oldLine1 := a.d.linesNow()[1]

	l1.DisplayName = "Second line"
	code, doc := a.send(t, "PATCH", accountsPatch(t, l0, l1))
	if code != http.StatusOK || doc["restart_required"] != false {
		t.Fatalf("PATCH = %d %v", code, doc)
	}
	if a.d.linesNow()[1] == oldLine1 {
		t.Fatal("line 1 was not rebuilt")
	}
	waitFor(t, "line 1 registered again", 10*time.Second, func() bool { return a.lineState(1) == "registered" })
	st := a.d.Status()
	if len(st.Calls) != 1 || st.Calls[0].ID != callID || st.Calls[0].Line != 0 || a.state() != "talking" {
		t.Fatalf("after the change: state %s, calls %+v; want the call %s on line 0", a.state(), st.Calls, callID)
	}
	sent := st.Calls[0].RTP.Sent
	waitFor(t, "A hears B", 5*time.Second, func() bool { return a.hears(hzB) })
	waitFor(t, "B hears A", 5*time.Second, func() bool { return b.hears(hzA) })
	waitFor(t, "RTP still flowing", 5*time.Second, func() bool {
		cs := a.d.Status().Calls
		return len(cs) == 1 && cs[0].RTP.Sent > sent
	})
}

// TestApplyBadPatchChangesNothing: a PATCH with problems is 400 with
// every problem by the body's line, and the file, the store and the
// lines stay as they were.
func TestApplyBadPatchChangesNothing(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001"})
	lp := startLive(t, []config.Account{pbxAccount(p, "1001", "pw1001", "")}, 31660, hzA)
	waitFor(t, "registered", 10*time.Second, func() bool { return lp.lineState(0) == "registered" })
	before, err := os.ReadFile(lp.path)
	if err != nil {
		t.Fatal(err)
	}
	lines, stored := lp.d.linesNow(), lp.d.web.store.Config()

	body := "{\n  \"ptime\": \"25ms\",\n  \"nat\": {\"keepalive\": \"10s\", \"no_such_key\": 1}\n}"
	code, doc := lp.send(t, "PATCH", body)
	if code != http.StatusBadRequest {
		t.Fatalf("PATCH = %d %v, want 400", code, doc)
	}
	got, _ := json.Marshal(doc["problems"])
	for _, want := range []string{"body:2: ptime:", "body:3: nat.no_such_key:"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("problems %s lack %q", got, want)
		}
	}
	// The board's checks (the store's) name the body's lines too.
	body = "{\"audio\": {\"volume\": 10,\n  \"input\": \"device\"},\n \"board_options\": {\"i2c_bus\": \"1\"}}"
	code, doc = lp.send(t, "PATCH", body)
	got, _ = json.Marshal(doc["problems"])
	for _, want := range []string{"body:2: audio.input: the sim board cannot use", "body:3: board_options.i2c_bus: unknown key"} {
		if code != http.StatusBadRequest || !strings.Contains(string(got), want) {
			t.Errorf("PATCH = %d, problems %s lack %q", code, got, want)
		}
	}
	for _, bad := range []string{"[1, 2]", "not json {", `{"accounts": "x"}`} {
		if code, doc := lp.send(t, "PATCH", bad); code != http.StatusBadRequest {
			t.Errorf("PATCH %s = %d %v, want 400", bad, code, doc)
		}
	}
	after, err := os.ReadFile(lp.path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("the file changed:\n%s", after)
	}
	if lp.d.web.store.Config() != stored || lp.d.linesNow()[0] != lines[0] || lp.lineState(0) != "registered" {
		t.Error("a refused PATCH changed the store or the lines")
	}
}

// TestApplyPortsAndRestartRequired: a new SIP port range rebuilds the
// port manager and the line, which registers again from a port in the
// new range; a change of the log level is saved and needs a restart,
// and rebuilds nothing.
func TestApplyPortsAndRestartRequired(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001"})
	lp := startLive(t, []config.Account{pbxAccount(p, "1001", "pw1001", "")}, 33460, hzA)
	waitFor(t, "registered", 10*time.Second, func() bool { return lp.lineState(0) == "registered" })
	pm := lp.d.ports()

	code, doc := lp.send(t, "PATCH", `{"ports": {"sip": {"min": 33480, "max": 33489}}, "nat": {"keepalive": "20s"}}`)
	if code != http.StatusOK || doc["restart_required"] != false {
		t.Fatalf("PATCH ports = %d %v", code, doc)
	}
	if lp.d.ports() == pm {
		t.Fatal("the port manager was not rebuilt")
	}
	waitFor(t, "registered from the new range", 10*time.Second, func() bool {
		st := lp.d.Status()
		return st.Registration.State == "registered" && strings.Contains(st.Registration.Contact, ":3348")
	})

	lines := lp.d.linesNow()
	code, doc = lp.send(t, "PATCH", `{"log": {"level": "debug"}}`)
	if code != http.StatusOK || doc["restart_required"] != true {
		t.Fatalf("PATCH log = %d %v, want restart_required", code, doc)
	}
	if lp.d.linesNow()[0] != lines[0] {
		t.Error("a log change rebuilt the line")
	}
	if saved, err := config.Load(lp.path); err != nil || saved.Log.Level != "debug" {
		t.Errorf("saved: %v %+v", err, saved.Log)
	}
	// Back as it was: nothing is pending any more.
	if code, doc = lp.send(t, "PATCH", `{"log": {"level": "info"}}`); code != http.StatusOK || doc["restart_required"] != false {
		t.Errorf("PATCH log back = %d %v, want no restart", code, doc)
	}
}

// TestForeignPageCannotDial: a text/plain POST from another origin (a
// "simple" request a page sends without a preflight) never dials.
func TestForeignPageCannotDial(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001"})
	lp := startLive(t, []config.Account{pbxAccount(p, "1001", "pw1001", "")}, 33660, hzA)
	waitFor(t, "registered", 10*time.Second, func() bool { return lp.lineState(0) == "registered" })
	h := api.Handler(api.Config{Listen: "127.0.0.1:8080", Status: func() any { return lp.d.Status() }, Actions: actions{lp.d}})
	for _, hdr := range []map[string]string{
		{"Content-Type": "text/plain", "Origin": "http://evil.example"},
		{"Content-Type": "text/plain"},
		{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"},
		{"Content-Type": "application/json", "Origin": "http://evil.example"},
	} {
		r := httptest.NewRequest("POST", "http://127.0.0.1:8080/api/call", strings.NewReader(`{"to":"echo"}`))
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code < 400 {
			t.Errorf("POST %v: %d", hdr, w.Code)
		}
	}
	if st := lp.d.Status(); len(st.Calls) != 0 || st.Phone.State != "idle" {
		t.Fatalf("a refused request dialled: %+v", st.Phone)
	}
}
