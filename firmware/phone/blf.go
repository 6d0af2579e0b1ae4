package phone

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/deskphone/phone/hal"
)

// BLFKey is one busy lamp key: a key and its lamp watching a user.
type BLFKey struct {
	// Key is one of hal.KeyBLF1 .. hal.KeyBLF8; its lamp is the LED of
	// the same number (hal.BLFLED).
	Key hal.Key
	// Line is the line (0-based) the key's calls go on.
	Line int
	// User is whom the key watches and calls: a number, a user or a SIP
	// URI, as the line dials it. SetLamp finds the key by it.
	User string
	// Label names the key on the screen and in the status; empty shows
	// User.
	Label string
	// PickupCode, when set, is the PBX's directed pickup prefix (e.g.
	// "*8"): pressing the key while the user's phone rings dials
	// PickupCode followed by User. It takes precedence over a pickup by
	// Replaces.
	PickupCode string
}

// Lamp states, as SetLamp takes them and Status.Lamps shows them.
const (
	LampIdle    = "idle"    // no call: the lamp is off
	LampRinging = "ringing" // a call rings the user: the lamp blinks fast
	LampBusy    = "busy"    // the user is in a call: the lamp is on
	LampUnknown = "unknown" // no news from the server (yet): the lamp is off
)

// PickupInfo is what the server told of the ringing call a lamp shows.
type PickupInfo struct {
	// Replaces is the value of a Replaces header that takes the ringing
	// dialog over (RFC 3891: call-id;to-tag=...;from-tag=...), from the
	// dialog event package; empty when the server did not identify the
	// dialog.
	Replaces string
}

// Picker is what a Line can do beyond Dial (the daemon's adapter
// implements it; fakes may not): directed pickup.
type Picker interface {
	// Pickup calls target with an INVITE carrying Replaces: replaces
	// (RFC 3891), to take over the call ringing at target. Progress
	// arrives as CallEvents, as for Dial.
	Pickup(ctx context.Context, target, replaces string) (Call, error)
}

// LampStatus is one busy lamp key in Status.Lamps.
type LampStatus struct {
	Key   string `json:"key"` // "blf1" ... "blf8"
	Line  int    `json:"line"`
	User  string `json:"user"`
	Label string `json:"label,omitempty"`
	State string `json:"state"` // idle, ringing, busy or unknown
	// Pickup says whether the server identified the ringing call, so the
	// key picks it up with Replaces (or a pickup code is configured).
	Pickup bool `json:"pickup,omitempty"`
}

// ErrNoLamp: SetLamp named a user no busy lamp key watches.
var ErrNoLamp = errors.New("phone: no busy lamp key watches this user")

// lamp is one key's state. Owned by the Run goroutine.
type lamp struct {
	state    string
	replaces string // while ringing
}

