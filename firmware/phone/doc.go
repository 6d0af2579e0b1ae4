// Package phone is the desk phone's state machine. It turns hardware
// events (keys, hook switch), commands from the local API, and call
// events from the SIP user agent into user-visible behaviour: dial tone,
// digit collection under a dial plan, ringback or early media, ringing,
// talking, hold, busy and failure tones.
//
// The state machine does no I/O of its own: it drives the hal devices it
// is given and a Line (the SIP user agent, adapted). All state lives on
// the one goroutine started by Run; other goroutines talk to it through
// channels and read a snapshot with Status.
//
//	           lift / speaker / API call
//	 Idle ───────────────────────────────▶ OffHook (dial tone)
//	  ▲  ▲                                    │ digit
//	  │  │ hang up (any state)                ▼
//	  │  └───────────────────────────────  Dialing ── '#' or pause ──▶ Calling
//	  │                                                                 │ 183+SDP
//	  │ incoming INVITE                                                 ▼
//	Ringing ── lift / API answer ──▶ Talking ◀── 200 OK ──────────── Early
//	                                  │  ▲
//	                             hold │  │ resume
//	                                  ▼  │
//	                                  Held
//
// A call that fails (busy, rejected, unreachable) or is ended by the far
// end leaves the handset in Busy (busy or congestion tone) until it is
// hung up, as a desk phone does.
package phone
