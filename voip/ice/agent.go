package ice

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/pion/stun/v3"

	"github.com/deskphone/phone/voip/sdp"
)

// Defaults for the zero values of Config.
const (
	DefaultTa        = 20 * time.Millisecond  // RFC 8445 §14.2: one check per Ta
	DefaultRTO       = 200 * time.Millisecond // first retransmission of a check
	DefaultKeepalive = 5 * time.Second        // RFC 7675 §5.1: consent every ~5 s
	DefaultGiveUp    = 8 * time.Second        // checks end; media stays where it is
	// nominateGrace is how long the controlling agent waits, after the
	// first valid pair, for a better pair's check to finish before it
	// nominates the best valid one (RFC 8445 §8.1.1 leaves this to us).
	nominateGrace = 150 * time.Millisecond
	maxTries      = 7 // requests per check (RFC 8445 §14.3 Rc analogue)
)

// Errors.
var (
	// ErrConfig is wrapped by New for a missing or bad Config field.
	ErrConfig = errors.New("ice: bad config")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("ice: agent closed")
)

// Config configures an Agent. Write, the credentials and Remote are
// required.
type Config struct {
	// Write sends b to to from the media socket (the portmgr mapping's
	// Conn, so a relayed mapping's checks go through its relay).
	Write func(b []byte, to netip.AddrPort) error
	// LocalUfrag and LocalPwd are ours, as advertised in SDP.
	LocalUfrag, LocalPwd string
	// Remote is the peer's ICE description; only its UDP candidates of
	// Component and of our base's address family (Base's, else
	// Default's) are checked: a dual-stack peer lists IPv4 and IPv6
	// candidates, and our one socket sends to one family.
	Remote sdp.ICE
	// Base is our media socket's local address (the base of our
	// candidates, RFC 8445 §5.1.1.1); only its family matters. Invalid:
	// Default's family is taken as ours.
	Base netip.AddrPort
	// Component is the ICE component the agent checks: 1 (RTP, the
	// default) or 2 (RTCP on its own socket).
	Component int
	// Tiebreaker is our ICE-CONTROLLING/ICE-CONTROLLED value (RFC 8445
	// §7.1.1); the agents of one session's components share one. 0
	// draws a random one.
	Tiebreaker uint64
	// Controlling is our role (RFC 8445 §6.1.1: the offerer, or the full
	// agent facing a lite one).
	Controlling bool
	// Lite makes the agent an ICE-lite one (RFC 8445 §2.5, for a phone
	// with a public address: its host candidate is all a peer needs): it
	// sends no checks, answers the peer's, and selects the pair on which
	// the peer's check carries USE-CANDIDATE. It is always controlled.
	Lite bool
	// Default is where media goes before a pair is selected (the peer's
	// c=/m= address).
	Default netip.AddrPort
	// Relay is our relayed candidate (RFC 8445 §5.1.1.2: the TURN
	// allocation made through the same socket), invalid when we offer
	// none. With it each remote candidate is checked from the relay too
	// (through WriteRelay), and checks that arrive through the relay are
	// answered through it.
	Relay netip.AddrPort
	// WriteRelay sends b to to through the relay; required with Relay.
	WriteRelay func(b []byte, to netip.AddrPort) error
	// OnSelect is called, on the agent's goroutine, each time the
	// selected pair changes. It must not block long and must not call
	// Close.
	OnSelect func(Selection)
	// Logger receives agent events (never per check); nil discards.
	Logger *slog.Logger
	// Ta, RTO, Keepalive and GiveUp: see the Default constants.
	Ta, RTO, Keepalive, GiveUp time.Duration
}

// Selection is a selected candidate pair, as Config.OnSelect reports it.
type Selection struct {
	// Remote is the peer's candidate: where media goes.
	Remote netip.AddrPort
	// Local is our candidate as the peer saw our check (the
	// XOR-MAPPED-ADDRESS of its answer, RFC 8445 §7.2.5.3.1): our host
	// address on a LAN, the server-reflexive one across NATs, the relayed
	// one through the relay, or a peer-reflexive one we never advertised.
	// Invalid when the answer carried none (a lite agent's selection,
	// made on the peer's check, has none either).
	Local netip.AddrPort
	// Relayed is true when our side of the pair is the relay
	// (Config.Relay) rather than the media socket itself.
	Relayed bool
	// Controlling is our role when the pair was selected (after any
	// role conflict): the controlling agent owes the updated offer of
	// RFC 8445 §8.1.2 when Local is not its default.
	Controlling bool
}

