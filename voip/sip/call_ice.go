package sip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"slices"

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
//
// Relayed candidate: when the port manager keeps a warm standby TURN
// allocation on the call's sockets (a relay is configured, media is
// direct), its relayed address is offered too (typ relay, RFC 8445
// §5.1.2.2 type preference 0, raddr/rport the mapped address), and the
// agents check each peer candidate from it as well, through the
// allocation (ICERelayer.SendRelayed), with TURN permissions for the
// peer's candidate IPs installed when the checks start. Direct pairs
// rank above relayed ones, so the relay is selected only where no
// direct pair works (a port-restricted NAT here and a symmetric one
// there). When the RTP pair selected is relayed, the mapping moves onto
// its allocation (Relayer.Relay: media then goes through the relay) and
// the call reports the relay path; a direct selection gives the standby
// allocation back.

// ICERelayer is a Mapper that can offer a media mapping's warm standby
// TURN allocation as an ICE relayed candidate (portmgr.Manager).
type ICERelayer interface {
	StandbyRelay(mp *portmgr.Mapping) (rtp, rtcp netip.AddrPort)
	SendRelayed(mp *portmgr.Mapping, rtcp bool, b []byte, to netip.AddrPort) error
	PermitRelay(mp *portmgr.Mapping, peers ...netip.Addr) error
}

// iceState is the call's ICE. Guarded by Call.mu.
type iceState struct {
	iceUfrag, icePwd string         // ours, made at the first description
	iceAgent         *ice.Agent     // component 1 (RTP)
	iceAgent2        *ice.Agent     // component 2 (RTCP without mux), or nil
	iceRemote        string         // our ufrag|ufrag:pwd of the peer, as the agents check
	iceRTP, iceRTCP  netip.AddrPort // the selected pairs' far ends
	// iceRelay and iceRelayRTCP are the relayed candidates we offered
	// (the standby allocation's addresses), invalid when none.
	iceRelay, iceRelayRTCP netip.AddrPort
	iceLite                bool // we are an ICE-lite agent (public, answering)
	// iceDefault is the selected RTP pair's local candidate that our
	// descriptions carry as the default (c=/m=) once we, controlling,
	// selected it (iceUpdateDefault, RFC 8445 §8.1.2): our host address,
	// the mapped one, or the relay's once the mapping moved onto it;
	// invalid before and after an ICE restart.
	iceDefault netip.AddrPort
	// iceUpdated is the local candidate iceUpdateDefault last took (and
	// sent the updated offer for, when it was not the default already):
	// one re-INVITE per selection.
	iceUpdated netip.AddrPort
	// iceMoving and iceMovingRTCP are the standby relay's addresses from
	// the moment the RTP pair on them is selected until iceUseRelay has
	// moved the mapping onto them (one CreatePermission round trip).
	// Descriptions made meanwhile already carry them (relayedLocked): a
	// controlling peer re-INVITEs the instant it nominated, and an
	// answer with our mapped address as c= took its media off the relay
	// (baresip then sent to our port-restricted NAT, which filtered it).
	iceMoving, iceMovingRTCP netip.AddrPort
}

// relayedLocked is a with the standby relay's addresses as External
// while the mapping moves onto them (iceMoving): what a.Addrs() reads
// once the move is done.
func (c *Call) relayedLocked(a portmgr.Addrs) portmgr.Addrs {
	if !c.iceMoving.IsValid() || a.Via == portmgr.StrategyTURN {
		return a
	}
	a.External, a.Via = c.iceMoving, portmgr.StrategyTURN
	if a.ExternalRTCP.IsValid() && c.iceMovingRTCP.IsValid() {
		a.ExternalRTCP = c.iceMovingRTCP
	}
	return a
}

