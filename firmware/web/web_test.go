package web

import (
	"crypto/tls"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden HTML in testdata/")

// TestNoSessionRedirects: without a login every page and every action
// is a redirect to the login page, and no action runs.
func TestNoSessionRedirects(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	for _, p := range []string{"/status", "/calls", "/accounts", "/network", "/audio", "/keys", "/phonebook", "/history", "/firmware", "/admin"} {
		w := b.get(p)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login?next="+url.QueryEscape(p) {
			t.Errorf("GET %s: %d %q", p, w.Code, w.Header().Get("Location"))
		}
	}
	if w := b.get("/"); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/status" {
		t.Errorf("GET /: %d %q", w.Code, w.Header().Get("Location"))
	}
	// A token from the login page does not make a session.
	for _, p := range []string{"/calls/dial", "/calls/hangup", "/accounts/0", "/keys", "/history/clear", "/phonebook/b1/delete", "/admin/password", "/logout"} {
		w := b.post("/login", p, url.Values{"to": {"1002"}})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
			t.Errorf("POST %s: %d %q", p, w.Code, w.Header().Get("Location"))
		}
	}
	if a := e.phone.actions(); len(a) != 0 || e.store.saves != 0 {
		t.Errorf("actions without a login: %v, %d saves", a, e.store.saves)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	w := b.login("wrong password")
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "Wrong password.") {
		t.Fatalf("wrong password: %d\n%s", w.Code, w.Body)
	}
	before := b.cookie
	w = b.post("/login?next=/calls", "/login", url.Values{"password": {testPassword}, "next": {"/calls"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/calls" {
		t.Fatalf("login: %d %q", w.Code, w.Header().Get("Location"))
	}
	if b.cookie == "" || b.cookie == before {
		t.Error("the session id did not change at login (fixation)")
	}
	if w := b.get("/status"); w.Code != 200 || !strings.Contains(w.Body.String(), "authentication failed") {
		t.Errorf("status after login: %d", w.Code)
	}
	if w := b.get("/login"); w.Code != http.StatusSeeOther {
		t.Errorf("login page when logged in: %d", w.Code)
	}
	// next must stay on this site.
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		b2 := e.browser(t)
		w := b2.post("/login", "/login", url.Values{"password": {testPassword}, "next": {next}})
		if w.Header().Get("Location") != "/status" {
			t.Errorf("next=%q: redirected to %q", next, w.Header().Get("Location"))
		}
	}
}

func TestLoginNeedsForm(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	// No session at all (the login page was never loaded).
	if w := b.do("POST", "/login", url.Values{"password": {testPassword}}); w.Code != http.StatusForbidden {
		t.Errorf("login without the form: %d", w.Code)
	}
	// A session, but a wrong token.
	b.csrf("/login")
	if w := b.do("POST", "/login", url.Values{"password": {testPassword}, "csrf": {"x"}}); w.Code != http.StatusForbidden {
		t.Errorf("login with a bad token: %d", w.Code)
	}
}

// TestLoginRateLimit: three free failures, then lockouts that double; a
// locked-out source gets 429 even with the right password; another
// source is not affected; success forgets the failures.
func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.remote = "192.0.2.10:5000"
	for i := range 3 {
		if w := b.login("bad"); w.Code != 401 || w.Header().Get("Retry-After") != "" {
			t.Fatalf("failure %d: %d, Retry-After %q", i+1, w.Code, w.Header().Get("Retry-After"))
		}
	}
	for i, want := range []string{"1", "2", "4"} {
		w := b.login("bad")
		if w.Code != 401 || w.Header().Get("Retry-After") != want {
			t.Fatalf("failure %d: %d, Retry-After %q, want %s", i+4, w.Code, w.Header().Get("Retry-After"), want)
		}
		w = b.login(testPassword)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != want {
			t.Fatalf("while locked out: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
		}
		e.clock.add(time.Duration(1<<i) * time.Second)
	}
	// The same /64 is the same source; another address is not.
	other := e.browser(t)
	other.remote = "192.0.2.11:5000"
	other.mustLogin()
	v6 := e.browser(t)
	v6.remote = "[2001:db8::1]:5000"
	for range 4 {
		v6.login("bad")
	}
	v6.remote = "[2001:db8::2]:5000"
	if w := v6.login(testPassword); w.Code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64 during its lockout: %d", w.Code)
	}
	// The lockout over, the right password works and the count is reset.
	e.clock.add(8 * time.Second)
	b.mustLogin()
	b2 := e.browser(t)
	b2.remote = b.remote
	if w := b2.login("bad"); w.Code != 401 || w.Header().Get("Retry-After") != "" {
		t.Errorf("after a success the count went on: %d %q", w.Code, w.Header().Get("Retry-After"))
	}
}