// pair states (RFC 8445 §6.1.2.6).
type pairState int

const (
	waiting pairState = iota
	inProgress
	succeeded
	failed
)

// pair is a candidate pair: one of our two bases (the media socket, or
// its TURN allocation when relayed) and a remote candidate.
type pair struct {
	remote    netip.AddrPort
	relayed   bool           // our base is the relay (Config.Relay)
	mapped    netip.AddrPort // our address as the peer saw our check (XOR-MAPPED-ADDRESS)
	prio      uint64
	state     pairState
	tx        [stun.TransactionIDSize]byte
	tries     int
	next      time.Time // next retransmission while inProgress
	useCand   bool      // our check on it carries USE-CANDIDATE
	nominated bool      // the peer nominated it (we are controlled)
}

type datagram struct {
	b       []byte
	from    netip.AddrPort
	relayed bool
}

// Agent is a full ICE agent (RFC 8445) for one component on one socket:
// it checks the peer's candidates from the media socket, answers the
// peer's checks, nominates (controlling, regular nomination) or follows
// the peer's nomination (controlled), and reports the selected pair. It
// has one local base, so our candidates differ only in how the peer
// reaches that socket (host, server-reflexive, relayed); the peer-
// reflexive address its checks learn is not advertised again.
type Agent struct {
	cfg  Config
	log  *slog.Logger
	tieb uint64
	in   chan datagram

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	txMu sync.Mutex // guards txs
	txs  map[[stun.TransactionIDSize]byte]bool

	mu          sync.Mutex // guards following
	selected    netip.AddrPort
	selRelayed  bool           // the selected pair's base is the relay
	selLocal    netip.AddrPort // the selected pair's local candidate, as the peer saw it
	gaveUp      bool
	checks      int // checks sent
	controlling bool

	// loop goroutine only
	pairs      []*pair
	triggered  []*pair
	firstValid time.Time
	started    time.Time
	peerNew    time.Time // the peer's last check on a pair not yet valid
	nextKA     time.Time
}

