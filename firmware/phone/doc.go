// Package phone is the desk phone's state machine. It turns hardware
// events (keys, hook switch), commands from the local API, and call
// events from the SIP user agents (one Line per account) into
// user-visible behaviour: dial tone, digit collection under a dial plan,
// ringback or early media, ringing, call waiting, talking, hold,
// transfer, a three-way conference, busy and failure tones, do not
// disturb, call forwarding and a call history.
//
// The state machine does no I/O of its own: it drives the hal devices it
// is given and its Lines (the SIP user agents, adapted). All state lives
// on the one goroutine started by Run; other goroutines talk to it
// through channels and read a snapshot with Status.
//
// # Calls and the phone's state
//
// The phone keeps a record per call (at most Config.MaxCalls, default 4):
// its line, direction, identity, hold flags both ways, times, and where
// it is:
//
//	outgoing:  calling ──180──▶ ringing ──183+SDP──▶ early ──200──▶ talking
//	incoming:  incoming (the bell) ◀──▶ waiting (the beep) ──answer──▶ talking
//	talking:   talking ◀──hold/resume──▶ held      (our hold, local_hold)
//	           talking ◀──far end──▶ held_remote   (its hold, remote_hold)
//	           talking ◀──conference/split──▶ conference
//
// At most one call is current: the one the handset, speaker or headset
// carries. The phone's State is that call's (Calling, Early, Talking,
// Held, HeldRemote); with no current call it is the handset's (OffHook,
// Dialing, Busy), else Ringing while a call rings, else Held while calls
// are held, else Idle:
//
//	           lift / speaker / line key / API call
//	 Idle ─────────────────────────────────────▶ OffHook (dial tone)
//	  ▲  ▲                                          │ digit
//	  │  │ hang up (the live call ends)             ▼
//	  │  └─────────────────────────────────────  Dialing ── '#' or pause ──▶ Calling
//	  │                                                                        │ 183+SDP
//	  │ incoming INVITE                                                        ▼
//	Ringing ── lift / answer ──▶ Talking ◀──────────── 200 OK ─────────────  Early
//	                              │  ▲  ▲
//	                         hold │  │  │ swap / resume / answer a waiting call
//	                              ▼  │  │ (the other current call is held first)
//	                              Held ─┘
//
// A call that arrives while the user is at the phone (handset lifted,
// speaker or headset on) waits: the call-waiting beep (Tones.CallWaiting,
// the country's cadence) is mixed over the current audio at a low level
// and the line LED blinks. The OK, line or call's line key, or
// AnswerCall, answers it and holds the current call; Swap and the swap
// key go back and forth. When the user leaves the phone, waiting calls
// ring. With NoCallWaiting, or at MaxCalls, a new call is busy: it goes
// to the line's busy forward target, or gets 486.
//
// A call that fails (busy, rejected, unreachable) or is ended by the far
// end leaves the handset in Busy (busy or congestion tone) until it is
// hung up, as a desk phone does. A connected call used hands-free (the
// speaker on, the handset on its hook: answered or placed through the API
// or the speaker key) that the far end ends goes straight back to Idle
// with the speaker off: there is no handset to put down, and the next
// call must ring rather than find the phone busy; a hands-free call that
// fails plays its busy or congestion tone for BusyHandsFree (3 s) and
// then goes back to Idle the same way. Going on hook ends the
// live call only: calls we hold stay held (the hold key or the call's
// line key resumes one), as on Yealink and Polycom desk phones.
//
// A call the far end holds (its re-INVITE offers sendonly or inactive)
// shows HeldRemote ("held_remote") until the far end resumes; what it
// sends meanwhile (music on hold) keeps playing. Our own hold shows Held
// whatever the far end does; resuming returns to HeldRemote while the far
// end still holds.
//
// # Lines
//
// Config.Lines are the accounts, line 0 the default (Config.Line alone is
// one line). CallOn and the line keys choose the line of the next call;
// an incoming call keeps the line it came to (CallEvent.Line), shown in
// Status.Calls. A line key answers the call ringing on its line, or
// resumes the one held there.
//
// # Transfer
//
// The transfer key holds the current call and gives dial tone on its
// line. Dialling and pressing transfer again (before a consult call is
// placed, or while it still rings: it is cancelled; the terminator key
// does the same while it rings) sends the held call
// blind to the number (Transferer.Transfer, REFER). Once the consult call
// is answered, the transfer key connects the held call's far end to it
// (Transferer.TransferReplacing, REFER with Replaces). Transfer does the
// same for the API. CallTransferProgress events show in the call's
// status; a failure leaves the call held, to be resumed. A far end that
// transfers us (CallReferred) makes the line's new call the current
// outgoing one; an INVITE with Replaces (CallIncoming with Replaces) is
// answered at once and takes the audio of the call it replaces, which is
// hung up.
//
// # Conference and audio
//
// Conference joins the current call and the newest held one in a local
// mix (hal/mix). One goroutine reads the microphone and gives each call's
// capture loop (Media.Run) a virtual microphone: the current call hears
// the microphone, a held call none (its capture loop stops while either
// side holds it), a conference party the microphone and the other
// party's received audio. The speaker plays the current
// call, or in a conference both parties. The hold key holds both
// parties; Split (or the conference key) holds the other one; when one
// party hangs up, the other stays as a normal call.
//
// # Forward, do not disturb, history, directory
//
// Each line has LineSettings (Config.Settings, SetLine; the DND key
// toggles line 0): DND refuses calls with DNDCode (486 or 480); Forward
// redirects them (Transferer.Redirect, 302) always, on busy, or after
// NoAnswerAfter of ringing (20 s). A call whose line cannot redirect is
// refused 486. Every call that ends gives one HistoryEntry (placed,
// received, missed, rejected, forwarded); missed calls count in
// Status.MissedCalls, and blink the message LED, until the history key or
// ClearMissed. The Directory names callers that give no display name and
// resolves speed dials (a long press of a digit while idle or off hook).
//
// # Voicemail and busy lamps
//
// SetMessages records what the PBX says of a line's mailbox (the
// daemon feeds it from the SIP side's message-summary events);
// Status.Lines shows messages_waiting, new_messages and old_messages.
// The message LED (hal.LEDMessage) follows one rule for both things it
// shows: it blinks slowly (hal.BlinkSlow) while voicemail waits on any
// line, is steadily on while only missed calls are unseen, and is off
// otherwise. The voicemail key (hal.KeyVoicemail) dials Config.Voicemail
// of the line the next call goes on (line 0 unless a line key chose
// another), hands-free, holding a connected call first; a line without
// a number ignores it.
//
// Config.BLF are the busy lamp keys (hal.KeyBLF1..KeyBLF8, each with its
// lamp hal.LEDBLF1..LEDBLF8), each watching a user on a line. SetLamp
// (fed from each line's dialog event subscriptions) sets the keys of
// that line watching the user, not another line's: a bare "201" matches
// "sip:201@any-domain". The lamp is off while the
// user is idle or the state is unknown (before the server's first
// report), blinks fast while a call rings the user, and is on while the
// user is in a call; Status.Lamps lists them. Pressing a key calls the
// user on the key's line; while the user's phone rings it picks the call
// up instead: with the key's PickupCode followed by the user (e.g.
// "*8201") when one is configured, else with an INVITE with Replaces
// (Picker, on lines that implement it) when the server identified the
// ringing dialog (PickupInfo), else it calls the user. The code wins
// because a pickup by Replaces needs a PBX that takes it over itself: a
// ringing phone behind a proxy refuses it (481, RFC 3891 §3). Like the
// redial key, a lamp key does nothing while a call is being set up.
//
// Mute belongs to one call: it is turned off when the call ends (or the
// phone goes on hook), so the next call starts with the microphone live.
// The volume is the user's setting, as on Yealink and Polycom desk
// phones: a change made with the volume keys during a call stays for the
// calls after it (one volume for handset and speaker, not saved across a
// restart). The headset key (on a board with Headset set) and SetRoute
// move the audio between handset, speaker and headset (Status.Route).
package phone