func TestLockoutCapped(t *testing.T) {
	l := newLimiter()
	src := source(&http.Request{RemoteAddr: "192.0.2.1:1"})
	now := time.Unix(0, 0)
	var last time.Duration
	for range 40 {
		last = l.fail(src, now)
	}
	if last != maxLockout {
		t.Errorf("lockout after 40 failures = %s, want %s", last, maxLockout)
	}
	if l.fail(src, now.Add(2*forgetFailures)) != 0 {
		t.Error("failures not forgotten after an hour")
	}
}

func TestLimiterBounded(t *testing.T) {
	l := newLimiter()
	now := time.Unix(0, 0)
	for i := range maxSources + 100 {
		src := source(&http.Request{RemoteAddr: "[2001:db8:" + strings.Repeat("0", 0) + hex4(i) + "::1]:1"})
		l.fail(src, now.Add(time.Duration(i)))
	}
	if len(l.m) > maxSources {
		t.Errorf("limiter holds %d sources, cap %d", len(l.m), maxSources)
	}
}

func hex4(i int) string {
	const d = "0123456789abcdef"
	return string([]byte{d[i>>12&15], d[i>>8&15], d[i>>4&15], d[i&15]})
}

// TestBadCSRF: a form without the session's token is 403 and does
// nothing.
func TestBadCSRF(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	other := e.browser(t)
	other.mustLogin()
	foreign := other.csrf("/calls")
	for _, tok := range []string{"", "nope", foreign} {
		for _, p := range []string{"/calls/dial", "/calls/hangup", "/accounts/0", "/keys", "/history/clear", "/admin/password", "/logout", "/network"} {
			form := url.Values{"to": {"1002"}}
			if tok != "" {
				form.Set("csrf", tok)
			}
			if w := b.do("POST", p, form); w.Code != http.StatusForbidden {
				t.Errorf("POST %s with token %q: %d", p, tok, w.Code)
			}
		}
	}
	if a := e.phone.actions(); len(a) != 0 || e.store.saves != 0 {
		t.Errorf("refused forms acted: %v, %d saves", a, e.store.saves)
	}
}

