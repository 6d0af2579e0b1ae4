// Package dtlssrtp keys a call's SRTP by DTLS-SRTP (RFC 5763, RFC 5764):
// a DTLS handshake on the call's own media socket, each side's
// self-signed certificate checked against the fingerprint its SDP
// carried (RFC 8122), and the SRTP master keys exported from the DTLS
// session (RFC 5764 §4.2) into a voip/media/srtp Session.
//
// A Transport wraps one media socket (one RTP component; with separate
// RTCP, the RTCP socket has its own Transport). It demultiplexes what the
// socket receives (RFC 7983 §7): a datagram whose first byte is 20..63 is
// a DTLS record and goes to the handshake; everything else (RTP and
// RTCP, first byte 128..191) goes to the media session that reads the
// Transport's Conn. STUN never reaches it: the port manager takes STUN
// off the socket first.
//
//	first byte   +----------------+
//	0..3    -->  | portmgr (STUN) |
//	20..63  -->  | Transport: DTLS handshake   -> keys
//	128..191 --> | media.Session (SRTP via the Transport, a Protector)
//
// The Transport is the media session's Protector. Until the handshake
// has finished it refuses to protect (nothing is sent: never plain media)
// and drops everything it is asked to unprotect. A handshake that fails,
// times out, or meets a certificate that matches none of the peer's
// fingerprints ends with an error given to Config.OnDone; the caller ends
// the call. The certificate (NewCertificate) is an ECDSA P-256 key,
// self-signed, made once per process and kept in memory only: the SDP
// fingerprint is what authenticates it, so nothing about it is worth
// keeping on disk.
package dtlssrtp
