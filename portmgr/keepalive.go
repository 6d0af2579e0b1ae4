package portmgr

import (
	"container/heap"
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/deskphone/phone/hal/wake"
	"github.com/deskphone/phone/portmgr/gateway"
	"github.com/deskphone/phone/portmgr/internal/stunc"
	"github.com/pion/stun/v3"
)

// scheduler is the one timer loop that drives every refresh: SIP flow
// keepalives, media keepalives, STUN re-checks of external addresses and
// gateway lease renewals. Each job has its own long-lived worker, so a
// slow STUN transaction never delays another binding's keepalive, a job
// never runs twice at once (while it runs, at most one more tick waits;
// further ones are dropped), and no goroutine is started per tick.
type scheduler struct {
	m      *Manager
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the workers
	mu     sync.Mutex     // guards jobs
	jobs   jobHeap
	wake   chan struct{}
	done   chan struct{}
}

type job struct {
	owner *Mapping
	at    time.Time
	every func() time.Duration
	run   func(ctx context.Context)
	kick  chan struct{} // to the worker; holds at most one waiting tick
	quit  chan struct{} // closed by remove
	idx   int
}

type jobHeap []*job

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h jobHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *jobHeap) Push(x any)        { j := x.(*job); j.idx = len(*h); *h = append(*h, j) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	*h = old[:len(old)-1]
	j.idx = -1
	return j
}

func newScheduler(m *Manager) *scheduler {
	s := &scheduler{m: m, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.loop()
	return s
}

// stop ends the loop and every worker, waiting for running jobs (whose
// context it cancels).
func (s *scheduler) stop() {
	s.cancel()
	<-s.done
	s.wg.Wait()
}

// add schedules run every every(), first after first, and returns the
// job (nil once the scheduler has stopped).
func (s *scheduler) add(owner *Mapping, first time.Duration, every func() time.Duration, run func(ctx context.Context)) *job {
	j := &job{owner: owner, at: time.Now().Add(first), every: every, run: run,
		kick: make(chan struct{}, 1), quit: make(chan struct{})}
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return nil
	}
	heap.Push(&s.jobs, j)
	s.wg.Add(1)
	s.mu.Unlock()
	go s.worker(j)
	s.poke()
	return j
}

// retime moves j's next run to every() from now, for a job whose
// interval depends on something that just changed. A job that was
// removed (or nil) is left alone. Not with m.mu held: every() may take it.
func (s *scheduler) retime(j *job) {
	if j == nil {
		return
	}
	s.mu.Lock()
	if j.idx < 0 || j.idx >= len(s.jobs) || s.jobs[j.idx] != j {
		s.mu.Unlock()
		return
	}
	j.at = time.Now().Add(j.every())
	heap.Fix(&s.jobs, j.idx)
	s.mu.Unlock()
	s.poke()
}

func (s *scheduler) worker(j *job) {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-j.quit:
			return
		case <-j.kick:
			j.run(s.ctx)
		}
	}
}

// remove drops every job of owner.
func (s *scheduler) remove(owner *Mapping) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.jobs[:0]
	for _, j := range s.jobs {
		if j.owner == owner {
			close(j.quit)
			continue
		}
		kept = append(kept, j)
	}
	clear(s.jobs[len(kept):])
	s.jobs = kept
	for i, j := range s.jobs {
		j.idx = i
	}
	heap.Init(&s.jobs)
}

