package resolve

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Transport is a SIP transport a target is reached over.
type Transport string

const (
	UDP Transport = "udp"
	TCP Transport = "tcp"
	TLS Transport = "tls"
)

// ParseTransport accepts "udp", "tcp" and "tls" in any case; "" is the
// empty Transport (let DNS choose).
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(strings.ToLower(strings.TrimSpace(s))); t {
	case "", UDP, TCP, TLS:
		return t, nil
	}
	return "", fmt.Errorf("%w: transport %q (want udp, tcp or tls)", ErrBadQuery, s)
}

// defaultPort is the port of a transport without SRV (RFC 3261 §19.1.2).
func (t Transport) defaultPort() uint16 {
	if t == TLS {
		return 5061
	}
	return 5060
}

// service is the NAPTR service field of a transport (RFC 3263 §4.1).
func (t Transport) service() string {
	switch t {
	case TCP:
		return "SIP+D2T"
	case TLS:
		return "SIPS+D2T"
	}
	return "SIP+D2U"
}

// srvPrefix is the SRV owner-name prefix of a transport (RFC 3263 §4.1).
func (t Transport) srvPrefix() string {
	switch t {
	case TCP:
		return "_sip._tcp."
	case TLS:
		return "_sips._tcp."
	}
	return "_sip._udp."
}

// Target is one place a request can go: an address, the transport to
// reach it over, and where it came from.
type Target struct {
	Addr      netip.AddrPort
	Transport Transport
	// Name is the host name whose A/AAAA record gave Addr (the SRV
	// target, or the URI's host); empty for an IP literal.
	Name string
	// Priority and Weight are the SRV record's (zero without SRV).
	Priority, Weight uint16
}

func (t Target) String() string {
	if !t.Addr.IsValid() {
		return "" // none yet: a registration that could not resolve shows no server
	}
	s := string(t.Transport) + ":" + t.Addr.String()
	if t.Name != "" {
		s += " (" + t.Name + ")"
	}
	return s
}

// key identifies a target for failover bookkeeping.
func (t Target) key() string { return string(t.Transport) + " " + t.Addr.String() }

// Query is what to resolve: the host part of a SIP URI and what the URI
// (or the configuration) fixes.
type Query struct {
	// Host is a host name or an IP literal (IPv6 with or without
	// brackets).
	Host string
	// Port is the URI's explicit port; zero means none, which lets DNS
	// (SRV) choose.
	Port int
	// Transport, when set, is forced (a transport URI parameter or the
	// configuration); empty lets NAPTR/SRV choose.
	Transport Transport
	// Secure is a sips URI: only TLS targets (RFC 3263 §4.1).
	Secure bool
}

// Result is the answer to a Query: the targets in the order they should
// be tried, and how long the answer may be used.
type Result struct {
	Targets []Target
	// TTL is the smallest TTL of the records the answer was built
	// from; zero for an IP literal, which never expires.
	TTL time.Duration
}

// Config configures a Resolver.
type Config struct {
	// Servers are the DNS servers to ask, "ip" or "ip:port" (port 53 by
	// default), in order. Empty means the nameservers of ResolvConf, read
	// at every resolution (DHCP may write it after boot).
	Servers []string
	// ResolvConf is the resolver configuration read when Servers is
	// empty; "" means /etc/resolv.conf. Its search list and ndots apply
	// to names without a trailing dot.
	ResolvConf string
	// Timeout bounds one query to one server; zero means 2 s.
	Timeout time.Duration
	// Dial opens the connection to a DNS server ("udp" or "tcp"); nil
	// means a net.Dialer. Tests give one over a virtual network.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Fallback resolves A/AAAA when DNS gave no address (names in
	// /etc/hosts); used only when Servers is empty. Nil means
	// net.DefaultResolver.
	Fallback *net.Resolver
	// Transports are the transports the client supports, in order of
	// preference when DNS offers several without NAPTR (RFC 3263 §4.1);
	// nil means UDP, TCP, TLS.
	Transports []Transport
	// IPv6 also asks for AAAA records, and orders addresses of a name
	// that has both families IPv6 first, alternating (RFC 8305 §4).
	// Without it only A records are used.
	IPv6 bool
	// Logger receives debug logs; nil discards.
	Logger *slog.Logger
}

