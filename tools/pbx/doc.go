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
// Transfer and forwarding pass through unchanged: in-dialog REFER and
// NOTIFY follow the Record-Route set like any in-dialog request, an
// INVITE with Replaces is proxied like any initial INVITE, and a 3xx
// (302 Moved Temporarily from a phone that forwards) is relayed to the
// caller, whose UA follows the Contact itself (the proxy does not
// recurse). An INVITE whose Request-URI is a registered contact (the
// Contact a Refer-To names, RFC 5589 §7) goes to that binding.
//
// Domains: Realm is the main SIP domain; Config.Domains adds more, each
// with its own users and its own digest realm, so one phone can register
// two lines to two domains of one PBX. REGISTER is authenticated in the
// realm of its To domain, an INVITE in the realm of its From domain, and
// a Request-URI's domain selects whose user it names.
//
// Services, answered by the PBX with its own RTP socket: "echo" reflects
// every RTP payload to its source, "tone" plays 1 kHz, and "early" sends
// 183 Session Progress with SDP (reliably with RSeq and retransmissions
// until PRACK when the caller supports 100rel, RFC 3262), plays a
// 400+450 Hz announcement for Config.EarlyDuration, then answers and
// echoes. Offer/answer uses voip/sdp; only G.711 (PCMU, PCMA) and
// telephone-event are accepted, and an INVITE without an SDP offer to a
// service gets 488. A re-INVITE or UPDATE with a new offer is answered
// from the same session (hold stops the service's sending).
//
// Event server (events.go): SUBSCRIBE for message-summary (RFC 3842) or
// dialog (RFC 4235) to one of Users is authenticated (401) and answered
// by the PBX as notifier (RFC 6665): 200 with Expires, a NOTIFY with the
// state a test set with Notify, refreshes in the dialog, Expires: 0 ends
// it. Terminate, ForgetSubscriptions and NotifyUnsolicited let tests
// play a notifier that ends, forgets (481) or sends MWI unsolicited.
//
// What the PBX expects from a phone:
//
//   - REGISTER with To = the user's AOR (any host), answered 401 once; the
//     retry carries Authorization for the realm with the same user name
//     (authentication user = AOR user, else 403) and a higher CSeq. A wrong
//     password gets 403, a correct answer to an expired nonce 401 with
//     stale=true. Expires below Config.MinExpires (60 s) gets 423 with
//     Min-Expires.
//   - An initial INVITE with Request-URI sip:<user or service>@<any host>,
//     answered 407 once (unless Config.NoInviteAuth); the retry carries
//     Proxy-Authorization. Callers need not be registered.
//   - In-dialog requests follow the Record-Route set (loose routing, ;lr).
//     Service calls have no Record-Route: their Contact is the PBX itself,
//     and a 200 must be ACKed within 64*T1 or the call ends.
//   - Without NATFix the registered Contact must be reachable as written;
//     over TCP/TLS the PBX always uses the phone's own connection, which
//     the phone must keep open.
//   - PRACK for the early service's reliable 183 goes to its Contact with
//     RAck "<RSeq> <INVITE CSeq> INVITE"; the 200 follows only after it.
package pbx
