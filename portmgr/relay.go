package portmgr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/deskphone/phone/portmgr/internal/stunc"
)

// ErrNoRelay means Relay was asked for but no TURN server is configured.
var ErrNoRelay = errors.New("portmgr: no TURN relay configured")

// Warm relay allocations.
//
// When a TURN server is configured, every media pair that learnt a
// direct address (the warm pool's pairs, and a pair bound cold for a
// call) also gets a standby allocation through its own sockets, made in
// the background after the pair learnt its address (so it never delays
// a call). The standby allocation is not used: media flows direct, the
// socket's reader hands the TURN server's packets to the TURN client and
// everything else to the mapping's user as before. pion's client
// refreshes it (at half its lifetime: every 5 minutes with the usual 10
// minute lifetime) and the media keepalive sends a Binding indication to
// the TURN server beside the direct path's, so the NAT binding to the
// server holds. Relay then only adds a permission (one round trip) and
// switches the sockets over: the liveness switch costs CreatePermission
// plus the re-INVITE, not Allocate's two round trips.
//
// Bounded cost: standby allocations exist only on the pool's pairs
// (PoolSize, default 2: four allocations, RTP and RTCP) and on a call's
// pair until its liveness verdict; a call whose far end's media arrives
// drops its standby (DropStandby). Measured by TestWarmRelayCost in
// portmgr/nattest (docs/nat.md has the figure).

// relayCounters count Relay's switches by how they were made, and hold
// the TURN servers to fail over to.
type relayCounters struct {
	warm, cold atomic.Int64
	primary    netip.AddrPort   // TURNConfig.Server, resolved; guarded by Manager.mu
	alts       []netip.AddrPort // TURNConfig.Fallbacks, resolved; guarded by Manager.mu
	v6         []netip.AddrPort // the AAAA records of Server and Fallbacks (turn6.go); guarded by Manager.mu
	cur6       netip.AddrPort   // the current IPv6 server when Manager.turnAddr is IPv4; guarded by Manager.mu
	// wrongFamily holds the servers that gave a relayed address of the
	// other family than the socket's, and when (turn6.go); guarded by
	// Manager.mu.
	wrongFamily map[netip.AddrPort]wrongFamily
}

// turnTry bounds one TURN server's attempt when another one is left to
// try: a server that does not answer costs this, not the whole of pion's
// retransmissions (about 40 s).
const turnTry = 3 * time.Second

// resolveTURNFallbacks resolves TURNConfig.Fallbacks; when the primary
// server did not resolve, the first fallback that does becomes current.
func (m *Manager) resolveTURNFallbacks() {
	var alts []netip.AddrPort
	for _, h := range m.cfg.TURN.Fallbacks {
		a, err := m.resolve(h)
		if err != nil {
			m.log.Warn("turn fallback server", "server", h, "err", err)
			continue
		}
		alts = append(alts, a)
	}
	v6 := m.resolveTURN6() // turn6.go
	m.mu.Lock()
	m.relays.primary, m.relays.alts, m.relays.v6 = m.turnAddr, alts, v6
	if !m.turnAddr.IsValid() && len(alts) > 0 {
		m.turnAddr = alts[0]
	}
	m.mu.Unlock()
}

// turnServers are the TURN servers of local's family in the order to
// try: the current one, then the others as configured (IPv4 addresses
// before IPv6 ones, which only an IPv6 local address takes).
func (m *Manager) turnServers(local netip.Addr) []netip.AddrPort {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.turnServersLocked(local)
}

func (m *Manager) turnServersLocked(local netip.Addr) []netip.AddrPort {
	cands := append([]netip.AddrPort{m.turnAddr, m.relays.cur6, m.relays.primary}, m.relays.alts...)
	var out []netip.AddrPort
	for _, a := range append(cands, m.relays.v6...) {
		if a.IsValid() && (!local.IsValid() || sameFamily(a.Addr(), local)) && !slices.Contains(out, a) && !m.wrongFamilyLocked(a) {
			out = append(out, a)
		}
	}
	return out
}