const (
	defaultTimeout = 2 * time.Second
	// minTTL and maxTTL bound the TTL of an answer: a TTL of zero would
	// make every request resolve again.
	minTTL = 5 * time.Second
	maxTTL = 24 * time.Hour
	// fallbackTTL is the TTL of an address the fallback resolver gave
	// (it reports none).
	fallbackTTL = time.Minute
	// maxTargets bounds the targets of one answer (a hostile zone could
	// list thousands of SRV records).
	maxTargets = 32
	// maxNAPTR bounds the NAPTR records followed.
	maxNAPTR = 8
)

// Resolver resolves SIP URIs to targets as RFC 3263 §4 describes: NAPTR,
// then SRV, then A/AAAA. It is safe for concurrent use.
type Resolver struct {
	cfg Config
	log *slog.Logger
	// exchange sends one query and returns the answer; replaced by the
	// fuzz test.
	exchange func(ctx context.Context, name string, qtype uint16) (*message, error)
	// rand returns a number in [0, n) for SRV weights (tests pin it).
	rand func(n int) int
}

// New returns a Resolver for cfg.
func New(cfg Config) (*Resolver, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Fallback == nil {
		cfg.Fallback = net.DefaultResolver
	}
	if len(cfg.Transports) == 0 {
		cfg.Transports = []Transport{UDP, TCP, TLS}
	}
	for _, t := range cfg.Transports {
		if t != UDP && t != TCP && t != TLS {
			return nil, fmt.Errorf("%w: transport %q", ErrBadQuery, t)
		}
	}
	servers := make([]string, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		hp, err := ParseServer(s)
		if err != nil {
			return nil, err
		}
		servers = append(servers, hp)
	}
	cfg.Servers = servers
	r := &Resolver{cfg: cfg, log: cfg.Logger.With("component", "resolve"), rand: rand.N[int]}
	r.exchange = r.exchangeDNS
	return r, nil
}

// ParseServer checks a DNS server address, "ip" or "ip:port" (IPv6 in
// brackets when a port is given), and returns it as host:port.
func ParseServer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if ip, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil && ip.Zone() == "" {
		return netip.AddrPortFrom(ip, 53).String(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Addr().Zone() != "" || ap.Port() == 0 {
		return "", fmt.Errorf("%w: %q (want an IP address, optionally with :port)", ErrBadServer, s)
	}
	return ap.String(), nil
}

// Resolve resolves q to its targets (RFC 3263 §4.1, §4.2):
//
//   - an IP literal is the only target, over the forced transport, else
//     UDP (TLS for sips), at the URI's port or the default one;
//   - with an explicit port, the host's A/AAAA records at that port;
//   - else NAPTR records for SIP+D2U, SIP+D2T and SIPS+D2T (sips: only
//     SIPS+D2T; a forced transport: only its own), by order and
//     preference, each followed to its SRV records;
//   - without usable NAPTR, the SRV records _sip._udp, _sip._tcp and
//     _sips._tcp of the host for the transports allowed;
//   - without SRV, the host's A/AAAA records at the default port.
//
// SRV records are sorted by priority and, within one priority, by the
// weighted random choice of RFC 2782. Each SRV target's addresses follow
// in turn (RFC 8305 order when both families are wanted).
func (r *Resolver) Resolve(ctx context.Context, q Query) (Result, error) {
	host := strings.TrimSuffix(strings.Trim(strings.TrimSpace(q.Host), "[]"), ".")
	if host == "" {
		return Result{}, fmt.Errorf("%w: empty host", ErrBadQuery)
	}
	if q.Port < 0 || q.Port > 65535 {
		return Result{}, fmt.Errorf("%w: port %d", ErrBadQuery, q.Port)
	}
	if q.Transport != "" && !slices.Contains(r.cfg.Transports, q.Transport) {
		return Result{}, fmt.Errorf("%w: transport %q is not supported", ErrBadQuery, q.Transport)
	}
	if q.Secure && q.Transport != "" && q.Transport != TLS {
		return Result{}, fmt.Errorf("%w: sips over %s", ErrBadQuery, q.Transport)
	}
	// The transport when DNS does not choose it (RFC 3263 §4.1).
	tr := q.Transport
	if tr == "" {
		tr = UDP
		if q.Secure {
			tr = TLS
		}
	}
	port := tr.defaultPort()
	if q.Port > 0 {
		port = uint16(q.Port)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return Result{}, fmt.Errorf("%w: %s: addresses with a zone are not supported", ErrBadQuery, ip)
		}
		ip = ip.Unmap()
		if !usable(ip) {
			return Result{}, fmt.Errorf("%w: %s cannot be a server's address", ErrBadQuery, ip)
		}
		if ip.Is6() && !r.cfg.IPv6 {
			return Result{}, fmt.Errorf("%w: %s is an IPv6 address and IPv6 is off", ErrNotFound, ip)
		}
		return Result{Targets: []Target{{Addr: netip.AddrPortFrom(ip, port), Transport: tr}}}, nil
	}
	if !isDomainName(host) || strings.ContainsAny(host, " \t\\") {
		return Result{}, fmt.Errorf("%w: %q is not a host name", ErrBadQuery, q.Host)
	}
	names, err := r.nameList(host)
	if err != nil {
		return r.fallback(ctx, host, tr, port, err)
	}
	var firstErr error
	for _, name := range names {
		res, err := r.resolveName(ctx, name, q, tr, port)
		if err == nil {
			return res, nil
		}
		if firstErr == nil || !errors.Is(err, ErrNotFound) {
			firstErr = err
		}
		if !errors.Is(err, ErrNotFound) {
			break // the server failed: the next name would fail too
		}
	}
	return r.fallback(ctx, host, tr, port, firstErr)
}

