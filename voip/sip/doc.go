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
// Hold and resume are re-INVITEs offering sendonly / sendrecv (RFC 3264
// §8.4); the far end's re-INVITE updates our direction and its media
// address. Glare is answered 491 and our own re-INVITE is retried after
// the random delay of RFC 3261 §14.1. Requests for unknown dialogs get
// 481. DTMF is sent as RFC 4733 events when telephone-event was
// negotiated, else as INFO application/dtmf-relay; INFO DTMF
// (application/dtmf-relay and application/dtmf) and RFC 4733 digits are
// reported as DTMFEvents. An outgoing call without a final response
// after Config.SetupTimeout is cancelled.
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
