package ui

import "time"

// View is everything the screen shows, as plain values: the daemon builds
// it from the phone's status, the registrations and the NAT report, so
// that this package knows nothing of the phone.
type View struct {
	// Now is the wall clock for the idle clock and the call timers.
	Now time.Time
	// Lines are the SIP lines (accounts), in line order.
	Lines []Line
	// Calls are the live calls, in the order the phone lists them.
	Calls []Call
	// OffHook is set while the phone waits for a number (dial tone);
	// Dialing is the number typed so far and DialLine its line.
	OffHook  bool
	Dialing  string
	DialLine int
	// Notice is a short message about the last call attempt ("Busy",
	// "Not found"), shown on the dialling screen while the phone plays
	// its busy tone.
	Notice string
	// Trouble is one sentence about what stops calls from working
	// (registration refused, network down, a SIP ALG); "" when all is
	// well. The idle screen shows it instead of the date line.
	Trouble string
	// Lamps are the busy lamp keys, in key order: the idle screen shows
	// each colleague's state in place of the date.
	Lamps []Lamp
	// MissedCalls and Voicemail are the counters of the idle screen.
	MissedCalls int
	Voicemail   int
	// DND is do-not-disturb on the default line.
	DND bool
	// Muted, Route ("handset", "speaker", "headset") and Volume (0–100)
	// are the audio state.
	Muted  bool
	Route  string
	Volume int
	// Conference is set while the active calls are mixed.
	Conference bool

	// The menus' contents.
	History   []HistoryEntry
	Contacts  []Contact
	SpeedDial []Contact // Key is the speed-dial digit
	Network   []Item    // network status: address, gateway, SIP transport, ...
	NAT       []Item    // NAT report: type, mapping, filtering, external address, ...
	// NATAdvice is what to do about the NAT, a paragraph (word-wrapped).
	NATAdvice string
	Version   string
	Board     string
}

// RegState is a line's registration.
type RegState int

const (
	RegNone        RegState = iota // no registrar: direct calls only
	RegRegistering                 // a REGISTER is out
	RegRegistered                  // registered
	RegFailed                      // refused or unreachable
)

// Line is one SIP line.
type Line struct {
	// Label is what the line is called on screen (the user part, or the
	// account's display name).
	Label string
	Reg   RegState
	// Reason says why registration failed.
	Reason string
	DND    bool
	// Forward is the always-forward target, "" when none.
	Forward string
}

// CallState is a call's state as the screen shows it.
type CallState int

const (
	CallCalling     CallState = iota // outgoing, no answer yet
	CallRingback                     // outgoing, the far end rings
	CallIncoming                     // ringing here
	CallWaiting                      // ringing here during another call
	CallTalking                      // connected
	CallHeld                         // we hold it
	CallHeldRemote                   // the far end holds it
	CallConferenced                  // part of the local conference
)

var callStateText = [...]string{
	CallCalling: "Calling", CallRingback: "Ringing", CallIncoming: "Incoming call",
	CallWaiting: "Call waiting", CallTalking: "Talking", CallHeld: "On hold",
	CallHeldRemote: "Held by remote", CallConferenced: "Conference",
}

func (s CallState) String() string {
	if s >= 0 && int(s) < len(callStateText) {
		return callStateText[s]
	}
	return "?"
}

// ringing reports whether the call rings here (waits for an answer).
func (s CallState) ringing() bool { return s == CallIncoming || s == CallWaiting }

// Call is one live call.
type Call struct {
	ID string
	// Line is the 0-based line the call is on.
	Line int
	// Name and Number are the far end (the caller's display name, or
	// the phonebook's; either may be empty: a call without a name whose
	// number is in Contacts shows the contact's name).
	Name, Number string
	State        CallState
	// Active is the call the handset or speaker carries.
	Active bool
	// Since is when the call started, Answered when it was answered.
	Since, Answered time.Time
	// Codec is the audio codec in use ("PCMU", "G722", ...).
	Codec string
	// Secure is set when signalling and media are encrypted.
	Secure bool
}

// HistoryEntry is one call in the history.
type HistoryEntry struct {
	// Kind is "placed", "received", "missed", "rejected" or "forwarded".
	Kind         string
	Name, Number string
	Line         int
	At           time.Time
	Duration     time.Duration
}

// Contact is a phonebook entry (or a speed-dial key with Key set).
type Contact struct {
	Name, Number string
	Key          rune
}

// Item is one labelled value of a status page.
type Item struct {
	Label, Value string
}

// Lamp is one busy lamp key: whom it watches and what they do.
type Lamp struct {
	Label string // the key's label, or the user
	State LampState
}

// LampState is a watched colleague's state.
type LampState int

const (
	LampUnknown LampState = iota // no news from the server
	LampIdle                     // not on the phone
	LampRinging                  // a call rings them
	LampBusy                     // in a call
)