// fallback asks the fallback resolver (hosts file) for a name DNS did
// not resolve, when DNS comes from the system configuration.
func (r *Resolver) fallback(ctx context.Context, host string, tr Transport, port uint16, dnsErr error) (Result, error) {
	if len(r.cfg.Servers) > 0 || r.cfg.Fallback == nil {
		return Result{}, dnsErr
	}
	network := "ip4"
	if r.cfg.IPv6 {
		network = "ip"
	}
	ips, err := r.cfg.Fallback.LookupNetIP(ctx, network, host)
	if err != nil || len(ips) == 0 {
		return Result{}, dnsErr
	}
	var addrs []netip.Addr
	for _, ip := range ips {
		addrs = append(addrs, ip.Unmap())
	}
	out := Result{TTL: fallbackTTL}
	for _, ip := range r.order(addrs) {
		out.Targets = append(out.Targets, Target{Addr: netip.AddrPortFrom(ip, port), Transport: tr, Name: host})
	}
	return out, nil
}

// nameList is the fully qualified names to try for host: the resolver
// configuration's search list applies when DNS comes from it.
func (r *Resolver) nameList(host string) ([]string, error) {
	if len(r.cfg.Servers) > 0 {
		return []string{fqdn(host)}, nil
	}
	cc, err := readResolvConf(r.cfg.ResolvConf)
	if err != nil || len(cc.servers) == 0 {
		return nil, ErrNoServer
	}
	if strings.Contains(host, ".") {
		// A name with a dot is asked as is first, as the system does
		// with the default ndots of 1.
		cc.ndots = min(cc.ndots, strings.Count(host, "."))
	}
	return cc.nameList(host), nil
}

// ttlAcc accumulates the smallest TTL seen.
type ttlAcc struct{ d time.Duration }

func (a *ttlAcc) add(ttl uint32) {
	d := time.Duration(ttl) * time.Second
	if a.d == 0 || d < a.d {
		a.d = d
	}
}

func (a *ttlAcc) get() time.Duration {
	if a.d == 0 {
		return minTTL
	}
	return min(max(a.d, minTTL), maxTTL)
}

func (r *Resolver) resolveName(ctx context.Context, name string, q Query, tr Transport, port uint16) (Result, error) {
	var ttl ttlAcc
	if q.Port == 0 {
		targets, err := r.viaNAPTR(ctx, name, q, &ttl)
		if err != nil {
			return Result{}, err
		}
		if len(targets) == 0 {
			targets, err = r.viaSRV(ctx, name, q, &ttl)
			if err != nil {
				return Result{}, err
			}
		}
		if len(targets) > 0 {
			return Result{Targets: targets, TTL: ttl.get()}, nil
		}
	}
	addrs, err := r.addresses(ctx, name, nil, &ttl)
	if err != nil {
		return Result{}, err
	}
	if len(addrs) == 0 {
		return Result{}, fmt.Errorf("%w for %s", ErrNotFound, strings.TrimSuffix(name, "."))
	}
	out := Result{TTL: ttl.get()}
	for _, ip := range addrs {
		out.Targets = append(out.Targets, Target{Addr: netip.AddrPortFrom(ip, port), Transport: tr, Name: strings.TrimSuffix(name, ".")})
	}
	return out, nil
}

// allowed is the transports q may use, in the client's order.
func (r *Resolver) allowed(q Query) []Transport {
	var out []Transport
	for _, t := range r.cfg.Transports {
		if q.Transport != "" && t != q.Transport {
			continue
		}
		if q.Secure && t != TLS {
			continue
		}
		out = append(out, t)
	}
	return out
}