func TestNoPasswordLoopbackOnly(t *testing.T) {
	e := newEnv(t, "")
	lan := e.browser(t)
	lan.remote = "192.0.2.10:5000"
	for _, p := range []string{"/status", "/login", "/admin"} {
		if w := lan.get(p); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "no admin password") {
			t.Errorf("GET %s from the LAN without a password: %d", p, w.Code)
		}
	}
	local := e.browser(t)
	w := local.get("/status")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "No admin password is set") {
		t.Fatalf("GET /status on loopback without a password: %d", w.Code)
	}
	if w := local.post("/calls", "/calls/dial", url.Values{"to": {"1002"}}); w.Code != http.StatusSeeOther {
		t.Errorf("dial on loopback without a password: %d", w.Code)
	}
	if w := local.do("POST", "/calls/dial", url.Values{"to": {"1002"}, "csrf": {"x"}}); w.Code != http.StatusForbidden {
		t.Errorf("a bad token without a password: %d", w.Code)
	}
	if a := e.phone.actions(); !slices.Equal(a, []string{"call 1002"}) {
		t.Errorf("actions = %v", a)
	}
	// Setting a password there ends the password-less sessions and
	// makes the page reachable from the LAN (with a login).
	w = local.post("/admin", "/admin/password", url.Values{"new": {"new password"}, "repeat": {"new password"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("setting a password: %d\n%s", w.Code, w.Body)
	}
	if w := lan.get("/status"); w.Code != http.StatusSeeOther {
		t.Errorf("GET /status from the LAN with a password: %d", w.Code)
	}
	if w := lan.login("new password"); w.Code != http.StatusSeeOther {
		t.Errorf("login with the new password: %d", w.Code)
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	e.clock.add(DefaultSessionIdle - time.Second)
	if w := b.get("/status"); w.Code != 200 {
		t.Fatalf("before the idle limit: %d", w.Code)
	}
	e.clock.add(DefaultSessionIdle)
	if w := b.get("/status"); w.Code != http.StatusSeeOther {
		t.Fatalf("after the idle limit: %d", w.Code)
	}
	if w := b.get("/login"); !strings.Contains(w.Body.String(), "Your session ended") {
		t.Errorf("the login page does not say the session ended:\n%s", w.Body)
	}
	// Used all the time, a session still ends after SessionMax.
	b.mustLogin()
	for e.clock.add(20 * time.Minute); ; e.clock.add(20 * time.Minute) {
		if w := b.get("/status"); w.Code != 200 {
			break
		}
	}
	if got := e.clock.now().Sub(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)); got > 2*DefaultSessionIdle+DefaultSessionMax {
		t.Errorf("session lasted %s", got)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	old := b.cookie
	w := b.post("/status", "/logout", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" || b.cookie != "" {
		t.Fatalf("logout: %d %q cookie %q", w.Code, w.Header().Get("Location"), b.cookie)
	}
	b.cookie = old // a copy of the old cookie is worth nothing
	if w := b.get("/status"); w.Code != http.StatusSeeOther {
		t.Errorf("the old session after logout: %d", w.Code)
	}
}

func TestPasswordChange(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	other := e.browser(t)
	other.mustLogin()
	for _, c := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"current": {"bad"}, "new": {"abcdefgh"}, "repeat": {"abcdefgh"}}, "current: wrong password"},
		{url.Values{"current": {testPassword}, "new": {"abcdefgh"}, "repeat": {"abcdefgX"}}, "repeat: the two new passwords differ"},
		{url.Values{"current": {testPassword}, "new": {"short"}, "repeat": {"short"}}, "new: the password must have at least 8 characters"},
	} {
		if w := b.post("/admin", "/admin/password", c.form); w.Code != 400 || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("%v: %d, want 400 with %q", c.form, w.Code, c.want)
		}
	}
	if e.store.saves != 0 {
		t.Fatal("a refused password was saved")
	}
	w := b.post("/admin", "/admin/password", url.Values{"current": {testPassword}, "new": {"a new password"}, "repeat": {"a new password"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("change: %d\n%s", w.Code, w.Body)
	}
	if !passwordOK(e.store.Config().Web.PasswordHash, "a new password") {
		t.Error("the new hash was not saved")
	}
	if w := b.get("/admin"); w.Code != 200 || !strings.Contains(w.Body.String(), "Password changed") {
		t.Errorf("the changer's session: %d", w.Code)
	}
	if w := other.get("/status"); w.Code != http.StatusSeeOther {
		t.Errorf("another session after the change: %d", w.Code)
	}
}

func TestCookieAttributes(t *testing.T) {
	e := newEnv(t, testHash)
	for _, tls := range []bool{false, true} {
		b := e.browser(t)
		b.tls = tls
		w := b.get("/login")
		cs := w.Result().Cookies()
		if len(cs) != 1 || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode || cs[0].Secure != tls || cs[0].Path != "/" {
			t.Errorf("tls=%v: cookie %+v", tls, cs)
		}
		if len(cs) == 1 && len(cs[0].Value) < 43 {
			t.Errorf("session id %q is short", cs[0].Value)
		}
		h := w.Header()
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", h)
		}
	}
}

func TestStatic(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	files, err := staticFiles()
	if err != nil || len(files) < 2 {
		t.Fatalf("static files %v %v", files, err)
	}
	for _, f := range files {
		if w := b.get("/" + f); w.Code != 200 || w.Body.Len() == 0 {
			t.Errorf("GET /%s: %d", f, w.Code)
		}
	}
	if w := b.do("POST", "/static/app.js", url.Values{}); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST to a static file: %d", w.Code)
	}
}

