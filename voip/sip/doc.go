// Package sip is the phone's SIP user agent (RFC 3261), built on
// github.com/emiago/sipgo's transport and transaction layers. Dialogs,
// registration, offer/answer and the extensions below are implemented
// here.
//
// # Sockets and addresses
//
// Every UDP socket comes from the port manager (portmgr.Mapper): the SIP
// socket from Map(KindSIP, UDP, registrar) is handed to sipgo with
// ServeUDP and pooled before serving. Every request reaches sipgo through
// one send path, which sets Laddr to exactly the socket's pool key and
// refuses (instead of letting sipgo open a socket of its own) once the
// socket has left the pool or is being released by Close; requests read
// while Close runs are dropped. Should sipgo still set out to open a UDP
// socket, the UA logs an error (it watches sipgo's transport log). Each
// call maps its own media socket pair (Map(KindMedia, ...)) and hands it
// to voip/media; UpdateRemote is called when the far end's media address
// becomes known and Release when the call ends. Via sent-by, Contact and
// SDP c=/m= come only from Mapping.External. For TCP and TLS the UA
// dials the flow to its registrar or outbound proxy itself and hands it
// to sipgo through a listener (flow.go); the mapping gives the address to
// advertise and the connection's local port completes it, and every
// request carries Content-Length, by which stream transports frame
// messages (RFC 3261 §20.14). TLS verifies the server certificate against
// Account.TLS.RootCAs (or the system roots).
//
// # Transport health
//
// No read error ends the SIP transport: the socket sipgo reads returns
// only net.ErrClosed (other errors are counted and retried), and a
// datagram larger than sipgo's buffer is dropped by the port manager.
// Should sipgo's UDP reader end anyway, a watchdog serves the socket
// again, or a new one from the port manager when it was closed under the
// UA, and registers again. A TCP/TLS flow that fails (closed, reset, a
// message that does not parse or stays incomplete past
// Config.StreamReadTimeout) is noticed at once (RFC 5626 §4.4): the
// registration shows failed while it is down, a new connection is
// dialled and the UA registers on it; CRLF keepalives (RFC 5626 §3.5.1)
// keep an idle flow open. UA.Transport reports the state and restarts.
// UDP requests sipgo cannot parse are answered 400 statelessly
// (preparse.go); responses too large for 1300 bytes are trimmed and
// otherwise sent as IP fragments, never dropped.
//
// # Finding the server and failover (RFC 3263, RFC 5626 §4.4)
//
// The outbound proxy, or without one the registrar, is resolved by
// package resolve: NAPTR (SIP+D2U, SIP+D2T, SIPS+D2T), then SRV
// (priority, then RFC 2782 weights), then A records; an IP address or an
// explicit port skips NAPTR and SRV. Account.Transport "" (or "auto")
// lets the first answer choose the transport, which the UA then keeps;
// otherwise it limits every step. Config.DNS names the DNS servers
// (default: /etc/resolv.conf, read at each lookup) and the hold.
//
//	REGISTER --> target 1 (SRV prio 10) --timeout / 503 / refused--+
//	                                                               |
//	         avoid target 1 for DNS.Hold (or Retry-After),         |
//	         resolve again, REGISTER at once --> target 2 <--------+
//	all targets failed --> state failed, "no server of <domain>
//	answers (...)", back-off, then the target whose hold ends first
//
// Every REGISTER goes to the current target (the first in order not
// being avoided), re-resolving first when the answer's TTL ran out or a
// target failed. The current target is also where requests to our
// domain and requests routed through the outbound proxy go, what the SIP
// mapping keeps alive, and, with every other address of the answer, the
// set of trusted sources (so an INVITE from the second server is
// admitted after a failover). A TCP/TLS flow to the old target is closed
// and the next request dials the new one; a flow that drops makes the
// UA register at once, so a dead server over TCP/TLS is left within
// seconds, over UDP within one refresh interval plus Timer F (32 s).
// When the first target's hold ends, the next refresh goes back to it.
// Failover goes once round the list, then backs off. A request to the
// server's name while no target is known (an outbound proxy without
// registrar after a boot without DNS) resolves it first, and fails with
// "cannot resolve ..." rather than going to sipgo's own lookup.
//
// Start needs neither DNS nor a network: without a DNS answer the
// registration shows failed, "cannot resolve <name>: ...", and retries
// with the back-off below; without a local address (the port manager's
// ErrNoLocalAddress) it shows "no network: ..." while the SIP socket is
// mapped again with the same back-off. A DNS outage later keeps the
// last answer.
//
// # IPv6
//
// Servers may be IPv6 or IPv4, literals or names with AAAA and A records
// (tried IPv6 first, alternating: RFC 8305 §4). The UA's SIP socket has
// the family of the target in use; a target of a family the phone cannot
// reach (the Mapper's Reachable) is passed over, and an IPv6 target that
// never answered gets FamilyFallback (2 s) before the IPv4 one is tried,
// the socket then re-made in that family. Via and Contact carry [addr];
// an IPv6 domain is bracketed in the URIs dialled at it. Media sockets
// take the family of the far end's SDP, or, for our offer, the SIP
// socket's (see family.go).
//
// # Registration (RFC 3261 §10, RFC 3581, RFC 7616/8760)
//
// REGISTER goes to the registrar (or through the outbound proxy with a
// loose Route). Digest challenges (MD5, SHA-256, -sess, qop=auth) are
// answered; the challenge is kept so refreshes are authorised at once
// with the nonce count incremented. stale=true is a retry, not a failure;
// a second challenge after a fresh answer, or 403 after one, is a wrong
// password: state "failed", reason "authentication failed", no loop. The
// refresh runs at min(85 %, expires-30 s) of what the registrar granted
// (the Contact's expires parameter in the 200, else Expires), never
// before half of it. 423 retries with Min-Expires; 503 waits
// Retry-After; other failures back off 2 s, 4 s, ... 5 min with ±20 %
// jitter. Close sends Expires: 0.
//
// # Calls
//
// An outgoing call with reliable provisional responses (RFC 3262) and
// early media (RFC 3960):
//
//	phone (UAC)                              far end (UAS)
//	   |  INVITE (SDP offer, Supported: 100rel)    |
//	   |------------------------------------------>|
//	   |  100 Trying                               |
//	   |<------------------------------------------|
//	   |  183 Session Progress (SDP answer,        |
//	   |      Require: 100rel, RSeq: 4711)         |  media session created:
//	   |<------------------------------------------|  early audio plays,
//	   |  PRACK (RAck: 4711 1 INVITE)              |  CallEvent{EarlyMedia}
//	   |------------------------------------------>|
//	   |  200 OK (PRACK)                           |
//	   |<------------------------------------------|
//	   |  200 OK (INVITE)                          |
//	   |<------------------------------------------|  state talking
//	   |  ACK (new transaction, to Contact         |
//	   |       through the Record-Route set)       |
//	   |------------------------------------------>|
//	   |  RTP <=================================>  |
//	   |  BYE                                      |
//	   |------------------------------------------>|
//	   |  200 OK                                   |
//	   |<------------------------------------------|
//
// As UAS the same ladder runs the other way: 180 Ringing (reliable when
// the caller supports 100rel, retransmitted T1, 2T1, ... until PRACK,
// 504 after 64*T1), Answer sends 200 with the SDP answer (held back until
// a reliable provisional carrying SDP is PRACKed) and retransmits it
// until the ACK. CANCEL before the answer gives 200 + 487 (the
// transaction layer) and ends the call; Reject sends 486 or 603; no
// common codec is 488 before ringing.
//
// SRTP with SDES keys (call_srtp.go, docs/srtp.md): Config.SRTP is the
// policy (off, optional: RTP/AVP with a=crypto, required: RTP/SAVP). Keys
// are drawn per call from crypto/rand. An offer the policy refuses gets
// 488 before ringing (Warning 302); a plain answer to our required offer
// ends the call with a BYE and an EndReason starting "SRTP refused". The
// first offer/answer fixes whether the call is secure; a re-INVITE that
// brings a new key of the peer's is answered with a fresh key of ours, one
// that keeps the keys keeps the SRTP contexts. SDES over signalling other
// than TLS needs Config.SRTPOverInsecure and shows KeysInClear in
// CallStats.SRTP. Keys are never logged or shown.
//
// DTLS-SRTP (call_dtls.go, RFC 5763/5764): with Config.SRTPKeying dtls
// (or both) the SDP carries the UA's certificate fingerprint and a=setup,
// and after the offer/answer a DTLS handshake on each media socket
// (voip/media/dtlssrtp) agrees the SRTP keys. The media session sends
// nothing before them; a failed handshake or a certificate that matches
// none of the peer's fingerprints ends the call ("SRTP refused:
// DTLS-SRTP: ..."), never falling back to plain RTP.
//
// Hold and resume are re-INVITEs offering sendonly / sendrecv (RFC 3264
// §8.4); the far end's re-INVITE updates our direction and its media
// address. While we hold, the media session sends no audio (no music on
// hold: sendonly permits sending, it does not require it), only its
// keepalives and RTCP, as when the far end holds us (call_hold.go). Glare is answered 491 and our own re-INVITE is retried after
// the random delay of RFC 3261 §14.1. Requests for unknown dialogs get
// 481. DTMF is sent as RFC 4733 events when telephone-event was
// negotiated, else as INFO application/dtmf-relay; INFO DTMF
// (application/dtmf-relay and application/dtmf) and RFC 4733 digits are
// reported as DTMFEvents. An outgoing call without a final response
// after Config.SetupTimeout is cancelled.
//
// Call is laid out by role, as sipgo lays out its layers: call.go holds
// what every call has, call_dialog.go the dialog (RFC 3261 §12),
// call_uac.go the client side of our INVITE, call_uas.go the server side
// of INVITE transactions (incoming calls, the far end's re-INVITEs),
// call_reinvite.go hold and refresh, call_media.go offer/answer and
// media, call_dtmf.go digits and call_refer.go transfer.
//
// # Caller identity
//
// Call.Identity is the far end's display name, number (the user part of
// a sip URI, the number of a tel URI) and URI: from the first sip, sips
// or tel URI of P-Asserted-Identity (RFC 3325 §9.1) when the proxy sent
// one, else From for an incoming call and To for an outgoing one. Display
// names are parsed as quoted-strings (escapes undone, UTF-8 kept); ours
// is escaped when sent.
//
// # Forwarding (RFC 3261 §8.1.3.4, §21.3.3)
//
// Call.Redirect answers a ringing call 302 Moved Temporarily with the
// target as Contact. An outgoing call that gets a 3xx sends its INVITE
// again to the first sip, sips or tel Contact (same Call-ID, From and To,
// a higher CSeq), one hop only, so phones forwarding to each other do not
// loop:
//
//	alice                 proxy                  bob           carol
//	  | INVITE bob          |                      |              |
//	  |-------------------->| INVITE               |              |
//	  |                     |--------------------->|              |
//	  |                     | 302 Contact: carol   |  Redirect    |
//	  | 302                 |<---------------------|              |
//	  |<--------------------| (ACK hop by hop)     |              |
//	  | INVITE carol (same Call-ID, CSeq+1)        |              |
//	  |-------------------->|------------------------------------>|
//
// # Transfer (RFC 3515, RFC 5589, RFC 3891)
//
// As transferor, Call.Transfer sends REFER with Refer-To and Referred-By
// (RFC 3892); the far end's NOTIFYs (Event: refer, message/sipfrag) in
// the REFER's dialog are answered 200 and reported as TransferEvents;
// after the final one (Subscription-State: terminated) with a 2xx the UA
// ends the call with BYE ("transferred"). A refused or unanswered REFER,
// or a final failure, is a final TransferEvent and the call stays as it
// was. Blind transfer, bob transferring alice to carol:
//
//	alice (transferee)          bob (transferor)         carol (target)
//	  |  REFER Refer-To: carol    |                         |
//	  |<--------------------------|  Transfer("carol")      |
//	  |  202 Accepted             |                         |
//	  |-------------------------->|                         |
//	  |  NOTIFY 100 Trying        |                         |
//	  |-------------------------->|  TransferEvent 100      |
//	  |  INVITE carol, Referred-By: bob                     |
//	  |---------------------------------------------------->|
//	  |  180 Ringing                                        |
//	  |<----------------------------------------------------|
//	  |  NOTIFY 180 Ringing       |                         |
//	  |-------------------------->|  TransferEvent 180      |
//	  |  200 OK / ACK                                       |
//	  |<===================================================>|
//	  |  NOTIFY 200 OK, Subscription-State: terminated      |
//	  |-------------------------->|  TransferEvent 200 Final|
//	  |  BYE                      |  (call ends             |
//	  |<--------------------------|   "transferred")        |
//
// Attended transfer (Call.TransferReplacing): bob has a call with carol
// too, and his REFER names carol's Contact with an escaped Replaces of
// that dialog (to-tag carol's, from-tag bob's):
//
//	Refer-To: <sip:carol@192.0.2.4:5060?Replaces=cid%40h%3Bto-tag%3Dc1%3Bfrom-tag%3Db1>
//
// alice's INVITE then carries "Replaces: cid@h;to-tag=c1;from-tag=b1";
// carol's UA (the transfer target) matches it to her call with bob
// (to-tag is her local tag), reports the new call with Replaces() set,
// and the phone answers it and hangs up the replaced call.
//
// As transferee, a REFER in a confirmed dialog from the dialog's peer
// (the address the dialog came from, its remote target or first route,
// or the trusted proxy) is answered 202; the UA places the call itself
// (through the registrar, with Referred-By and any Replaces), reports a
// ReferredCallEvent, and NOTIFYs the referrer with 100 Trying, the call's
// provisional responses and its final status, one NOTIFY at a time.
//
// Hostile and malformed requests change nothing: a REFER from a stranger
// is 403 (outside a dialog admission answers it), one with a missing,
// doubled or malformed Refer-To, or a scheme other than sip, sips or tel,
// 400; REFER and NOTIFY naming no dialog of ours 481, a NOTIFY with no
// REFER of ours open 481. An INVITE with a malformed Replaces is 400,
// one naming no dialog 481, an ended dialog 603, an answered dialog with
// early-only 486, and an early dialog we did not place 481 (RFC 3891 §3).
//
// # NAT changes
//
// UA.HandlePortEvent applies the port manager's reports for the UA's own
// mappings: a new external address or a failed flow on its SIP mapping
// re-registers and re-INVITEs every live call; a change of a call's media
// mapping re-INVITEs that call (RFC 3665 §3.7); an ALG report is logged.
// Events for other UAs' mappings are ignored, so one port manager can
// serve one UA per line.
//
// # Media liveness (call_relay.go)
//
// When nothing from the far end's media has arrived Config.MediaTimeout
// (DefaultMediaTimeout, 1 s) after the answer while we send, and the
// Mapper is a Relayer with a relay configured, the call's media mapping
// moves onto the TURN relay (permissions for the far end's SDP and
// Contact IPs) and a re-INVITE offers the relayed address; the media
// session latches onto what the relay hands over. MediaPathEvent and
// Call.MediaPath report it. Calls that get media directly never relay.
//
// # Subscriptions, message waiting and busy lamps (RFC 6665, 3842, 4235, 4662)
//
// One engine (subscribe.go, subnotify.go) serves every event package. Subscribe sends
// SUBSCRIBE (Event, Accept, Expires, our Contact) over the same socket or
// TCP/TLS flow as REGISTER, so the NAT binding and keepalives cover it:
// to the outbound proxy, or the registrar, whatever the target's host.
// Digest challenges are answered with the REGISTER code (and kept for
// the refreshes). A 2xx, or a NOTIFY that arrives first, makes the
// dialog. Refreshes go in it, still to the server the line's flow
// reaches (the notifier's Contact is the Request-URI), at the REGISTER
// schedule (85 % or 30 s before expiry, never before half), earlier when
// a NOTIFY shortens the expiry. A subscription is made again, in a new
// dialog, after a 481 to a refresh and after a NOTIFY with
// Subscription-State terminated and reason deactivated, timeout or none
// (after the back-off instead when the notifier ended it within 30 s of
// making it, so the two cannot loop); after probation or giveup when
// retry-after says; never after rejected, noresource or invariant.
// UA.ResubscribeAll refreshes every subscription at once (call it when
// the SIP mapping's external address changed, so notifiers learn the
// new Contact). Close, and UA.Close within Config.CloseTimeout, send
// SUBSCRIBE with Expires: 0. State changes are SubscriptionEvents.
//
// NOTIFY: in one of our dialogs it must come from the proxy (or
// Config.Allow) under AcceptProxy, else 403; CSeq must rise (a
// retransmission gets 200 again, an older one 500); Subscription-State
// is required (400); the body is parsed (voip/msgsummary,
// voip/dialoginfo) before anything changes, so a malformed body gets 400
// and a body of the wrong type 415, with no event and no state change.
// Outside a dialog, Event: message-summary is unsolicited MWI (Asterisk
// sends it to registered contacts): admission checks its source like an
// INVITE (403 for strangers) and it is reported as an MWIEvent with a
// nil Sub. Any other NOTIFY for no subscription gets 481; Event: refer
// is left to the transfer code.
//
// WatchMWI subscribes to message-summary for a mailbox and reports
// MWIEvents (waiting, new, old, urgent, account). WatchBLF subscribes to
// the dialog package of each user and reports DialogStateEvents: the
// lamp state (idle, ringing, busy; dialoginfo.LampState) and the live
// dialogs, whose Replaces gives the header a directed pickup (INVITE
// with Replaces, RFC 3891) needs. WatchBLFList subscribes once to a
// resource list (Supported: eventlist; multipart/related NOTIFYs with an
// RLMI root, RFC 4662) and reports one DialogStateEvent per resource.
// Partial state out of sequence makes the subscription refresh for full
// state.
//
// # Concurrency
//
// The UA never blocks its caller on the network: Dial returns once the
// INVITE is sent and progress arrives on Events. Events are queued in
// order and never block the SIP stack; when Config.EventBuffer events are
// waiting, the oldest is dropped. Every goroutine is owned by the UA and
// stopped by Close, which hangs up calls and un-REGISTERs within
// Config.CloseTimeout.
package sip
