package pbx

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"

	"github.com/deskphone/phone/voip/sip/digest"
)

// Defaults for the zero values of Config.
const (
	DefaultRealm         = "pbx.local"
	DefaultMinExpires    = 60 * time.Second
	DefaultMaxExpires    = time.Hour
	DefaultExpires       = time.Hour
	DefaultEarlyDuration = 2 * time.Second
	// Stream (TCP, TLS) connection bounds: a message that has begun must
	// be complete within DefaultStreamMessageTimeout, a connection silent
	// for DefaultStreamIdleTimeout (phones send RFC 5626 CRLF keepalives
	// well within it) is closed, and the server holds at most
	// DefaultMaxStreamConns connections, DefaultMaxStreamConnsPerAddr
	// from one address.
	DefaultStreamMessageTimeout  = 10 * time.Second
	DefaultStreamIdleTimeout     = 5 * time.Minute
	DefaultMaxStreamConns        = 256
	DefaultMaxStreamConnsPerAddr = 32
)

// Override is what a test hook returns to force a response. A zero Code
// means "carry on normally".
type Override struct {
	Code    int
	Reason  string       // empty: the standard reason phrase
	Headers []sip.Header // added to the response, e.g. Retry-After
}

// Config configures a Server. Every field but Users has a usable zero
// value.
type Config struct {
	// Realm is the digest realm, also accepted as the SIP domain.
	// Default DefaultRealm.
	Realm string
	// Users maps user names to passwords. A user must be listed to
	// register or to place authenticated calls.
	Users map[string]string
	// Domains are more SIP domains served at once, each with its own
	// users (name to password) and the domain as its digest realm, as
	// when one phone registers two lines to two providers. A user of one
	// is user@domain (Bindings("alice@other.example")); requests for a
	// domain neither Realm nor listed here are taken as Realm's.
	Domains map[string]map[string]string
	// Net is where the UDP socket, media sockets and TCP/TLS listeners
	// come from: stdnet.NewNet() when nil (the host), vnet in tests.
	Net transport.Net
	// Listen is the UDP SIP address to bind through Net. Port 0 picks a
	// free port. The zero value means 127.0.0.1:5060.
	Listen netip.AddrPort
	// Conn, when set, is the UDP SIP socket to serve on instead of
	// binding Listen. The server closes it on Close.
	Conn net.PacketConn
	// Advertise is the IP put in Record-Route, Contact and SDP. Default:
	// the listening IP, or 127.0.0.1 when that is unspecified.
	Advertise netip.Addr
	// TCP, when valid, is an address for a SIP-over-TCP listener opened
	// through Net.
	TCP netip.AddrPort
	// TLS, when valid, is an address for a SIP-over-TLS listener opened
	// through Net with TLSConfig (which must hold a certificate).
	TLS       netip.AddrPort
	TLSConfig *tls.Config
	// StreamMessageTimeout, StreamIdleTimeout, MaxStreamConns and
	// MaxStreamConnsPerAddr bound what TCP and TLS clients can hold (see
	// the Default... constants for the zero values). A negative value
	// turns a bound off.
	StreamMessageTimeout  time.Duration
	StreamIdleTimeout     time.Duration
	MaxStreamConns        int
	MaxStreamConnsPerAddr int
	// Algorithm is the digest algorithm of the challenges: "MD5"
	// (default), "SHA-256", ... Algorithms, when set, overrides it and
	// offers one challenge per entry, most preferred first (RFC 8760
	// §2.3).
	Algorithm  string
	Algorithms []string
	// NonceLifetime is how long a nonce is fresh before it is answered
	// with stale=true. Default digest.DefaultNonceLifetime.
	NonceLifetime time.Duration
	// NATFix routes requests for a registered user to the address its
	// REGISTER came from (received/rport), like Kamailio's nathelper.
	// When false the registered Contact is used as is.
	NATFix bool
	// NoInviteAuth turns off the 407 challenge of initial INVITEs.
	NoInviteAuth bool
	// MinExpires is the shortest registration accepted; shorter ones get
	// 423 Interval Too Brief (RFC 3261 §10.3 step 7). Default 60 s.
	MinExpires time.Duration
	// MaxExpires caps the registration lifetime. Default 1 h.
	MaxExpires time.Duration
	// EarlyDuration is how long the "early" service plays its early-media
	// announcement before answering. Default 2 s.
	EarlyDuration time.Duration
	// T1 is the base interval of the PBX's own UAS retransmissions
	// (reliable 183, 2xx until ACK). Default sip.T1 (500 ms).
	T1 time.Duration
	// OnRegister, when set, is called for every REGISTER, first before
	// authentication (authed false) and again after it succeeded (authed
	// true). A non-zero Code is sent as the response instead.
	OnRegister func(req *sip.Request, authed bool) Override
	// OnInvite is the same hook for initial INVITEs (to users and to
	// services).
	OnInvite func(req *sip.Request, authed bool) Override
	// Now is the clock for registration expiry and nonces; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger
}

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.Net == nil {
		n, err := stdnet.NewNet()
		if err != nil {
			return c, fmt.Errorf("%w: stdnet: %w", ErrConfig, err)
		}
		c.Net = n
	}
	if !c.Listen.IsValid() {
		c.Listen = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 5060)
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{c.Algorithm}
	}
	for i, a := range c.Algorithms {
		if !digest.Supported(a) {
			return c, fmt.Errorf("%w: algorithm %q", ErrConfig, a)
		}
		if a == "" {
			c.Algorithms[i] = digest.MD5
		}
	}
	if err := checkUsers(c.Users); err != nil {
		return c, err
	}
	for d, users := range c.Domains {
		if d == "" || strings.ContainsAny(d, "@:;/ \t\r\n\"") || strings.EqualFold(d, c.Realm) {
			return c, fmt.Errorf("%w: domain %q", ErrConfig, d)
		}
		if err := checkUsers(users); err != nil {
			return c, err
		}
	}
	if c.TLS.IsValid() && (c.TLSConfig == nil || (len(c.TLSConfig.Certificates) == 0 && c.TLSConfig.GetCertificate == nil)) {
		return c, fmt.Errorf("%w: TLS listener without certificate", ErrConfig)
	}
	if c.MinExpires <= 0 {
		c.MinExpires = DefaultMinExpires
	}
	if c.MaxExpires <= 0 {
		c.MaxExpires = DefaultMaxExpires
	}
	if c.MaxExpires < c.MinExpires {
		return c, fmt.Errorf("%w: MaxExpires %v < MinExpires %v", ErrConfig, c.MaxExpires, c.MinExpires)
	}
	if c.EarlyDuration <= 0 {
		c.EarlyDuration = DefaultEarlyDuration
	}
	c.StreamMessageTimeout = orDefault(c.StreamMessageTimeout, DefaultStreamMessageTimeout)
	c.StreamIdleTimeout = orDefault(c.StreamIdleTimeout, DefaultStreamIdleTimeout)
	c.MaxStreamConns = orDefault(c.MaxStreamConns, DefaultMaxStreamConns)
	c.MaxStreamConnsPerAddr = orDefault(c.MaxStreamConnsPerAddr, DefaultMaxStreamConnsPerAddr)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// orDefault is d for zero, zero (no bound) for a negative v, else v.
func orDefault[T int | time.Duration](v, d T) T {
	switch {
	case v == 0:
		return d
	case v < 0:
		return 0
	}
	return v
}

func checkUsers(users map[string]string) error {
	for u := range users {
		if u == "" || strings.ContainsAny(u, "@:; \t\r\n") {
			return fmt.Errorf("%w: user name %q", ErrConfig, u)
		}
		if isService(u) {
			return fmt.Errorf("%w: user name %q is a service", ErrConfig, u)
		}
	}
	return nil
}
