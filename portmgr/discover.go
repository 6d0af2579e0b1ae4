package portmgr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/deskphone/phone/portmgr/gateway"
	"github.com/deskphone/phone/portmgr/internal/stunc"
	"github.com/deskphone/phone/portmgr/natcheck"
	"github.com/pion/stun/v3"
)

// run is the manager's discovery goroutine: at start it learns the SIP
// socket's external address, looks for a gateway and classifies the NAT,
// all three side by side; then it warms the media pool (on the relay
// when the NAT maps per destination), keeps it full and, in the
// background, estimates the binding lifetime.
func (m *Manager) run(sip *Mapping) {
	defer m.wg.Done()
	ctx := m.ctx
	m.resolveServers()

	gwDone := make(chan struct{})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(gwDone)
		if m.cfg.EnableGateway && m.strategyEnabled(StrategyGateway) {
			m.findGateway(ctx)
		}
	}()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.classify(ctx)
		close(m.natReady)
		if m.turnWanted() {
			// A call that came in before the NAT was known may have
			// learnt a STUN address that is useless behind this NAT:
			// move it to the relay (the UA re-INVITEs on the event).
			m.relearnMedia(func(v Strategy) bool { return v == StrategySTUN || v == StrategyLocal })
		}
	}()
	if sip != nil {
		m.learn(sip)
	}
	<-gwDone
	select {
	case <-m.natReady:
	case <-ctx.Done():
	}
	m.fillPool(ctx)
	close(m.ready)

	if m.cfg.BindingLifetime == 0 && !m.cfg.DisableLifetimeProbe && len(m.servers) > 0 {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.measureLifetime(ctx)
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.refill:
			m.fillPool(ctx)
		}
	}
}

func (m *Manager) resolveServers() {
	var servers []netip.AddrPort
	for _, s := range m.cfg.STUNServers {
		a, err := m.resolve(s)
		a6, err6 := m.resolve6(s)
		if err != nil && err6 != nil {
			m.log.Warn("stun server", "server", s, "err", err)
			continue
		}
		if err == nil {
			servers = append(servers, a)
		}
		if err6 == nil && a6 != a {
			// The IPv6 sockets' server (sockets ask their own family).
			servers = append(servers, a6)
		}
	}
	var turnAddr netip.AddrPort
	if m.cfg.TURN.Server != "" {
		a, err := m.resolve(m.cfg.TURN.Server)
		if err != nil {
			m.log.Warn("turn server", "server", m.cfg.TURN.Server, "err", err)
		}
		turnAddr = a
	}
	m.mu.Lock()
	m.servers = servers
	m.turnAddr = turnAddr
	m.mu.Unlock()
	m.resolveTURNFallbacks() // relay.go
}

func (m *Manager) resolve(hostport string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap, nil
	}
	ua, err := m.cfg.Net.ResolveUDPAddr("udp4", hostport)
	if err != nil {
		if ap, err6 := m.resolve6(hostport); err6 == nil {
			return ap, nil // a name with only AAAA records
		}
		return netip.AddrPort{}, err
	}
	ap := stunc.ToAddrPort(ua)
	if !ap.IsValid() {
		return ap, fmt.Errorf("portmgr: cannot resolve %q", hostport)
	}
	return ap, nil
}

// resolve6 is the IPv6 address of a STUN server name (AAAA); an IPv6
// literal is itself, an IPv4 literal has none.
func (m *Manager) resolve6(hostport string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		if ap.Addr().Unmap().Is4() {
			return netip.AddrPort{}, errors.New("portmgr: an IPv4 address")
		}
		return ap, nil
	}
	ua, err := m.cfg.Net.ResolveUDPAddr("udp6", hostport)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ap := stunc.ToAddrPort(ua)
	if !ap.IsValid() || ap.Addr().Is4() {
		return netip.AddrPort{}, fmt.Errorf("portmgr: no IPv6 address for %q", hostport)
	}
	return ap, nil
}

