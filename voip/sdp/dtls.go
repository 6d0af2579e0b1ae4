package sdp

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strconv"
	"strings"
)

// DTLS-SRTP keying (RFC 5763, RFC 5764): instead of keys in the SDP, each
// side puts the fingerprint of its certificate (RFC 8122) and its DTLS
// role (RFC 4145 a=setup) there; the DTLS handshake on the media port
// then proves the certificates and exports the SRTP keys.
//
//	m=audio 49170 UDP/TLS/RTP/SAVP 0 8 101
//	a=setup:actpass
//	a=fingerprint:sha-256 4A:AD:B9:...:0A (32 bytes in hex, colon separated)
//
// The offerer says actpass (RFC 5763 §5); the answerer chooses active
// (DTLS client, the default) or passive (DTLS server). Either may appear
// at session level (baresip puts both there); media-level lines win.

// Keying says how SRTP keys are agreed when the SRTP policy is not off.
type Keying int

const (
	// KeyingSDES offers and accepts a=crypto keys only (RFC 4568).
	KeyingSDES Keying = iota
	// KeyingDTLS offers and accepts DTLS-SRTP only: required offers
	// UDP/TLS/RTP/SAVP, optional offers RTP/AVP with a=fingerprint
	// (best effort); a=crypto is neither offered nor accepted.
	KeyingDTLS
	// KeyingBoth offers a=crypto and a=fingerprint on the SDES profile
	// (RTP/SAVP, or RTP/AVP when optional) and accepts either; an offer
	// or answer with both is taken as DTLS-SRTP (its keys never travel
	// in the signalling).
	KeyingBoth
)

// String returns the keying's config spelling.
func (k Keying) String() string {
	switch k {
	case KeyingSDES:
		return "sdes"
	case KeyingDTLS:
		return "dtls"
	case KeyingBoth:
		return "both"
	}
	return "keying(" + strconv.Itoa(int(k)) + ")"
}

// ParseKeying reads "sdes", "dtls" or "both"; "" is sdes.
func ParseKeying(s string) (Keying, error) {
	switch s {
	case "", "sdes":
		return KeyingSDES, nil
	case "dtls":
		return KeyingDTLS, nil
	case "both":
		return KeyingBoth, nil
	}
	return 0, fmt.Errorf("sdp: srtp keying %q: want sdes, dtls or both", s)
}

func (k Keying) dtls() bool { return k == KeyingDTLS || k == KeyingBoth }
func (k Keying) sdes() bool { return k == KeyingSDES || k == KeyingBoth }

// Setup is an a=setup value (RFC 4145 §4), read as the DTLS role of the
// side whose description carries it (RFC 5763 §5). The zero value is
// "not given".
type Setup int

const (
	SetupNone     Setup = iota
	SetupActive         // the DTLS client
	SetupPassive        // the DTLS server
	SetupActPass        // either: only an offer says it
	SetupHoldConn       // no connection now (refused for DTLS-SRTP)
)

// String returns the attribute value.
func (s Setup) String() string {
	switch s {
	case SetupActive:
		return "active"
	case SetupPassive:
		return "passive"
	case SetupActPass:
		return "actpass"
	case SetupHoldConn:
		return "holdconn"
	}
	return ""
}

// ParseSetup reads an a=setup value (case-insensitive).
func ParseSetup(v string) (Setup, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "active":
		return SetupActive, nil
	case "passive":
		return SetupPassive, nil
	case "actpass":
		return SetupActPass, nil
	case "holdconn":
		return SetupHoldConn, nil
	}
	return SetupNone, &DTLSError{Reason: "bad a=setup " + quoteShort(v)}
}

// ErrDTLS is wrapped by every *DTLSError: an a=fingerprint or a=setup
// line that is malformed or that we cannot use.
var ErrDTLS = errors.New("sdp: bad DTLS-SRTP attribute")

// DTLSError says why a fingerprint or setup line cannot be used.
type DTLSError struct{ Reason string }

func (e *DTLSError) Error() string { return "sdp: " + e.Reason }

