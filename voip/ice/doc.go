// Package ice is a small full ICE agent (RFC 8445) for one audio
// component on a socket the port manager already owns.
//
// It does not gather: the port manager has already learnt every address
// the peer can reach the media socket on (host, the STUN mapping, the
// TURN relay), and the caller advertises those as candidates (voip/sdp
// ice.go). The agent only checks the peer's candidates from that one
// socket, answers the peer's checks, nominates or follows the
// nomination, and reports the selected pair so media can move there.
// Media starts at once on the peer's default address (c=/m=) and moves
// when a pair is selected, so the checks never cost silence.
//
// Connectivity checks are STUN Binding requests (RFC 8445 §7.1.1):
//
//	USERNAME          "peer-ufrag:our-ufrag"
//	PRIORITY          our peer-reflexive priority (§5.1.2.1)
//	ICE-CONTROLLING / ICE-CONTROLLED  64-bit tie-breaker
//	USE-CANDIDATE     (controlling, nominating check only)
//	MESSAGE-INTEGRITY HMAC-SHA1 keyed with the peer's ice-pwd
//	FINGERPRINT
//
// The port manager's demultiplexer hands them over through
// portmgr.Mapping.SetSTUNHook; RTP never reaches the agent.
//
// One Agent checks one component; a call without rtcp-mux runs two.
//
// With Config.Relay the agent has a second base, the TURN allocation
// on the same socket (a relayed candidate, RFC 8445 §5.1.1.2): every
// remote candidate is checked from it too, through Config.WriteRelay,
// and checks that arrive through it (HandleRelayedSTUN) are answered
// through it. Restarts are new agents with new credentials (the
// caller's job).
//
// Not done: more than these two bases, lite mode.
package ice
