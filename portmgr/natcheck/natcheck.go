package natcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/deskphone/phone/portmgr/internal/stunc"
	"github.com/pion/stun/v3"
	"github.com/pion/transport/v4"
)

// Behavior is a NAT mapping or filtering behaviour (RFC 4787 §4.1, §5).
type Behavior int

const (
	// Unknown: the test could not be run (no OTHER-ADDRESS, no server).
	Unknown Behavior = iota
	// EndpointIndependent: the same for every remote endpoint.
	EndpointIndependent
	// AddressDependent: depends on the remote IP.
	AddressDependent
	// AddressAndPortDependent: depends on the remote IP and port.
	AddressAndPortDependent
)

func (b Behavior) String() string {
	switch b {
	case EndpointIndependent:
		return "endpoint-independent"
	case AddressDependent:
		return "address-dependent"
	case AddressAndPortDependent:
		return "address-and-port-dependent"
	}
	return "unknown"
}

// MarshalText makes a Behavior print as its name in JSON.
func (b Behavior) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// ErrNoServer means no STUN server answered the first Binding request
// (RFC 5780 §4.2: no UDP connectivity to it).
var ErrNoServer = errors.New("natcheck: STUN server did not answer")

// Result is what discovery found.
type Result struct {
	// Mapped is the XOR-MAPPED-ADDRESS of test I.
	Mapped netip.AddrPort
	// NATed is false when the mapped address equals the local one.
	NATed bool
	// Mapping and Filtering are the RFC 5780 classifications.
	Mapping, Filtering Behavior
	// Hairpinning is true when a packet to our own mapped address came back in.
	Hairpinning bool
	// ALG is true when MAPPED-ADDRESS differed from XOR-MAPPED-ADDRESS
	// (a middlebox rewrote the payload, RFC 5780 §3.6).
	ALG bool
	// Other is the server's OTHER-ADDRESS (zero: the server lacks the
	// discovery usage, and Mapping/Filtering stay Unknown).
	Other netip.AddrPort
	// RTT is test I's round trip; Elapsed is how long the run took.
	RTT, Elapsed time.Duration
}

// Type names the NAT in the classic terms: "open", "full-cone",
// "restricted-cone", "port-restricted-cone", "symmetric" (any
// endpoint-dependent mapping) or "unknown".
func (r *Result) Type() string {
	switch {
	case r == nil:
		return "unknown"
	case !r.NATed && r.Mapped.IsValid():
		return "open"
	case r.Mapping == AddressDependent || r.Mapping == AddressAndPortDependent:
		return "symmetric"
	case r.Mapping != EndpointIndependent:
		return "unknown"
	case r.Filtering == EndpointIndependent:
		return "full-cone"
	case r.Filtering == AddressDependent:
		return "restricted-cone"
	case r.Filtering == AddressAndPortDependent:
		return "port-restricted-cone"
	}
	return "unknown"
}

// Config configures a discovery run.
type Config struct {
	// Net opens the test sockets. Required.
	Net transport.Net
	// Local is the IP to bind (zero: unspecified).
	Local netip.Addr
	// Listen, when set, opens each test socket instead of Net (with
	// Local, any port): the port manager binds them inside its port
	// ranges, as every UDP socket of the phone must be. Run opens up to
	// three sockets, Lifetime one per probe, all at once.
	Listen func() (net.PacketConn, error)
	// Server is the STUN server's primary address A1:P1. Required.
	Server netip.AddrPort
	// RTO, Rc, Rm: STUN retransmission of test I (RFC 8489 §6.2.1;
	// defaults 500 ms, 7, 16). The other tests derive their timers from
	// test I's round trip.
	RTO    time.Duration
	Rc, Rm int
	// QuietMin and QuietMax bound how long a test that may legitimately
	// get no answer (filtering tests II and III, hairpinning) waits for
	// one: QuietRTTs round trips of test I, at least QuietMin (default
	// DefaultQuietMin) and at most QuietMax (default DefaultQuietMax).
	QuietMin, QuietMax time.Duration
	// Logger receives debug logs; nil discards.
	Logger *slog.Logger
}

// Timers of the tests after test I.
const (
	// DefaultQuietMin is the shortest wait for an answer that may not come.
	DefaultQuietMin = 300 * time.Millisecond
	// DefaultQuietMax is the longest.
	DefaultQuietMax = 2 * time.Second
	// QuietRTTs is how many of test I's round trips such a wait lasts.
	QuietRTTs = 4
)

