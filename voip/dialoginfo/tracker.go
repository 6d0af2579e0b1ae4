package dialoginfo

import (
	"errors"
	"slices"
	"strings"
)

// Lamp states: what a busy lamp shows for a set of dialogs.
const (
	// Idle: no dialog, or only terminated ones.
	Idle = "idle"
	// Ringing: a call is offered to the user (an early or proceeding
	// dialog it is the recipient of) and none is answered.
	Ringing = "ringing"
	// Busy: the user is in a call or placing one.
	Busy = "busy"
)

// LampState is the lamp state for dialogs: Busy when any dialog is
// confirmed or one the user initiated is being set up, else Ringing when
// one is offered to the user, else Idle. A dialog with no direction that
// is being set up counts as ringing (servers that omit the direction
// mostly report incoming calls, and ringing is the state that invites a
// pickup, which the server will refuse if it was wrong).
func LampState(dialogs []Dialog) string {
	ringing := false
	for _, d := range dialogs {
		switch d.State {
		case Confirmed:
			return Busy
		case Trying, Proceeding, Early:
			if d.Direction == Initiator {
				return Busy
			}
			ringing = true
		}
	}
	if ringing {
		return Ringing
	}
	return Idle
}

// ErrGap means a partial-state document did not follow the last one
// applied (a NOTIFY was lost or none with full state came first): the
// subscriber should refresh the subscription, which makes the notifier
// send full state (RFC 4235 §4.1).
var ErrGap = errors.New("dialoginfo: partial state out of sequence")

// Tracker keeps the dialog state of one subscription from the documents
// of its NOTIFYs. The zero value is ready; it is not safe for concurrent
// use.
type Tracker struct {
	have    bool
	version uint32
	dialogs map[string]Dialog
}

// Apply applies a document. Full state replaces everything (documents
// arrive in NOTIFY CSeq order, which the SIP layer enforces, so a full
// document is taken whatever its version: some servers never advance
// it); partial state must carry the next version, else ErrGap and
// nothing changes. Terminated dialogs are dropped.
func (t *Tracker) Apply(info *Info) error {
	if !info.Full && (!t.have || info.Version != t.version+1) {
		return ErrGap
	}
	if info.Full || t.dialogs == nil {
		t.dialogs = map[string]Dialog{}
	}
	for _, d := range info.Dialogs {
		if d.State == Terminated {
			delete(t.dialogs, d.ID)
			continue
		}
		t.dialogs[d.ID] = d
	}
	t.have, t.version = true, info.Version
	return nil
}

// Reset forgets everything (a new subscription starts its versions anew).
func (t *Tracker) Reset() { *t = Tracker{} }

// Dialogs returns the live dialogs, ordered by id.
func (t *Tracker) Dialogs() []Dialog {
	out := make([]Dialog, 0, len(t.dialogs))
	for _, d := range t.dialogs {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Dialog) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// State is LampState of the live dialogs.
func (t *Tracker) State() string { return LampState(t.Dialogs()) }
