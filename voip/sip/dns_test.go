package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/mappertest"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/sip/resolve/resolvetest"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/transport/v4/vnet"
)

// srvWorld is two tools/pbx instances (10.0.0.1 and 10.0.0.5) behind
// the SRV records of pbx.test, served by a DNS server at 10.0.0.53 on
// the same virtual network.
type srvWorld struct {
	w          *world
	pbx1, pbx2 *pbx.Server
	dns        *resolvetest.Server
}

var srvZone = []string{
	`pbx.test. 60 IN NAPTR 10 10 "s" "SIP+D2U" "" _sip._udp.pbx.test.`,
	`_sip._udp.pbx.test. 60 IN SRV 10 0 5060 pbx1.pbx.test.`,
	`_sip._udp.pbx.test. 60 IN SRV 20 0 5060 pbx2.pbx.test.`,
	`pbx1.pbx.test. 60 IN A 10.0.0.1`,
	`pbx2.pbx.test. 60 IN A 10.0.0.5`,
}

func newSRVWorld(t *testing.T, mut func(c *pbx.Config)) *srvWorld {
	t.Helper()
	w := newWorld(t)
	sw := &srvWorld{w: w}
	for i, ip := range []string{"10.0.0.1", "10.0.0.5"} {
		cfg := pbx.Config{
			Realm:  "pbx.test",
			Users:  map[string]string{"alice": "a-secret", "bob": "b-secret"},
			Net:    w.host(ip),
			Listen: netip.MustParseAddrPort(ip + ":5060"),
		}
		if mut != nil && i == 0 {
			mut(&cfg)
		}
		s, err := pbx.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			sw.pbx1 = s
		} else {
			sw.pbx2 = s
		}
	}
	dn := w.host("10.0.0.53")
	pc, err := dn.ListenPacket("udp4", "10.0.0.53:53")
	if err != nil {
		t.Fatal(err)
	}
	sw.dns = resolvetest.NewOn(t, pc, srvZone...)
	return sw
}

func (sw *srvWorld) start(t *testing.T) {
	t.Helper()
	sw.w.start()
	for _, s := range []*pbx.Server{sw.pbx1, sw.pbx2} {
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
	}
}

// dnsAccount registers user at pbx.test, found through the world's DNS
// server from the phone's host n.
func dnsAccount(n *vnet.Net, user, pass string) func(*Config) {
	return func(c *Config) {
		c.Account = Account{User: user, Password: pass, Domain: "pbx.test", Registrar: "pbx.test", Expires: 120 * time.Second}
		c.DNS = DNSConfig{
			Servers: []string{"10.0.0.53"},
			Dial: func(_ context.Context, network, addr string) (net.Conn, error) {
				return n.Dial(network, addr)
			},
		}
	}
}