// viaNAPTR follows the name's NAPTR records (RFC 3263 §4.1, RFC 3403):
// those for the allowed transports with the "s" flag, by order then
// preference, each to its SRV records. Nil when there are none.
func (r *Resolver) viaNAPTR(ctx context.Context, name string, q Query, ttl *ttlAcc) ([]Target, error) {
	m, err := r.exchange(ctx, name, typeNAPTR)
	if err != nil {
		var re *rcodeError
		if errors.As(err, &re) {
			// Some servers fail NAPTR queries they do not know (SERVFAIL,
			// NOTIMP): as if there were none; SRV comes next.
			r.log.Debug("NAPTR query failed; trying SRV", "name", name, "err", err)
			return nil, nil
		}
		return nil, err
	}
	allowed := r.allowed(q)
	var recs []record
	for _, rr := range m.Answer {
		if rr.Type != typeNAPTR || !strings.EqualFold(rr.Name, name) {
			continue
		}
		t, ok := naptrTransport(rr.NAPTR)
		if !ok || !slices.Contains(allowed, t) {
			continue
		}
		recs = append(recs, rr)
	}
	slices.SortStableFunc(recs, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.NAPTR.Order, b.NAPTR.Order), cmp.Compare(a.NAPTR.Preference, b.NAPTR.Preference))
	})
	var out []Target
	for i, n := range recs {
		if i == maxNAPTR {
			break
		}
		ttl.add(n.TTL)
		t, _ := naptrTransport(n.NAPTR)
		got, err := r.srvTargets(ctx, strings.ToLower(fqdn(n.NAPTR.Replacement)), t, ttl)
		if err != nil {
			return nil, err
		}
		out = appendTargets(out, got)
	}
	return out, nil
}

// naptrTransport maps a NAPTR record for SIP to its transport: the
// services SIP+D2U, SIP+D2T and SIPS+D2T with the terminal "s" flag and
// a replacement (RFC 3263 §4.1). SIP+D2S (SCTP) and the rest are not
// ours.
func naptrTransport(n naptr) (Transport, bool) {
	if !strings.EqualFold(n.Flags, "s") || n.Replacement == "" || n.Replacement == "." {
		return "", false
	}
	if !isDomainName(n.Replacement) {
		return "", false
	}
	for _, t := range []Transport{UDP, TCP, TLS} {
		if strings.EqualFold(n.Service, t.service()) {
			return t, true
		}
	}
	return "", false
}

// viaSRV asks for the SRV records of each allowed transport when there
// was no NAPTR (RFC 3263 §4.1 last paragraphs), in the client's order.
func (r *Resolver) viaSRV(ctx context.Context, name string, q Query, ttl *ttlAcc) ([]Target, error) {
	var out []Target
	for _, t := range r.allowed(q) {
		got, err := r.srvTargets(ctx, t.srvPrefix()+name, t, ttl)
		if err != nil {
			return nil, err
		}
		out = appendTargets(out, got)
	}
	return out, nil
}

func appendTargets(out, more []Target) []Target {
	for _, t := range more {
		if len(out) == maxTargets {
			break
		}
		if !slices.ContainsFunc(out, func(o Target) bool { return o.key() == t.key() }) {
			out = append(out, t)
		}
	}
	return out
}

// srvTargets resolves one SRV name to targets: records sorted (RFC 2782),
// then each record's addresses, from the additional section when the
// server sent them.
func (r *Resolver) srvTargets(ctx context.Context, name string, t Transport, ttl *ttlAcc) ([]Target, error) {
	m, err := r.exchange(ctx, name, typeSRV)
	if err != nil {
		return nil, err
	}
	var recs []record
	for _, s := range m.Answer {
		if s.Type != typeSRV || !strings.EqualFold(s.Name, name) {
			continue
		}
		if s.Target == "." || s.Target == "" || s.Port == 0 {
			continue // RFC 2782: "." means the service is not offered here
		}
		if !isDomainName(s.Target) {
			continue
		}
		recs = append(recs, s)
		ttl.add(s.TTL)
		if len(recs) == maxTargets {
			break
		}
	}
	var out []Target
	for _, s := range r.orderSRV(recs) {
		target := strings.ToLower(fqdn(s.Target))
		addrs, err := r.addresses(ctx, target, m.Extra, ttl)
		if err != nil {
			r.log.Debug("SRV target has no address", "srv", name, "target", target, "err", err)
			continue
		}
		for _, ip := range addrs {
			out = append(out, Target{
				Addr: netip.AddrPortFrom(ip, s.Port), Transport: t, Name: strings.TrimSuffix(target, "."),
				Priority: s.Priority, Weight: s.Weight,
			})
		}
		if len(out) >= maxTargets {
			break
		}
	}
	return out, nil
}

