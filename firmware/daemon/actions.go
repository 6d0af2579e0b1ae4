package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/deskphone/phone/hal"
)

// actions adapts the phone to the API.
type actions struct{ d *Daemon }

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
		return fmt.Errorf("daemon: unknown key %q", key)
	}
	return a.d.ph.Press(ctx, k)
}