func (m *Manager) strategyEnabled(s Strategy) bool {
	for _, x := range m.cfg.Strategies {
		if x == s {
			return true
		}
	}
	return false
}

// fillPool binds and learns media pairs until the pool holds PoolSize.
func (m *Manager) fillPool(ctx context.Context) {
	for ctx.Err() == nil {
		m.bindMu.Lock()
		m.mu.Lock()
		need := !m.closed && len(m.pool) < m.cfg.PoolSize
		m.mu.Unlock()
		if !need {
			m.bindMu.Unlock()
			return
		}
		mp, err := m.bindNew(KindMedia, netip.AddrPort{})
		if err != nil {
			m.bindMu.Unlock()
			if !errors.Is(err, ErrExhausted) {
				m.log.Warn("warm pool", "err", err)
			}
			return
		}
		// Join the pool at once, so a Map racing the refill finds the
		// pair (with its best known address) instead of an exhausted range.
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			m.bindMu.Unlock()
			_ = m.closeMapping(mp)
			return
		}
		mp.pooled = true
		m.pool = append(m.pool, mp)
		m.mu.Unlock()
		m.bindMu.Unlock()
		m.learn(mp)
		if mp.rtp.closed.Load() {
			continue // dropped from the pool while learning (a rebuild)
		}
		select {
		case m.poolSig <- struct{}{}:
		default:
		}
		if m.poolKeepalive() {
			m.startKeepalive(mp)
		} // else Map starts it when the pair leaves the pool
	}
}

// natWait bounds how long a media mapping waits for the first NAT
// classification before it learns its address (only with a relay
// configured: the classification decides between STUN and TURN).
const natWait = time.Second

// learn runs the strategies in the configured order until one gives the
// mapping an external address, then marks it learnt. If the address
// changes for a mapping already handed out, an event says so. A media
// mapping made while the NAT is still being classified (a call in the
// first few hundred milliseconds) waits for the classification, at most
// natWait, so that behind a symmetric NAT it goes to the relay at once.
func (m *Manager) learn(mp *Mapping) {
	defer mp.markLearnt()
	ctx := m.ctx
	if mp.Kind == KindMedia && m.cfg.TURN.Server != "" {
		t := time.NewTimer(natWait)
		select {
		case <-m.natReady:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	old := mp.External()
	for _, s := range m.cfg.Strategies {
		ok := false
		switch s {
		case StrategyStatic:
			ok = m.cfg.StaticExternal.IsValid() && sameFamily(mp.local.Addr(), m.cfg.StaticExternal)
		case StrategyGateway:
			ok = m.learnGateway(ctx, mp)
		case StrategySTUN:
			ok = m.learnSTUN(ctx, mp)
		case StrategyTURN:
			ok = mp.Kind == KindMedia && m.turnWanted() && m.turnFits(mp) && m.learnTURN(ctx, mp) == nil
		case StrategyLocal:
			ok = true
		}
		if ok {
			break
		}
	}
	m.startWarmRelay(mp)
	m.mu.Lock()
	now, handed := mp.external, !mp.pooled && !mp.released && m.isMappedLocked(mp)
	m.mu.Unlock()
	if handed && now != old {
		m.log.Info("external address learnt", "kind", mp.Kind, "old", old, "ext", now, "via", mp.Via())
		m.emit(Event{Kind: EventExternalChanged, Mapping: mp, Old: old, New: now})
	}
}

// turnFits reports whether the TURN server is of the mapping's family:
// the allocation is made from the mapping's own socket. An IPv6 mapping
// with an IPv4 TURN server is not relayed (IPv6 is rarely translated).
func (m *Manager) turnFits(mp *Mapping) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.turnForLocked(mp.local.Addr()).IsValid() // turn6.go
}

func (m *Manager) isMappedLocked(mp *Mapping) bool {
	_, ok := m.mappings[mp]
	return ok
}

// turnWanted says whether media should be relayed: TURN is configured and
// either the NAT's mapping is endpoint-dependent (symmetric), or TURN is
// ordered before STUN (always relay).
func (m *Manager) turnWanted() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.turnWantedLocked()
}