// TestSRVFailoverOnTimeout: alice registers to pbx1 (SRV priority 10);
// pbx1 stops; her next refresh times out (Timer F) and she registers to
// pbx2 at once, within refresh + 64*T1 of the stop; she can call
// through pbx2, and pbx2 can ring her (its INVITE is admitted: every
// SRV target is a trusted source).
func TestSRVFailoverOnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := newSRVWorld(t, nil)
		an := sw.w.host("10.0.0.2")
		bn := sw.w.host("10.0.0.3")
		sw.start(t)
		a := newPhone(t, an, dnsAccount(an, "alice", "a-secret"))
		st := a.waitReg(t, RegRegistered)
		if !strings.Contains(st.Server, "10.0.0.1:5060") || len(sw.pbx1.Bindings("alice")) != 1 {
			t.Fatalf("first registration: %+v", st)
		}
		if a.ua.tr.String() != "udp" {
			t.Errorf("transport from NAPTR: %v", a.ua.tr)
		}
		stopped := time.Now()
		sw.pbx1.Close()
		st = a.next(t, "registered to pbx2", func(e Event) bool {
			r, ok := e.(*RegistrationEvent)

			return ok && r.Status.State == RegRegistered && strings.Contains(r.Status.Server, "10.0.0.5")
		}).(*RegistrationEvent).Status
		// The documented bound: the refresh, then one REGISTER timeout.
		if d, max := time.Since(stopped), refreshAfter(120*time.Second)+64*siplib.T1+time.Second; d > max {
			t.Errorf("failover took %v, documented at most %v", d, max)
		}
		if len(sw.pbx2.Bindings("alice")) != 1 {
			t.Fatal("pbx2 has no binding for alice")
		}
		ts := a.ua.ServerTargets()
		if len(ts.Targets) != 2 || ts.Targets[0].AvoidUntil.IsZero() || !ts.Targets[1].AvoidUntil.IsZero() {
			t.Errorf("targets %+v: want pbx1 avoided, pbx2 not", ts.Targets)
		}

		// A call through pbx2.
		c, err := a.ua.Dial(context.Background(), "echo")
		if err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, c, StateTalking)
		c.Hangup()
		a.waitCall(t, c, StateEnded)

		// bob, registered to pbx2 only, calls alice: pbx2's INVITE is admitted.
		b := newPhone(t, bn, func(c *Config) {
			c.Account = Account{User: "bob", Password: "b-secret", Domain: "pbx.test", Registrar: "10.0.0.5:5060"}
		})
		b.waitReg(t, RegRegistered)
		cb, err := b.ua.Dial(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		ca := a.waitIncoming(t)
		if err := ca.Answer(); err != nil {
			t.Fatal(err)
		}
		b.waitCall(t, cb, StateTalking)
		cb.Hangup()
		a.waitCall(t, ca, StateEnded)
		if n := a.ua.AdmissionStats().Forbidden; n != 0 {
			t.Errorf("%d requests refused as from a stranger", n)
		}
	})
}

// TestSRVFailover503: pbx1 answers REGISTER 503 with Retry-After 600;
// alice registers to pbx2 at once, and pbx1 is avoided for the 600 s.
func TestSRVFailover503(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := newSRVWorld(t, func(c *pbx.Config) {
			c.OnRegister = func(*siplib.Request, bool) pbx.Override {
				return pbx.Override{Code: 503, Headers: []siplib.Header{siplib.NewHeader("Retry-After", "600")}}
			}
		})
		an := sw.w.host("10.0.0.2")
		sw.start(t)
		began := time.Now()
		a := newPhone(t, an, dnsAccount(an, "alice", "a-secret"))
		fo := a.waitReg(t, RegFailed)
		if fo.Code != 503 || !strings.Contains(fo.Reason, "trying the next server") {
			t.Errorf("failover status %+v", fo)
		}
		st := a.waitReg(t, RegRegistered)
		if !strings.Contains(st.Server, "10.0.0.5") {
			t.Fatalf("registered to %q, want pbx2", st.Server)
		}
		if d := time.Since(began); d > time.Second {
			t.Errorf("failover after a 503 took %v; want at once", d)
		}
		ts := a.ua.ServerTargets()
		if got := ts.Targets[0].AvoidUntil.Sub(began); got < 600*time.Second || got > 601*time.Second {
			t.Errorf("pbx1 avoided for %v, want Retry-After 600 s", got)
		}
	})
}

