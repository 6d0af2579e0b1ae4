package portmgr

import (
	"errors"
	"net"
	"net/netip"
)

// SetSTUNHook installs fn to see the STUN messages that arrive for the
// mapping's sockets (rtcp tells which: ICE component 2 when RTCP is not
// multiplexed), directly or through a TURN relay (relayed: through the
// socket's allocation, standby or in use; from is then the peer's
// address as the relay saw it), before the manager answers them: an ICE
// agent (RFC 8445) takes its connectivity checks and their responses
// this way, on the socket media already uses, so ports,
// demultiplexing and keepalives stay the manager's. fn returns true when
// it took the message; false leaves it to the manager (a plain Binding
// request is answered as before). b is the reader's buffer, valid only
// during the call; fn must not block. A nil fn removes the hook.
// Mappings made by NewMapping have no demultiplexer: their user reads
// STUN from Conn itself.
func (mp *Mapping) SetSTUNHook(fn func(b []byte, from netip.AddrPort, rtcp, relayed bool) bool) {
	if fn == nil {
		mp.stunHook.Store(nil)
		return
	}
	mp.stunHook.Store(&fn)
}

// hookSTUN offers a STUN message to the mapping's hook; true when taken.
func (mp *Mapping) hookSTUN(b []byte, from netip.AddrPort, rtcp, relayed bool) bool {
	h := mp.stunHook.Load()
	return h != nil && (*h)(b, from, rtcp, relayed)
}

// ErrNoStandby means a media mapping's socket has no ready relay
// allocation to send through.
var ErrNoStandby = errors.New("portmgr: no relay allocation on the socket")

// StandbyRelay returns the relayed addresses of the warm standby
// allocations on mp's RTP and RTCP sockets (relay.go), invalid where a
// socket has none ready, and both invalid when mp is relayed already
// (then External is the relay). An ICE agent offers them as relayed
// candidates (RFC 8445 §5.1.1.2) while media flows direct.
func (m *Manager) StandbyRelay(mp *Mapping) (rtp, rtcp netip.AddrPort) {
	if mp == nil || mp.rtp == nil {
		return
	}
	get := func(s *sock) netip.AddrPort {
		if s == nil {
			return netip.AddrPort{}
		}
		if t := s.turn.Load(); t != nil && t.standby.Load() {
			return t.relayAddr()
		}
		return netip.AddrPort{}
	}
	return get(mp.rtp), get(mp.rtcp)
}

// SendRelayed writes b to the peer to through the allocation on mp's RTP
// socket (rtcp: its RTCP socket), standby or in use, without moving the
// mapping's media onto the relay: an ICE agent's checks and answers on
// its relayed candidate. pion installs the permission for to's IP if
// there is none (a round trip, off the caller's goroutine: the write is
// queued).
func (m *Manager) SendRelayed(mp *Mapping, rtcp bool, b []byte, to netip.AddrPort) error {
	if mp == nil || mp.rtp == nil {
		return ErrNoStandby
	}
	s := mp.rtp
	if rtcp {
		s = mp.rtcp
	}
	if s == nil || s.closed.Load() {
		return ErrNoStandby
	}
	t := s.turn.Load()
	if t == nil || t.relayAddr() == (netip.AddrPort{}) {
		return ErrNoStandby
	}
	_, err := t.send(b, net.UDPAddrFromAddrPort(to))
	return err
}

// PermitRelay installs TURN permissions for peers (RFC 8656 §9: per IP)
// on the allocations of mp's sockets, standby or in use, so the peer's
// checks to our relayed candidate are let in before we sent it anything.
// It blocks for the round trip.
func (m *Manager) PermitRelay(mp *Mapping, peers ...netip.Addr) error {
	if mp == nil || mp.rtp == nil {
		return ErrNoStandby
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
	var err error
	for _, s := range []*sock{mp.rtp, mp.rtcp} {
		if s == nil {
			continue
		}
		if t := s.turn.Load(); t != nil && t.relayAddr() != (netip.AddrPort{}) {
			if e := t.client.CreatePermission(addrs...); e != nil {
				err = e
			}
		}
	}
	return err
}

// StandbyExpected reports whether a warm standby allocation is wanted
// on mp (a TURN server of its family is configured, warm allocations are
// on, mp is a direct media mapping) but not ready yet: it is being made
// in the background (relay.go), or it failed. An ICE agent about to
// offer candidates may wait a little for it (the first call right after
// boot).
func (m *Manager) StandbyExpected(mp *Mapping) bool {
	if mp == nil || mp.rtp == nil || mp.Kind != KindMedia {
		return false
	}
	m.mu.Lock()
	want := m.turnForLocked(mp.local.Addr()).IsValid() && mp.via != StrategyTURN && !m.closed && !m.cfg.TURN.NoWarm
	m.mu.Unlock()
	if !want {
		return false
	}
	rtp, _ := m.StandbyRelay(mp)
	return !rtp.IsValid()
}
