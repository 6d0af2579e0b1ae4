package sip

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	msrtp "github.com/deskphone/phone/voip/media/srtp"
	"github.com/deskphone/phone/voip/sdp"
)

// callSec is a call's media security (SRTP with SDES keys, RFC 4568):
// our keys, and what the first offer/answer fixed. Guarded by Call.mu.
// The keys are never logged: sdp.Crypto and sdp.SRTP print only their
// suite.
type callSec struct {
	keys    []sdp.Crypto // ours, one per suite, for the next description
	fixed   bool         // the first offer/answer decided secure or plain
	secure  bool
	savp    bool     // negotiated on RTP/SAVP (our re-offers keep it)
	current sdp.SRTP // the keys in effect
	prot    *msrtp.Session
	failure string     // why our SRTP policy ended the call (EndReason)
	dtls    *dtlsMedia // DTLS-SRTP keying (call_dtls.go); nil with SDES
	dtlsNeg sdp.DTLS   // its role and the peer's fingerprints
}

// CallSecurity is the media security of a call in CallStats: the SRTP
// suite, keying ("sdes") and counters; whether the signalling that
// carried the keys was TLS, and KeysInClear when it was not (allowed by
// Config.SRTPOverInsecure). The keys themselves are never shown.
type CallSecurity struct {
	msrtp.Stats
	TLSSignalling bool `json:"tls_signalling"`
	KeysInClear   bool `json:"keys_in_clear,omitempty"`
}

// newKeys draws a fresh master key and salt for every suite we offer
// (the line's SRTPSuites, in its order), from crypto/rand.
func newKeys(suites []string) []sdp.Crypto {
	out := make([]sdp.Crypto, 0, len(suites))
	for _, s := range suites {
		k, sl, _ := sdp.SuiteKeyLen(s)
		key := make([]byte, k+sl)
		rand.Read(key) // never fails (crypto/rand, Go 1.24+)
		out = append(out, sdp.Crypto{Suite: s, Key: key})
	}
	return out
}

// policyLocked is the SRTP policy of our next description: the
// configured one until the first offer/answer, then the call's own, so
// a re-INVITE keeps the call secure (and on its profile) or plain.
func (c *Call) policyLocked() sdp.Policy {
	switch {
	case !c.sec.fixed:
		return c.ua.cfg.SRTP
	case !c.sec.secure:
		return sdp.SRTPOff
	case c.sec.savp:
		return sdp.SRTPRequired
	}
	return sdp.SRTPOptional
}

// cryptoLocked returns our keys, drawing them on first use.
func (c *Call) cryptoLocked() []sdp.Crypto {
	if c.policyLocked() == sdp.SRTPOff {
		return nil
	}
	if c.sec.keys == nil {
		c.sec.keys = newKeys(c.ua.cfg.SRTPSuites)
	}
	return c.sec.keys
}

// rekeyForOfferLocked draws fresh keys of ours before we answer a
// re-offer whose a=crypto no longer carries the key the peer sends with
// now: a re-INVITE that changes the keys changes them both ways.
func (c *Call) rekeyForOfferLocked(offer *sdp.Session) {
	if !c.sec.secure {
		return
	}
	for i := range offer.Media {
		cs, _ := offer.Media[i].Cryptos()
		for _, k := range cs {
			if k.Suite == c.sec.current.Suite && bytes.Equal(k.Key, c.sec.current.Remote.Key) {
				return
			}
		}
	}
	c.sec.keys = newKeys(c.ua.cfg.SRTPSuites)
}

// checkSecLocked refuses an offer/answer that would turn a secure call
// plain (or a plain call secure) after the first one fixed it.
func (c *Call) checkSecLocked(n sdp.Negotiated) error {
	if !c.sec.fixed || c.sec.secure == n.Secure() {
		return c.checkDTLSLocked(n)
	}
	if c.sec.secure {
		return fmt.Errorf("sip: SRTP call re-negotiated to plain RTP: %w", sdp.ErrInsecure)
	}
	return fmt.Errorf("sip: plain call re-negotiated to SRTP: %w", sdp.ErrInsecure)
}

// applySecLocked records the security of a negotiation in effect and
// rekeys the running protector when the keys changed. prot is the
// protector of a media session about to be created (nil if plain or if
// the session exists).
func (c *Call) applySecLocked(n sdp.Negotiated, prot *msrtp.Session) error {
	if !c.sec.fixed {
		c.sec.fixed, c.sec.secure = true, n.Secure()
		if ls := c.localSDP; ls != nil && n.Index < len(ls.Media) {
			p := strings.ToUpper(ls.Media[n.Index].Proto)
			c.sec.savp = strings.HasSuffix(p, "RTP/SAVP") || strings.HasSuffix(p, "RTP/SAVPF")
		}
	}
	if !c.sec.secure {
		return nil
	}
	if prot != nil {
		c.sec.prot, c.sec.current = prot, n.SRTP
		return nil
	}
	if c.sec.prot == nil || msrtp.Same(c.sec.current, n.SRTP) {
		return nil
	}
	if err := c.sec.prot.Rekey(n.SRTP); err != nil {
		return fmt.Errorf("sip: srtp rekey: %w", err)
	}
	c.sec.current = n.SRTP
	c.log.Info("srtp rekeyed", "suite", n.SRTP.Suite)
	return nil
}

// securityLocked is the CallStats view of the call's SRTP; nil for a
// plain call.
func (c *Call) securityLocked() *CallSecurity {
	if c.sec.prot == nil && c.sec.dtls == nil {
		return nil
	}
	tls := strings.EqualFold(c.ua.cfg.Account.Transport, "tls")
	if c.dir == Incoming && c.inviteReq != nil {
		tls = strings.EqualFold(c.inviteReq.Transport(), "TLS")
	}
	if c.sec.dtls != nil {
		// DTLS-SRTP keys never travel in the signalling.
		return &CallSecurity{Stats: c.sec.dtls.Stats(), TLSSignalling: tls}
	}
	return &CallSecurity{Stats: c.sec.prot.Stats(), TLSSignalling: tls, KeysInClear: !tls}
}

// negFailure is the EndReason of a call whose offer/answer failed.
func negFailure(what string, err error) string {
	if errors.Is(err, sdp.ErrInsecure) || errors.Is(err, sdp.ErrCrypto) || errors.Is(err, sdp.ErrDTLS) {
		return "SRTP refused: " + err.Error()
	}
	return what
}
