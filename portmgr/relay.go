package portmgr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// ErrNoRelay means Relay was asked for but no TURN server is configured.
var ErrNoRelay = errors.New("portmgr: no TURN relay configured")

// Relay moves a media mapping in use onto the TURN relay: an allocation
// is made through each of the mapping's own sockets (so the Conn and
// RTCPConn the media session holds now read and write through the
// relay, nothing to swap), with permissions for the far end's IPs in
// peers (RFC 8656 §9: permissions are per IP, so the far end's packets
// from any port its NAT picks reach us; pass the SDP address's IP and
// the one signalling revealed). The mapping's external address becomes
// the relayed one; the caller re-INVITEs with it. No event is emitted:
// the caller asked for the change and re-INVITEs itself. A mapping
// already relayed is left as it is (its permissions extended).
//
// This is the media-liveness fallback: used when the far end's media
// does not arrive on a direct path (a symmetric NAT at the far end that
// does not latch, a SIP ALG), it costs one Allocate and one
// CreatePermission transaction (two round trips to the TURN server with
// the long-term credential challenge, one more for the permission).
func (m *Manager) Relay(ctx context.Context, mp *Mapping, peers ...netip.Addr) error {
	m.mu.Lock()
	server := m.turnAddr
	via := mp.via
	m.mu.Unlock()
	if !server.IsValid() {
		return ErrNoRelay
	}
	if mp.Kind != KindMedia || mp.rtp == nil {
		return fmt.Errorf("portmgr: relay: not a media mapping")
	}
	if !sameFamily(server.Addr(), mp.local.Addr()) { // IPv6 media, IPv4 TURN server (ipv6)
		return fmt.Errorf("%w for %s: the TURN server %s is of the other IP family", ErrNoRelay, mp.local, server)
	}
	if via != StrategyTURN {
		m.stopEarly(mp)
		if err := m.learnTURN(ctx, mp); err != nil {
			return fmt.Errorf("portmgr: relay: %w", err)
		}
	}
	var addrs []net.Addr
	for _, ip := range peers {
		if ip.IsValid() && !ip.IsUnspecified() {
			addrs = append(addrs, &net.UDPAddr{IP: ip.AsSlice(), Port: 9})
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	for _, s := range []*sock{mp.rtp, mp.rtcp} {
		if s == nil {
			continue
		}
		if t := s.turn.Load(); t != nil {
			if err := t.client.CreatePermission(addrs...); err != nil {
				m.log.Warn("turn permission", "peers", peers, "err", err)
			}
		}
	}
	return nil
}