// iceLocalLocked is our ICE description for a description with
// addresses a, or nil when ICE is off or there is no address to offer.
func (c *Call) iceLocalLocked(a portmgr.Addrs) *sdp.ICE {
	if !c.ua.cfg.ICE || !a.External.IsValid() || a.External.Port() == 0 {
		return nil
	}
	if c.iceUfrag == "" {
		// ICE-lite (RFC 8445 §2.5) when we answer and the port manager
		// sees no NAT (STUN maps our socket to itself): our host
		// candidate is all a peer needs, and the peer's checks do the
		// rest. A lite agent sends no checks and keeps no pairs.
		c.iceLite = c.dir == Incoming && a.Via == portmgr.StrategySTUN && a.External == a.Local
		c.iceUfrag, c.icePwd = ice.NewCredentials()
	}
	l := &sdp.ICE{Ufrag: c.iceUfrag, Pwd: c.icePwd, Lite: c.iceLite}
	c.iceRelay, c.iceRelayRTCP = netip.AddrPort{}, netip.AddrPort{}
	if r, ok := c.ua.cfg.Mapper.(ICERelayer); ok && c.mapping != nil && a.Via != portmgr.StrategyTURN && !c.iceLite {
		c.iceRelay, c.iceRelayRTCP = r.StandbyRelay(c.mapping)
		if !c.iceRelay.IsValid() || c.iceRelay.Addr().Is4() != a.External.Addr().Is4() {
			c.iceRelay, c.iceRelayRTCP = netip.AddrPort{}, netip.AddrPort{}
		}
	}
	completed := c.iceDefault.IsValid() && c.iceDefault == a.External
	if completed {
		// After the updated offer (RFC 8839 §4.4.1.2.2, ICE completed):
		// the candidates of the default destinations only.
		c.iceRelay, c.iceRelayRTCP = netip.AddrPort{}, netip.AddrPort{}
	}
	l.Candidates = iceCandidates(1, a.Local, a.External, a.Via)
	if c.iceRelay.IsValid() {
		l.Candidates = append(l.Candidates, relayCandidate(1, c.iceRelay, a.External))
	}
	if a.ExternalRTCP.IsValid() && a.Local.IsValid() {
		l.Candidates = append(l.Candidates, iceCandidates(2, netip.AddrPortFrom(a.Local.Addr(), a.Local.Port()+1), a.ExternalRTCP, a.Via)...)
		if c.iceRelay.IsValid() && c.iceRelayRTCP.IsValid() {
			l.Candidates = append(l.Candidates, relayCandidate(2, c.iceRelayRTCP, a.ExternalRTCP))
		}
	}
	if completed {
		l.Candidates = slices.DeleteFunc(l.Candidates, func(cd sdp.Candidate) bool {
			return cd.Component == 1 && cd.Addr != a.External || cd.Component == 2 && cd.Addr != a.ExternalRTCP
		})
		if c.iceUpdated.IsValid() && c.iceRTP.IsValid() {
			// We control (iceUpdateDefault): a=remote-candidates, the
			// selected pairs' remote ends (RFC 8839 §4.4.1.2.2; answers
			// leave it out).
			l.Remote = []sdp.Candidate{{Component: 1, Addr: c.iceRTP}}
			if a.ExternalRTCP.IsValid() && c.iceRTCP.IsValid() {
				l.Remote = append(l.Remote, sdp.Candidate{Component: 2, Addr: c.iceRTCP})
			}
		}
	}
	return l
}

// iceDefaultLocked is the mapping's addresses a with the default our
// descriptions carry since the updated offer (iceDefault): the host
// address as External (and the RTCP socket's as ExternalRTCP) when the
// selected pair's local candidate is our host address; a itself when
// it is the mapped or relayed address. ok is false when there is no
// such default, or it is none of a's addresses any more (the mapping
// moved since: an ICE restart follows).
func (c *Call) iceDefaultLocked(a portmgr.Addrs) (portmgr.Addrs, bool) {
	d := c.iceDefault
	switch {
	case !d.IsValid() || c.iceUfrag == "":
		return a, false
	case d == a.External:
		return a, true
	case d == a.Local && a.Via != portmgr.StrategyTURN:
		a.External = a.Local
		if a.ExternalRTCP.IsValid() {
			a.ExternalRTCP = netip.AddrPortFrom(a.Local.Addr(), a.Local.Port()+1)
		}
		return a, true
	}
	return a, false
}