// New starts an agent: its goroutine sends the first check at once.
func New(cfg Config) (*Agent, error) {
	if cfg.Relay.IsValid() && cfg.WriteRelay == nil {
		return nil, ErrConfig
	}
	if cfg.Write == nil || cfg.LocalUfrag == "" || cfg.LocalPwd == "" || cfg.Remote.Ufrag == "" || cfg.Remote.Pwd == "" {
		return nil, ErrConfig
	}
	if cfg.Component <= 0 {
		cfg.Component = 1
	}
	if cfg.Ta <= 0 {
		cfg.Ta = DefaultTa
	}
	if cfg.RTO <= 0 {
		cfg.RTO = DefaultRTO
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = DefaultKeepalive
	}
	if cfg.GiveUp <= 0 {
		cfg.GiveUp = DefaultGiveUp
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tieb := cfg.Tiebreaker
	if tieb == 0 {
		tieb = NewTiebreaker()
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{
		cfg: cfg, log: log.With("component", "ice"), tieb: tieb,
		in: make(chan datagram, 64), ctx: ctx, cancel: cancel, done: make(chan struct{}),
		txs: map[[stun.TransactionIDSize]byte]bool{}, controlling: !cfg.Lite && (cfg.Controlling || cfg.Remote.Lite),
	}
	if cfg.Lite {
		go a.loop() // answers checks only: no pairs of our own
		return a, nil
	}
	for _, c := range cfg.Remote.Candidates {
		if c.Component != cfg.Component || c.Transport != "UDP" || !c.Addr.IsValid() || c.Addr.Port() == 0 {
			continue
		}
		if !a.ourFamily(c.Addr) {
			continue // the other IP family: no pair with our base
		}
		a.addPair(c.Addr, false, c.Priority)
		if cfg.Relay.IsValid() && c.Addr.Addr().Is4() == cfg.Relay.Addr().Is4() {
			a.addPair(c.Addr, true, c.Priority)
		}
	}
	go a.loop()
	return a, nil
}

// ourFamily reports whether remote is of our base's IP family (Base's,
// else Default's; any when neither is known).
func (a *Agent) ourFamily(remote netip.AddrPort) bool {
	ours := a.cfg.Base
	if !ours.IsValid() {
		ours = a.cfg.Default
	}
	return !ours.IsValid() || remote.Addr().Unmap().Is4() == ours.Addr().Unmap().Is4()
}

// addPair adds a pair for remote on our direct or relayed base unless
// there is one; it returns it. Our candidate's priority is the host's
// (the direct base's best) or the relay's (RFC 8445 §5.1.2.2: type
// preference 0), so relayed pairs come last.
func (a *Agent) addPair(remote netip.AddrPort, relayed bool, rprio uint32) *pair {
	for _, p := range a.pairs {
		if p.remote == remote && p.relayed == relayed {
			return p
		}
	}
	if len(a.pairs) >= 64 {
		return nil
	}
	lprio := LocalPriority(sdp.CandPrflx, a.cfg.Component)
	if relayed {
		lprio = LocalPriority(sdp.CandRelay, a.cfg.Component)
	}
	p := &pair{remote: remote, relayed: relayed, prio: pairPriority(a.isControlling(), lprio, rprio)}
	a.pairs = append(a.pairs, p)
	slices.SortStableFunc(a.pairs, func(x, y *pair) int {
		switch {
		case x.prio > y.prio:
			return -1
		case x.prio < y.prio:
			return 1
		}
		return 0
	})
	return p
}

// LocalPriority is a candidate's priority (RFC 8445 §5.1.2.1) with the
// recommended type preferences and the highest local preference.
func LocalPriority(typ string, component int) uint32 {
	var tp uint32
	switch typ {
	case sdp.CandHost:
		tp = 126
	case sdp.CandPrflx:
		tp = 110
	case sdp.CandSrflx:
		tp = 100
	case sdp.CandRelay:
		tp = 0
	}
	return tp<<24 | 65535<<8 | uint32(256-component)
}

// pairPriority is RFC 8445 §6.1.2.3: G the controlling agent's
// candidate priority, D the controlled one's.
func pairPriority(controlling bool, local, remote uint32) uint64 {
	g, d := uint64(remote), uint64(local)
	if controlling {
		g, d = d, g
	}
	p := min(g, d)<<32 + 2*max(g, d)
	if g > d {
		p++
	}
	return p
}

func (a *Agent) isControlling() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.controlling
}

// Selected is the selected pair's remote address; invalid before one is.
func (a *Agent) Selected() netip.AddrPort {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.selected
}

// SelectedLocal is the selected pair's local candidate as the peer saw
// our check (Selection.Local); invalid before a pair is selected or
// when the peer's answer carried no XOR-MAPPED-ADDRESS.
func (a *Agent) SelectedLocal() netip.AddrPort {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.selLocal
}

// SelectedRelayed reports whether the selected pair's local candidate
// is the relay (Config.Relay): media must then go through it.
func (a *Agent) SelectedRelayed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.selected.IsValid() && a.selRelayed
}

// Checking reports whether the agent is still looking for a pair: it
// has neither selected one nor given up (Config.GiveUp).
func (a *Agent) Checking() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.selected.IsValid() && !a.gaveUp
}

func (a *Agent) givenUp() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gaveUp
}

// Checks is how many connectivity checks (requests) the agent sent.
func (a *Agent) Checks() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.checks
}

// HandleSTUN takes a STUN message read off the media socket if it is
// ICE's: a Binding request for our username fragment, or a response to
// one of our checks. It copies what it keeps and never blocks (a full
// queue drops, as the network may). It is the portmgr mapping's hook.
func (a *Agent) HandleSTUN(b []byte, from netip.AddrPort) bool {
	return a.handleSTUN(b, from, false)
}

// HandleRelayedSTUN is HandleSTUN for a message that came through our
// relay (Config.Relay) from the peer's address from.
func (a *Agent) HandleRelayedSTUN(b []byte, from netip.AddrPort) bool {
	return a.cfg.Relay.IsValid() && a.handleSTUN(b, from, true)
}

