package portmgr

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/deskphone/phone/portmgr/portmgrtest"
)

// FuzzDemux feeds arbitrary datagrams through the demultiplexer of a SIP
// socket and of a relayed media socket, as if they came from the STUN
// server, the TURN server or a stranger: nothing may panic, and non-STUN
// data must reach the user's queue or be dropped.
func FuzzDemux(f *testing.F) {
	for _, name := range []string{"sample_ipv4_response.bin", "sample_ipv6_response.bin", "sample_request.bin", "sample_request_long_term_auth.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", "rfc5769", name))
		if err != nil {
			f.Fatalf("RFC 5769 vector missing: %v", err)
		}
		f.Add(b, uint8(0))
	}
	f.Add([]byte("\r\n\r\n"), uint8(1))
	f.Add([]byte("\x80\x00\x00\x01rtp"), uint8(2))
	f.Add([]byte{0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4}, uint8(1)) // ChannelData

	w := portmgrtest.NewWorld(f, true)
	site := w.AddSite(portmgrtest.FullCone, 0)
	w.Start()
	m, err := New(Config{
		Net:                  site.Net,
		STUNServers:          []string{w.STUNServer().String()},
		TURN:                 TURNConfig{Server: w.TURNServerAddr().String(), Username: portmgrtest.TURNUser, Password: portmgrtest.TURNPass},
		Strategies:           []Strategy{StrategyStatic, StrategyTURN, StrategySTUN},
		EnableGateway:        false,
		DisableLifetimeProbe: true,
		PoolSize:             1,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Ready(ctx); err != nil {
		f.Fatal(err)
	}
	sip, err := m.Map(ctx, KindSIP, UDP, netip.MustParseAddrPort("198.51.100.50:5060"))
	if err != nil {
		f.Fatal(err)
	}
	media, err := m.Map(ctx, KindMedia, UDP, netip.AddrPort{})
	if err != nil {
		f.Fatal(err)
	}
	if media.Via() != StrategyTURN {
		f.Fatalf("media via %v, want turn", media.Via())
	}
	froms := []net.Addr{
		net.UDPAddrFromAddrPort(w.STUNServer()),
		net.UDPAddrFromAddrPort(w.TURNServerAddr()),
		&net.UDPAddr{IP: net.IPv4(192, 0, 2, 77), Port: 4000},
	}
	drain := func(c net.PacketConn) {
		mc := c.(*mconn)
		for {
			select {
			case <-mc.in:
			default:
				return
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, which uint8) {
		from := froms[int(which)%len(froms)]
		sip.rtp.handle(b, from)
		media.rtp.handle(b, from)
		media.rtcp.handle(b, from)
		drain(sip.Conn)
		drain(media.Conn)
	})
}