// Unwrap returns ErrDTLS.
func (e *DTLSError) Unwrap() error { return ErrDTLS }

// quoteShort quotes at most 40 bytes of s, for error texts.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strconv.Quote(s)
}

// Fingerprint is one a=fingerprint (RFC 8122 §5): a hash function's
// name, lower case, and the hash of a DER certificate.
type Fingerprint struct {
	Hash  string // "sha-256", ...
	Value []byte
}

// hashes are the hash functions we read (RFC 8122 §5: not md2/md5), with
// their lengths.
var hashes = map[string]struct {
	n   int
	new func() hash.Hash
}{
	"sha-1":   {20, sha1.New},
	"sha-224": {28, sha256.New224},
	"sha-256": {32, sha256.New},
	"sha-384": {48, sha512.New384},
	"sha-512": {64, sha512.New},
}

// ParseFingerprint parses an a=fingerprint value:
//
//	hash-func SP 2UHEX *(":" 2UHEX)
//
// Hex digits of either case are read. An unsupported hash function or a
// hash of the wrong length is refused.
func ParseFingerprint(v string) (Fingerprint, error) {
	f := strings.Fields(v)
	if len(f) != 2 {
		return Fingerprint{}, &DTLSError{Reason: "a=fingerprint needs a hash function and a fingerprint"}
	}
	name := strings.ToLower(f[0])
	h, ok := hashes[name]
	if !ok {
		return Fingerprint{}, &DTLSError{Reason: "a=fingerprint hash " + quoteShort(f[0]) + " is not supported"}
	}
	hexs := f[1]
	if len(hexs) != 3*h.n-1 {
		return Fingerprint{}, &DTLSError{Reason: fmt.Sprintf("a=fingerprint %s is not %d bytes", name, h.n)}
	}
	out := make([]byte, h.n)
	for i := range h.n {
		if i > 0 && hexs[3*i-1] != ':' {
			return Fingerprint{}, &DTLSError{Reason: "a=fingerprint is not colon-separated hex"}
		}
		if _, err := hex.Decode(out[i:i+1], []byte(hexs[3*i:3*i+2])); err != nil {
			return Fingerprint{}, &DTLSError{Reason: "a=fingerprint is not colon-separated hex"}
		}
	}
	return Fingerprint{Hash: name, Value: out}, nil
}

// FingerprintOf returns the fingerprint of a DER certificate under hash
// function name ("sha-256").
func FingerprintOf(name string, der []byte) (Fingerprint, error) {
	h, ok := hashes[strings.ToLower(name)]
	if !ok {
		return Fingerprint{}, &DTLSError{Reason: "hash " + quoteShort(name) + " is not supported"}
	}
	x := h.new()
	x.Write(der)
	return Fingerprint{Hash: strings.ToLower(name), Value: x.Sum(nil)}, nil
}

// Matches reports whether der is the certificate f is the fingerprint of.
func (f Fingerprint) Matches(der []byte) bool {
	g, err := FingerprintOf(f.Hash, der)
	if err != nil || len(g.Value) != len(f.Value) {
		return false
	}
	eq := byte(0)
	for i := range g.Value {
		eq |= g.Value[i] ^ f.Value[i]
	}
	return eq == 0
}

// Valid reports whether f has a supported hash of the right length.
func (f Fingerprint) Valid() bool {
	h, ok := hashes[f.Hash]
	return ok && len(f.Value) == h.n
}

// String returns the attribute value: "sha-256 AB:CD:...".
func (f Fingerprint) String() string {
	var b strings.Builder
	b.WriteString(f.Hash)
	b.WriteByte(' ')
	for i, x := range f.Value {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{x})))
	}
	return b.String()
}

// DTLS is the outcome of DTLS-SRTP keying: our role in the handshake and
// the fingerprints the peer's certificate must match (any one of them).
// It is zero when the stream is not keyed by DTLS.
type DTLS struct {
	Role         Setup // SetupActive (we are the DTLS client) or SetupPassive
	Fingerprints []Fingerprint
}