func (m *Manager) turnWantedLocked() bool {
	if !m.turnAddr.IsValid() {
		return false
	}
	if m.nat != nil && (m.nat.Mapping == natcheck.AddressDependent || m.nat.Mapping == natcheck.AddressAndPortDependent) {
		return true
	}
	for _, s := range m.cfg.Strategies {
		switch s {
		case StrategyTURN:
			return true
		case StrategySTUN:
			if len(m.servers) > 0 {
				return false
			}
		}
	}
	return false
}

// learnSTUN asks the STUN servers, from the mapping's own sockets, for
// their mapped addresses. Media skips STUN when the NAT is known to map
// per destination and a relay is available.
func (m *Manager) learnSTUN(ctx context.Context, mp *Mapping) bool {
	if mp.Kind == KindMedia && m.turnWanted() && m.turnFits(mp) {
		return false
	}
	ext, err := m.stunMapped(ctx, mp.rtp)
	if err != nil {
		m.log.Debug("stun", "laddr", mp.rtp.local, "err", err)
		return false
	}
	var extRTCP netip.AddrPort
	if mp.rtcp != nil {
		if extRTCP, err = m.stunMapped(ctx, mp.rtcp); err != nil {
			m.log.Debug("stun rtcp", "laddr", mp.rtcp.local, "err", err)
			return false
		}
	}
	m.mu.Lock()
	mp.external, mp.extRTCP, mp.via, mp.stunMapped = ext, extRTCP, StrategySTUN, ext
	if mp.rtcp == nil {
		mp.extRTCP = netip.AddrPort{}
	}
	m.mu.Unlock()
	return true
}

// stunMapped runs one Binding transaction from s, failing over across the
// servers starting with the last good one. Every server but the last gets
// a shortened transaction (4 requests, 2 s final wait: 5.5 s at the
// default RTO) so failover does not take 39.5 s per dead server; the last
// gets the full RFC 8489 §6.2.1 schedule.
func (m *Manager) stunMapped(ctx context.Context, s *sock) (netip.AddrPort, error) {
	return m.stunMappedTries(ctx, s, false)
}

// stunMappedTries is stunMapped; quick shortens every transaction to 4
// requests and a 2 s final wait (keepalive re-checks: a flow that does
// not answer is re-checked every few seconds rather than after 39.5 s).
func (m *Manager) stunMappedTries(ctx context.Context, s *sock, quick bool) (netip.AddrPort, error) {
	m.mu.Lock()
	servers, good := m.servers, m.good
	m.mu.Unlock()
	if len(servers) == 0 {
		return netip.AddrPort{}, errNoSTUN
	}
	// Only servers of the socket's family: an IPv6 socket asks IPv6
	// servers (a global IPv6 address needs none: without one it stays
	// the local address), an IPv4 socket IPv4 ones.
	last := -1
	for i := range servers {
		if sameFamily(servers[(good+i)%len(servers)].Addr(), s.local.Addr()) {
			last = i
		}
	}
	if last < 0 {
		return netip.AddrPort{}, errNoSTUN
	}
	var errs []error
	for i := range servers {
		idx := (good + i) % len(servers)
		if !sameFamily(servers[idx].Addr(), s.local.Addr()) {
			continue
		}
		req := stunc.Request{To: servers[idx]}
		if quick || i < last {
			req.Tries, req.Rm = 4, 4
		}
		r, err := s.cl.Binding(ctx, req)
		if err == nil {
			m.mu.Lock()
			m.good = idx
			m.mu.Unlock()
			return r.Mapped, nil
		}
		if ctx.Err() != nil {
			return netip.AddrPort{}, ctx.Err()
		}
		errs = append(errs, err)
	}
	return netip.AddrPort{}, errors.Join(errs...)
}

var errNoSTUN = errors.New("portmgr: no STUN server configured")

