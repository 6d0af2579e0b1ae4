// Package media is the phone's RTP/RTCP audio session (RFC 3550, RFC 3551)
// on github.com/pion/rtp and github.com/pion/rtcp: packetising captured
// audio, the adaptive jitter buffer (package jitter) with loss
// concealment, RTCP sender/receiver reports, DTMF by RFC 4733, symmetric
// RTP latching and NAT keepalives.
//
// # Sockets
//
// A Session never opens a socket: it is given Conn (RTP) and optionally
// RTCPConn by the port manager, which owns them, and never closes them.
//
// The port manager's sockets push their datagrams (their Receive method):
// the socket's own reader goroutine hands each RTP or RTCP datagram to
// the session, which parses it, latches, counts it and puts the payload
// in the jitter buffer there and then, with no copy, no channel and no
// goroutine of the session's in between (no allocation per packet:
// BenchmarkPacketPathPush). Close removes the receivers, waiting for a
// datagram being handled; a socket closed underneath (portmgr Release)
// removes them too. Any other net.PacketConn is read by a goroutine of
// the session; Close wakes it with a read deadline in the past, waits for
// it and clears the deadline again, and it also ends when its socket is
// closed underneath it.
//
// # Timers and the send loop
//
// Run is the only send loop: it sends one packet per frame the capture
// device delivers, paced by the device's clock, and sends the first
// packet (a frame of silence) the moment it starts, so the stream begins
// as soon as the call is answered rather than a frame time later. Besides
// the packets, one goroutine per session waits on two timers: the next
// RTCP report, and the moment a keepalive could be due (KeepaliveInterval
// after the last RTP sent). While audio flows the keepalive timer wakes
// once per KeepaliveInterval, and it is off while there is nowhere to
// send.
//
// # RTP (RFC 3550 §5.1)
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|V=2|P|X|  CC   |M|     PT      |       sequence number         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           timestamp                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           synchronization source (SSRC) identifier            |
//	+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//	|            contributing source (CSRC) identifiers             |
//	|                             ....                              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// SSRC, first sequence number and first timestamp are random (§5.1). The
// timestamp advances by the samples of every frame written, sent or not
// (hold, mute, DTMF), and by the wall-clock gap when capture pauses. M is
// set on the first packet of a talkspurt (RFC 3551 §4.1): the first
// packet, after a DTMF event, after unmute and when sending resumes.
// Send and receive paths reuse their buffers and do not allocate.
//
// # RTCP (RFC 3550 §6)
//
// Every 5 s on average, randomised over 0.5-1.5 times (§6.3.1), a
// compound packet goes out: SR if we sent RTP since the last report, else
// RR (§6.4), with a reception report block for the far end's SSRC
// (fraction and cumulative lost per A.3, extended highest sequence number
// per A.1, interarrival jitter per A.8, LSR/DLSR), then SDES CNAME. Close
// adds a BYE (§6.6). Reports about our SSRC give the round trip time
// (§6.4.1: A - LSR - DLSR) and the far end's view of our stream. RTCP uses
// RTCPConn, or shares Conn (rtcp-mux), where datagrams whose second byte
// is 192-223 (PT 64-95 with M) are RTCP (RFC 5761 §4).
//
// # Symmetric RTP (latching)
//
// Behind NATs the far end's RTP often comes from an address other than
// the one in its SDP; answering to the SDP address gives one-way audio.
// So the session sends to where the far end's RTP really comes from
// (RFC 4961 symmetric RTP, as SBCs do):
//
//   - Only valid packets count: version 2, parseable, and of the audio,
//     telephone-event or comfort-noise payload type. Garbage never latches.
//   - A packet from the SDP address latches at once, and always wins the
//     latch back from any other source.
//   - Before the first latch, a packet from the SDP address's IP on
//     another port latches at once too (a far end that learnt its public
//     IP by STUN, behind a NAT that translates ports).
//   - Before the first latch, any other source is on probation: it
//     latches once it has sent 3 consecutive sequence numbers of one SSRC
//     over LatchProbation (200 ms), with no other unknown source sending
//     meanwhile (two at once are ambiguous: neither wins until one stops
//     for LatchQuiet). This is the symmetric NAT case where the SDP names
//     a private address that never sends. Until then nothing is played and
//     RTP goes to the SDP address.
//   - Once latched, another source takes over only when the latched one
//     has sent nothing for LatchQuiet (300 ms) AND the new one continues
//     the stream: the latched SSRC with a sequence number ahead of the
//     last one (within RFC 3550 A.1's dropout), or the SDP address's IP;
//     it needs 2 consecutive sequence numbers, and moves are at least
//     RelatchInterval (1 s) apart. A NAT rebinding is followed this way; a
//     stranger, however fast, is not while the far end sends.
//   - Packets from any other source are dropped, never played, and
//     counted in Stats.Strangers; Stats.Relatches, RelatchFrom and
//     RelatchTo report the moves.
//   - A stranger that streams alone, before the far end's first packet,
//     through a probation, is taken as a NAT would be; the far end's first
//     packet from the SDP address (or after the stranger's silence, its
//     IP) takes the latch back.
//   - SetRemote (a re-INVITE) drops the latch.
//   - RTCP without mux latches separately: onto the SDP's RTCP address,
//     else the first valid compound packet from the SDP's RTCP IP, the
//     latched RTP source's IP, or a sender whose SSRC is the stream we
//     play; afterwards it moves only to the SDP's RTCP address or to a
//     sender whose SSRC is the stream we play. With mux, RTCP is taken only
//     from the latched source or the SDP address, and never latches.
//
// # Direction, hold, mute, keepalive
//
// Audio is sent only when the direction is SendRecv or SendOnly, and
// played only when it is SendRecv or RecvOnly; RTCP flows always. When no
// RTP has been sent for KeepaliveInterval (15 s by default: on hold, or
// with no capture running) a keepalive keeps the NAT binding open: an RTP
// packet with payload type 13, comfort noise, and a one-byte payload of
// level 127 (-127 dBov, RFC 3389 §3). A peer that negotiated CN hears
// silence (RFC 6263 §4.2); one that did not discards an unknown payload
// type (RFC 6263 §4.6), so it is safe either way. Mute sends G.711-encoded
// silence frames instead of the microphone, which keeps the timestamps,
// the far end's jitter buffer and the NAT binding all running.
//
// # Comfort noise (RFC 3389) and VAD
//
// With Config.CNPayloadType set (CN negotiated), a received CN packet
// (ParseCN: the level in -dBov, then optional reflection coefficients)
// makes the jitter buffer fill every gap from its timestamp on with noise
// at that level and spectrum, instead of concealment and silence, until
// voice from after it plays; a malformed one is dropped and counted
// (Stats.CNBad). Without it, payload type 13 is a keepalive: accepted,
// never played. With Config.VAD as well, WriteFrame sends a silent frame
// as a CN packet (level and a 10th-order spectrum) at the start of the
// silence and every 200 ms, nothing in between, and marks the first voice
// packet after it (cn.go, vad.go).
// VAD is off by default: silence suppression stops the steady RTP that
// keeps NAT bindings open.
//
// # DTMF (RFC 4733)
//
// Named events use the payload below (§2.3, Figure 1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// SendDTMF sends the first packet at once with M=1 and one ptime of
// duration, an update every ptime with the same timestamp (the event's
// start) and the cumulative duration, and the final packet with E=1 three
// times (§2.5.1.2, §2.5.1.4); audio is not sent meanwhile, and the next
// audio packet has M=1. Received events are keyed by timestamp, so each
// digit is reported once, on its end packet, even when the start packets
// or some end packets are lost; an event whose end never comes is
// reported when the next event or later audio arrives. Zero-duration and
// non-DTMF events are ignored (§2.3.5).
//
// # SRTP
//
// Config.Protector (protect.go; voip/media/srtp implements it) secures
// the stream: each RTP packet, keepalives included, and each RTCP
// compound packet is protected just before it is written, and each
// datagram with RTP version bits is unprotected just after it is read,
// before the latch, the counters or the jitter buffer see it. A packet
// that fails authentication or is a replay is dropped and counted in
// Stats.Dropped, so forged packets never move the latch. RFC 5761
// demultiplexing works on the clear SRTP/SRTCP header.
package media
