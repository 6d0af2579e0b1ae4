package sip

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/deskphone/phone/voip/media"
	"github.com/deskphone/phone/voip/media/dtlssrtp"
	msrtp "github.com/deskphone/phone/voip/media/srtp"
	"github.com/deskphone/phone/voip/sdp"
)

// DTLS-SRTP keying of a call (RFC 5763, RFC 5764): the SDP carries our
// certificate's fingerprint and our role; the handshake runs on the
// call's media socket(s) once the offer/answer is done, and the media
// session sends nothing until it has keyed SRTP. A handshake that fails,
// or a peer certificate that matches none of its SDP's fingerprints, ends
// the call: it never goes on in plain RTP.

// dtlsIdentity is the UA's DTLS certificate, made on first use and kept
// in memory for the UA's life (see voip/media/dtlssrtp).
type dtlsIdentity struct {
	once sync.Once
	c    *dtlssrtp.Certificate
	err  error
}

// dtlsCert returns the UA's certificate, making it the first time.
func (u *UA) dtlsCert() (*dtlssrtp.Certificate, error) {
	u.dtls.once.Do(func() { u.dtls.c, u.dtls.err = dtlssrtp.NewCertificate() })
	return u.dtls.c, u.dtls.err
}

// dtlsFingerprint is our certificate's fingerprint for the SDP, zero when
// the policy does not use DTLS (or the key could not be made: then no
// DTLS is offered, and a DTLS-only policy gets no secure call at all).
func (c *Call) dtlsFingerprintLocked() sdp.Fingerprint {
	if c.policyLocked() == sdp.SRTPOff || c.keyingLocked() == sdp.KeyingSDES {
		return sdp.Fingerprint{}
	}
	cert, err := c.ua.dtlsCert()
	if err != nil {
		c.log.Warn("no DTLS certificate", "err", err)
		return sdp.Fingerprint{}
	}
	return cert.Fingerprint()
}

// keyingLocked is the keying of our next description: the configured one
// until the first offer/answer, then the call's own.
func (c *Call) keyingLocked() sdp.Keying {
	switch {
	case !c.sec.fixed:
		return c.ua.cfg.SRTPKeying
	case c.sec.dtls != nil:
		return sdp.KeyingDTLS
	}
	return sdp.KeyingSDES
}

// dtlsRoleLocked is our role in the running association, for the answer
// to a re-offer; SetupNone without one.
func (c *Call) dtlsRoleLocked() sdp.Setup {
	if c.sec.dtls == nil {
		return sdp.SetupNone
	}
	return c.sec.dtlsNeg.Role
}

// checkDTLSLocked refuses a re-negotiation that changes the keying method
// or the peer's fingerprints: a new association would need a new
// handshake, which we do not run mid-call.
func (c *Call) checkDTLSLocked(n sdp.Negotiated) error {
	if !c.sec.fixed || !c.sec.secure {
		return nil
	}
	if (c.sec.dtls != nil) != n.DTLS.Enabled() {
		return fmt.Errorf("sip: SRTP keying changed in a re-negotiation: %w", sdp.ErrInsecure)
	}
	if c.sec.dtls == nil {
		return nil
	}
	if len(n.DTLS.Fingerprints) != len(c.sec.dtlsNeg.Fingerprints) {
		return fmt.Errorf("sip: DTLS fingerprint changed in a re-negotiation: %w", sdp.ErrInsecure)
	}
	for i, f := range n.DTLS.Fingerprints {
		g := c.sec.dtlsNeg.Fingerprints[i]
		if f.Hash != g.Hash || !bytes.Equal(f.Value, g.Value) {
			return fmt.Errorf("sip: DTLS fingerprint changed in a re-negotiation: %w", sdp.ErrInsecure)
		}
	}
	return nil
}

// dtlsMedia is a call's DTLS-SRTP: one Transport per media socket (RTP,
// and RTCP without rtcp-mux, RFC 5764 §4.1), together the media
// session's Protector.
type dtlsMedia struct {
	rtp, rtcp *dtlssrtp.Transport
}

func (d *dtlsMedia) rtcpT() *dtlssrtp.Transport {
	if d.rtcp != nil {
		return d.rtcp
	}
	return d.rtp
}

func (d *dtlsMedia) ProtectRTP(dst, pkt []byte) ([]byte, error) { return d.rtp.ProtectRTP(dst, pkt) }
func (d *dtlsMedia) UnprotectRTP(dst, pkt []byte) ([]byte, error) {
	return d.rtp.UnprotectRTP(dst, pkt)
}
func (d *dtlsMedia) ProtectRTCP(dst, pkt []byte) ([]byte, error) {
	return d.rtcpT().ProtectRTCP(dst, pkt)
}
func (d *dtlsMedia) UnprotectRTCP(dst, pkt []byte) ([]byte, error) {
	return d.rtcpT().UnprotectRTCP(dst, pkt)
}

