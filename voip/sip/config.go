package sip

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sdp"
	siplib "github.com/emiago/sipgo/sip"
)

// Account is one SIP identity: who we are, where we register and how we
// authenticate.
type Account struct {
	// User is the user part of the address of record (sip:User@Domain).
	User string
	// AuthUser is the digest user name; empty means User.
	AuthUser string
	// Password is the digest password.
	Password string
	// Domain is the host part of the address of record; empty means the
	// registrar's host.
	Domain string
	// DisplayName is put in From (and Contact) headers.
	DisplayName string
	// Registrar is host[:port] or a SIP URI; empty disables REGISTER.
	Registrar string
	// OutboundProxy is host[:port] or a SIP URI. When set, every request
	// outside a dialog is sent to it with a loose Route header
	// (<sip:proxy;lr>, RFC 3261 §8.1.2) and in-dialog requests without a
	// route set are sent to it as well.
	OutboundProxy string
	// Transport is "udp", "tcp" or "tls"; empty (or "auto") lets the
	// server's NAPTR/SRV records choose (RFC 3263 §4.1), UDP when they
	// name none.
	Transport string
	// Expires is the registration lifetime we ask for; zero means 3600 s.
	Expires time.Duration
	// TLS is the client TLS configuration for Transport "tls": set
	// RootCAs to trust a private CA. Nil means the system roots. The
	// server certificate is always verified.
	TLS *tls.Config
	// InstanceID, when set, is sent as the +sip.instance Contact parameter
	// (RFC 5626 §4.1), e.g. "urn:uuid:00000000-0000-1000-8000-000A95A0E128".
	InstanceID string
	// RegID is the RFC 5626 reg-id Contact parameter, sent with InstanceID
	// when positive.
	RegID int
}