// orderSRV sorts SRV records as RFC 2782 says: ascending priority; within
// one priority, repeatedly pick at random with probability proportional
// to weight, zero-weight records having a small chance (they go first in
// the running sum).
func (r *Resolver) orderSRV(recs []record) []record {
	recs = slices.Clone(recs)
	slices.SortStableFunc(recs, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(min(a.Weight, 1), min(b.Weight, 1)))
	})
	out := make([]record, 0, len(recs))
	for len(recs) > 0 {
		j := 1
		for j < len(recs) && recs[j].Priority == recs[0].Priority {
			j++
		}
		group := recs[:j]
		recs = recs[j:]
		for len(group) > 0 {
			sum := 0
			for _, s := range group {
				sum += int(s.Weight)
			}
			pick := 0
			if sum > 0 {
				n := r.rand(sum + 1)
				run := 0
				for i, s := range group {
					run += int(s.Weight)
					if run >= n {
						pick = i
						break
					}
				}
			}
			out = append(out, group[pick])
			group = slices.Delete(slices.Clone(group), pick, pick+1)
		}
	}
	return out
}

// addresses returns name's A (and AAAA) records, from extra when it
// holds them, else asked for.
func (r *Resolver) addresses(ctx context.Context, name string, extra []record, ttl *ttlAcc) ([]netip.Addr, error) {
	types := []uint16{typeA}
	if r.cfg.IPv6 {
		types = []uint16{typeAAAA, typeA}
	}
	var v4, v6 []netip.Addr
	collect := func(owner string, rrs []record) {
		for _, a := range rrs {
			switch a.Type {
			case typeA:
				if ip := a.Addr; usable(ip) && strings.EqualFold(a.Name, owner) {
					v4 = append(v4, ip)
					ttl.add(a.TTL)
				}
			case typeAAAA:
				if ip := a.Addr; r.cfg.IPv6 && !ip.Is4In6() && usable(ip) && strings.EqualFold(a.Name, owner) {
					v6 = append(v6, ip)
					ttl.add(a.TTL)
				}
			}
		}
	}
	collect(name, extra)
	var aaaaErr error
	if len(v4)+len(v6) == 0 {
		for _, qt := range types {
			m, err := r.exchange(ctx, name, qt)
			if err != nil {
				if qt == typeAAAA && ctx.Err() == nil {
					// A server (or middlebox) that fails AAAA queries
					// must not hide the name's A records (RFC 8305 §3).
					aaaaErr = err
					continue
				}
				return nil, err
			}
			// A CNAME chain: the server answers with the CNAMEs, in
			// order, and the final records, whose owner is the chain's
			// last name. One pass: a loop in the chain ends it.
			owner := name
			for _, c := range m.Answer {
				if c.Type == typeCNAME && strings.EqualFold(c.Name, owner) {
					owner = c.Target
					ttl.add(c.TTL)
				}
			}
			collect(owner, m.Answer)
		}
	}
	if len(v4)+len(v6) == 0 && aaaaErr != nil {
		return nil, aaaaErr
	}
	return r.order(append(dedup(v6), dedup(v4)...)), nil
}

// usable rejects addresses no server can have.
func usable(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() && ip != netip.IPv4Unspecified() &&
		ip != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

func dedup(ips []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		if !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

// order interleaves the families, IPv6 first (RFC 8305 §4), keeping the
// order within each family.
func (r *Resolver) order(ips []netip.Addr) []netip.Addr {
	var v4, v6 []netip.Addr
	for _, ip := range ips {
		if ip.Is4() {
			v4 = append(v4, ip)
		} else if r.cfg.IPv6 {
			v6 = append(v6, ip)
		}
	}
	out := make([]netip.Addr, 0, len(v4)+len(v6))
	for i := 0; i < max(len(v4), len(v6)); i++ {
		if i < len(v6) {
			out = append(out, v6[i])
		}
		if i < len(v4) {
			out = append(out, v4[i])
		}
	}
	return out
}

// String renders a query for logs and errors.
func (q Query) String() string {
	s := q.Host
	if q.Port > 0 {
		s = net.JoinHostPort(strings.Trim(q.Host, "[]"), strconv.Itoa(q.Port))
	}
	if q.Transport != "" {
		s += ";transport=" + string(q.Transport)
	}
	return s
}
