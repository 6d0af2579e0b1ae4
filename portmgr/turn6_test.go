package portmgr_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/turn/v4"

	"github.com/deskphone/phone/portmgr"
)

// familyRelays is a relay address generator that allocates on one
// loopback whatever family pion's server asks for (it always asks for
// "udp4"): ::1 plays a server that allocates in the family of the
// client's leg (coturn's allocation-default-address-family=keep),
// 127.0.0.1 one that allocates IPv4 as RFC 6156 §4.2's default says.
type familyRelays struct {
	ip netip.Addr
	n  *atomic.Int32 // allocations made
}

func (g familyRelays) Validate() error { return nil }

func (g familyRelays) AllocatePacketConn(_ string, port int) (net.PacketConn, net.Addr, error) {
	nw := "udp4"
	if g.ip.Is6() {
		nw = "udp6"
	}
	c, err := net.ListenPacket(nw, netip.AddrPortFrom(g.ip, uint16(port)).String())
	if err != nil {
		return nil, nil, err
	}
	g.n.Add(1)
	return c, c.LocalAddr(), nil
}

func (g familyRelays) AllocateConn(string, int) (net.Conn, net.Addr, error) {
	return nil, nil, errors.New("no TCP relay")
}

// turnServer6 starts a pion TURN server on UDP at listen, relaying on
// relay; it returns the server's address.
func turnServer6(t *testing.T, listen, relay netip.Addr) netip.AddrPort {
	t.Helper()
	a, _ := turnServer6n(t, listen, relay)
	return a
}

// turnServer6n is turnServer6 that also counts the allocations.
func turnServer6n(t *testing.T, listen, relay netip.Addr) (netip.AddrPort, *atomic.Int32) {
	t.Helper()
	nw := "udp4"
	if listen.Is6() {
		nw = "udp6"
	}
	pc, err := net.ListenPacket(nw, netip.AddrPortFrom(listen, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	key := turn.GenerateAuthKey("u", "r", "p")
	n := new(atomic.Int32)
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: "r",
		AuthHandler: func(user, _ string, _ net.Addr) ([]byte, bool) {
			return key, user == "u"
		},
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: pc, RelayAddressGenerator: familyRelays{relay, n}}},
	})
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return netip.MustParseAddrPort(pc.LocalAddr().String()), n
}

// dualNet is the host network with one name, turn.test, that has an A
// record (a4) and an AAAA record (a6), as a dual-stack TURN server has.
type dualNet struct {
	transport.Net
	a4, a6 netip.AddrPort
}

func (n dualNet) ResolveUDPAddr(network, address string) (*net.UDPAddr, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil || host != "turn.test" {
		return n.Net.ResolveUDPAddr(network, address)
	}
	_ = port // the test's records carry their own ports
	switch network {
	case "udp4":
		return net.UDPAddrFromAddrPort(n.a4), nil
	case "udp6":
		return net.UDPAddrFromAddrPort(n.a6), nil
	}
	return net.UDPAddrFromAddrPort(n.a4), nil
}

// relayEcho relays mp toward a UDP peer on peerIP and checks a datagram
// each way through the relay, whose address must be of want's family.
func relayEcho(t *testing.T, m *portmgr.Manager, hint netip.Addr, peerIP netip.Addr) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mp, err := m.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPortFrom(hint, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(mp)
	if err := m.Relay(ctx, mp, peerIP); err != nil {
		t.Fatal(err)
	}
	relayed := mp.External()
	if mp.Via() != portmgr.StrategyTURN || relayed.Addr().Is6() != hint.Is6() {
		t.Fatalf("mapping on %v: via %v, external %v; want a relay of its family", mp.Local(), mp.Via(), relayed)
	}
	peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(peerIP, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := peer.WriteToUDPAddrPort([]byte("hello"), relayed); err != nil {
		t.Fatal(err)
	}
	_ = mp.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	k, from, err := mp.Conn.ReadFrom(buf)
	if err != nil || string(buf[:k]) != "hello" {
		t.Fatalf("mapping read %q from %v, %v; want hello via relay %v", buf[:k], from, err, relayed)
	}
	if _, err := mp.Conn.WriteTo([]byte("back"), from); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, src, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:k]) != "back" || src.Port() != relayed.Port() {
		t.Fatalf("peer read %q from %v, %v; want back from %v", buf[:k], src, err, relayed)
	}
}

