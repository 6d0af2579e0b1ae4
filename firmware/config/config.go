package config

import (
	"fmt"
	"log/slog"
	"time"
)

// Config is the whole configuration of the phone daemon. Its zero value is
// not useful; start from Default or Parse. Field comments give the YAML
// key and the default.
type Config struct {
	// Accounts are the SIP lines (accounts): every enabled account
	// registers as its own line, numbered 0, 1, ... in the order of the
	// enabled accounts; line 0 is the default line. Default: none.
	Accounts []Account
	// Calls configures how many calls the phone carries at once and call
	// waiting (calls).
	Calls Calls
	// Codecs lists audio codecs in order of preference (codecs). Only
	// "PCMU" and "PCMA" exist for now. Default: [PCMU, PCMA].
	Codecs []string
	// DTMF is how digits are sent during a call (dtmf): "rfc4733"
	// (RTP telephone-event) or "info" (SIP INFO). Default: rfc4733.
	DTMF string
	// DTMFPayloadType is the dynamic RTP payload type offered for
	// telephone-event (dtmf_payload_type), 96..127. Default: 101.
	DTMFPayloadType int
	// Ptime is the RTP packetisation interval (ptime). Default: 20ms.
	Ptime time.Duration
	// Ports are the UDP port ranges (ports).
	Ports Ports
	// NAT configures NAT traversal (nat).
	NAT NAT
	// Audio configures the audio path (audio).
	Audio Audio
	// DialPlan configures when dialled digits are sent (dial_plan).
	DialPlan DialPlan
	// Board names the hardware (board): "sim", "qemu" or "rpi".
	// Default: sim.
	Board string
	// BoardOptions are free-form, driver-specific settings
	// (board_options). Default: none.
	BoardOptions map[string]string
	// API configures the local HTTP API (api).
	API API
	// Log configures logging (log).
	Log Log
	// SIP says who may reach the phone over SIP (sip).
	SIP SIP
	// History configures the call history (history).
	History History
	// Phonebook configures the phonebook (phonebook).
	Phonebook Phonebook
	// Web configures the web admin page (web).
	Web Web
	// MemoryLimit is the Go runtime's soft memory limit in bytes
	// (memory_limit, written with a unit: "64MiB"); 0 means the board's
	// default. Default: 0.
	MemoryLimit int64
	// BLF are the busy lamp keys (blf), each watching a user through an
	// account (blf.go). Default: none.
	BLF []BLFKey
	// Provision configures zero-touch provisioning (provision; see
	// provision.go and docs/provisioning.md).
	Provision Provision
	// Firmware names the firmware the phone should run (firmware), as a
	// provisioning server sets it; empty: no pull.
	Firmware Firmware

	// src remembers where each field came from, so Validate can name the
	// line. Nil for a Config built in code.
	src *source
}

