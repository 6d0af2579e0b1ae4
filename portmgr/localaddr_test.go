package portmgr_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pion/logging"
	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/vnet"

	"github.com/deskphone/phone/portmgr"
)

// routeNet is a vnet host whose route lookup (a UDP Dial) is scripted:
// it answers normally, with no source address (a default route through
// an interface without an IPv4 address), or "network is unreachable"
// (no route at all), and whose interface list can be emptied.
type routeNet struct {
	transport.Net
	mu      sync.Mutex
	mode    string     // "", "nosrc", "noroute"
	src     netip.Addr // with mode "": the source address to report, zero for vnet's own
	noIface bool       // Interfaces reports only a loopback interface without addresses
}

func (n *routeNet) set(mode string, src netip.Addr, noIface bool) {
	n.mu.Lock()
	n.mode, n.src, n.noIface = mode, src, noIface
	n.mu.Unlock()
}

// srcConn reports a scripted local address.
type srcConn struct {
	net.Conn
	local net.Addr
}

func (c srcConn) LocalAddr() net.Addr { return c.local }

func (n *routeNet) Dial(network, address string) (net.Conn, error) {
	n.mu.Lock()
	mode, src := n.mode, n.src
	n.mu.Unlock()
	if mode == "noroute" {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}
	}
	c, err := n.Net.Dial(network, address)
	if err != nil {
		return nil, err
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	switch {
	case mode == "nosrc":
		return srcConn{c, &net.UDPAddr{IP: net.IPv4zero, Port: port}}, nil
	case src.IsValid():
		return srcConn{c, net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, uint16(port)))}, nil
	}
	return c, nil
}

func (n *routeNet) Interfaces() ([]*transport.Interface, error) {
	n.mu.Lock()
	no := n.noIface
	n.mu.Unlock()
	if no {
		return []*transport.Interface{transport.NewInterface(net.Interface{Index: 1, Name: "lo", Flags: net.FlagUp | net.FlagLoopback})}, nil
	}
	return n.Net.Interfaces()
}

// newRouteHost makes a vnet host with two addresses, 10.1.0.5 and
// 10.1.0.6, behind a route lookup scripted by mode and noIface from the
// start, and a quiet Manager on it.
func newRouteHost(t *testing.T, mode string, noIface bool) (*routeNet, *portmgr.Manager) {
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.1.0.0/24", LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	vn, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.1.0.5", "10.1.0.6"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddNet(vn); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	n := &routeNet{Net: vn, mode: mode, noIface: noIface}
	m, err := portmgr.New(portmgr.Config{Net: n, PoolSize: -1, DisableLifetimeProbe: true, DisableEarlyUDP: true, MediaMapWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return n, m
}

// TestNoSourceAddressFromRoute: when the route gives no source address,
// or there is no route, a mapping still gets a real local address to bind
// and advertise (never 0.0.0.0, which in SDP's c= means hold): the SIP
// flow's, else an interface's; with none at all Map fails, saying why.
func TestNoSourceAddressFromRoute(t *testing.T) {
	ctx := context.Background()
	registrar := netip.MustParseAddrPort("10.1.0.1:5060")
	for _, mode := range []string{"nosrc", "noroute"} {
		t.Run(mode, func(t *testing.T) {
			_, m := newRouteHost(t, mode, false)
			for _, kind := range []portmgr.Kind{portmgr.KindMedia, portmgr.KindSIP} {
				mp, err := m.Map(ctx, kind, portmgr.UDP, registrar)
				if err != nil {
					t.Fatalf("Map(%v): %v", kind, err)
				}
				if l, e := mp.Local(), mp.External(); l.Addr().String() != "10.1.0.5" || e.Addr() != l.Addr() {
					t.Fatalf("Map(%v): local %v, external %v; want the interface's 10.1.0.5", kind, l, e)
				}
				m.Release(mp)
			}
		})
	}

	t.Run("sip flow first", func(t *testing.T) {
		n, m := newRouteHost(t, "", false)
		// The route says 10.1.0.6 for the SIP flow; later it breaks.
		n.set("", netip.MustParseAddr("10.1.0.6"), false)
		sip, err := m.Map(ctx, portmgr.KindSIP, portmgr.UDP, registrar)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Release(sip)
		if sip.Local().Addr().String() != "10.1.0.6" {
			t.Fatalf("SIP flow on %v", sip.Local())
		}
		n.set("noroute", netip.Addr{}, false)
		mp, err := m.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Release(mp)
		if mp.External().Addr().String() != "10.1.0.6" {
			t.Fatalf("media advertises %v; want the SIP flow's 10.1.0.6", mp.External())
		}
	})

	t.Run("nothing usable", func(t *testing.T) {
		n, m := newRouteHost(t, "noroute", true)
		mp, err := m.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
		if err == nil {
			t.Fatalf("Map succeeded with %v", mp.External())
		}
		// The reason a failed call shows (the phone's status "error").
		const want = "no usable local address toward the default route (dial udp4: connect: network is unreachable)"
		if !errors.Is(err, portmgr.ErrNoLocalAddress) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Map: %v; want ErrNoLocalAddress with the route's error", err)
		}
		n.set("nosrc", netip.Addr{}, true)
		if _, err := m.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{}); !errors.Is(err, portmgr.ErrNoLocalAddress) {
			t.Fatalf("Map with a source-less route and no interface address: %v", err)
		}
	})
}

// TestStaticExternalUnspecifiedRefused: a configured public address of
// 0.0.0.0 would be advertised in c= as hold; New refuses it.
func TestStaticExternalUnspecifiedRefused(t *testing.T) {
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.2"}}) // never bound: New fails first
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"0.0.0.0", "224.0.0.1"} {
		if m, err := portmgr.New(portmgr.Config{Net: n, StaticExternal: netip.MustParseAddr(a)}); err == nil {
			m.Close()
			t.Errorf("New accepted static external %s", a)
		}
	}
}

// TestRportNotAnAddressIgnored: a Via received/rport that no host can
// send from (0.0.0.0, multicast, port 0) never becomes the SIP flow's
// advertised address.
func TestRportNotAnAddressIgnored(t *testing.T) {
	_, m := newRouteHost(t, "", false)
	sip, err := m.Map(context.Background(), portmgr.KindSIP, portmgr.UDP, netip.MustParseAddrPort("10.1.0.1:5060"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(sip)
	want := sip.External()
	for _, a := range []string{"0.0.0.0:5060", "224.0.0.1:5060", "203.0.113.5:0"} {
		m.ObserveRport(netip.MustParseAddrPort(a))
		if got := sip.External(); got != want {
			t.Fatalf("after rport %s the SIP flow advertises %v, want %v", a, got, want)
		}
	}
	m.ObserveRport(netip.MustParseAddrPort("203.0.113.5:40000"))
	if got := sip.External(); got.String() != "203.0.113.5:40000" {
		t.Fatalf("a real rport was not taken: %v", got)
	}
}
