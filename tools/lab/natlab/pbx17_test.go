package natlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 17 against real servers: Kamailio with its presence modules as
// the PBX for busy lamps and message waiting, and a real DNS server
// (dnsmasq) with NAPTR, SRV and A records in front of two Kamailios for
// failover and for a phone that boots before DNS answers. Each cell
// starts its own servers on addresses of its own in the server
// namespace, so cells run beside the others and may stop their servers.

// Server addresses of the issue-17 cells (the server namespace's /24).
const (
	kamPresence = "203.0.113.30" // Kamailio with presence, presence_mwi, presence_dialoginfo, pua_dialoginfo
	kamFirst    = "203.0.113.31" // failover: the SRV target of priority 10
	kamSecond   = "203.0.113.32" // failover: the SRV target of priority 20
	dnsFailover = "203.0.113.33" // dnsmasq of the failover cell
	dnsLate     = "203.0.113.34" // dnsmasq of the late-DNS cell, started late
)

// Domains the cells' dnsmasqs serve.
const (
	failoverDomain = "pbx17.lab"
	lateDomain     = "late17.lab"
)

// failoverExpires is the registration lifetime of the failover cell's
// phones; the phone's documented worst case for a failover over UDP is
// one refresh interval (at most the lifetime) plus Timer F (32 s).
const failoverExpires = 60 * time.Second

func pbx17Cells(run func(string, func(*testing.T)), e *env) {
	run("pbx17/blf-mwi/kamailio-presence", func(t *testing.T) { e.blfMWI(t) })
	run("pbx17/dns-failover/kamailio-plain", func(t *testing.T) { e.dnsFailover(t) })
	run("pbx17/dns-late/kamailio-plain", func(t *testing.T) { e.dnsLate(t) })
}

// kamailioPresenceCfg is the registrar/proxy with the presence modules:
// presence keeps the subscriptions (tables in db_text files), it serves
// message-summary (presence_mwi) and dialog (presence_dialoginfo), and
// pua_dialoginfo publishes the state of every call through the proxy
// (the dialog module tracks it) to the presence module of the same
// instance. PUBLISH from the instance itself (pua) or from the lab's
// voicemail stand-in on the same address needs no credentials; phones'
// SUBSCRIBEs are challenged like their INVITEs.
const kamailioPresenceCfg = `#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=2
listen=udp:%[1]s:5060
disable_tcp=yes
auto_aliases=no
alias="%[1]s"
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "db_text.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "auth.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "dialog.so"
loadmodule "presence.so"
loadmodule "presence_mwi.so"
loadmodule "presence_dialoginfo.so"
loadmodule "pua.so"
loadmodule "pua_dialoginfo.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 300)
modparam("rr", "enable_full_lr", 1)
modparam("tm", "fr_timer", 5000)
modparam("tm", "fr_inv_timer", 30000)
modparam("presence", "db_url", "text://%[2]s")
modparam("presence", "server_address", "sip:%[1]s:5060")
modparam("pua", "db_url", "text://%[2]s")
# Without it a user with no published state gets an empty NOTIFY, which
# leaves the lamp unknown: the dummy dialog says idle.
modparam("presence_dialoginfo", "force_dummy_dialog", 1)
modparam("pua_dialoginfo", "include_callid", 1)
modparam("pua_dialoginfo", "include_tags", 1)
modparam("pua_dialoginfo", "include_localremote", 1)

request_route {
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	if (!sanity_check("1511", "7")) { exit; }
	xlog("L_INFO", "REQ $rm $ru from $si:$sp\n");
	force_rport();
	if (has_totag()) {
		if (loose_route()) { route(RELAY); exit; }
		if (is_method("SUBSCRIBE") && uri==myself) { route(PRESENCE); exit; }
		if (is_method("ACK")) { if (t_check_trans()) { route(RELAY); } exit; }
		sl_send_reply("404", "Not here");
		exit;
	}
	if (is_method("CANCEL")) { if (t_check_trans()) { route(RELAY); } exit; }
	t_check_trans();
	if (is_method("OPTIONS") && uri==myself && $rU==$null) { sl_send_reply("200", "OK"); exit; }
	if (is_method("REGISTER")) {
		if (!pv_www_authenticate("$td", "%[3]s", "0")) { www_challenge("$td", "0"); exit; }
		consume_credentials();
		if (!save("location")) { sl_reply_error(); }
		exit;
	}
	if (is_method("PUBLISH|SUBSCRIBE")) { route(PRESENCE); exit; }
	if (is_method("INVITE|MESSAGE")) {
		if (!pv_proxy_authenticate("$fd", "%[3]s", "0")) { proxy_challenge("$fd", "0"); exit; }
		consume_credentials();
	}
	if (is_method("INVITE")) {
		record_route();
		dlg_manage(); # pua_dialoginfo publishes every dialog the module tracks
	}
	if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
	route(RELAY);
}

route[RELAY] {
	if (!t_relay()) { sl_reply_error(); }
	exit;
}

route[PRESENCE] {
	if (!has_totag() && !(src_ip==myself)) {
		if (!pv_proxy_authenticate("$fd", "%[3]s", "0")) { proxy_challenge("$fd", "0"); exit; }
		consume_credentials();
	}
	if (!t_newtran()) { sl_reply_error(); exit; }
	if (is_method("PUBLISH")) { handle_publish(); } else { handle_subscribe(); }
	t_release();
	exit;
}
`

