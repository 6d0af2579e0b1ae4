package sip

import (
	"net"
	"net/netip"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/ice"
	"github.com/deskphone/phone/voip/media"
	"github.com/deskphone/phone/voip/sdp"
)

// ICE (RFC 8445, SDP per RFC 8839), when Config.ICE is set.
//
// Our candidates are the addresses the port manager already knows for
// the call's media socket: its local address (host), its STUN, gateway
// or static mapping (srflx), or its TURN relay (relay). The c=/m=
// address stays what it was without ICE (the mapping's External), so a
// peer without ICE sees the same offer plus attributes it ignores, and
// media starts there at once. When the peer does ICE too, an agent
// (voip/ice) runs its checks on the media socket itself (the port
// manager hands it the STUN through Mapping.SetSTUNHook) and moves the
// media session to the selected pair: no silence while checks run.
//
// Without rtcp-mux RTCP has its own socket and is ICE component 2 (RFC
// 8445 §4; baresip refuses ICE with a peer that does not list candidates
// for it): the same candidate kinds for the RTCP socket, and a second
// agent on it. The offerer of the call is controlling, the answerer
// controlled (a late offer is sorted out by the tie-breakers, RFC 8445
// §7.3.1.1). The agents of a call live until the call ends, or until a
// re-INVITE brings new credentials (an ICE restart), when new ones
// start.

// iceState is the call's ICE. Guarded by Call.mu.
type iceState struct {
	iceUfrag, icePwd string         // ours, made at the first description
	iceAgent         *ice.Agent     // component 1 (RTP)
	iceAgent2        *ice.Agent     // component 2 (RTCP without mux), or nil
	iceRemote        string         // ufrag:pwd of the peer the agents check
	iceRTP, iceRTCP  netip.AddrPort // the selected pairs' far ends
}

// iceLocalLocked is our ICE description for a description with
// addresses a, or nil when ICE is off or there is no address to offer.
func (c *Call) iceLocalLocked(a portmgr.Addrs) *sdp.ICE {
	if !c.ua.cfg.ICE || !a.External.IsValid() || a.External.Port() == 0 {
		return nil
	}
	if c.iceUfrag == "" {
		c.iceUfrag, c.icePwd = ice.NewCredentials()
	}
	l := &sdp.ICE{Ufrag: c.iceUfrag, Pwd: c.icePwd}
	l.Candidates = iceCandidates(1, a.Local, a.External, a.Via)
	if a.ExternalRTCP.IsValid() && a.Local.IsValid() {
		l.Candidates = append(l.Candidates, iceCandidates(2, netip.AddrPortFrom(a.Local.Addr(), a.Local.Port()+1), a.ExternalRTCP, a.Via)...)
	}
	return l
}

// iceCandidates are our candidates for one component: its socket's
// local address, and the address the port manager advertises for it
// (external) as what it is: the same (host), a mapping (srflx) or a
// relay.
func iceCandidates(comp int, local, external netip.AddrPort, via portmgr.Strategy) []sdp.Candidate {
	var out []sdp.Candidate
	cand := func(found, typ string, addr, rel netip.AddrPort) {
		out = append(out, sdp.Candidate{
			Foundation: found, Component: comp, Transport: "UDP",
			Priority: ice.LocalPriority(typ, comp), Addr: addr, Type: typ, Related: rel,
		})
	}
	hostOK := local.IsValid() && !local.Addr().IsUnspecified() && local.Addr().Is4() == external.Addr().Is4()
	switch {
	case via == portmgr.StrategyTURN:
		if hostOK {
			cand("1", sdp.CandHost, local, netip.AddrPort{})
		}
		cand("3", sdp.CandRelay, external, netip.AddrPort{})
	case hostOK && external == local:
		cand("1", sdp.CandHost, local, netip.AddrPort{})
	case hostOK:
		cand("1", sdp.CandHost, local, netip.AddrPort{})
		cand("2", sdp.CandSrflx, external, local)
	default:
		// Bound to the wildcard: the external address is the only one
		// we know the peer can use; host when no NAT is in play.
		typ := sdp.CandSrflx
		if via == portmgr.StrategyLocal || via == "" {
			typ = sdp.CandHost
		}
		cand("1", typ, external, netip.AddrPort{})
	}
	return out
}

