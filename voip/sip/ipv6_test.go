package sip

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/sip/resolve/resolvetest"
	"github.com/pion/transport/v4/stdnet"
)

// loopback6 skips the test when the host has no IPv6 loopback.
func loopback6(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	c, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	c.Close()
}

// TestPBXOverIPv6 registers alice and bob to tools/pbx on [::1] over
// SIP/UDP, then SIP/TCP, then SIP/TLS, and alice calls bob through it: the port manager
// picks IPv6 sockets from the route toward the registrar (no bind address
// is configured), Via and Contact carry [::1], the SDPs say c=IN IP6, and
// each hears the other's tone; then alice calls the PBX's echo service
// and hears her own tone back over IPv6.
func TestPBXOverIPv6(t *testing.T) {
	loopback6(t)
	for i, tr := range []string{"udp", "tcp", "tls"} {
		t.Run(tr, func(t *testing.T) { pbxOverIPv6(t, tr, uint16(52160+200*i)) })
	}
}

func pbxOverIPv6(t *testing.T, tr string, base uint16) {
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	cert, pool := selfSigned(t)
	srv, err := pbx.New(pbx.Config{
		Realm:     "pbx.test",
		Users:     map[string]string{"alice": "a-secret", "bob": "b-secret"},
		Net:       n,
		Listen:    netip.MustParseAddrPort("[::1]:0"),
		TCP:       netip.MustParseAddrPort("[::1]:0"),
		TLS:       netip.MustParseAddrPort("[::1]:0"),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	registrar := srv.Addr().String()
	switch tr {
	case "tcp":
		registrar = srv.TCPAddr().String()
	case "tls":
		registrar = srv.TLSAddr().String()
	}
	mk := func(user, pass string, base uint16) *phone {
		p := newPhoneWith(t, portmgr.Config{Net: n, PoolSize: -1,
			SIPPorts:   portmgr.Range{Min: base, Max: base + 9},
			MediaPorts: portmgr.Range{Min: base + 1000, Max: base + 1099}},
			func(c *Config) {
				c.Account = Account{User: user, Password: pass, Domain: "pbx.test", Transport: tr,
					Registrar: registrar, TLS: &tls.Config{RootCAs: pool}}
			})
		p.wait = 20 * time.Second
		return p
	}
	a := mk("alice", "a-secret", base)
	b := mk("bob", "b-secret", base+100)
	for _, p := range []*phone{a, b} {
		st := p.waitReg(t, RegRegistered)
		if !strings.Contains(st.Contact, "@[::1]:") {
			t.Errorf("contact %q: want [::1]", st.Contact)
		}
		if l := p.ua.mapping().Local(); tr == "udp" && !l.Addr().Is6() {
			t.Errorf("SIP socket %v: want IPv6", l)
		}
	}

	ca, err := a.ua.Dial(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	cb := b.waitIncoming(t)
	inv := cb.inviteRequest()
	if v := inv.Via(); v == nil || !strings.Contains(v.String(), "[::1]") {
		t.Errorf("INVITE Via %v: want [::1]", v)
	}
	if body := string(inv.Body()); !strings.Contains(body, "c=IN IP6 ::1\r\n") || !strings.Contains(body, " IN IP6 ::1\r\n") {
		t.Errorf("offer without IN IP6:\n%s", body)
	}
	if err := cb.Answer(); err != nil {
		t.Fatal(err)
	}
	a.waitCall(t, ca, StateTalking)
	// Real sockets on a shared machine: talk in rounds of a second until
	// both hear the other's tone (a loaded host may start media late),
	// at most ten rounds.
	heardA, heardB := false, false
	for round := 0; round < 10 && !(heardA && heardB); round++ {
		gotA, gotB := talkBoth(t, ca, cb, 440, 1000, time.Second)
		heardA = tone.Contains(tail(gotA, 0.5), 1000, 8000)
		heardB = tone.Contains(tail(gotB, 0.5), 440, 8000)
	}
	if !heardA {
		t.Error("alice does not hear bob's 1 kHz")
	}
	if !heardB {
		t.Error("bob does not hear alice's 440 Hz")
	}
	for _, c := range []*Call{ca, cb} {
		if mp := c.mapping; mp == nil || !mp.Local().Addr().Is6() {
			t.Errorf("%s: media socket not IPv6", c)
		}
	}
	cb.Hangup()
	if ev := a.waitCall(t, ca, StateEnded); ev.Reason != "remote hangup" {
		t.Errorf("alice's call ended with %q, want remote hangup", ev.Reason)
	}

	// tools/pbx's own media over IPv6: its echo service returns alice's
	// tone.
	ce, err := a.ua.Dial(context.Background(), "echo")
	if err != nil {
		t.Fatal(err)
	}
	a.waitCall(t, ce, StateTalking)
	echoed := false
	for round := 0; round < 10 && !echoed; round++ {
		echoed = tone.Contains(tail(talk(t, ce, 440, time.Second), 0.5), 440, 8000)
	}
	if !echoed {
		t.Error("echo over IPv6 did not return alice's 440 Hz")
	}
	ce.Hangup()
	a.waitCall(t, ce, StateEnded)
}

// TestParseServerIPv6: IPv6 registrars in every form a config may hold
// give the bracketed host and the port.
func TestParseServerIPv6(t *testing.T) {
	for in, want := range map[string]string{
		"2001:db8::5":             "[2001:db8::5]:0",
		"[2001:db8::5]":           "[2001:db8::5]:0",
		"[2001:db8::5]:5070":      "[2001:db8::5]:5070",
		"sip:[2001:db8::5]:5070":  "[2001:db8::5]:5070",
		"sip:[2001:db8::5];lr":    "[2001:db8::5]:0",
		"sips:[fd00::1]:5061":     "[fd00::1]:5061",
		"sip:pbx@[2001:db8::5]":   "[2001:db8::5]:0",
		"pbx.example.com:5060":    "pbx.example.com:5060",
		"sip:192.0.2.1:5060;lr":   "192.0.2.1:5060",
		"[::ffff:192.0.2.1]:5060": "[::ffff:192.0.2.1]:5060",
	} {
		u, err := parseServer(in, "")
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		host := strings.Trim(u.Host, "[]")
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if got := host + ":" + strconv.Itoa(u.Port); got != want {
			t.Errorf("%q: host %q port %d, want %s", in, u.Host, u.Port, want)
		}
	}
}

// TestParseTargetIPv6Domain: with an IPv6 literal as the account's
// domain (a v6-only PBX without a name), a dialled number, a tel: URI
// and a user@[v6] target give a URI whose host is that address.
func TestParseTargetIPv6Domain(t *testing.T) {
	for _, tc := range []struct{ in, domain, user, host string }{
		{"2002", "fd64:1::1", "2002", "fd64:1::1"},
		{"tel:+4930123", "fd64:1::1", "+4930123", "fd64:1::1"},
		{"2002@[2001:db8::7]", "pbx.example", "2002", "2001:db8::7"},
		{"sip:2002@[2001:db8::7]:5070", "fd64:1::1", "2002", "2001:db8::7"},
		{"2002", "[fd64:1::1]", "2002", "fd64:1::1"},
	} {
		u, err := parseTarget(tc.in, tc.domain)
		if err != nil {
			t.Errorf("%q at %q: %v", tc.in, tc.domain, err)
			continue
		}
		if u.User != tc.user || strings.Trim(u.Host, "[]") != tc.host {
			t.Errorf("%q at %q: user %q host %q, want %q %q", tc.in, tc.domain, u.User, u.Host, tc.user, tc.host)
		}
	}
}

// dualStackPBX starts tools/pbx on each of addrs (one server per
// address, all on one port number) and a DNS server that gives
// pbx.test both an AAAA ::1 and an A 127.0.0.1 record. It returns the
// port.
func dualStackPBX(t *testing.T, addrs ...string) (port uint16, dnsAddr string) {
	t.Helper()
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp6", "[::1]:0")
		if err != nil {
			t.Fatal(err)
		}
		port = uint16(pc.LocalAddr().(*net.UDPAddr).Port)
		pc.Close()
		var srvs []*pbx.Server
		ok := true
		for _, a := range addrs {
			s, err := pbx.New(pbx.Config{Realm: "pbx.test", Users: map[string]string{"alice": "a-secret"}, Net: n,
				Listen: netip.AddrPortFrom(netip.MustParseAddr(a), port)})
			if err == nil {
				err = s.Start()
			}
			if err != nil {
				ok = false
				break
			}
			srvs = append(srvs, s)
		}
		for _, s := range srvs {
			t.Cleanup(func() { s.Close() })
		}
		if ok {
			break
		}
		if try == 10 {
			t.Fatal("no port free on both loopbacks")
		}
	}
	dns := resolvetest.New(t, "pbx.test. 60 IN AAAA ::1", "pbx.test. 60 IN A 127.0.0.1")
	return port, dns.Addr()
}

func dualStackPhone(t *testing.T, port uint16, dnsAddr string, base uint16) *phone {
	t.Helper()
	return dualStackPhoneBind(t, port, dnsAddr, base, netip.Addr{})
}

// dualStackPhoneBind is dualStackPhone with the port manager's sockets
// bound to bind (zero: the route's source address).
func dualStackPhoneBind(t *testing.T, port uint16, dnsAddr string, base uint16, bind netip.Addr) *phone {
	t.Helper()
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	p := newPhoneWith(t, portmgr.Config{Net: n, PoolSize: -1, BindAddr: bind,
		SIPPorts:   portmgr.Range{Min: base, Max: base + 9},
		MediaPorts: portmgr.Range{Min: base + 1000, Max: base + 1099}},
		func(c *Config) {
			c.Account = Account{User: "alice", Password: "a-secret", Domain: "pbx.test",
				Registrar: "pbx.test:" + strconv.Itoa(int(port))}
			c.DNS = DNSConfig{Servers: []string{dnsAddr}}
		})
	p.wait = 20 * time.Second
	return p
}

// TestDualStackPrefersIPv6: a registrar name with both AAAA and A
// records, served on both families, is registered over IPv6 (RFC 8305
// §4: IPv6 first).
func TestDualStackPrefersIPv6(t *testing.T) {
	loopback6(t)
	port, dnsAddr := dualStackPBX(t, "::1", "127.0.0.1")
	p := dualStackPhone(t, port, dnsAddr, 52760)
	st := p.waitReg(t, RegRegistered)
	if !strings.Contains(st.Server, "[::1]") || !strings.Contains(st.Contact, "@[::1]:") {
		t.Errorf("registered to %s with contact %s: want IPv6", st.Server, st.Contact)
	}
}

// TestDualStackSkipsUnreachableFamily: a phone whose sockets are all
// IPv4 (bound to 127.0.0.1, as on a network without IPv6) passes over
// the name's AAAA address at once and registers over IPv4, although a
// server answers on IPv6 too.
func TestDualStackSkipsUnreachableFamily(t *testing.T) {
	loopback6(t)
	port, dnsAddr := dualStackPBX(t, "::1", "127.0.0.1")
	p := dualStackPhoneBind(t, port, dnsAddr, 52960, netip.MustParseAddr("127.0.0.1"))
	st := p.waitReg(t, RegRegistered)
	if !strings.Contains(st.Server, "127.0.0.1") || st.Failures != 0 {
		t.Errorf("registered to %s after %d failures: want IPv4 at the first attempt", st.Server, st.Failures)
	}
}

// TestDualStackFallsBackToIPv4: the same name, but nothing answers on
// IPv6: after FamilyFallback without an answer the phone takes a new SIP
// socket of the other family and registers over IPv4, without waiting
// for the transaction timeout (32 s).
func TestDualStackFallsBackToIPv4(t *testing.T) {
	loopback6(t)
	port, dnsAddr := dualStackPBX(t, "127.0.0.1")
	p := dualStackPhone(t, port, dnsAddr, 52860)
	st := p.waitReg(t, RegRegistered)
	if !strings.Contains(st.Server, "127.0.0.1") || !strings.Contains(st.Contact, "@127.0.0.1:") {
		t.Errorf("registered to %s with contact %s: want IPv4", st.Server, st.Contact)
	}
	if l := p.ua.mapping().Local(); !l.Addr().Is4() {
		t.Errorf("SIP socket %v: want IPv4", l)
	}
}

// FuzzParseServerTarget: parseServer and parseTarget (with IPv6 hosts
// and domains bracketed) never panic, and what they accept has a host.
func FuzzParseServerTarget(f *testing.F) {
	f.Fuzz(func(t *testing.T, s, domain string) {
		if u, err := parseServer(s, ""); err == nil && u.Host == "" {
			t.Fatalf("parseServer(%q): no host", s)
		}
		if u, err := parseTarget(s, domain); err == nil && u.Host == "" {
			t.Fatalf("parseTarget(%q, %q): no host", s, domain)
		}
	})
}