// Account is one SIP account (an item of accounts).
type Account struct {
	// User is the user part of the address of record (user). Required.
	User string
	// AuthUser is the digest authentication user name (auth_user).
	// Default: User (Parse fills it in).
	AuthUser string
	// Password is the digest password (password). Default: empty.
	Password string
	// DisplayName is shown to the called party (display_name).
	DisplayName string
	// Domain is the SIP domain: a host name or IP address without port
	// (domain). Required.
	Domain string
	// Registrar is where REGISTER goes: host[:port] or a sip:/sips: URI
	// (registrar). Default: Domain (Parse fills it in).
	Registrar string
	// OutboundProxy, when set, receives every request: host[:port] or a
	// sip:/sips: URI (outbound_proxy). Default: none.
	OutboundProxy string
	// Transport is "udp", "tcp", "tls" or "auto" (transport): auto takes
	// it from the registrar's NAPTR/SRV records (RFC 3263), UDP when they
	// name none. Default: udp.
	Transport string
	// Expires is the registration lifetime asked for (expires), at least
	// 60s, whole seconds. Default: 3600s.
	Expires time.Duration
	// TLSCAFile is a PEM file of CA certificates trusted for TLS
	// (tls_ca_file). Default: none (the system roots).
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are a PEM client certificate (with any
	// intermediates) and its private key, presented to the server when
	// it asks (mutual TLS, tls_cert_file and tls_key_file). Both or
	// neither; only with transport tls or auto. Default: none.
	TLSCertFile string
	TLSKeyFile  string
	// Codecs, when set, is this line's codec preference (codecs), in
	// place of the top-level codecs list. Default: none (the top level's).
	Codecs []string
	// Enabled says whether the account registers (enabled). Default: true.
	Enabled bool

	// DND (do not disturb) refuses every incoming call on the line with
	// DNDCode (dnd). Default: false.
	DND bool
	// DNDCode is the response DND gives (dnd_code): 486 (Busy Here) or
	// 480 (Temporarily Unavailable). Default: 486.
	DNDCode int
	// ForwardAlways forwards every incoming call on the line
	// (forward_always): a number, user, user@host or sip: URI, answered
	// 302 with it as Contact. Default: none.
	ForwardAlways string
	// ForwardBusy forwards an incoming call the phone would refuse as
	// busy (forward_busy). Default: none.
	ForwardBusy string
	// ForwardNoAnswer forwards an incoming call nobody answered within
	// ForwardNoAnswerAfter (forward_no_answer). Default: none.
	ForwardNoAnswer string
	// ForwardNoAnswerAfter is the ringing time before ForwardNoAnswer
	// applies (forward_no_answer_after), 1s..10m and shorter than
	// sip.ring_timeout. Default: 20s.
	ForwardNoAnswerAfter time.Duration
	// Mailbox is the line's voicemail number (mailbox): a number, user,
	// user@host or sip: URI, dialled by the voicemail key. Default: none.
	Mailbox string
	// SubscribeMWI subscribes to the line's message summary (RFC 3842)
	// for its own address (subscribe_mwi), as Kamailio's presence_mwi
	// needs; without it the phone still takes the unsolicited NOTIFYs
	// Asterisk sends. Default: false.
	SubscribeMWI bool
	// SRTP is the media security policy (srtp): "off", "optional" (offer
	// SRTP with SDES keys on RTP/AVP, accept a plain answer or offer) or
	// "required" (RTP/SAVP; a plain call is refused). Default: off.
	SRTP string
	// SRTPOverInsecure allows SDES keys over signalling that is not TLS
	// (srtp_over_insecure): without it, srtp other than off needs
	// transport tls, because the keys travel in the SDP. Default: false.
	SRTPOverInsecure bool
	// SRTPKeying is how SRTP is keyed when srtp is not off (srtp_keying):
	// "sdes" (a=crypto keys in the SDP), "dtls" (DTLS-SRTP, RFC 5763:
	// only certificate fingerprints in the SDP, keys from a handshake on
	// the media port; needs no TLS signalling) or "both" (offer both,
	// accept either). Default: sdes.
	SRTPKeying string
	// SRTPSuites are the SRTP suites the line offers and accepts, in
	// order of preference (srtp_suites): AEAD_AES_128_GCM,
	// AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32. They also limit
	// the DTLS-SRTP profiles. Default: none (all three, in that order).
	SRTPSuites []string
	// BLFList is a resource list URI (blf_list, RFC 4662): one
	// subscription to it brings the dialog state of every user the
	// server's list names, instead of one subscription per busy lamp key
	// of the line. Default: none.
	BLFList string
}

// Calls configures several calls at once (calls).
type Calls struct {
	// MaxCalls caps the calls the phone holds at once, ringing ones
	// included (max_calls), 1..16; beyond it an incoming call is refused
	// 486 (or forwarded on busy). Default: 4.
	MaxCalls int
	// CallWaiting lets a second incoming call ring (with the call-waiting
	// tone) during a call (call_waiting); off, it is refused 486 (or
	// forwarded on busy). Default: true.
	CallWaiting bool
}

// Ports holds the UDP port ranges (ports), validated by the port
// manager's rules (portmgr.ValidateRanges).
type Ports struct {
	// SIP is the SIP signalling range (sip: {min, max}). Default 5060-5069.
	SIP PortRange
	// Media is the RTP/RTCP range (media: {min, max}). Default 16384-16483.
	Media PortRange
}

// PortRange is an inclusive range of UDP ports ({min, max}). It has the
// shape of portmgr.Range, so the daemon converts one to the other
// (portmgr.Range(r)) without this package importing the port manager.
type PortRange struct {
	Min, Max uint16
}

// Size is the number of ports in r.
func (r PortRange) Size() int { return int(r.Max) - int(r.Min) + 1 }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Min, r.Max) }

