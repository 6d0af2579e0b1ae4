package portmgrtest

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v4/vnet"
)

// NATKind names one of the four classic NAT types (RFC 3489 names,
// defined by RFC 4787 mapping and filtering behaviour).
type NATKind int

const (
	// Open is no NAT at all: the host sits on the WAN.
	Open NATKind = iota
	// FullCone is endpoint-independent mapping and filtering.
	FullCone
	// RestrictedCone is endpoint-independent mapping with
	// address-dependent filtering.
	RestrictedCone
	// PortRestrictedCone is endpoint-independent mapping with
	// address-and-port-dependent filtering.
	PortRestrictedCone
	// Symmetric is address-and-port-dependent mapping and filtering.
	Symmetric
)

// NATKinds lists the four NAT types, for matrices.
var NATKinds = []NATKind{FullCone, RestrictedCone, PortRestrictedCone, Symmetric}

func (k NATKind) String() string {
	switch k {
	case Open:
		return "open"
	case FullCone:
		return "full-cone"
	case RestrictedCone:
		return "restricted-cone"
	case PortRestrictedCone:
		return "port-restricted-cone"
	case Symmetric:
		return "symmetric"
	}
	return fmt.Sprintf("natkind(%d)", int(k))
}

// NATType returns the vnet NAT type for k with the mapping lifetime.
func (k NATKind) NATType(lifetime time.Duration) *vnet.NATType {
	t := &vnet.NATType{MappingLifeTime: lifetime}
	switch k {
	case FullCone:
		t.MappingBehavior, t.FilteringBehavior = vnet.EndpointIndependent, vnet.EndpointIndependent
	case RestrictedCone:
		t.MappingBehavior, t.FilteringBehavior = vnet.EndpointIndependent, vnet.EndpointAddrDependent
	case PortRestrictedCone:
		t.MappingBehavior, t.FilteringBehavior = vnet.EndpointIndependent, vnet.EndpointAddrPortDependent
	case Symmetric:
		t.MappingBehavior, t.FilteringBehavior = vnet.EndpointAddrPortDependent, vnet.EndpointAddrPortDependent
	}
	return t
}

// Well-known addresses of a World.
var (
	STUNPrimary   = netip.MustParseAddr("198.51.100.1") // A1
	STUNAlternate = netip.MustParseAddr("198.51.100.2") // A2
	TURNAddr      = netip.MustParseAddr("198.51.100.10")
)

// STUN ports: P1 and P2.
const (
	STUNPort    = 3478
	STUNAltPort = 3479
	TURNPort    = 3478
	TURNRealm   = "deskphone.test"
	TURNUser    = "phone"
	TURNPass    = "secret"
)

// LoggerFactory is a pion logger factory that discards everything.
func LoggerFactory() logging.LoggerFactory {
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	return lf
}

// World is a vnet internet (198.51.100.0/24 and 203.0.113.0/24 on one
// WAN router) with an RFC 5780 STUN server, optionally a TURN server, and
// sites behind NATs. Build it, add sites and hosts, then Start.
type World struct {
	t      testing.TB
	WAN    *vnet.Router
	STUN   *STUNServer
	TURN   *TURNServer
	sites  []*Site
	nextIP int
	once   sync.Once
}

// Site is a LAN behind one NAT (or, for Open, a host on the WAN).
type Site struct {
	Kind NATKind
	// Router is the site's NAT router (nil for Open).
	Router *vnet.Router
	// Net is the phone's network stack at the site.
	Net *vnet.Net
	// Public is the NAT's external IP (the host IP for Open).
	Public netip.Addr
	// LocalIP is the host's IP on the LAN.
	LocalIP netip.Addr

	down    atomic.Bool
	Dropped atomic.Int64

	flushMu sync.Mutex
	flushed bool                   // Flush was called: filter with opened
	opened  map[flushKey]time.Time // since the flush: (local port, remote) -> first packet out
	flushAt time.Time              // when Flush was called

	idleMu   sync.Mutex
	idleLife time.Duration        // ExpireIdle's lifetime; 0: off
	lastOut  map[uint16]time.Time // LAN port -> last packet out
}

