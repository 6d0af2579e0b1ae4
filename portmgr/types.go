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

// Mapping is one socket (or RTP/RTCP pair) owned by the port manager.
// Users read it; only the manager changes it, under its lock, so read the
// addresses through the methods.
type Mapping struct {
	Kind      Kind
	Transport Transport

	// Conn is the socket to send and receive on (RTP for media). STUN
	// messages have been removed from what it reads.
	Conn net.PacketConn
	// RTCPConn is the RTCP socket (port+1), nil with rtcp-mux.
	RTCPConn net.PacketConn

	m    *Manager
	rtp  *sock // the SIP or RTP socket
	rtcp *sock // the RTCP socket (media only)
	// learnt is closed when the first strategy run has finished.
	learnt    chan struct{}
	learnOnce sync.Once
	slot      int // index in the range bitmap

	rxFrom    atomic.Pointer[netip.AddrPort] // last source seen (early UDP stop)
	rxAny     atomic.Bool                    // any non-keepalive datagram seen since early UDP began
	kaStarted atomic.Bool                    // the keepalive job is scheduled
	flowDown  atomic.Bool                    // the last SIP keepalive check went unanswered

	// The following are guarded by m.mu.
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
	early      context.CancelFunc
}

func (mp *Mapping) markLearnt() { mp.learnOnce.Do(func() { close(mp.learnt) }) }

// noteRx records the source of a datagram read off one of the sockets.
func (mp *Mapping) noteRx(from netip.AddrPort) {
	mp.rxFrom.Store(&from)
}

// Local is the address the socket is bound to (with a concrete IP, never
// the unspecified address, where one could be learnt).
func (mp *Mapping) Local() netip.AddrPort {
	mp.m.mu.Lock()
	defer mp.m.mu.Unlock()
	return mp.local
}

// External is the address to advertise (Via, Contact, SDP c=/m=).
func (mp *Mapping) External() netip.AddrPort {
	mp.m.mu.Lock()
	defer mp.m.mu.Unlock()
	return mp.external
}

// ExternalRTCP is the RTCP address to advertise (zero with rtcp-mux).
func (mp *Mapping) ExternalRTCP() netip.AddrPort {
	mp.m.mu.Lock()
	defer mp.m.mu.Unlock()
	return mp.extRTCP
}

// Remote is the far end last given to Map or UpdateRemote.
func (mp *Mapping) Remote() netip.AddrPort {
	mp.m.mu.Lock()
	defer mp.m.mu.Unlock()
	return mp.remote
}

// Via is the strategy that produced External.
func (mp *Mapping) Via() Strategy {
	mp.m.mu.Lock()
	defer mp.m.mu.Unlock()
	return mp.via
}

// Mapper is the port manager as its users see it (RTC's
// IRTCPortManager3). voip depends on this interface, not on *Manager.
type Mapper interface {
	// Map returns a mapping of the kind for traffic to remote (which may
	// be the zero value when the far end is not known yet). It returns
	// within a bounded time; it never waits on the network when a warm
	// mapping is available.
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
