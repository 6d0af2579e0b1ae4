package natlab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The dual-stack segment (issue 17): IPv4 and IPv6 on one bridge, a
// Kamailio listening on both, and a name for it (dual17.lab) with an A
// and an AAAA record in the segment's own dnsmasq. phoned has both
// families and registers by the name, choosing the family as the
// config's docs say (AAAA first, IPv4 when IPv6 does not answer within
// sip.FamilyFallback); it calls a baresip that has only one family, with
// audio checked by content both ways. A third cell relays the IPv6 call
// through coturn over IPv6 (TURN over IPv6, portmgr/turn6.go).
//
//	s<i>-nat: bridge br6, 10.<i/256>.<i%256>.1/24 and fd64:<i>::1/64;
//	          Kamailio on udp:10.…1:5060 and udp:[fd64:<i>::1]:5060,
//	          dnsmasq on 10.…1:53, coturn on [fd64:<i>::1]:3478 (TURN cell)
//	   |-- s<i>-ph: phoned,  10.…2/24 and fd64:<i>::2/64
//	   `-- s<j>-ph: baresip, 10.…3/24 or fd64:<i>::3/64, not both
func v6turn17Cells(run func(string, func(*testing.T)), e *env) {
	run("dual-stack/phoned-to-baresip-v6/kamailio-dual", func(t *testing.T) { e.dualCall(t, dualV6) })
	run("dual-stack/phoned-to-baresip-v4/kamailio-dual-v6-dead", func(t *testing.T) { e.dualCall(t, dualV6Dead) })
	run("dual-stack/phoned-to-baresip-v6/coturn-v6-relay", func(t *testing.T) { e.dualCall(t, dualTURN6) })
	run("dual-stack/phoned-to-baresip-v6/coturn-v6-ipv4-relay", func(t *testing.T) { e.dualCall(t, dualTURN6Default) })
}

// dualCase is what a dual-stack cell varies.
type dualCase int

const (
	dualV6     dualCase = iota // the AAAA record answers: phoned on IPv6, baresip IPv6-only
	dualV6Dead                 // the AAAA record names a silent address: phoned falls back to IPv4, baresip IPv4-only
	dualTURN6                  // as dualV6, phoned relays its media through coturn over IPv6
	// dualTURN6Default: as dualTURN6, but coturn keeps RFC 6156's default
	// (an IPv4 relay when the client asks for no family): phoned refuses
	// it for the IPv6 call, whose media stays direct.
	dualTURN6Default
)

// dualDomain is the name of the dual-stack segment's Kamailio.
const dualDomain = "dual17.lab"

// dualSegment is one dual-stack segment.
type dualSegment struct {
	v4, v6  string // the router's addresses (Kamailio's, dnsmasq's, coturn's)
	phoned  *Site
	baresip *Site
	router  string
}

