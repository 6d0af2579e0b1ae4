// Package srtp secures a media session's packets with SRTP and SRTCP
// (RFC 3711) keyed by SDES (RFC 4568): the keys come from the a=crypto
// lines voip/sdp negotiated. It wraps github.com/pion/srtp/v3 contexts
// and implements voip/media's Protector.
//
// Suites: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32 (RFC 4568
// §6.2) and AEAD_AES_128_GCM (RFC 7714). Replay protection is on for both
// SRTP and SRTCP (RFC 3711 §3.3.2, a window of 128 packets). A packet that
// fails authentication or is a replay is refused before the media session
// looks at it, so it never moves the symmetric-RTP latch; each refusal is
// counted in Stats.
//
// A Session has one outbound context (our key, what we send) and one
// inbound context (the peer's key). Rekey installs new keys after a
// re-INVITE that changed them: the outbound rollover counter carries over
// (RFC 4568 §7.1.4 keeps the SRTP index across a key change of the same
// SSRC) and the previous inbound context keeps decrypting packets still
// in flight under the old key until the first packet under the new one
// authenticates (for PrevKeyPackets packets at most). A key's lifetime (from its a=crypto line) is enforced
// on the inbound side: packets beyond it are refused and counted.
//
// Keys are never logged or shown: the Session has no String that prints
// them and Stats names only the suite.
package srtp