// quiet is how long a test that may get no answer waits, from test I's
// round trip.
func (cfg *Config) quiet(rtt time.Duration) time.Duration {
	lo, hi := cfg.QuietMin, cfg.QuietMax
	if lo <= 0 {
		lo = DefaultQuietMin
	}
	if hi <= 0 {
		hi = DefaultQuietMax
	}
	return min(max(QuietRTTs*rtt, lo), max(hi, lo))
}

// probe is one test socket with its own STUN client.
type probe struct {
	c    net.PacketConn
	cl   *stunc.Client
	wg   sync.WaitGroup
	reqs chan [stun.TransactionIDSize]byte // Binding requests received (hairpin)

	mu    sync.Mutex                                          // guards stray
	stray map[[stun.TransactionIDSize]byte]chan *stun.Message // expected responses to requests sent elsewhere
}

// expect returns a channel that gets the STUN response with transaction
// id if it arrives on this socket (sent from another one, RESPONSE-PORT),
// and a function that stops expecting it.
func (p *probe) expect(id [stun.TransactionIDSize]byte) (<-chan *stun.Message, func()) {
	ch := make(chan *stun.Message, 1)
	p.mu.Lock()
	if p.stray == nil {
		p.stray = map[[stun.TransactionIDSize]byte]chan *stun.Message{}
	}
	p.stray[id] = ch
	p.mu.Unlock()
	return ch, func() {
		p.mu.Lock()
		delete(p.stray, id)
		p.mu.Unlock()
	}
}

// deliver hands a response no transaction of this socket's client
// claimed to whoever expects it; it reports whether someone did.
func (p *probe) deliver(m *stun.Message) bool {
	if m.Type.Class != stun.ClassSuccessResponse && m.Type.Class != stun.ClassErrorResponse {
		return false
	}
	p.mu.Lock()
	ch, ok := p.stray[m.TransactionID]
	delete(p.stray, m.TransactionID)
	p.mu.Unlock()
	if ok {
		ch <- m
	}
	return ok
}

func (cfg *Config) listen() (net.PacketConn, error) {
	if cfg.Listen != nil {
		return cfg.Listen()
	}
	bind := "0.0.0.0:0"
	if cfg.Local.IsValid() {
		bind = netip.AddrPortFrom(cfg.Local, 0).String()
	}
	return cfg.Net.ListenPacket("udp4", bind)
}

func (cfg *Config) open() (*probe, error) {
	c, err := cfg.listen()
	if err != nil {
		return nil, fmt.Errorf("natcheck: listen: %w", err)
	}
	p := &probe{c: c, reqs: make(chan [stun.TransactionIDSize]byte, 8)}
	p.cl = &stunc.Client{RTO: cfg.RTO, Rc: cfg.Rc, Rm: cfg.Rm, Write: func(b []byte, to netip.AddrPort) error {
		_, err := c.WriteTo(b, net.UDPAddrFromAddrPort(to))
		return err
	}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				if n == 0 {
					return
				}
				continue
			}
			b := buf[:n]
			if p.cl.Handle(b, stunc.ToAddrPort(from)) {
				continue
			}
			m := &stun.Message{Raw: append([]byte(nil), b...)}
			if !stun.IsMessage(b) || m.Decode() != nil || p.deliver(m) {
				continue
			}
			if m.Type == stun.BindingRequest {
				select {
				case p.reqs <- m.TransactionID:
				default: // a flood: the hairpin test has what it needs
				}
			}
		}
	}()
	return p, nil
}

func (p *probe) close() {
	_ = p.c.Close()
	p.wg.Wait()
}

func (p *probe) local() netip.AddrPort { return stunc.ToAddrPort(p.c.LocalAddr()) }

