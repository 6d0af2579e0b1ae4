package sip

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// AcceptPolicy says from whom the UA accepts requests that open dialogs
// (INVITE, SUBSCRIBE, REFER, MESSAGE, NOTIFY and PUBLISH outside a
// dialog): what desk phones call "accept SIP only from the proxy".
type AcceptPolicy string

const (
	// AcceptAuto is AcceptProxy when the account has a registrar or an
	// outbound proxy, else AcceptAny (a UA for direct calls only).
	AcceptAuto AcceptPolicy = ""
	// AcceptProxy accepts dialogs only from the addresses the outbound
	// proxy (or, without one, the registrar) resolves to, and from
	// Config.Allow. Others get 403 Forbidden.
	AcceptProxy AcceptPolicy = "proxy"
	// AcceptAny accepts dialogs from any source.
	AcceptAny AcceptPolicy = "any"
)

// AdmissionStats counts what admission control turned away.
type AdmissionStats struct {
	// RateLimited is how many datagrams were dropped unread because their
	// source sent more than Config.RateLimit a second.
	RateLimited uint64 `json:"rate_limited"`
	// Forbidden is how many dialog-opening requests got 403 because
	// their source is neither the proxy nor allowed.
	Forbidden uint64 `json:"forbidden"`
	// NotFound is how many got 404 because they named no line of ours.
	NotFound uint64 `json:"not_found"`
	// Overloaded is how many got 503 because Config.MaxServerTx
	// transactions were open.
	Overloaded uint64 `json:"overloaded"`
	// Busy is how many INVITEs got 486 because Config.MaxCalls calls
	// were up.
	Busy uint64 `json:"busy"`
}

const (
	defaultRateLimit   = 50
	defaultMaxServerTx = 256
	defaultMaxCalls    = 4
	defaultRingTimeout = 60 * time.Second
	// untrustedShare is how many times one source's rate all sources
	// other than the proxy may send together: a stranger who spoofs a new
	// source address for every datagram gets a fresh burst each time.
	untrustedShare = 20
	// maxSources bounds the per-source rate table (keyed by IPv4
	// address or IPv6 /64); sources beyond it share one bucket.
	maxSources = 4096
	// trustedMaxAge is how old the resolved proxy addresses may be before
	// a request from an unknown source makes the UA resolve them again.
	trustedMaxAge  = 30 * time.Second
	resolveTimeout = 2 * time.Second
	// logEvery bounds how often refusals are logged (the rest are counted).
	logEvery = time.Second
)

// admission is the UA's gate for incoming requests: per-source rate
// limits before parsing, who may open dialogs, whether the request names
// one of our lines, and caps on server transactions and calls.
type admission struct {
	rate  float64 // tokens per second per source; 0 disables
	burst float64

	txs atomic.Int64 // live server transactions

	rateLimited, forbidden, notFound, overloaded, busy atomic.Uint64

	mu         sync.Mutex             // guards following
	buckets    map[netip.Addr]*bucket // by rateKey
	shared     bucket                 // for sources beyond maxSources
	all        bucket                 // every source but the proxy, together
	lastSweep  time.Time
	trusted    []netip.Addr // resolved registrar and outbound proxy
	resolvedAt time.Time
	stale      bool
	resolving  chan struct{} // closed when the resolve under way ends
	// resolve replaces UA.resolveTrusted when set (tests).
	resolve func() []netip.Addr
	// now replaces time.Now for the rate buckets when set (tests: a
	// frozen clock, so a slow machine refills no tokens mid-test).
	now        func() time.Time
	lastLog    time.Time
	suppressed int
}

