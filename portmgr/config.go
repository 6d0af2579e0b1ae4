package portmgr

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/deskphone/phone/portmgr/gateway"
	"github.com/pion/transport/v4"
)

// Range is an inclusive range of UDP ports.
type Range struct {
	Min, Max uint16
}

// Size is the number of ports in the range.
func (r Range) Size() int { return int(r.Max) - int(r.Min) + 1 }

func (r Range) String() string { return fmt.Sprintf("%d-%d", r.Min, r.Max) }

func (r Range) overlaps(o Range) bool { return r.Min <= o.Max && o.Min <= r.Max }

// Default port ranges: SIP on 5060 and the next few ports, media on
// 16384..16482 (50 even/odd pairs), as common desk phones do.
var (
	DefaultSIPRange   = Range{Min: 5060, Max: 5069}
	DefaultMediaRange = Range{Min: 16384, Max: 16483}
)

// Config configures a Manager. The zero value of every field but Net has
// a documented default.
type Config struct {
	// Net is where sockets come from: stdnet on a device, vnet in tests.
	// Required.
	Net transport.Net
	// BindAddr is the local IP to bind. Zero means: learn the interface
	// address that routes to the remote (unspecified bind).
	BindAddr netip.Addr
	// SIPPorts and MediaPorts are the port ranges (RTC's
	// MinSipDynamicPort..MaxSipDynamicPort, MinMediaPort..MaxMediaPort).
	// Zero means DefaultSIPRange / DefaultMediaRange.
	SIPPorts, MediaPorts Range
	// StaticExternal, when valid, is a configured public IP: a configured
	// value wins over every discovery. The port is the local port.
	StaticExternal netip.Addr
	// Logger receives the manager's logs; nil discards.
	Logger *slog.Logger

	// STUNServers are "host:port" STUN servers, tried in order with
	// failover. Empty: no STUN (and no NAT behaviour discovery).
	STUNServers []string
	// TURN is the relay used when the NAT's mapping is endpoint-dependent
	// (symmetric). Zero: no relay.
	TURN TURNConfig
	// Strategies is the order strategies are tried in for each mapping.
	// Empty means DefaultStrategies. StrategyLocal always ends the list.
	Strategies []Strategy
	// Keepalive is the upper bound on the refresh interval of every NAT
	// binding. Zero means DefaultKeepalive (survives a 30 s UDP timeout).
	Keepalive time.Duration
	// BindingLifetime is the NAT's UDP binding lifetime, when known. Zero
	// means: measure it in the background (natcheck.Lifetime) and use
	// DefaultKeepalive until measured.
	BindingLifetime time.Duration
	// SIPKeepalive is what is sent to the SIP next hop on the SIP flow,
	// besides the STUN re-check of the external address: KeepaliveCRLF
	// (default), KeepaliveSTUN (RFC 5626 §4.4.2, instead of the re-check;
	// only when the registrar is known to answer STUN), or KeepaliveOff.
	SIPKeepalive KeepaliveMode
	// ChangeCheck is how often the SIP flow's external address is
	// re-checked with a STUN Binding request from the SIP socket (to the
	// STUN servers, or to the next hop with KeepaliveSTUN), so that a NAT
	// reboot without an outage (bindings flushed, new external ports) is
	// noticed and the UA re-registers. With KeepaliveCRLF and a NAT in
	// the path the CRLF ping to the next hop goes out at this interval
	// too, so a reboot that keeps the ports (the STUN server sees no
	// change, but the NAT's filter forgot the registrar) costs at most
	// this long of deafness (see Manager.sipPingEvery).
	// Zero means DefaultChangeCheck;
	// negative checks only at the keepalive interval. Never longer than
	// the keepalive interval.
	ChangeCheck time.Duration
	// DisableEarlyUDP turns off RTC's EnableEarlyUDPPackets (on by default).
	DisableEarlyUDP bool
	// EarlyUDPInterval and EarlyUDPDuration pace early UDP (defaults
	// 150 ms and 3 s).
	EarlyUDPInterval, EarlyUDPDuration time.Duration
	// EnableGateway turns on UPnP IGD / NAT-PMP / PCP port mappings (the
	// config's nat.upnp). Off by default at this level so that a Manager
	// on the host network sends nothing to the LAN's router unless asked.
	EnableGateway bool
	// Gateway is the port-mapping client to use. Nil with the gateway on
	// means: probe GatewayAddr with PCP, NAT-PMP then UPnP.
	Gateway gateway.Client
	// GatewayAddr is the default router's IP. Zero: the .1 address of the
	// local /24.
	GatewayAddr netip.Addr
	// GatewayLifetime is the lease asked for (default 2 h).
	GatewayLifetime time.Duration
	// PoolSize is the number of warm media pairs (default 2; negative: none).
	PoolSize int
	// STUNRTO is the initial STUN retransmission timeout (default 500 ms,
	// RFC 8489 §6.2.1).
	STUNRTO time.Duration
	// SIPMapWait bounds how long Map(KindSIP) waits for the SIP socket's
	// first STUN answer (default 1 s).
	SIPMapWait time.Duration
	// MediaMapWait bounds how long Map waits for a media pair whose
	// external address is still being learnt (a cold pair, or a pool pair
	// taken before its STUN answer came). Zero means 1 s; negative never
	// waits.
	MediaMapWait time.Duration
	// DisableLifetimeProbe turns off the background lifetime estimate.
	DisableLifetimeProbe bool
}