// TestSRVAllDown: with both servers down the registration fails with a
// reason naming the domain, backs off, and registers once one is back.
func TestSRVAllDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := newSRVWorld(t, nil)
		an := sw.w.host("10.0.0.2")
		sw.w.start() // the servers are not started
		a := newPhone(t, an, func(c *Config) {
			dnsAccount(an, "alice", "a-secret")(c)
			c.DNS.Hold = 30 * time.Second
		})
		// Round the list once (pbx1, then pbx2 at once), then back off;
		// twice, to see the back-off grow.
		var last RegStatus
		for i := range 2 {
			began := time.Now()
			last = a.next(t, "all servers failed", func(e Event) bool {
				r, ok := e.(*RegistrationEvent)
				return ok && r.Status.State == RegFailed && strings.Contains(r.Status.Reason, "no server of pbx.test answers")
			}).(*RegistrationEvent).Status
			if last.RefreshIn <= 0 {
				t.Errorf("round %d: no back-off: %+v", i, last)
			}
			// Two REGISTER timeouts per round, plus the back-off before it.
			if d := time.Since(began); d < 2*64*siplib.T1 {
				t.Errorf("round %d took %v: not both servers tried", i, d)
			}
		}
		if last.Failures < 4 {
			t.Errorf("failures %d after two rounds", last.Failures)
		}
		if err := sw.pbx2.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sw.pbx2.Close() })
		st := a.waitReg(t, RegRegistered)
		if !strings.Contains(st.Server, "10.0.0.5") {
			t.Errorf("registered to %q", st.Server)
		}
	})
}

// TestBootWithoutDNS: the DNS server does not answer when the UA starts:
// Start succeeds, the registration says "cannot resolve pbx.test" and
// backs off; once DNS answers the UA registers.
func TestBootWithoutDNS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := newSRVWorld(t, nil)
		an := sw.w.host("10.0.0.2")
		sw.start(t)
		sw.dns.SetDown(true)
		a := newPhone(t, an, dnsAccount(an, "alice", "a-secret"))
		st := a.waitReg(t, RegFailed)
		if !strings.HasPrefix(st.Reason, "cannot resolve pbx.test") || st.RefreshIn <= 0 {
			t.Fatalf("status %+v", st)
		}
		st = a.waitReg(t, RegFailed) // still down: tried again after the back-off
		if st.Failures < 2 {
			t.Errorf("failures %d", st.Failures)
		}
		sw.dns.SetDown(false)
		st = a.waitReg(t, RegRegistered)
		if !strings.Contains(st.Server, "10.0.0.1") {
			t.Errorf("registered to %q", st.Server)
		}
	})
}

// TestSRVFailoverTCP: the transport comes from NAPTR (SIP+D2T); alice's
// TCP flow goes to pbx1 (SRV priority 10, on loopback). When pbx1 stops,
// the flow ends and alice re-dials to pbx2 and registers there at once;
// when pbx1 answers 503, the flow to it is closed (not counted as a
// failed flow) and the next REGISTER dials pbx2. Then she calls through
// pbx2.
func TestSRVFailoverTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	for i, name := range []string{"stop", "503"} {
		t.Run(name, func(t *testing.T) {
			n, err := stdnet.NewNet()
			if err != nil {
				t.Fatal(err)
			}
			var srvs []*pbx.Server
			for j := range 2 {
				cfg := pbx.Config{
					Realm: "pbx.test", Users: map[string]string{"alice": "a-secret"}, Net: n,
					Listen: netip.MustParseAddrPort("127.0.0.1:0"), TCP: netip.MustParseAddrPort("127.0.0.1:0"),
				}
				if j == 0 && name == "503" {
					cfg.OnRegister = func(*siplib.Request, bool) pbx.Override { return pbx.Override{Code: 503} }
				}
				s, err := pbx.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				srvs = append(srvs, s)
			}
			d := resolvetest.New(t,
				`pbx.test. 60 IN NAPTR 10 10 "s" "SIP+D2T" "" _sip._tcp.pbx.test.`,
				`pbx.test. 60 IN NAPTR 20 10 "s" "SIP+D2U" "" _sip._udp.pbx.test.`,
				fmt.Sprintf(`_sip._tcp.pbx.test. 60 IN SRV 10 0 %d pbx1.pbx.test.`, srvs[0].TCPAddr().Port()),
				fmt.Sprintf(`_sip._tcp.pbx.test. 60 IN SRV 20 0 %d pbx2.pbx.test.`, srvs[1].TCPAddr().Port()),
				`pbx1.pbx.test. 60 IN A 127.0.0.1`,
				`pbx2.pbx.test. 60 IN A 127.0.0.1`,
			)
			lo := netip.MustParseAddr("127.0.0.1")
			base := uint16(45360 + 20*i)
			a := newPhoneWith(t, portmgr.Config{Net: n, BindAddr: lo,
				SIPPorts:   portmgr.Range{Min: base, Max: base + 9},
				MediaPorts: portmgr.Range{Min: base + 1000, Max: base + 1099}},
				func(c *Config) {
					c.Account = Account{User: "alice", Password: "a-secret", Domain: "pbx.test", Registrar: "pbx.test"}
					c.DNS = DNSConfig{Servers: []string{d.Addr()}}
				})
			a.wait = 20 * time.Second
			if name == "stop" {
				st := a.waitReg(t, RegRegistered)
				if st.Server != fmt.Sprintf("tcp:%v (pbx1.pbx.test)", srvs[0].TCPAddr()) || !strings.Contains(st.Contact, "transport=tcp") {
					t.Fatalf("first registration %+v", st)
				}
				srvs[0].Close()
			}
			st := a.next(t, "registered to pbx2", func(e Event) bool {
				r, ok := e.(*RegistrationEvent)
				return ok && r.Status.State == RegRegistered && strings.Contains(r.Status.Server, "pbx2")
			}).(*RegistrationEvent).Status
			if len(srvs[1].Bindings("alice")) != 1 {
				t.Fatalf("pbx2 has no binding: %+v", st)
			}
			if tr := a.ua.Transport(); name == "503" && (tr.Restarts != 0 || tr.State != TransportUp) {
				t.Errorf("changing servers counted as a failed flow: %+v", tr)
			}
			c, err := a.ua.Dial(context.Background(), "echo")
			if err != nil {
				t.Fatal(err)
			}
			a.waitCall(t, c, StateTalking)
			c.Hangup()
			a.waitCall(t, c, StateEnded)
		})
	}
}