func (a *Agent) handleSTUN(b []byte, from netip.AddrPort, relayed bool) bool {
	if len(b) < 20 {
		return false
	}
	mt := binary.BigEndian.Uint16(b[0:2])
	var tx [stun.TransactionIDSize]byte
	copy(tx[:], b[8:20])
	switch mt {
	case 0x0001: // Binding request: ours when USERNAME starts with our ufrag
		if !a.forUs(b) {
			return false
		}
	case 0x0101, 0x0111: // Binding success / error response
		a.txMu.Lock()
		ok := a.txs[tx]
		a.txMu.Unlock()
		if !ok {
			return false
		}
	default:
		return false
	}
	select {
	case a.in <- datagram{b: append([]byte(nil), b...), from: from, relayed: relayed}:
	case <-a.done:
	default:
	}
	return true
}

// forUs reports whether a Binding request names our ufrag first in its
// USERNAME (RFC 8445 §7.2.2: "LFRAG:RFRAG", LFRAG the receiver's).
func (a *Agent) forUs(b []byte) bool {
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil {
		return false
	}
	u, err := m.Get(stun.AttrUsername)
	if err != nil {
		return false
	}
	pre := a.cfg.LocalUfrag + ":"
	return len(u) > len(pre) && string(u[:len(pre)]) == pre
}

// Close stops the agent's goroutine; media stays where the last
// selection put it. Idempotent.
func (a *Agent) Close() error {
	a.once.Do(func() {
		a.cancel()
		<-a.done
	})
	return nil
}

func (a *Agent) loop() {
	defer close(a.done)
	a.started = time.Now()
	t := time.NewTicker(a.cfg.Ta)
	defer t.Stop()
	slow := false
	pace := func() {
		// Idle (selected and settled, or given up): tick only for the
		// keepalive; back to Ta as soon as there is a check to send.
		idle := len(a.triggered) == 0 && (a.givenUp() || a.Selected().IsValid() && !a.busy())
		if idle != slow {
			slow = idle
			if idle {
				t.Reset(a.cfg.Keepalive / 4)
			} else {
				t.Reset(a.cfg.Ta)
			}
		}
	}
	a.tick(a.started)
	for {
		select {
		case <-a.ctx.Done():
			return
		case d := <-a.in:
			a.handle(d.b, d.from, d.relayed, time.Now())
		case now := <-t.C:
			a.tick(now)
		}
		pace()
	}
}

// busy reports a check waiting or in progress.
func (a *Agent) busy() bool {
	for _, p := range a.pairs {
		if p.state == waiting || p.state == inProgress {
			return true
		}
	}
	return false
}

// tick sends at most one request (RFC 8445 §6.1.4.2 pacing): a triggered
// check, a due retransmission, the next waiting check, a nomination, or
// a consent keepalive on the selected pair.
func (a *Agent) tick(now time.Time) {
	sel, selRelayed := a.Selected(), a.SelectedRelayed()
	gaveUp := a.givenUp()
	// GiveUp runs from the start, or from the peer's last check on a
	// pair not yet valid: a peer that is still checking (baresip reaches
	// relayed candidates, last in its list, seconds after the answer) is
	// not given up on.
	if !gaveUp && !sel.IsValid() && now.Sub(a.started) >= a.cfg.GiveUp && now.Sub(a.peerNew) >= a.cfg.GiveUp {
		gaveUp = true
		a.mu.Lock()
		a.gaveUp = true
		a.mu.Unlock()
		a.log.Info("ice: no pair selected; media stays on the default address", "ice_component", a.cfg.Component, "default", a.cfg.Default, "pairs", len(a.pairs))
	}
	if a.cfg.Lite {
		return // §2.5: a lite agent sends no checks, nor consent (RFC 7675 §1)
	}
	active := !gaveUp && (!sel.IsValid() || !a.isControlling() || a.hasPending())
	if active {
		for len(a.triggered) > 0 {
			p := a.triggered[0]
			a.triggered = a.triggered[1:]
			if p.state == inProgress && p.tries > 0 {
				continue
			}
			a.send(p, now)
			return
		}
		for _, p := range a.pairs {
			if p.state != inProgress || now.Before(p.next) {
				continue
			}
			if p.tries >= maxTries {
				a.log.Debug("ice: check failed", "ice_component", a.cfg.Component, "raddr", p.remote, "nominating", p.useCand)
				p.state = failed
				a.forget(p.tx)
				continue
			}
			a.send(p, now)
			return
		}
		for _, p := range a.pairs {
			if p.state == waiting && (!sel.IsValid() || !a.isControlling()) {
				a.send(p, now)
				return
			}
		}
		if a.isControlling() && !sel.IsValid() && a.nominate(now) {
			return
		}
	}
	if sel.IsValid() && !now.Before(a.nextKA) {
		a.nextKA = now.Add(a.cfg.Keepalive)
		for _, p := range a.pairs {
			if p.remote == sel && p.relayed == selRelayed && p.state != inProgress {
				a.forget(p.tx)
				p.tx = stun.NewTransactionID()
				a.request(p, false)
				return
			}
		}
	}
}