// Run performs the RFC 5780 tests. Test I (§4.2) comes first, from the
// filtering socket; its round trip sets the timers of the rest, which run
// at once, side by side:
//
//	filtering socket F (talks to A1:P1 only)   mapping socket M
//	  test I      -> A1:P1                       test I  -> A1:P1
//	  test II     -> A1:P1, change IP and port   test II -> A2:P1
//	  test III    -> A1:P1, change port          test III -> A2:P2 (if II differed)
//	hairpin socket H: Binding request to F's mapped address
//
// The filtering tests (§4.4) need a binding that has sent to A1:P1 only:
// a packet to A2 would open an address-dependent filter to A2:P2's answer
// and make a restricted cone look full. So the mapping tests (§4.3) run
// from a second socket M; they compare M's own mapped addresses. Tests
// that may rightly get no answer (filtering II and III, hairpinning §3.4)
// wait QuietRTTs round trips of test I (bounded by QuietMin and QuietMax)
// with retransmissions inside that window, not the 39.5 s RFC 8489
// schedule: behind a port-restricted NAT the report is ready a few
// hundred milliseconds after test I.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Net == nil || !cfg.Server.IsValid() {
		return nil, errors.New("natcheck: Net and Server are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	p, err := cfg.open()
	if err != nil {
		return nil, err
	}
	defer p.close()

	// Test I.
	r1, err := p.cl.Binding(ctx, stunc.Request{To: cfg.Server})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoServer, cfg.Server, err)
	}
	res := &Result{Mapped: r1.Mapped, Other: r1.Other, RTT: r1.RTT}
	res.ALG = r1.PlainMapped.IsValid() && r1.PlainMapped != r1.Mapped
	loc := p.local()
	res.NATed = r1.Mapped != loc
	if loc.Addr().IsUnspecified() && r1.Mapped.Port() == loc.Port() {
		res.NATed = !HasIP(cfg.Net, r1.Mapped.Addr())
	}
	if !r1.Other.IsValid() || r1.Other.Addr() == cfg.Server.Addr() {
		log.Debug("server lacks OTHER-ADDRESS; behaviour unknown", "server", cfg.Server)
		res.Elapsed = time.Since(start)
		return res, nil
	}
	quiet := cfg.quiet(r1.RTT)
	// Answers that should come: retransmit on twice the round trip.
	sure := stunc.Request{RTO: min(max(2*r1.RTT, 100*time.Millisecond), stunc.DefaultRTO), Tries: 4, Rm: 4}
	// Answers that may not come: three requests inside the quiet window.
	maybe := stunc.Request{RTO: quiet / 4, Within: quiet}

	var wg sync.WaitGroup
	var errII, errIII, errMap error
	if !res.NATed {
		res.Mapping, res.Filtering = EndpointIndependent, EndpointIndependent
	} else {
		wg.Go(func() { // filtering test II: change IP and port => from A2:P2
			rq := maybe
			rq.To, rq.Change = cfg.Server, stunc.ChangeIP|stunc.ChangePort
			rq.Accept = func(from netip.AddrPort) bool { return from == r1.Other }
			_, errII = p.cl.Binding(ctx, rq)
		})
		wg.Go(func() { // filtering test III: change port only => from A1:P2
			rq := maybe
			want := netip.AddrPortFrom(cfg.Server.Addr(), r1.Other.Port())
			rq.To, rq.Change = cfg.Server, stunc.ChangePort
			rq.Accept = func(from netip.AddrPort) bool { return from == want }
			_, errIII = p.cl.Binding(ctx, rq)
		})
		wg.Go(func() { res.Mapping, errMap = mappingTests(ctx, &cfg, sure, r1.Other) })
	}
	var hairpinning bool
	wg.Go(func() {
		h, err := cfg.open()
		if err != nil {
			return
		}
		defer h.close()
		hairpinning = hairpin(ctx, p, h, res.Mapped, quiet)
	})
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Hairpinning = hairpinning
	if res.NATed {
		switch {
		case errII == nil:
			res.Filtering = EndpointIndependent
		case errIII == nil:
			res.Filtering = AddressDependent
		case errors.Is(errII, stunc.ErrTimeout) && errors.Is(errIII, stunc.ErrTimeout):
			res.Filtering = AddressAndPortDependent
		default:
			// An error answer (a server refusing CHANGE-REQUEST) says
			// nothing about the NAT.
			log.Debug("filtering unknown", "test2", errII, "test3", errIII)
		}
	}
	res.Elapsed = time.Since(start)
	log.Debug("nat behaviour", "type", res.Type(), "mapping", res.Mapping, "filtering", res.Filtering,
		"mapped", res.Mapped, "hairpin", res.Hairpinning, "rtt", res.RTT, "took", res.Elapsed)
	if errMap != nil {
		return res, errMap
	}
	return res, nil
}