// Enabled reports whether the stream is keyed by DTLS-SRTP.
func (d DTLS) Enabled() bool { return len(d.Fingerprints) > 0 }

// String names the keying and our role.
func (d DTLS) String() string {
	if !d.Enabled() {
		return "none"
	}
	return "dtls-srtp (" + d.Role.String() + ")"
}

// LogValue logs the keying and role.
func (d DTLS) LogValue() slog.Value { return slog.StringValue(d.String()) }

// Secure reports whether the negotiated stream is SRTP, keyed either way.
func (n Negotiated) Secure() bool { return n.SRTP.Enabled() || n.DTLS.Enabled() }

// isDTLSProto reports whether proto is DTLS-SRTP's (RFC 5764 §8).
func isDTLSProto(proto string) bool {
	p := strings.ToUpper(proto)
	return p == "UDP/TLS/RTP/SAVP" || p == "UDP/TLS/RTP/SAVPF"
}

// dtlsAttrs returns a description's DTLS-SRTP lines for media m: its
// fingerprints (media level, else session level) and setup (likewise).
// Unusable fingerprint lines are skipped; ferr says why the first was
// refused when none was usable. A bad or contradictory a=setup at either
// level is serr. has reports whether any fingerprint line was there.
func dtlsAttrs(s *Session, m *Media) (fps []Fingerprint, setup Setup, has bool, err error) {
	type lines struct {
		fps   []Fingerprint
		setup Setup
		has   bool
		ferr  error
		serr  error
	}
	read := func(attrs []Attr) (r lines) {
		for _, a := range attrs {
			switch strings.ToLower(a.Key) {
			case "fingerprint":
				r.has = true
				f, err := ParseFingerprint(a.Value)
				if err != nil {
					if r.ferr == nil {
						r.ferr = err
					}
					continue
				}
				r.fps = append(r.fps, f)
			case "setup":
				v, err := ParseSetup(a.Value)
				switch {
				case err != nil:
					r.serr = err
				case r.setup != SetupNone && r.setup != v:
					r.serr = &DTLSError{Reason: "two different a=setup lines"}
				default:
					r.setup = v
				}
			}
		}
		if len(r.fps) > 0 {
			r.ferr = nil
		}
		return r
	}
	med := read(m.Attrs)
	var ses lines
	if s != nil {
		ses = read(s.Attrs)
	}
	if med.serr != nil {
		return nil, SetupNone, med.has || ses.has, med.serr
	}
	if med.setup == SetupNone {
		if ses.serr != nil {
			return nil, SetupNone, med.has || ses.has, ses.serr
		}
		med.setup = ses.setup
	}
	if !med.has {
		med.fps, med.has, med.ferr = ses.fps, ses.has, ses.ferr
	}
	return med.fps, med.setup, med.has, med.ferr
}

// dtlsLines returns our a=setup and a=fingerprint for a description.
func (l Local) dtlsLines(setup Setup) []Attr {
	return []Attr{{Key: "setup", Value: setup.String()}, {Key: "fingerprint", Value: l.Fingerprint.String()}}
}

// offersDTLS reports whether our description offers DTLS-SRTP.
func (l Local) offersDTLS() bool {
	return l.SRTP != SRTPOff && l.Keying.dtls() && l.Fingerprint.Valid()
}

// takes reports whether we can take part in an offered stream: a
// DTLS-SRTP profile only when our keying allows DTLS.
func (l Local) takes(m *Media) bool {
	return acceptable(m) && (!isDTLSProto(m.Proto) || l.offersDTLS())
}

