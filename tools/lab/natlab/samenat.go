package natlab

import (
	"fmt"
	"strings"
	"time"
)

// A LAN with two phones behind one NAT (issue 14, hairpinning): the NAT
// namespace holds a bridge "lan" with the gateway address and a port per
// phone, so the NAT's rules (natRules, which name "lan") apply to the
// bridge as to a single phone's link.
//
//	s<i>-nat: wan 198.18.x.y, bridge lan 10.X.Y.1/24 (ports l1, l2)
//	   |-- s<i>-ph: phone A, 10.X.Y.2
//	   `-- s<j>-ph: phone B, 10.X.Y.3 (a site name of its own, so the
//	                namespace has a name make lab-clean knows)
//
// Masquerading keeps a source port when it is free, so the two phones
// get distinct port ranges (SameNATPorts) and each keeps its ports on
// the WAN side.

// SameNATPorts are the SIP and media port ranges of phone A and B on a
// shared LAN: disjoint, so masquerading keeps every port (two phones
// on 5060 talking to the same registrar would clash, and one would get
// another external port) and the hairpin map's key, the LAN source
// port, is the external port.
var SameNATPorts = [2]struct{ SIP, Media [2]int }{
	{SIP: [2]int{5060, 5069}, Media: [2]int{16384, 16483}},
	{SIP: [2]int{5070, 5079}, Media: [2]int{20000, 20099}},
}

// AddSameNATSite builds a port-restricted NAT with two phones on its LAN
// and returns a Site per phone, named name and nameB. The first owns the NAT namespace (its
// Close deletes it); the second only its phone namespace. With hairpin,
// the NAT loops packets from the LAN to its own public address back to
// the phone that holds the mapping of the destination port, with the
// source rewritten to the public address (hairpinRules).
func (in *Internet) AddSameNATSite(name, nameB string, udpTimeout time.Duration, hairpin bool) ([2]*Site, error) {
	l := in.lab
	var out [2]*Site
	idx, err := in.takeIndex()
	if err != nil {
		return out, err
	}
	wan := fmt.Sprintf("198.18.%d.%d", 1+idx/250, 1+idx%250)
	lan := fmt.Sprintf("10.%d.%d", idx/256, idx%256)
	a := &Site{Kind: PortRestricted, Name: name, WANIP: wan, PhoneIP: lan + ".2", lab: l, in: in, idx: idx}
	b := &Site{Kind: PortRestricted, Name: nameB, WANIP: wan, PhoneIP: lan + ".3", lab: l, in: in, idx: idx}
	out = [2]*Site{a, b}
	if a.NAT, err = l.AddNS(name + "-nat"); err != nil {
		return out, err
	}
	if err := in.attach(a.NAT, "wan"); err != nil {
		return out, err
	}
	if err := l.ipSetup(a.NAT, "wan", wan+"/15", RouterSites); err != nil {
		return out, err
	}
	for _, s := range [][]string{
		{"ip", "link", "add", "lan", "type", "bridge"},
		{"ip", "link", "set", "lan", "up"},
		{"ip", "addr", "add", lan + ".1/24", "dev", "lan"},
	} {
		if err := l.Run(a.NAT, s...); err != nil {
			return out, err
		}
	}
	for i, s := range out {
		if s.Phone, err = l.AddNS(s.Name + "-ph"); err != nil {
			return out, err
		}
		port := fmt.Sprintf("l%d", i+1)
		if err := l.Veth(s.Phone, "eth0", a.NAT, port); err != nil {
			return out, err
		}
		if err := l.Run(a.NAT, "ip", "link", "set", port, "master", "lan"); err != nil {
			return out, err
		}
		// A router has one LAN interface: what it routes back to the
		// host it came from leaves where it came in. A bridge port
		// does not send a frame back out the port it arrived on
		// unless in hairpin mode, which dropped a phone's packet to
		// its own public address (the phone's hairpinning test, socket
		// to socket on the same host) even behind the hairpinning NAT.
		if err := l.Run(a.NAT, "ip", "link", "set", port, "type", "bridge_slave", "hairpin", "on"); err != nil {
			return out, err
		}
		if err := l.ipSetup(s.Phone, "eth0", s.PhoneIP+"/24", lan+".1"); err != nil {
			return out, err
		}
	}
	a.Rules = natRules(PortRestricted, a.PhoneIP, udpTimeout)
	if hairpin {
		a.Rules += hairpinRules(wan, lan+".0/24", udpTimeout)
	}
	b.Rules = a.Rules
	return out, l.natSetup(a.NAT, a.Rules, udpTimeout)
}

// hairpinRules is a NAT loopback (hairpinning, RFC 4787 REQ-9): the NAT
// remembers which LAN host each UDP mapping belongs to (a dynamic map
// from the source port, which masquerading kept as the external port,
// to the host, refreshed by outbound packets like the mapping itself),
// sends a packet from the LAN to its own public address wan at such a
// port to that host, and rewrites its source to the public address, so
// the receiver sees the sender's external address, the one its SDP and
// STUN name. Without these rules Linux delivers such a packet to the
// NAT box itself (no hairpinning).
func hairpinRules(wan, lanNet string, udpTimeout time.Duration) string {
	t := fmt.Sprintf("%ds", int(udpTimeout.Seconds()))
	var b strings.Builder
	b.WriteString("table ip hairpin {\n")
	fmt.Fprintf(&b, "  map owner { type inet_service : ipv4_addr; flags dynamic,timeout; timeout %s; }\n", t)
	b.WriteString("  chain h_fwd { type filter hook forward priority filter; policy accept;\n")
	fmt.Fprintf(&b, "    iifname \"lan\" oifname \"wan\" meta l4proto udp update @owner { udp sport timeout %s : ip saddr }\n", t)
	b.WriteString("  }\n")
	b.WriteString("  chain h_pre { type nat hook prerouting priority dstnat; policy accept;\n")
	fmt.Fprintf(&b, "    iifname \"lan\" ip daddr %s meta l4proto udp dnat to udp dport map @owner\n", wan)
	b.WriteString("  }\n")
	b.WriteString("  chain h_post { type nat hook postrouting priority srcnat; policy accept;\n")
	fmt.Fprintf(&b, "    oifname \"lan\" ip saddr %s ct status dnat snat to %s\n", lanNet, wan)
	b.WriteString("  }\n}\n")
	return b.String()
}
