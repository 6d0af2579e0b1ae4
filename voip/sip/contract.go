package sip

// CONTRACT (issue 13, session of 2026-12-04): what voip/sip offers for
// transfer, forwarding, caller identity and the NAT-change policy, agreed
// before the work was split so the phone and the daemon can be written
// against it. The owner of voip/sip moves each item into its proper file
// as it is implemented and deletes this file; until then the methods
// answer errNotYet.

import (
	"errors"

	"github.com/deskphone/phone/portmgr"
)

var errNotYet = errors.New("sip: not implemented yet")

// Identity is who the far end is: display name, user part (the number)
// and URI, from P-Asserted-Identity when the proxy sent one, else From
// (incoming) or To (outgoing).
type Identity struct {
	Name   string `json:"name,omitempty"`
	Number string `json:"number,omitempty"`
	URI    string `json:"uri,omitempty"`
}

// Identity returns the far end's identity.
func (c *Call) Identity() Identity { return Identity{} }

// Redirect answers an unanswered incoming call 302 Moved Temporarily with
// target (a number, user or SIP URI, resolved like Dial's) as Contact (RFC
// 3261 §21.3.3) and ends it (EndCode 302).
func (c *Call) Redirect(target string) error { return errNotYet }

// Transfer sends REFER (RFC 3515) to the far end of an answered call: a
// blind transfer to target. Progress arrives as TransferEvents (from the
// NOTIFY message/sipfrag bodies, RFC 5589 §6); when the final one is 2xx
// the UA ends the call with BYE itself (EndReason "transferred").
func (c *Call) Transfer(target string) error { return errNotYet }

// TransferReplacing sends REFER whose Refer-To names other's far end with
// a Replaces for other's dialog (RFC 3891, RFC 5589 §7): attended transfer.
func (c *Call) TransferReplacing(other *Call) error { return errNotYet }

// Replaces is, for an incoming call whose INVITE carried Replaces
// naming one of our confirmed dialogs, that call; nil otherwise.
func (c *Call) Replaces() *Call { return nil }

// TransferEvent reports the progress of a transfer we asked for with
// Transfer or TransferReplacing.
type TransferEvent struct {
	Call *Call
	// Code and Reason are the status line of the sipfrag (100, 180, 200,
	// 486, ...); 0 with a reason when the REFER itself failed.
	Code   int
	Reason string
	// Final is set on the last report (subscription terminated, REFER
	// refused or timed out).
	Final bool
}

// ReferredCallEvent reports that the far end of Referrer asked us to call
// a third party (an in-dialog REFER from that dialog's peer, answered 202):
// the UA has already placed Call (with Referred-By, and Replaces when the
// Refer-To carried one) and reports its progress to the referrer by NOTIFY.
type ReferredCallEvent struct {
	Call     *Call
	Referrer *Call
	Target   string
}

func (*TransferEvent) event()     {}
func (*ReferredCallEvent) event() {}

// HandlePortEvent applies the NAT-change policy for one of the port
// manager's events: when this UA's SIP mapping changed address or lost its
// binding, re-REGISTER and re-INVITE every live call; when a call's media
// mapping changed, re-INVITE that call; a SIP ALG report is logged. Events
// for mappings this UA does not own are ignored, so the daemon can hand
// every event to every line's UA.
func (u *UA) HandlePortEvent(ev portmgr.Event) {}
