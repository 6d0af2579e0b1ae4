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
	// Server is the STUN server's primary address A1:P1. Required.
	Server netip.AddrPort
	// RTO, Rc: STUN retransmission (RFC 8489 §6.2.1; defaults 500 ms, 7).
	RTO time.Duration
	Rc  int
	// Logger receives debug logs; nil discards.
	Logger *slog.Logger
}

// probe is one test socket with its own STUN client.
type probe struct {
	c    net.PacketConn
	cl   *stunc.Client
	wg   sync.WaitGroup
	mu   sync.Mutex
	reqs map[[stun.TransactionIDSize]byte]bool // Binding requests seen (hairpin)
}

func (cfg *Config) open() (*probe, error) {
	bind := "0.0.0.0:0"
	if cfg.Local.IsValid() {
		bind = netip.AddrPortFrom(cfg.Local, 0).String()
	}
	c, err := cfg.Net.ListenPacket("udp4", bind)
	if err != nil {
		return nil, fmt.Errorf("natcheck: listen: %w", err)
	}
	p := &probe{c: c, reqs: map[[stun.TransactionIDSize]byte]bool{}}
	p.cl = &stunc.Client{RTO: cfg.RTO, Rc: cfg.Rc, Write: func(b []byte, to netip.AddrPort) error {
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
			if stun.IsMessage(b) && m.Decode() == nil && m.Type == stun.BindingRequest {
				p.mu.Lock()
				p.reqs[m.TransactionID] = true
				p.mu.Unlock()
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

// Run performs the RFC 5780 tests: the filtering tests first (§4.4, they
// need a binding that has talked to A1:P1 only), then the mapping tests
// (§4.3), then hairpinning (§3.4).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Net == nil || !cfg.Server.IsValid() {
		return nil, errors.New("natcheck: Net and Server are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
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
	res := &Result{Mapped: r1.Mapped, Other: r1.Other}
	res.ALG = r1.PlainMapped.IsValid() && r1.PlainMapped != r1.Mapped
	loc := p.local()
	res.NATed = r1.Mapped != loc
	if loc.Addr().IsUnspecified() && r1.Mapped.Port() == loc.Port() {
		res.NATed = !hasIP(cfg.Net, r1.Mapped.Addr())
	}
	if !r1.Other.IsValid() || r1.Other.Addr() == cfg.Server.Addr() {
		log.Debug("server lacks OTHER-ADDRESS; behaviour unknown", "server", cfg.Server)
		return res, nil
	}
	a2 := r1.Other.Addr()
	p2 := r1.Other.Port()

	if !res.NATed {
		res.Mapping, res.Filtering = EndpointIndependent, EndpointIndependent
	} else {
		// Filtering test II: change IP and port => response from A2:P2.
		few := 3
		_, err := p.cl.Binding(ctx, stunc.Request{To: cfg.Server, Change: stunc.ChangeIP | stunc.ChangePort, Tries: few, Rm: 4,
			Accept: func(from netip.AddrPort) bool { return from == r1.Other }})
		switch {
		case err == nil:
			res.Filtering = EndpointIndependent
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			// Filtering test III: change port only => from A1:P2.
			want := netip.AddrPortFrom(cfg.Server.Addr(), p2)
			_, err := p.cl.Binding(ctx, stunc.Request{To: cfg.Server, Change: stunc.ChangePort, Tries: few, Rm: 4,
				Accept: func(from netip.AddrPort) bool { return from == want }})
			switch {
			case err == nil:
				res.Filtering = AddressDependent
			case ctx.Err() != nil:
				return nil, ctx.Err()
			default:
				res.Filtering = AddressAndPortDependent
			}
		}

		// Mapping test II: to A2:P1.
		r2, err := p.cl.Binding(ctx, stunc.Request{To: netip.AddrPortFrom(a2, cfg.Server.Port())})
		if err != nil {
			return res, fmt.Errorf("natcheck: mapping test II: %w", err)
		}
		if r2.Mapped == r1.Mapped {
			res.Mapping = EndpointIndependent
		} else {
			// Mapping test III: to A2:P2.
			r3, err := p.cl.Binding(ctx, stunc.Request{To: r1.Other})
			if err != nil {
				return res, fmt.Errorf("natcheck: mapping test III: %w", err)
			}
			if r3.Mapped == r2.Mapped {
				res.Mapping = AddressDependent
			} else {
				res.Mapping = AddressAndPortDependent
			}
		}
	}

	// Hairpinning (§3.4): from a second socket to our own mapped address.
	h, err := cfg.open()
	if err == nil {
		res.Hairpinning = hairpin(ctx, p, h, res.Mapped)
		h.close()
	}
	log.Debug("nat behaviour", "type", res.Type(), "mapping", res.Mapping, "filtering", res.Filtering,
		"mapped", res.Mapped, "hairpin", res.Hairpinning)
	return res, nil
}

func hairpin(ctx context.Context, p, h *probe, mapped netip.AddrPort) bool {
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return false
	}
	rto := p.cl.RTO
	if rto <= 0 {
		rto = stunc.DefaultRTO
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for i := 0; i < 3; i++ {
		<-t.C
		p.mu.Lock()
		got := p.reqs[req.TransactionID]
		p.mu.Unlock()
		if got {
			return true
		}
		_, _ = h.c.WriteTo(req.Raw, net.UDPAddrFromAddrPort(mapped))
		t.Reset(rto)
		if ctx.Err() != nil {
			return false
		}
	}
	<-t.C
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reqs[req.TransactionID]
}

// DefaultProbes are the idle times Lifetime tries.
var DefaultProbes = []time.Duration{15 * time.Second, 25 * time.Second, 45 * time.Second,
	90 * time.Second, 180 * time.Second, 300 * time.Second}

// Lifetime estimates the NAT binding lifetime (RFC 5780 §4.6, simplified
// so that it needs no RESPONSE-PORT support): for each probe time T, in
// parallel, a fresh socket makes a binding, stays silent for T, then asks
// again; the binding survived when the mapped address is unchanged. It
// returns the longest T that survived (a lower bound on the lifetime; 0
// when none did) and whether some longer T failed (bounded).
func Lifetime(ctx context.Context, cfg Config, probes []time.Duration) (lifetime time.Duration, bounded bool, err error) {
	if len(probes) == 0 {
		probes = DefaultProbes
	}
	probes = append([]time.Duration(nil), probes...)
	sort.Slice(probes, func(i, j int) bool { return probes[i] < probes[j] })
	alive := make([]bool, len(probes))
	errs := make([]error, len(probes))
	var wg sync.WaitGroup
	for i, T := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			alive[i], errs[i] = lifetimeProbe(ctx, cfg, T)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	for i := range probes {
		if errs[i] != nil {
			continue
		}
		if alive[i] {
			lifetime = probes[i]
		} else {
			bounded = true
			break
		}
	}
	if lifetime == 0 && !bounded {
		return 0, false, errors.Join(errs...)
	}
	return lifetime, bounded, nil
}

func lifetimeProbe(ctx context.Context, cfg Config, idle time.Duration) (bool, error) {
	p, err := cfg.open()
	if err != nil {
		return false, err
	}
	defer p.close()
	r1, err := p.cl.Binding(ctx, stunc.Request{To: cfg.Server})
	if err != nil {
		return false, err
	}
	t := time.NewTimer(idle)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return false, ctx.Err()
	}
	r2, err := p.cl.Binding(ctx, stunc.Request{To: cfg.Server})
	if err != nil {
		return false, err
	}
	return r2.Mapped == r1.Mapped, nil
}

// hasIP reports whether one of the Net's interfaces has ip.
func hasIP(n transport.Net, ip netip.Addr) bool {
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