// rtcpMuxLocked reports whether our description offers (or keeps)
// a=rtcp-mux (RFC 5761): once a call negotiated it (we accept it in an
// answer to an ICE offer, sdp.Local.RTCPMuxICE; we do not offer it
// first), every later description keeps it (§5.1.3), without a=rtcp
// and without ICE component 2 (RFC 8839 §4.2; localLocked): only
// component 1 runs.
func (c *Call) rtcpMuxLocked() bool {
	return c.ua.cfg.offerRTCPMux || c.ua.cfg.ICE && c.haveNeg && c.neg.RTCPMux
}

// relayCandidate is our relayed candidate for a component: the standby
// allocation's address, related to the mapped address the allocation
// was made from (RFC 8839 §5.1: raddr/rport of a relayed candidate).
func relayCandidate(comp int, relay, mapped netip.AddrPort) sdp.Candidate {
	return sdp.Candidate{
		Foundation: "3", Component: comp, Transport: "UDP",
		Priority: ice.LocalPriority(sdp.CandRelay, comp), Addr: relay, Type: sdp.CandRelay, Related: mapped,
	}
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
	c.mu.Lock()
	// Either side's new credentials are an ICE restart (ours: refreshICE).
	key := c.iceUfrag + "|" + r.Ufrag + ":" + r.Pwd
	if c.state == StateEnded || c.iceUfrag == "" {
		c.mu.Unlock()
		return
	}
	if c.iceAgent != nil && c.iceRemote == key {
		// Same credentials: no restart. A re-INVITE (the controlling
		// peer's updated offer after nomination, RFC 8445 §8.1.2: baresip
		// sends one with its selected candidate as c=) must not take
		// media off the selected pairs: applyNeg just moved it to c=.
		rtp, rtcp := c.iceRTP, c.iceRTCP
		c.mu.Unlock()
		if rtp.IsValid() {
			m.SetRemote(rtp, rtcpFor(neg, rtp, rtcp))
			if err := c.ua.cfg.Mapper.UpdateRemote(mp, rtp); err != nil {
				c.log.Debug("update remote", "err", err)
			}
		}
		return
	}
	old, old2 := c.iceAgent, c.iceAgent2
	c.iceAgent, c.iceAgent2, c.iceRemote = nil, nil, key
	// New agents, new selections: an updated offer's default was of the
	// old pairs (a peer's restart; ours cleared it in refreshICE).
	c.iceUpdated, c.iceDefault = netip.AddrPort{}, netip.AddrPort{}
	c.iceRTP, c.iceRTCP = netip.AddrPort{}, netip.AddrPort{}
	relay, relayRTCP := c.iceRelay, c.iceRelayRTCP
	rel, _ := c.ua.cfg.Mapper.(ICERelayer)
	if rel == nil {
		relay, relayRTCP = netip.AddrPort{}, netip.AddrPort{}
	}
	base := ice.Config{
		LocalUfrag: c.iceUfrag, LocalPwd: c.icePwd, Remote: r,
		Controlling: c.dir == Outgoing && !c.iceLite,
		Lite:        c.iceLite,
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
		m.SetRemote(rtp, rtcpFor(neg, rtp, rtcp))
	}
	newAgent := func(comp int, conn net.PacketConn, def, relayAddr netip.AddrPort) *ice.Agent {
		cfg := base
		cfg.Component, cfg.Default, cfg.Base = comp, def, mp.Local()
		cfg.Write = func(b []byte, to netip.AddrPort) error {
			_, err := conn.WriteTo(b, net.UDPAddrFromAddrPort(to))
			return err
		}
		if relayAddr.IsValid() {
			cfg.Relay = relayAddr
			cfg.WriteRelay = func(b []byte, to netip.AddrPort) error {
				return rel.SendRelayed(mp, comp == 2, b, to)
			}
		}
		cfg.OnSelect = func(sel ice.Selection) {
			remote := sel.Remote
			c.mu.Lock()
			if comp == 1 {
				c.iceRTP = remote
				if sel.Relayed && relay.IsValid() {
					c.iceMoving, c.iceMovingRTCP = relay, relayRTCP // until iceUseRelay is done
				}
			} else {
				c.iceRTCP = remote
			}
			c.mu.Unlock()
			move()
			if comp != 1 {
				return
			}
			if sel.Relayed {
				c.iceUseRelay(mp, remote, sel.Controlling)
				return
			}
			if err := c.ua.cfg.Mapper.UpdateRemote(mp, remote); err != nil {
				c.log.Debug("update remote", "err", err)
			}
			if d, ok := c.ua.cfg.Mapper.(StandbyDropper); ok && relay.IsValid() {
				d.DropStandby(mp) // a direct pair works: the relay is not needed
			}
			if sel.Controlling {
				c.ua.goFn(func() { c.iceUpdateDefault(mp, sel.Local) })
			}
		}
		ag, err := ice.New(cfg)
		if err != nil {
			c.log.Warn("ice: not started", "ice_component", comp, "err", err)
			return nil
		}
		return ag
	}
	ag := newAgent(1, mp.Conn, neg.Remote, relay)
	if ag == nil {
		return
	}
	var ag2 *ice.Agent
	if !neg.RTCPMux && mp.RTCPConn != nil && hasComponent(r, 2) {
		ag2 = newAgent(2, mp.RTCPConn, neg.RemoteRTCP, relayRTCP)
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
	mp.SetSTUNHook(func(b []byte, from netip.AddrPort, rtcp, relayed bool) bool {
		a, base := ag, relay
		if rtcp {
			a, base = ag2, relayRTCP
		}
		switch {
		case a == nil:
			return false
		case relayed && base.IsValid():
			return a.HandleRelayedSTUN(b, from)
		}
		// Direct, or through the relay the mapping itself uses (its
		// External is the relay: the agent's one base).
		return a.HandleSTUN(b, from)
	})
	if !c.ua.goFn(func() { <-c.done; stop() }) {
		stop()
	}
	if relay.IsValid() {
		// The peer's checks to our relay come from its candidates' IPs
		// (or its NAT's, the srflx one's): let them in before we have
		// sent them anything ourselves.
		peers := []netip.Addr{neg.Remote.Addr()}
		for _, cd := range r.Candidates {
			if !slices.Contains(peers, cd.Addr.Addr()) && cd.Addr.Addr().Is4() == relay.Addr().Is4() && len(peers) < 16 {
				peers = append(peers, cd.Addr.Addr())
			}
		}
		c.ua.goFn(func() {
			if err := rel.PermitRelay(mp, peers...); err != nil {
				c.log.Debug("ice: relay permissions", "peers", peers, "err", err)
			}
		})
	}
	c.log.Info("ice: checks started", "candidates", len(r.Candidates), "controlling", base.Controlling, "default", neg.Remote, "rtcp_component", ag2 != nil, "relay", relay)
}

// iceUseRelay moves the call's media onto the relay whose pair ICE
// selected: the standby allocation becomes the mapping's (Relayer.Relay,
// one CreatePermission round trip), so the media session's packets go
// through it to remote, and the call reports the relay path. It runs
// off the agent's goroutine. The controlling agent then owes the updated
// offer with the relayed address as the default (iceUpdateDefault).
func (c *Call) iceUseRelay(mp *portmgr.Mapping, remote netip.AddrPort, controlling bool) {
	r, ok := c.ua.cfg.Mapper.(Relayer)
	if !ok {
		return
	}
	c.ua.goFn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		go func() {
			select {
			case <-c.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := r.Relay(ctx, mp, remote.Addr())
		c.mu.Lock()
		c.iceMoving, c.iceMovingRTCP = netip.AddrPort{}, netip.AddrPort{}
		c.mu.Unlock()
		if err != nil {
			c.log.Warn("ice: relayed pair selected but the relay failed", "raddr", remote, "err", err)
			return
		}
		const reason = "ice selected the relayed pair"
		c.mu.Lock()
		was := c.relayed
		c.relayed, c.relayReason = true, reason
		c.mu.Unlock()
		c.log.Info("ice: media moved to the relay", "raddr", remote, "relay", mp.External())
		if !was {
			c.ua.emit(&MediaPathEvent{Call: c, Path: MediaPathRelay, Reason: reason})
		}
		if controlling {
			c.iceUpdateDefault(mp, mp.External())
		}
	})
}

// iceUpdateRetry spaces the re-INVITE retries of the updated offer while
// another re-INVITE is open or the dialog not yet confirmed (the pair
// may be selected before our ACK): 20 of iceUpdateRetry.
const iceUpdateRetry = 250 * time.Millisecond

// iceUpdateDefault is the controlling agent's updated offer (RFC 8445
// §8.1.2, RFC 8839 §4.4.1.2.2): when the selected RTP pair's local
// candidate local is not the default (c=/m=) of our last description, a
// re-INVITE makes it the default, with only the default candidates, so
// that a far end or an intermediary that goes by c=/m= rather than by
// ICE's pairs sends there. local is our host address (a peer on our LAN,
// behind our NAT), the mapped one (our c= was the LAN address), or the
// relay's once the mapping moved onto it (iceUseRelay); a peer-reflexive
// address we never advertised stays out of the SDP. Once per selection,
// never after the call ended; the controlled agent (and an ICE-lite
// one) sends none. When local is our default already no re-INVITE is
// needed, but our later descriptions follow the same rules (its
// candidates only, a=remote-candidates: iceLocalLocked).
func (c *Call) iceUpdateDefault(mp *portmgr.Mapping, local netip.AddrPort) {
	c.mu.Lock()
	a := mp.Addrs()
	var def netip.AddrPort
	if c.localSDP != nil && len(c.localSDP.Media) > 0 {
		def = netipFromSDP(c.localSDP)
	}
	ours := local == a.External || local == a.Local && a.Via != portmgr.StrategyTURN
	update := c.state != StateEnded && c.mapping == mp && !c.iceLite &&
		local.IsValid() && ours && def.IsValid() && c.iceUpdated != local
	if update {
		// Our descriptions from now on: this default, its candidates
		// only, a=remote-candidates; a re-INVITE when it is new.
		c.iceUpdated, c.iceDefault = local, local
	}
	c.mu.Unlock()
	if !update || def == local {
		return
	}
	c.log.Info("ice: updated offer: the selected pair's local candidate becomes the default", "local", local, "default", def)
	for range 20 {
		err := c.Refresh()
		switch {
		case err == nil:
			return
		case !errors.Is(err, ErrPending) && !errors.Is(err, ErrCallState):
			c.log.Warn("ice: updated offer", "err", err)
			return
		}
		c.mu.Lock()
		ended, cur := c.state == StateEnded, c.iceUpdated
		c.mu.Unlock()
		if ended || cur != local {
			return
		}
		t := time.NewTimer(iceUpdateRetry)
		select {
		case <-c.done:
			t.Stop()
			return
		case <-t.C:
		}
	}
	c.log.Warn("ice: updated offer not sent", "local", local)
}

// iceKeepsStandby reports whether the call's ICE may still select its
// relayed pair: it offered the standby allocation and still checks. The
// liveness watcher then leaves the standby allocation alone although
// media arrives (it may arrive on the default address while the checks
// find that only the relay works both ways).
func (c *Call) iceKeepsStandby() bool {
	c.mu.Lock()
	ag, relay := c.iceAgent, c.iceRelay
	c.mu.Unlock()
	return ag != nil && relay.IsValid() && ag.Checking()
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

// refreshICE is Refresh after a NAT or network change (natpolicy.go):
// when the call does ICE, the re-INVITE restarts it (RFC 8839
// §4.4.1.1.1: fresh ice-ufrag and ice-pwd in the offer), so the
// candidates are gathered again from what the port manager knows now
// (the new mapping, the standby relay) and the pairs checked again once
// the answer arrives (startICE sees new credentials). A re-INVITE that
// is not sent (another one open, the call not talking) keeps the old
// credentials.
func (c *Call) refreshICE() error {
	c.mu.Lock()
	u, p := c.iceUfrag, c.icePwd
	restart := c.ua.cfg.ICE && u != "" && c.iceAgent != nil
	def, upd := c.iceDefault, c.iceUpdated
	if restart {
		// The restart offers the usual default again (RFC 8839
		// §4.4.1.1.1): the updated offer's is of the old pairs.
		c.iceUfrag, c.icePwd = "", ""
		c.iceDefault, c.iceUpdated = netip.AddrPort{}, netip.AddrPort{}
	}
	c.mu.Unlock()
	err := c.Refresh()
	if restart {
		c.mu.Lock()
		if err != nil && c.iceUfrag == "" {
			c.iceUfrag, c.icePwd = u, p
			c.iceDefault, c.iceUpdated = def, upd
		}
		nu := c.iceUfrag
		c.mu.Unlock()
		if err == nil {
			c.log.Info("ice: restart with the re-INVITE after the address change", "old_ufrag", u, "ufrag", nu)
		}
	}
	return err
}

// standbyWaiter is an ICERelayer that says when a media mapping's standby
// allocation is still being made (portmgr.Manager.StandbyExpected).
type standbyWaiter interface {
	StandbyExpected(mp *portmgr.Mapping) bool
}

// iceRelayWait bounds how long an offer waits for the mapping's standby
// relay allocation (the first call right after boot: the pool's
// allocations are made in the background once it learnt its addresses;
// in the lab they take about 0.1 s).
const iceRelayWait = time.Second

// iceWaitRelay waits, up to iceRelayWait, for mp's standby relay
// allocation before the first offer, so it carries the relayed candidate
// (a peer for which only the relay works gets no other chance without
// a restart). It returns at once when ICE is off, no relay is
// configured, or the allocation is ready.
func (u *UA) iceWaitRelay(ctx context.Context, mp *portmgr.Mapping) {
	w, ok := u.cfg.Mapper.(standbyWaiter)
	if !u.cfg.ICE || !ok || !w.StandbyExpected(mp) {
		return
	}
	start := time.Now()
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	deadline := time.NewTimer(iceRelayWait)
	defer deadline.Stop()
	for w.StandbyExpected(mp) {
		select {
		case <-ctx.Done():
			return
		case <-u.ctx.Done():
			return
		case <-deadline.C:
			u.log.Info("ice: no standby relay allocation yet; offering without a relayed candidate", "waited", iceRelayWait)
			return
		case <-tk.C:
		}
	}
	u.log.Debug("ice: waited for the standby relay allocation", "took", time.Since(start).Round(time.Millisecond))
}

// rtcpFor is where RTCP goes when RTP goes to rtp: there too with
// rtcp-mux, else the RTCP pair selected (rtcp), else the SDP's.
func rtcpFor(neg sdp.Negotiated, rtp, rtcp netip.AddrPort) netip.AddrPort {
	switch {
	case neg.RTCPMux:
		return rtp
	case !rtcp.IsValid():
		return neg.RemoteRTCP
	}
	return rtcp
}
