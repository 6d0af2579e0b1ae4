package sdp

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/bits"
	"strconv"
	"strings"
)

// SDES keying of SRTP (RFC 4568): the a=crypto attribute.
//
//	a=crypto:<tag> <crypto-suite> <key-params> [<session-param>]*
//	key-params = "inline:" <key||salt base64> ["|" lifetime] ["|" MKI ":" length]
//
// Each side's a=crypto carries the key that side sends with (RFC 4568
// §6.1): the answerer decrypts with the offerer's key and answers with a
// key of its own, under the tag and suite of the offered line it chose.

// The crypto suites we support.
const (
	SuiteAES128CMSHA1_80 = "AES_CM_128_HMAC_SHA1_80" // RFC 4568 §6.2.1
	SuiteAES128CMSHA1_32 = "AES_CM_128_HMAC_SHA1_32" // RFC 4568 §6.2.2
	SuiteAEADAES128GCM   = "AEAD_AES_128_GCM"        // RFC 7714 §14.2
)

// Suites are the crypto suites we support, in our order of preference.
var Suites = []string{SuiteAEADAES128GCM, SuiteAES128CMSHA1_80, SuiteAES128CMSHA1_32}

// SuiteKeyLen returns the length in bytes of a suite's master key and
// master salt, and false for a suite we do not support.
func SuiteKeyLen(suite string) (key, salt int, ok bool) {
	switch suite {
	case SuiteAES128CMSHA1_80, SuiteAES128CMSHA1_32:
		return 16, 14, true
	case SuiteAEADAES128GCM:
		return 16, 12, true // RFC 7714 §12: 96-bit master salt
	}
	return 0, 0, false
}

// Policy says whether a line uses SRTP.
type Policy int

const (
	// SRTPOff offers plain RTP and ignores a=crypto in offers and answers:
	// a stream offered as RTP/SAVP is refused.
	SRTPOff Policy = iota
	// SRTPOptional offers RTP/AVP with a=crypto lines (best effort) and
	// takes either a crypto or a plain answer; offered crypto is used.
	SRTPOptional
	// SRTPRequired offers RTP/SAVP and refuses plain media both ways.
	SRTPRequired
)

// String returns the policy's config spelling.
func (p Policy) String() string {
	switch p {
	case SRTPOff:
		return "off"
	case SRTPOptional:
		return "optional"
	case SRTPRequired:
		return "required"
	}
	return "policy(" + strconv.Itoa(int(p)) + ")"
}

// ParsePolicy reads "off", "optional" or "required"; "" is off.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "", "off":
		return SRTPOff, nil
	case "optional":
		return SRTPOptional, nil
	case "required":
		return SRTPRequired, nil
	}
	return 0, fmt.Errorf("sdp: srtp policy %q: want off, optional or required", s)
}

// maxLifetime is the largest SRTP key lifetime (RFC 3711 §9.2: 2^48
// packets).
const maxLifetime = 1 << 48

// Crypto is one a=crypto attribute with a single key. String and
// LogValue never show the key; Value is the attribute text.
type Crypto struct {
	Tag   uint32 // 1-9 digits (RFC 4568 §9.1)
	Suite string
	// Key is the master key followed by the master salt, of the
	// suite's lengths.
	Key []byte
	// Lifetime is the number of packets the key may protect; 0 when not
	// given (the suite's maximum, RFC 3711 §9.2).
	Lifetime uint64
	// MKI is the master key identifier of the given length, nil when the
	// key has none (RFC 3711 §3.1).
	MKI []byte
	// Params are the session parameters we accept and ignore (WSH).
	Params []string
}

// String describes the line without its key.
func (c Crypto) String() string {
	return strconv.FormatUint(uint64(c.Tag), 10) + " " + c.Suite + " inline:[redacted]"
}

// LogValue keeps the key out of structured logs.
func (c Crypto) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Value returns the attribute value (after "a=crypto:"), with the key.
func (c Crypto) Value() string {
	var b strings.Builder
	b.WriteString(strconv.FormatUint(uint64(c.Tag), 10))
	b.WriteString(" ")
	b.WriteString(c.Suite)
	b.WriteString(" inline:")
	b.WriteString(base64.StdEncoding.EncodeToString(c.Key))
	if c.Lifetime != 0 {
		b.WriteString("|")
		if c.Lifetime&(c.Lifetime-1) == 0 {
			b.WriteString("2^" + strconv.Itoa(bits.TrailingZeros64(c.Lifetime)))
		} else {
			b.WriteString(strconv.FormatUint(c.Lifetime, 10))
		}
	}
	if c.MKI != nil {
		var v uint64
		for _, x := range c.MKI {
			v = v<<8 | uint64(x)
		}
		b.WriteString("|" + strconv.FormatUint(v, 10) + ":" + strconv.Itoa(len(c.MKI)))
	}
	for _, p := range c.Params {
		b.WriteString(" " + p)
	}
	return b.String()
}

// Attr returns the a=crypto attribute.
func (c Crypto) Attr() Attr { return Attr{Key: "crypto", Value: c.Value()} }

// CryptoError says why an a=crypto line cannot be used. Its text never
// holds the key.
type CryptoError struct {
	Tag    string // the line's tag, "" if unreadable
	Reason string
	Err    error // ErrCrypto or ErrUnknownSuite
}

func (e *CryptoError) Error() string {
	if e.Tag == "" {
		return "sdp: a=crypto: " + e.Reason
	}
	return "sdp: a=crypto tag " + e.Tag + ": " + e.Reason
}

// Unwrap returns ErrCrypto or ErrUnknownSuite.
func (e *CryptoError) Unwrap() error { return e.Err }

