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
// hung up, as a desk phone does. A connected call used hands-free (the
// speaker on, the handset on its hook: answered or placed through the API
// or the speaker key) that the far end ends goes straight back to Idle
// with the speaker off: there is no handset to put down, and the next
// call must ring rather than find the phone busy.
//
// A call the far end holds (its re-INVITE offers sendonly or inactive)
// shows HeldRemote ("held_remote") until the far end resumes; what it
// sends meanwhile (music on hold) keeps playing. Our own hold shows Held
// whatever the far end does; resuming returns to HeldRemote while the far
// end still holds.
//
// Mute belongs to one call: it is turned off when the call ends (or the
// phone goes on hook), so the next call starts with the microphone live.
// The volume is the user's setting, as on Yealink and Polycom desk
// phones: a change made with the volume keys during a call stays for the
// calls after it (one volume for handset and speaker, not saved across a
// restart).
package phone