// Default port ranges, the port manager's (portmgr.DefaultSIPRange and
// DefaultMediaRange): SIP on 5060 and the next few ports, media on
// 16384..16483 (50 even/odd pairs).
var (
	DefaultSIPPorts   = PortRange{Min: 5060, Max: 5069}
	DefaultMediaPorts = PortRange{Min: 16384, Max: 16483}
)

// NAT configures NAT traversal (nat). The port manager implements the
// behaviour; this package only defines and checks the settings.
type NAT struct {
	// STUNServers are STUN servers as host:port, tried in order
	// (stun_servers). Default: none; no public server is contacted unless
	// configured.
	STUNServers []string
	// TURN is the TURN relay (turn). Default: none.
	TURN TURN
	// StaticExternal is a known public IP address (static_external).
	// Default: none.
	StaticExternal string
	// Strategies lists the ways to learn or make an external address, in
	// order (strategies): "static", "stun", "gateway", "turn". An empty
	// list means the local address is advertised as is.
	// Default: [static, gateway, stun, turn] (the port manager's order: a
	// gateway mapping beats STUN because it also opens the firewall).
	Strategies []string
	// Keepalive is the interval of NAT keepalives (keepalive), at least
	// 1s and shorter than BindingLifetime when that is set. Default: 25s.
	Keepalive time.Duration
	// EarlyUDP sends a few packets to the far end's media address as soon
	// as it is known (early_udp). Default: true.
	EarlyUDP bool
	// BindingLifetime is the NAT binding lifetime (binding_lifetime);
	// 0 means measure it. Default: 0.
	BindingLifetime time.Duration
	// ChangeCheck is how often a STUN request from the SIP socket checks
	// that the SIP flow's external address has not moved (change_check),
	// so a NAT reboot without an outage is noticed and the phone
	// re-registers. At least 1s; a value longer than Keepalive checks at
	// the keepalive interval, as 0 does. Default: 5s.
	ChangeCheck time.Duration
	// MediaTimeout is the media-liveness rule (media_timeout): when
	// nothing from the far end's media arrives this long after the answer
	// while we send, and a TURN server is configured, the call moves to
	// the relay. At least 300ms; 0 turns the rule off. Default: 1s.
	MediaTimeout time.Duration
	// UPnP allows UPnP IGD / NAT-PMP / PCP port mappings on the gateway
	// (upnp). Default: true.
	UPnP bool
	// ICE offers ICE (RFC 8445, SDP per RFC 8839) in our offers and
	// answers it in the far end's (ice): checks on the media socket move
	// the call's media to the best working pair; peers without ICE are
	// unaffected. Default: false.
	ICE bool
}

// TURN is a TURN relay server with long-term credentials (nat.turn).
type TURN struct {
	// Server is host:port (server). Default: none.
	Server string
	// Username and Password are required when Server is set.
	Username string
	Password string
	// Fallbacks are further TURN servers, host:port, with the same
	// credentials, tried in order when the current one does not answer
	// (fallbacks). Default: none.
	Fallbacks []string
	// Transport is the leg to the TURN servers: udp, tcp or tls
	// (transport; TLS checks the system roots and the server's host
	// name). Default: udp.
	Transport string
	// CAFile is a PEM file of CA certificates trusted for transport tls
	// instead of the system roots (ca_file; turnca.go). Default: none.
	CAFile string
}

