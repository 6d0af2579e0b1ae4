// Package sdp parses and writes the Session Description Protocol subset a
// SIP phone needs (RFC 8866, which obsoletes RFC 4566), and implements the
// offer/answer model of RFC 3264 for one audio stream.
//
// Parse accepts CRLF or LF line ends, never panics, and reports
// structurally bad lines with their line number in a *ParseError. Lines
// and attributes it does not interpret are kept (Session.Extra,
// Media.Extra, Attrs) and written back by Marshal, so a description
// survives Parse and Marshal. Interpreted attributes: a=rtpmap, a=fmtp,
// a=ptime, a=maxptime (RFC 8866 §6), the direction attributes
// a=sendrecv/sendonly/recvonly/inactive (RFC 8866 §6.7), a=rtcp
// (RFC 3605) and a=rtcp-mux (RFC 5761).
//
// IPv6: c=IN IP6 and o=... IN IP6 are read and written like IP4 (RFC
// 8866 §5.2, §5.7). A c= or a=rtcp address that is an IP literal decides
// the family whatever the address type says, and an IPv4-mapped IPv6
// address is read as the IPv4 address; Marshal writes the type that fits
// the address. Offer and Answer advertise Local.Addr in its own family:
// the port manager gives an IPv6 media socket for an IPv6 far end.
//
// Offer builds an offer from a Local description. Answer answers an offer
// (RFC 3264 §6): it takes the first of the offerer's codecs that we also
// have, adds telephone-event (RFC 4733) when both sides have it, derives
// the answer's direction from the offer's (§6.1), keeps the number and
// order of m-lines and rejects the other streams with port 0. Accept
// reads the answer to our offer (§7). Both return a Negotiated: what the
// media session needs. Hold is a direction (sendonly or inactive, RFC 3264
// §8.4); the older c=0.0.0.0 form (RFC 2543) is read as "do not send to
// me".
//
// SDES keying of SRTP (RFC 4568, crypto.go): ParseCrypto reads an
// a=crypto line of the suites we support (AES_CM_128_HMAC_SHA1_80 and _32,
// AEAD_AES_128_GCM of RFC 7714) and refuses, with a *CryptoError that
// never shows the key, what we cannot honour. Local.SRTP is the policy:
// SRTPOff, SRTPOptional (RTP/AVP with a=crypto, best effort) or
// SRTPRequired (RTP/SAVP); Local.Crypto are our keys, one per suite.
// Answer takes the first offered line of a suite we have and answers
// under its tag with our key; Accept checks that the answer's line is one
// we offered. A stream the policy refuses makes them return ErrInsecure
// (a UAS answers 488). Negotiated.SRTP holds the suite and both keys;
// Crypto and SRTP print and log only the suite (docs/srtp.md).
package sdp
