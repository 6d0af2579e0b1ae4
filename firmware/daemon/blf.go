package daemon

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/deskphone/phone/firmware/config"
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
	mu sync.Mutex // guards following
	// users are the users the line's keys watch, in key order, each once;
	// list is the line's blf_list. Set by New, and by a config applied
	// live (rewatchBLF).
	users []string
	list  string
	subs  map[*sip.Subscription][]string // the users each subscription reports
}

// setupBLF turns config blf into the phone's busy lamp keys and tells
// each line which users to watch (blfPlan).
func (d *Daemon) setupBLF() []phone.BLFKey {
	keys, users, lists := blfPlan(d.cfg, d.lines, d.log)
	for n, l := range d.lines {
		l.blf.users, l.blf.list = users[n], lists[n]
	}
	return keys
}

// blfPlan turns c's blf into the phone's busy lamp keys, with the line
// number of each key's account, and lists per line the users its keys
// watch (each once, in key order) and its account's blf_list. A key
// whose account is disabled, or whose line has no account, is left out
// (logged).
func blfPlan(c *config.Config, lines []*uaLine, log *slog.Logger) (keys []phone.BLFKey, users [][]string, lists []string) {
	users, lists = make([][]string, len(lines)), make([]string, len(lines))
	for i, k := range c.BLF {
		n, ok := accountLine(c, lines, k.Line)
		if !ok {
			log.Warn("busy lamp key left out: its account is disabled (no line)", "key", k.Key, "account", k.Line, "user", k.User)
			continue
		}
		key, ok := hal.KeyByName(k.Key)
		if _, isBLF := key.BLFOf(); !ok || !isBLF {
			log.Warn("busy lamp key left out: not a busy lamp key", "item", i, "key", k.Key)
			continue
		}
		keys = append(keys, phone.BLFKey{Key: key, Line: n, User: k.User, Label: k.Label, PickupCode: k.PickupCode})
		if !slices.Contains(users[n], k.User) {
			users[n] = append(users[n], k.User)
		}
	}
	for i, a := range c.Accounts {
		if n, ok := accountLine(c, lines, i); ok && a.BLFList != "" {
			lists[n] = a.BLFList
		}
	}
	return keys, users, lists
}

// accountLine is the line number of c.Accounts[i]: its index among the
// enabled accounts. ok is false when it is disabled or does not exist,
// or the lines are not the accounts' (no account enabled).
func accountLine(c *config.Config, lines []*uaLine, i int) (int, bool) {
	n := 0
	for j, a := range c.Accounts {
		if j == i {
			return n, a.Enabled && n < len(lines) && lines[n] != nil && lines[n].name != ""
		}
		if a.Enabled {
			n++
		}
	}
	return 0, false
}

// rewatchBLF replaces what a running line's busy lamps watch (a config
// applied live changed its keys or its blf_list). Subscriptions to users
// still watched go on (their lamps keep their state); those to users no
// key watches end (un-SUBSCRIBE); new users are subscribed. A changed
// resource list starts over.
func (l *uaLine) rewatchBLF(users []string, list string) {
	b := &l.blf
	var closing []*sip.Subscription
	b.mu.Lock()
	switch {
	case b.list != list || b.subs == nil:
		for s := range b.subs {
			closing = append(closing, s)
		}
		b.subs = nil
		b.users, b.list = users, list
	case list != "":
		b.users = users
		for s := range b.subs {
			b.subs[s] = users // the list reports for every key
		}
	default:
		for s, us := range b.subs {
			if !slices.Contains(users, us[0]) {
				closing = append(closing, s)
				delete(b.subs, s)
			}
		}
		b.users = users
		for _, u := range users {
			if slices.ContainsFunc(slices.Collect(maps.Values(b.subs)), func(us []string) bool { return us[0] == u }) {
				continue
			}
			ss, err := l.ua.WatchBLF([]string{u})
			if err != nil {
				l.log.Warn("busy lamp subscription", "user", u, "err", err)
				continue
			}
			b.subs[ss[0]] = []string{u}
		}
	}
	fresh := b.subs == nil
	b.mu.Unlock()
	for _, s := range closing {
		_ = s.Close()
	}
	if fresh && l.startErr() == "" {
		l.watchBLF()
	}
}

// watchBLF subscribes the line's busy lamps once its UA has started:
// to the resource list when the line has one, else to each user. The
// subscriptions live until the UA closes; each retries on its own when
// the server refuses or ends it for a while.
func (l *uaLine) watchBLF() {
	b := &l.blf
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.users) == 0 && b.list == "" {
		return
	}
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
