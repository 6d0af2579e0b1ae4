// Package pbx is a small local SIP registrar, stateful proxy and service
// host built on github.com/emiago/sipgo. It is the embedded default PBX of
// the demo (make run) and the far end of fast in-process tests; real
// interoperability is tested against Kamailio and baresip elsewhere.
//
// Every socket comes from Config.Net, a pion transport.Net: stdnet on a
// host, vnet in tests, so the PBX can sit on the "internet" of an emulated
// network. sipgo serves the UDP socket it is given, and every request the
// PBX sends is pinned to that socket (sip.Request.Laddr), so sipgo never
// opens a socket of its own. Optional TCP and TLS listeners come from the
// same Net.
//
// Registrar (RFC 3261 §10.3): digest authentication (RFC 7616/8760; MD5 by
// default, SHA-256 selectable, several challenges when configured), stale
// nonces answered with stale=true, a wrong password with 403 Forbidden,
// Expires and Contact expires, 423 Interval Too Brief with Min-Expires,
// expires=0 and Contact: * removal, and bindings that lapse. Every
// received request gets received= and rport= in its top Via (RFC 3581).
//
// Proxy (RFC 3261 §16): an authenticated initial INVITE (407 challenge,
// configurable) to a registered user is forwarded statefully with
// Record-Route, so ACK, BYE, re-INVITE, PRACK, INFO and UPDATE pass the
// proxy; responses are relayed, CANCEL is forwarded, 2xx retransmissions
// are passed on. Unknown users get 404, users without a binding 480. With
// Config.NATFix the PBX routes to the address a REGISTER came from (like
// Kamailio's nathelper); without it the registered Contact is used as is,
// and the phone must have put its public address there itself.
//
// Services, answered by the PBX with its own RTP socket: "echo" reflects
// every RTP payload to its source, "tone" plays 1 kHz, and "early" sends
// 183 Session Progress with SDP (reliably with RSeq and retransmissions
// until PRACK when the caller supports 100rel, RFC 3262), plays a
// 400+450 Hz announcement for Config.EarlyDuration, then answers and
// echoes. Only G.711 (PCMU, PCMA) is offered; an INVITE without an SDP
// offer to a service gets 488.
package pbx
