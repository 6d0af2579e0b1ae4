package portmgr

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/deskphone/phone/portmgr/gateway"
)

// Kind is what a mapping is for.
type Kind int

const (
	// KindSIP is the SIP signalling flow (RTC's profile scope: REGISTER,
	// SUBSCRIBE and every dialog share it).
	KindSIP Kind = iota
	// KindMedia is one call's RTP (and RTCP) flow (RTC's session scope).
	KindMedia
)

func (k Kind) String() string {
	switch k {
	case KindSIP:
		return "sip"
	case KindMedia:
		return "media"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Transport is the transport protocol of a mapping.
type Transport int

const (
	UDP Transport = iota
	TCP
	TLS
)

func (t Transport) String() string {
	switch t {
	case UDP:
		return "udp"
	case TCP:
		return "tcp"
	case TLS:
		return "tls"
	}
	return fmt.Sprintf("transport(%d)", int(t))
}

// Strategy names how a mapping's external address was found.
type Strategy string

const (
	StrategyLocal   Strategy = "local"   // no NAT help: external = local
	StrategyStatic  Strategy = "static"  // configured public address
	StrategySTUN    Strategy = "stun"    // learnt with a STUN binding request
	StrategyGateway Strategy = "gateway" // UPnP IGD / NAT-PMP / PCP port mapping
	StrategyTURN    Strategy = "turn"    // relayed through a TURN server
	StrategyRport   Strategy = "rport"   // learnt from the registrar's received/rport
)

// Mapping is one socket (or RTP/RTCP pair) handed out by a Mapper.
// Users read it; only its owner changes it, under a lock, so read the
// addresses through the methods (Addrs reads them all at once). A
// Manager's mappings are owned by the Manager; NewMapping makes one that
// another Mapper (a fake in tests) owns.
type Mapping struct {
	Kind      Kind
	Transport Transport

	// Conn is the socket to send and receive on (RTP for media). STUN
	// messages have been removed from what it reads.
	Conn net.PacketConn
	// RTCPConn is the RTCP socket (port+1), nil with rtcp-mux.
	RTCPConn net.PacketConn

	m    *Manager   // nil for a mapping made by NewMapping
	own  sync.Mutex // guards the addresses when m is nil
	rtp  *sock      // the SIP or RTP socket
	rtcp *sock      // the RTCP socket (media only)
	// learnt is closed when the first strategy run has finished.
	learnt    chan struct{}
	learnOnce sync.Once
	slot      int        // index in the range bitmap
	relayMu   sync.Mutex // serialises allocations on the sockets (relay.go)

	rxFrom    atomic.Pointer[netip.AddrPort] // last source seen (early UDP stop)
	rxAny     atomic.Bool                    // any non-keepalive datagram seen since early UDP began
	kaStarted atomic.Bool                    // the keepalive job is scheduled
	flowDown  atomic.Bool                    // the last SIP keepalive check went unanswered

	stunHook atomic.Pointer[func(b []byte, from netip.AddrPort, rtcp, relayed bool) bool] // ice.go

	// The following are guarded by m.mu (by own when m is nil).
	local      netip.AddrPort
	external   netip.AddrPort
	extRTCP    netip.AddrPort
	remote     netip.AddrPort
	via        Strategy
	released   bool
	pooled     bool
	stunMapped netip.AddrPort  // last STUN-learnt mapping of the main socket
	rport      netip.AddrPort  // last received/rport the registrar reported
	leases     []gateway.Lease // gateway leases held for this mapping
	pingJob    *job            // the SIP flow's CRLF ping (keepalive.go), nil without one
	early      context.CancelFunc
}

// Addrs is a snapshot of a mapping's addresses, read together.
type Addrs struct {
	// Local is the address the socket is bound to.
	Local netip.AddrPort
	// External and ExternalRTCP are the addresses to advertise (Via,
	// Contact, SDP c=/m= and a=rtcp); ExternalRTCP is zero with rtcp-mux.
	External, ExternalRTCP netip.AddrPort
	// Remote is the far end last given to Map or UpdateRemote.
	Remote netip.AddrPort
	// Via is the strategy that produced External.
	Via Strategy
}

// NewMapping returns a mapping that no Manager owns, for other Mapper
// implementations (fakes in tests of the port manager's users): conn and
// rtcp are its sockets (rtcp nil with rtcp-mux, both nil for a stream
// transport), a its addresses until SetAddrs changes them.
func NewMapping(kind Kind, tr Transport, conn, rtcp net.PacketConn, a Addrs) *Mapping {
	mp := &Mapping{Kind: kind, Transport: tr, Conn: conn, RTCPConn: rtcp, learnt: make(chan struct{})}
	mp.markLearnt()
	mp.setAddrsLocked(a)
	return mp
}

// SetAddrs replaces the addresses of a mapping made by NewMapping (a fake
// NAT reboot, a fake relay). A Manager's mappings change only inside the
// Manager: for those it returns ErrManaged.
func (mp *Mapping) SetAddrs(a Addrs) error {
	if mp.m != nil {
		return ErrManaged
	}
	mp.own.Lock()
	defer mp.own.Unlock()
	mp.setAddrsLocked(a)
	return nil
}

func (mp *Mapping) setAddrsLocked(a Addrs) {
	mp.local, mp.external, mp.extRTCP, mp.remote, mp.via = a.Local, a.External, a.ExternalRTCP, a.Remote, a.Via
}

// lock takes the lock that guards the addresses (the owning Manager's)
// and returns its unlock.
func (mp *Mapping) lock() func() {
	mu := &mp.own
	if mp.m != nil {
		mu = &mp.m.mu
	}
	mu.Lock()
	return mu.Unlock
}

func (mp *Mapping) markLearnt() { mp.learnOnce.Do(func() { close(mp.learnt) }) }

// noteRx records the source of a datagram read off one of the sockets.
func (mp *Mapping) noteRx(from netip.AddrPort) {
	// Stored only when it changes: a new pointer per datagram is an
	// allocation per RTP packet.
	if p := mp.rxFrom.Load(); p == nil || *p != from {
		f := from // escapes only here, not on every call
		mp.rxFrom.Store(&f)
	}
}

// Addrs returns all the addresses at once, under one lock: External and
// ExternalRTCP in it always come from the same learn, which separate
// calls of the getters around a relearn do not promise.
func (mp *Mapping) Addrs() Addrs {
	defer mp.lock()()
	return Addrs{Local: mp.local, External: mp.external, ExternalRTCP: mp.extRTCP, Remote: mp.remote, Via: mp.via}
}

// Local is the address the socket is bound to (with a concrete IP, never
// the unspecified address, where one could be learnt).
func (mp *Mapping) Local() netip.AddrPort {
	defer mp.lock()()
	return mp.local
}

// External is the address to advertise (Via, Contact, SDP c=/m=).
func (mp *Mapping) External() netip.AddrPort {
	defer mp.lock()()
	return mp.external
}

// ExternalRTCP is the RTCP address to advertise (zero with rtcp-mux).
func (mp *Mapping) ExternalRTCP() netip.AddrPort {
	defer mp.lock()()
	return mp.extRTCP
}

// Remote is the far end last given to Map or UpdateRemote.
func (mp *Mapping) Remote() netip.AddrPort {
	defer mp.lock()()
	return mp.remote
}

// Via is the strategy that produced External.
func (mp *Mapping) Via() Strategy {
	defer mp.lock()()
	return mp.via
}

// Mapper is the port manager as its users see it (RTC's
// IRTCPortManager3). voip depends on this interface, not on *Manager; a
// fake implements it with mappings from NewMapping.
type Mapper interface {
	// Map returns a mapping of the kind for traffic to remote (which may
	// be the zero value when the far end is not known yet). It returns
	// within a bounded time; it never waits on the network when a warm
	// mapping is available. The socket's family and local address are
	// those of the route toward remote (an IPv6 remote gets an IPv6
	// socket in the same ranges); a remote with port 0 only says that
	// (no early UDP, no keepalives to it): a call's media before the far
	// end's SDP, in the SIP flow's family.
	Map(ctx context.Context, kind Kind, tr Transport, remote netip.AddrPort) (*Mapping, error)
	// UpdateRemote tells the manager the far end of a mapping became known
	// or changed (an SDP in 183/200, a re-INVITE).
	UpdateRemote(m *Mapping, remote netip.AddrPort) error
	// Release closes the mapping's sockets and stops its keepalives.
	Release(m *Mapping) error
}

// Event reports a change the UA must act on.
type Event struct {
	Kind     EventKind
	Mapping  *Mapping
	Old, New netip.AddrPort
}

// EventKind is the kind of Event.
type EventKind int

const (
	// EventExternalChanged: the external address of a mapping changed
	// (NAT reboot, new lease, binding lost). Re-register, re-INVITE.
	EventExternalChanged EventKind = iota
	// EventFlowFailed: the SIP flow's NAT binding changed or was lost while
	// its advertised address came from the registrar (received/rport), so
	// the manager cannot know the new one: re-register (RFC 5626 §4.4.2:
	// a changed XOR-MAPPED-ADDRESS is a flow failure).
	EventFlowFailed
	// EventALG: a SIP ALG rewrote our signalling (see ObserveContact).
	EventALG
)

func (k EventKind) String() string {
	switch k {
	case EventExternalChanged:
		return "external-changed"
	case EventFlowFailed:
		return "flow-failed"
	case EventALG:
		return "alg"
	}
	return fmt.Sprintf("event(%d)", int(k))
}