// hasPending reports a nominating check still in progress.
func (a *Agent) hasPending() bool {
	for _, p := range a.pairs {
		if p.useCand && p.state == inProgress {
			return true
		}
	}
	return false
}

// nominate starts the nominating check (USE-CANDIDATE, RFC 8445 §8.1.1)
// on the best valid pair once no better pair is still being checked, or
// nominateGrace after the first valid pair.
func (a *Agent) nominate(now time.Time) bool {
	if a.firstValid.IsZero() {
		return false
	}
	for _, p := range a.pairs {
		if p.useCand && p.state == inProgress {
			return false
		}
	}
	for _, p := range a.pairs {
		switch p.state {
		case succeeded:
			if p.useCand {
				return false
			}
			p.useCand = true
			p.state = waiting
			p.tries = 0
			a.send(p, now)
			return true
		case waiting, inProgress:
			if now.Sub(a.firstValid) < nominateGrace {
				return false
			}
		}
	}
	return false
}

// send starts or retransmits p's check.
func (a *Agent) send(p *pair, now time.Time) {
	if p.state != inProgress {
		a.forget(p.tx)
		p.tx = stun.NewTransactionID()
		p.state = inProgress
		p.tries = 0
	}
	rto := a.cfg.RTO << min(p.tries, 3)
	p.tries++
	p.next = now.Add(rto)
	a.request(p, p.useCand && a.isControlling())
}

func (a *Agent) forget(tx [stun.TransactionIDSize]byte) {
	a.txMu.Lock()
	delete(a.txs, tx)
	a.txMu.Unlock()
}

// request writes a Binding request on p (RFC 8445 §7.1.1):
//
//	USERNAME "RFRAG:LFRAG", PRIORITY (of a peer-reflexive candidate of
//	ours), ICE-CONTROLLING or ICE-CONTROLLED with our tie-breaker,
//	USE-CANDIDATE when nominating, MESSAGE-INTEGRITY with the peer's
//	password, FINGERPRINT.
func (a *Agent) request(p *pair, useCand bool) {
	a.txMu.Lock()
	if len(a.txs) > 256 {
		clear(a.txs)
	}
	a.txs[p.tx] = true
	a.txMu.Unlock()
	var prio [4]byte
	binary.BigEndian.PutUint32(prio[:], LocalPriority(sdp.CandPrflx, a.cfg.Component))
	var tb [8]byte
	binary.BigEndian.PutUint64(tb[:], a.tieb)
	role := stun.AttrICEControlled
	if a.isControlling() {
		role = stun.AttrICEControlling
	}
	setters := []stun.Setter{
		stun.NewTransactionIDSetter(p.tx), stun.BindingRequest,
		stun.NewUsername(a.cfg.Remote.Ufrag + ":" + a.cfg.LocalUfrag),
		rawAttr{stun.AttrPriority, prio[:]}, rawAttr{role, tb[:]},
	}
	if useCand {
		setters = append(setters, rawAttr{stun.AttrUseCandidate, nil})
	}
	setters = append(setters, stun.NewShortTermIntegrity(a.cfg.Remote.Pwd), stun.Fingerprint)
	m, err := stun.Build(setters...)
	if err != nil {
		return
	}
	a.mu.Lock()
	a.checks++
	a.mu.Unlock()
	if err := a.write(m.Raw, p.remote, p.relayed); err != nil {
		a.log.Debug("ice: check not sent", "raddr", p.remote, "relayed", p.relayed, "err", err)
	}
}

// write sends b to to from our direct base or through the relay.
func (a *Agent) write(b []byte, to netip.AddrPort, relayed bool) error {
	if relayed {
		return a.cfg.WriteRelay(b, to)
	}
	return a.cfg.Write(b, to)
}

