package portmgr

import (
	"net/netip"

	"github.com/deskphone/phone/portmgr/natcheck"
)

// Report is what the port manager knows about the network, for GET
// /api/status (under "nat") and the logs.
type Report struct {
	// Type is the NAT type: "open", "full-cone", "restricted-cone",
	// "port-restricted-cone", "symmetric" or "unknown".
	Type string `json:"type"`
	// Mapping and Filtering are the RFC 5780 behaviours.
	Mapping   natcheck.Behavior `json:"mapping"`
	Filtering natcheck.Behavior `json:"filtering"`
	// Hairpinning says whether the NAT loops packets to its own public address back in.
	Hairpinning bool `json:"hairpinning"`
	// ExternalSIP is the address advertised for the SIP flow.
	ExternalSIP netip.AddrPort `json:"external_sip"`
	// Strategy produced ExternalSIP; MediaStrategy is what new media
	// mappings use.
	Strategy      Strategy `json:"strategy"`
	MediaStrategy Strategy `json:"media_strategy"`
	// BindingLifetime is the configured or measured binding lifetime in
	// seconds (0: unknown); Measured says which.
	BindingLifetime float64 `json:"binding_lifetime_s"`
	Measured        bool    `json:"binding_lifetime_measured"`
	// LifetimeMethod says how a measured lifetime was found:
	// "response-port" (RFC 5780 §4.6: the server answered an idle
	// binding from another socket's request) or "mapped-address" (the
	// server refused RESPONSE-PORT; the idle socket asked again and the
	// mapped addresses were compared, which a NAT that re-creates an
	// expired binding on the same port fools: a lifetime too long).
	LifetimeMethod string `json:"binding_lifetime_method,omitempty"`
	// Keepalive is the refresh interval in use, in seconds.
	Keepalive float64 `json:"keepalive_s"`
	// GatewayFound names the port-mapping protocol found ("" when none).
	GatewayFound bool   `json:"gateway_found"`
	Gateway      string `json:"gateway,omitempty"`
	// ALGSeen says a middlebox rewrote SIP or STUN; ALGDetail says how.
	ALGSeen   bool   `json:"alg_seen"`
	ALGDetail string `json:"alg_detail,omitempty"`
	// STUNServer is the server that last answered.
	STUNServer string `json:"stun_server,omitempty"`
	// Error is why discovery failed, if it did.
	Error string `json:"error,omitempty"`
	// DroppedOversize counts datagrams dropped because they were larger
	// than the buffer their reader offered (a SIP datagram over sipgo's
	// 32 KiB, say); ReadErrors counts socket read errors that were
	// retried. Neither ends a socket's reader.
	DroppedOversize int64 `json:"dropped_oversize"`
	ReadErrors      int64 `json:"read_errors"`
}

// Report returns the current NAT report.
func (m *Manager) Report() Report {
	ka := m.keepaliveInterval()
	m.mu.Lock()
	defer m.mu.Unlock()
	r := Report{Type: m.nat.Type(), Keepalive: ka.Seconds(), ALGSeen: m.algSeen, ALGDetail: m.algWhy,
		BindingLifetime: m.lifetime.Seconds(), Measured: m.measured, LifetimeMethod: m.lifetimeMethod,
		DroppedOversize: m.oversize.Load(), ReadErrors: m.readErrs.Load()}
	if m.nat != nil {
		r.Mapping, r.Filtering, r.Hairpinning = m.nat.Mapping, m.nat.Filtering, m.nat.Hairpinning
	}
	if m.natErr != nil {
		r.Error = m.natErr.Error()
	}
	for _, mp := range []*Mapping{m.lastSIPLocked(), m.sipWarm} {
		if mp != nil {
			r.ExternalSIP, r.Strategy = mp.external, mp.via
			break
		}
	}
	r.MediaStrategy = m.mediaStrategyLocked()
	if m.gw != nil {
		r.GatewayFound, r.Gateway = true, m.gw.Protocol()
	}
	if len(m.servers) > 0 {
		r.STUNServer = m.servers[m.good].String()
	}
	return r
}

// mediaStrategyLocked is the strategy of the first learnt warm pair, or,
// while the pool is still being filled, the one its pairs will use.
func (m *Manager) mediaStrategyLocked() Strategy {
	for _, mp := range m.pool {
		select {
		case <-mp.learnt:
			return mp.via
		default:
		}
	}
	for _, s := range m.cfg.Strategies {
		switch s {
		case StrategyStatic:
			if m.cfg.StaticExternal.IsValid() {
				return s
			}
		case StrategyGateway:
			if m.gw != nil {
				return s
			}
		case StrategySTUN:
			if len(m.servers) > 0 && !m.turnWantedLocked() {
				return s
			}
		case StrategyTURN:
			if m.turnWantedLocked() {
				return s
			}
		}
	}
	return StrategyLocal
}