// ParseCrypto parses an a=crypto value (RFC 4568 §9.1) of a suite we
// support. It refuses, with a *CryptoError, an unknown suite
// (ErrUnknownSuite), more than one key, a key or salt of the wrong
// length, bad base64, an MKI longer than 4 bytes, and session parameters
// that weaken the protection or that we do not implement
// (UNENCRYPTED_SRTP, UNENCRYPTED_SRTCP, UNAUTHENTICATED_SRTP, KDR,
// FEC_ORDER, FEC_KEY); WSH is accepted.
func ParseCrypto(v string) (Crypto, error) {
	f := strings.Fields(v)
	bad := func(tag, reason string) (Crypto, error) {
		return Crypto{}, &CryptoError{Tag: tag, Reason: reason, Err: ErrCrypto}
	}
	if len(f) < 3 {
		return bad("", "needs a tag, a suite and key parameters")
	}
	tagS := f[0]
	if len(tagS) > 9 || !isDigits(tagS) {
		return bad("", "bad tag")
	}
	tag, _ := strconv.ParseUint(tagS, 10, 32)
	c := Crypto{Tag: uint32(tag), Suite: f[1]}
	keyLen, saltLen, ok := SuiteKeyLen(f[1])
	if !ok {
		name := f[1]
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		return Crypto{}, &CryptoError{Tag: tagS, Reason: "unsupported suite " + strconv.Quote(name), Err: ErrUnknownSuite}
	}
	if strings.Contains(f[2], ";") {
		return bad(tagS, "more than one key (several master keys need MKIs we do not rotate)")
	}
	method, info, ok := strings.Cut(f[2], ":")
	if !ok || !strings.EqualFold(method, "inline") {
		return bad(tagS, "key method is not inline")
	}
	parts := strings.Split(info, "|")
	if len(parts) > 3 {
		return bad(tagS, "too many key fields")
	}
	key, err := base64.StdEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		key, err = base64.RawStdEncoding.Strict().DecodeString(parts[0])
	}
	if err != nil {
		return bad(tagS, "key is not base64")
	}
	if len(key) != keyLen+saltLen {
		return bad(tagS, fmt.Sprintf("key and salt are %d bytes, %s needs %d", len(key), c.Suite, keyLen+saltLen))
	}
	c.Key = key
	for _, p := range parts[1:] {
		if mv, ml, isMKI := strings.Cut(p, ":"); isMKI {
			if c.MKI != nil {
				return bad(tagS, "two MKIs")
			}
			n, ok := atoi(ml, 128)
			if !ok || n == 0 {
				return bad(tagS, "bad MKI length")
			}
			if n > 4 {
				return bad(tagS, "MKI longer than 4 bytes is not supported")
			}
			val, err := strconv.ParseUint(mv, 10, 32)
			if err != nil || !isDigits(mv) || (n < 4 && val >= 1<<(8*n)) {
				return bad(tagS, "MKI value does not fit its length")
			}
			c.MKI = make([]byte, n)
			for i := n - 1; i >= 0; i-- {
				c.MKI[i] = byte(val)
				val >>= 8
			}
			continue
		}
		if c.Lifetime != 0 || c.MKI != nil {
			return bad(tagS, "lifetime after MKI or twice")
		}
		lt, ok := parseLifetime(p)
		if !ok {
			return bad(tagS, "bad key lifetime")
		}
		c.Lifetime = lt
	}
	for _, p := range f[3:] {
		name, _, _ := strings.Cut(p, "=")
		switch name {
		case "WSH":
			if _, ok := atoi(strings.TrimPrefix(p, "WSH="), 1<<30); !ok || !strings.HasPrefix(p, "WSH=") {
				return bad(tagS, "bad WSH")
			}
			c.Params = append(c.Params, p)
		case "UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP":
			return bad(tagS, name+" refused: it weakens the protection")
		default:
			if len(name) > 20 {
				name = name[:20] + "..."
			}
			return bad(tagS, "session parameter "+strconv.Quote(name)+" is not supported")
		}
	}
	return c, nil
}

// parseLifetime reads "2^n" or a decimal number of packets, 1..2^48.
func parseLifetime(s string) (uint64, bool) {
	if e, ok := strings.CutPrefix(s, "2^"); ok {
		n, ok := atoi(e, 48)
		if !ok {
			return 0, false
		}
		return 1 << n, true
	}
	if !isDigits(s) || len(s) > 15 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 || v > maxLifetime {
		return 0, false
	}
	return v, true
}

// Cryptos returns the a=crypto lines of a media section in order: the
// usable ones and, separately, why each other was refused.
func (m *Media) Cryptos() ([]Crypto, []error) {
	var out []Crypto
	var errs []error
	for _, a := range m.Attrs {
		if a.Key != "crypto" {
			continue
		}
		c, err := ParseCrypto(a.Value)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	return out, errs
}

// SRTP is the outcome of SDES keying: the suite and each direction's
// key. It is zero when the stream is plain RTP. String and LogValue
// never show the keys.
type SRTP struct {
	Suite  string
	Local  Crypto // the key we send with
	Remote Crypto // the key the peer sends with
}

// Enabled reports whether the stream is SRTP.
func (s SRTP) Enabled() bool { return s.Suite != "" }

// String names the suite only.
func (s SRTP) String() string {
	if !s.Enabled() {
		return "plain"
	}
	return s.Suite + " (sdes)"
}

// LogValue keeps the keys out of structured logs.
func (s SRTP) LogValue() slog.Value { return slog.StringValue(s.String()) }

// isSAVP reports whether proto is a secure RTP profile.
func isSAVP(proto string) bool {
	p := strings.ToUpper(proto)
	return p == "RTP/SAVP" || p == "RTP/SAVPF" || isDTLSProto(p)
}
