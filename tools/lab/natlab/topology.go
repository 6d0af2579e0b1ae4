package natlab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Public addresses of the lab's internet (RFC 5737 documentation
// prefixes, only ever configured inside lab namespaces).
const (
	RouterServers = "203.0.113.1"
	RouterSites   = "198.18.0.1"
	// KamailioPlain is the registrar without NAT help, KamailioNAT the one
	// with nathelper and rport handling.
	KamailioPlain = "203.0.113.10"
	KamailioNAT   = "203.0.113.11"
	// PBXEarly is tools/pbx, whose "early" service the Kamailios route
	// the extension "early" to.
	PBXEarly = "203.0.113.12"
	// STUN1 and STUN2 are coturn's two addresses (RFC 5780 needs two).
	STUN1 = "203.0.113.20"
	STUN2 = "203.0.113.21"
	// PublicPhone is a phone host directly on the internet (no NAT).
	PublicPhone = "203.0.113.30"
	// RouterMAC is the router's bridge address, set once: a Linux bridge
	// otherwise takes the lowest MAC of its ports, so a site joining or
	// leaving changed the gateway's MAC under every other site's ARP
	// cache, and their traffic to the servers (SIP, STUN, the TURN relay)
	// went to a MAC that no longer existed for up to a minute, while
	// site-to-site media on the shared /15 kept flowing. No real router
	// changes its MAC when a customer comes or goes.
	RouterMAC = "02:64:70:6c:00:01"
)

// NATKind is a NAT behaviour the lab can build.
type NATKind string

// The NAT kinds. DoubleNAT is a port-restricted home NAT behind a
// port-restricted carrier NAT; ALG is a port-restricted NAT with the
// Linux SIP helper (nf_conntrack_sip / nf_nat_sip) on port 5060.
const (
	NoNAT          NATKind = "none"
	FullCone       NATKind = "full-cone"
	RestrictedCone NATKind = "restricted-cone"
	PortRestricted NATKind = "port-restricted"
	Symmetric      NATKind = "symmetric"
	DoubleNAT      NATKind = "double"
	ALG            NATKind = "sip-alg"
)

// Internet is the public segment: a router namespace with a bridge that
// carries both prefixes, and a server namespace.
type Internet struct {
	lab    *Lab
	Router string
	Server string

	mu    sync.Mutex // guards following
	next  int        // bridge port counter
	sites int        // site indexes handed out so far
}

// maxSites is the number of site indexes (the address plan's limit:
// NAT WANs 198.18.1.1-198.18.240.250, public phones the same in 198.19,
// LANs 10.X.Y.0/24). Indexes are never reused within a run, so no
// server state (coturn allocations, registrations, neighbour caches)
// from a closed site can meet a new one.
const maxSites = 60000

// NewInternet builds the router and server namespaces.
func (l *Lab) NewInternet() (*Internet, error) {
	in := &Internet{lab: l}
	var err error
	if in.Router, err = l.AddNS("inet"); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"ip", "link", "add", "br0", "address", RouterMAC, "type", "bridge"},
		{"ip", "link", "set", "br0", "up"},
		{"ip", "addr", "add", RouterServers + "/24", "dev", "br0"},
		{"ip", "addr", "add", RouterSites + "/15", "dev", "br0"},
		{"sysctl", "-qw", "net.ipv4.ip_forward=1"},
	}
	for _, s := range steps {
		if err := l.Run(in.Router, s...); err != nil {
			return nil, err
		}
	}
	if in.Server, err = l.AddNS("srv"); err != nil {
		return nil, err
	}
	if err := in.attach(in.Server, "eth0"); err != nil {
		return nil, err
	}
	for _, a := range []string{KamailioPlain, KamailioNAT, PBXEarly, STUN1, STUN2} {
		if err := l.Run(in.Server, "ip", "addr", "add", a+"/24", "dev", "eth0"); err != nil {
			return nil, err
		}
	}
	if err := l.Run(in.Server, "ip", "route", "add", "default", "via", RouterServers); err != nil {
		return nil, err
	}
	return in, nil
}