// Config configures a UA.
type Config struct {
	// Account is the SIP identity. Required unless the UA is used only
	// for direct (IP to IP) calls.
	Account Account
	// MediaTimeout is the media-liveness rule (call_relay.go): when
	// nothing from the far end's media arrives within this long after
	// the answer while we send, and the Mapper can relay (a TURN server
	// is configured), the call moves to the relay. Zero means
	// DefaultMediaTimeout; negative turns the rule off.
	MediaTimeout time.Duration
	// NoMediaHint turns off the use of the far end's signalled public
	// address in place of a private SDP address (mediahint.go).
	NoMediaHint bool
	// ICE offers ICE and answers ICE offers (call_ice.go).
	ICE bool
	// offerRTCPMux makes our offers carry a=rtcp-mux (tests: the peer
	// that offers it); we otherwise only accept it (call_ice.go).
	offerRTCPMux bool
	// Mapper gives every socket and every address the UA advertises.
	// Required.
	Mapper portmgr.Mapper
	// Codecs lists the audio codecs in preference order; nil means
	// ["PCMU","PCMA"].
	Codecs []string
	// DTMFPayloadType is the RFC 4733 telephone-event payload type; zero
	// means 101.
	DTMFPayloadType uint8
	// DTMFInfo sends DTMF as SIP INFO (application/dtmf-relay) and does
	// not offer telephone-event. By default DTMF goes as RFC 4733 events
	// and falls back to INFO only when the far end has no telephone-event.
	DTMFInfo bool
	// Ptime is the packet time; zero means 20 ms.
	Ptime time.Duration
	// AudioRate is the sample rate of the phone's audio devices (8000 or
	// 16000 Hz); zero means each call's codec's rate. A call whose codec
	// samples at another rate is converted at the device (media
	// Config.DeviceRate): G.722 on an 8 kHz handset, G.711 on a 16 kHz one.
	AudioRate int
	// VAD turns on voice activity detection: in calls where comfort
	// noise (RFC 3389) was negotiated, silence is sent as a CN packet
	// every 200 ms instead of voice (media Config.VAD). Off by default:
	// it stops the steady RTP that keeps NAT bindings open.
	VAD bool
	// UserAgent is the User-Agent header value; empty means "deskphone".
	UserAgent string
	// Logger receives the UA's logs; nil discards.
	Logger *slog.Logger
	// Registered, when set, is called on the registration loop after
	// every REGISTER the registrar accepted, the first and each refresh
	// (a refresh that changed nothing sends no RegistrationEvent). It
	// must return quickly: the phone pins the pages a refresh ran
	// (firmware/daemon).
	Registered func()
	// EarlyMedia makes an outgoing call create its media session on a
	// 183 (or 180) with SDP, so the far end's early audio is played
	// instead of local ringback (RFC 3960).
	EarlyMedia bool
	// Prack enables RFC 3262 reliable provisional responses: we send
	// Supported: 100rel, PRACK reliable provisionals we receive, and send
	// our own 180/183 reliably when the caller supports it.
	Prack bool

	// SetupTimeout is how long an outgoing call may wait for a final
	// response before it is cancelled; zero means 3 minutes.
	SetupTimeout time.Duration
	// RetryMin and RetryMax bound the registration back-off (doubling
	// with ±20 % jitter); zero means 2 s and 5 min.
	RetryMin, RetryMax time.Duration
	// CloseTimeout bounds how long Close waits for the un-REGISTER and
	// BYEs; zero means 2 s.
	CloseTimeout time.Duration
	// StreamReadTimeout bounds, over TCP and TLS, how long a message that
	// has begun may take to arrive in full (a Content-Length larger than
	// the body would otherwise hold the stream for ever); the connection
	// is then dropped and a new one made. Zero means 10 s.
	StreamReadTimeout time.Duration
	// EventBuffer is the size of the event queue; zero means 256. When
	// the queue is full the oldest event is dropped (and counted), so
	// the SIP stack never blocks on a slow reader.
	EventBuffer int
	// Resolver looks up names DNS does not know (the hosts file) when
	// DNS.Servers is empty, and the hosts of requests sipgo routes itself;
	// nil means net.DefaultResolver.
	Resolver *net.Resolver
	// DNS says how the registrar and outbound proxy are found (RFC 3263
	// NAPTR, SRV, A) and how long a failed one is avoided (target.go).
	DNS DNSConfig

	// AcceptFrom says who may open dialogs with the UA (INVITE and the
	// other dialog-opening requests outside a dialog); others get 403
	// and a log line. The zero value, AcceptAuto, accepts only the proxy
	// (and Allow) when the account has a registrar or outbound proxy.
	AcceptFrom AcceptPolicy
	// Allow are the source addresses, besides the registrar and outbound
	// proxy, that may open dialogs under AcceptProxy.
	Allow []netip.Prefix
	// RingTimeout ends an incoming call nobody answered with 480
	// Temporarily Unavailable; zero means 60 s.
	RingTimeout time.Duration
	// RateLimit is how many messages (requests and responses) a second
	// one source (an IPv4 address or an IPv6 /64, other than the
	// registrar or proxy) may send over UDP, with bursts of twice that;
	// messages beyond it are dropped unread. All sources but the
	// registrar and proxy together may send 20 times that (a stranger can
	// spoof a new source address per datagram). Zero means 50; negative
	// turns the limits off.
	RateLimit int
	// MaxServerTx caps the server transactions open at once; a request
	// beyond it is answered 503 with Retry-After, statelessly. Zero
	// means 256.
	MaxServerTx int
	// MaxCalls caps the calls (ringing ones included) the UA holds at
	// once; an INVITE beyond it gets 486 Busy Here before any media port
	// is mapped. Zero means 4.
	MaxCalls int

	// SRTP is the media security policy (RFC 4568 SDES keys, RFC 3711):
	// sdp.SRTPOff (the zero value) offers plain RTP and refuses RTP/SAVP
	// offers; sdp.SRTPOptional offers RTP/AVP with a=crypto and accepts a
	// plain answer or offer; sdp.SRTPRequired offers RTP/SAVP, ends a call
	// whose answer is plain and answers a plain offer with 488. A call's
	// security is fixed by its first offer/answer: a re-INVITE may change
	// the keys but not turn SRTP off (or on).
	SRTP sdp.Policy
	// SRTPOverInsecure allows SDES keys in SDP over signalling that is not
	// TLS (Account.Transport udp, tcp or auto). Without it, an SRTP
	// policy other than off needs Transport "tls": the keys would travel
	// in the clear. With it, such calls show KeysInClear in CallStats.
	SRTPOverInsecure bool
	// SRTPKeying says how SRTP is keyed when SRTP is not off:
	// sdp.KeyingSDES (the zero value, a=crypto), sdp.KeyingDTLS
	// (DTLS-SRTP, RFC 5763/5764: fingerprints in the SDP, keys from a
	// handshake on the media port; needs no TLS signalling) or
	// sdp.KeyingBoth (offer both on the SDES profile, accept either).
	SRTPKeying sdp.Keying
	// SRTPSuites are the SRTP suites offered and accepted, in order of
	// preference (sdp.SuiteAEADAES128GCM, ...): offers carry only these,
	// in this order; an answer takes the first of the offer's a=crypto
	// lines whose suite is listed (none: a plain answer where the policy
	// allows it, else 488). They also limit the DTLS-SRTP protection
	// profiles (use_srtp, RFC 5764 §4.1.2). Empty means sdp.Suites.
	SRTPSuites []string

	// dtlsTimeout bounds a DTLS handshake (tests); 0 is dtlssrtp's default.
	dtlsTimeout time.Duration
}

