package srtp

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pion "github.com/pion/srtp/v3"
	"github.com/pion/transport/v5/replaydetector"

	"github.com/deskphone/phone/voip/sdp"
)

// PrevKeyPackets is how many packets the previous key of the peer may
// still decrypt after a Rekey, for those in flight while the re-INVITE's
// answer travels (at 20 ms packets, one second).
const PrevKeyPackets = 50

// ReplayWindow is the replay protection window in packets, for SRTP and
// SRTCP (RFC 3711 §3.3.2 asks for at least 64).
const ReplayWindow = 128

// Errors returned by the Unprotect methods; the packet is to be dropped.
var (
	// ErrNotSecured means the Session was built for plain RTP.
	ErrNotSecured = errors.New("srtp: no keys")
	// ErrAuth means the packet failed authentication (or was too short
	// or malformed to check).
	ErrAuth = errors.New("srtp: authentication failed")
	// ErrReplay means the packet was already received, or is older than
	// the replay window.
	ErrReplay = errors.New("srtp: replayed packet")
	// ErrExpired means the peer's key has protected more packets than the
	// lifetime its a=crypto line gave.
	ErrExpired = errors.New("srtp: key lifetime exceeded")
)

// Stats counts what a Session did.
type Stats struct {
	Suite       string `json:"suite"`  // e.g. AES_CM_128_HMAC_SHA1_80
	Keying      string `json:"keying"` // "sdes"
	Rekeys      int    `json:"rekeys,omitempty"`
	Protected   uint64 `json:"protected"`   // RTP and RTCP packets sent
	Unprotected uint64 `json:"unprotected"` // RTP and RTCP packets accepted
	AuthFailed  uint64 `json:"auth_failed"` // refused: bad tag, malformed, wrong key
	Replayed    uint64 `json:"replayed"`    // refused by the replay window
	Expired     uint64 `json:"expired,omitempty"`
}

// Session protects the packets of one media stream. Its methods are safe
// for concurrent use: sending and receiving have separate locks.
type Session struct {
	protected atomic.Uint64

	outMu  sync.Mutex // guards the fields below
	out    *pion.Context
	outHdr rtp.Header
	suite  string
	key    []byte // our current key, to tell whether Rekey changes it

	inMu     sync.Mutex // guards the fields below
	in       *inbound
	prev     *inbound // the previous key's context, until the new one is heard
	prevLeft int      // packets prev may still decrypt
	inHdr    rtp.Header
	rtcpHdr  rtcp.Header
	save     []byte // pkt as received, while a previous key may still be needed
	replayed uint64 // set by the replay detectors, read under inMu
	stats    Stats
}

// inbound is the peer's key's context.
type inbound struct {
	ctx      *pion.Context
	key      []byte
	lifetime uint64 // 0: none given
	used     uint64
	ssrc     uint32
	heard    bool
}

// New builds a Session from negotiated SDES keys.
func New(k sdp.SRTP) (*Session, error) {
	if !k.Enabled() {
		return nil, ErrNotSecured
	}
	s := &Session{}
	out, err := s.outbound(k)
	if err != nil {
		return nil, err
	}
	in, err := s.inbound(k)
	if err != nil {
		return nil, err
	}
	s.out, s.in, s.suite, s.key = out, in, k.Suite, bytes.Clone(k.Local.Key)
	s.stats = Stats{Suite: k.Suite, Keying: "sdes"}
	return s, nil
}

func profile(suite string) (pion.ProtectionProfile, error) {
	switch suite {
	case sdp.SuiteAES128CMSHA1_80:
		return pion.ProtectionProfileAes128CmHmacSha1_80, nil
	case sdp.SuiteAES128CMSHA1_32:
		return pion.ProtectionProfileAes128CmHmacSha1_32, nil
	case sdp.SuiteAEADAES128GCM:
		return pion.ProtectionProfileAeadAes128Gcm, nil
	}
	return 0, fmt.Errorf("srtp: suite %q: %w", suite, sdp.ErrUnknownSuite)
}