type rawAttr struct {
	t stun.AttrType
	v []byte
}

func (r rawAttr) AddTo(m *stun.Message) error {
	m.Add(r.t, r.v)
	return nil
}

// handle processes one ICE STUN message on the loop goroutine.
func (a *Agent) handle(b []byte, from netip.AddrPort, relayed bool, now time.Time) {
	m := &stun.Message{Raw: b}
	if err := m.Decode(); err != nil {
		return
	}
	if m.Contains(stun.AttrFingerprint) && stun.Fingerprint.Check(m) != nil {
		return
	}
	switch m.Type.Class {
	case stun.ClassRequest:
		a.onRequest(m, from, relayed, now)
	case stun.ClassSuccessResponse, stun.ClassErrorResponse:
		a.onResponse(m, from, relayed, now)
	}
}

// onRequest answers a peer's check (RFC 8445 §7.3) and triggers ours on
// the same pair.
func (a *Agent) onRequest(m *stun.Message, from netip.AddrPort, relayed bool, now time.Time) {
	if stun.NewShortTermIntegrity(a.cfg.LocalPwd).Check(m) != nil {
		return // RFC 8445 §7.3: 401, or silently dropped; we drop
	}
	if !a.ourFamily(from) {
		return // not from a candidate our base can pair with
	}
	// Role conflict (§7.3.1.1).
	controlling := a.isControlling()
	var theirs uint64
	if v, err := m.Get(stun.AttrICEControlling); err == nil && len(v) == 8 && controlling {
		theirs = binary.BigEndian.Uint64(v)
		if a.tieb >= theirs {
			a.respond(m, from, relayed, 487)
			return
		}
		a.setControlling(false)
	} else if v, err := m.Get(stun.AttrICEControlled); err == nil && len(v) == 8 && !controlling {
		theirs = binary.BigEndian.Uint64(v)
		if a.cfg.Lite {
			// §6.1.1: the full agent facing a lite one controls; its
			// ICE-CONTROLLED is a mistake we cannot fix by switching.
			a.respond(m, from, relayed, 487)
			return
		}
		if a.tieb >= theirs {
			a.setControlling(true)
		} else {
			a.respond(m, from, relayed, 487)
			return
		}
	}
	a.respond(m, from, relayed, 0)
	var rprio uint32
	if v, err := m.Get(stun.AttrPriority); err == nil && len(v) == 4 {
		rprio = binary.BigEndian.Uint32(v)
	}
	p := a.addPair(from, relayed, max(rprio, 1))
	if p == nil {
		return
	}
	if a.cfg.Lite {
		// §7.3.1.5 (lite): the pair is valid as the peer's check arrived;
		// USE-CANDIDATE selects it. No triggered check.
		p.state = succeeded
		if m.Contains(stun.AttrUseCandidate) {
			a.selectPair(p)
		}
		return
	}
	if p.state != succeeded { // not the peer's consent checks every few seconds
		a.peerNew = now
		a.mu.Lock()
		resumed := a.gaveUp && !a.selected.IsValid()
		a.gaveUp = false // the peer checks on: so do we, for GiveUp more
		a.mu.Unlock()
		if resumed {
			a.log.Info("ice: the peer checks again; checks resume", "ice_component", a.cfg.Component, "raddr", from, "relayed", relayed)
		}
		a.log.Debug("ice: check from the peer", "ice_component", a.cfg.Component, "raddr", from, "relayed", relayed, "state", p.state, "use_candidate", m.Contains(stun.AttrUseCandidate))
	}
	if m.Contains(stun.AttrUseCandidate) && !a.isControlling() {
		p.nominated = true
		if p.state == succeeded {
			a.selectPair(p)
			return
		}
	}
	switch p.state {
	case waiting, failed:
		p.state = waiting
		a.triggered = append(a.triggered, p)
	case inProgress:
		// §7.3.1.4: the peer's check shows the path may be open now
		// (its NAT had been dropping ours): retransmit at once instead
		// of after the backed-off timeout.
		p.next = now
		p.tries = min(p.tries, maxTries-2)
	}
}

func (a *Agent) setControlling(c bool) {
	a.mu.Lock()
	a.controlling = c
	a.mu.Unlock()
	a.log.Info("ice: role conflict resolved", "controlling", c)
}

