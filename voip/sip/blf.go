package sip

import (
	"context"
	"errors"
	"strings"

	"github.com/deskphone/phone/voip/dialoginfo"
)

// DialogStateEvent reports the dialogs of a user a busy lamp watches
// (RFC 4235 dialog event package).
type DialogStateEvent struct {
	Sub *Subscription
	// Target is the user as given to WatchBLF, or for a resource list
	// (WatchBLFList) the resource's URI as the list names it.
	Target string
	// Name is the resource's name in a resource list, else empty.
	Name string
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

func (*blfHandler) mediaTypes() []string { return []string{dialoginfo.MediaType} }
func (h *blfHandler) reset()             { h.tr.Reset() }
func (h *blfHandler) parse(s *Subscription, _ string, body []byte) (func() (Event, bool), error) {
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

// listHandler applies resource-list NOTIFYs (RFC 4662) of the dialog
// package, and plain dialog-info when the server treats the list URI as
// one user.
type listHandler struct {
	list string
	lt   *dialoginfo.ListTracker // guarded by the subscription's lock
	one  *blfHandler
}

func (*listHandler) supported() string { return "eventlist" }
func (*listHandler) mediaTypes() []string {
	return []string{dialoginfo.MultipartRelated, dialoginfo.MediaType}
}
func (h *listHandler) reset() { h.lt.Reset(); h.one.reset() }
func (h *listHandler) parse(s *Subscription, ctype string, body []byte) (func() (Event, bool), error) {
	if mt, _, _ := strings.Cut(ctype, ";"); !strings.EqualFold(strings.TrimSpace(mt), dialoginfo.MultipartRelated) {
		return h.one.parse(s, ctype, body)
	}
	l, err := dialoginfo.ParseList(ctype, body)
	if err != nil {
		return nil, err
	}
	return func() (Event, bool) {
		changed, gap := h.lt.Apply(l)
		for _, r := range changed {
			s.u.emit(&DialogStateEvent{Sub: s, Target: r.URI, Name: r.Name, State: r.State, Dialogs: r.Dialogs})
		}
		return nil, gap
	}, nil
}

// WatchBLFList subscribes to the dialog package of a resource list
// (RFC 4662, Supported: eventlist): one subscription brings the state of
// every user the server's list names. Each resource whose state a NOTIFY
// carries is reported as a DialogStateEvent with the resource's URI as
// Target. A server that treats the URI as a single user is handled as
// WatchBLF would (Target is then listURI).
func (u *UA) WatchBLFList(listURI string) (*Subscription, error) {
	return u.subscribe(context.Background(), SubscribeOptions{
		Event: "dialog", Target: listURI,
		Accept: []string{dialoginfo.MediaType, "application/rlmi+xml", dialoginfo.MultipartRelated},
	}, &listHandler{list: listURI, lt: &dialoginfo.ListTracker{}, one: &blfHandler{target: listURI, tr: &dialoginfo.Tracker{}}})
}