// mappingTests runs RFC 5780 §4.3 tests I, II and III from a fresh socket
// of its own.
func mappingTests(ctx context.Context, cfg *Config, sure stunc.Request, other netip.AddrPort) (Behavior, error) {
	q, err := cfg.open()
	if err != nil {
		return Unknown, err
	}
	defer q.close()
	ask := func(to netip.AddrPort) (netip.AddrPort, error) {
		rq := sure
		rq.To = to
		r, err := q.cl.Binding(ctx, rq)
		if err != nil {
			return netip.AddrPort{}, err
		}
		return r.Mapped, nil
	}
	m1, err := ask(cfg.Server)
	if err != nil {
		return Unknown, fmt.Errorf("natcheck: mapping test I: %w", err)
	}
	m2, err := ask(netip.AddrPortFrom(other.Addr(), cfg.Server.Port()))
	if err != nil {
		return Unknown, fmt.Errorf("natcheck: mapping test II: %w", err)
	}
	if m2 == m1 {
		return EndpointIndependent, nil
	}
	m3, err := ask(other)
	if err != nil {
		return Unknown, fmt.Errorf("natcheck: mapping test III: %w", err)
	}
	if m3 == m2 {
		return AddressDependent, nil
	}
	return AddressAndPortDependent, nil
}