// Close stops both Transports.
func (d *dtlsMedia) Close() {
	if d.rtcp != nil {
		d.rtcp.Close()
	}
	d.rtp.Close()
}

// Stats are the RTP component's SRTP counters plus the RTCP one's.
func (d *dtlsMedia) Stats() msrtp.Stats {
	s := d.rtp.Stats()
	if d.rtcp != nil {
		r := d.rtcp.Stats()
		s.Protected += r.Protected
		s.Unprotected += r.Unprotected
		s.AuthFailed += r.AuthFailed
		s.Replayed += r.Replayed
	}
	return s
}

var _ media.Protector = (*dtlsMedia)(nil)

// startDTLS starts the handshakes of a DTLS-keyed negotiation on the
// mapping's sockets and points cfg (the media session's) at them: their
// demultiplexing Conns and their Protector. It returns nil for a stream
// not keyed by DTLS.
func (c *Call) startDTLS(neg sdp.Negotiated, cfg *media.Config) (*dtlsMedia, error) {
	if !neg.DTLS.Enabled() {
		return nil, nil
	}
	cert, err := c.ua.dtlsCert()
	if err != nil {
		return nil, fmt.Errorf("sip: dtls certificate: %w", err)
	}
	d := &dtlsMedia{}
	d.rtp, err = dtlssrtp.New(dtlssrtp.Config{
		Conn: cfg.Conn, Remote: neg.Remote, Role: neg.DTLS.Role, Fingerprints: neg.DTLS.Fingerprints,
		Certificate: cert, Logger: c.log, Timeout: c.ua.cfg.dtlsTimeout, Suites: c.ua.cfg.SRTPSuites,
		OnDone: func(err error) {
			if err != nil && !errors.Is(err, dtlssrtp.ErrClosed) {
				c.ua.goFn(func() { c.dtlsFailed(err) })
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("sip: dtls: %w", err)
	}
	cfg.Conn = d.rtp.Conn()
	if cfg.RTCPConn != nil {
		d.rtcp, err = dtlssrtp.New(dtlssrtp.Config{
			Conn: cfg.RTCPConn, Remote: neg.RemoteRTCP, Role: neg.DTLS.Role, Fingerprints: neg.DTLS.Fingerprints,
			Certificate: cert, Logger: c.log.With("component_id", 2), Timeout: c.ua.cfg.dtlsTimeout, Suites: c.ua.cfg.SRTPSuites,
			// RTCP's own association failing leaves RTCP unsent and
			// dropped (never plain); the call goes on on RTP's.
		})
		if err != nil {
			d.rtp.Close()
			return nil, fmt.Errorf("sip: dtls rtcp: %w", err)
		}
		cfg.RTCPConn = d.rtcp.Conn()
	}
	cfg.Protector = d
	return d, nil
}

// dtlsFailed ends a call whose DTLS-SRTP handshake failed.
func (c *Call) dtlsFailed(err error) {
	reason := "SRTP refused: DTLS-SRTP: " + err.Error()
	c.mu.Lock()
	st := c.state
	// A 2xx received or sent: the dialog is up, though the state may
	// not say talking yet (it does once applyNeg returns).
	answered := c.confirmed || c.okRes != nil
	if st != StateEnded {
		c.sec.failure = reason
	}
	c.mu.Unlock()
	c.log.Warn("dtls-srtp failed: ending the call", "err", err)
	switch {
	case st == StateEnded:
	case answered:
		c.bye(c.ua.ctx, reason, false)
	case c.dir == Outgoing: // early media (183)
		c.cancel(0, reason)
	default: // our early media, before we answered
		_ = c.Reject(488)
	}
}

// dtlsHandshakeGrace is how much longer the media-liveness rule waits
// for the far end's media while the DTLS handshake runs: the far end's
// first records may have met our NAT before our own packets opened it,
// and DTLS retransmits after 1 s (RFC 6347 §4.2.4.1). Moving the call to
// the relay mid-handshake would break the handshake.
const dtlsHandshakeGrace = 3 * time.Second

// dtlsHeard reports whether the far end's DTLS records reach the call's
// RTP socket directly: the direct path works, as when its media does.
func (c *Call) dtlsHeard() bool {
	c.mu.Lock()
	d := c.sec.dtls
	c.mu.Unlock()
	return d != nil && d.rtp.Heard()
}

// dtlsGrace is the liveness rule's extra wait while a handshake runs.
func (c *Call) dtlsGrace() time.Duration {
	c.mu.Lock()
	d := c.sec.dtls
	c.mu.Unlock()
	if d == nil || d.rtp.Secured() {
		return 0
	}
	return dtlsHandshakeGrace
}

// closeDTLS stops the call's DTLS Transports (after its media session).
func (c *Call) closeDTLS() {
	c.mu.Lock()
	d := c.sec.dtls
	c.mu.Unlock()
	if d != nil {
		d.Close()
	}
}