func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *scheduler) loop() {
	defer close(s.done)
	t := wake.NewTimer(time.Hour) // on time while the phone is idle (hal/wake)
	defer t.Stop()
	for {
		s.mu.Lock()
		now := time.Now()
		for len(s.jobs) > 0 && !s.jobs[0].at.After(now) {
			j := s.jobs[0]
			j.at = now.Add(j.every())
			heap.Fix(&s.jobs, 0)
			select {
			case j.kick <- struct{}{}:
			default: // a tick is already waiting for the busy worker
			}
		}
		wait := time.Hour
		if len(s.jobs) > 0 {
			wait = time.Until(s.jobs[0].at)
		}
		s.mu.Unlock()
		t.Reset(wait)
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// keepaliveInterval is the refresh interval of every binding: the
// configured bound, shortened to 80% of a known binding lifetime, never
// below MinKeepalive.
func (m *Manager) keepaliveInterval() time.Duration {
	m.mu.Lock()
	lt := m.lifetime
	m.mu.Unlock()
	d := m.cfg.Keepalive
	if lt > 0 {
		if safe := lt * 4 / 5; safe < d {
			d = safe
		}
	}
	return max(d, MinKeepalive)
}

// changeCheckInterval is how often the SIP flow's external address is
// re-checked with STUN: Config.ChangeCheck, never longer than the
// keepalive interval.
func (m *Manager) changeCheckInterval() time.Duration {
	ka := m.keepaliveInterval()
	if c := m.cfg.ChangeCheck; c > 0 && c < ka {
		return c
	}
	return ka
}

// poolKeepalive reports whether a warm media pair in the pool has a
// binding to refresh: only what a STUN server or a TURN relay learnt
// needs it. Without either a pooled pair (no far end yet) has nothing to
// send, and an idle phone should not wake for it; Map starts the pair's
// keepalive when a call takes it.
func (m *Manager) poolKeepalive() bool {
	return len(m.cfg.STUNServers) > 0 || m.cfg.TURN.Server != ""
}

// startKeepalive schedules the refresh jobs of a mapping.
func (m *Manager) startKeepalive(mp *Mapping) {
	if mp.rtp == nil || mp.kaStarted.Swap(true) {
		return
	}
	every := m.keepaliveInterval
	if mp.Kind == KindSIP {
		if m.cfg.SIPKeepalive == KeepaliveOff {
			return
		}
		if m.cfg.SIPKeepalive == KeepaliveCRLF {
			// Behind a NAT the ping follows the change check, not the
			// keepalive interval: a NAT that flushed its state but
			// hands out the same port again (a reboot, a conntrack
			// flush) looks unchanged to the STUN server, while its
			// filter drops the registrar's requests until something
			// goes out to the registrar. A 4-byte CRLF every change
			// check bounds that deafness to the check interval. With
			// no NAT in the path it only refreshes a stateful
			// firewall's entry, at the keepalive interval; to a
			// registrar on loopback it is not sent (sipPingEvery).
			ping := func() time.Duration { return m.sipPingEvery(mp) }
			j := m.sched.add(mp, ping(), ping, func(context.Context) { m.sipPing(mp) })
			m.mu.Lock()
			mp.pingJob = j
			m.mu.Unlock()
		}
		if m.cfg.SIPKeepalive != KeepaliveSTUN && len(m.cfg.STUNServers) == 0 {
			// No STUN server to re-check with: the check would do
			// nothing (sipCheck), and an idle phone should not wake
			// for it.
			return
		}
		// The change check: while the flow does not answer, every
		// RecoveryInterval, so a NAT that was down is noticed within
		// seconds of coming back; otherwise every changeCheckInterval, so
		// a NAT that rebooted without an outage (its bindings flushed,
		// new external ports) is noticed within that time.
		check := func() time.Duration {
			d := m.changeCheckInterval()
			if mp.flowDown.Load() {
				d = min(d, RecoveryInterval)
			}
			return d
		}
		m.sched.add(mp, check(), check, func(ctx context.Context) { m.sipCheck(ctx, mp) })
		return
	}
	// The next look is when the quieter socket will have been quiet for
	// the gap (at least a tick away), so a busy call costs one look per
	// gap and an idle socket sends once per gap.
	next := func() time.Duration {
		tick, gap := mediaCadence(every())
		d := gap
		for _, s := range []*sock{mp.rtp, mp.rtcp} {
			if s != nil {
				d = min(d, gap-s.quietSince())
			}
		}
		return max(d, tick)
	}
	m.sched.add(mp, next(), next, func(ctx context.Context) { m.mediaKeepalive(ctx, mp) })
}

// mediaCadence splits the keepalive interval for media: a socket sends a
// keepalive when nothing went out for gap (the interval less a tick), and
// the job looks again no sooner than a tick later, so no silence, however
// it lines up with the user's last packet, outlasts the interval. Fully
// idle, a socket sends once per gap (18 s at 20 s).
func mediaCadence(every time.Duration) (tick, gap time.Duration) {
	tick = max(every/10, 100*time.Millisecond)
	return tick, every - tick
}

// crlf is the RFC 5626 §4.4.1 keepalive ping.
var crlf = []byte("\r\n\r\n")

// pingIdle is the CRLF job's interval while there is nothing to ping
// (no next hop yet, or one on loopback): it only looks again. The next
// hop is the one input that turns pinging on, and UpdateRemote re-times
// the job when it changes, so an idle phone whose registrar is on
// loopback is not woken for it (issue 19).
const pingIdle = 24 * time.Hour

// sipPingEvery is the CRLF ping's interval for the SIP flow mp, decided
// afresh before each ping from what is known of the path to the next
// hop:
//   - next hop on loopback, or none yet: no ping (looked at again
//     every pingIdle);
//   - a NAT in the path (the registrar or STUN saw another address or
//     port than the socket's, or the flow's external address came
//     from STUN, a gateway, a relay or a static port forward), or
//     nothing seen yet: every change check (5 s by default; issue 14);
//   - no NAT (seen as our own address and port: a public address, or
//     IPv6): every keepalive interval (20 s), for a stateful firewall.
func (m *Manager) sipPingEvery(mp *Mapping) time.Duration {
	m.mu.Lock()
	remote, seen, local, via := mp.remote, mp.rport, mp.local, mp.via
	if !seen.IsValid() {
		seen = mp.stunMapped
	}
	m.mu.Unlock()
	switch {
	case !remote.IsValid() || remote.Addr().Unmap().IsLoopback():
		return pingIdle
	case via != StrategyLocal || m.cfg.StaticExternal.IsValid() || !seen.IsValid() || seen.Port() != local.Port():
		return m.changeCheckInterval()
	case !m.ownAddr(seen.Addr()):
		return m.changeCheckInterval()
	}
	return m.keepaliveInterval()
}

// sipPing refreshes the SIP flow's binding toward the next hop with a
// double CRLF (RFC 5626 §4.4.1). Not to a next hop on loopback: there
// is no binding to keep.
func (m *Manager) sipPing(mp *Mapping) {
	m.mu.Lock()
	remote := mp.remote
	m.mu.Unlock()
	if remote.IsValid() && !remote.Addr().Unmap().IsLoopback() {
		if err := mp.rtp.write(crlf, remote); err == nil {
			m.countKA(len(crlf))
		}
	}
}

// sipCheck re-checks the SIP flow's external address (change detection):
// a STUN Binding request from the SIP socket to the STUN servers, or,
// with KeepaliveSTUN, to the next hop itself (RFC 5626 §4.4.2, which
// also keeps that binding open). A changed XOR-MAPPED-ADDRESS is a flow
// failure; no answer marks the flow down.
func (m *Manager) sipCheck(ctx context.Context, mp *Mapping) {
	m.mu.Lock()
	remote := mp.remote
	useSTUN := slices.ContainsFunc(m.servers, func(s netip.AddrPort) bool { return sameFamily(s.Addr(), mp.local.Addr()) })
	m.mu.Unlock()
	var ext netip.AddrPort
	var err error
	switch {
	case m.cfg.SIPKeepalive == KeepaliveSTUN && remote.IsValid():
		m.countKA(stunRequestSize)
		var r *stunc.Response
		if r, err = mp.rtp.cl.Binding(ctx, stunc.Request{To: remote, Tries: 4, Rm: 4}); err == nil {
			ext = r.Mapped
		}
	case useSTUN:
		m.countKA(stunRequestSize)
		ext, err = m.stunMappedTries(ctx, mp.rtp, true)
	default:
		return
	}
	if err != nil {
		if ctx.Err() == nil && !mp.flowDown.Swap(true) {
			m.log.Warn("SIP flow check unanswered; re-checking every few seconds", "laddr", mp.rtp.local, "err", err)
		}
		return
	}
	mp.flowDown.Store(false)
	m.checkMapped(mp, ext)
}

// RecoveryInterval is how often an unanswered SIP flow is re-checked.
const RecoveryInterval = 3 * time.Second

// stunRequestSize is a Binding request with FINGERPRINT: 20 + 8 bytes.
const stunRequestSize = 28

// checkMapped compares a fresh STUN answer with the mapping's last one and
// reports a change (NAT reboot, new lease, lost binding).
func (m *Manager) checkMapped(mp *Mapping, ext netip.AddrPort) {
	m.mu.Lock()
	prev := mp.stunMapped
	mp.stunMapped = ext
	if !prev.IsValid() || prev == ext {
		if !prev.IsValid() && mp.via == StrategyLocal && !m.cfg.StaticExternal.IsValid() {
			old := mp.external
			mp.external, mp.via = ext, StrategySTUN
			m.mu.Unlock()
			if old != ext && !mp.pooled {
				m.emit(Event{Kind: EventExternalChanged, Mapping: mp, Old: old, New: ext})
			}
			return
		}
		m.mu.Unlock()
		return
	}
	old := mp.external
	kind := EventExternalChanged
	if mp.Kind == KindSIP {
		// The NAT lost or remapped the SIP flow's binding: every binding
		// made before is suspect (NAT reboot, new lease).
		defer m.networkChanged()
	}
	switch mp.via {
	case StrategySTUN:
		mp.external = ext
	case StrategyRport:
		// The advertised address came from the registrar; the NAT binding
		// changed under it. Only a new REGISTER can tell the new one.
		kind = EventFlowFailed
	default:
		// Static, gateway or relay addresses do not follow the binding.
		m.mu.Unlock()
		m.log.Info("binding changed", "laddr", mp.local, "old", prev, "new", ext, "via", mp.via)
		return
	}
	pooled := mp.pooled
	m.mu.Unlock()
	m.log.Info("external address changed", "kind", mp.Kind, "old", prev, "new", ext)
	if !pooled {
		m.emit(Event{Kind: kind, Mapping: mp, Old: old, New: mp.External()})
	}
}

// mediaKeepalive keeps an idle media binding open (RFC 6263): when the
// user sent nothing for a whole interval (hold, mute with silence
// suppression, or not yet in a call), it sends a STUN Binding indication
// to the far end (§4.4: ignored by RTP stacks and by RFC 7983
// demultiplexers), or, with no far end yet, a Binding request to the STUN
// server that also re-checks the mapping. A relayed mapping sends the
// indication to the TURN server, which holds the NAT binding to it.
func (m *Manager) mediaKeepalive(ctx context.Context, mp *Mapping) {
	_, gap := mediaCadence(m.keepaliveInterval())
	m.mu.Lock()
	remote := mp.remote
	m.mu.Unlock()
	for _, s := range []*sock{mp.rtp, mp.rtcp} {
		if s == nil || s.quietSince() < gap {
			continue
		}
		s.lastKA.Store(time.Now().UnixNano())
		if t := s.turn.Load(); t != nil && t.stream == nil {
			m.sendIndication(s, t.server)
			if !t.standby.Load() {
				continue
			} // a warm standby allocation: the direct path needs its keepalive too
		}
		if remote.IsValid() {
			to := remote
			if s.rtcp {
				to = netip.AddrPortFrom(remote.Addr(), remote.Port()+1)
			}
			m.sendIndication(s, to)
			continue
		}
		if s.rtcp {
			continue // the RTP check below covers the pair's NAT
		}
		m.countKA(stunRequestSize)
		ext, err := m.stunMapped(ctx, s)
		if err == nil {
			m.mu.Lock()
			via := mp.via
			m.mu.Unlock()
			if via == StrategySTUN {
				m.checkMapped(mp, ext)
			}
		}
	}
}

func (m *Manager) sendIndication(s *sock, to netip.AddrPort) {
	msg, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodBinding, stun.ClassIndication), stun.Fingerprint)
	if err != nil {
		return
	}
	if err := s.write(msg.Raw, to); err == nil {
		m.countKA(len(msg.Raw))
	}
}

