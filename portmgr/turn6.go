package portmgr

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pion/transport/v4"
)

// TURN over IPv6 (RFC 6156).
//
// The allocation is made from the mapping's own socket, so the client's
// leg to the TURN server is of the mapping's family: an IPv6 call talks
// to the server's IPv6 address, an IPv4 call to its IPv4 one. The server
// name is resolved by the port manager in both families (A for IPv4
// mappings, AAAA for IPv6 ones; resolveServers) and pion/turn is handed
// the address as a literal: its client (v4.1.4) resolves its server with
// "udp4" only, which fails for an IPv6 address (literalNet).
//
// pion/turn's client sends no REQUESTED-ADDRESS-FAMILY, so the server
// picks the relayed address's family: RFC 6156 §4.2 says IPv4 by default;
// coturn allocates in the family of the client's leg with
// allocation-default-address-family=keep. A relayed address of the other
// family than the call's is useless to the call (its far end is of the
// call's family) and is refused (allocate): the mapping stays direct.

// literalNet is the network pion/turn's client resolves its server on:
// an IP literal is itself, whatever family pion asks for.
type literalNet struct{ transport.Net }

func (n literalNet) ResolveUDPAddr(network, address string) (*net.UDPAddr, error) {
	if ap, err := netip.ParseAddrPort(address); err == nil {
		return net.UDPAddrFromAddrPort(ap), nil
	}
	return n.Net.ResolveUDPAddr(network, address)
}

// errRelayFamily is an allocation whose relayed address is of the other
// family than the socket it was made from.
func errRelayFamily(server, relayed, local netip.AddrPort) error {
	return fmt.Errorf("portmgr: TURN server %s gave a relayed address %s of the other IP family than the call's %s "+
		"(the client cannot ask for REQUESTED-ADDRESS-FAMILY; coturn: allocation-default-address-family=keep)",
		server, relayed, local.Addr())
}

// wrongFamilyHold is how long a TURN server that gave a relayed address
// of the other family is not asked again for that family: every media
// pair of the family would otherwise allocate (and release) in vain.
const wrongFamilyHold = 10 * time.Minute

// wrongFamily is a server's wrong-family answer.
type wrongFamily struct {
	at  time.Time
	err error
}

// markWrongFamily notes that server gave a relayed address of the other
// family (logged once per hold).
func (m *Manager) markWrongFamily(server netip.AddrPort, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.relays.wrongFamily == nil {
		m.relays.wrongFamily = map[netip.AddrPort]wrongFamily{}
	}
	if !m.wrongFamilyLocked(server) {
		m.log.Warn("turn server skipped for its family", "server", server, "for", wrongFamilyHold, "err", err)
	}
	m.relays.wrongFamily[server] = wrongFamily{at: time.Now(), err: err}
}

// wrongFamilyLocked reports whether server gave a relayed address of the
// other family within wrongFamilyHold. m.mu held.
func (m *Manager) wrongFamilyLocked(server netip.AddrPort) bool {
	w, ok := m.relays.wrongFamily[server]
	return ok && time.Since(w.at) < wrongFamilyHold
}

// familyErr is why local's family has no TURN server: the error of one
// that gave a relayed address of the other family, nil when none did.
func (m *Manager) familyErr(local netip.Addr) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for a, w := range m.relays.wrongFamily {
		if sameFamily(a.Addr(), local) && m.wrongFamilyLocked(a) {
			return w.err
		}
	}
	return nil
}

// turnForLocked is the current TURN server of local's family, zero when
// none is configured or resolved in that family. m.mu held.
func (m *Manager) turnForLocked(local netip.Addr) netip.AddrPort {
	if l := m.turnServersLocked(local); len(l) > 0 {
		return l[0]
	}
	return netip.AddrPort{}
}

// resolveTURN6 resolves the AAAA records of the TURN server and its
// fallbacks, in the configured order, for IPv6 mappings when the
// server's current address (resolve prefers A) is IPv4. Literals are
// themselves (resolve6 gives an IPv4 literal none).
func (m *Manager) resolveTURN6() []netip.AddrPort {
	var out []netip.AddrPort
	for _, h := range append([]string{m.cfg.TURN.Server}, m.cfg.TURN.Fallbacks...) {
		if h == "" {
			continue
		}
		if a, err := m.resolve6(h); err == nil {
			out = append(out, a)
		}
	}
	return out
}