// respond answers request m: success with XOR-MAPPED-ADDRESS, or error
// code, signed with our password.
func (a *Agent) respond(m *stun.Message, from netip.AddrPort, relayed bool, code int) {
	setters := []stun.Setter{stun.NewTransactionIDSetter(m.TransactionID)}
	if code == 0 {
		setters = append(setters, stun.BindingSuccess,
			&stun.XORMappedAddress{IP: from.Addr().AsSlice(), Port: int(from.Port())})
	} else {
		setters = append(setters, stun.NewType(stun.MethodBinding, stun.ClassErrorResponse),
			stun.ErrorCodeAttribute{Code: stun.ErrorCode(code), Reason: []byte("Role Conflict")})
	}
	setters = append(setters, stun.NewShortTermIntegrity(a.cfg.LocalPwd), stun.Fingerprint)
	r, err := stun.Build(setters...)
	if err != nil {
		return
	}
	_ = a.write(r.Raw, from, relayed)
}

// onResponse completes one of our checks (RFC 8445 §7.2.5).
func (a *Agent) onResponse(m *stun.Message, from netip.AddrPort, relayed bool, now time.Time) {
	var p *pair
	for _, q := range a.pairs {
		if q.tx == m.TransactionID {
			p = q
			break
		}
	}
	if p == nil || stun.NewShortTermIntegrity(a.cfg.Remote.Pwd).Check(m) != nil {
		return
	}
	a.forget(p.tx)
	if p.state == inProgress { // not our consent checks' answers
		a.log.Debug("ice: check answered", "ice_component", a.cfg.Component, "raddr", p.remote, "from", from, "class", m.Type.Class, "nominating", p.useCand)
	}
	if from != p.remote || relayed != p.relayed { // §7.2.5.2.1: not symmetric
		p.state = failed
		return
	}
	if m.Type.Class == stun.ClassErrorResponse {
		var ec stun.ErrorCodeAttribute
		if ec.GetFrom(m) == nil && ec.Code == 487 {
			a.setControlling(!a.isControlling())
			p.state = waiting
			a.triggered = append(a.triggered, p)
			return
		}
		p.state = failed
		return
	}
	if p.state != inProgress {
		return // a keepalive's answer
	}
	p.state = succeeded
	var xa stun.XORMappedAddress
	if xa.GetFrom(m) == nil {
		if ip, ok := netip.AddrFromSlice(xa.IP); ok && xa.Port > 0 && xa.Port < 65536 {
			p.mapped = netip.AddrPortFrom(ip.Unmap(), uint16(xa.Port))
		}
	}
	if a.firstValid.IsZero() {
		a.firstValid = now
	}
	if (a.isControlling() && p.useCand) || (!a.isControlling() && p.nominated) {
		a.selectPair(p)
	}
}

func (a *Agent) selectPair(p *pair) {
	a.mu.Lock()
	changed := a.selected != p.remote || a.selRelayed != p.relayed
	a.selected, a.selRelayed, a.selLocal = p.remote, p.relayed, p.mapped
	controlling := a.controlling
	a.mu.Unlock()
	if !changed {
		return
	}
	a.nextKA = time.Now().Add(a.cfg.Keepalive)
	a.log.Info("ice: pair selected", "ice_component", a.cfg.Component, "raddr", p.remote, "relayed", p.relayed, "default", a.cfg.Default, "after", time.Since(a.started).Round(time.Millisecond))
	if a.cfg.OnSelect != nil {
		a.cfg.OnSelect(Selection{Remote: p.remote, Local: p.mapped, Relayed: p.relayed, Controlling: controlling})
	}
}

// NewTiebreaker returns a random non-zero tie-breaker.
func NewTiebreaker() uint64 {
	var tb [8]byte
	_, _ = rand.Read(tb[:])
	return binary.BigEndian.Uint64(tb[:]) | 1
}

// NewCredentials returns a fresh ufrag (8 ice-chars, 48 bits) and
// password (24 ice-chars, 144 bits), beyond RFC 8445 §5.3's minimum of
// 24 and 128 bits.
func NewCredentials() (ufrag, pwd string) {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
	gen := func(n int) string {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		for i := range b {
			b[i] = chars[b[i]&63]
		}
		return string(b)
	}
	return gen(8), gen(24)
}
