package gateway_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr/gateway"
	"github.com/deskphone/phone/portmgr/portmgrtest"
	"github.com/pion/transport/v4/stdnet"
)

// exercise maps, renews twice and unmaps one port on c and checks the
// fake's counters.
func exercise(t *testing.T, c gateway.Client, internal netip.AddrPort, ext netip.Addr, cnt *portmgrtest.GatewayCounters, leases func() int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ip, err := c.ExternalIP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ip != ext {
		t.Errorf("external IP %v, want %v", ip, ext)
	}
	// PCP's ExternalIP maps and deletes a throw-away port: count from here.
	m0, r0, d0 := cnt.Maps.Load(), cnt.Renews.Load(), cnt.Deletes.Load()
	l, err := c.Map(ctx, internal, nil, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if l.External.Addr() != ext || l.External.Port() == 0 || l.Internal != internal || l.Lifetime <= 0 {
		t.Errorf("lease %+v", l)
	}
	for range 2 {
		l2, err := c.Map(ctx, internal, &l, 2*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if l2.External != l.External {
			t.Errorf("renewal moved the mapping: %v -> %v", l.External, l2.External)
		}
		l = l2
	}
	if n := leases(); n != 1 {
		t.Errorf("%d leases held, want 1", n)
	}
	if err := c.Unmap(ctx, l); err != nil {
		t.Fatal(err)
	}
	if got := [3]int64{cnt.Maps.Load() - m0, cnt.Renews.Load() - r0, cnt.Deletes.Load() - d0}; got != [3]int64{1, 2, 1} {
		t.Errorf("maps/renews/deletes %v, want [1 2 1]", got)
	}
	if n := leases(); n != 0 {
		t.Errorf("%d leases left after Unmap", n)
	}
}

func TestPCP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
		gwNet := site.AddLANHost(t, site.GatewayIP())
		w.Start()
		fake := &portmgrtest.FakePCP{Net: gwNet, Addr: netip.AddrPortFrom(site.GatewayIP(), gateway.PCPPort), External: site.Public}
		if err := fake.Start(); err != nil {
			t.Fatal(err)
		}
		defer fake.Close()
		ctx := context.Background()
		c, err := gateway.Discover(ctx, gateway.Config{Net: site.Net, Gateway: site.GatewayIP(), Local: site.LocalIP})
		if err != nil {
			t.Fatal(err)
		}
		if c.Protocol() != "pcp" {
			t.Fatalf("protocol %s", c.Protocol())
		}
		exercise(t, c, netip.AddrPortFrom(site.LocalIP, 16384), site.Public, &fake.GatewayCounters, fake.Leases)
	})
}

func TestPCPNoGateway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
		w.Start()
		_, err := gateway.Discover(context.Background(), gateway.Config{Net: site.Net, Gateway: site.GatewayIP(), Local: site.LocalIP})
		if !errors.Is(err, gateway.ErrNoGateway) {
			t.Fatalf("err %v, want ErrNoGateway", err)
		}
	})
}

func TestNATPMP(t *testing.T) {
	// The client on the host network talks to port 5351: run the fake
	// on a random loopback address.
	gw := netip.AddrFrom4([4]byte{127, byte(1 + rand.IntN(200)), byte(rand.IntN(250)), byte(2 + rand.IntN(250))})
	c, err := net.ListenPacket("udp4", netip.AddrPortFrom(gw, 5351).String())
	if err != nil {
		t.Skipf("cannot listen on %s:5351: %v", gw, err)
	}
	fake := &portmgrtest.FakeNATPMP{Conn: c, External: netip.MustParseAddr("203.0.113.9")}
	fake.Start()
	defer fake.Close()
	n := gateway.NewNATPMP(gw, 2*time.Second)
	exercise(t, n, netip.MustParseAddrPort("192.168.1.20:16384"), fake.External, &fake.GatewayCounters, fake.Leases)
}

func TestUPnP(t *testing.T) {
	ssdp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("loopback: %v", err)
	}
	fake := &portmgrtest.FakeIGD{SSDP: ssdp, External: netip.MustParseAddr("203.0.113.7")}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	fake.HTTPURL = srv.URL
	fake.Start()
	defer fake.Close()
	port := uint16(ssdp.LocalAddr().(*net.UDPAddr).Port)
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := gateway.DiscoverUPnP(ctx, n, lo, port, lo, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, u, netip.MustParseAddrPort("127.0.0.1:16384"), fake.External, &fake.GatewayCounters, fake.Leases)
}