// Audio configures where audio comes from and goes (audio).
type Audio struct {
	// Input is "tone:<Hz>", "wav:<path>", "silence" or "device" (input).
	// Default: silence.
	Input string
	// Output is "wav:<path>", "speaker" or "null" (output). Default: null.
	Output string
	// SampleRate in Hz (sample_rate): 8000, or 16000 (wideband audio for
	// G.722 calls; on the rpi board the WM8960 and ALSA run at it).
	// Default: 8000.
	SampleRate int
	// Volume is the output volume, 0..100 (volume). Default: 70.
	Volume int
	// MicGain is the input gain, 0..100 (mic_gain). Default: 50.
	MicGain int
	// Tones is the country preset of call-progress tones (tones): us, uk,
	// de, fr, eu, au or jp. Default: us.
	Tones string
	// VAD sends silence as RFC 3389 comfort noise (vad): in calls where
	// the far end accepted CN, a CN packet every 200 ms replaces voice
	// frames while nobody speaks. Default: false, because a phone that
	// sends no RTP in silence lets NAT bindings expire and trips
	// media-liveness checks (the far end's, and ours via keepalives).
	VAD bool
}

// DialPlan says when dialled digits are sent (dial_plan).
type DialPlan struct {
	// Timeout is the pause after the last digit that sends the number
	// (timeout), 1s..60s. Default: 4s.
	Timeout time.Duration
	// Terminator is the key that sends at once (terminator): "#", "*" or
	// "" for none. Default: "#".
	Terminator string
	// MaxDigits sends the number when this many digits are dialled
	// (max_digits), 1..128. Default: 32.
	MaxDigits int
}

// API configures the local HTTP API (api).
type API struct {
	// Listen is the address to serve on, host:port (listen); "" turns
	// the API off. Default: 127.0.0.1:8080.
	Listen string
	// Token is the bearer token clients must present (token). Required
	// when Listen is not a loopback address.
	Token string
}

// SIP says who may reach the phone over SIP (sip).
type SIP struct {
	// AcceptFrom is who may open dialogs (call, subscribe, refer,
	// message) with the phone (accept_from): "proxy" (only the line's
	// registrar and outbound proxy, and Allow) or "any". Default: proxy.
	AcceptFrom string
	// Allow are IP addresses or CIDR prefixes that may call the phone
	// directly besides the proxy (allow). Default: none.
	Allow []string
	// RingTimeout ends an unanswered incoming call with 480 Temporarily
	// Unavailable (ring_timeout), 5s..10m. Default: 60s.
	RingTimeout time.Duration
	// DNSServers are the DNS servers that find the registrar and outbound
	// proxy (NAPTR, SRV, A; RFC 3263), "ip" or "ip:port" (dns_servers).
	// Default: none, the nameservers of /etc/resolv.conf (from DHCP).
	DNSServers []string
	// FailoverHold is how long a registrar or proxy that timed out,
	// answered 503 or refused the connection is avoided while the next
	// one is used (failover_hold), 10s..1h. Default: 5m.
	FailoverHold time.Duration
}

// History configures the call history (history).
type History struct {
	// File is where the history is kept (file), a file on the data
	// partition such as /perm/deskphone/history.json; "" keeps the
	// history in memory only, lost on restart. Default: "".
	File string
	// Size is the number of calls kept, the oldest dropped first (size),
	// 1..10000. Default: 200.
	Size int
}

// Phonebook configures the phonebook (phonebook).
type Phonebook struct {
	// File is the phonebook file (file), a file on the data partition
	// such as /perm/deskphone/phonebook.yaml; "" means no phonebook.
	// Default: "".
	File string
}

// Web configures the web admin page, which the API's address serves
// (web).
type Web struct {
	// PasswordHash is the bcrypt hash of the admin password
	// (password_hash), as the web page's admin form or
	// `htpasswd -nbB admin PASSWORD` writes it ($2a$, $2b$ or $2y$).
	// "" means no password: the page answers only on loopback.
	// Default: "".
	PasswordHash string
}

// Log configures logging (log).
type Log struct {
	// Level is debug, info, warn or error (level). Default: info.
	Level string
	// Format is text or json (format). Default: text.
	Format string
	// Syslog sends the log to a syslog server too (syslog, syslog.go).
	Syslog Syslog
}