// classify runs RFC 5780 discovery against the first server that
// answers. Test I gets a shortened schedule (4 requests, 2 s final wait)
// so a dead server costs 5.5 s before the next is tried; the other tests
// are bounded by test I's round trip (natcheck.Run), so behind any NAT the
// report is ready within about a second of start. A failed run keeps an
// earlier result (a re-run after a network change).
func (m *Manager) classify(ctx context.Context) {
	m.mu.Lock()
	servers, good := classifyServers(m.servers, m.good)
	m.mu.Unlock()
	if len(servers) == 0 {
		return
	}
	ip, err := m.localIP(servers[good])
	if err != nil {
		return
	}
	var res *natcheck.Result
	for i := range servers {
		res, err = natcheck.Run(ctx, natcheck.Config{Net: m.cfg.Net, Local: ip, Listen: m.probeListener(ip, true),
			Server: servers[(good+i)%len(servers)], RTO: m.cfg.STUNRTO, Rc: 4, Rm: 4, Logger: m.log})
		if err == nil {
			break
		}
	}
	if ctx.Err() != nil {
		return
	}
	m.mu.Lock()
	if res != nil || m.nat == nil {
		m.nat = res
	}
	m.natErr = err
	if res != nil && res.ALG {
		m.algSeen, m.algWhy = true, "MAPPED-ADDRESS differs from XOR-MAPPED-ADDRESS"
	}
	m.mu.Unlock()
	if err != nil {
		m.log.Warn("nat behaviour discovery failed", "err", err)
		return
	}
	m.log.Info("nat behaviour", "type", res.Type(), "mapping", res.Mapping, "filtering", res.Filtering,
		"hairpinning", res.Hairpinning, "rtt", res.RTT, "took", res.Elapsed)
	if m.turnWanted() {
		// A warm pool learnt before (STUN addresses, useless behind this
		// NAT) is rebuilt on the relay.
		m.mu.Lock()
		old := m.pool
		m.pool = nil
		m.mu.Unlock()
		stale := false
		for _, mp := range old {
			m.mu.Lock()
			via := mp.via
			m.mu.Unlock()
			if via == StrategyTURN {
				m.mu.Lock()
				m.pool = append(m.pool, mp)
				m.mu.Unlock()
				continue
			}
			stale = true
			_ = m.closeMapping(mp)
		}
		if stale {
			select {
			case m.refill <- struct{}{}:
			default:
			}
		}
	}
}

// classifyServers is the STUN servers NAT discovery asks, and the index
// of the one to ask first: the IPv4 ones when there are any (the NAT
// that matters is the IPv4 one; IPv6 is usually not translated), else
// all.
func classifyServers(all []netip.AddrPort, good int) ([]netip.AddrPort, int) {
	var v4 []netip.AddrPort
	first := 0
	for i, s := range all {
		if s.Addr().Unmap().Is4() {
			if i == good {
				first = len(v4)
			}
			v4 = append(v4, s)
		}
	}
	if len(v4) == 0 || len(v4) == len(all) {
		return append([]netip.AddrPort(nil), all...), good
	}
	return v4, first
}

// measureLifetime estimates the NAT binding lifetime in the background and
// shortens the keepalive interval when needed.
func (m *Manager) measureLifetime(ctx context.Context) {
	m.mu.Lock()
	servers, good := classifyServers(m.servers, m.good)
	server := servers[good]
	m.mu.Unlock()
	ip, err := m.localIP(server)
	if err != nil {
		return
	}
	listen, release, err := m.probeSockets(ip, natcheck.LifetimeSockets(len(natcheck.DefaultProbes)))
	if err != nil {
		m.log.Debug("binding lifetime not measured", "err", err)
		return
	}
	defer release()
	lt, bounded, rport, err := natcheck.LifetimeRFC5780(ctx, natcheck.Config{Net: m.cfg.Net, Local: ip, Listen: listen, Server: server, RTO: m.cfg.STUNRTO}, nil)
	if err != nil || lt == 0 {
		m.log.Debug("binding lifetime unknown", "err", err)
		return
	}
	method := "response-port"
	if !rport {
		method = "mapped-address"
	}
	m.mu.Lock()
	m.lifetime, m.measured, m.lifetimeMethod = lt, true, method
	m.mu.Unlock()
	m.log.Info("binding lifetime", "at_least", lt, "bounded", bounded, "method", method, "keepalive", m.keepaliveInterval())
}