func TestCalls(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	for _, c := range []struct {
		path string
		form url.Values
		want string
	}{
		{"/calls/dial", url.Values{"to": {"echo"}}, "call echo"},
		{"/calls/dial", url.Values{"to": {" 1002 "}, "line": {"1"}}, "callon 1 1002"},
		{"/calls/answer", nil, "answer"},
		{"/calls/answer", url.Values{"call_id": {"c2"}}, "answer c2"},
		{"/calls/hangup", nil, "hangup"},
		{"/calls/hangup", url.Values{"call_id": {"c1"}}, "hangup c1"},
		{"/calls/hold", url.Values{"call_id": {"c1"}}, "hold c1"},
		{"/calls/resume", nil, "resume"},
		{"/calls/swap", nil, "swap"},
		{"/calls/conference", nil, "conference"},
		{"/calls/transfer", url.Values{"to": {"1003"}}, "transfer 1003"},
		{"/calls/transfer", nil, "attended  "},
		{"/calls/transfer", url.Values{"call_id": {"c1"}, "to_call_id": {"c2"}}, "attended c1 c2"},
	} {
		e.phone.log = nil
		w := b.post("/calls", c.path, c.form)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/calls" {
			t.Errorf("POST %s %v: %d\n%s", c.path, c.form, w.Code, w.Body)
		}
		if a := e.phone.actions(); !slices.Equal(a, []string{c.want}) {
			t.Errorf("POST %s %v: actions %q, want %q", c.path, c.form, a, c.want)
		}
	}
	if w := b.get("/calls"); !strings.Contains(w.Body.String(), "Transferred.") {
		t.Error("the calls page does not show the last action's message")
	}
	// Form problems are 400 and shown; nothing is dialled.
	e.phone.log = nil
	for _, c := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"to": {""}}, "to: required"},
		{url.Values{"to": {"1002"}, "line": {"x"}}, `line: &#34;x&#34; is not a whole number 0..255`},
		{url.Values{"to": {"10\x0002"}}, "to: holds control characters"},
		{url.Values{"to": {strings.Repeat("1", 300)}}, "to: longer than 256 bytes"},
	} {
		w := b.post("/calls", "/calls/dial", c.form)
		if w.Code != 400 || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("dial %q: %d, want 400 with %q\n%s", c.form, w.Code, c.want, w.Body)
		}
	}
	if w := b.post("/calls", "/calls/transfer", url.Values{"call_id": {"c1"}}); w.Code != 400 {
		t.Errorf("attended transfer with one call: %d", w.Code)
	}
	if a := e.phone.actions(); len(a) != 0 {
		t.Errorf("refused forms acted: %v", a)
	}
	// The phone's refusal is shown with the API's status.
	e.phone.fail = errBusy
	if w := b.post("/calls", "/calls/dial", url.Values{"to": {"1002"}}); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "phone: busy") {
		t.Errorf("a refused dial: %d", w.Code)
	}
}