// dbtextSchema is where Debian's kamailio package keeps empty db_text
// tables.
const dbtextSchema = "/usr/share/kamailio/dbtext/kamailio"

// serverAddr adds addr to the server namespace (again on a second try).
func (e *env) serverAddr(t *testing.T, addr string) {
	t.Helper()
	if err := e.lab.Run(e.in.Server, "ip", "addr", "replace", addr+"/24", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
}

// startKamailio17 checks and starts a Kamailio with cfg in the server
// namespace and waits for it on addr:5060; it stops with the test.
func (e *env) startKamailio17(t *testing.T, name, addr, cfg string) *Proc {
	t.Helper()
	path := filepath.Join(e.lab.Dir, name+".cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	rundir := filepath.Join(e.lab.Dir, name+".run")
	if err := os.MkdirAll(rundir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := e.lab.Run(e.in.Server, "kamailio", "-c", "-f", path); err != nil {
		t.Fatalf("kamailio %s config check: %v", name, err)
	}
	p, err := e.lab.Start(e.in.Server, name, nil, "kamailio", "-DD", "-E", "-f", path,
		"-m", "32", "-M", "4", "-P", filepath.Join(rundir, "k.pid"), "-Y", rundir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	if err := e.lab.waitUDP(e.in.Server, addr+":5060", p); err != nil {
		t.Fatal(err)
	}
	return p
}

// plainKamailio17 is the lab's plain registrar/proxy on addr, also
// taking domain as its own.
func plainKamailio17(addr, domain string) string {
	cfg := fmt.Sprintf(kamailioCfg, addr, "\t;", SIPPassword, "\t;", PBXEarly)
	return strings.Replace(cfg, `alias="`+addr+`"`, `alias="`+addr+`"`+"\nalias=\""+domain+"\"", 1)
}

// startDNS starts dnsmasq on ip:53 in the server namespace, answering
// from records (dnsmasq options) only: no upstream, no hosts file, and
// names under "lab" it has no record of are NXDOMAIN.
func (e *env) startDNS(t *testing.T, name, ip string, records ...string) *Proc {
	t.Helper()
	args := append([]string{"dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--pid-file=", "--user=root", "--listen-address=" + ip, "--bind-interfaces", "--port=53",
		"--local=/lab/", "--local-ttl=5", "--log-queries", "--log-facility=-"}, records...)
	p, err := e.lab.Start(e.in.Server, name, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	if err := e.lab.waitUDP(e.in.Server, ip+":53", p); err != nil {
		t.Fatal(err)
	}
	return p
}

// startPhoned17 starts phoned in site s with accounts (the YAML of the
// accounts list, two-space indented items) and extra top-level YAML.
func (e *env) startPhoned17(t *testing.T, s *Site, name, user, accounts, extra string, hz int) *Phoned {
	t.Helper()
	wav := filepath.Join(e.lab.Dir, name+".wav")
	cfg := "accounts:\n" + accounts + fmt.Sprintf(`ports:
  sip: {min: 5060, max: 5069}
  media: {min: 16384, max: 16483}
audio:
  input: "tone:%d"
  output: "wav:%s"
api:
  listen: "127.0.0.1:8080"
log:
  level: debug
nat:
  upnp: false
`, hz, wav) + extra
	path := filepath.Join(e.lab.Dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := e.lab.Start(s.Phone, name, nil, e.phoned, "-config", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	ph := &Phoned{Proc: p, WAV: wav, Site: s, User: user, client: &http.Client{
		Timeout:   3 * time.Second,
		Transport: &http.Transport{DialContext: DialContext(s.Phone), DisableKeepAlives: true},
	}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := ph.Status(); err == nil {
			return ph
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("phoned %s did not serve its API: %s", name, p.Tail(3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// status17 is the part of the status document the issue-17 cells read.
type status17 struct {
	Phone struct {
		State string `json:"state"`
		Lines []struct {
			Waiting bool `json:"messages_waiting"`
			New     int  `json:"new_messages"`
			Old     int  `json:"old_messages"`
		} `json:"lines"`
		Lamps []struct {
			Key    string `json:"key"`
			User   string `json:"user"`
			State  string `json:"state"`
			Pickup bool   `json:"pickup"`
		} `json:"lamps"`
	} `json:"phone"`
	Lines []struct {
		Registration struct {
			State  string
			Code   int
			Reason string
			Server string
		} `json:"registration"`
		Subscriptions []struct {
			Event  string `json:"event"`
			State  string `json:"state"`
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		} `json:"subscriptions"`
	} `json:"lines"`
}

// lamp is the state of busy lamp key, "" when there is none.
func (s *status17) lamp(key string) string {
	if s == nil {
		return ""
	}
	for _, l := range s.Phone.Lamps {
		if l.Key == key {
			return l.State
		}
	}
	return ""
}

// subscribed reports whether line 0 holds an active subscription to event.
func (s *status17) subscribed(event string) bool {
	for _, l := range s.Lines[:min(1, len(s.Lines))] {
		for _, sub := range l.Subscriptions {
			if sub.Event == event && sub.State == "active" {
				return true
			}
		}
	}
	return false
}

// reg is line 0's registration as one line of text.
func (s *status17) reg() string {
	if s == nil {
		return "no status"
	}
	if len(s.Lines) == 0 {
		return "no lines"
	}
	r := s.Lines[0].Registration
	return fmt.Sprintf("%s %d %s via %s", r.State, r.Code, r.Reason, r.Server)
}

// status17 fetches p's status.
func (p *Phoned) status17() (*status17, error) {
	res, err := p.client.Get("http://127.0.0.1:8080/api/status")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var st status17
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

// wait17 polls p's status until cond holds or d passes; it returns the
// last status (nil when none came) and whether cond held.
func (p *Phoned) wait17(d time.Duration, cond func(*status17) bool) (*status17, bool) {
	deadline := time.Now().Add(d)
	var last *status17
	for {
		if st, err := p.status17(); err == nil {
			last = st
			if cond(st) {
				return st, true
			}
		}
		if time.Now().After(deadline) {
			return last, false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// publishMWI sends the message-summary state of user's mailbox to the
// presence Kamailio in a PUBLISH (RFC 3903) from the server namespace,
// as a voicemail system does, and returns the final status code.
func (e *env) publishMWI(user string, newMsgs, oldMsgs int) (int, error) {
	c, err := ListenUDP(e.in.Server, kamPresence+":0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	body := fmt.Sprintf("Messages-Waiting: %s\r\nMessage-Account: sip:%s@%s\r\nVoice-Message: %d/%d (0/0)\r\n",
		map[bool]string{true: "yes", false: "no"}[newMsgs > 0], user, kamPresence, newMsgs, oldMsgs)
	aor := fmt.Sprintf("sip:%s@%s", user, kamPresence)
	req := fmt.Sprintf("PUBLISH %[1]s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %[2]s;branch=z9hG4bK-vm%[3]d;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <%[1]s>;tag=vm%[3]d\r\nTo: <%[1]s>\r\nCall-ID: vm%[3]d@%[4]s\r\nCSeq: 1 PUBLISH\r\n"+
		"Event: message-summary\r\nExpires: 3600\r\nContent-Type: application/simple-message-summary\r\n"+
		"Content-Length: %[5]d\r\n\r\n%[6]s",
		aor, c.LocalAddr(), time.Now().UnixNano(), kamPresence, len(body), body)
	dst := &net.UDPAddr{IP: net.ParseIP(kamPresence), Port: 5060}
	if _, err := c.WriteTo([]byte(req), dst); err != nil {
		return 0, err
	}
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = c.SetReadDeadline(deadline)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return 0, fmt.Errorf("no final response to PUBLISH: %w", err)
		}
		var code int
		if _, err := fmt.Sscanf(string(buf[:n]), "SIP/2.0 %d", &code); err == nil && code >= 200 {
			return code, nil
		}
	}
}

// blfMWI: phone A watches B's line on blf1 and subscribes to its own
// message summary at a Kamailio with the presence modules. C calls B:
// A's lamp goes ringing, then busy when B answers, then idle when C
// hangs up, all from the dialog state pua_dialoginfo publishes. A
// voicemail system's PUBLISH of A's message summary lights A's message
// waiting with the counts.
func (e *env) blfMWI(t *testing.T) {
	start := time.Now()
	row := Row{Section: "pbx (issue 17)", Scenario: "busy lamp and message waiting / kamailio presence modules", Phone: "phoned"}
	fail := func(format string, args ...any) {
		row.Outcome, row.Detail = Fail, fmt.Sprintf(format, args...)
		e.record(t, row, start)
	}
	e.serverAddr(t, kamPresence)
	db := filepath.Join(e.lab.Dir, shortName(t)+".db")
	if err := os.MkdirAll(db, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := e.lab.Run(e.in.Server, "sh", "-c", "cp "+dbtextSchema+"/* "+db+"/"); err != nil {
		t.Fatal(err)
	}
	kam := e.startKamailio17(t, shortName(t)+"-kamailio", kamPresence, fmt.Sprintf(kamailioPresenceCfg, kamPresence, db, SIPPassword))
	a, b, c := e.user(), e.user(), e.user()
	account := func(user string, extra string) string {
		return fmt.Sprintf("  - user: \"%s\"\n    password: \"%s\"\n    domain: \"%s\"\n    registrar: \"%s:5060\"\n    expires: 60s\n%s",
			user, SIPPassword, kamPresence, kamPresence, extra)
	}
	pa := e.startPhoned17(t, e.site(t, NoNAT), shortName(t)+"-a", a, account(a, "    subscribe_mwi: true\n"),
		fmt.Sprintf("blf:\n  - key: blf1\n    user: \"%s\"\n    label: B\n", b), 700)
	pb := e.startPhoned17(t, e.site(t, NoNAT), shortName(t)+"-b", b, account(b, ""), "", 1300)
	pc := e.startPhoned17(t, e.site(t, NoNAT), shortName(t)+"-c", c, account(c, ""), "", 1700)
	for _, p := range []*Phoned{pb, pc} {
		if st, ok := p.wait17(10*time.Second, func(s *status17) bool { return len(s.Lines) > 0 && s.Lines[0].Registration.State == "registered" }); !ok {
			fail("%s not registered: %+v", p.User, st)
			return
		}
	}
	st, ok := pa.wait17(15*time.Second, func(s *status17) bool {
		return len(s.Lines) > 0 && s.Lines[0].Registration.State == "registered" && s.subscribed("dialog") && s.subscribed("message-summary")
	})
	if !ok {
		fail("A not registered and subscribed within 15 s: %+v; kamailio: %s", st, kam.Tail(1500))
		return
	}
	var steps []string
	lampIs := func(what, state string, d time.Duration) bool {
		t0 := time.Now()
		st, ok := pa.wait17(d, func(s *status17) bool { return s.lamp("blf1") == state })
		if !ok {
			fail("%s; A's lamp did not go %s within %v (it is %q); kamailio: %s", strings.Join(steps, ", "), state, d, st.lamp("blf1"), kam.Tail(1500))
			return false
		}
		steps = append(steps, fmt.Sprintf("%s: lamp %s after %.1f s", what, state, time.Since(t0).Seconds()))
		return true
	}
	if !lampIs("no call", "idle", 10*time.Second) {
		return
	}
	if err := pc.Post("/api/call", map[string]string{"to": b}); err != nil {
		fail("C calls B: %v", err)
		return
	}
	if _, ok := pb.WaitFor(context.Background(), 6*time.Second, PhoneState("ringing")); !ok {
		fail("B never rang")
		return
	}
	if !lampIs("C calls B", "ringing", 10*time.Second) {
		return
	}
	if st, _ := pa.status17(); st != nil && len(st.Phone.Lamps) > 0 && st.Phone.Lamps[0].Pickup {
		steps[len(steps)-1] += " (dialog identified for a pickup)"
	}
	// Directed pickup by Replaces from the lamp: behind a proxy the INVITE
	// reaches B, which did not initiate the early dialog and refuses it
	// 481 (RFC 3891 §3, docs/mwi-blf.md); B's call keeps ringing.
	if err := pa.Post("/api/key", map[string]string{"key": "blf1"}); err != nil {
		fail("A presses blf1: %v", err)
		return
	}
	code, ok := pa.placedCode(b, 10*time.Second)
	if !ok {
		fail("%s; A's pickup attempt did not end within 10 s", strings.Join(steps, ", "))
		return
	}
	_ = pa.Post("/api/hangup", nil)
	if _, ok := pb.WaitFor(context.Background(), time.Second, PhoneState("ringing")); !ok {
		fail("%s; B stopped ringing after A's pickup attempt (answered %d)", strings.Join(steps, ", "), code)
		return
	}
	steps = append(steps, fmt.Sprintf("A presses blf1 (pickup by Replaces): answered %d, B still rings", code))
	if err := pb.Post("/api/answer", nil); err != nil {
		fail("B answers: %v", err)
		return
	}
	if !lampIs("B answers", "busy", 10*time.Second) {
		return
	}
	// C hangs up once its own call is up, so the cell reads the lamp after
	// a BYE. (A hangup racing B's 200 OK once left C's call up here:
	// CANCEL after the 2xx, no BYE; voip/sip TestCancelAfterAnswerSendsBye.)
	if _, ok := pc.WaitFor(context.Background(), 5*time.Second, PhoneState("talking")); !ok {
		fail("%s; C's call not talking within 5 s", strings.Join(steps, ", "))
		return
	}
	if err := pc.Post("/api/hangup", nil); err != nil {
		fail("C hangs up: %v", err)
		return
	}
	if !lampIs("C hangs up", "idle", 10*time.Second) {
		return
	}
	code, err := e.publishMWI(a, 2, 5)
	if err != nil || code != 200 {
		fail("%s; voicemail PUBLISH: %d %v; kamailio: %s", strings.Join(steps, ", "), code, err, kam.Tail(1500))
		return
	}
	t0 := time.Now()
	st, ok = pa.wait17(10*time.Second, func(s *status17) bool {
		return len(s.Phone.Lines) > 0 && s.Phone.Lines[0].Waiting && s.Phone.Lines[0].New == 2 && s.Phone.Lines[0].Old == 5
	})
	if !ok {
		shown := "no status"
		if st != nil {
			shown = fmt.Sprintf("%+v", st.Phone.Lines)
		}
		fail("%s; message waiting not shown within 10 s: %s", strings.Join(steps, ", "), shown)
		return
	}
	steps = append(steps, fmt.Sprintf("voicemail PUBLISH 2/5: message waiting 2 new 5 old after %.1f s", time.Since(t0).Seconds()))
	row.Outcome, row.Detail = Pass, strings.Join(steps, ", ")
	e.record(t, row, start)
}

// dnsFailover: two phones find their registrar through dnsmasq (NAPTR
// to SRV, Kamailio 1 at priority 10 and Kamailio 2 at priority 20, then
// A). Both register with the first; it is stopped; each must register
// with the second within one registration lifetime plus 32 s (the
// promise of docs/config.md, DNS and failover), and a call between them
// then has audio both ways.
func (e *env) dnsFailover(t *testing.T) {
	start := time.Now()
	row := Row{Section: "pbx (issue 17)", Scenario: "DNS NAPTR/SRV failover to the second Kamailio / dnsmasq", Phone: "phoned"}
	fail := func(format string, args ...any) {
		row.Outcome, row.Detail = Fail, fmt.Sprintf(format, args...)
		e.record(t, row, start)
	}
	for _, a := range []string{kamFirst, kamSecond, dnsFailover} {
		e.serverAddr(t, a)
	}
	k1 := e.startKamailio17(t, shortName(t)+"-k1", kamFirst, plainKamailio17(kamFirst, failoverDomain))
	e.startKamailio17(t, shortName(t)+"-k2", kamSecond, plainKamailio17(kamSecond, failoverDomain))
	d := failoverDomain
	e.startDNS(t, shortName(t)+"-dnsmasq", dnsFailover,
		"--naptr-record="+d+",10,10,S,SIP+D2U,,_sip._udp."+d,
		"--srv-host=_sip._udp."+d+",k1."+d+",5060,10,10",
		"--srv-host=_sip._udp."+d+",k2."+d+",5060,20,10",
		"--host-record=k1."+d+","+kamFirst,
		"--host-record=k2."+d+","+kamSecond)
	account := func(user string) string {
		return fmt.Sprintf("  - user: \"%s\"\n    password: \"%s\"\n    domain: \"%s\"\n    expires: %ds\n",
			user, SIPPassword, d, int(failoverExpires/time.Second))
	}
	sip := fmt.Sprintf("sip:\n  dns_servers: [\"%s\"]\n", dnsFailover)
	a, b := e.user(), e.user()
	pa := e.startPhoned17(t, e.site(t, NoNAT), shortName(t)+"-a", a, account(a), sip, 700)
	pb := e.startPhoned17(t, e.site(t, NoNAT), shortName(t)+"-b", b, account(b), sip, 1300)
	on := func(server string) func(*status17) bool {
		return func(s *status17) bool {
			return len(s.Lines) > 0 && s.Lines[0].Registration.State == "registered" && strings.Contains(s.Lines[0].Registration.Server, server)
		}
	}
	for _, p := range []*Phoned{pa, pb} {
		if st, ok := p.wait17(15*time.Second, on(kamFirst)); !ok {
			fail("%s not registered with the first Kamailio (%s) within 15 s: %s", p.User, kamFirst, st.reg())
			return
		}
	}
	k1.Stop()
	stopped := time.Now()
	budget := failoverExpires + 32*time.Second
	var took []string
	for _, p := range []*Phoned{pa, pb} {
		st, ok := p.wait17(budget+5*time.Second-time.Since(stopped), on(kamSecond))
		if !ok {
			fail("%s not registered with the second Kamailio within %v of stopping the first: %s", p.User, budget, st.reg())
			return
		}
		took = append(took, fmt.Sprintf("%s %.1f s", p.User, time.Since(stopped).Seconds()))
	}
	last := time.Since(stopped)
	res := Call(&PhonedEndpoint{P: pa, Hz: 700}, &PhonedEndpoint{P: pb, Hz: 1300}, "", e.timing)
	row.Detail = fmt.Sprintf("re-registered with %s after the first stopped: %s (budget %v: expires %v + 32 s); call after: %s",
		kamSecond, strings.Join(took, ", "), budget, failoverExpires, res.Detail)
	row.FirstAudio = res.FirstAudio
	row.Outcome = Fail
	if res.OK && last <= budget {
		row.Outcome = Pass
	}
	e.record(t, row, start)
}

// dnsLate: a phone starts while its DNS server does not answer yet. It
// keeps running, says "cannot resolve" in its status, and registers once
// dnsmasq starts (SRV to the plain Kamailio).
func (e *env) dnsLate(t *testing.T) {
	start := time.Now()
	row := Row{Section: "pbx (issue 17)", Scenario: "phone boots before DNS answers / dnsmasq started late", Phone: "phoned"}
	fail := func(format string, args ...any) {
		row.Outcome, row.Detail = Fail, fmt.Sprintf(format, args...)
		e.record(t, row, start)
	}
	e.serverAddr(t, dnsLate)
	u := e.user()
	account := fmt.Sprintf("  - user: \"%s\"\n    password: \"%s\"\n    domain: \"%s\"\n    expires: 60s\n", u, SIPPassword, lateDomain)
	p := e.startPhoned17(t, e.site(t, NoNAT), shortName(t), u, account, fmt.Sprintf("sip:\n  dns_servers: [\"%s\"]\n", dnsLate), 700)
	st, ok := p.wait17(20*time.Second, func(s *status17) bool {
		return len(s.Lines) > 0 && strings.Contains(s.Lines[0].Registration.Reason, "cannot resolve")
	})
	if !ok {
		fail("no \"cannot resolve\" in the status within 20 s: %s", st.reg())
		return
	}
	said := st.reg()
	time.Sleep(10 * time.Second) // a while without DNS: the phone must keep running
	if p.Proc.Exited() {
		fail("phoned exited without DNS: %s", p.Proc.Tail(1500))
		return
	}
	e.startDNS(t, shortName(t)+"-dnsmasq", dnsLate,
		"--srv-host=_sip._udp."+lateDomain+",kp."+lateDomain+",5060,10,10",
		"--host-record=kp."+lateDomain+","+KamailioPlain)
	dnsUp := time.Now()
	// The retry back-off doubles from 2 s: after about 20 s of failures
	// the next try is due within 32 s.
	st, ok = p.wait17(45*time.Second, func(s *status17) bool { return len(s.Lines) > 0 && s.Lines[0].Registration.State == "registered" })
	if !ok {
		fail("status said %q, but not registered within 45 s of DNS starting: %s", said, st.reg())
		return
	}
	row.Outcome = Pass
	row.Detail = fmt.Sprintf("status before DNS: %s; registered %.1f s after dnsmasq started: %s", said, time.Since(dnsUp).Seconds(), st.reg())
	e.record(t, row, start)
}

// placedCode waits up to d for a placed call to user in p's history and
// returns its final code (0 for a call that was answered).
func (p *Phoned) placedCode(user string, d time.Duration) (int, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		res, err := p.client.Get("http://127.0.0.1:8080/api/history?kind=placed")
		if err == nil {
			var h struct {
				History []struct {
					Remote string `json:"remote"`
					Code   int    `json:"code"`
				} `json:"history"`
			}
			err = json.NewDecoder(res.Body).Decode(&h)
			res.Body.Close()
			for _, e := range h.History {
				if err == nil && strings.Contains(e.Remote, user) {
					return e.Code, true
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, false
}