// offlineMapper fails to map the SIP socket, as the port manager does
// with no local address (no network), until online is set.
type offlineMapper struct {
	portmgr.Mapper
	online atomic.Bool
	tries  atomic.Int32
}

func (m *offlineMapper) Map(ctx context.Context, kind portmgr.Kind, tr portmgr.Transport, remote netip.AddrPort) (*portmgr.Mapping, error) {
	if kind == portmgr.KindSIP && !m.online.Load() {
		m.tries.Add(1)
		return nil, fmt.Errorf("toward %v: %w", remote, portmgr.ErrNoLocalAddress)
	}
	return m.Mapper.Map(ctx, kind, tr, remote)
}

// TestBootWithoutNetwork: the SIP socket cannot be mapped at start (no
// local address). Start succeeds, the registration says "no network",
// the socket is mapped again with back-off, and once the network is there
// the UA registers at once.
func TestBootWithoutNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := newSRVWorld(t, nil)
		an := sw.w.host("10.0.0.2")
		sw.start(t)
		var om *offlineMapper
		a := newPhone(t, an, func(c *Config) {
			dnsAccount(an, "alice", "a-secret")(c)
			om = &offlineMapper{Mapper: c.Mapper}
			c.Mapper = om
		})
		st := a.waitReg(t, RegFailed)
		if !strings.HasPrefix(st.Reason, "no network") {
			t.Fatalf("status %+v", st)
		}
		for om.tries.Load() < 3 {
			a.waitReg(t, RegFailed) // each REGISTER attempt while offline
		}
		om.online.Store(true)
		wentUp := time.Now()
		st = a.waitReg(t, RegRegistered)
		if !strings.Contains(st.Server, "10.0.0.1") {
			t.Errorf("registered to %q", st.Server)
		}
		// Mapped at the next retry (at most RetryMax away), then at once.
		if d := time.Since(wentUp); d > defaultRetryMax+time.Second {
			t.Errorf("registered %v after the network came up", d)
		}
	})
}

