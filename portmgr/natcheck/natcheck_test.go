package natcheck_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr/natcheck"
	"github.com/deskphone/phone/portmgr/portmgrtest"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		kind      portmgrtest.NATKind
		typ       string
		mapping   natcheck.Behavior
		filtering natcheck.Behavior
	}{
		{portmgrtest.Open, "open", natcheck.EndpointIndependent, natcheck.EndpointIndependent},
		{portmgrtest.FullCone, "full-cone", natcheck.EndpointIndependent, natcheck.EndpointIndependent},
		{portmgrtest.RestrictedCone, "restricted-cone", natcheck.EndpointIndependent, natcheck.AddressDependent},
		{portmgrtest.PortRestrictedCone, "port-restricted-cone", natcheck.EndpointIndependent, natcheck.AddressAndPortDependent},
		{portmgrtest.Symmetric, "symmetric", natcheck.AddressAndPortDependent, natcheck.AddressAndPortDependent},
	}
	for _, c := range cases {
		t.Run(c.kind.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := portmgrtest.NewWorld(t, false)
				site := w.AddSite(c.kind, 0)
				w.Start()
				start := time.Now()
				res, err := natcheck.Run(context.Background(), natcheck.Config{
					Net: site.Net, Local: site.LocalIP, Server: w.STUNServer()})
				if err != nil {
					t.Fatal(err)
				}
				// vnet adds no delay: the tests that get no answer wait
				// the 300 ms floor, side by side, not 3.5 s each in turn.
				if d := time.Since(start); d > natcheck.DefaultQuietMin {
					t.Errorf("discovery took %v, want at most %v", d, natcheck.DefaultQuietMin)
				}
				if got := res.Type(); got != c.typ {
					t.Errorf("type %q, want %q", got, c.typ)
				}
				if res.Mapping != c.mapping || res.Filtering != c.filtering {
					t.Errorf("mapping %v filtering %v, want %v %v", res.Mapping, res.Filtering, c.mapping, c.filtering)
				}
				if res.Mapped.Addr() != site.Public {
					t.Errorf("mapped %v, want IP %v", res.Mapped, site.Public)
				}
				// vnet hairpins through the WAN router, so a packet from
				// the same LAN passes only an endpoint-independent filter.
				wantHairpin := c.kind == portmgrtest.Open || c.kind == portmgrtest.FullCone
				if res.Hairpinning != wantHairpin || res.ALG {
					t.Errorf("hairpin %v alg %v, want hairpin %v, no ALG", res.Hairpinning, res.ALG, wantHairpin)
				}
			})
		})
	}
}

// TestClassifySlowPath: with 100 ms per WAN hop (a 200 ms round trip
// to the STUN server), the quiet window grows with the measured round
// trip, so a restricted cone's late test III answer is still counted and
// a port-restricted cone is still told apart; the run stays well under
// the lab's budget of a few seconds.
func TestClassifySlowPath(t *testing.T) {
	for _, c := range []struct {
		kind portmgrtest.NATKind
		typ  string
	}{
		{portmgrtest.RestrictedCone, "restricted-cone"},
		{portmgrtest.PortRestrictedCone, "port-restricted-cone"},
		{portmgrtest.Symmetric, "symmetric"},
	} {
		t.Run(c.kind.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := portmgrtest.NewWorldDelay(t, false, 100*time.Millisecond)
				site := w.AddSite(c.kind, 0)
				w.Start()
				start := time.Now()
				res, err := natcheck.Run(context.Background(), natcheck.Config{
					Net: site.Net, Local: site.LocalIP, Server: w.STUNServer()})
				if err != nil {
					t.Fatal(err)
				}
				took := time.Since(start)
				t.Logf("%s: rtt %v, took %v", res.Type(), res.RTT, took)
				if res.Type() != c.typ {
					t.Errorf("type %q, want %q (rtt %v)", res.Type(), c.typ, res.RTT)
				}
				if res.RTT < 200*time.Millisecond || res.RTT > 250*time.Millisecond {
					t.Errorf("test I rtt %v, want about 200ms", res.RTT)
				}
				if took > 1500*time.Millisecond {
					t.Errorf("discovery took %v, want under 1.5 s", took)
				}
			})
		})
	}
}

func TestPlainServerUnknown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		w.STUN.Plain = true
		site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
		w.Start()
		res, err := natcheck.Run(context.Background(), natcheck.Config{Net: site.Net, Local: site.LocalIP, Server: w.STUNServer()})
		if err != nil {
			t.Fatal(err)
		}
		if res.Type() != "unknown" || !res.NATed || res.Mapped.Addr() != site.Public {
			t.Errorf("got %+v type %s", res, res.Type())
		}
	})
}

func TestNoServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		w.STUN.Silent.Store(true)
		site := w.AddSite(portmgrtest.FullCone, 0)
		w.Start()
		start := time.Now()
		_, err := natcheck.Run(context.Background(), natcheck.Config{Net: site.Net, Local: site.LocalIP, Server: w.STUNServer()})
		if err == nil {
			t.Fatal("no error from a silent server")
		}
		// RFC 8489 §6.2.1 with RTO 500 ms, Rc 7, Rm 16: 39.5 s.
		if d := time.Since(start); d != 39500*time.Millisecond {
			t.Errorf("gave up after %v, want 39.5s", d)
		}
		if n := w.STUN.Requests.Load(); n != 7 {
			t.Errorf("%d requests, want Rc=7", n)
		}
	})
}

func TestLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 30*time.Second)
		w.Start()
		lt, bounded, err := natcheck.Lifetime(context.Background(),
			natcheck.Config{Net: site.Net, Local: site.LocalIP, Server: w.STUNServer()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if lt != 25*time.Second || !bounded {
			t.Errorf("lifetime %v bounded %v, want 25s (30 s NAT timer) bounded", lt, bounded)
		}
	})
}

// TestLifetimeSamePortNAT: a NAT whose bindings expire after 30 s idle
// but which re-creates an expired binding on the same external port (as
// Linux masquerading does) fooled the old probe, which asked again from
// the idle socket and compared mapped addresses: it reported the longest
// probe (300 s). The RFC 5780 §4.6 probe asks from another socket with
// RESPONSE-PORT, sends nothing from the idle one, and finds 25 s, as soon
// as the 45 s probe has expired.
func TestLifetimeSamePortNAT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, time.Hour) // keeps every port
		site.ExpireIdle(30 * time.Second)
		w.Start()
		start := time.Now()
		lt, bounded, rport, err := natcheck.LifetimeRFC5780(context.Background(),
			natcheck.Config{Net: site.Net, Local: site.LocalIP, Server: w.STUNServer()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if lt != 25*time.Second || !bounded || !rport {
			t.Errorf("lifetime %v bounded %v via RESPONSE-PORT %v, want 25s bounded via RESPONSE-PORT", lt, bounded, rport)
		}
		// The 45 s probe decides it; the 90..300 s ones stop.
		if d := time.Since(start); d > 50*time.Second {
			t.Errorf("answer after %v, want once the 45 s probe expired", d)
		}
	})
}

// TestLifetimePlainServer: a server that refuses RESPONSE-PORT (420)
// leaves the probe comparing mapped addresses, and says so.
func TestLifetimePlainServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		w.STUN.Plain = true
		site := w.AddSite(portmgrtest.PortRestrictedCone, 30*time.Second)
		w.Start()
		lt, bounded, rport, err := natcheck.LifetimeRFC5780(context.Background(),
			natcheck.Config{Net: site.Net, Local: site.LocalIP, Server: w.STUNServer()},
			[]time.Duration{15 * time.Second, 25 * time.Second, 45 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if lt != 25*time.Second || !bounded || rport {
			t.Errorf("lifetime %v bounded %v via RESPONSE-PORT %v, want 25s bounded, not via RESPONSE-PORT", lt, bounded, rport)
		}
	})
}

// TestListen: with Config.Listen (the port manager's allocator inside its
// ranges) every test socket of Run and Lifetime comes from it: three for
// Run behind a NAT (filtering, mapping, hairpin), one per lifetime probe
// and one that asks for the others (RESPONSE-PORT).
func TestListen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 30*time.Second)
		w.Start()
		log := portmgrtest.NewSocketLog(site.Net)
		var mu sync.Mutex
		next := uint16(30000)
		listen := func() (net.PacketConn, error) {
			mu.Lock()
			port := next
			next += 2
			mu.Unlock()
			return log.ListenPacket("udp4", netip.AddrPortFrom(site.LocalIP, port).String())
		}
		cfg := natcheck.Config{Net: log, Local: site.LocalIP, Listen: listen, Server: w.STUNServer()}
		res, err := natcheck.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Type() != "port-restricted-cone" {
			t.Errorf("type %q through Listen's sockets", res.Type())
		}
		if _, _, err := natcheck.Lifetime(context.Background(), cfg, []time.Duration{15 * time.Second, 45 * time.Second}); err != nil {
			t.Fatal(err)
		}
		got := log.Listened()
		if len(got) != 3+natcheck.LifetimeSockets(2) {
			t.Errorf("%d sockets, want 6: %v", len(got), got)
		}
		for _, a := range got {
			if a.Port() < 30000 || a.Port() >= next {
				t.Errorf("socket %v not from Listen", a)
			}
		}
	})
}
