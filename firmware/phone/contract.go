package phone

// CONTRACT (issue 13, session of 2026-12-04): the shape the phone takes for
// several lines and several calls, agreed before the work was split. The
// phone's owner moves each item into its proper file as it is implemented
// and deletes this file; until then the methods answer ErrState.

import (
	"context"
	"time"

	"github.com/deskphone/phone/hal"
)

// Identity is who the far end is: the display name and number from
// P-Asserted-Identity, else From (incoming) or To (outgoing).
type Identity struct {
	Name   string `json:"name,omitempty"`
	Number string `json:"number,omitempty"`
	URI    string `json:"uri,omitempty"`
}

// Transferer is what a Call can do beyond the basics (the daemon's
// adapter implements it; fakes may not).
type Transferer interface {
	// Redirect answers an unanswered incoming call 302 Moved Temporarily
	// with target as Contact (call forward).
	Redirect(target string) error
	// Transfer sends REFER to the far end: blind transfer to target.
	// Progress arrives as CallTransferProgress events; on success the
	// line ends the call itself (CallEnded).
	Transfer(target string) error
	// TransferReplacing sends REFER with Replaces (attended transfer):
	// the far end of this call is connected to the far end of other.
	TransferReplacing(other Call) error
	// Identity is the far end's identity.
	Identity() Identity
}

// Further call states (after CallFailed).
const (
	// CallTransferProgress: progress of a transfer we asked for (the
	// NOTIFY sipfrag status in Code, Reason; Final when it is the last).
	CallTransferProgress CallState = iota + CallFailed + 1
	// CallReferred: the far end of Old asked us to call a third party
	// (REFER); the line already placed that call, which is Call.
	CallReferred
)

// History receives one entry per call when it ends (optional).
type History interface {
	Add(HistoryEntry)
}

// HistoryEntry is one placed, received, missed, rejected or forwarded call.
type HistoryEntry struct {
	// Kind is "placed", "received", "missed", "rejected" or "forwarded".
	Kind        string        `json:"kind"`
	Line        int           `json:"line"`
	Remote      string        `json:"remote"` // the far end's URI or number, as dialled or seen
	Name        string        `json:"name,omitempty"`
	Start       time.Time     `json:"start"`
	Duration    time.Duration `json:"-"` // talk time, zero when not answered
	Code        int           `json:"code,omitempty"`
	Reason      string        `json:"reason,omitempty"`
	ForwardedTo string        `json:"forwarded_to,omitempty"`
}

// Directory is the phonebook as the phone uses it (optional).
type Directory interface {
	// Lookup returns the name stored for a number or URI.
	Lookup(number string) (name string, ok bool)
	// SpeedDial returns the number stored for a speed-dial digit.
	SpeedDial(key rune) (number string, ok bool)
}

// LineSettings are one line's call handling, changeable at run time.
type LineSettings struct {
	DND bool `json:"dnd"`
	// DNDCode is what DND answers: 486 (default) or 480.
	DNDCode int     `json:"dnd_code,omitempty"`
	Forward Forward `json:"forward"`
}

// Forward says where calls to a line go instead (empty: nowhere).
type Forward struct {
	Always   string `json:"always,omitempty"`
	Busy     string `json:"busy,omitempty"`
	NoAnswer string `json:"no_answer,omitempty"`
	// NoAnswerAfter is the ringing time before NoAnswer applies; zero
	// means 20 s.
	NoAnswerAfter time.Duration `json:"-"`
}

// CallStatus is one call in Status.Calls.
type CallStatus struct {
	ID        string `json:"id"`
	Line      int    `json:"line"`
	Direction string `json:"direction"` // "outgoing" or "incoming"
	// State: calling, ringing (far end rings), early, incoming (rings
	// here), waiting (incoming during another call), talking, held,
	// held_remote, conference.
	State      string    `json:"state"`
	Remote     string    `json:"remote"`
	Identity   Identity  `json:"identity"`
	Active     bool      `json:"active"` // the call the handset/speaker carries
	LocalHold  bool      `json:"local_hold"`
	RemoteHold bool      `json:"remote_hold"`
	Since      time.Time `json:"since"`
	Answered   time.Time `json:"answered,omitzero"`
}

// LineStatus is one line's settings in Status.Lines.
type LineStatus struct {
	Line int `json:"line"`
	LineSettings
}

// Route is where the audio goes: "handset", "speaker", "headset" or "".
type Route string

var _ = hal.KeyConference

// CallOn dials target on line (0-based) hands-free.
func (p *Phone) CallOn(ctx context.Context, line int, target string) error { return ErrState }

// AnswerCall answers the ringing or waiting call id hands-free (the active
// call, if any, is held first).
func (p *Phone) AnswerCall(ctx context.Context, id string) error { return ErrState }

// RejectCall refuses the ringing or waiting call id (486, or code).
func (p *Phone) RejectCall(ctx context.Context, id string, code int) error { return ErrState }

// HangupCall ends call id.
func (p *Phone) HangupCall(ctx context.Context, id string) error { return ErrState }

// HoldCall and ResumeCall hold and resume call id (resuming holds the
// active one).
func (p *Phone) HoldCall(ctx context.Context, id string) error   { return ErrState }
func (p *Phone) ResumeCall(ctx context.Context, id string) error { return ErrState }

// Swap makes the held call active and holds the active one.
func (p *Phone) Swap(ctx context.Context) error { return ErrState }

// Transfer transfers the active call: blind to target when target is set;
// with target empty, attended: the held call's far end to the active
// call's far end (REFER with Replaces).
func (p *Phone) Transfer(ctx context.Context, target string) error { return ErrState }

// Conference joins the active call and the held one in a local three-way
// mix; Split leaves the conference (the other call is held).
func (p *Phone) Conference(ctx context.Context) error { return ErrState }

// SetLine changes a line's DND and forwarding.
func (p *Phone) SetLine(ctx context.Context, line int, s LineSettings) error { return ErrState }

// SetRoute moves the audio of the active call ("handset", "speaker",
// "headset"); ErrState when the board has no such device.
func (p *Phone) SetRoute(ctx context.Context, r Route) error { return ErrState }