// eachTURN runs f with each TURN server in turn until one succeeds
// (several TURN servers with failover): a server that fails while
// another is left gets turnTry, and the one that works becomes current,
// so the next allocation goes there first.
func (m *Manager) eachTURN(ctx context.Context, local netip.Addr, f func(context.Context, netip.AddrPort) error) error {
	servers := m.turnServers(local)
	var err error
	for i, server := range servers {
		if !server.IsValid() {
			continue
		}
		try, cancel := ctx, context.CancelFunc(func() {})
		if i < len(servers)-1 {
			try, cancel = context.WithTimeout(ctx, turnTry)
		}
		err = f(try, server)
		cancel()
		if err == nil {
			m.mu.Lock()
			was := m.turnForLocked(local)
			switch six := server.Addr().Is6(); {
			case six && m.turnAddr.Addr().Is4():
				m.relays.cur6 = server
			case !six && m.turnAddr.Addr().Is6():
				m.relays.cur6, m.turnAddr = m.turnAddr, server
			default:
				m.turnAddr = server
			}
			m.mu.Unlock()
			if was != server {
				m.log.Warn("turn failover", "from", was, "to", server)
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
	}
	if err == nil {
		err = ErrNoRelay
	}
	return err
}

// RelaySwitches returns how many media mappings Relay moved onto the
// relay through a warm standby allocation and how many through a fresh
// one.
func (m *Manager) RelaySwitches() (warm, cold int64) {
	return m.relays.warm.Load(), m.relays.cold.Load()
}

// startWarmRelay makes standby allocations on mp's sockets in the
// background, when a relay is configured and mp is not relayed already.
func (m *Manager) startWarmRelay(mp *Mapping) {
	m.mu.Lock()
	ok := m.turnForLocked(mp.local.Addr()).IsValid() && // a server of the pair's family
		mp.Kind == KindMedia && mp.rtp != nil && mp.via != StrategyTURN && !m.closed && !m.cfg.TURN.NoWarm
	if ok {
		m.wg.Add(1)
	}
	m.mu.Unlock()
	if !ok {
		return
	}
	go func() {
		defer m.wg.Done()
		m.warmRelay(m.ctx, mp)
	}()
}

// warmRelay makes standby allocations on each of mp's sockets that has
// none. A failure is logged; Relay then allocates the slow way.
func (m *Manager) warmRelay(ctx context.Context, mp *Mapping) {
	mp.relayMu.Lock()
	defer mp.relayMu.Unlock()
	m.mu.Lock()
	server, via := m.turnForLocked(mp.local.Addr()), mp.via
	m.mu.Unlock()
	if via == StrategyTURN || !server.IsValid() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := m.eachTURN(ctx, mp.local.Addr(), func(ctx context.Context, server netip.AddrPort) error {
		for _, s := range []*sock{mp.rtp, mp.rtcp} {
			if s == nil || s.closed.Load() || s.turn.Load() != nil {
				continue
			}
			if _, err := m.allocate(ctx, s, server, true); err != nil {
				m.log.Debug("warm relay allocation", "laddr", s.local, "server", server, "err", err)
				m.dropAllocs(mp)
				return err
			}
		}
		m.log.Debug("warm relay allocation ready", "laddr", mp.rtp.local, "server", server)
		return nil
	})
	if err != nil {
		m.dropAllocs(mp)
	}
}

// dropAllocs closes the allocations on mp's sockets (relayed or standby).
func (m *Manager) dropAllocs(mp *Mapping) {
	for _, s := range []*sock{mp.rtp, mp.rtcp} {
		if s == nil {
			continue
		}
		if t := s.turn.Swap(nil); t != nil {
			t.close()
		}
	}
}

// DropStandby releases the standby allocations of a media mapping whose
// direct path is proven (its far end's media arrives): the relay is no
// longer needed for it, so the TURN server's resources and the refreshes
// are given back. A relayed mapping is left alone.
func (m *Manager) DropStandby(mp *Mapping) {
	if mp == nil || mp.rtp == nil {
		return
	}
	mp.relayMu.Lock()
	defer mp.relayMu.Unlock()
	for _, s := range []*sock{mp.rtp, mp.rtcp} {
		if s == nil {
			continue
		}
		t := s.turn.Load()
		if t == nil || !t.standby.Load() || !s.turn.CompareAndSwap(t, nil) {
			continue
		}
		m.mu.Lock()
		closed := m.closed
		if !closed {
			m.wg.Add(1) // under m.mu: Close's Wait has not begun
		}
		m.mu.Unlock()
		if closed {
			t.close() // Close is tearing the sockets down anyway
			continue
		}
		go func() { // the deallocation is a round trip: not on the caller's time
			defer m.wg.Done()
			t.close()
		}()
	}
}

// HasStandby reports whether every socket of mp holds a warm standby
// allocation (tests and the status page).
func (m *Manager) HasStandby(mp *Mapping) bool {
	if mp == nil || mp.rtp == nil {
		return false
	}
	for _, s := range []*sock{mp.rtp, mp.rtcp} {
		if s == nil {
			continue
		}
		t := s.turn.Load()
		if t == nil || !t.standby.Load() || t.relayAddr() == (netip.AddrPort{}) {
			return false
		}
	}
	return true
}

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
// does not latch, a SIP ALG). With a warm standby allocation on the
// mapping (see startWarmRelay) it costs one CreatePermission round trip;
// without, one Allocate (two round trips with the long-term credential
// challenge) and the permission.
func (m *Manager) Relay(ctx context.Context, mp *Mapping, peers ...netip.Addr) error {
	m.mu.Lock()
	anyServer := m.turnAddr
	server := m.turnForLocked(mp.local.Addr())
	via := mp.via
	m.mu.Unlock()
	if !anyServer.IsValid() {
		return ErrNoRelay
	}
	if mp.Kind != KindMedia || mp.rtp == nil {
		return fmt.Errorf("portmgr: relay: not a media mapping")
	}
	if !server.IsValid() { // IPv6 media, a TURN server with no IPv6 address or a wrong-family relay (turn6.go)
		if err := m.familyErr(mp.local.Addr()); err != nil {
			return fmt.Errorf("%w for %s: %w", ErrNoRelay, mp.local, err)
		}
		return fmt.Errorf("%w for %s: the TURN server %s is of the other IP family", ErrNoRelay, mp.local, anyServer)
	}
	var addrs []net.Addr
	for _, ip := range peers {
		if ip.IsValid() && !ip.IsUnspecified() {
			addrs = append(addrs, &net.UDPAddr{IP: ip.AsSlice(), Port: 9})
		}
	}
	mp.relayMu.Lock()
	defer mp.relayMu.Unlock()
	if via != StrategyTURN {
		m.stopEarly(mp)
		if m.activateStandby(mp, addrs) {
			m.relays.warm.Add(1)
			return nil
		}
		if err := m.learnTURNLocked(ctx, mp); err != nil {
			return fmt.Errorf("portmgr: relay: %w", err)
		}
		m.relays.cold.Add(1)
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

// activateStandby switches mp onto its warm standby allocations: the
// permissions first (so the far end's first packets through the relay
// are let in), then the sockets' sends and reads, then the external
// address. It reports false, leaving mp direct, when a socket has no
// ready standby allocation or the permission fails (an allocation that
// expired or lost its NAT binding): the caller allocates afresh.
func (m *Manager) activateStandby(mp *Mapping, addrs []net.Addr) bool {
	var ts []*turnAlloc
	for _, s := range []*sock{mp.rtp, mp.rtcp} {
		if s == nil {
			continue
		}
		t := s.turn.Load()
		if t == nil || !t.standby.Load() || t.relayAddr() == (netip.AddrPort{}) {
			return false
		}
		ts = append(ts, t)
	}
	if len(addrs) > 0 {
		for _, t := range ts {
			if err := t.client.CreatePermission(addrs...); err != nil {
				m.log.Info("warm relay allocation unusable; allocating afresh", "err", err)
				return false
			}
		}
	}
	for _, t := range ts {
		t.standby.Store(false)
	}
	m.mu.Lock()
	mp.external, mp.via = ts[0].relayAddr(), StrategyTURN
	if len(ts) > 1 {
		mp.extRTCP = ts[1].relayAddr()
	}
	m.mu.Unlock()
	m.log.Info("relayed (warm allocation)", "laddr", mp.rtp.local, "ext", ts[0].relayAddr())
	return true
}

// relayAddr is the allocation's relayed address, zero before it is made.
func (t *turnAlloc) relayAddr() netip.AddrPort {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.relay == nil || t.relayClosed {
		return netip.AddrPort{}
	}
	return stunc.ToAddrPort(t.relay.LocalAddr())
}
