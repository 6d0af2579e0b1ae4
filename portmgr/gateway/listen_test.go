package gateway_test

import (
	"context"
	"net"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr/gateway"
	"github.com/deskphone/phone/portmgr/portmgrtest"
)

// countingListen returns a Listen function over log that counts its
// sockets, and a check that every socket log saw came from it.
func countingListen(t *testing.T, log *portmgrtest.SocketLog, local netip.Addr) (func() (net.PacketConn, error), func()) {
	var n atomic.Int64
	listen := func() (net.PacketConn, error) {
		n.Add(1)
		return log.ListenPacket("udp4", netip.AddrPortFrom(local, 0).String())
	}
	check := func() {
		t.Helper()
		got := log.Listened()
		if len(got) == 0 || int64(len(got)) != n.Load() {
			t.Errorf("%d sockets opened, %d of them through Listen: %v", len(got), n.Load(), got)
		}
	}
	return listen, check
}

// TestRequestsUseListen: with Config.Listen (the port manager's port
// allocator) every PCP and NAT-PMP request and the SSDP search open their
// socket through it, never straight on the Net.
func TestRequestsUseListen(t *testing.T) {
	t.Run("pcp", func(t *testing.T) {
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
			log := portmgrtest.NewSocketLog(site.Net)
			listen, check := countingListen(t, log, site.LocalIP)
			c, err := gateway.Discover(context.Background(), gateway.Config{Net: log, Listen: listen, Gateway: site.GatewayIP(), Local: site.LocalIP})
			if err != nil {
				t.Fatal(err)
			}
			exercise(t, c, netip.AddrPortFrom(site.LocalIP, 16384), site.Public, &fake.GatewayCounters, fake.Leases)
			check()
		})
	})
	t.Run("natpmp", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := portmgrtest.NewWorld(t, false)
			site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
			gwNet := site.AddLANHost(t, site.GatewayIP())
			w.Start()
			sc, err := gwNet.ListenPacket("udp4", netip.AddrPortFrom(site.GatewayIP(), gateway.PCPPort).String())
			if err != nil {
				t.Fatal(err)
			}
			fake := &portmgrtest.FakeNATPMP{Conn: sc, External: site.Public}
			fake.Start()
			defer fake.Close()
			log := portmgrtest.NewSocketLog(site.Net)
			listen, check := countingListen(t, log, site.LocalIP)
			c := &gateway.NATPMP{Net: log, Listen: listen, Gateway: site.GatewayIP(), Local: site.LocalIP, Timeout: 2 * time.Second}
			exercise(t, c, netip.AddrPortFrom(site.LocalIP, 16384), site.Public, &fake.GatewayCounters, fake.Leases)
			check()
		})
	})
	t.Run("ssdp", func(t *testing.T) {
		// SSDP on vnet; the description and SOAP over loopback HTTP, so
		// no synctest bubble. The gateway refuses PCP at once, so Discover
		// goes on to UPnP (NAT-PMP is tried on the host network only).
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
		gwNet := site.AddLANHost(t, site.GatewayIP())
		w.Start()
		pcp, err := gwNet.ListenPacket("udp4", netip.AddrPortFrom(site.GatewayIP(), gateway.PCPPort).String())
		if err != nil {
			t.Fatal(err)
		}
		defer pcp.Close()
		go func() {
			buf := make([]byte, 1100)
			for {
				n, from, err := pcp.ReadFrom(buf)
				if err != nil {
					return
				}
				if n >= 24 {
					resp := make([]byte, 24)
					resp[0], resp[1], resp[3] = 2, 0x80|buf[1], 2 // NOT_AUTHORIZED
					_, _ = pcp.WriteTo(resp, from)
				}
			}
		}()
		ssdp, err := gwNet.ListenPacket("udp4", netip.AddrPortFrom(site.GatewayIP(), gateway.SSDPPort).String())
		if err != nil {
			t.Fatal(err)
		}
		fake := &portmgrtest.FakeIGD{SSDP: ssdp, External: site.Public}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		fake.HTTPURL = srv.URL
		fake.Start()
		defer fake.Close()
		log := portmgrtest.NewSocketLog(site.Net)
		listen, check := countingListen(t, log, site.LocalIP)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := gateway.Discover(ctx, gateway.Config{Net: log, Listen: listen, Gateway: site.GatewayIP(), Local: site.LocalIP, HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		if c.Protocol() != "upnp" {
			t.Fatalf("protocol %s, want upnp", c.Protocol())
		}
		check()
	})
}
