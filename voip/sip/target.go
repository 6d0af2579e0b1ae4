package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sip/resolve"
)

// DNSConfig says how the UA finds its registrar or outbound proxy (RFC
// 3263) and how long it avoids one that failed.
type DNSConfig struct {
	// Servers are the DNS servers to ask ("ip" or "ip:port"); empty means
	// the nameservers of /etc/resolv.conf, read again at each lookup.
	Servers []string
	// Hold is how long a server that timed out, answered 503 or gave a
	// transport error is avoided; zero means 5 minutes. A longer
	// Retry-After in the 503 wins.
	Hold time.Duration
	// Timeout bounds one DNS query; zero means 2 s.
	Timeout time.Duration
	// ResolvConf replaces /etc/resolv.conf (tests).
	ResolvConf string
	// Dial opens connections to the DNS servers; nil means a net.Dialer
	// (tests give one over a virtual network).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// startResolveTimeout bounds the lookups Start makes before the SIP
// socket is opened: a phone without DNS must not hang there.
const startResolveTimeout = 5 * time.Second

// targets is where the UA's requests to its server go: the resolver and
// the failover state of the outbound proxy (or, without one, the
// registrar). Created by Start; never changed after.
type targets struct {
	res  *resolve.Resolver
	set  *resolve.Set // nil without registrar and proxy
	host string       // the server's host as configured (a name or an IP)

	mu       sync.Mutex              // guards following
	netErr   error                   // why the SIP socket could not be mapped (no network)
	answered map[netip.AddrPort]bool // targets that answered a REGISTER (see familyCtx)
}

// checkServers checks the DNS settings. Registrar and proxy may be
// IPv4 or IPv6 (literals or names): the SIP socket takes the family of
// the target in use (see pickTarget).
func (c *Config) checkServers() error {
	for _, s := range c.DNS.Servers {
		if _, err := resolve.ParseServer(s); err != nil {
			return fmt.Errorf("%w: DNS server: %w", ErrBadConfig, err)
		}
	}
	if c.DNS.Hold < 0 || c.DNS.Timeout < 0 {
		return fmt.Errorf("%w: DNS hold and timeout must not be negative", ErrBadConfig)
	}
	return nil
}

// serverName is the configured server requests go to first: the
// outbound proxy, else the registrar; empty when neither.
func (u *UA) serverName() string {
	if s := u.cfg.Account.OutboundProxy; s != "" {
		return s
	}
	return u.cfg.Account.Registrar
}

// getTargets returns the targets made by Start (nil before).
func (u *UA) getTargets() *targets {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.tgt
}

// startTargets makes the resolver and the server's failover set, settles
// the transport when the configuration leaves it to DNS, and returns the
// first target's address: zero when DNS does not answer yet (the
// registration loop keeps trying) or there is no server.
func (u *UA) startTargets(ctx context.Context) netip.AddrPort {
	res, err := resolve.New(resolve.Config{
		Servers: u.cfg.DNS.Servers, ResolvConf: u.cfg.DNS.ResolvConf, Timeout: u.cfg.DNS.Timeout,
		Dial: u.cfg.DNS.Dial, Fallback: u.cfg.Resolver, Logger: u.log,
		IPv6: true,
	})
	if err != nil { // checked in New already
		u.log.Error("DNS resolver", "err", err)
		res, _ = resolve.New(resolve.Config{})
	}
	t := &targets{res: res}
	u.mu.Lock()
	u.tgt = t
	u.mu.Unlock()
	name := u.serverName()
	if name == "" {
		return netip.AddrPort{}
	}
	uri, err := parseServer(name, u.cfg.Account.Transport)
	if err != nil {
		return netip.AddrPort{}
	}
	t.host = strings.Trim(uri.Host, "[]")
	q := resolve.Query{Host: uri.Host, Port: uri.Port, Secure: strings.EqualFold(uri.Scheme, "sips")}
	// The UA's transport, when configured, is the one it speaks: every
	// target must be of it. Otherwise a transport URI parameter fixes it,
	// or DNS.
	if a := u.cfg.Account.Transport; a != "" {
		q.Transport = resolve.Transport(a)
	} else if p, ok := uri.UriParams.Get("transport"); ok {
		if tr, err := resolve.ParseTransport(p); err == nil && tr != "" {
			q.Transport = tr
			u.tr = trOf(tr)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, startResolveTimeout)
	defer cancel()
	if q.Transport == "" {
		// RFC 3263 §4.1: NAPTR/SRV choose. The UA keeps one transport
		// for its life, so the first answer settles it; without an
		// answer it is UDP (TLS for sips).
		q.Transport = resolve.UDP
		if q.Secure {
			q.Transport = resolve.TLS
		}
		if r, err := res.Resolve(ctx, q2(q)); err == nil && len(r.Targets) > 0 {
			q.Transport = r.Targets[0].Transport
		}
		u.tr = trOf(q.Transport)
		u.log.Info("transport from DNS", "server", name, "transport", q.Transport)
	}
	t.set = res.NewSet(q, resolve.SetConfig{Hold: u.cfg.DNS.Hold, Usable: u.reachable})
	tg, _, err := t.set.Pick(ctx)
	if err != nil {
		u.log.Warn("cannot resolve the server yet; registering once DNS answers", "server", name, "err", err)
		return netip.AddrPort{}
	}
	return tg.Addr
}

// q2 is q without the transport: what auto-selection asks.
func q2(q resolve.Query) resolve.Query { q.Transport = ""; return q }

func trOf(t resolve.Transport) portmgr.Transport {
	switch t {
	case resolve.TCP:
		return portmgr.TCP
	case resolve.TLS:
		return portmgr.TLS
	}
	return portmgr.UDP
}

// pickTarget gives the target the next REGISTER goes to and makes it the
// UA's server. allFailed says every target failed recently: the caller
// backs off first.
func (u *UA) pickTarget(ctx context.Context) (resolve.Target, bool, error) {
	t := u.getTargets()
	if t == nil || t.set == nil {
		return resolve.Target{}, false, errors.New("sip: no server configured")
	}
	ctx, cancel := context.WithTimeout(ctx, startResolveTimeout)
	defer cancel()
	tg, all, err := t.set.Pick(ctx)
	if err != nil {
		return tg, false, fmt.Errorf("cannot resolve %s: %w", t.host, err)
	}
	u.useTarget(tg)
	return tg, all, nil
}

// useTarget makes tg the address requests to the server go to: u.server
// (REGISTER, requests to our domain, in-dialog requests without a route),
// the SIP mapping's remote (its keepalives), the trusted set; a TCP/TLS
// flow to another server is closed so the next request dials tg.
func (u *UA) useTarget(tg resolve.Target) {
	u.mu.Lock()
	old := u.server
	u.server = tg.Addr
	mp := u.sipMap
	u.mu.Unlock()
	if old == tg.Addr {
		return
	}
	u.log.Info("server target", "target", tg.String(), "old", old)
	if u.switchFamily(mp, tg.Addr) {
		mp = nil // released: the transport's watchdog maps one toward tg
	}
	if mp != nil {
		if err := u.cfg.Mapper.UpdateRemote(mp, tg.Addr); err != nil {
			u.log.Debug("update SIP mapping remote", "err", err)
		}
	}
	u.adm.setTrusted(u.trustedAddrs())
	if u.flow != nil && old.IsValid() {
		u.flow.retarget()
	}
}

// targetFailed records that tg did not serve a request (timeout,
// transport error, 503 with its Retry-After): it is avoided and the next
// target is used. It reports whether another target is available now.
func (u *UA) targetFailed(tg resolve.Target, hold time.Duration, why string) bool {
	t := u.getTargets()
	if t == nil || t.set == nil {
		return false
	}
	t.set.Failed(tg, hold)
	ctx, cancel := context.WithTimeout(u.ctx, startResolveTimeout)
	defer cancel()
	next, all, err := t.set.Pick(ctx)
	if err != nil || all || next.Addr == tg.Addr {
		u.log.Warn("server failed; no other server to try now", "target", tg.String(), "why", why)
		return false
	}
	u.log.Warn("server failed; failing over", "target", tg.String(), "next", next.String(), "why", why)
	return true
}

// targetCount is how many targets the server's last answer has.
func (u *UA) targetCount() int {
	if t := u.getTargets(); t != nil && t.set != nil {
		return len(t.set.State().Targets)
	}
	return 0
}

// targetOK records that tg answered.
func (u *UA) targetOK(tg resolve.Target) {
	if t := u.getTargets(); t != nil && t.set != nil {
		t.set.Succeeded(tg)
		t.mu.Lock()
		if t.answered == nil {
			t.answered = map[netip.AddrPort]bool{}
		}
		t.answered[tg.Addr] = true
		t.mu.Unlock()
	}
}

// trustedAddrs is every address of every target of the server's last
// answer, and the server in use.
func (u *UA) trustedAddrs() []netip.Addr {
	var out []netip.Addr
	u.mu.Lock()
	if u.server.IsValid() {
		out = append(out, u.server.Addr().Unmap())
	}
	u.mu.Unlock()
	if t := u.getTargets(); t != nil && t.set != nil {
		for _, ip := range t.set.Addrs() {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// routeToTarget sends a request whose next hop is the server's configured
// host (the Request-URI of REGISTER, the outbound proxy's Route) to the
// target in use, not wherever sipgo's own lookup of that name would go.
// When there is no target yet (no DNS at start, and no registration loop
// resolving it: an outbound proxy without registrar) it resolves now;
// when that fails the request fails with the reason, instead of going
// to sipgo's lookup of the name.
func (u *UA) routeToTarget(req *sipRequest) error {
	t := u.getTargets()
	if t == nil || t.host == "" || req.MessageData.Destination() != "" {
		return nil
	}
	next := req.Recipient
	if r := req.Route(); r != nil {
		next = r.Address
	}
	if !strings.EqualFold(strings.Trim(next.Host, "[]"), t.host) {
		return nil
	}
	u.mu.Lock()
	srv := u.server
	u.mu.Unlock()
	if !srv.IsValid() && t.set != nil {
		ctx, cancel := context.WithTimeout(u.ctx, startResolveTimeout)
		tg, _, err := u.pickTarget(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("sip: %w", err)
		}
		srv = tg.Addr
	}
	if srv.IsValid() {
		req.SetDestination(hostPort(srv))
	}
	return nil
}

// setNetErr records why the SIP socket could not be mapped (nil: it is).
func (t *targets) setNetErr(err error) {
	t.mu.Lock()
	t.netErr = err
	t.mu.Unlock()
}

func (t *targets) getNetErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.netErr
}

// ServerTargets reports the server's resolved targets and their failover
// state (empty without a registrar or proxy, or before Start).
func (u *UA) ServerTargets() resolve.State {
	if t := u.getTargets(); t != nil && t.set != nil {
		return t.set.State()
	}
	return resolve.State{}
}