// attach links namespace ns (interface ifname) to the bridge.
func (in *Internet) attach(ns, ifname string) error {
	in.mu.Lock()
	in.next++
	port := fmt.Sprintf("p%d", in.next)
	in.mu.Unlock()
	if err := in.lab.Veth(ns, ifname, in.Router, port); err != nil {
		return err
	}
	return in.lab.Run(in.Router, "ip", "link", "set", port, "master", "br0")
}

// Site is a phone host, behind a NAT or directly on the internet.
type Site struct {
	Kind NATKind
	// Name is the site's short name; Phone its phone namespace, PhoneIP
	// the phone's address there.
	Name    string
	Phone   string
	PhoneIP string
	// NAT is the namespace of the NAT next to the phone (the home NAT in
	// a double NAT), Carrier the carrier NAT of a double NAT; WANIP is the
	// public address the site appears from.
	NAT     string
	Carrier string
	WANIP   string
	// Rules is the nftables ruleset of NAT (the recipe, for the report).
	Rules string

	lab    *Lab
	in     *Internet
	idx    int
	closed bool
}

// Capture records the site's phone interface to Dir/<name>.pcap with
// dumpcap (for findings; DESKPHONE_NATLAB_PCAP=1 turns it on in the tests). The
// capture stops with the Lab or when the returned Proc is stopped.
func (s *Site) Capture(name string) (*Proc, error) {
	path := filepath.Join(s.lab.Dir, name+".pcap")
	p, err := s.lab.Start(s.Phone, name+"-pcap", nil, "dumpcap", "-q", "-i", "eth0", "-f", "udp", "-w", path)
	if err != nil {
		return nil, err
	}
	// dumpcap says nothing when it is ready; give it until the file
	// exists.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && !p.Exited() {
		if _, err := os.Stat(path); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p, nil
}

// takeIndex hands out a new site index.
func (in *Internet) takeIndex() (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.sites >= maxSites {
		return 0, fmt.Errorf("lab: more than %d sites (the address plan's limit)", maxSites)
	}
	in.sites++
	return in.sites, nil
}

// Close deletes the site's namespaces (stop its processes first). It is
// safe to call more than once.
func (s *Site) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var first error
	for _, ns := range []string{s.Phone, s.NAT, s.Carrier} {
		if ns == "" {
			continue
		}
		if err := s.lab.DelNS(ns); err != nil && first == nil {
			first = err
		}
	}
	if err := s.in.checkRouterMAC(); err != nil && first == nil {
		first = err
	}
	return first
}

// checkRouterMAC fails when the router's bridge no longer has RouterMAC
// (see there): every site's traffic to the servers would black-hole.
func (in *Internet) checkRouterMAC() error {
	out, err := in.lab.Output(in.Router, "cat", "/sys/class/net/br0/address")
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(out); got != RouterMAC {
		return fmt.Errorf("lab: router bridge MAC is %s, want %s: sites' ARP caches point at a MAC that is gone", got, RouterMAC)
	}
	return nil
}