// answerKeying chooses the keying of an offered stream under our policy:
// DTLS-SRTP when the offer has a usable fingerprint and our keying
// allows it, else SDES (answerCrypto), else plain where the policy
// allows it. A refused stream gets an error wrapping ErrInsecure.
func (l Local) answerKeying(offer *Session, om *Media) (SRTP, DTLS, error) {
	dproto := isDTLSProto(om.Proto)
	if !l.offersDTLS() {
		if dproto {
			return SRTP{}, DTLS{}, fmt.Errorf("%s offered and DTLS-SRTP is not enabled: %w", om.Proto, ErrInsecure)
		}
		if l.Keying == KeyingDTLS {
			l.Crypto = nil // no SDES keys: take no a=crypto
		}
		sec, err := l.answerCrypto(om)
		return sec, DTLS{}, err
	}
	fps, setup, _, derr := dtlsAttrs(offer, om)
	if derr == nil && len(fps) > 0 {
		role, err := answerRole(setup, l.DTLSRole)
		if err != nil {
			return SRTP{}, DTLS{}, fmt.Errorf("%w: %w", err, ErrInsecure)
		}
		return SRTP{}, DTLS{Role: role, Fingerprints: fps}, nil
	}
	why := "no a=fingerprint"
	if derr != nil {
		why = derr.Error()
	}
	switch {
	case dproto:
		return SRTP{}, DTLS{}, fmt.Errorf("%s offered: %s: %w", om.Proto, why, ErrInsecure)
	case l.Keying == KeyingDTLS:
		if isSAVP(om.Proto) || l.SRTP == SRTPRequired {
			return SRTP{}, DTLS{}, fmt.Errorf("%s offered without usable DTLS-SRTP (%s): %w", om.Proto, why, ErrInsecure)
		}
		return SRTP{}, DTLS{}, nil // optional: plain
	}
	sec, err := l.answerCrypto(om)
	return sec, DTLS{}, err
}

// answerRole is our role as answerer (RFC 5763 §5): active unless the
// offerer insists on it, or unless an association already runs with us
// as the server (a re-offer keeps it).
func answerRole(offered, current Setup) (Setup, error) {
	switch offered {
	case SetupActive:
		return SetupPassive, nil
	case SetupPassive:
		return SetupActive, nil
	case SetupHoldConn:
		return SetupNone, &DTLSError{Reason: "a=setup:holdconn offered"}
	case SetupNone:
		// RFC 4145 §4: absent means active.
		return SetupPassive, nil
	}
	if current == SetupPassive {
		return SetupPassive, nil
	}
	return SetupActive, nil
}

// acceptKeying reads the keying of an answered stream: DTLS-SRTP when we
// offered a fingerprint and the answer carries a usable one with a role
// (RFC 5763 §5: active, passive, or absent meaning active), else what
// acceptCrypto makes of it; a plain answer to a secure profile is
// refused.
func acceptKeying(answer *Session, om, am *Media) (SRTP, DTLS, error) {
	offeredFP := false
	for _, a := range om.Attrs {
		if strings.EqualFold(a.Key, "fingerprint") {
			offeredFP = true
		}
	}
	secure := isSAVP(om.Proto) || isSAVP(am.Proto)
	if offeredFP {
		fps, setup, has, derr := dtlsAttrs(answer, am)
		if derr == nil && len(fps) > 0 {
			var role Setup
			switch setup {
			case SetupActive, SetupNone, SetupActPass:
				// actpass is not an answer's (RFC 5763 §5), but baresip
				// 1.0 answers re-INVITEs with it: read it as the
				// answerer's default, active.
				role = SetupPassive
			case SetupPassive:
				role = SetupActive
			default:
				return SRTP{}, DTLS{}, fmt.Errorf("answer a=setup:%s: %w", setup, ErrInsecure)
			}
			return SRTP{}, DTLS{Role: role, Fingerprints: fps}, nil
		}
		if has || derr != nil {
			why := "no usable a=fingerprint"
			if derr != nil {
				why = derr.Error()
			}
			return SRTP{}, DTLS{}, fmt.Errorf("answer: %s: %w", why, ErrInsecure)
		}
	}
	sec, err := acceptCrypto(om, am)
	if err != nil {
		return SRTP{}, DTLS{}, err
	}
	if !sec.Enabled() && secure {
		return SRTP{}, DTLS{}, fmt.Errorf("plain answer to an %s offer: %w", om.Proto, ErrInsecure)
	}
	return sec, DTLS{}, nil
}
