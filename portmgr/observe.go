package portmgr

import (
	"net/netip"

	"github.com/deskphone/phone/portmgr/natcheck"
)

// ObserveRport tells the manager the address the registrar saw the SIP
// flow come from (the received and rport parameters of the top Via in
// its response, RFC 3581 §4). It applies to the most recent SIP UDP
// mapping; see ObserveRportFor.
func (m *Manager) ObserveRport(received netip.AddrPort) {
	m.mu.Lock()
	mp := m.lastSIP
	m.mu.Unlock()
	if mp != nil {
		m.ObserveRportFor(mp, received)
	}
}

// ObserveRportFor is ObserveRport for one SIP mapping.
//
// Policy: what the registrar saw is the truth about the SIP flow. When it
// differs from the advertised external address (symmetric NAT, an ALG
// that remaps ports, a NAT reboot), the mapping's external address
// becomes the received address (strategy "rport") and EventExternalChanged
// is emitted so the UA re-registers with it. A configured static address
// is kept (a configured value wins) and the mismatch is logged. When the
// NAT maps endpoint-independently yet the registrar saw a different port
// than STUN did, something between rewrote the flow: that is reported as
// an ALG (Report.ALGSeen).
func (m *Manager) ObserveRportFor(mp *Mapping, received netip.AddrPort) {
	if !received.IsValid() || mp == nil || mp.Kind != KindSIP {
		return
	}
	received = netip.AddrPortFrom(received.Addr().Unmap(), received.Port())
	m.mu.Lock()
	if _, ok := m.mappings[mp]; !ok {
		m.mu.Unlock()
		return
	}
	mp.rport = received
	alg := false
	if m.nat != nil && m.nat.Mapping == natcheck.EndpointIndependent && mp.stunMapped.IsValid() &&
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

// ObserveContact tells the manager the Contact address the UA sent in a
// REGISTER and the one the registrar echoed in its 200 OK (RFC 3261
// §10.3). They differ only when a middlebox rewrote the SIP: a SIP ALG.
// The ALG is reported (Report.ALGSeen, EventALG); the policy in
// docs/nat.md applies: we keep advertising our own addresses, which
// keeps calls working through ALGs that only rewrite private addresses,
// and tell the user to turn the ALG off.
func (m *Manager) ObserveContact(sent, echoed netip.AddrPort) {
	if !sent.IsValid() || !echoed.IsValid() || sent == echoed {
		return
	}
	m.mu.Lock()
	first := !m.algSeen
	m.algSeen, m.algWhy = true, "Contact "+sent.String()+" came back as "+echoed.String()
	mp := m.lastSIP
	m.mu.Unlock()
	m.log.Warn("SIP ALG rewrote the Contact", "sent", sent, "echoed", echoed)
	if first {
		m.emit(Event{Kind: EventALG, Mapping: mp, Old: sent, New: echoed})
	}
}