// bucket is a token bucket: tokens refill at rate a second up to burst.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, rate, burst float64) bool {
	if b.last.IsZero() {
		b.tokens = burst
	} else if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(burst, b.tokens+dt*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func newAdmission(c *Config) *admission {
	a := &admission{buckets: map[netip.Addr]*bucket{}, stale: true}
	if c.RateLimit > 0 {
		a.rate = float64(c.RateLimit)
		a.burst = 2 * a.rate
	}
	return a
}

// stats returns the counters.
func (a *admission) stats() AdmissionStats {
	return AdmissionStats{
		RateLimited: a.rateLimited.Load(), Forbidden: a.forbidden.Load(), NotFound: a.notFound.Load(),
		Overloaded: a.overloaded.Load(), Busy: a.busy.Load(),
	}
}

// AdmissionStats reports what admission control turned away so far.
func (u *UA) AdmissionStats() AdmissionStats { return u.adm.stats() }

// addrOf is the IP of a transport address, unmapped.
func addrOf(a net.Addr) (netip.Addr, bool) {
	switch v := a.(type) {
	case *net.UDPAddr:
		ip, ok := netip.AddrFromSlice(v.IP)
		return ip.Unmap(), ok
	case nil:
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// admitDatagram runs in sipgo's UDP reader for every datagram, before it
// is parsed: datagrams beyond the source's rate are dropped unread, so a
// flood costs neither parsing nor transaction state. Responses count too
// (anything that starts "SIP/2.0 " costs a parse and a goroutine in
// sipgo); the proxy's traffic always passes. Stream transports are not limited here
// (dropping a read would break their framing; the phone dials them to
// its proxy).
func (a *admission) admitDatagram(p siplib.TransportReadProps, data []byte) bool {
	if a.rate == 0 || !strings.EqualFold(p.Transport, "udp") {
		return true
	}
	ip, ok := addrOf(p.RemoteAddr)
	if !ok {
		return true
	}
	now := time.Now()
	if a.now != nil {
		now = a.now()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.trustedLocked(ip) {
		return true
	}
	key := rateKey(ip)
	b := a.buckets[key]
	if b == nil {
		if len(a.buckets) >= maxSources && now.Sub(a.lastSweep) >= time.Second {
			a.lastSweep = now
			for k, v := range a.buckets {
				if now.Sub(v.last) >= time.Duration(float64(time.Second)*a.burst/a.rate) {
					delete(a.buckets, k) // refilled: forgetting it changes nothing
				}
			}
		}
		if len(a.buckets) < maxSources {
			b = &bucket{}
			a.buckets[key] = b
		} else {
			b = &a.shared
		}
	}
	if b.take(now, a.rate, a.burst) && a.all.take(now, untrustedShare*a.rate, untrustedShare*a.burst) {
		return true
	}
	a.rateLimited.Add(1)
	return false
}

// rateKey is the source a rate bucket counts: the address for IPv4, the
// /64 for IPv6. A host on an IPv6 LAN picks its own addresses within its
// /64 (SLAAC, privacy addresses), so a stranger could otherwise send each
// request from a new address, each with a full burst, and fill the table.
func rateKey(ip netip.Addr) netip.Addr {
	if !ip.Is6() {
		return ip
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return ip
	}
	return p.Addr()
}

func (a *admission) trustedLocked(ip netip.Addr) bool {
	for _, t := range a.trusted {
		if t == ip {
			return true
		}
	}
	return false
}

// setTrusted installs the resolved proxy addresses (nil keeps the old).
func (a *admission) setTrusted(ips []netip.Addr) {
	if ips == nil {
		return
	}
	a.mu.Lock()
	a.trusted, a.resolvedAt, a.stale = ips, time.Now(), false
	a.mu.Unlock()
}

// markStale makes the next check from an unknown source resolve the
// registrar and proxy again (after a registration change: the proxy may
// have moved).
func (a *admission) markStale() {
	a.mu.Lock()
	a.stale = true
	a.mu.Unlock()
}

// logRefusal logs at most one refusal a second, saying how many were
// left out since the last.
func (u *UA) logRefusal(msg string, req *sipRequest, src string) {
	a := u.adm
	now := time.Now()
	a.mu.Lock()
	if now.Sub(a.lastLog) < logEvery {
		a.suppressed++
		a.mu.Unlock()
		return
	}
	a.lastLog = now
	n := a.suppressed
	a.suppressed = 0
	a.mu.Unlock()
	from := ""
	if f := req.From(); f != nil {
		from = f.Address.String()
	}
	u.log.Warn(msg, "raddr", src, "method", string(req.Method), "from", from, "suppressed", n)
}

// policy is the effective AcceptPolicy.
func (u *UA) policy() AcceptPolicy {
	p := u.cfg.AcceptFrom
	if p == AcceptAuto {
		if u.cfg.Account.Registrar == "" && u.cfg.Account.OutboundProxy == "" {
			return AcceptAny
		}
		return AcceptProxy
	}
	return p
}

// fromTrusted reports whether ip may open dialogs: the registrar or
// outbound proxy (resolved again when the set is stale or old and ip is
// not in it), or a prefix of Config.Allow.
func (u *UA) fromTrusted(ip netip.Addr) bool {
	for _, p := range u.cfg.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	a := u.adm
	a.mu.Lock()
	if a.trustedLocked(ip) {
		a.mu.Unlock()
		return true
	}
	if ch := a.resolving; ch != nil {
		// Another request is resolving the proxy: its answer may name
		// ip (the proxy moved), so wait for it rather than refuse.
		a.mu.Unlock()
		select {
		case <-ch:
		case <-u.ctx.Done():
			return false
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.trustedLocked(ip)
	}
	if !a.stale && time.Since(a.resolvedAt) < trustedMaxAge {
		a.mu.Unlock()
		return false
	}
	ch := make(chan struct{})
	a.resolving = ch
	resolve := a.resolve
	a.mu.Unlock()
	if resolve == nil {
		resolve = u.resolveTrusted
	}
	a.setTrusted(resolve())
	a.mu.Lock()
	defer a.mu.Unlock()
	a.resolving = nil
	close(ch)
	return a.trustedLocked(ip)
}

// resolveTrusted resolves the outbound proxy, or without one the
// registrar, again and returns every address of every target it names
// (RFC 3263: after a failover, requests come from the second server),
// and the server in use. A failed resolution keeps the previous answer.
func (u *UA) resolveTrusted() []netip.Addr {
	if t := u.getTargets(); t != nil && t.set != nil {
		ctx, cancel := context.WithTimeout(u.ctx, resolveTimeout)
		defer cancel()
		if err := t.set.Refresh(ctx); err != nil {
			u.log.Debug("resolve proxy for admission", "host", t.host, "err", err)
		}
	}
	return u.trustedAddrs()
}

// opensDialog reports whether req asks for a new dialog or is a
// standalone request a stranger could use to reach the user.
func opensDialog(req *sipRequest) bool {
	if tagOf(req.To().Params) != "" {
		return false
	}
	switch req.Method {
	case siplib.INVITE, siplib.SUBSCRIBE, siplib.REFER, siplib.MESSAGE, siplib.NOTIFY, siplib.PUBLISH:
		return true
	}
	return false
}

// namesUs reports whether the Request-URI user or the To user is our
// line. A UA without a user (direct calls to an address) takes any.
func (u *UA) namesUs(req *sipRequest) bool {
	user := u.cfg.Account.User
	if user == "" {
		return true
	}
	return req.Recipient.User == user || req.To().Address.User == user
}

// onRequestAdmitted is the transaction layer's request handler: it caps
// the open server transactions, refuses dialogs from strangers (403) and
// for other users (404), hands the rest to onRequest, and ends at once
// every transaction that did not become part of a call, so its state is
// not held for Timer J or H (32 s over UDP) — a stateless answer, as RFC
// 3261 §8.2.7 allows a UAS; a retransmission is simply answered again.
func (u *UA) onRequestAdmitted(req *sipRequest, tx *siplib.ServerTx) {
	if req.IsAck() {
		u.onRequest(req, tx)
		return
	}
	a := u.adm
	n := a.txs.Add(1)
	if !tx.OnTerminate(func(string, error) { a.txs.Add(-1) }) {
		a.txs.Add(-1)
	}
	keep := false
	defer func() {
		if !keep {
			tx.Terminate()
		}
	}()
	if n > int64(u.cfg.MaxServerTx) && req.Method != siplib.BYE && req.Method != siplib.CANCEL {
		a.overloaded.Add(1)
		res := u.newResponse(req, 503, "Service Unavailable")
		res.AppendHeader(siplib.NewHeader("Retry-After", strconv.Itoa(5)))
		u.send(tx, res)
		return
	}
	if req.From() != nil && req.To() != nil && req.CallID() != nil && req.CSeq() != nil && req.Via() != nil && opensDialog(req) {
		src := req.MessageData.Source()
		if u.policy() != AcceptAny {
			ap, err := netip.ParseAddrPort(src)
			if err != nil || !u.fromTrusted(ap.Addr().Unmap()) {
				a.forbidden.Add(1)
				u.logRefusal("refused a request from a peer that is neither the proxy nor allowed (403)", req, src)
				u.respond(tx, req, 403, "Forbidden")
				return
			}
		}
		if !u.namesUs(req) {
			a.notFound.Add(1)
			u.logRefusal("refused a request for a user that is not ours (404)", req, src)
			u.respond(tx, req, 404, "Not Found")
			return
		}
	}
	u.onRequest(req, tx)
	if req.CallID() != nil {
		if c := u.callByID(req.CallID().Value()); c != nil {
			// A call lives on this Call-ID: its transactions keep their
			// state (retransmitted BYEs get the same 200, INVITE server
			// transactions wait for their ACK).
			keep = true
		}
	}
}

// atCallCap reports whether the UA holds Config.MaxCalls calls already,
// counting the INVITEs being set up besides the caller's own.
func (u *UA) atCallCap() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.calls)+len(u.claims)-1 >= u.cfg.MaxCalls
}

// ringTimeout ends the incoming call c with 480 Temporarily Unavailable
// when nobody answered it within Config.RingTimeout (RFC 3261 §13.3.1.1:
// the caller expects a final response; a call that rings forever would
// also keep every other call busy).
func (c *Call) ringTimeout(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.done:
		return
	case <-c.ua.ctx.Done():
		return
	}
	if err := c.Reject(480); err == nil {
		c.log.Info("ring timeout: unanswered call ended with 480", "after", d)
	}
}
