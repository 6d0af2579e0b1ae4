package sip

import (
	"context"
	"errors"

	"github.com/deskphone/phone/voip/dialoginfo"
)

// DialogStateEvent reports the dialogs of a user a busy lamp watches
// (RFC 4235 dialog event package).
type DialogStateEvent struct {
	Sub *Subscription
	// Target is the user as given to WatchBLF.
	Target string
	// State is the lamp state: "idle", "ringing" or "busy"
	// (dialoginfo.LampState).
	State string
	// Dialogs are the user's live dialogs, with the ids a directed
	// pickup needs (Dialog.Replaces).
	Dialogs []dialoginfo.Dialog
}

func (*DialogStateEvent) event() {}

// blfHandler applies dialog-info documents of one subscription.
type blfHandler struct {
	target string
	tr     *dialoginfo.Tracker // guarded by the subscription's lock
}

func (*blfHandler) mediaType() string { return dialoginfo.MediaType }
func (h *blfHandler) reset()          { h.tr.Reset() }
func (h *blfHandler) parse(s *Subscription, body []byte) (func() (Event, bool), error) {
	info, err := dialoginfo.Parse(body)
	if err != nil {
		return nil, err
	}
	return func() (Event, bool) {
		if err := h.tr.Apply(info); errors.Is(err, dialoginfo.ErrGap) {
			// Lost a partial update: refresh, which brings full state.
			return nil, true
		}
		return &DialogStateEvent{Sub: s, Target: h.target, State: h.tr.State(), Dialogs: h.tr.Dialogs()}, false
	}, nil
}

// WatchBLF subscribes to the dialog event package (RFC 4235) of each
// user (a user or number at the account's domain, or a SIP URI), one
// subscription per user. Each NOTIFY is reported as a DialogStateEvent
// whose Target is the user as given. On an error no subscription is
// left behind.
func (u *UA) WatchBLF(users []string) ([]*Subscription, error) {
	var out []*Subscription
	for _, user := range users {
		s, err := u.subscribe(context.Background(), SubscribeOptions{
			Event: "dialog", Accept: []string{dialoginfo.MediaType}, Target: user,
		}, &blfHandler{target: user, tr: &dialoginfo.Tracker{}})
		if err != nil {
			for _, s := range out {
				s.Close()
			}
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
