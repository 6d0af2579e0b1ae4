package phone

import (
	"context"
	"slices"

	"github.com/deskphone/phone/hal"
)

// SetBLF replaces the busy lamp keys, for a configuration applied while
// the phone runs (keys added, moved or removed on the web Keys page, the
// API or provisioning). It is checked as New checks Config.BLF, against
// the lines the phone has now: bad input is an error and changes
// nothing. A key that stays (same key, line and user) keeps its lamp;
// a new or changed key starts unknown until its line's subscription
// reports, and the LED of a key that goes is turned off.
func (p *Phone) SetBLF(ctx context.Context, keys []BLFKey) error {
	keys = slices.Clone(keys)
	return p.exec(ctx, "set busy lamp keys", func(context.Context) error {
		if err := checkBLF(keys, len(p.lines)); err != nil {
			return err
		}
		lamps := make([]lamp, len(keys))
		for i, k := range keys {
			lamps[i] = lamp{state: LampUnknown}
			for j, o := range p.cfg.BLF {
				if o.Key == k.Key && o.Line == k.Line && o.User == k.User {
					lamps[i] = p.lamps[j]
				}
			}
		}
		if ind := p.cfg.Board.Indicator; ind != nil {
			for _, o := range p.cfg.BLF {
				if slices.ContainsFunc(keys, func(k BLFKey) bool { return k.Key == o.Key }) {
					continue
				}
				n, _ := o.Key.BLFOf()
				if led, ok := hal.BLFLED(n); ok {
					_ = ind.Set(led, hal.Off)
				}
			}
		}
		p.cfg.BLF, p.lamps = keys, lamps
		p.log.Info("busy lamp keys replaced", "keys", len(keys))
		return nil
	})
}