// TURNConfig is a TURN server with long-term credentials (RFC 8656 §9.2).
type TURNConfig struct {
	Server             string // "host:port", UDP
	Username, Password string
	Realm              string // optional: learnt from the 401
	// Fallbacks are further TURN servers ("host:port", UDP, the same
	// credentials), tried in order when the current one does not answer
	// an Allocate; the one that does becomes current (relay.go).
	Fallbacks []string
	// Transport is the client-to-server leg: "udp" (default), "tcp" or
	// "tls" (RFC 8656 §3.1; e.g. port 443 on a network that lets only
	// TCP 443 out). Media to and from the peer stays UDP at the server.
	Transport string
	// TLSConfig is used for "tls" (roots, server name); nil: the system
	// roots and the server's host name.
	TLSConfig *tls.Config
	// NoWarm turns off the warm standby allocations on direct media
	// pairs (relay.go); the liveness switch then allocates on demand.
	NoWarm bool
}

// KeepaliveMode selects the SIP flow keepalive.
type KeepaliveMode string

// SIP flow keepalive modes.
const (
	// KeepaliveCRLF sends a double CRLF to the next hop (RFC 5626 §4.4.1
	// ping; RFC 3261 §7.5 has peers ignore it). On UDP this is what
	// deployed phones do; the registrar does not answer.
	KeepaliveCRLF KeepaliveMode = "crlf"
	// KeepaliveSTUN sends a Binding request to the next hop (RFC 5626
	// §4.4.2); the answer also checks the flow's mapped address.
	KeepaliveSTUN KeepaliveMode = "stun"
	// KeepaliveOff sends nothing at all on the SIP flow: no keepalive and
	// no STUN re-check, so no change detection either (diagnostics, and
	// the control case of the idle tests).
	KeepaliveOff KeepaliveMode = "off"
)

// Defaults.
const (
	// DefaultKeepalive refreshes bindings often enough for a NAT with a
	// 30 s UDP timeout (RFC 5626 §4.4.2 uses 24-29 s for that reason).
	DefaultKeepalive = 20 * time.Second
	// DefaultChangeCheck re-checks the SIP flow's external address often
	// enough that a rebooted NAT is noticed, and the phone registered
	// again, within 10 s of a NAT reboot (the recovery the lab checks).
	DefaultChangeCheck = 5 * time.Second
	// MinKeepalive is the floor of the derived interval.
	MinKeepalive = 5 * time.Second
	// DefaultGatewayLifetime is the lease asked of a gateway.
	DefaultGatewayLifetime = 2 * time.Hour
	// DefaultPoolSize is the number of warm media pairs.
	DefaultPoolSize = 2
)