// AddSite builds a site of the given kind with UDP binding timeout
// udpTimeout (nf_conntrack_udp_timeout and _stream in the NAT
// namespaces, and the lifetime of the cone mappings).
func (in *Internet) AddSite(name string, kind NATKind, udpTimeout time.Duration) (*Site, error) {
	l := in.lab
	idx, err := in.takeIndex()
	if err != nil {
		return nil, err
	}
	s := &Site{Kind: kind, Name: name, lab: l, in: in, idx: idx}
	if s.Phone, err = l.AddNS(name + "-ph"); err != nil {
		return nil, err
	}
	if kind == NoNAT {
		s.PhoneIP = fmt.Sprintf("198.19.%d.%d", 1+idx/250, 1+idx%250)
		s.WANIP = s.PhoneIP
		if err := in.attach(s.Phone, "eth0"); err != nil {
			return nil, err
		}
		return s, l.ipSetup(s.Phone, "eth0", s.PhoneIP+"/15", RouterSites)
	}
	wan := fmt.Sprintf("198.18.%d.%d", 1+idx/250, 1+idx%250)
	s.WANIP = wan
	s.PhoneIP = fmt.Sprintf("10.%d.%d.2", idx/256, idx%256)
	lanGW := fmt.Sprintf("10.%d.%d.1", idx/256, idx%256)
	outer := ""
	if kind == DoubleNAT {
		if s.Carrier, err = l.AddNS(name + "-cgn"); err != nil {
			return nil, err
		}
		if err := in.attach(s.Carrier, "wan"); err != nil {
			return nil, err
		}
		if err := l.ipSetup(s.Carrier, "wan", wan+"/15", RouterSites); err != nil {
			return nil, err
		}
		outer = fmt.Sprintf("100.%d.%d.2", 64+idx/256, idx%256)
	}
	if s.NAT, err = l.AddNS(name + "-nat"); err != nil {
		return nil, err
	}
	natWAN := wan
	if kind == DoubleNAT {
		natWAN = outer
		cgnLAN := fmt.Sprintf("100.%d.%d.1", 64+idx/256, idx%256)
		if err := l.Veth(s.NAT, "wan", s.Carrier, "lan"); err != nil {
			return nil, err
		}
		if err := l.Run(s.Carrier, "ip", "addr", "add", cgnLAN+"/24", "dev", "lan"); err != nil {
			return nil, err
		}
		if err := l.ipSetup(s.NAT, "wan", outer+"/24", cgnLAN); err != nil {
			return nil, err
		}
		cgnRules := natRules(PortRestricted, "", udpTimeout)
		if err := l.natSetup(s.Carrier, cgnRules, udpTimeout); err != nil {
			return nil, err
		}
	} else {
		if err := in.attach(s.NAT, "wan"); err != nil {
			return nil, err
		}
		if err := l.ipSetup(s.NAT, "wan", wan+"/15", RouterSites); err != nil {
			return nil, err
		}
	}
	_ = natWAN
	if err := l.Veth(s.Phone, "eth0", s.NAT, "lan"); err != nil {
		return nil, err
	}
	if err := l.Run(s.NAT, "ip", "addr", "add", lanGW+"/24", "dev", "lan"); err != nil {
		return nil, err
	}
	if err := l.ipSetup(s.Phone, "eth0", s.PhoneIP+"/24", lanGW); err != nil {
		return nil, err
	}
	inner := kind
	if kind == DoubleNAT {
		inner = PortRestricted
	}
	s.Rules = natRules(inner, s.PhoneIP, udpTimeout)
	return s, l.natSetup(s.NAT, s.Rules, udpTimeout)
}

func (l *Lab) ipSetup(ns, dev, cidr, gw string) error {
	if err := l.Run(ns, "ip", "addr", "add", cidr, "dev", dev); err != nil {
		return err
	}
	return l.Run(ns, "ip", "route", "add", "default", "via", gw)
}

func (l *Lab) natSetup(ns, rules string, udpTimeout time.Duration) error {
	secs := fmt.Sprint(int(udpTimeout.Seconds()))
	for _, s := range [][]string{
		{"sysctl", "-qw", "net.ipv4.ip_forward=1"},
		{"sysctl", "-qw", "net.netfilter.nf_conntrack_udp_timeout=" + secs},
		{"sysctl", "-qw", "net.netfilter.nf_conntrack_udp_timeout_stream=" + secs},
	} {
		if err := l.Run(ns, s...); err != nil {
			return err
		}
	}
	return l.RunStdin(ns, rules, "nft", "-f", "-")
}