const (
	defaultExpires      = time.Hour
	defaultSetupTimeout = 3 * time.Minute
	defaultRetryMin     = 2 * time.Second
	defaultRetryMax     = 5 * time.Minute
	defaultCloseTimeout = 2 * time.Second
	defaultEventBuffer  = 256
	defaultDTMFPT       = 101
	defaultPtime        = 20 * time.Millisecond
)

func (c *Config) setDefaults() error {
	if c.Mapper == nil {
		return fmt.Errorf("%w: Mapper is required", ErrBadConfig)
	}
	if len(c.Codecs) == 0 {
		c.Codecs = []string{"PCMU", "PCMA"}
	}
	if c.DTMFPayloadType == 0 {
		c.DTMFPayloadType = defaultDTMFPT
	}
	if c.DTMFPayloadType < 96 || c.DTMFPayloadType > 127 {
		return fmt.Errorf("%w: DTMFPayloadType %d is not dynamic (96-127)", ErrBadConfig, c.DTMFPayloadType)
	}
	if c.Ptime <= 0 {
		c.Ptime = defaultPtime
	}
	if c.UserAgent == "" {
		c.UserAgent = "deskphone"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SetupTimeout <= 0 {
		c.SetupTimeout = defaultSetupTimeout
	}
	if c.RetryMin <= 0 {
		c.RetryMin = defaultRetryMin
	}
	if c.RetryMax <= 0 {
		c.RetryMax = defaultRetryMax
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = c.RetryMin
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = defaultCloseTimeout
	}
	if c.StreamReadTimeout <= 0 {
		c.StreamReadTimeout = defaultStreamReadTimeout
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = defaultEventBuffer
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	switch c.AcceptFrom {
	case AcceptAuto, AcceptProxy, AcceptAny:
	default:
		return fmt.Errorf("%w: AcceptFrom %q (want proxy or any)", ErrBadConfig, c.AcceptFrom)
	}
	c.Allow = append([]netip.Prefix(nil), c.Allow...)
	for i, p := range c.Allow {
		if !p.IsValid() {
			return fmt.Errorf("%w: Allow[%d] is not a valid prefix", ErrBadConfig, i)
		}
		c.Allow[i] = p.Masked()
	}
	if c.RingTimeout <= 0 {
		c.RingTimeout = defaultRingTimeout
	}
	if c.RateLimit == 0 {
		c.RateLimit = defaultRateLimit
	}
	if c.MaxServerTx <= 0 {
		c.MaxServerTx = defaultMaxServerTx
	}
	if c.MaxCalls <= 0 {
		c.MaxCalls = defaultMaxCalls
	}
	switch c.SRTP {
	case sdp.SRTPOff, sdp.SRTPOptional, sdp.SRTPRequired:
	default:
		return fmt.Errorf("%w: SRTP policy %d", ErrBadConfig, c.SRTP)
	}
	a := &c.Account
	if a.Expires <= 0 {
		a.Expires = defaultExpires
	}
	if a.AuthUser == "" {
		a.AuthUser = a.User
	}
	switch strings.ToLower(a.Transport) {
	case "", "auto":
		a.Transport = "" // from NAPTR/SRV (RFC 3263 §4.1), else UDP
	case "udp":
		a.Transport = "udp"
	case "tcp":
		a.Transport = "tcp"
	case "tls":
		a.Transport = "tls"
	default:
		return fmt.Errorf("%w: transport %q (want auto, udp, tcp or tls)", ErrBadConfig, a.Transport)
	}
	if err := sdp.CheckSuites(c.SRTPSuites); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	c.SRTPSuites = sdp.SuitesOr(slices.Clone(c.SRTPSuites))
	switch c.SRTPKeying {
	case sdp.KeyingSDES, sdp.KeyingDTLS, sdp.KeyingBoth:
	default:
		return fmt.Errorf("%w: SRTP keying %d", ErrBadConfig, c.SRTPKeying)
	}
	if c.SRTP != sdp.SRTPOff && c.SRTPKeying != sdp.KeyingDTLS && a.Transport != "tls" && !c.SRTPOverInsecure {
		return fmt.Errorf("%w: SRTP %s with SDES keys needs transport tls (the keys would travel in the clear), or SRTPOverInsecure", ErrBadConfig, c.SRTP)
	}
	if a.Registrar != "" {
		if a.User == "" {
			return fmt.Errorf("%w: Account.User is required with a registrar", ErrBadConfig)
		}
		if _, err := parseServer(a.Registrar, a.Transport); err != nil {
			return fmt.Errorf("%w: registrar: %w", ErrBadConfig, err)
		}
	}
	if a.OutboundProxy != "" {
		if _, err := parseServer(a.OutboundProxy, a.Transport); err != nil {
			return fmt.Errorf("%w: outbound proxy: %w", ErrBadConfig, err)
		}
	}
	if err := c.checkServers(); err != nil {
		return err
	}
	if a.Domain == "" && a.Registrar != "" {
		u, _ := parseServer(a.Registrar, a.Transport)
		a.Domain = u.Host
	}
	return nil
}

func (c *Config) transport() portmgr.Transport {
	switch c.Account.Transport {
	case "tcp":
		return portmgr.TCP
	case "tls":
		return portmgr.TLS
	}
	return portmgr.UDP
}

// parseServer parses "host", "host:port" or a sip:/sips: URI naming a
// server. The result always has a host.
func parseServer(s, transport string) (siplib.Uri, error) {
	var u siplib.Uri
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimSuffix(s, ">"), "<")
	if s == "" {
		return u, fmt.Errorf("empty address")
	}
	ls := strings.ToLower(s)
	if ip, err := netip.ParseAddr(s); err == nil && ip.Is6() {
		s = "[" + s + "]" // a bare IPv6 literal: its colons are not a port
	}
	if !strings.HasPrefix(ls, "sip:") && !strings.HasPrefix(ls, "sips:") {
		scheme := "sip:"
		if transport == "tls" {
			scheme = "sips:"
		}
		s = scheme + s
	}
	if err := siplib.ParseUri(s, &u); err != nil {
		return u, fmt.Errorf("parse %q: %w", s, err)
	}
	if u.Host == "" {
		return u, fmt.Errorf("%q has no host", s)
	}
	return u, nil
}

// parseTarget turns what a user dialled into a request URI: a full
// sip:/sips: URI, "user@host", or a bare user at the account's domain.
func parseTarget(target, domain string) (siplib.Uri, error) {
	var u siplib.Uri
	t := strings.TrimSpace(target)
	t = strings.TrimPrefix(strings.TrimSuffix(t, ">"), "<")
	if t == "" {
		return u, fmt.Errorf("%w: empty", ErrBadTarget)
	}
	lt := strings.ToLower(t)
	domain = uriHost(domain)
	switch {
	case strings.HasPrefix(lt, "sip:") || strings.HasPrefix(lt, "sips:"):
	case strings.HasPrefix(lt, "tel:"):
		if domain == "" {
			return u, fmt.Errorf("%w: %q: tel URI needs a domain", ErrBadTarget, target)
		}
		t = "sip:" + t[4:] + "@" + domain + ";user=phone"
	case strings.Contains(t, "@"):
		t = "sip:" + t
	default:
		if domain == "" {
			return u, fmt.Errorf("%w: %q has no host and the account has no domain", ErrBadTarget, target)
		}
		t = "sip:" + t + "@" + domain
	}
	if err := siplib.ParseUri(t, &u); err != nil {
		return u, fmt.Errorf("%w: %q: %w", ErrBadTarget, target, err)
	}
	if u.Host == "" {
		return u, fmt.Errorf("%w: %q has no host", ErrBadTarget, target)
	}
	return u, nil
}

func hostPort(ap netip.AddrPort) string {
	return net.JoinHostPort(ap.Addr().String(), strconv.Itoa(int(ap.Port())))
}
