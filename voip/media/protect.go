package media

import "errors"

// ErrNotKeyed is wrapped by a Protector's error for a packet it cannot
// protect yet (DTLS-SRTP before its handshake ended): the packet is not
// sent, and Run does not log it as a send failure.
var ErrNotKeyed = errors.New("media: srtp keys not agreed yet")

// Protector secures the session's packets (SRTP and SRTCP, RFC 3711):
// voip/media/srtp implements it. With a Protector every RTP and RTCP
// packet is protected just before it is written, and every datagram that
// looks like RTP or RTCP is unprotected just after it is read, before
// anything else (the latch, the counters, the jitter buffer) sees it: a
// packet that fails authentication or is a replay is dropped and counted
// in Stats.Dropped (the Protector keeps its own finer counts), so an
// attacker's forged packets never move the symmetric-RTP latch.
// Keepalives are RTP comfort-noise packets and are protected like the
// rest; the port manager's early STUN packets are not RTP and are
// dropped by the far end's demultiplexer (RFC 7983).
//
// The methods write into dst when it has the capacity and return the
// result; UnprotectRTP and UnprotectRTCP may be given dst == pkt[:0]
// (in place). They must be safe for concurrent use: the RTP and RTCP
// readers call them from their own goroutines.
type Protector interface {
	ProtectRTP(dst, pkt []byte) ([]byte, error)
	UnprotectRTP(dst, pkt []byte) ([]byte, error)
	ProtectRTCP(dst, pkt []byte) ([]byte, error)
	UnprotectRTCP(dst, pkt []byte) ([]byte, error)
}

// srtpOverhead is the most a Protector adds to a packet: a 16-byte AEAD
// tag (RFC 7714) or a 10-byte HMAC tag, plus the 4-byte SRTCP index and
// an MKI of up to 4 bytes.
const srtpOverhead = 16 + 4 + 4

// protection is the session's Protector with its send buffers. The
// zero value sends and receives plain RTP.
type protection struct {
	p      Protector
	rtpOut []byte // guarded by Session.mu (sendRTPLocked)
}

func newProtection(p Protector) protection {
	if p == nil {
		return protection{}
	}
	return protection{
		p:      p,
		rtpOut: make([]byte, 0, maxDatagram+srtpOverhead),
	}
}

// rtp returns the packet to send for the RTP packet b.
func (x *protection) rtp(b []byte) ([]byte, error) {
	if x.p == nil {
		return b, nil
	}
	return x.p.ProtectRTP(x.rtpOut[:0], b)
}

// rtcp returns the packet to send for the compound RTCP packet b. It
// allocates (RTCP is sent every few seconds, and sendReport runs on the
// timer goroutine and in Close at once).
func (x *protection) rtcp(b []byte) ([]byte, error) {
	if x.p == nil {
		return b, nil
	}
	return x.p.ProtectRTCP(nil, b)
}

// open unprotects a received datagram in place; ok is false when it is
// to be dropped.
func (x *protection) open(b []byte, isRTCP bool) ([]byte, bool) {
	if x.p == nil {
		return b, true
	}
	var err error
	if isRTCP {
		b, err = x.p.UnprotectRTCP(b[:0], b)
	} else {
		b, err = x.p.UnprotectRTP(b[:0], b)
	}
	return b, err == nil
}