func context(suite string, c sdp.Crypto, opts ...pion.ContextOption) (*pion.Context, error) {
	p, err := profile(suite)
	if err != nil {
		return nil, err
	}
	kl, sl, _ := sdp.SuiteKeyLen(suite)
	if len(c.Key) != kl+sl {
		return nil, fmt.Errorf("srtp: %s key is %d bytes, want %d: %w", suite, len(c.Key), kl+sl, sdp.ErrCrypto)
	}
	if c.MKI != nil {
		opts = append(opts, pion.MasterKeyIndicator(c.MKI))
	}
	ctx, err := pion.CreateContext(c.Key[:kl], c.Key[kl:], p, opts...)
	if err != nil {
		return nil, fmt.Errorf("srtp: %s context: %w", suite, err)
	}
	return ctx, nil
}

func (s *Session) outbound(k sdp.SRTP) (*pion.Context, error) {
	local := k.Local
	local.MKI = nil // we never send an MKI
	return context(k.Suite, local)
}

// counting wraps a replay detector to count refusals. It keeps pion's
// allocation-free CheckAccepter API (a bare ReplayDetector would make
// pion allocate a closure per packet).
type counting struct {
	d  replaydetector.ReplayDetector
	ca replaydetector.CheckAccepter
	n  *uint64 // written under inMu: every Unprotect holds it
}

func newCounting(window uint, maxSeq uint64, n *uint64) *counting {
	d := replaydetector.New(window, maxSeq)
	ca, _ := d.(replaydetector.CheckAccepter) // pion's New implements it
	return &counting{d: d, ca: ca, n: n}
}

func (c *counting) Check(seq uint64) (func() bool, bool) {
	accept, ok := c.d.Check(seq)
	if !ok {
		*c.n++
	}
	return accept, ok
}

// CheckSeq implements replaydetector.CheckAccepter.
func (c *counting) CheckSeq(seq uint64) replaydetector.Token {
	tok := c.ca.CheckSeq(seq)
	if !tok.Passed() {
		*c.n++
	}
	return tok
}

// Accept implements replaydetector.CheckAccepter.
func (c *counting) Accept(tok replaydetector.Token) bool { return c.ca.Accept(tok) }

func (s *Session) inbound(k sdp.SRTP) (*inbound, error) {
	const maxIndex = 1<<48 - 1 // 32-bit ROC and 16-bit sequence (RFC 3711 §3.3.1)
	const maxSRTCP = 1<<31 - 1
	ctx, err := context(k.Suite, k.Remote,
		pion.SRTPReplayDetectorFactory(func() replaydetector.ReplayDetector {
			return newCounting(ReplayWindow, maxIndex, &s.replayed)
		}),
		pion.SRTCPReplayDetectorFactory(func() replaydetector.ReplayDetector {
			return newCounting(ReplayWindow, maxSRTCP, &s.replayed)
		}))
	if err != nil {
		return nil, err
	}
	return &inbound{ctx: ctx, key: bytes.Clone(k.Remote.Key), lifetime: k.Remote.Lifetime}, nil
}

// Same reports whether b has the suite and both keys of a: a re-INVITE
// that keeps them needs no Rekey.
func Same(a, b sdp.SRTP) bool {
	return a.Suite == b.Suite && bytes.Equal(a.Local.Key, b.Local.Key) && bytes.Equal(a.Remote.Key, b.Remote.Key) &&
		bytes.Equal(a.Remote.MKI, b.Remote.MKI)
}

// Rekey installs the keys of a new offer/answer. A direction whose key
// did not change keeps its context (and replay window). It returns
// ErrNotSecured for plain keys: a call does not fall back to plain RTP.
func (s *Session) Rekey(k sdp.SRTP) error {
	if !k.Enabled() {
		return ErrNotSecured
	}
	s.outMu.Lock()
	sameOut := k.Suite == s.suite && bytes.Equal(k.Local.Key, s.key)
	s.outMu.Unlock()
	var out *pion.Context
	if !sameOut {
		var err error
		if out, err = s.outbound(k); err != nil {
			return err
		}
	}
	s.inMu.Lock()
	sameIn := k.Suite == s.suite && bytes.Equal(k.Remote.Key, s.in.key)
	s.inMu.Unlock()
	var in *inbound
	if !sameIn {
		var err error
		if in, err = s.inbound(k); err != nil {
			return err
		}
	}
	if out != nil {
		s.outMu.Lock()
		// Keep the SRTP index of our stream: the sequence numbers go on.
		if roc, ok := s.out.ROC(s.outHdr.SSRC); ok {
			out.SetROC(s.outHdr.SSRC, roc)
		}
		s.out, s.key = out, bytes.Clone(k.Local.Key)
		s.outMu.Unlock()
	}
	s.inMu.Lock()
	if in != nil {
		if s.in.heard {
			if roc, ok := s.in.ctx.ROC(s.in.ssrc); ok {
				in.ctx.SetROC(s.in.ssrc, roc)
			}
		}
		s.prev, s.in, s.prevLeft = s.in, in, PrevKeyPackets
	}
	if in != nil || out != nil {
		s.stats.Rekeys++
	}
	s.suite, s.stats.Suite = k.Suite, k.Suite
	s.inMu.Unlock()
	s.outMu.Lock()
	s.suite = k.Suite
	s.outMu.Unlock()
	return nil
}