// knownPublicForLocked is the best known public IP for a socket on
// local: the SIP socket's STUN or rport address, the gateway's external
// IP; only an address of local's family (any, with local invalid).
func (m *Manager) knownPublicForLocked(local netip.Addr) netip.Addr {
	for _, mp := range []*Mapping{m.lastSIPLocked(), m.sipWarm} {
		if mp != nil && mp.via != StrategyLocal && mp.external.IsValid() && sameFamily(local, mp.external.Addr()) {
			return mp.external.Addr()
		}
	}
	if m.gwExt.IsValid() && sameFamily(local, m.gwExt) {
		return m.gwExt
	}
	return netip.Addr{}
}

// findGateway probes for a port-mapping gateway, bounded to a few seconds.
func (m *Manager) findGateway(ctx context.Context) {
	c := m.cfg.Gateway
	if c == nil {
		gwIP := m.cfg.GatewayAddr
		if !gwIP.IsValid() {
			ip, err := m.localIP(netip.AddrPort{})
			if err != nil || !ip.Is4() || ip.IsLoopback() {
				return
			}
			b := ip.As4()
			b[3] = 1
			gwIP = netip.AddrFrom4(b)
		}
		ip, _ := m.localIP(netip.AddrPort{})
		var err error
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		c, err = gateway.Discover(dctx, gateway.Config{Net: m.cfg.Net, Gateway: gwIP, Local: ip, Listen: m.probeListener(ip, false)})
		cancel()
		if err != nil {
			m.log.Debug("no gateway", "gateway", gwIP, "err", err)
			return
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	ext, err := c.ExternalIP(dctx)
	cancel()
	if err != nil {
		m.log.Debug("gateway external address", "protocol", c.Protocol(), "err", err)
		return
	}
	m.mu.Lock()
	m.gw, m.gwExt = c, ext
	m.mu.Unlock()
	m.log.Info("gateway found", "protocol", c.Protocol(), "ext", ext)
}

// learnGateway asks the gateway to forward the mapping's ports.
func (m *Manager) learnGateway(ctx context.Context, mp *Mapping) bool {
	m.mu.Lock()
	gw := m.gw
	m.mu.Unlock()
	if gw == nil || !mp.local.Addr().Unmap().Is4() {
		return false // the gateways are IPv4 NATs: an IPv6 socket is not translated
	}
	socks := []*sock{mp.rtp}
	if mp.rtcp != nil {
		socks = append(socks, mp.rtcp)
	}
	var leases []gateway.Lease
	for _, s := range socks {
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		l, err := gw.Map(dctx, s.local, nil, m.cfg.GatewayLifetime)
		cancel()
		if err != nil {
			m.log.Debug("gateway map", "protocol", gw.Protocol(), "laddr", s.local, "err", err)
			m.unmapAll(gw, leases)
			return false
		}
		leases = append(leases, l)
	}
	m.mu.Lock()
	mp.leases = leases
	mp.external, mp.via = leases[0].External, StrategyGateway
	if len(leases) > 1 {
		mp.extRTCP = leases[1].External
	}
	m.mu.Unlock()
	for i := range leases {
		m.scheduleRenew(mp, gw, i)
	}
	return true
}

func (m *Manager) unmapAll(gw gateway.Client, leases []gateway.Lease) {
	for _, l := range leases {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := gw.Unmap(ctx, l); err != nil {
			m.log.Debug("gateway unmap", "protocol", gw.Protocol(), "ext", l.External, "err", err)
		}
		cancel()
	}
}

// dropLeases deletes the mapping's gateway leases.
func (m *Manager) dropLeases(mp *Mapping) {
	m.mu.Lock()
	leases, gw := mp.leases, m.gw
	mp.leases = nil
	m.mu.Unlock()
	if gw != nil && len(leases) > 0 {
		m.unmapAll(gw, leases)
	}
}

// onSTUN handles a STUN message read off a mapped socket: responses to
// our own transactions (matched on transaction ID and source, RFC 8489
// §6.3.1), Binding requests from the far end (answered: it is the far
// end's early UDP or connectivity check), and the rest for the user's
// handler.
func (m *Manager) onSTUN(s *sock, b []byte, from netip.AddrPort) {
	if s.cl.Handle(b, from) {
		m.stunRx.Add(int64(len(b)))
		return
	}
	if s.mp.hookSTUN(b, from, s.rtcp, false) { // ice.go
		return
	}
	msg := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := msg.Decode(); err != nil {
		return
	}
	switch {
	case msg.Type == stun.BindingRequest:
		if resp, err := stunc.BindingResponse(msg, from); err == nil {
			_ = s.write(resp, from)
		}
		return
	case msg.Type.Method == stun.MethodBinding && msg.Type.Class == stun.ClassIndication:
		return // a keepalive (RFC 6263 §4.4)
	}
	m.mu.Lock()
	h := m.stunH
	m.mu.Unlock()
	if h != nil {
		h(s.mp, msg.Raw, net.UDPAddrFromAddrPort(from))
	}
}

// networkChanged reacts to a NAT reboot or a new public address: the NAT
// is classified again, the warm pool is rebuilt, and every media mapping
// in use learns its external
// address again (a relayed one gets a new allocation, since the old one
// is tied to the lost binding); changed addresses are reported as
// EventExternalChanged so the UA re-INVITEs.
func (m *Manager) networkChanged() {
	if !m.netChanging.CompareAndSwap(false, true) {
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.netChanging.Store(false)
		return
	}
	m.wg.Add(1)
	old := m.pool
	m.pool = nil
	var inUse []*Mapping
	for mp := range m.mappings {
		if mp.Kind == KindMedia && mp.rtp != nil {
			inUse = append(inUse, mp)
		}
	}
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		defer m.netChanging.Store(false)
		m.log.Info("network changed: rebuilding warm pool and relearning media", "in_use", len(inUse))
		for _, mp := range old {
			_ = m.closeMapping(mp)
		}
		// A new NAT (or a rebooted one with other settings) may behave
		// differently: classify it again before relearning, so media
		// goes to the relay when it now maps per destination.
		m.mu.Lock()
		m.natStale = true
		m.mu.Unlock()
		m.classify(m.ctx)
		m.mu.Lock()
		m.natStale = false
		m.mu.Unlock()
		for _, mp := range inUse {
			m.relearn(mp)
		}
		m.fillPool(m.ctx)
	}()
}

// relearnMedia runs the strategies again for the media mappings in use
// whose strategy matches. A mapping still in its first learn is left to
// it (that learn waited for the classification).
func (m *Manager) relearnMedia(match func(Strategy) bool) {
	m.mu.Lock()
	var inUse []*Mapping
	for mp := range m.mappings {
		if mp.Kind != KindMedia || mp.rtp == nil || !match(mp.via) {
			continue
		}
		select {
		case <-mp.learnt:
			inUse = append(inUse, mp)
		default:
		}
	}
	m.mu.Unlock()
	for _, mp := range inUse {
		m.log.Info("relearning media after NAT classification", "laddr", mp.Local(), "via", mp.Via())
		m.relearn(mp)
	}
}

// relearn runs the strategies again for a media mapping in use.
func (m *Manager) relearn(mp *Mapping) {
	m.mu.Lock()
	via := mp.via
	m.mu.Unlock()
	switch via {
	case StrategyStatic, StrategyGateway:
		return // not tied to the NAT's bindings
	}
	// A relayed mapping gets a new allocation, and so does a warm
	// standby one: both are tied to the lost binding.
	m.dropAllocs(mp)
	m.learn(mp)
}
