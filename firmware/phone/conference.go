package phone

import (
	"context"

	"github.com/deskphone/phone/hal/mix"
)

// The three-way conference is local: the phone mixes. The speaker plays
// both parties' received audio; each party's capture loop gets the
// microphone plus the other party's received audio (see audio.go). Both
// calls stay calls of their own: hanging up one leaves the other as a
// normal call, the hold key holds both, Split (or the conference key
// again) leaves the conference with the other party held.

// Conference joins the active call and the held one in a local three-way
// mix.
func (p *Phone) Conference(ctx context.Context) error {
	return p.exec(ctx, "conference", func(context.Context) error { return p.conference() })
}

// Split leaves the conference: the current party stays, the other is
// held.
func (p *Phone) Split(ctx context.Context) error {
	return p.exec(ctx, "split", func(context.Context) error { return p.split() })
}

func (p *Phone) conference() error {
	a := p.live()
	if a == nil || a.phase != phTalking || p.confActive() {
		return ErrState
	}
	b := p.lastHeld(a)
	if b == nil {
		return ErrState
	}
	if err := b.call.Resume(); err != nil {
		return err
	}
	b.localHold = false
	p.xfer = nil
	a.conf, b.conf = true, true
	a.tap, b.tap = &tap{src: media(a)}, &tap{src: media(b)}
	p.confMix = mix.New(mix.Input{Src: a.tap, Gain: mix.Unity}, mix.Input{Src: b.tap, Gain: mix.Unity})
	p.startPump(b)
	p.playCall()
	p.log.Info("conference", "calls", []string{a.call.ID(), b.call.ID()})
	return nil
}

func (p *Phone) split() error {
	a := p.cur
	if a == nil || !a.conf {
		return ErrState
	}
	b := p.confPartner(a)
	p.endConference()
	if b != nil && !b.localHold {
		if err := p.holdRec(b); err != nil {
			return err
		}
	}
	p.playCall()
	return nil
}

// endConference dissolves the conference: both calls become normal ones.
func (p *Phone) endConference() {
	for _, c := range p.calls {
		c.conf, c.tap = false, nil
	}
	p.confMix = nil
	if p.cur != nil {
		p.playCall()
	}
}

// confActive reports whether two calls are in conference.
func (p *Phone) confActive() bool { return p.confMix != nil }

// confPartner is the other party of c's conference.
func (p *Phone) confPartner(c *callRec) *callRec {
	if !c.conf {
		return nil
	}
	for _, o := range p.calls {
		if o != c && o.conf {
			return o
		}
	}
	return nil
}

// withPartner is c and, in a conference, the other party.
func (p *Phone) withPartner(c *callRec) []*callRec {
	if o := p.confPartner(c); o != nil {
		return []*callRec{c, o}
	}
	return []*callRec{c}
}

func media(c *callRec) Media {
	if m := c.call.Media(); m != nil {
		return m
	}
	return nil
}