// dualSeg builds a segment for case c, starts its Kamailio and dnsmasq
// and registers the cleanups (processes first, then the namespaces).
func (e *env) dualSeg(t *testing.T, c dualCase) *dualSegment {
	t.Helper()
	l := e.lab
	i, err := e.in.takeIndex()
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.in.takeIndex()
	if err != nil {
		t.Fatal(err)
	}
	net4 := fmt.Sprintf("10.%d.%d.", i/256, i%256)
	net6 := fmt.Sprintf("fd64:%x::", i)
	var nss []string
	t.Cleanup(func() {
		for _, ns := range nss {
			if err := l.DelNS(ns); err != nil {
				t.Errorf("segment close: %v", err)
			}
		}
	})
	// Namespace names come from the site counter, like every other
	// site's: the address index (i, j) is a different sequence, and
	// "s<i>" could name another cell's live site.
	names := map[int]int64{i: e.n.Add(1), j: e.n.Add(1)}
	router, err := l.AddNS(fmt.Sprintf("s%d-nat", names[i]))
	if err != nil {
		t.Fatal(err)
	}
	nss = append(nss, router)
	seg := &dualSegment{v4: net4 + "1", v6: net6 + "1", router: router}
	for _, s := range [][]string{
		{"ip", "link", "add", "br6", "type", "bridge"},
		{"ip", "link", "set", "br6", "up"},
		{"ip", "addr", "add", seg.v4 + "/24", "dev", "br6"},
		{"ip", "-6", "addr", "add", seg.v6 + "/64", "dev", "br6", "nodad"},
	} {
		if err := l.Run(router, s...); err != nil {
			t.Fatal(err)
		}
	}
	for k, idx := range []int{i, j} {
		ns, err := l.AddNS(fmt.Sprintf("s%d-ph", names[idx]))
		if err != nil {
			t.Fatal(err)
		}
		nss = append(nss, ns)
		port := fmt.Sprintf("dsp%d", k)
		if err := l.Veth(ns, "eth0", router, port); err != nil {
			t.Fatal(err)
		}
		if err := l.Run(router, "ip", "link", "set", port, "master", "br6"); err != nil {
			t.Fatal(err)
		}
		ip4, ip6 := fmt.Sprintf("%s%d", net4, 2+k), fmt.Sprintf("%s%d", net6, 2+k)
		with4, with6 := true, true // phoned: both
		if k == 1 {                // baresip: one family
			with4, with6 = c == dualV6Dead, c != dualV6Dead
		}
		var steps [][]string
		if with4 {
			steps = append(steps, []string{"ip", "addr", "add", ip4 + "/24", "dev", "eth0"},
				[]string{"ip", "route", "add", "default", "via", seg.v4})
		}
		if with6 {
			steps = append(steps, []string{"ip", "-6", "addr", "add", ip6 + "/64", "dev", "eth0", "nodad"},
				[]string{"ip", "-6", "route", "add", "default", "via", seg.v6})
		}
		for _, s := range steps {
			if err := l.Run(ns, s...); err != nil {
				t.Fatal(err)
			}
		}
		site := &Site{Kind: "dual-stack", Name: fmt.Sprintf("s%d", names[idx]), Phone: ns, PhoneIP: ip4, WANIP: ip4, lab: l, in: e.in, idx: idx}
		if !with4 {
			site.PhoneIP, site.WANIP = "["+ip6+"]", ip6
		}
		if k == 0 {
			seg.phoned = site
		} else {
			seg.baresip = site
		}
	}
	name := shortName(t)
	// Kamailio on both families, taking the name as its own.
	cfg := plainKamailio17(seg.v4, dualDomain)
	cfg = strings.Replace(cfg, "listen=udp:"+seg.v4+":5060\n",
		"listen=udp:"+seg.v4+":5060\nlisten=udp:["+seg.v6+"]:5060\n", 1)
	cfg = strings.Replace(cfg, `alias="`+seg.v4+`"`, `alias="`+seg.v4+`"`+"\nalias=\"["+seg.v6+"]\"", 1)
	e.kamailioIn(t, router, "kamdual-"+name, cfg, seg.v4+":5060", "["+seg.v6+"]:5060")
	// The name's AAAA record: Kamailio's address, or one on the segment
	// nobody holds (no neighbour answers: REGISTERs to it go unanswered).
	rec6 := seg.v6
	if c == dualV6Dead {
		rec6 = aaaa(seg)
	}
	dns, err := l.Start(router, "dnsdual-"+name, nil, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--pid-file=", "--user=root", "--listen-address="+seg.v4, "--bind-interfaces",
		"--port=53", "--local=/lab/", "--local-ttl=5", "--log-queries", "--log-facility=-",
		"--host-record="+dualDomain+","+seg.v4+","+rec6)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dns.Stop)
	if err := l.waitUDP(router, seg.v4+":53", dns); err != nil {
		t.Fatal(err)
	}
	if c == dualTURN6 || c == dualTURN6Default {
		// coturn listening on IPv6 only. dualTURN6: allocating in the
		// family the client reached it over (pion/turn's client sends no
		// REQUESTED-ADDRESS-FAMILY); dualTURN6Default: RFC 6156's
		// default, IPv4, from an IPv4 relay address.
		family, relays := "keep", []string{"--relay-ip=" + seg.v6}
		if c == dualTURN6Default {
			family, relays = "ipv4", append(relays, "--relay-ip="+seg.v4)
		}
		args := append([]string{"turnserver", "-n", "--no-cli", "--no-tls", "--no-dtls",
			"--listening-ip=" + seg.v6, "--listening-port=3478"}, relays...)
		p, err := l.Start(router, "coturndual-"+name, nil, append(args,
			"--min-port=49152", "--max-port=65535", "--allocation-default-address-family="+family,
			"--lt-cred-mech", "--user="+TURNUser+":"+TURNPassword, "--realm="+Realm,
			"--fingerprint", "--no-multicast-peers", "--log-file=stdout", "--simple-log",
			"--pidfile="+filepath.Join(l.Dir, "coturndual-"+name+".pid"))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop)
		if err := l.waitUDP(router, "["+seg.v6+"]:3478", p); err != nil {
			t.Fatal(err)
		}
	}
	return seg
}

// aaaa is the AAAA record of the v6-dead case: an address on the
// segment nobody holds.
func aaaa(seg *dualSegment) string { return strings.TrimSuffix(seg.v6, "1") + "9" }

// logLine is the first line of p's log holding every one of subs, or
// "missing: " and them.
func logLine(p *Proc, subs ...string) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return "missing: " + err.Error()
	}
	for _, ln := range strings.Split(string(b), "\n") {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(ln, s)
		}
		if all {
			return strings.TrimSpace(ln)
		}
	}
	return "missing: " + strings.Join(subs, " ")
}