// ExpireIdle models a NAT whose bindings expire after lifetime without
// outbound traffic and which re-creates an expired binding on the same
// external port at the next packet out (Linux masquerading does, since it
// keeps the source port when it is free): an inbound packet to a LAN port
// that sent nothing for lifetime is dropped, while the underlying vnet
// NAT (give it a long lifetime) keeps the port. A lifetime probe that
// compares mapped addresses before and after a wait is fooled by it.
func (s *Site) ExpireIdle(lifetime time.Duration) {
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	s.idleLife = lifetime
	if s.lastOut == nil {
		s.lastOut = map[uint16]time.Time{}
	}
}

func (s *Site) idleFilter(c vnet.Chunk) bool {
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	if s.idleLife == 0 {
		return true
	}
	sa, ok1 := c.SourceAddr().(*net.UDPAddr)
	da, ok2 := c.DestinationAddr().(*net.UDPAddr)
	if !ok1 || !ok2 {
		return true
	}
	src, dst := sa.AddrPort().Addr().Unmap(), da.AddrPort().Addr().Unmap()
	switch {
	case src == s.LocalIP && dst != s.LocalIP:
		s.lastOut[sa.AddrPort().Port()] = time.Now()
	case dst == s.LocalIP && src != s.LocalIP:
		at, ok := s.lastOut[da.AddrPort().Port()]
		if !ok || time.Since(at) > s.idleLife {
			s.Dropped.Add(1)
			return false
		}
	}
	return true
}

type flushKey struct {
	local  uint16
	remote netip.AddrPort
}

// Flush models a NAT that lost its connection state but hands out the
// same external ports again (a reboot that keeps ports, `conntrack -F`):
// from now on an inbound packet reaches the LAN only if the LAN host sent
// something from that port to that remote address and port since the
// flush (address-and-port-dependent filtering, as a port-restricted
// cone; the mappings themselves are kept, so STUN sees no change).
func (s *Site) Flush() {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.flushed = true
	s.opened = map[flushKey]time.Time{}
	s.flushAt = time.Now()
}

// ReopenedAfter reports how long after the last Flush the LAN host first
// sent something to remote (from any port), or false if it has not since.
func (s *Site) ReopenedAfter(remote netip.AddrPort) (time.Duration, bool) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	var first time.Time
	for k, at := range s.opened {
		if k.remote == remote && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	if first.IsZero() {
		return 0, false
	}
	return first.Sub(s.flushAt), true
}

// flushFilter passes a chunk unless a Flush closed the filter toward its
// remote end (see Flush). Inbound chunks reach the filter translated to
// the LAN address.
func (s *Site) flushFilter(c vnet.Chunk) bool {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if !s.flushed {
		return true
	}
	sa, ok1 := c.SourceAddr().(*net.UDPAddr)
	da, ok2 := c.DestinationAddr().(*net.UDPAddr)
	if !ok1 || !ok2 {
		return true
	}
	src, dst := sa.AddrPort().Addr().Unmap(), da.AddrPort().Addr().Unmap()
	sp, dp := sa.AddrPort().Port(), da.AddrPort().Port()
	switch {
	case src == s.LocalIP && dst != s.LocalIP:
		k := flushKey{sp, netip.AddrPortFrom(dst, dp)}
		if _, ok := s.opened[k]; !ok {
			s.opened[k] = time.Now()
		}
		return true
	case dst == s.LocalIP && src != s.LocalIP:
		if _, ok := s.opened[flushKey{dp, netip.AddrPortFrom(src, sp)}]; ok {
			return true
		}
		s.Dropped.Add(1)
		return false
	}
	return true
}

// Down makes the site's NAT drop every packet in both directions (an
// outage; with a long enough outage the NAT forgets its bindings, as a
// rebooted NAT would).
func (s *Site) Down(d bool) { s.down.Store(d) }

// NewWorld makes the WAN and the STUN server; withTURN adds a TURN server.
func NewWorld(t testing.TB, withTURN bool) *World {
	t.Helper()
	return NewWorldDelay(t, withTURN, 0)
}