// ProtectRTP encrypts and authenticates the RTP packet pkt into dst
// (reused when it has the capacity: len(pkt) plus 16 bytes) and returns
// it.
func (s *Session) ProtectRTP(dst, pkt []byte) ([]byte, error) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	out, err := s.out.EncryptRTP(dst[:0], pkt, &s.outHdr)
	if err != nil {
		return nil, fmt.Errorf("srtp: protect rtp: %w", err)
	}
	s.protected.Add(1)
	return out, nil
}

// ProtectRTCP encrypts and authenticates a compound RTCP packet (SRTCP,
// RFC 3711 §3.4) into dst and returns it.
func (s *Session) ProtectRTCP(dst, pkt []byte) ([]byte, error) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	var h rtcp.Header
	out, err := s.out.EncryptRTCP(dst[:0], pkt, &h)
	if err != nil {
		return nil, fmt.Errorf("srtp: protect rtcp: %w", err)
	}
	s.protected.Add(1)
	return out, nil
}

// UnprotectRTP authenticates and decrypts an SRTP packet into dst, which
// may be pkt[:0] (in place), and returns the RTP packet. A packet that
// fails gets ErrAuth, ErrReplay or ErrExpired and is counted.
func (s *Session) UnprotectRTP(dst, pkt []byte) ([]byte, error) {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	return s.unprotectLocked(dst, pkt, false)
}

// UnprotectRTCP is UnprotectRTP for SRTCP.
func (s *Session) UnprotectRTCP(dst, pkt []byte) ([]byte, error) {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	return s.unprotectLocked(dst, pkt, true)
}

func (s *Session) unprotectLocked(dst, pkt []byte, isRTCP bool) ([]byte, error) {
	try := func(in *inbound) ([]byte, error) {
		if in.lifetime != 0 && in.used >= in.lifetime {
			return nil, ErrExpired
		}
		var b []byte
		var err error
		if isRTCP {
			b, err = in.ctx.DecryptRTCP(dst[:0], pkt, &s.rtcpHdr)
		} else {
			b, err = in.ctx.DecryptRTP(dst[:0], pkt, &s.inHdr)
		}
		if err != nil {
			return nil, err
		}
		in.used++
		if !isRTCP {
			in.ssrc, in.heard = s.inHdr.SSRC, true
		}
		return b, nil
	}
	// A failed in-place decryption may have overwritten pkt (AEAD Open
	// does): keep a copy while the previous key may still be needed.
	if s.prev != nil {
		s.save = append(s.save[:0], pkt...)
	}
	replays := s.replayed
	b, err := try(s.in)
	if err != nil && s.prev != nil && !errors.Is(err, ErrExpired) && s.replayed == replays {
		copy(pkt, s.save)
		if b2, err2 := try(s.prev); err2 == nil {
			if s.prevLeft--; s.prevLeft <= 0 {
				s.prev = nil
			}
			s.stats.Unprotected++
			return b2, nil
		}
	}
	if err == nil {
		s.prev = nil // the new key is in use: the old one is done
		s.stats.Unprotected++
		return b, nil
	}
	switch {
	case errors.Is(err, ErrExpired):
		s.stats.Expired++
		return nil, err
	case s.replayed != replays:
		return nil, fmt.Errorf("%w", ErrReplay)
	}
	s.stats.AuthFailed++
	return nil, ErrAuth
}

// Stats returns the counters.
func (s *Session) Stats() Stats {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	st := s.stats
	st.Replayed = s.replayed
	st.Protected = s.protected.Load()
	return st
}