// Defaults of the fields whose default is not the zero value.
const (
	DefaultTransport       = "udp"
	DefaultSRTP            = "off"
	DefaultExpires         = 3600 * time.Second
	DefaultDTMF            = "rfc4733"
	DefaultDTMFPayloadType = 101
	DefaultPtime           = 20 * time.Millisecond
	DefaultKeepalive       = 25 * time.Second
	DefaultChangeCheck     = 5 * time.Second
	DefaultMediaTimeout    = time.Second
	DefaultAudioInput      = "silence"
	DefaultAudioOutput     = "null"
	DefaultSampleRate      = 8000
	DefaultVolume          = 70
	DefaultMicGain         = 50
	DefaultTones           = "us"
	DefaultDialTimeout     = 4 * time.Second
	DefaultTerminator      = "#"
	DefaultMaxDigits       = 32
	DefaultBoard           = "sim"
	DefaultAPIListen       = "127.0.0.1:8080"
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "text"
	DefaultAcceptFrom      = "proxy"
	DefaultRingTimeout     = 60 * time.Second
	DefaultDNDCode         = 486
	DefaultNoAnswerAfter   = 20 * time.Second
	DefaultMaxCalls        = 4
	DefaultHistorySize     = 200
	DefaultFailoverHold    = 5 * time.Minute
)

// Default returns a new Config holding every default. It has no account.
func Default() *Config {
	return &Config{
		Codecs:          []string{"G722", "PCMU", "PCMA"},
		DTMF:            DefaultDTMF,
		DTMFPayloadType: DefaultDTMFPayloadType,
		Ptime:           DefaultPtime,
		Ports: Ports{
			SIP:   DefaultSIPPorts,
			Media: DefaultMediaPorts,
		},
		NAT: NAT{
			Strategies:   []string{"static", "gateway", "stun", "turn"},
			Keepalive:    DefaultKeepalive,
			ChangeCheck:  DefaultChangeCheck,
			MediaTimeout: DefaultMediaTimeout,
			EarlyUDP:     true,
			UPnP:         DefaultUPnP(DefaultBoard),
		},
		Audio: Audio{
			Input:      DefaultAudioInput,
			Output:     DefaultAudioOutput,
			SampleRate: DefaultSampleRate,
			Volume:     DefaultVolume,
			MicGain:    DefaultMicGain,
			Tones:      DefaultTones,
		},
		DialPlan: DialPlan{
			Timeout:    DefaultDialTimeout,
			Terminator: DefaultTerminator,
			MaxDigits:  DefaultMaxDigits,
		},
		Board: DefaultBoard,
		API:   API{Listen: DefaultAPIListen},
		Log:   Log{Level: DefaultLogLevel, Format: DefaultLogFormat, Syslog: DefaultSyslog},
		SIP:   SIP{AcceptFrom: DefaultAcceptFrom, RingTimeout: DefaultRingTimeout, FailoverHold: DefaultFailoverHold},
		Calls: Calls{MaxCalls: DefaultMaxCalls, CallWaiting: true},

		History: History{Size: DefaultHistorySize},
	}
}

// DefaultAccount returns an Account holding the per-account defaults
// (transport udp, expires 3600s, enabled, DND answers 486, no-answer
// forwarding after 20s); User and Domain are empty.
func DefaultAccount() Account {
	return Account{Transport: DefaultTransport, Expires: DefaultExpires, Enabled: true,
		DNDCode: DefaultDNDCode, ForwardNoAnswerAfter: DefaultNoAnswerAfter, SRTP: DefaultSRTP}
}

// Lines returns the enabled accounts in order: the phone's lines, line 0
// first.
func (c *Config) Lines() []Account {
	var out []Account
	for _, a := range c.Accounts {
		if a.Enabled {
			out = append(out, a)
		}
	}
	return out
}

// Primary returns the default line: the first enabled account.
func (c *Config) Primary() (Account, bool) {
	for _, a := range c.Accounts {
		if a.Enabled {
			return a, true
		}
	}
	return Account{}, false
}

// SlogLevel returns the log level as a slog.Level (info if unknown).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
