package portmgr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskphone/phone/portmgr/gateway"
	"github.com/deskphone/phone/portmgr/natcheck"
)

// Manager is the port manager. It implements Mapper.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // lifetime context, cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sched  *scheduler
	ready  chan struct{}
	// natReady is closed when the first NAT classification has ended.
	natReady chan struct{}
	refill   chan struct{}
	poolSig  chan struct{} // signalled when a pair joins the pool

	bindMu      sync.Mutex   // serialises Map's take-or-bind with the pool's bind-and-join
	netChanging atomic.Bool  // a network-change rebuild is running
	kaBytes     atomic.Int64 // keepalive payload bytes sent
	kaPkts      atomic.Int64 // keepalive packets sent
	stunRx      atomic.Int64 // bytes of STUN responses to our own transactions
	warmHits    atomic.Int64 // Maps served from the warm pool
	cold        atomic.Int64 // Maps that had to bind
	oversize    atomic.Int64 // datagrams dropped: larger than the reader's buffer
	readErrs    atomic.Int64 // socket read errors retried (anything but a close)

	mu       sync.Mutex // guards following
	sipUsed  []bool     // by port offset in cfg.SIPPorts
	pairUsed []bool     // by pair index in cfg.MediaPorts (even port)
	mappings map[*Mapping]struct{}
	pool     []*Mapping // warm media mappings not handed out
	sipWarm  *Mapping   // warm SIP mapping not handed out
	// sips are the SIP UDP mappings handed out and not released, oldest
	// first: one per line when the UA runs several (see lastSIPLocked).
	sips     []*Mapping
	stunH    func(m *Mapping, msg []byte, from net.Addr)
	events   chan Event
	closed   bool
	servers  []netip.AddrPort // resolved STUN servers
	good     int              // index of the server that last answered
	turnAddr netip.AddrPort
	nat      *natcheck.Result
	natErr   error
	natStale bool // the NAT is being classified again after a change
	gw       gateway.Client
	gwExt    netip.Addr
	lifetime time.Duration // configured or measured; 0 unknown
	measured bool
	// lifetimeMethod is Report.LifetimeMethod.
	lifetimeMethod string
	algSeen        bool
	algWhy         string

	// noRoute is set while the route gives no usable source address
	// (localIP falls back; logged once per episode).
	noRoute atomic.Bool

	relays relayCounters // relay.go
}