// checkBLF validates Config.BLF against the number of lines.
func checkBLF(keys []BLFKey, lines int) error {
	seen := map[hal.Key]bool{}
	for i, k := range keys {
		if _, ok := k.Key.BLFOf(); !ok {
			return fmt.Errorf("phone: BLF key %d: %v is not a busy lamp key (blf1..blf%d)", i, k.Key, hal.BLFKeys)
		}
		if seen[k.Key] {
			return fmt.Errorf("phone: BLF key %d: %v is used twice", i, k.Key)
		}
		seen[k.Key] = true
		if k.Line < 0 || k.Line >= lines {
			return fmt.Errorf("phone: BLF key %v: %w: %d", k.Key, ErrNoLine, k.Line)
		}
		if strings.TrimSpace(k.User) == "" || strings.ContainsFunc(k.User, isSpaceOrControl) {
			return fmt.Errorf("phone: BLF key %v: user %q: empty, spaces or control characters", k.Key, k.User)
		}
		for _, r := range k.PickupCode {
			if !hal.Key(r).IsDigit() {
				return fmt.Errorf("phone: BLF key %v: pickup code %q: only 0-9, * and #", k.Key, k.PickupCode)
			}
		}
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// sameUser reports whether the user a key is configured with and the
// one the server names are the same: equal, or equal but for a "sip:" or
// "sips:" scheme and URI parameters (the host is compared without case,
// the user with), or the user part of one is the other: a key set up
// with "201" lights for "sip:201@pbx.example.com", whatever the domain.
func sameUser(key, named string) bool {
	strip := func(s string) string {
		s = strings.TrimSpace(s)
		s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
		if i := strings.IndexByte(s, ':'); i > 0 {
			if sc := strings.ToLower(s[:i]); sc == "sip" || sc == "sips" {
				s = s[i+1:]
			}
		}
		if i := strings.IndexAny(s, ";?"); i >= 0 {
			s = s[:i]
		}
		return s
	}
	a, b := strip(key), strip(named)
	if a == "" || b == "" {
		return false
	}
	au, ah, aAt := strings.Cut(a, "@")
	bu, bh, bAt := strings.Cut(b, "@")
	switch {
	case aAt && bAt:
		return au == bu && strings.EqualFold(ah, bh)
	case aAt:
		return au == b
	case bAt:
		return bu == a
	}
	return a == b
}

// SetLamp shows what line's server says of user: state is LampIdle,
// LampRinging, LampBusy or LampUnknown, pickup identifies the ringing
// call (kept only while ringing). Every key of that line watching user
// changes; a key watching the same user on another line does not (its
// own line's subscription reports for it: another PBX, or another
// account, may see that user otherwise). It is safe from any goroutine
// and applied on the phone's loop before it returns. An unknown state is
// an error and changes nothing; a user no key of line watches is
// ErrNoLamp.
func (p *Phone) SetLamp(ctx context.Context, line int, user, state string, pickup PickupInfo) error {
	switch state {
	case LampIdle, LampRinging, LampBusy, LampUnknown:
	default:
		return fmt.Errorf("%w: lamp state %q", ErrBadSettings, state)
	}
	if state != LampRinging {
		pickup = PickupInfo{}
	}
	return p.exec(ctx, "set lamp", func(context.Context) error {
		found := false
		for i, k := range p.cfg.BLF {
			if k.Line != line || !sameUser(k.User, user) {
				continue
			}
			found = true
			l := lamp{state: state, replaces: pickup.Replaces}
			if p.lamps[i] != l {
				p.log.Debug("busy lamp", "key", k.Key.String(), "user", k.User, "state", state,
					"pickup", pickup.Replaces != "")
			}
			p.lamps[i] = l
		}
		if !found {
			return fmt.Errorf("%w: %q on line %d", ErrNoLamp, user, line)
		}
		return nil
	})
}

// lampPattern is how a lamp state shows on its LED.
func lampPattern(state string) hal.Pattern {
	switch state {
	case LampRinging:
		return hal.BlinkFast
	case LampBusy:
		return hal.On
	}
	return hal.Off
}

// setLamps drives the busy lamp LEDs.
func (p *Phone) setLamps(ind hal.Indicator) {
	for i, k := range p.cfg.BLF {
		n, _ := k.Key.BLFOf()
		if led, ok := hal.BLFLED(n); ok {
			_ = ind.Set(led, lampPattern(p.lamps[i].state))
		}
	}
}

// lampStatus is Status.Lamps.
func (p *Phone) lampStatus() []LampStatus {
	out := make([]LampStatus, len(p.cfg.BLF))
	for i, k := range p.cfg.BLF {
		l := p.lamps[i]
		out[i] = LampStatus{Key: k.Key.String(), Line: k.Line, User: k.User, Label: k.Label, State: l.state,
			Pickup: l.state == LampRinging && (k.PickupCode != "" || l.replaces != "" && p.canPickup(k.Line))}
	}
	return out
}

// canPickup reports whether line can pick up by Replaces.
func (p *Phone) canPickup(line int) bool {
	_, ok := p.lines[line].(Picker)
	return ok
}

// onBLFKey: busy lamp key n. While the watched user's phone rings, it
// picks the call up: with the pickup code when one is configured, else
// with an INVITE with Replaces when the server identified the ringing
// dialog and the line can send one; otherwise (idle, busy, unknown, or
// ringing without either) it calls the user. A connected call is held
// first; while a call is being set up the key does nothing.
func (p *Phone) onBLFKey(ctx context.Context, n int, remote bool) {
	i := blfIndex(p.cfg.BLF, n)
	if i < 0 || !p.canPlace() {
		return
	}
	k, l := p.cfg.BLF[i], p.lamps[i]
	p.takeLine()
	p.dialLine = k.Line
	target := k.User
	var place func(ctx context.Context, target string) (Call, error)
	switch {
	case l.state != LampRinging:
	case k.PickupCode != "":
		target = k.PickupCode + k.User
		p.log.Info("pickup by code", "key", k.Key.String(), "user", k.User, "to", target)
	case l.replaces != "" && p.canPickup(k.Line):
		pk := p.lines[k.Line].(Picker)
		replaces := l.replaces
		place = func(ctx context.Context, target string) (Call, error) { return pk.Pickup(ctx, target, replaces) }
		p.log.Info("pickup by Replaces", "key", k.Key.String(), "user", k.User)
	}
	p.digits, p.remoteDigits = []rune(target), remote
	if err := p.dialVia(ctx, place); err != nil {
		p.log.Warn("busy lamp key call failed", "key", k.Key.String(), "err", err)
	}
}

// blfIndex finds the configured key with BLF index n, -1 if none.
func blfIndex(keys []BLFKey, n int) int {
	for i, k := range keys {
		if j, _ := k.Key.BLFOf(); j == n {
			return i
		}
	}
	return -1
}
