package config

import (
	"net"
	"net/netip"
	"strings"
)

// sipHost6Problem says why a registrar or proxy address that names an
// IPv6 literal cannot work, or "" when it can (or is no IPv6 literal).
// Global and unique-local IPv6 addresses work like IPv4 ones (the phone
// binds an IPv6 socket in the same port ranges); a link-local address
// needs a zone (fe80::1%eth0), which neither a SIP URI, a Via nor SDP can
// carry, and multicast or unspecified addresses are no server.
func sipHost6Problem(s string) string {
	if !sipHostIs6(s) {
		return ""
	}
	host := sipHostOf(s)
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return ""
	}
	switch {
	case ip.Zone() != "" || ip.IsLinkLocalUnicast():
		return "an IPv6 link-local address cannot be used (SIP and SDP carry no zone): use a global or unique-local address, or a name with AAAA records"
	case ip.IsUnspecified() || ip.IsMulticast():
		return "not a server's address"
	}
	return ""
}

// turnHost6Problem says why a TURN server address cannot work, or ""
// when it can. An IPv6 TURN server relays IPv6 calls (the port manager
// resolves it and hands pion/turn the address; portmgr/turn6.go), with
// an IPv6 relayed address from a server that allocates in the client's
// family (coturn: allocation-default-address-family=keep). A link-local
// address (no zone to say which link), a multicast or an unspecified
// one is no server.
func turnHost6Problem(s string) string {
	if !sipHostIs6(s) {
		return ""
	}
	ip, err := netip.ParseAddr(strings.Trim(sipHostOf(s), "[]"))
	if err != nil {
		return ""
	}
	switch {
	case ip.Zone() != "" || ip.IsLinkLocalUnicast():
		return "an IPv6 link-local address cannot be used: use a global or unique-local address, or a name with AAAA records"
	case ip.IsUnspecified() || ip.IsMulticast():
		return "not a server's address"
	}
	return ""
}

// sipHostOf is the host of host[:port] or of a sip:/sips: URI, as
// sipHostIs6 reads it.
func sipHostOf(s string) string {
	lower := strings.ToLower(s)
	for _, p := range []string{"sip:", "sips:"} {
		if strings.HasPrefix(lower, p) {
			s = s[len(p):]
			if i := strings.IndexAny(s, ";?"); i >= 0 {
				s = s[:i]
			}
			if i := strings.LastIndexByte(s, '@'); i >= 0 {
				s = s[i+1:]
			}
		}
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}