// TestTURNOverIPv6: a TURN server given as an IPv6 literal relays an
// IPv6 call (pion/turn's client resolves its server over IPv4 only; the
// port manager hands it the address itself), with an IPv6 relayed
// address from a server that allocates in the client's family, over UDP
// and over TCP.
func TestTURNOverIPv6(t *testing.T) {
	n := loopbackNet(t)
	for i, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			var srv netip.AddrPort
			if tr == "udp" {
				srv = turnServer6(t, netip.IPv6Loopback(), netip.IPv6Loopback())
			} else {
				ln, err := net.Listen("tcp6", "[::1]:0")
				if err != nil {
					t.Fatal(err)
				}
				key := turn.GenerateAuthKey("u", "r", "p")
				s, err := turn.NewServer(turn.ServerConfig{
					Realm:       "r",
					AuthHandler: func(user, _ string, _ net.Addr) ([]byte, bool) { return key, user == "u" },
					ListenerConfigs: []turn.ListenerConfig{{Listener: ln,
						RelayAddressGenerator: familyRelays{netip.IPv6Loopback(), new(atomic.Int32)}}},
				})
				if err != nil {
					ln.Close()
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				srv = netip.MustParseAddrPort(ln.Addr().String())
			}
			base := uint16(47260 + 20*i)
			m, err := portmgr.New(portmgr.Config{Net: n, PoolSize: -1,
				SIPPorts: portmgr.Range{Min: base, Max: base + 1}, MediaPorts: portmgr.Range{Min: base + 2, Max: base + 19},
				Strategies: []portmgr.Strategy{portmgr.StrategyTURN},
				TURN:       portmgr.TURNConfig{Server: srv.String(), Username: "u", Password: "p", NoWarm: true, Transport: tr}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			relayEcho(t, m, netip.IPv6Loopback(), netip.IPv6Loopback())
		})
	}
}

// TestTURNDualStackName: a TURN server name with A and AAAA records
// relays an IPv4 call through its IPv4 address and an IPv6 call through
// its IPv6 one, each with a relayed address of the call's family.
func TestTURNDualStackName(t *testing.T) {
	n := loopbackNet(t)
	v4 := turnServer6(t, netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.1"))
	v6 := turnServer6(t, netip.IPv6Loopback(), netip.IPv6Loopback())
	m, err := portmgr.New(portmgr.Config{Net: dualNet{n, v4, v6}, PoolSize: -1,
		SIPPorts: portmgr.Range{Min: 47300, Max: 47309}, MediaPorts: portmgr.Range{Min: 47310, Max: 47339},
		Strategies: []portmgr.Strategy{portmgr.StrategyTURN},
		TURN:       portmgr.TURNConfig{Server: "turn.test:" + strconv.Itoa(int(v4.Port())), Username: "u", Password: "p", NoWarm: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	relayEcho(t, m, netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.1"))
	relayEcho(t, m, netip.IPv6Loopback(), netip.IPv6Loopback())
}

// TestTURNIPv6WrongFamilyRelay: a server reached over IPv6 that hands
// out an IPv4 relayed address (RFC 6156's default when the client does
// not send REQUESTED-ADDRESS-FAMILY, which pion/turn's client cannot)
// does not relay an IPv6 call: Relay fails and says why, and the
// mapping keeps its own address. The server is not asked again for the
// next IPv6 call (every call would allocate in vain).
func TestTURNIPv6WrongFamilyRelay(t *testing.T) {
	n := loopbackNet(t)
	srv, allocs := turnServer6n(t, netip.IPv6Loopback(), netip.MustParseAddr("127.0.0.1"))
	m, err := portmgr.New(portmgr.Config{Net: n, PoolSize: -1,
		SIPPorts: portmgr.Range{Min: 47340, Max: 47349}, MediaPorts: portmgr.Range{Min: 47350, Max: 47379},
		Strategies: []portmgr.Strategy{portmgr.StrategyTURN},
		TURN:       portmgr.TURNConfig{Server: srv.String(), Username: "u", Password: "p", NoWarm: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mp, err := m.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPortFrom(netip.IPv6Loopback(), 0))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(mp)
	err = m.Relay(ctx, mp, netip.IPv6Loopback())
	if err == nil || !strings.Contains(err.Error(), "family") {
		t.Fatalf("Relay: %v; want an error about the relay's family", err)
	}
	if mp.Via() == portmgr.StrategyTURN || !mp.External().Addr().Is6() {
		t.Errorf("after the failed relay: via %v, external %v", mp.Via(), mp.External())
	}
	mp2, err := m.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPortFrom(netip.IPv6Loopback(), 0))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(mp2)
	err = m.Relay(ctx, mp2, netip.IPv6Loopback())
	if !errors.Is(err, portmgr.ErrNoRelay) || !strings.Contains(err.Error(), "family") {
		t.Fatalf("second Relay: %v; want ErrNoRelay saying why", err)
	}
	if got := allocs.Load(); got != 1 {
		t.Errorf("the server made %d allocations; want 1 (not asked again)", got)
	}
}
