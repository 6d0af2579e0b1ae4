package daemon

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/history"
	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/firmware/phonebook"
	"github.com/deskphone/phone/hal"
)

// actions adapts the phone (and the store: history, phonebook) to the
// API. It turns the phone's and the store's errors into the API's: a call,
// line or entry that does not exist wraps api.ErrNotFound (404), a
// refused entry api.ErrInvalid (400), a failed write api.ErrFailed (500);
// the phone's state errors stay conflicts (409).
type actions struct{ d *Daemon }

var _ api.Actions = actions{}

// errNoStore answers history and phonebook requests of a daemon built
// without a store.
var errNoStore = errors.New("daemon: this phone keeps no history or phonebook")

func (a actions) Call(ctx context.Context, to string) error { return a.d.ph.Call(ctx, to) }
func (a actions) Answer(ctx context.Context) error          { return a.d.ph.Answer(ctx) }
func (a actions) Hangup(ctx context.Context) error          { return a.d.ph.Hangup(ctx) }
func (a actions) SendDTMF(ctx context.Context, digits string) error {
	return a.d.ph.SendDTMF(ctx, digits)
}
func (a actions) Hold(ctx context.Context) error   { return a.d.ph.Hold(ctx) }
func (a actions) Resume(ctx context.Context) error { return a.d.ph.Resume(ctx) }
func (a actions) Key(ctx context.Context, key string) error {
	switch key {
	case "hook:off", "hook:on":
		h, ok := a.d.board.Hook.(interface{ Set(bool) })
		if !ok {
			return fmt.Errorf("daemon: board %s has no soft hook switch", a.d.board.Name)
		}
		h.Set(key == "hook:off")
		return nil
	}
	k, ok := hal.KeyByName(strings.ToLower(key))
	if !ok {
		// A malformed request, not a state of the phone: 400.
		return fmt.Errorf("%w: unknown key %q", api.ErrInvalid, key)
	}
	if a.d.scr != nil {
		// The screen takes the keys it uses where it is (a menu's
		// arrows, soft keys); the rest are the phone's.
		if taken, err := a.d.scr.press(ctx, k); err != nil || taken {
			return err
		}
	}
	return a.d.ph.Press(ctx, k)
}

// Calls by id.

// findCall returns the phone's status of call id, or an error wrapping
// api.ErrNotFound.
func (a actions) findCall(id string) (phone.CallStatus, error) {
	for _, c := range a.d.ph.Status().Calls {
		if c.ID == id {
			return c, nil
		}
	}
	return phone.CallStatus{}, fmt.Errorf("%w: no call %q", api.ErrNotFound, id)
}

// onCall runs f on call id once it is known to exist. The call may still
// end meanwhile: the phone's ErrNoCall for it is a 404 too.
func (a actions) onCall(ctx context.Context, id string, f func(context.Context, string) error) error {
	if _, err := a.findCall(id); err != nil {
		return err
	}
	err := f(ctx, id)
	if errors.Is(err, phone.ErrNoCall) {
		return fmt.Errorf("%w: %w", api.ErrNotFound, err)
	}
	return err
}

// checkLine: a line other than the default one must exist.
func (a actions) checkLine(line int) error {
	if n := len(a.d.ph.Status().Lines); line > 0 && line >= n {
		return fmt.Errorf("%w: no line %d (the phone has %d)", api.ErrNotFound, line, n)
	}
	return nil
}

func (a actions) CallOn(ctx context.Context, line int, to string) error {
	if err := a.checkLine(line); err != nil {
		return err
	}
	return a.d.ph.CallOn(ctx, line, to)
}

func (a actions) AnswerCall(ctx context.Context, id string) error {
	return a.onCall(ctx, id, a.d.ph.AnswerCall)
}

// RejectCall refuses call id, or with id "" the call ringing (the first
// incoming or waiting one).
func (a actions) RejectCall(ctx context.Context, id string, code int) error {
	if id == "" {
		calls := a.d.ph.Status().Calls
		i := slices.IndexFunc(calls, func(c phone.CallStatus) bool { return c.State == "incoming" || c.State == "waiting" })
		if i < 0 {
			return fmt.Errorf("%w: nothing rings", phone.ErrNoCall)
		}
		id = calls[i].ID
	}
	return a.onCall(ctx, id, func(ctx context.Context, id string) error { return a.d.ph.RejectCall(ctx, id, code) })
}

func (a actions) HangupCall(ctx context.Context, id string) error {
	return a.onCall(ctx, id, a.d.ph.HangupCall)
}
func (a actions) HoldCall(ctx context.Context, id string) error {
	return a.onCall(ctx, id, a.d.ph.HoldCall)
}
func (a actions) ResumeCall(ctx context.Context, id string) error {
	return a.onCall(ctx, id, a.d.ph.ResumeCall)
}
func (a actions) Swap(ctx context.Context) error { return a.d.ph.Swap(ctx) }
func (a actions) Transfer(ctx context.Context, to string) error {
	return a.d.ph.Transfer(ctx, to)
}

// TransferAttended connects the held call's far end to the active
// call's. Named calls must be exactly those two, in either order, with no
// other call on hold: the phone transfers "the held call", and the API
// must not transfer a different one than asked.
func (a actions) TransferAttended(ctx context.Context, id, toID string) error {
	if id != "" {
		if _, err := a.findCall(id); err != nil {
			return err
		}
		if _, err := a.findCall(toID); err != nil {
			return err
		}
		var active, held []string
		for _, c := range a.d.ph.Status().Calls {
			switch {
			case c.Active:
				active = append(active, c.ID)
			case c.LocalHold:
				held = append(held, c.ID)
			}
		}
		pair := []string{id, toID}
		if len(active) != 1 || len(held) != 1 || !slices.Contains(pair, active[0]) || !slices.Contains(pair, held[0]) {
			return fmt.Errorf("%w: an attended transfer joins the active call and the one held call (active %v, held %v)", phone.ErrState, active, held)
		}
	}
	return a.d.ph.Transfer(ctx, "")
}