// kamailioIn checks and starts a Kamailio with cfg in namespace ns and
// waits for it on each of addrs (UDP); it stops with the test.
func (e *env) kamailioIn(t *testing.T, ns, name, cfg string, addrs ...string) *Proc {
	t.Helper()
	l := e.lab
	path := filepath.Join(l.Dir, name+".cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	rundir := filepath.Join(l.Dir, name+".run")
	if err := os.MkdirAll(rundir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(ns, "kamailio", "-c", "-f", path); err != nil {
		t.Fatalf("kamailio %s config check: %v", name, err)
	}
	p, err := l.Start(ns, name, nil, "kamailio", "-DD", "-E", "-f", path,
		"-m", "32", "-M", "4", "-P", filepath.Join(rundir, "k.pid"), "-Y", rundir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	for _, a := range addrs {
		if err := l.waitUDP(ns, a, p); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// dualCall runs one cell: phoned registers by name and calls baresip,
// audio checked by content both ways; the registration's family must be
// the one the case expects, and in the TURN cell the phone's media must
// be relayed on an IPv6 relayed address.
func (e *env) dualCall(t *testing.T, c dualCase) {
	start := time.Now()
	name := shortName(t)
	seg := e.dualSeg(t, c)
	user := e.user()
	accounts := fmt.Sprintf("  - {user: %q, password: %q, domain: %q, registrar: %q, expires: 60s}\n",
		user, SIPPassword, dualDomain, dualDomain+":5060")
	extra := ""
	if c == dualTURN6 || c == dualTURN6Default {
		extra = fmt.Sprintf("  strategies: [turn]\n  turn: {server: \"[%s]:3478\", username: %s, password: %s}\n",
			seg.v6, TURNUser, TURNPassword)
	}
	extra += fmt.Sprintf("sip:\n  dns_servers: [%s]\n", seg.v4)
	p := e.startPhoned17(t, seg.phoned, name+"-p", user, accounts, extra, 700)
	farReg := "[" + seg.v6 + "]"
	if c == dualV6Dead {
		farReg = seg.v4
	}
	b, err := seg.baresip.StartBaresip(name+"-b", BaresipOptions{User: e.user(), Registrar: farReg, ToneHz: 1300})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	scenario := map[dualCase]string{
		dualV6:           "dual-stack: phoned (A+AAAA name) -> baresip IPv6-only / kamailio on both",
		dualV6Dead:       "dual-stack: phoned (AAAA silent) -> baresip IPv4-only / kamailio on both",
		dualTURN6:        "dual-stack: phoned -> baresip IPv6-only, media relayed by coturn over IPv6",
		dualTURN6Default: "dual-stack: phoned -> baresip IPv6-only, coturn over IPv6 gives an IPv4 relay: refused, media direct",
	}[c]
	row := Row{Section: "ipv6", Scenario: scenario, Phone: "phoned+baresip", Outcome: Fail}
	st, ok := p.WaitFor(t.Context(), 15*time.Second, Registered)
	if !ok {
		row.Detail = "phoned not registered: " + p.Proc.Tail(1500)
		e.record(t, row, start)
		return
	}
	contact := st.Registration.Contact
	wantV6 := c != dualV6Dead
	if strings.Contains(contact, "[") != wantV6 {
		row.Detail = fmt.Sprintf("phoned registered with contact %s; want an IPv6 one: %v", contact, wantV6)
		e.record(t, row, start)
		return
	}
	res := Call(&PhonedEndpoint{P: p, Hz: 700}, &BaresipEndpoint{B: b, Hz: 1300}, farReg, e.timing)
	row.Detail, row.FirstAudio = "phoned contact "+contact+"; "+res.Detail, res.FirstAudio
	if res.OK {
		row.Outcome = Pass
	}
	// What the cell claims, from the logs: the IPv6 attempt and the
	// fallback; the relayed IPv6 address and baresip's media from it.
	var proofs []string
	switch c {
	case dualV6Dead:
		proofs = append(proofs, logLine(p.Proc, "failing over", "target=\"udp:["+aaaa(seg)+"]", "next=\"udp:"+seg.v4))
	case dualTURN6:
		proofs = append(proofs, logLine(p.Proc, "msg=relayed", "ext=["+seg.v6+"]:"),
			logLine(b.Proc, "receiving from ["+seg.v6+"]:"))
	case dualTURN6Default:
		proofs = append(proofs, logLine(p.Proc, "turn server skipped for its family", "server=["+seg.v6+"]:3478"),
			logLine(b.Proc, "receiving from ["+strings.TrimSuffix(seg.v6, "1")+"2]:"))
	}
	for _, pr := range proofs {
		if strings.HasPrefix(pr, "missing: ") {
			row.Outcome = Fail
		}
		row.Detail = pr + "; " + row.Detail
	}
	e.record(t, row, start)
}
