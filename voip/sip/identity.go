package sip

import (
	siplib "github.com/emiago/sipgo/sip"
)

// Identity is who the far end is: display name, user part (the number)
// and URI, from P-Asserted-Identity when the proxy sent one, else From
// (incoming) or To (outgoing).
type Identity struct {
	Name   string `json:"name,omitempty"`
	Number string `json:"number,omitempty"`
	URI    string `json:"uri,omitempty"`
}

// Identity returns the far end's identity. For an incoming call it comes
// from the INVITE; for an outgoing one from the To we sent, replaced by a
// P-Asserted-Identity (RFC 3325 §9.1) in a response when one arrives.
func (c *Call) Identity() Identity {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.identity
}

// identityOf reads the identity of the far end from a message: the first
// sip, sips or tel URI of its P-Asserted-Identity headers (RFC 3325 §9.1
// allows one of each), else the fallback header (From or To). ok is false
// when neither gave one.
func identityOf(m interface {
	GetHeaders(string) []siplib.Header
}, fallback string) (Identity, bool) {
	for _, h := range m.GetHeaders("P-Asserted-Identity") {
		nas, err := parseNameAddrs(h.Value())
		if err != nil {
			continue
		}
		for _, na := range nas {
			if id, ok := identityFrom(na); ok {
				return id, true
			}
		}
	}
	if fallback == "" {
		return Identity{}, false
	}
	hs := m.GetHeaders(fallback)
	if len(hs) == 0 {
		return Identity{}, false
	}
	na, err := parseNameAddr(hs[0].Value())
	if err != nil {
		return Identity{}, false
	}
	return identityFrom(na)
}

func identityFrom(na nameAddr) (Identity, bool) {
	switch scheme(na.URI) {
	case "sip", "sips", "tel":
	default:
		return Identity{}, false
	}
	return Identity{Name: na.Name, Number: uriNumber(na.URI), URI: na.URI}, true
}