func (a actions) Conference(ctx context.Context) error { return a.d.ph.Conference(ctx) }
func (a actions) SetRoute(ctx context.Context, route string) error {
	return a.d.ph.SetRoute(ctx, phone.Route(route))
}

// Lines.

func (a actions) Lines(context.Context) ([]api.Line, error) {
	var out []api.Line
	for _, l := range a.d.ph.Status().Lines {
		f := l.Forward
		out = append(out, api.Line{Line: l.Line, LineSettings: api.LineSettings{
			DND: l.DND, DNDCode: l.DNDCode,
			Forward: api.Forward{Always: f.Always, Busy: f.Busy, NoAnswer: f.NoAnswer, NoAnswerAfter: int(f.NoAnswerAfter / time.Second)},
		}})
	}
	return out, nil
}

func (a actions) SetLine(ctx context.Context, line int, s api.LineSettings) error {
	if line < 0 || line >= len(a.d.ph.Status().Lines) {
		return fmt.Errorf("%w: no line %d", api.ErrNotFound, line)
	}
	f := s.Forward
	return a.d.ph.SetLine(ctx, line, phone.LineSettings{
		DND: s.DND, DNDCode: s.DNDCode,
		Forward: phone.Forward{Always: f.Always, Busy: f.Busy, NoAnswer: f.NoAnswer, NoAnswerAfter: time.Duration(f.NoAnswerAfter) * time.Second},
	})
}

// History.

func (a actions) hist() (*history.History, error) {
	if a.d.store == nil {
		return nil, errNoStore
	}
	return a.d.store.history, nil
}

func historyEntry(e history.Entry) api.HistoryEntry {
	return api.HistoryEntry{
		ID: e.ID, Kind: e.Kind, Line: e.Line, Remote: e.Remote, Name: e.Name, Start: e.Start,
		Duration: math.Round(e.Duration.Seconds()*1000) / 1000,
		Code:     e.Code, Reason: e.Reason, ForwardedTo: e.ForwardedTo,
	}
}

func (a actions) History(_ context.Context, kind string, limit int) ([]api.HistoryEntry, error) {
	h, err := a.hist()
	if err != nil {
		return nil, err
	}
	es := h.List(kind, limit)
	out := make([]api.HistoryEntry, len(es))
	for i, e := range es {
		out[i] = historyEntry(e)
	}
	return out, nil
}

func (a actions) HistoryEntry(_ context.Context, id uint64) (api.HistoryEntry, error) {
	h, err := a.hist()
	if err != nil {
		return api.HistoryEntry{}, err
	}
	e, ok := h.Get(id)
	if !ok {
		return api.HistoryEntry{}, fmt.Errorf("%w: no history entry %d", api.ErrNotFound, id)
	}
	return historyEntry(e), nil
}

func (a actions) ClearHistory(context.Context) error {
	h, err := a.hist()
	if err != nil {
		return err
	}
	if err := h.Clear(); err != nil {
		return fmt.Errorf("%w: %w", api.ErrFailed, err)
	}
	return nil
}

// Phonebook.

func (a actions) book() (*phonebook.Phonebook, error) {
	if a.d.store == nil {
		return nil, errNoStore
	}
	return a.d.store.phonebook, nil
}

// bookErr maps the phonebook's errors onto the API's.
func bookErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, phonebook.ErrNotFound):
		return fmt.Errorf("%w: %w", api.ErrNotFound, err)
	case errors.Is(err, phonebook.ErrInvalid):
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	case errors.Is(err, phonebook.ErrConflict), errors.Is(err, phonebook.ErrReadOnly):
		return err
	}
	return fmt.Errorf("%w: %w", api.ErrFailed, err)
}

func (a actions) Phonebook(context.Context) ([]phonebook.Entry, error) {
	pb, err := a.book()
	if err != nil {
		return nil, err
	}
	return pb.List(), nil
}

func (a actions) PhonebookEntry(_ context.Context, id string) (phonebook.Entry, error) {
	pb, err := a.book()
	if err != nil {
		return phonebook.Entry{}, err
	}
	e, ok := pb.Get(id)
	if !ok {
		return e, fmt.Errorf("%w: no phonebook entry %q", api.ErrNotFound, id)
	}
	return e, nil
}

func (a actions) AddPhonebook(_ context.Context, e phonebook.Entry) (phonebook.Entry, error) {
	pb, err := a.book()
	if err != nil {
		return e, err
	}
	e, err = pb.Add(e)
	return e, bookErr(err)
}

func (a actions) UpdatePhonebook(_ context.Context, id string, e phonebook.Entry) (phonebook.Entry, error) {
	pb, err := a.book()
	if err != nil {
		return e, err
	}
	e, err = pb.Update(id, e)
	return e, bookErr(err)
}

func (a actions) DeletePhonebook(_ context.Context, id string) error {
	pb, err := a.book()
	if err != nil {
		return err
	}
	return bookErr(pb.Delete(id))
}

func (a actions) SpeedDial(_ context.Context, key string) (string, error) {
	pb, err := a.book()
	if err != nil {
		return "", err
	}
	if len(key) == 1 {
		if n, ok := pb.SpeedDial(rune(key[0])); ok {
			return n, nil
		}
	}
	return "", fmt.Errorf("%w: no speed dial %q in the phonebook", api.ErrNotFound, key)
}