// KeepaliveStats returns the keepalive packets and UDP payload bytes sent
// so far (add 28 bytes of IPv4 and UDP header per packet for the wire).
func (m *Manager) KeepaliveStats() (packets, bytes int64) { return m.kaPkts.Load(), m.kaBytes.Load() }

func (m *Manager) countKA(n int) {
	m.kaPkts.Add(1)
	m.kaBytes.Add(int64(n))
}

// scheduleRenew renews lease i of mp at half its lifetime.
func (m *Manager) scheduleRenew(mp *Mapping, gw gateway.Client, i int) {
	m.mu.Lock()
	half := mp.leases[i].Lifetime / 2
	m.mu.Unlock()
	if half <= 0 {
		half = m.cfg.GatewayLifetime / 2
	}
	every := func() time.Duration {
		m.mu.Lock()
		defer m.mu.Unlock()
		if i < len(mp.leases) && mp.leases[i].Lifetime > 0 {
			return mp.leases[i].Lifetime / 2
		}
		return half
	}
	m.sched.add(mp, half, every, func(ctx context.Context) {
		m.mu.Lock()
		if i >= len(mp.leases) {
			m.mu.Unlock()
			return
		}
		prev := mp.leases[i]
		m.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		l, err := gw.Map(rctx, prev.Internal, &prev, m.cfg.GatewayLifetime)
		cancel()
		if err != nil {
			m.log.Warn("gateway renew", "protocol", gw.Protocol(), "ext", prev.External, "err", err)
			return
		}
		m.mu.Lock()
		if i < len(mp.leases) {
			mp.leases[i] = l
		}
		changed := i == 0 && mp.via == StrategyGateway && mp.external != l.External
		old := mp.external
		if changed {
			mp.external = l.External
		}
		if i == 1 && mp.via == StrategyGateway {
			mp.extRTCP = l.External
		}
		pooled := mp.pooled
		m.mu.Unlock()
		if changed && !pooled {
			m.emit(Event{Kind: EventExternalChanged, Mapping: mp, Old: old, New: l.External})
		}
	})
}

var _ = net.ErrClosed