// hairpin sends Binding requests from h to p's mapped address (three
// inside the quiet window) and reports whether p received one.
func hairpin(ctx context.Context, p, h *probe, mapped netip.AddrPort, quiet time.Duration) bool {
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return false
	}
	end := time.NewTimer(quiet)
	defer end.Stop()
	resend := time.NewTimer(0)
	defer resend.Stop()
	gap := quiet / 4
	for {
		select {
		case id := <-p.reqs:
			if id == req.TransactionID {
				return true
			}
		case <-resend.C:
			_, _ = h.c.WriteTo(req.Raw, net.UDPAddrFromAddrPort(mapped))
			resend.Reset(gap)
			gap *= 2
		case <-end.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// DefaultProbes are the idle times Lifetime tries.
var DefaultProbes = []time.Duration{15 * time.Second, 25 * time.Second, 45 * time.Second,
	90 * time.Second, 180 * time.Second, 300 * time.Second}

// LifetimeSockets is how many sockets Lifetime opens for n probes: one
// per probe and one that asks the server about the others' bindings.
func LifetimeSockets(n int) int { return n + 1 }

// Lifetime measures the NAT binding lifetime the RFC 5780 §4.6 way. For
// each probe time T, in parallel, a fresh socket X makes a binding with a
// Binding request to the server and then stays silent for T. After T,
// another socket Y (one for all probes) sends the server a Binding
// request with RESPONSE-PORT set to X's mapped port (RFC 5780 §7.5): the
// server answers to that port on the NAT's public IP, from the address X
// talked to. If X receives it, X's binding survived T: nothing was sent
// from X after the wait, so a NAT that re-creates an expired binding on
// the same port at the next packet out cannot pass for a live one (the
// old probe asked again from X and compared the mapped addresses, and
// such a NAT fooled it). If the answer reaches Y instead, the NAT gave
// X's expired port to Y: expired too. A server that refuses RESPONSE-PORT
// (420, RFC 8489 §14) makes the probe fall back to comparing the mapped
// addresses, which Lifetime then reports with viaResponsePort false.
//
// It returns the longest T that survived (a lower bound on the lifetime;
// 0 when none did) and whether some longer T failed (bounded).
func Lifetime(ctx context.Context, cfg Config, probes []time.Duration) (lifetime time.Duration, bounded bool, err error) {
	lifetime, bounded, _, err = LifetimeRFC5780(ctx, cfg, probes)
	return lifetime, bounded, err
}

// LifetimeRFC5780 is Lifetime; it also says whether every probe was
// answered through RESPONSE-PORT (false: the server refused it and the
// result may be too long behind a NAT that re-creates bindings on the
// same port).
func LifetimeRFC5780(ctx context.Context, cfg Config, probes []time.Duration) (lifetime time.Duration, bounded, viaResponsePort bool, err error) {
	if len(probes) == 0 {
		probes = DefaultProbes
	}
	probes = append([]time.Duration(nil), probes...)
	sort.Slice(probes, func(i, j int) bool { return probes[i] < probes[j] })
	y, err := cfg.open()
	if err != nil {
		return 0, false, false, err
	}
	defer y.close()
	type result struct {
		i            int
		alive, rport bool
		err          error
	}
	// Once a probe finds its binding expired and every shorter one has
	// finished, the longer ones cannot change the answer: they stop, so
	// behind a 30 s NAT the answer comes after 45 s, not 300.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan result, len(probes))
	var wg sync.WaitGroup
	for i, T := range probes {
		wg.Go(func() {
			r := result{i: i}
			r.alive, r.rport, r.err = lifetimeProbe(pctx, &cfg, T, y)
			results <- r
		})
	}
	defer wg.Wait()
	got := make([]*result, len(probes))
	// final: all results are in, or some probe found its binding expired
	// and every shorter one is in.
	final := func() bool {
		for _, r := range got {
			if r == nil {
				return false
			}
			if r.err == nil && !r.alive {
				return true
			}
		}
		return true
	}
	for range probes {
		r := <-results
		got[r.i] = &r
		if final() {
			break
		}
	}
	cancel()
	if err := ctx.Err(); err != nil {
		return 0, false, false, err
	}
	var errs []error
	viaResponsePort = true
	for _, r := range got {
		if r == nil {
			break // after the first expired one
		}
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		viaResponsePort = viaResponsePort && r.rport
		if r.alive {
			lifetime = probes[r.i]
		} else {
			bounded = true
			break
		}
	}
	if lifetime == 0 && !bounded {
		return 0, false, false, errors.Join(errs...)
	}
	return lifetime, bounded, viaResponsePort, nil
}

// lifetimeProbe is one probe of Lifetime: X binds, waits idle, and y asks
// the server to answer to X's mapped port.
func lifetimeProbe(ctx context.Context, cfg *Config, idle time.Duration, y *probe) (alive, viaResponsePort bool, err error) {
	x, err := cfg.open()
	if err != nil {
		return false, false, err
	}
	defer x.close()
	r1, err := x.cl.Binding(ctx, stunc.Request{To: cfg.Server})
	if err != nil {
		return false, false, err
	}
	t := time.NewTimer(idle)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return false, false, ctx.Err()
	}
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stunc.ResponsePort(r1.Mapped.Port()), stun.Fingerprint)
	if err != nil {
		return false, false, err
	}
	onX, stopX := x.expect(req.TransactionID)
	defer stopX()
	onY, stopY := y.expect(req.TransactionID)
	defer stopY()
	// Three requests inside the quiet window, as for the other tests that
	// may rightly get no answer.
	quiet := cfg.quiet(r1.RTT)
	end := time.NewTimer(quiet)
	defer end.Stop()
	resend := time.NewTimer(0)
	defer resend.Stop()
	gap := quiet / 4
	for {
		select {
		case m := <-onX:
			return m.Type.Class == stun.ClassSuccessResponse, true, nil
		case m := <-onY:
			if m.Type.Class == stun.ClassSuccessResponse {
				return false, true, nil // X's port now belongs to Y's binding
			}
			// No RESPONSE-PORT at this server: ask again from X and
			// compare (fooled by a NAT that reuses the port).
			r2, err := x.cl.Binding(ctx, stunc.Request{To: cfg.Server})
			if err != nil {
				return false, false, err
			}
			return r2.Mapped == r1.Mapped, false, nil
		case <-resend.C:
			_, _ = y.c.WriteTo(req.Raw, net.UDPAddrFromAddrPort(cfg.Server))
			resend.Reset(gap)
			gap *= 2
		case <-end.C:
			return false, true, nil
		case <-ctx.Done():
			return false, false, ctx.Err()
		}
	}
}

// HasIP reports whether one of the Net's interfaces has ip.
func HasIP(n transport.Net, ip netip.Addr) bool {
	ifs, err := n.Interfaces()
	if err != nil {
		return false
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if pfx, err := netip.ParsePrefix(a.String()); err == nil && pfx.Addr().Unmap() == ip {
				return true
			}
			if x, err := netip.ParseAddr(a.String()); err == nil && x.Unmap() == ip {
				return true
			}
		}
	}
	return false
}