// New validates cfg and returns a Manager. It binds the SIP socket at
// once (a local operation) and starts, in the background, discovery: the
// SIP socket's external address, the gateway, the NAT's behaviour, the
// warm pool of media pairs and the binding-lifetime estimate. Map never
// waits for that to finish.
func New(cfg Config) (*Manager, error) {
	if cfg.Net == nil {
		return nil, errors.New("portmgr: Config.Net is required")
	}
	cfg.setDefaults()
	if err := ValidateRanges(cfg.SIPPorts, cfg.MediaPorts); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	first := int(cfg.MediaPorts.Min+1) &^ 1 // first even port
	pairs := (int(cfg.MediaPorts.Max) - first + 1) / 2
	if pairs < 1 {
		return nil, fmt.Errorf("%w: media range %s holds no even/odd pair", ErrBadRange, cfg.MediaPorts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		cfg:      cfg,
		log:      log.With("component", "portmgr"),
		ctx:      ctx,
		cancel:   cancel,
		ready:    make(chan struct{}),
		natReady: make(chan struct{}),
		refill:   make(chan struct{}, 1),
		poolSig:  make(chan struct{}, 1),
		sipUsed:  make([]bool, cfg.SIPPorts.Size()),
		pairUsed: make([]bool, pairs),
		mappings: map[*Mapping]struct{}{},
		events:   make(chan Event, 16),
		lifetime: cfg.BindingLifetime,
	}
	m.sched = newScheduler(m)
	if sip, err := m.bindNew(KindSIP, netip.AddrPort{}); err == nil {
		m.sipWarm = sip
	} else {
		m.log.Warn("warm SIP socket", "err", err)
	}
	m.wg.Add(1)
	go m.run(m.sipWarm)
	return m, nil
}

// Events delivers address-change events. It is closed by Close.
func (m *Manager) Events() <-chan Event { return m.events }

// Ready returns when the start-up discovery (SIP address, gateway, NAT behaviour, warm pool) has
// finished, or ctx ends.
func (m *Manager) Ready(ctx context.Context) error {
	select {
	case <-m.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetSTUNHandler sets the function that receives STUN messages taken off
// mapped sockets that the manager itself did not consume (not a response
// to its own transactions, not a Binding request it answered). It is
// called on the socket's reader goroutine and must not block.
func (m *Manager) SetSTUNHandler(h func(mp *Mapping, msg []byte, from net.Addr)) {
	m.mu.Lock()
	m.stunH = h
	m.mu.Unlock()
}

// Map implements Mapper.
func (m *Manager) Map(ctx context.Context, kind Kind, tr Transport, remote netip.AddrPort) (*Mapping, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if tr != UDP && kind == KindMedia {
		return nil, fmt.Errorf("portmgr: media over %s is not supported", tr)
	}
	if kind != KindSIP && kind != KindMedia {
		return nil, fmt.Errorf("portmgr: unknown kind %v", kind)
	}
	// A remote without a port only chooses the family and the local
	// address (the route toward it); it is not a destination.
	hint := remote
	if remote.Port() == 0 {
		remote = netip.AddrPort{}
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	m.mu.Unlock()
	if kind == KindSIP && tr != UDP {
		// Stream transports are dialled by the SIP stack; the manager only
		// reports the addresses to advertise.
		ip, err := m.localIP(hint)
		if err != nil {
			return nil, err
		}
		mp := &Mapping{Kind: kind, Transport: tr, m: m, remote: remote, via: StrategyLocal, learnt: make(chan struct{})}
		close(mp.learnt)
		mp.local = netip.AddrPortFrom(ip, 0)
		mp.external = mp.local
		m.mu.Lock()
		if ext := m.knownPublicForLocked(ip); ext.IsValid() {
			mp.external = netip.AddrPortFrom(ext, 0)
			mp.via = StrategySTUN
		}
		m.applyStaticLocked(mp)
		m.mappings[mp] = struct{}{}
		m.mu.Unlock()
		return mp, nil
	}

	// bindMu makes "take a warm one, else bind" atomic with the pool's
	// "bind, then join the pool": a pair is always in one or the other.
	m.bindMu.Lock()
	mp := m.takeWarm(kind, hint)
	if mp != nil {
		m.bindMu.Unlock()
		m.warmHits.Add(1)
	} else {
		m.cold.Add(1)
		var err error
		mp, err = m.bindNew(kind, hint)
		m.bindMu.Unlock()
		if err != nil {
			m.log.Warn("map failed", "kind", kind, "err", err)
			return nil, err
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.learn(mp)
		}()
	}
	// A warm mapping has learnt its external address long before it is
	// asked for (its learnt channel is closed: no wait). A cold one, or a
	// pool pair still learning, waits a bounded time: advertising the
	// private address in Contact or SDP is what gives one-way or no audio,
	// so a short wait on the rare cold path is the better trade.
	wait := m.cfg.SIPMapWait
	if kind == KindMedia {
		wait = m.cfg.MediaMapWait
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-mp.learnt:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		_ = m.closeMapping(mp)
		return nil, ErrClosed
	}
	mp.remote = remote
	m.mappings[mp] = struct{}{}
	if kind == KindSIP {
		m.sips = append(m.sips, mp)
	}
	m.mu.Unlock()
	m.startKeepalive(mp)
	if kind == KindMedia && remote.IsValid() {
		m.startEarly(mp, remote)
	}
	m.log.Debug("mapped", "kind", kind, "laddr", mp.Local(), "ext", mp.External(), "via", mp.Via())
	return mp, nil
}

// takeWarm hands out a warm mapping of the kind, if one is ready and bound
// to the local IP that routes to remote (warm sockets are bound to the
// default route's address; a registrar on loopback needs a loopback one).
func (m *Manager) takeWarm(kind Kind, remote netip.AddrPort) *Mapping {
	want := netip.Addr{}
	if remote.IsValid() && !m.cfg.BindAddr.IsValid() {
		if ip, err := m.localIP(remote); err == nil {
			want = ip
		}
	}
	fits := func(mp *Mapping) bool { return !want.IsValid() || mp.local.Addr() == want }
	m.mu.Lock()
	var mp, stale *Mapping
	switch kind {
	case KindSIP:
		if m.sipWarm != nil && fits(m.sipWarm) {
			mp = m.sipWarm
		} else {
			stale = m.sipWarm
		}
		m.sipWarm = nil
	case KindMedia:
		// Prefer a pair whose addresses are learnt; else any that fits.
		pick := -1
		for i, p := range m.pool {
			if !fits(p) {
				continue
			}
			if pick < 0 {
				pick = i
			}
			select {
			case <-p.learnt:
				pick = i
			default:
				continue
			}
			break
		}
		if pick >= 0 {
			mp = m.pool[pick]
			m.pool = append(m.pool[:pick:pick], m.pool[pick+1:]...)
		}
		select {
		case m.refill <- struct{}{}:
		default:
		}
	}
	if mp != nil {
		mp.pooled = false
	}
	m.mu.Unlock()
	if stale != nil {
		_ = m.closeMapping(stale)
	}
	return mp
}

// bindNew binds a new socket (SIP) or pair (media) inside the ranges.
// The external address is the best known at once: a configured static
// address, else the local one; learn improves it.
func (m *Manager) bindNew(kind Kind, remote netip.AddrPort) (*Mapping, error) {
	ip, err := m.localIP(remote)
	if err != nil {
		return nil, err
	}
	mp := &Mapping{Kind: kind, Transport: UDP, m: m, via: StrategyLocal, learnt: make(chan struct{})}
	if kind == KindSIP {
		err = m.bindSIP(mp, ip)
	} else {
		err = m.bindMedia(mp, ip)
	}
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.applyStaticLocked(mp)
	m.mu.Unlock()
	return mp, nil
}

func (m *Manager) applyStaticLocked(mp *Mapping) {
	// A static address is of one family: it does not apply to a socket
	// of the other (an IPv6 socket on a phone with a static IPv4).
	if s := m.cfg.StaticExternal; s.IsValid() && sameFamily(mp.local.Addr(), s) {
		mp.external = netip.AddrPortFrom(s, mp.local.Port())
		mp.via = StrategyStatic
		if mp.RTCPConn != nil {
			mp.extRTCP = netip.AddrPortFrom(s, mp.local.Port()+1)
		}
	}
}

func (m *Manager) listen(ip netip.Addr, port uint16) (net.PacketConn, error) {
	bind := ip
	if m.cfg.BindAddr.IsValid() {
		bind = m.cfg.BindAddr
	}
	return m.cfg.Net.ListenPacket(udpNet(bind), net.JoinHostPort(bind.String(), strconv.Itoa(int(port))))
}

// udpNet is the network a socket on ip binds: "udp6" for an IPv6 address,
// else "udp4" (an IPv4-mapped address is IPv4). Each socket has one
// family; a dual-stack phone holds sockets of both, in the same ranges.
func udpNet(ip netip.Addr) string {
	if ip.Is6() && !ip.Is4In6() {
		return "udp6"
	}
	return "udp4"
}

func (m *Manager) bindSIP(mp *Mapping, ip netip.Addr) error {
	r := m.cfg.SIPPorts
	for i := range m.sipUsed {
		if !m.claim(m.sipUsed, i) {
			continue
		}
		port := r.Min + uint16(i)
		c, err := m.listen(ip, port)
		if err != nil {
			m.unclaim(m.sipUsed, i)
			m.log.Debug("sip port busy", "port", port, "err", err)
			continue
		}
		mp.slot = i
		mp.local = netip.AddrPortFrom(ip, port)
		mp.external = mp.local
		mp.rtp = m.newSock(mp, c, mp.local, false)
		mp.Conn = mp.rtp.user
		return nil
	}
	m.log.Warn("port range exhausted", "range", "sip", "ports", r.String())
	return fmt.Errorf("%w: sip %s", ErrExhausted, r)
}

func (m *Manager) bindMedia(mp *Mapping, ip netip.Addr) error {
	first := (m.cfg.MediaPorts.Min + 1) &^ 1
	for i := range m.pairUsed {
		if !m.claim(m.pairUsed, i) {
			continue
		}
		port := first + uint16(2*i)
		rtp, err := m.listen(ip, port)
		if err != nil {
			m.unclaim(m.pairUsed, i)
			continue
		}
		rtcp, err := m.listen(ip, port+1)
		if err != nil {
			rtp.Close()
			m.unclaim(m.pairUsed, i)
			continue
		}
		mp.slot = i
		mp.local = netip.AddrPortFrom(ip, port)
		mp.external = mp.local
		mp.extRTCP = netip.AddrPortFrom(ip, port+1)
		mp.rtp = m.newSock(mp, rtp, mp.local, false)
		mp.rtcp = m.newSock(mp, rtcp, mp.extRTCP, true)
		mp.Conn = mp.rtp.user
		mp.RTCPConn = mp.rtcp.user
		return nil
	}
	m.log.Warn("port range exhausted", "range", "media", "ports", m.cfg.MediaPorts.String())
	return fmt.Errorf("%w: media %s", ErrExhausted, m.cfg.MediaPorts)
}

func (m *Manager) claim(used []bool, i int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || used[i] {
		return false
	}
	used[i] = true
	return true
}

func (m *Manager) unclaim(used []bool, i int) {
	m.mu.Lock()
	used[i] = false
	m.mu.Unlock()
}

// UpdateRemote implements Mapper. For a media mapping with early UDP on,
// it starts sending small packets to the new remote at once (see
// startEarly).
func (m *Manager) UpdateRemote(mp *Mapping, remote netip.AddrPort) error {
	m.mu.Lock()
	if _, ok := m.mappings[mp]; !ok {
		m.mu.Unlock()
		return ErrUnknownMapping
	}
	changed := mp.remote != remote
	mp.remote = remote
	ping := mp.pingJob
	m.mu.Unlock()
	if changed && mp.Kind == KindMedia && remote.IsValid() {
		m.startEarly(mp, remote)
	}
	if changed {
		// The ping's interval follows the next hop (sipPingEvery): a
		// flow that had nothing to ping starts at once, not a pingIdle
		// later.
		m.sched.retime(ping)
	}
	return nil
}

// Release implements Mapper.
func (m *Manager) Release(mp *Mapping) error {
	m.mu.Lock()
	if _, ok := m.mappings[mp]; !ok {
		m.mu.Unlock()
		return ErrUnknownMapping
	}
	delete(m.mappings, mp)
	mp.released = true
	if i := slices.Index(m.sips, mp); i >= 0 {
		m.sips = slices.Delete(m.sips, i, i+1)
	}
	m.mu.Unlock()
	return m.closeMapping(mp)
}

func (m *Manager) closeMapping(mp *Mapping) error {
	m.sched.remove(mp)
	m.stopEarly(mp)
	m.dropLeases(mp)
	var err error
	for _, s := range []*sock{mp.rtp, mp.rtcp} {
		if s == nil {
			continue
		}
		if e := s.close(); e != nil && err == nil {
			err = e
		}
	}
	m.mu.Lock()
	switch {
	case mp.rtp == nil:
	case mp.Kind == KindSIP:
		m.sipUsed[mp.slot] = false
	case mp.Kind == KindMedia:
		m.pairUsed[mp.slot] = false
	}
	m.mu.Unlock()
	return err
}

// Close releases every mapping (deleting gateway leases and TURN
// allocations), stops every goroutine and closes Events. It is idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	all := make([]*Mapping, 0, len(m.mappings)+len(m.pool)+1)
	for mp := range m.mappings {
		all = append(all, mp)
	}
	all = append(all, m.pool...)
	if m.sipWarm != nil {
		all = append(all, m.sipWarm)
	}
	clear(m.mappings)
	m.pool, m.sipWarm = nil, nil
	m.mu.Unlock()
	var first error
	for _, mp := range all {
		if err := m.closeMapping(mp); err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
		}
	}
	m.cancel()
	m.sched.stop()
	m.wg.Wait()
	m.mu.Lock()
	close(m.events)
	m.mu.Unlock()
	return first
}

// lastSIPLocked is the most recent SIP UDP mapping handed out that is
// still held: the one ObserveRport and ObserveContact apply to when no
// mapping is named. When it is released the one before it takes over, so
// with several lines the report and the fallbacks keep a live flow.
// Called with m.mu held.
func (m *Manager) lastSIPLocked() *Mapping {
	if len(m.sips) == 0 {
		return nil
	}
	return m.sips[len(m.sips)-1]
}

// emit sends an event without blocking; a full channel drops it (logged).
func (m *Manager) emit(ev Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	select {
	case m.events <- ev:
	default:
		m.log.Warn("event dropped: Events() not drained", "kind", ev.Kind)
	}
}

var _ Mapper = (*Manager)(nil)
