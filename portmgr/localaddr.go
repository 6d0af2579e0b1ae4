package portmgr

import (
	"fmt"
	"net"
	"net/netip"
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
		target = remote.String()
		toward = target
	}
	ip, err := m.routeSource(target)
	if err == nil && usableLocal(ip) {
		m.noRoute.Store(false)
		return ip, nil
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

// routeSource is the source address the system picks toward target.
func (m *Manager) routeSource(target string) (netip.Addr, error) {
	c, err := m.cfg.Net.Dial("udp4", target)
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

// usableLocal reports whether ip can be bound and advertised.
func usableLocal(ip netip.Addr) bool {
	return ip.IsValid() && ip.Is4() && !ip.IsUnspecified() && !ip.IsMulticast() && !ip.IsLinkLocalMulticast()
}

// fallbackIP is the local IP to use when the route gives none: the SIP
// flow's, else an interface's (loopback only toward loopback), preferring
// one whose subnet holds remote. from says which.
func (m *Manager) fallbackIP(remote netip.AddrPort) (ip netip.Addr, from string) {
	loop := remote.IsValid() && remote.Addr().Unmap().IsLoopback()
	m.mu.Lock()
	for _, mp := range []*Mapping{m.lastSIPLocked(), m.sipWarm} {
		if mp != nil && !mp.released && usableLocal(mp.local.Addr()) && mp.local.Addr().IsLoopback() == loop {
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
			if !usableLocal(ip) || ip.IsLoopback() != loop || ip.IsLinkLocalUnicast() {
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