// TestAccountPassword is the browser tier's step: the account's
// password from wrong to right; an empty password field keeps it.
func TestAccountPassword(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	page := b.get("/accounts").Body.String()
	if strings.Contains(page, "wrong") {
		t.Fatal("the accounts page shows the account's password")
	}
	form := url.Values{"user": {"1001"}, "password": {"pw1001"}, "domain": {"127.0.0.1"}, "registrar": {"127.0.0.1:5070"}, "transport": {"udp"}, "expires": {"300"}, "enabled": {"on"}}
	w := b.post("/accounts", "/accounts/0", form)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", w.Code, w.Body)
	}
	a := e.store.Config().Accounts[0]
	if a.Password != "pw1001" || a.Expires != 300*time.Second || !a.Enabled || a.AuthUser != "1001" {
		t.Errorf("saved %+v", a)
	}
	if w := b.get("/accounts"); !strings.Contains(w.Body.String(), "takes effect when phoned restarts") {
		t.Error("the page does not say the change needs a restart")
	}
	form.Del("password")
	form.Set("display_name", "Desk")
	if w := b.post("/accounts", "/accounts/0", form); w.Code != http.StatusSeeOther {
		t.Fatalf("save: %d", w.Code)
	}
	if a := e.store.Config().Accounts[0]; a.Password != "pw1001" || a.DisplayName != "Desk" {
		t.Errorf("an empty password field changed the password: %+v", a)
	}
	// Problems: the form's, then the config's; nothing saved.
	saves := e.store.saves
	for _, c := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"user": {"1001"}, "domain": {"bad domain"}}, "accounts[0].domain: &#34;bad domain&#34; is not a host name"},
		{url.Values{"user": {"10 01"}, "domain": {"x.example"}}, "accounts[0].user"},
		{url.Values{"user": {"1001"}, "domain": {"x.example"}, "expires": {"5"}}, "expires: &#34;5&#34; is not a whole number 60.."},
		{url.Values{"user": {"1001"}, "domain": {"x.example"}, "transport": {"sctp"}}, "accounts[0].transport"},
	} {
		if w := b.post("/accounts", "/accounts/0", c.form); w.Code != 400 || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("%v: %d, want 400 with %q\n%s", c.form, w.Code, c.want, w.Body)
		}
	}
	for _, p := range []string{"/accounts/5", "/accounts/x", "/accounts/-1"} {
		if w := b.post("/accounts", p, url.Values{"user": {"1"}, "domain": {"x"}}); w.Code != 404 {
			t.Errorf("POST %s: %d", p, w.Code)
		}
	}
	if e.store.saves != saves {
		t.Error("a refused account was saved")
	}
	// Add and delete.
	if w := b.post("/accounts", "/accounts/1", url.Values{"user": {"1002"}, "domain": {"pbx.example"}, "enabled": {"on"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", w.Code, w.Body)
	}
	if w := b.post("/accounts", "/accounts/0/delete", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("delete: %d", w.Code)
	}
	if as := e.store.Config().Accounts; len(as) != 1 || as[0].User != "1002" {
		t.Errorf("accounts = %+v", as)
	}
}

func TestLines(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	w := b.post("/accounts", "/lines/0", url.Values{"dnd": {"on"}, "dnd_code": {"480"}, "forward_busy": {"1003"}, "no_answer_after": {"15"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("%d\n%s", w.Code, w.Body)
	}
	want := "setline 0 {DND:true DNDCode:480 Forward:{Always: Busy:1003 NoAnswer: NoAnswerAfter:15}}"
	if a := e.phone.actions(); !slices.Equal(a, []string{want}) {
		t.Errorf("actions %q", a)
	}
	for _, f := range []url.Values{{"dnd_code": {"500"}}, {"no_answer_after": {"601"}}, {"forward_always": {"a\nb"}}} {
		if w := b.post("/accounts", "/lines/0", f); w.Code != 400 {
			t.Errorf("%v: %d", f, w.Code)
		}
	}
	if w := b.post("/accounts", "/lines/300", nil); w.Code != 404 {
		t.Errorf("line 300: %d", w.Code)
	}
}

func TestNetworkAndAudio(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	w := b.post("/network", "/network", url.Values{"strategies": {"stun, static"}, "stun_servers": {"stun.example.net:3478"}, "static_external": {"203.0.113.9"},
		"keepalive": {"20s"}, "upnp": {"on"}, "sip_min": {"5070"}, "sip_max": {"5079"}, "media_min": {"20000"}, "media_max": {"20099"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("network: %d\n%s", w.Code, w.Body)
	}
	c := e.store.Config()
	if !slices.Equal(c.NAT.Strategies, []string{"stun", "static"}) || c.NAT.Keepalive != 20*time.Second || !c.NAT.UPnP || c.NAT.EarlyUDP || c.Ports.SIP.Min != 5070 || c.Ports.Media.Max != 20099 {
		t.Errorf("saved %+v %+v", c.NAT, c.Ports)
	}
	// TURN over TLS with a fallback and a private CA, the change check and ICE.
	w = b.post("/network", "/network", url.Values{"strategies": {"stun, turn"}, "stun_servers": {"stun.example.net:3478"},
		"turn_server": {"turn.example.net:443"}, "turn_username": {"u"}, "turn_password": {"p"}, "turn_fallbacks": {"turn2.example.net:443, turn3.example.net:443"},
		"turn_transport": {"TLS"}, "turn_ca_file": {"/data/turn-ca.pem"}, "change_check": {"10s"}, "ice": {"on"},
		"sip_min": {"5070"}, "sip_max": {"5079"}, "media_min": {"20000"}, "media_max": {"20099"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("network with TURN over TLS: %d\n%s", w.Code, w.Body)
	}
	c = e.store.Config()
	if tu := c.NAT.TURN; tu.Transport != "tls" || tu.CAFile != "/data/turn-ca.pem" || !slices.Equal(tu.Fallbacks, []string{"turn2.example.net:443", "turn3.example.net:443"}) ||
		c.NAT.ChangeCheck != 10*time.Second || !c.NAT.ICE {
		t.Errorf("saved %+v", c.NAT)
	}
	page := b.get("/network").Body.String()
	for _, want := range []string{`<option selected>tls</option>`, `value="turn2.example.net:443, turn3.example.net:443"`, `value="/data/turn-ca.pem"`, `name="ice" checked`} {
		if !strings.Contains(page, want) {
			t.Errorf("network page lacks %s", want)
		}
	}
	for _, f := range []url.Values{
		{"turn_server": {"turn.example.net:3478"}, "turn_username": {"u"}, "turn_password": {"p"}, "turn_transport": {"sctp"}, "sip_min": {"5070"}, "sip_max": {"5079"}, "media_min": {"20000"}, "media_max": {"20099"}},
		{"turn_server": {"turn.example.net:3478"}, "turn_username": {"u"}, "turn_password": {"p"}, "turn_transport": {"udp"}, "turn_ca_file": {"/data/ca.pem"}, "sip_min": {"5070"}, "sip_max": {"5079"}, "media_min": {"20000"}, "media_max": {"20099"}},
		{"change_check": {"later"}},
		{"strategies": {"magic"}, "sip_min": {"5070"}, "sip_max": {"5079"}, "media_min": {"20000"}, "media_max": {"20099"}},
		{"keepalive": {"soon"}},
		{"sip_min": {"20000"}, "sip_max": {"20010"}, "media_min": {"20000"}, "media_max": {"20099"}},
		{"sip_min": {"70000"}},
	} {
		if w := b.post("/network", "/network", f); w.Code != 400 || !strings.Contains(w.Body.String(), `class="error"`) {
			t.Errorf("network %v: %d", f, w.Code)
		}
	}
	w = b.post("/audio", "/audio", url.Values{"input": {"tone:440"}, "output": {"null"}, "volume": {"55"}, "mic_gain": {"40"}, "tones": {"de"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("audio: %d\n%s", w.Code, w.Body)
	}
	if a := e.store.Config().Audio; a.Volume != 55 || a.Tones != "de" || a.Input != "tone:440" {
		t.Errorf("audio saved %+v", a)
	}
	for _, f := range []url.Values{{"volume": {"101"}, "input": {"silence"}, "output": {"null"}, "tones": {"us"}}, {"input": {"mp3:x"}, "output": {"null"}, "tones": {"us"}}, {"input": {"silence"}, "output": {"null"}, "tones": {"xx"}}} {
		if w := b.post("/audio", "/audio", f); w.Code != 400 {
			t.Errorf("audio %v: %d", f, w.Code)
		}
	}
}

func TestPhonebook(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	if w := b.get("/phonebook?edit=b1"); w.Code != 200 || !strings.Contains(w.Body.String(), "1002 desk") {
		t.Errorf("edit form: %d\n%s", w.Code, w.Body)
	}
	if w := b.post("/phonebook", "/phonebook", url.Values{"name": {"Carol"}, "numbers": {"1004 office\r\n\r\nsip:carol@example.com"}, "speed_dial": {"4"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", w.Code, w.Body)
	}
	if w := b.post("/phonebook", "/phonebook/b1", url.Values{"name": {"Robert"}, "numbers": {"1002"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", w.Code, w.Body)
	}
	if w := b.post("/phonebook", "/phonebook/b1/delete", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("delete: %d", w.Code)
	}
	want := []string{"addbook Carol [{1004 office} {sip:carol@example.com }] 4", "updatebook b1 Robert [{1002 }]", "deletebook b1"}
	if a := e.phone.actions(); !slices.Equal(a, want) {
		t.Errorf("actions %q", a)
	}
	e.phone.log = nil
	for _, f := range []url.Values{{"name": {""}, "numbers": {"1"}}, {"name": {"X"}, "numbers": {""}}, {"name": {"X"}, "numbers": {"1"}, "speed_dial": {"12"}}} {
		if w := b.post("/phonebook", "/phonebook", f); w.Code != 400 {
			t.Errorf("%v: %d", f, w.Code)
		}
	}
	if w := b.post("/phonebook", "/phonebook/zz/delete", nil); w.Code != 404 {
		t.Errorf("delete unknown: %d", w.Code)
	}
	if a := e.phone.actions(); len(a) != 0 {
		t.Errorf("refused forms acted: %v", a)
	}
}

func TestHistory(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	if w := b.get("/history?kind=missed"); w.Code != 200 || !strings.Contains(w.Body.String(), "Bob 1002") || strings.Contains(w.Body.String(), "<td>placed</td>") {
		t.Errorf("history: %d\n%s", w.Code, w.Body)
	}
	if w := b.post("/history", "/history/7/dial", nil); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/calls" {
		t.Errorf("redial: %d", w.Code)
	}
	if w := b.post("/history", "/history/8/dial", nil); w.Code != http.StatusConflict {
		t.Errorf("redial without a number: %d", w.Code)
	}
	if w := b.post("/history", "/history/99/dial", nil); w.Code != 404 {
		t.Errorf("redial unknown: %d", w.Code)
	}
	if w := b.post("/history", "/history/clear", nil); w.Code != http.StatusSeeOther {
		t.Errorf("clear: %d", w.Code)
	}
	if a := e.phone.actions(); !slices.Equal(a, []string{"callon 0 1002", "clearhistory"}) {
		t.Errorf("actions %q", a)
	}
}

// TestGolden compares rendered pages with testdata/*.golden.html (go
// test -update rewrites them).
func TestGolden(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	for _, p := range []string{"status", "calls", "login"} {
		bb := b
		if p == "login" {
			bb = e.browser(t)
		}
		w := bb.get("/" + p)
		if w.Code != 200 {
			t.Fatalf("GET /%s: %d", p, w.Code)
		}
		path := filepath.Join("testdata", p+".golden.html")
		if *update {
			if err := os.WriteFile(path, w.Body.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.Body.String(); got != string(want) {
			t.Errorf("/%s differs from %s (go test -update rewrites it):\n%s", p, path, got)
		}
	}
}

// TestStatusPage: what the status page must show, whatever its markup.
func TestStatusPage(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	body := b.get("/status").Body.String()
	for _, want := range []string{"failed", "403 authentication failed", "port-restricted-cone", "203.0.113.7:5060", "stun", `id="alg-warning"`, "Turn it off in the router",
		"busy → 1003", "sip:echo@127.0.0.1", "PCMU", "212 / 209", "1.4 %", "fair", `data-refresh="3"`} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
}

func TestNewNeedsParts(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without Status, Actions and Store")
	}
}

// TestLoginChecksBounded: with every password-check slot taken (other
// logins in progress), a login is 503 at once, not queued on the CPU.
func TestLoginChecksBounded(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	for range maxChecks {
		e.h.checks <- struct{}{}
	}
	if w := b.login(testPassword); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Errorf("login with no check slot: %d", w.Code)
	}
	for range maxChecks {
		<-e.h.checks
	}
	b.mustLogin()
}

// TestAccountFormKeepsInput: a refused account form shows what was
// typed, not the saved values; the other accounts' forms are untouched.
func TestAccountFormKeepsInput(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	w := b.post("/accounts", "/accounts/0", url.Values{"user": {"1001"}, "domain": {"bad domain"}, "display_name": {"Typed"}, "transport": {"tcp"}})
	body := w.Body.String()
	if w.Code != 400 || !strings.Contains(body, `name="domain" value="bad domain"`) || !strings.Contains(body, `name="display_name" value="Typed"`) ||
		!strings.Contains(body, `<option selected>tcp</option>`) || !strings.Contains(body, `<input type="checkbox" name="enabled"> Enabled`) {
		t.Errorf("%d\n%s", w.Code, body)
	}
	w = b.post("/accounts", "/accounts/1", url.Values{"user": {"1002"}, "domain": {"also bad"}})
	if body := w.Body.String(); w.Code != 400 || !strings.Contains(body, `name="domain" value="also bad"`) || !strings.Contains(body, `name="domain" value="127.0.0.1"`) {
		t.Errorf("new account: %d\n%s", w.Code, body)
	}
}

// TestCookiePerPort: two phones on one host (ports 8080 and 8081) keep
// their sessions apart: browsers scope cookies by host, not port.
func TestCookiePerPort(t *testing.T) {
	for _, c := range []struct {
		host string
		tls  bool
		want string
	}{
		{"127.0.0.1:8080", false, "deskphone_session_8080"},
		{"[::1]:8081", false, "deskphone_session_8081"},
		{"phone.local", false, "deskphone_session_80"},
		{"phone.local", true, "deskphone_session_443"},
		{"phone.local:x", false, "deskphone_session"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = c.host
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := sessionCookie(r); got != c.want {
			t.Errorf("Host %q tls=%v: %q, want %q", c.host, c.tls, got, c.want)
		}
	}
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	// The same session id sent as the other port's cookie is no session
	// there (httptest's Host is example.com: port 80).
	r := httptest.NewRequest("GET", "/status", nil)
	r.RemoteAddr = b.remote
	r.Host = "example.com:8081"
	r.AddCookie(&http.Cookie{Name: "deskphone_session_80", Value: b.cookie})
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther {
		t.Errorf("another port's cookie opened a session: %d", w.Code)
	}
}
