package phone

import (
	"context"

	"github.com/deskphone/phone/hal"
)

// Line is the phone's view of the SIP user agent.
type Line interface {
	// Dial starts an outgoing call to target (a number, a user or a SIP
	// URI) and returns once the request is on its way. Progress arrives as
	// CallEvents. DialledOnKeypad(ctx) tells whether someone at the phone
	// dialled target.
	Dial(ctx context.Context, target string) (Call, error)
}

type keypadKey struct{}

// OnKeypad returns a context saying that the number dialled under it was
// entered on the phone's own keypad (or its hook and keys), by someone at
// the phone. The phone marks such dials; the line may allow them what it
// refuses a remote request, such as a service code that wipes the phone.
func OnKeypad(ctx context.Context) context.Context {
	return context.WithValue(ctx, keypadKey{}, true)
}

// DialledOnKeypad reports whether ctx carries OnKeypad's mark. Numbers
// from the API (its call action, or keys it pressed) and from anywhere
// else do not.
func DialledOnKeypad(ctx context.Context) bool {
	v, _ := ctx.Value(keypadKey{}).(bool)
	return v
}

// Call is one call as the phone drives it.
type Call interface {
	ID() string
	Remote() string
	Answer() error
	// Reject refuses an incoming call (486 Busy Here, 603 Decline).
	Reject(code int) error
	// Hangup ends the call in whatever state it is (CANCEL or BYE).
	Hangup() error
	Hold() error
	Resume() error
	SendDTMF(digits string) error
	// Media returns the call's audio once negotiated, nil before.
	Media() Media
}

// Media is a call's audio: a source of received frames for the speaker
// and a capture loop that sends the microphone.
type Media interface {
	hal.FrameSource
	Run(ctx context.Context, in hal.AudioIn) error
}

// CallState is what the line reports of a call.
type CallState int

const (
	CallIncoming CallState = iota // an INVITE arrived
	CallRinging                   // outgoing: the far end rings (180 without SDP)
	CallEarly                     // outgoing: early media (183/180 with SDP)
	CallAnswered                  // 200 OK / ACK: talking
	CallHeld                      // on hold (either side): RemoteHold says whether the far end holds
	CallResumed                   // back from hold: RemoteHold says whether the far end still holds
	CallEnded                     // ended normally (BYE or our hang-up)
	CallFailed                    // failed: Code and Reason say why
	// CallTransferProgress: progress of a transfer we asked for (the
	// NOTIFY sipfrag status in Code, Reason; Final when it is the last).
	CallTransferProgress
	// CallReferred: the far end of Old asked us to call a third party
	// (REFER); the line already placed that call, which is Call.
	CallReferred
)

func (s CallState) String() string {
	switch s {
	case CallIncoming:
		return "incoming"
	case CallRinging:
		return "ringing"
	case CallEarly:
		return "early"
	case CallAnswered:
		return "answered"
	case CallHeld:
		return "held"
	case CallResumed:
		return "resumed"
	case CallEnded:
		return "ended"
	case CallFailed:
		return "failed"
	case CallTransferProgress:
		return "transfer_progress"
	case CallReferred:
		return "referred"
	}
	return "unknown"
}

// CallEvent is a change of a call, reported by the line.
type CallEvent struct {
	Call   Call
	State  CallState
	Code   int    // SIP status for CallFailed (486, 404, 408, ...)
	Reason string // human-readable
	// RemoteHold is, for an answered call (CallAnswered, CallHeld,
	// CallResumed), whether the far end holds it: its last offer or
	// answer was sendonly or inactive (RFC 3264 section 8.4).
	RemoteHold bool

	// Line is the line (0-based) the call is on.
	Line int
	// Replaces, on CallIncoming, is the call an INVITE with Replaces
	// takes over (attended transfer to us, RFC 3891): answer the new call
	// at once and end the replaced one.
	Replaces Call
	// Old, on CallReferred, is the call whose far end asked for the
	// transfer.
	Old Call
	// Final, on CallTransferProgress, marks the transfer's last report.
	Final bool
}

// DTMFEvent is a digit received from the far end.
type DTMFEvent struct {
	Call  Call
	Digit rune
}

// Transferer is what a Call can do beyond the basics (the daemon's
// adapter implements it; fakes may not). The phone finds it by type
// assertion on the Call; a call without it cannot be forwarded or
// transferred.
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

// Identity is who the far end is: the display name and number from
// P-Asserted-Identity, else From (incoming) or To (outgoing).
type Identity struct {
	Name   string `json:"name,omitempty"`
	Number string `json:"number,omitempty"`
	URI    string `json:"uri,omitempty"`
}
