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
// The offerer of the call is controlling, the answerer controlled
// (a late offer is sorted out by the tie-breakers, RFC 8445 §7.3.1.1).
// RTCP (component 2) is not checked: it goes where SDP says. The agent
// of a call lives until the call ends, or until a re-INVITE brings new
// credentials (an ICE restart), when a new one starts.

// iceState is the call's ICE. Guarded by Call.mu.
type iceState struct {
	iceUfrag, icePwd string // ours, made at the first description
	iceAgent         *ice.Agent
	iceRemote        string // ufrag:pwd of the peer the agent checks
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
	cand := func(found, typ string, addr, rel netip.AddrPort) {
		l.Candidates = append(l.Candidates, sdp.Candidate{
			Foundation: found, Component: 1, Transport: "UDP",
			Priority: ice.LocalPriority(typ, 1), Addr: addr, Type: typ, Related: rel,
		})
	}
	local := a.Local
	hostOK := local.IsValid() && !local.Addr().IsUnspecified() && local.Addr().Is4() == a.External.Addr().Is4()
	switch {
	case a.Via == portmgr.StrategyTURN:
		if hostOK {
			cand("1", sdp.CandHost, local, netip.AddrPort{})
		}
		cand("3", sdp.CandRelay, a.External, netip.AddrPort{})
	case hostOK && a.External == local:
		cand("1", sdp.CandHost, local, netip.AddrPort{})
	case hostOK:
		cand("1", sdp.CandHost, local, netip.AddrPort{})
		cand("2", sdp.CandSrflx, a.External, local)
	default:
		// Bound to the wildcard: the External is the only address we
		// know the peer can use; call it host when no NAT is in play.
		typ := sdp.CandSrflx
		if a.Via == portmgr.StrategyLocal || a.Via == "" {
			typ = sdp.CandHost
		}
		cand("1", typ, a.External, netip.AddrPort{})
	}
	return l
}

// startICE starts (or restarts) the call's agent once both sides have
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
	old := c.iceAgent
	c.iceAgent, c.iceRemote = nil, key
	cfg := ice.Config{
		LocalUfrag: c.iceUfrag, LocalPwd: c.icePwd, Remote: r,
		Controlling: c.dir == Outgoing,
		Default:     neg.Remote,
		Logger:      c.log,
	}
	c.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	conn := mp.Conn
	cfg.Write = func(b []byte, to netip.AddrPort) error {
		_, err := conn.WriteTo(b, net.UDPAddrFromAddrPort(to))
		return err
	}
	rtcp := neg.RemoteRTCP
	cfg.OnSelect = func(remote netip.AddrPort) {
		if neg.RTCPMux {
			rtcp = remote
		}
		m.SetRemote(remote, rtcp)
		if err := c.ua.cfg.Mapper.UpdateRemote(mp, remote); err != nil {
			c.log.Debug("update remote", "err", err)
		}
	}
	ag, err := ice.New(cfg)
	if err != nil {
		c.log.Warn("ice: not started", "err", err)
		return
	}
	c.mu.Lock()
	if c.state == StateEnded {
		c.mu.Unlock()
		_ = ag.Close()
		return
	}
	c.iceAgent = ag
	c.mu.Unlock()
	mp.SetSTUNHook(ag.HandleSTUN)
	if !c.ua.goFn(func() {
		<-c.done
		mp.SetSTUNHook(nil)
		_ = ag.Close()
	}) {
		mp.SetSTUNHook(nil)
		_ = ag.Close()
	}
	c.log.Info("ice: checks started", "candidates", len(r.Candidates), "controlling", cfg.Controlling, "default", neg.Remote)
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