// NewWorldDelay is NewWorld with every packet the WAN router forwards
// held for delay (a round trip through it costs two hops each way when
// both ends sit behind site routers, one when the far end is on the WAN).
func NewWorldDelay(t testing.TB, withTURN bool, delay time.Duration) *World {
	t.Helper()
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "0.0.0.0/0", MinDelay: delay, LoggerFactory: LoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	w := &World{t: t, WAN: wan, nextIP: 1}
	stunNet := w.PublicNet(STUNPrimary.String(), STUNAlternate.String())
	w.STUN = &STUNServer{Net: stunNet}
	if withTURN {
		w.TURN = &TURNServer{Net: w.PublicNet(TURNAddr.String())}
	}
	return w
}

// PublicNet adds a host with the given IPs on the WAN.
func (w *World) PublicNet(ips ...string) *vnet.Net {
	w.t.Helper()
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: ips})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.WAN.AddNet(n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// AddSite adds a LAN behind a NAT of the kind with the mapping lifetime
// (0: vnet's 30 s). Each site gets public IP 203.0.113.N and LAN
// 10.0.N.0/24 with the host at 10.0.N.2.
func (w *World) AddSite(kind NATKind, lifetime time.Duration) *Site {
	w.t.Helper()
	n := w.nextIP
	w.nextIP++
	pub := netip.AddrFrom4([4]byte{203, 0, 113, byte(n)})
	s := &Site{Kind: kind, Public: pub}
	if kind == Open {
		s.Net = w.PublicNet(pub.String())
		s.LocalIP = pub
		w.sites = append(w.sites, s)
		return s
	}
	if lifetime == 0 {
		lifetime = 30 * time.Second
	}
	r, err := vnet.NewRouter(&vnet.RouterConfig{
		CIDR:          fmt.Sprintf("10.0.%d.0/24", n),
		StaticIPs:     []string{pub.String()},
		NATType:       kind.NATType(lifetime),
		LoggerFactory: LoggerFactory(),
	})
	if err != nil {
		w.t.Fatal(err)
	}
	r.AddChunkFilter(func(vnet.Chunk) bool {
		if s.down.Load() {
			s.Dropped.Add(1)
			return false
		}
		return true
	})
	r.AddChunkFilter(s.flushFilter)
	r.AddChunkFilter(s.idleFilter)
	if err := w.WAN.AddRouter(r); err != nil {
		w.t.Fatal(err)
	}
	s.LocalIP = netip.AddrFrom4([4]byte{10, 0, byte(n), 2})
	s.Net, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{s.LocalIP.String()}})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := r.AddNet(s.Net); err != nil {
		w.t.Fatal(err)
	}
	s.Router = r
	w.sites = append(w.sites, s)
	return s
}

// Start starts the routers and servers. Close (registered with
// t.Cleanup) stops them.
func (w *World) Start() {
	w.t.Helper()
	if err := w.WAN.Start(); err != nil {
		w.t.Fatal(err)
	}
	if err := w.STUN.Start(); err != nil {
		w.t.Fatal(err)
	}
	if w.TURN != nil {
		if err := w.TURN.Start(); err != nil {
			w.t.Fatal(err)
		}
	}
	w.t.Cleanup(w.Close)
}

// Close stops everything; it is idempotent.
func (w *World) Close() {
	w.once.Do(func() {
		if w.TURN != nil {
			w.TURN.Close()
		}
		w.STUN.Close()
		_ = w.WAN.Stop()
	})
}

// STUNServers returns the primary STUN server address.
func (w *World) STUNServer() netip.AddrPort { return netip.AddrPortFrom(STUNPrimary, STUNPort) }

// TURNServer returns the TURN server address.
func (w *World) TURNServerAddr() netip.AddrPort { return netip.AddrPortFrom(TURNAddr, TURNPort) }

func udpAddr(ap netip.AddrPort) *net.UDPAddr {
	return &net.UDPAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}
}

type vnetNet = vnet.Net

func newNet(ips ...string) (*vnet.Net, error) { return vnet.NewNet(&vnet.NetConfig{StaticIPs: ips}) }

// GatewayIP is the site's router LAN address, 10.0.N.1.
func (s *Site) GatewayIP() netip.Addr {
	b := s.LocalIP.As4()
	b[3] = 1
	return netip.AddrFrom4(b)
}
