package sip

import "github.com/deskphone/phone/voip/media"

// runDir is the direction the media session runs in for a negotiated
// direction (ours) while we hold (localHold) or not: inactive while we
// hold, the negotiated one otherwise.
//
// While we hold, our offer is a=sendonly (RFC 3264 §8.4) and the
// negotiated direction is sendonly (or inactive). Sendonly permits
// sending; it does not require it (§5.1: "the offerer ... MUST mark the
// stream as sendonly" when it wishes only to send). A desk phone has no
// music on hold to play, and sending the muted microphone as G.711
// silence put 50 packets a second on the wire for a held call, waking
// both phones for nothing (issue 19). So the session runs inactive: it
// sends no audio, only what keeps the path open, as when the far end
// holds us (recvonly, inactive): its RTP keepalive (an RFC 3389 comfort-
// noise packet after KeepaliveInterval without RTP, 15 s; RFC 6263
// §4.2), its RTCP reports, and the port manager's STUN Binding
// indications on a quiet media socket (docs/nat.md, "Keepalives"). The
// RTP timestamp keeps running meanwhile and the sequence numbers go on
// from the keepalives, so on resume (sendrecv again) the next frame is
// sent at once, marked as a new talkspurt, on the same SRTP context.
func runDir(neg media.Direction, localHold bool) media.Direction {
	if localHold {
		return media.Inactive // nor do we play the far end's audio while we hold
	}
	return neg
}
