package portmgr

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// The manager's own probes (the RFC 5780 tests, the binding-lifetime
// probes, the PCP, NAT-PMP and SSDP requests to the gateway) need sockets
// besides the mappings'. Like every UDP socket of the phone, they are
// bound inside the configured ranges, which is what a firewall admin
// opens for the phone. A probe socket takes a free port from the top of
// the media range (the even port of a pair; mappings take their pairs
// from the bottom), else from the top of the SIP range; closing it gives
// the port back.
//
// Discovery probes (reserve) never take the last free pair or the last
// free SIP port, so in a small range they fail rather than starve a
// call; the NAT then stays unclassified, or the lifetime unmeasured. The
// gateway's requests, which create, renew and delete the leases that keep
// mappings reachable, may take the last port.

// probeListener returns a function that binds probe sockets on ip (the
// configured BindAddr wins, as for mappings).
func (m *Manager) probeListener(ip netip.Addr, reserve bool) func() (net.PacketConn, error) {
	return func() (net.PacketConn, error) { return m.probeListen(ip, reserve) }
}

func (m *Manager) probeListen(ip netip.Addr, reserve bool) (net.PacketConn, error) {
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	first := (m.cfg.MediaPorts.Min + 1) &^ 1
	if c := m.probeFrom(m.pairUsed, reserve, ip, func(i int) uint16 { return first + uint16(2*i) }); c != nil {
		return c, nil
	}
	if c := m.probeFrom(m.sipUsed, reserve, ip, func(i int) uint16 { return m.cfg.SIPPorts.Min + uint16(i) }); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("%w: no port free for a probe socket in %s or %s", ErrExhausted, m.cfg.MediaPorts, m.cfg.SIPPorts)
}

// probeFrom binds a probe socket on the highest free slot of used that
// binds, or returns nil.
func (m *Manager) probeFrom(used []bool, reserve bool, ip netip.Addr, port func(int) uint16) net.PacketConn {
	for i := len(used) - 1; i >= 0; i-- {
		if !m.claimProbe(used, i, reserve) {
			continue
		}
		c, err := m.listen(ip, port(i))
		if err != nil {
			m.unclaim(used, i)
			m.log.Debug("probe port busy", "port", port(i), "err", err)
			continue
		}
		return &probeConn{PacketConn: c, release: func() { m.unclaim(used, i) }}
	}
	return nil
}

// claimProbe claims slot i of used for a probe, unless it is taken or,
// with reserve, the last free one. Unlike claim it works while the
// manager closes: Close deletes gateway leases.
func (m *Manager) claimProbe(used []bool, i int, reserve bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if used[i] {
		return false
	}
	if reserve {
		free := 0
		for _, u := range used {
			if !u {
				free++
			}
		}
		if free < 2 {
			return false
		}
	}
	used[i] = true
	return true
}

// probeConn is a probe socket; Close gives its port back.
type probeConn struct {
	net.PacketConn
	once    sync.Once
	release func()
}

func (c *probeConn) Close() error {
	err := c.PacketConn.Close()
	c.once.Do(c.release)
	return err
}

// probeSockets binds n discovery probe sockets on ip at once, or none: a
// probe that runs several sockets side by side (the lifetime estimate)
// gives no answer rather than a skewed one when the ranges are short.
// listen hands them out one per call; release closes the ones never
// taken.
func (m *Manager) probeSockets(ip netip.Addr, n int) (listen func() (net.PacketConn, error), release func(), err error) {
	socks := make([]net.PacketConn, 0, n)
	var mu sync.Mutex
	release = func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range socks {
			_ = c.Close()
		}
		socks = nil
	}
	for range n {
		c, err := m.probeListen(ip, true)
		if err != nil {
			release()
			return nil, nil, err
		}
		socks = append(socks, c)
	}
	listen = func() (net.PacketConn, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(socks) == 0 {
			return nil, fmt.Errorf("%w: probe sockets used up", ErrExhausted)
		}
		c := socks[0]
		socks = socks[1:]
		return c, nil
	}
	return listen, release, nil
}