// natRules is the nftables recipe of a NAT kind. The WAN interface is
// "wan", the LAN interface "lan", the phone phoneIP.
//
// Linux masquerading keeps the source port when it is free, so every
// kind maps endpoint-independently except Symmetric, which uses
// fully-random port selection (a new external port per destination).
// Filtering comes from conntrack (address and port dependent: only
// replies enter); the cone kinds add inbound DNAT through a dynamic set
// that outbound packets refresh:
//
//   - FullCone: set of mapped ports; any host may send to them.
//   - RestrictedCone: set of (mapped port, destination address); any
//     port of a contacted host may send.
//   - ALG: PortRestricted plus the "sip" conntrack helper on UDP 5060.
//
// Every kind (and the carrier NAT) drops unsolicited input from the WAN
// to the NAT box itself (chain c_in), as home routers do.
//
// The DNAT target is the phone's address with the same port, which is
// right because masquerading kept the port (one phone per LAN).
func natRules(kind NATKind, phoneIP string, udpTimeout time.Duration) string {
	t := fmt.Sprintf("%ds", int(udpTimeout.Seconds()))
	var b strings.Builder
	b.WriteString("table ip lab {\n")
	switch kind {
	case FullCone:
		fmt.Fprintf(&b, "  set cone { type inet_service; flags dynamic,timeout; timeout %s; }\n", t)
	case RestrictedCone:
		fmt.Fprintf(&b, "  set cone { type inet_service . ipv4_addr; flags dynamic,timeout; timeout %s; }\n", t)
	case ALG:
		b.WriteString("  ct helper sip { type \"sip\" protocol udp; l3proto ip; }\n")
		b.WriteString("  chain c_helpers { type filter hook prerouting priority filter; policy accept;\n")
		b.WriteString("    iifname \"lan\" udp dport 5060 ct helper set \"sip\"\n  }\n")
	}
	b.WriteString("  chain c_pre { type nat hook prerouting priority dstnat; policy accept;\n")
	switch kind {
	case FullCone:
		fmt.Fprintf(&b, "    iifname \"wan\" udp dport @cone dnat to %s\n", phoneIP)
	case RestrictedCone:
		fmt.Fprintf(&b, "    iifname \"wan\" udp dport . ip saddr @cone dnat to %s\n", phoneIP)
	}
	b.WriteString("  }\n")
	b.WriteString("  chain c_fwd { type filter hook forward priority filter; policy accept;\n")
	switch kind {
	case FullCone:
		fmt.Fprintf(&b, "    iifname \"lan\" oifname \"wan\" meta l4proto udp update @cone { udp sport timeout %s }\n", t)
	case RestrictedCone:
		fmt.Fprintf(&b, "    iifname \"lan\" oifname \"wan\" meta l4proto udp update @cone { udp sport . ip daddr timeout %s }\n", t)
	}
	b.WriteString("    ct state established,related accept\n")
	b.WriteString("    iifname \"wan\" ct status dnat accept\n")
	b.WriteString("    iifname \"wan\" drop\n")
	b.WriteString("  }\n")
	// Unsolicited WAN input to the NAT's own address is dropped, as home
	// routers do (OpenWrt: wan input REJECT). Delivered locally it would
	// be answered with ICMP port-unreachable and its conntrack entry
	// confirmed; the phone's later outbound flow to the same far address
	// would then clash with that tuple and masquerade would pick another
	// external port, breaking the port the phone advertised.
	b.WriteString("  chain c_in { type filter hook input priority filter; policy accept;\n")
	b.WriteString("    iifname \"wan\" ct state established,related accept\n")
	b.WriteString("    iifname \"wan\" drop\n")
	b.WriteString("  }\n")
	b.WriteString("  chain c_post { type nat hook postrouting priority srcnat; policy accept;\n")
	if kind == Symmetric {
		b.WriteString("    oifname \"wan\" masquerade fully-random\n")
	} else {
		b.WriteString("    oifname \"wan\" masquerade\n")
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

// Reboot simulates a NAT reboot: the connection tracking table and the
// cone sets are flushed and, with shift, masquerading moves to ports
// 40000-40999 so every binding gets a new external port.
func (s *Site) Reboot(shift bool) error {
	for _, ns := range []string{s.NAT, s.Carrier} {
		if ns == "" {
			continue
		}
		if shift && ns == s.NAT {
			rules := strings.Replace(s.Rules, "oifname \"wan\" masquerade", "oifname \"wan\" meta l4proto udp masquerade to :40000-40999", 1)
			if err := s.lab.RunStdin(ns, "flush ruleset\n"+rules, "nft", "-f", "-"); err != nil {
				return err
			}
		}
		if out, err := s.lab.Output(ns, "conntrack", "-F"); err != nil && !strings.Contains(out, "flow entries have been deleted") {
			return err
		}
	}
	return nil
}

// Conntrack lists the NAT's UDP connection tracking entries (for logs).
func (s *Site) Conntrack() string {
	out, _ := s.lab.Output(s.NAT, "conntrack", "-L", "-p", "udp")
	return out
}