// startICE starts (or restarts) the call's agents once both sides have
// described ICE; m is the call's media session, mp its mapping.
func (c *Call) startICE(neg sdp.Negotiated, mp *portmgr.Mapping, m *media.Session) {
	if neg.RemoteICE == nil || mp == nil || m == nil || mp.Conn == nil {
		return
	}
	r := *neg.RemoteICE
	key := r.Ufrag + ":" + r.Pwd
	c.mu.Lock()
	if c.state == StateEnded || c.iceUfrag == "" || (c.iceAgent != nil && c.iceRemote == key) {
		c.mu.Unlock()
		return
	}
	old, old2 := c.iceAgent, c.iceAgent2
	c.iceAgent, c.iceAgent2, c.iceRemote = nil, nil, key
	c.iceRTP, c.iceRTCP = netip.AddrPort{}, netip.AddrPort{}
	base := ice.Config{
		LocalUfrag: c.iceUfrag, LocalPwd: c.icePwd, Remote: r,
		Controlling: c.dir == Outgoing,
		Tiebreaker:  ice.NewTiebreaker(),
		Logger:      c.log,
	}
	c.mu.Unlock()
	for _, a := range []*ice.Agent{old, old2} {
		if a != nil {
			_ = a.Close()
		}
	}
	// Where media goes: the selected pair of each component, else SDP's.
	move := func() {
		c.mu.Lock()
		rtp, rtcp := c.iceRTP, c.iceRTCP
		c.mu.Unlock()
		if !rtp.IsValid() {
			rtp = neg.Remote
		}
		switch {
		case neg.RTCPMux:
			rtcp = rtp
		case !rtcp.IsValid():
			rtcp = neg.RemoteRTCP
		}
		m.SetRemote(rtp, rtcp)
	}
	newAgent := func(comp int, conn net.PacketConn, def netip.AddrPort) *ice.Agent {
		cfg := base
		cfg.Component, cfg.Default = comp, def
		cfg.Write = func(b []byte, to netip.AddrPort) error {
			_, err := conn.WriteTo(b, net.UDPAddrFromAddrPort(to))
			return err
		}
		cfg.OnSelect = func(remote netip.AddrPort) {
			c.mu.Lock()
			if comp == 1 {
				c.iceRTP = remote
			} else {
				c.iceRTCP = remote
			}
			c.mu.Unlock()
			move()
			if comp == 1 {
				if err := c.ua.cfg.Mapper.UpdateRemote(mp, remote); err != nil {
					c.log.Debug("update remote", "err", err)
				}
			}
		}
		ag, err := ice.New(cfg)
		if err != nil {
			c.log.Warn("ice: not started", "ice_component", comp, "err", err)
			return nil
		}
		return ag
	}
	ag := newAgent(1, mp.Conn, neg.Remote)
	if ag == nil {
		return
	}
	var ag2 *ice.Agent
	if !neg.RTCPMux && mp.RTCPConn != nil && hasComponent(r, 2) {
		ag2 = newAgent(2, mp.RTCPConn, neg.RemoteRTCP)
	}
	stop := func() {
		mp.SetSTUNHook(nil)
		_ = ag.Close()
		if ag2 != nil {
			_ = ag2.Close()
		}
	}
	c.mu.Lock()
	if c.state == StateEnded {
		c.mu.Unlock()
		stop()
		return
	}
	c.iceAgent, c.iceAgent2 = ag, ag2
	c.mu.Unlock()
	mp.SetSTUNHook(func(b []byte, from netip.AddrPort, rtcp bool) bool {
		if rtcp {
			return ag2 != nil && ag2.HandleSTUN(b, from)
		}
		return ag.HandleSTUN(b, from)
	})
	if !c.ua.goFn(func() { <-c.done; stop() }) {
		stop()
	}
	c.log.Info("ice: checks started", "candidates", len(r.Candidates), "controlling", base.Controlling, "default", neg.Remote, "rtcp_component", ag2 != nil)
}

// hasComponent reports whether ice lists a candidate for component comp.
func hasComponent(d sdp.ICE, comp int) bool {
	for _, c := range d.Candidates {
		if c.Component == comp {
			return true
		}
	}
	return false
}

// ICESelected is the far end's address of the pair ICE selected for the
// call's media, invalid while none is (or the call does no ICE).
func (c *Call) ICESelected() netip.AddrPort {
	c.mu.Lock()
	ag := c.iceAgent
	c.mu.Unlock()
	if ag == nil {
		return netip.AddrPort{}
	}
	return ag.Selected()
}

// iceChecking reports whether ICE owns the call's media path: its RTP
// agent still looks for a pair, or selected one. The liveness rule then
// stays out: moving the sockets to the relay under the checks breaks
// them (our answers would come from the relay), and a selected pair has
// been proven both ways by the checks themselves, while the far end may
// send media only once all its components are done (baresip: about
// 4.6 s after the answer). When the agent gives up, the rule applies.
func (c *Call) iceChecking() bool {
	c.mu.Lock()
	ag := c.iceAgent
	c.mu.Unlock()
	return ag != nil && (ag.Checking() || ag.Selected().IsValid())
}
