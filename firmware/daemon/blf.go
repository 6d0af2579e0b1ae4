package daemon

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/voip/dialoginfo"
	"github.com/deskphone/phone/voip/sip"
)

// Busy lamp keys (config blf, accounts[].blf_list): each key watches a
// user through one line. The line subscribes to the dialog event
// package (RFC 4235) of each user its keys watch, or once to its
// resource list (RFC 4662); every report goes to Phone.SetLamp, and a
// subscription that fails or ends turns its users' lamps to unknown. The
// keys themselves (call the user, pick up its ringing call with the
// pickup code or an INVITE with Replaces) are the phone's (phone.BLFKey).

// lineBLF is what one line watches for the busy lamp keys.
type lineBLF struct {
	// users are the users the line's keys watch, in key order, each once;
	// list is the line's blf_list. Set by New, read-only after.
	users []string
	list  string

	mu   sync.Mutex                     // guards subs
	subs map[*sip.Subscription][]string // the users each subscription reports
}

// setupBLF turns config blf into the phone's busy lamp keys, with the
// line number of each key's account, and tells each line which users to
// watch. A key whose account is disabled, or whose line has no account,
// is left out (logged).
func (d *Daemon) setupBLF() []phone.BLFKey {
	var keys []phone.BLFKey
	for i, k := range d.cfg.BLF {
		n, ok := d.accountLine(k.Line)
		if !ok {
			d.log.Warn("busy lamp key left out: its account is disabled (no line)", "key", k.Key, "account", k.Line, "user", k.User)
			continue
		}
		key, ok := hal.KeyByName(k.Key)
		if _, isBLF := key.BLFOf(); !ok || !isBLF {
			d.log.Warn("busy lamp key left out: not a busy lamp key", "item", i, "key", k.Key)
			continue
		}
		keys = append(keys, phone.BLFKey{Key: key, Line: n, User: k.User, Label: k.Label, PickupCode: k.PickupCode})
		l := d.lines[n]
		if !slices.Contains(l.blf.users, k.User) {
			l.blf.users = append(l.blf.users, k.User)
		}
	}
	for i, a := range d.cfg.Accounts {
		if n, ok := d.accountLine(i); ok && a.BLFList != "" {
			d.lines[n].blf.list = a.BLFList
		}
	}
	return keys
}

// accountLine is the line number of accounts[i]: its index among the
// enabled accounts. ok is false when it is disabled or does not exist,
// or the lines are not the accounts' (no account enabled).
func (d *Daemon) accountLine(i int) (int, bool) {
	n := 0
	for j, a := range d.cfg.Accounts {
		if j == i {
			return n, a.Enabled && n < len(d.lines) && d.lines[n].name != ""
		}
		if a.Enabled {
			n++
		}
	}
	return 0, false
}

// watchBLF subscribes the line's busy lamps once its UA has started:
// to the resource list when the line has one, else to each user. The
// subscriptions live until the UA closes; each retries on its own when
// the server refuses or ends it for a while.
func (l *uaLine) watchBLF() {
	b := &l.blf
	if len(b.users) == 0 && b.list == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = map[*sip.Subscription][]string{}
	if b.list != "" {
		s, err := l.ua.WatchBLFList(b.list)
		if err != nil {
			l.log.Warn("busy lamp list subscription", "list", b.list, "err", err)
			return
		}
		b.subs[s] = b.users
		return
	}
	for _, u := range b.users {
		ss, err := l.ua.WatchBLF([]string{u})
		if err != nil {
			l.log.Warn("busy lamp subscription", "user", u, "err", err)
			continue
		}
		b.subs[ss[0]] = []string{u}
	}
}

// blfEvent shows a dialog report on the lamps, and a subscription that
// failed or ended as unknown. Other events are not the lamps'.
func (l *uaLine) blfEvent(ev sip.Event) {
	switch e := ev.(type) {
	case *sip.DialogStateEvent:
		var pick phone.PickupInfo
		if e.State == dialoginfo.Ringing {
			pick.Replaces = ringingReplaces(e.Dialogs)
		}
		l.setLamp(e.Target, e.State, pick)
	case *sip.SubscriptionEvent:
		if e.Sub.Event() != "dialog" {
			return
		}
		switch e.Status.State {
		case sip.SubFailed, sip.SubTerminated:
		default:
			return
		}
		l.log.Info("busy lamp subscription down: lamps unknown", "target", e.Sub.Target(),
			"state", e.Status.State, "code", e.Status.Code, "reason", e.Status.Reason)
		l.blf.mu.Lock()
		users := l.blf.subs[e.Sub]
		l.blf.mu.Unlock()
		for _, u := range users {
			l.setLamp(u, phone.LampUnknown, phone.PickupInfo{})
		}
	}
}

// setLamp hands a lamp state to the phone, for the keys of this line
// only. A user no key of the line watches (an entry of a resource list
// beyond the keys) is not a problem.
func (l *uaLine) setLamp(user, state string, pick phone.PickupInfo) {
	ctx, cancel := context.WithTimeout(context.Background(), phoneTimeout)
	defer cancel()
	switch err := l.d.ph.SetLamp(ctx, l.n, user, state, pick); { // only this line's keys
	case errors.Is(err, phone.ErrNoLamp):
		l.log.Debug("dialog state of a user no key watches", "user", user, "state", state)
	case err != nil:
		l.log.Warn("busy lamp not shown", "user", user, "state", state, "err", err)
	}
}

// ringingReplaces is the Replaces value that picks up the call ringing
// at the watched user (RFC 3891, from the dialog info's call-id and
// tags), "" when the server did not identify one.
func ringingReplaces(ds []dialoginfo.Dialog) string {
	for _, d := range ds {
		switch d.State {
		case dialoginfo.Trying, dialoginfo.Proceeding, dialoginfo.Early:
		default:
			continue
		}
		if d.Direction == dialoginfo.Initiator {
			continue
		}
		if v, ok := d.Replaces(); ok {
			return v
		}
	}
	return ""
}

// SubscriptionStatus is one SIP event subscription of a line (message
// waiting, busy lamps) in the status document.
type SubscriptionStatus struct {
	// Event is the package ("message-summary", "dialog"), Target the
	// resource's URI.
	Event  string `json:"event"`
	Target string `json:"target"`
	// State is subscribing, active, pending, failed or terminated; Code
	// and Reason the last answer (or the reason the server ended it).
	State    string `json:"state"`
	Code     int    `json:"code,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Failures int    `json:"failures,omitempty"`
}

// subscriptionStatus lists the line's subscriptions for the status.
func (l *uaLine) subscriptionStatus() []SubscriptionStatus {
	var out []SubscriptionStatus
	for _, s := range l.ua.Subscriptions() {
		st := s.Status()
		out = append(out, SubscriptionStatus{Event: s.Event(), Target: s.Target(), State: string(st.State),
			Code: st.Code, Reason: st.Reason, Failures: st.Failures})
	}
	return out
}
