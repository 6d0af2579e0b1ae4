package portmgr_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/portmgrtest"
)

// TestProbeSocketsInRanges: every UDP socket the manager opens, its
// probes' included (the RFC 5780 tests, the binding-lifetime probes, the
// PCP requests to the gateway), is bound inside the configured SIP and
// media ranges, which is what a firewall admin opens for the phone. The
// route lookups (a dialled UDP socket that learns the local address)
// send nothing.
func TestProbeSocketsInRanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
		gwNet := site.AddLANHost(t, site.GatewayIP())
		w.Start()
		fake := &portmgrtest.FakePCP{Net: gwNet, Addr: netip.AddrPortFrom(site.GatewayIP(), 5351), External: site.Public}
		if err := fake.Start(); err != nil {
			t.Fatal(err)
		}
		defer fake.Close()
		log := portmgrtest.NewSocketLog(site.Net)
		sipR := portmgr.Range{Min: 15060, Max: 15069}
		mediaR := portmgr.Range{Min: 30000, Max: 30099}
		m := phone(t, w, site, func(c *portmgr.Config) {
			c.Net = log
			c.SIPPorts, c.MediaPorts = sipR, mediaR
			c.EnableGateway = true
		})
		ready(t, m)
		if _, err := m.Map(context.Background(), portmgr.KindMedia, portmgr.UDP, netip.AddrPort{}); err != nil {
			t.Fatal(err)
		}
		// The lifetime probes have opened their sockets and sleep.
		synctest.Wait()
		r := m.Report()
		if r.Type != portmgrtest.PortRestrictedCone.String() || !r.GatewayFound {
			t.Fatalf("probes did not run: report %+v", r)
		}
		in := func(r portmgr.Range, p uint16) bool { return p >= r.Min && p <= r.Max }
		got := log.Listened()
		// The SIP socket, three pairs (the pool's two and the Map's), and
		// at least the RFC 5780 tests' three sockets, the PCP requests'
		// and six lifetime probes.
		if len(got) < 1+6+3+1+6 {
			t.Errorf("only %d sockets opened: %v", len(got), got)
		}
		for _, a := range got {
			if !in(sipR, a.Port()) && !in(mediaR, a.Port()) {
				t.Errorf("socket %v outside the SIP range %v and the media range %v", a, sipR, mediaR)
			}
		}
		if n, writes := log.Dialled(); writes != 0 {
			t.Errorf("%d datagrams written on %d dialled (route lookup) sockets", writes, n)
		}
	})
}

// TestProbesLeaveRoomForCalls: in the smallest ranges RTC allows (two SIP
// ports, two media pairs) and no warm pool, the probes running in the
// background (the binding-lifetime estimate wants six sockets for
// minutes) take no port a call needs: both pairs and both SIP ports can
// still be mapped.
func TestProbesLeaveRoomForCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.FullCone, 0)
		w.Start()
		m := phone(t, w, site, func(c *portmgr.Config) {
			c.SIPPorts = portmgr.Range{Min: 7060, Max: 7061} // outside vnet's ephemeral ports (5000-5999)
			c.MediaPorts = portmgr.Range{Min: 20000, Max: 20003}
			c.PoolSize = -1
		})
		ready(t, m)
		synctest.Wait()
		ctx := context.Background()
		for i := range 2 {
			if _, err := m.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{}); err != nil {
				t.Fatalf("media pair %d: %v", i+1, err)
			}
			if _, err := m.Map(ctx, portmgr.KindSIP, portmgr.UDP, netip.AddrPort{}); err != nil {
				t.Fatalf("SIP port %d: %v", i+1, err)
			}
		}
	})
}