// TestSRVRecordsMove: the SRV records change while alice is registered;
// their TTL (60 s) ends before her refresh (90 s), so the refresh
// resolves again and goes to the new server, without any failure.
func TestSRVRecordsMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := newSRVWorld(t, nil)
		an := sw.w.host("10.0.0.2")
		sw.start(t)
		a := newPhone(t, an, dnsAccount(an, "alice", "a-secret"))
		st := a.waitReg(t, RegRegistered)
		if !strings.Contains(st.Server, "10.0.0.1") {
			t.Fatalf("registered to %q", st.Server)
		}
		sw.dns.Remove("_sip._udp.pbx.test", "SRV")
		sw.dns.Add(t, `_sip._udp.pbx.test. 60 IN SRV 10 0 5060 pbx2.pbx.test.`)
		moved := time.Now()
		st = a.next(t, "registered to pbx2", func(e Event) bool {
			r, ok := e.(*RegistrationEvent)
			return ok && r.Status.State != RegRegistering && strings.Contains(r.Status.Server, "10.0.0.5")
		}).(*RegistrationEvent).Status
		if st.State != RegRegistered || st.Failures != 0 {
			t.Errorf("status %+v", st)
		}
		if d := time.Since(moved); d > refreshAfter(120*time.Second) {
			t.Errorf("moved after %v, want at the first refresh", d)
		}
	})
}

// TestConfigDNSAndIPv6Servers: a bad DNS server address is refused, a
// negative hold too; "auto" is a transport; IPv6 registrars and proxies
// are accepted (the SIP socket takes the target's family).
func TestConfigDNSAndIPv6Servers(t *testing.T) {
	mp := &mappertest.FakeMapper{}
	for _, acct := range []Account{
		{User: "a", Registrar: "[2001:db8::1]:5060"},
		{User: "a", Registrar: "pbx.test", OutboundProxy: "sip:[::1];lr"},
	} {
		ua, err := New(Config{Mapper: mp, Account: acct})
		if err != nil {
			t.Errorf("%+v: %v", acct, err)
			continue
		}
		ua.Close()
	}
	for _, tc := range []struct {
		acct Account
		dns  DNSConfig
		want string
	}{
		{Account{User: "a", Registrar: "pbx.test"}, DNSConfig{Servers: []string{"dns.example"}}, "DNS server"},
		{Account{User: "a", Registrar: "pbx.test"}, DNSConfig{Hold: -time.Second}, "must not be negative"},
	} {
		_, err := New(Config{Mapper: mp, Account: tc.acct, DNS: tc.dns})
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v %+v: %v, want %q", tc.acct, tc.dns, err, tc.want)
		}
	}
	ua, err := New(Config{Mapper: mp, Account: Account{User: "a", Registrar: "192.0.2.1", Transport: "AUTO"}})
	if err != nil {
		t.Fatal(err)
	}
	ua.Close()
}

// TestProxyResolvedLate: an outbound proxy without a registrar whose
// name did not resolve at start is resolved when the first request
// needs it, and the call goes to its SRV target.
func TestProxyResolvedLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := newSRVWorld(t, nil)
		an := sw.w.host("10.0.0.2")
		sw.start(t)
		sw.dns.SetDown(true)
		a := newPhone(t, an, func(c *Config) {
			dnsAccount(an, "alice", "a-secret")(c)
			c.Account.Registrar, c.Account.OutboundProxy = "", "pbx.test"
		})
		// Still no DNS: the call fails saying why (and sipgo does not
		// look the name up itself).
		if _, err := a.ua.Dial(context.Background(), "echo"); err == nil || !strings.Contains(err.Error(), "cannot resolve pbx.test") {
			t.Errorf("dial without DNS: %v", err)
		}
		sw.dns.SetDown(false)
		c, err := a.ua.Dial(context.Background(), "echo")
		if err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, c, StateTalking)
		if got := a.ua.ServerTargets().Current.Addr.String(); got != "10.0.0.1:5060" {
			t.Errorf("current target %q", got)
		}
		c.Hangup()
		a.waitCall(t, c, StateEnded)
	})
}
