package portmgr

import (
	"net/netip"

	"github.com/deskphone/phone/portmgr/natcheck"
)

// ObserveRport tells the manager the address the registrar saw the SIP
// flow come from (the received and rport parameters of the top Via in
// its response, RFC 3581 §4). It applies to the most recent SIP UDP
// mapping still held; with several (one per line), use ObserveRportFor.
func (m *Manager) ObserveRport(received netip.AddrPort) {
	m.mu.Lock()
	mp := m.lastSIPLocked()
	m.mu.Unlock()
	if mp != nil {
		m.ObserveRportFor(mp, received)
	}
}

// ObserveRportFor is ObserveRport for one SIP mapping.
//
// Policy (docs/nat.md, "SIP ALG policy"): what the registrar saw is the
// truth about the SIP flow, unless it cannot be. A registrar that is not
// on a private network sees a public source address, so a received
// address that is private, shared (RFC 6598 CGN), loopback or link-local
// was written by a middlebox on the way back: a SIP ALG that rewrites
// the response's Via to our own LAN address (the Linux nf_nat_sip helper
// does exactly that, and rewrites the echoed Contact the same way). It
// counts as such when it is one of our own addresses, or when STUN to a
// public server saw a public one. Then the ALG is reported
// (Report.ALGSeen with the reason, EventALG once), the mapping keeps its
// STUN-learnt address and no change is emitted.
//
// A received address that nothing can send from (unspecified,
// multicast, port 0) is ignored.
//
// Otherwise, when the received address differs from the advertised
// external address (symmetric NAT, an ALG that remaps ports, a NAT
// reboot), the mapping's external address becomes the received address
// (strategy "rport") and EventExternalChanged is emitted so the UA
// re-registers with it. A configured static address is kept (a
// configured value wins) and the mismatch is logged. When the NAT maps
// endpoint-independently yet the registrar saw a different port than
// STUN did, something between rewrote the flow: that is reported as an
// ALG too (not while the NAT is being classified again after a change).
func (m *Manager) ObserveRportFor(mp *Mapping, received netip.AddrPort) {
	if !received.IsValid() || mp == nil || mp.Kind != KindSIP {
		return
	}
	received = netip.AddrPortFrom(received.Addr().Unmap(), received.Port())
	if !usableLocal(received.Addr()) || received.Port() == 0 {
		// Nobody can send from 0.0.0.0, a multicast address or port 0:
		// a broken or forged Via; advertising it would be worse.
		m.log.Debug("rport ignored: not an address", "received", received)
		return
	}
	local := m.ownAddr(received.Addr())
	m.mu.Lock()
	if _, ok := m.mappings[mp]; !ok {
		m.mu.Unlock()
		return
	}
	mp.rport = received
	if why := rewrittenRport(mp, received, local); why != "" {
		first := !m.algSeen
		m.algSeen, m.algWhy = true, why
		ext := mp.external
		m.mu.Unlock()
		m.log.Warn("SIP ALG rewrote the registrar's Via; keeping the STUN address", "received", received, "ext", ext, "why", why)
		if first {
			m.emit(Event{Kind: EventALG, Mapping: mp, Old: ext, New: received})
		}
		return
	}
	alg := false
	if m.nat != nil && !m.natStale && m.nat.Mapping == natcheck.EndpointIndependent && mp.stunMapped.IsValid() &&
		mp.stunMapped != received && mp.remote.IsValid() {
		alg = true
		m.algSeen, m.algWhy = true, "registrar saw "+received.String()+", STUN saw "+mp.stunMapped.String()
	}
	old := mp.external
	if old == received {
		m.mu.Unlock()
		return
	}
	if mp.via == StrategyStatic {
		m.mu.Unlock()
		m.log.Warn("registrar sees another address than the static one", "static", old, "received", received)
		return
	}
	mp.external, mp.via = received, StrategyRport
	m.mu.Unlock()
	m.log.Info("external SIP address from registrar", "old", old, "ext", received, "alg", alg)
	if alg {
		m.emit(Event{Kind: EventALG, Mapping: mp, Old: old, New: received})
	}
	m.emit(Event{Kind: EventExternalChanged, Mapping: mp, Old: old, New: received})
}

// rewrittenRport returns why received cannot be the address a registrar
// off the LAN saw the flow come from ("" when it can be); local says
// whether it is one of our own addresses. Called with m.mu held.
func rewrittenRport(mp *Mapping, received netip.AddrPort, local bool) string {
	ip := received.Addr()
	if isPublic(ip) || (mp.remote.IsValid() && !isPublic(mp.remote.Addr())) {
		return "" // a public address, or a registrar on a private network
	}
	stunPublic := mp.stunMapped.IsValid() && isPublic(mp.stunMapped.Addr())
	switch {
	case local || ip == mp.local.Addr():
		return "registrar's Via received/rport came back as our own LAN address " + received.String() +
			" (a SIP ALG rewrote the response); keeping " + mp.external.String()
	case stunPublic:
		return "registrar's Via received/rport came back as private address " + received.String() +
			" while STUN saw " + mp.stunMapped.String() + " (a SIP ALG rewrote the response)"
	}
	return ""
}

// cgn is the RFC 6598 shared address space of carrier-grade NATs.
var cgn = netip.MustParsePrefix("100.64.0.0/10")

// isPublic reports whether ip can be a source address seen on the public
// internet: not private (RFC 1918, RFC 4193), shared (RFC 6598),
// loopback, link-local, multicast or unspecified.
func isPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() &&
		!ip.IsMulticast() && !ip.IsUnspecified() && !cgn.Contains(ip)
}

// ownAddr reports whether ip is one of the addresses of our interfaces.
func (m *Manager) ownAddr(ip netip.Addr) bool { return natcheck.HasIP(m.cfg.Net, ip) }

// ObserveContact tells the manager the Contact address the UA sent in a
// REGISTER and the one the registrar echoed in its 200 OK (RFC 3261
// §10.3). They differ only when a middlebox rewrote the SIP: a SIP ALG.
// The ALG is reported (Report.ALGSeen, EventALG); the policy in
// docs/nat.md applies: we keep advertising our own addresses, which
// keeps calls working through ALGs that only rewrite private addresses,
// and tell the user to turn the ALG off.
//
// It applies to the most recent SIP UDP mapping still held; with several
// (one per line), use ObserveContactFor.
func (m *Manager) ObserveContact(sent, echoed netip.AddrPort) {
	m.mu.Lock()
	mp := m.lastSIPLocked()
	m.mu.Unlock()
	m.ObserveContactFor(mp, sent, echoed)
}

// ObserveContactFor is ObserveContact for one SIP mapping: the EventALG
// names mp, so the line that owns it can tell the report is about it. A
// nil mp reports the ALG without naming a mapping.
func (m *Manager) ObserveContactFor(mp *Mapping, sent, echoed netip.AddrPort) {
	if !sent.IsValid() || !echoed.IsValid() || sent == echoed {
		return
	}
	m.mu.Lock()
	first := !m.algSeen
	m.algSeen, m.algWhy = true, "Contact "+sent.String()+" came back as "+echoed.String()
	m.mu.Unlock()
	m.log.Warn("SIP ALG rewrote the Contact", "sent", sent, "echoed", echoed)
	if first {
		m.emit(Event{Kind: EventALG, Mapping: mp, Old: sent, New: echoed})
	}
}