// DefaultStrategies is the default strategy order: a configured value
// wins, then a gateway port mapping, then STUN, then TURN.
var DefaultStrategies = []Strategy{StrategyStatic, StrategyGateway, StrategySTUN, StrategyTURN}

func (c *Config) setDefaults() {
	if c.SIPPorts == (Range{}) {
		c.SIPPorts = DefaultSIPRange
	}
	if c.MediaPorts == (Range{}) {
		c.MediaPorts = DefaultMediaRange
	}
	if len(c.Strategies) == 0 {
		c.Strategies = DefaultStrategies
	}
	if c.Keepalive <= 0 {
		c.Keepalive = DefaultKeepalive
	}
	if c.ChangeCheck == 0 {
		c.ChangeCheck = DefaultChangeCheck
	}
	if c.SIPKeepalive == "" {
		c.SIPKeepalive = KeepaliveCRLF
	}
	if c.EarlyUDPInterval <= 0 {
		c.EarlyUDPInterval = 150 * time.Millisecond
	}
	if c.EarlyUDPDuration <= 0 {
		c.EarlyUDPDuration = 3 * time.Second
	}
	if c.GatewayLifetime <= 0 {
		c.GatewayLifetime = DefaultGatewayLifetime
	}
	if c.PoolSize == 0 {
		c.PoolSize = DefaultPoolSize
	}
	if c.PoolSize < 0 {
		c.PoolSize = 0
	}
	if c.SIPMapWait <= 0 {
		c.SIPMapWait = time.Second
	}
	if c.MediaMapWait == 0 {
		c.MediaMapWait = time.Second
	}
}

func (c *Config) validate() error {
	for _, s := range c.Strategies {
		switch s {
		case StrategyStatic, StrategyGateway, StrategySTUN, StrategyTURN, StrategyLocal:
		default:
			return fmt.Errorf("portmgr: unknown strategy %q", s)
		}
	}
	switch c.SIPKeepalive {
	case KeepaliveCRLF, KeepaliveSTUN, KeepaliveOff:
	default:
		return fmt.Errorf("portmgr: unknown SIP keepalive mode %q", c.SIPKeepalive)
	}
	if s := c.StaticExternal; s.IsValid() && (s.IsUnspecified() || s.IsMulticast()) {
		// 0.0.0.0 in SDP's c= means hold (RFC 2543): one-way audio.
		return fmt.Errorf("portmgr: static external address %v is not an address to advertise", s)
	}
	switch c.TURN.Transport {
	case "", "udp", "tcp", "tls":
	default:
		return fmt.Errorf("portmgr: TURN transport %q: want udp, tcp or tls", c.TURN.Transport)
	}
	if c.TURN.Server != "" && c.TURN.Username == "" {
		return fmt.Errorf("portmgr: TURN server %s needs a username", c.TURN.Server)
	}
	return nil
}

// ValidateRanges checks the port ranges as RTC did: 1024..65535, min <
// max, no overlap, a SIP range of at least 2 ports and a media range of at
// least 4.
func ValidateRanges(sip, media Range) error {
	check := func(name string, r Range, least int) error {
		if r.Min < 1024 {
			return fmt.Errorf("%w: %s range %s: ports below 1024 are reserved", ErrBadRange, name, r)
		}
		if r.Min >= r.Max {
			return fmt.Errorf("%w: %s range %s: min must be less than max", ErrBadRange, name, r)
		}
		if r.Size() < least {
			return fmt.Errorf("%w: %s range %s: needs at least %d ports", ErrBadRange, name, r, least)
		}
		return nil
	}
	if err := check("sip", sip, 2); err != nil {
		return err
	}
	if err := check("media", media, 4); err != nil {
		return err
	}
	if sip.overlaps(media) {
		return fmt.Errorf("%w: sip range %s overlaps media range %s", ErrBadRange, sip, media)
	}
	return nil
}
