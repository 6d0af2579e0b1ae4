package sip

import (
	"context"
	"errors"
	"fmt"
)

// ErrBadReplaces: DialReplacing was given a Replaces value that does not
// parse (RFC 3891 §6.1: a Call-ID, to-tag and from-tag).
var ErrBadReplaces = errors.New("sip: bad Replaces value")

// DialReplacing places a call to target, as Dial does, whose INVITE
// carries Replaces: replaces and Require: replaces (RFC 3891): the
// dialog it names is to be taken over by the new call. replaces is the
// header value as the watched user sees the dialog, "call-id;to-tag=
// <its tag>;from-tag=<its peer's tag>[;early-only]", which
// dialoginfo.Dialog.Replaces builds from a busy lamp's dialog info.
//
// This is directed pickup from a busy lamp, with a caveat the caller
// must know: a ringing phone's dialog is one it did not initiate, and
// RFC 3891 §3 has a UA answer 481 to a Replaces naming such an early
// dialog (this package's UAS does, as do pjsip and most phones). Behind
// a proxy (Kamailio, OpenSIPS, tools/pbx) the INVITE reaches the ringing
// phone, so the pickup fails with 481 (CallEvent with StateEnded, Code
// 481); it works where a B2BUA PBX (Asterisk, FreeSWITCH) recognises the
// Replaces as a pickup of a call it is ringing and answers it itself.
// With early-only a dialog already answered gets 486 instead of being
// taken over. A bad replaces value is ErrBadReplaces and sends nothing.
func (u *UA) DialReplacing(ctx context.Context, target, replaces string) (*Call, error) {
	r, err := parseReplaces(replaces)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadReplaces, err)
	}
	ruri, err := parseTarget(target, u.cfg.Account.Domain)
	if err != nil {
		return nil, err
	}
	return u.dial(ctx, ruri, dialOpts{replaces: &r})
}
