package portmgr

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/pion/transport/v4/stdnet"
)

// localIP picks the concrete local IP that sockets bind to and that is
// advertised until something better is learnt: the configured bind
// address, else the source address the route to remote gives (a UDP
// "connect", which sends nothing).
//
// The route may give no usable address: a default route through an
// interface without an IPv4 address yields 0.0.0.0, which in SDP's c=
// means hold (RFC 2543) and gives one-way audio; no route at all fails
// with "network is unreachable". Then the SIP flow's local address is
// used (signalling works from it), else an interface address (one on
// remote's subnet first). With none of those, localIP fails with
// ErrNoLocalAddress. It never returns the unspecified address.
func (m *Manager) localIP(remote netip.AddrPort) (netip.Addr, error) {
	if m.cfg.BindAddr.IsValid() && !m.cfg.BindAddr.IsUnspecified() {
		return m.cfg.BindAddr, nil
	}
	target, toward := "192.0.2.1:9", "the default route" // documentation address: routed but never sent to
	if remote.IsValid() {
		// A family hint has port 0; the route lookup dials a real port.
		target = netip.AddrPortFrom(remote.Addr(), cmp.Or(remote.Port(), 9)).String()
		toward = target
	}
	ip, err := m.routeSource(target)
	if err == nil && usableLocal(ip) {
		m.noRoute.Store(false)
		return ip, nil
	}
	if !remote.IsValid() {
		// No IPv4 default route: an IPv6-only network's.
		if ip6, err6 := m.routeSource(defaultRoute6); err6 == nil && usableLocal(ip6) {
			m.noRoute.Store(false)
			return ip6, nil
		}
	}
	if err == nil {
		err = fmt.Errorf("the route's source address is %v", ip)
	}
	alt, from := m.fallbackIP(remote)
	if !alt.IsValid() {
		return netip.Addr{}, fmt.Errorf("%w toward %s (%w), and no SIP flow or interface address", ErrNoLocalAddress, toward, err)
	}
	if !m.noRoute.Swap(true) {
		m.log.Warn("no source address from the route: using another local address",
			"raddr", toward, "laddr", alt, "from", from, "err", err)
	}
	return alt, nil
}

// defaultRoute6 is an IPv6 documentation address (RFC 3849): routed by
// a default route but never sent to.
const defaultRoute6 = "[2001:db8::1]:9"

// errRawRoute: rawRouteSource cannot look this one up; the dial does.
var errRawRoute = errors.New("no raw route lookup")

// routeSource is the source address the system picks toward target: on
// the host's network (stdnet) with raw system calls where it can
// (rawRouteSource), else through Net's dial (vnet in tests).
func (m *Manager) routeSource(target string) (netip.Addr, error) {
	network := "udp4"
	if ap, err := netip.ParseAddrPort(target); err == nil {
		if _, host := m.cfg.Net.(*stdnet.Net); host {
			if ip, err := rawRouteSource(ap); !errors.Is(err, errRawRoute) {
				return ip, err
			}
		}
		network = udpNet(ap.Addr())
	}
	c, err := m.cfg.Net.Dial(network, target)
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return netip.Addr{}, fmt.Errorf("the route's source address %q: %w", c.LocalAddr(), err)
	}
	return ap.Addr().Unmap(), nil
}

// usableLocal reports whether ip can be bound and advertised: an IPv4
// address, or an IPv6 one that is not link-local (fe80::/10 needs a zone,
// which neither SDP nor a Via can carry).
func usableLocal(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.Is4In6() {
		return false
	}
	return ip.Is4() || !ip.IsLinkLocalUnicast()
}

// sameFamily reports whether a and b are both IPv4 or both IPv6; an
// invalid a (no far end) fits any b.
func sameFamily(a, b netip.Addr) bool {
	return !a.IsValid() || a.Unmap().Is4() == b.Unmap().Is4()
}

// fallbackIP is the local IP to use when the route gives none: the SIP
// flow's, else an interface's (loopback only toward loopback), preferring
// one whose subnet holds remote. from says which.
func (m *Manager) fallbackIP(remote netip.AddrPort) (ip netip.Addr, from string) {
	loop := remote.IsValid() && remote.Addr().Unmap().IsLoopback()
	m.mu.Lock()
	for _, mp := range []*Mapping{m.lastSIPLocked(), m.sipWarm} {
		if mp != nil && !mp.released && usableLocal(mp.local.Addr()) && mp.local.Addr().IsLoopback() == loop && sameFamily(remote.Addr(), mp.local.Addr()) {
			ip = mp.local.Addr()
			break
		}
	}
	m.mu.Unlock()
	if ip.IsValid() {
		return ip, "sip flow"
	}
	ifs, err := m.cfg.Net.Interfaces()
	if err != nil {
		return netip.Addr{}, ""
	}
	var first netip.Addr
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			pfx, err := netip.ParsePrefix(a.String())
			if err != nil {
				x, err := netip.ParseAddr(a.String())
				if err != nil {
					continue
				}
				pfx = netip.PrefixFrom(x, x.BitLen())
			}
			ip := pfx.Addr().Unmap()
			if !usableLocal(ip) || ip.IsLoopback() != loop || ip.IsLinkLocalUnicast() || !sameFamily(remote.Addr(), ip) {
				continue
			}
			if remote.IsValid() && pfx.Masked().Contains(remote.Addr().Unmap()) {
				return ip, "interface on the far end's subnet"
			}
			if !first.IsValid() {
				first = ip
			}
		}
	}
	if first.IsValid() {
		return first, "interface"
	}
	return netip.Addr{}, ""
}

// Reachable reports whether the phone has a source address of ip's
// family toward ip: the configured bind address is of that family, or
// the route toward ip gives a usable one. The SIP stack asks it before
// using a server's IPv6 (or IPv4) address, so a name with both AAAA and
// A records on a network without IPv6 goes to IPv4 at once (RFC 8305
// §4-5 in spirit: the family that cannot work is not tried). It sends
// nothing.
func (m *Manager) Reachable(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return false
	}
	if b := m.cfg.BindAddr; b.IsValid() && !b.IsUnspecified() {
		return sameFamily(ip, b)
	}
	src, err := m.routeSource(netip.AddrPortFrom(ip, 9).String())
	return err == nil && usableLocal(src) && sameFamily(ip, src)
}
