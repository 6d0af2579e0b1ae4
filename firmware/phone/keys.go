package phone

import (
	"context"
	"time"

	"github.com/deskphone/phone/hal"
)

func (p *Phone) onHook(ctx context.Context, off bool) {
	p.handset = off
	if off {
		// Lifting the handset takes the call from the speaker or headset.
		p.speaker, p.headset = false, false
		p.route()
		switch {
		case p.live() != nil:
		case p.firstRinging() != nil:
			_ = p.answer(p.firstRinging())
		case p.mode == Idle:
			p.goOffHook()
		}
		return
	}
	if !p.speaker && !p.headset {
		p.onHookDown()
	}
}

// firstRinging is the oldest call ringing (not waiting).
func (p *Phone) firstRinging() *callRec {
	for _, c := range p.calls {
		if c.phase == phIncoming {
			return c
		}
	}
	return nil
}

// takeLine puts the user on the line hands-free (unless already there):
// for a key that answers or picks up.
func (p *Phone) takeLine() {
	if !p.engaged() {
		p.speaker = true
		p.route()
	}
}

// onKey handles a key press; remote is true for a key the API pressed.
func (p *Phone) onKey(ctx context.Context, ev hal.KeyEvent, remote bool) {
	if !ev.Down || ev.Repeat && !(ev.Key == hal.KeyVolUp || ev.Key == hal.KeyVolDown) {
		return
	}
	k := ev.Key
	if ev.Long {
		if k.IsDigit() {
			p.speedDial(ctx, rune(k), remote)
		}
		return
	}
	if n, ok := k.LineOf(); ok {
		p.onLineKey(ctx, n)
		return
	}
	if n, ok := k.BLFOf(); ok {
		p.onBLFKey(ctx, n, remote)
		return
	}
	switch {
	case k.IsDigit():
		p.onDigit(ctx, rune(k), remote)
	case k == hal.KeySpeaker:
		if p.speaker {
			p.speaker = false
			p.route()
			if !p.handset && !p.headset {
				p.onHookDown()
			}
			return
		}
		p.speaker, p.headset = true, false
		p.route()
		p.pickUp()
	case k == hal.KeyHeadset:
		p.toggleHeadset()
	case k == hal.KeyLine, k == hal.KeyOK:
		if r := p.alerting(); r != nil {
			_ = p.answerHandsFree(r)
		} else if k == hal.KeyLine && p.state() == Idle {
			p.speaker = true
			p.goOffHook()
		} else if k == hal.KeyOK && (p.mode == OffHook || p.mode == Dialing) && p.cur == nil && len(p.digits) > 0 {
			p.remoteDigits = p.remoteDigits || remote
			p.sendNumber(ctx)
		}
	case k == hal.KeyHold:
		switch l := p.live(); {
		case l != nil && l.phase == phTalking:
			_ = p.holdRec(l)
		case l != nil:
		case p.cur != nil:
			p.takeLine()
			_ = p.resumeRec(p.cur)
		default: // no current call: idle, off hook, dialling or the busy tone
			if h := p.lastHeld(nil); h != nil {
				p.takeLine()
				_ = p.resumeRec(h)
			}
		}
	case k == hal.KeySwap:
		_ = p.swap()
	case k == hal.KeyTransfer:
		p.onTransferKey(ctx, remote)
	case k == hal.KeyConference:
		if p.confActive() {
			_ = p.split()
		} else {
			_ = p.conference()
		}
	case k == hal.KeyDND:
		if len(p.settings) > 0 {
			p.settings[0].DND = !p.settings[0].DND
			p.log.Info("do not disturb", "line", 0, "on", p.settings[0].DND)
		}
	case k == hal.KeyVoicemail:
		p.onVoicemailKey(ctx, remote)
	case k == hal.KeyHistory:
		p.missed = 0
	case k == hal.KeyRedial:
		if p.lastDial != "" && p.live() == nil && (p.mode == Idle || p.mode == OffHook || p.mode == Dialing) {
			p.takeLine()
			p.dialLine = p.lastLine
			p.digits, p.remoteDigits = []rune(p.lastDial), remote
			_ = p.dial(ctx)
		}
	case k == hal.KeyMute:
		p.muted = !p.muted
		if c := p.cfg.Board.Codec; c != nil {
			_ = c.SetMute(p.muted)
		}
	case k == hal.KeyVolUp, k == hal.KeyVolDown:
		step := 10
		if k == hal.KeyVolDown {
			step = -10
		}
		p.volume = min(100, max(0, p.volume+step))
		if c := p.cfg.Board.Codec; c != nil {
			_ = c.SetVolume(p.volume)
		}
	}
}

// pickUp: the user came to the phone (speaker, headset): answer the
// ringing call, or dial tone.
func (p *Phone) pickUp() {
	switch {
	case p.live() != nil:
	case p.firstRinging() != nil:
		_ = p.answer(p.firstRinging())
	case p.mode == Idle:
		p.goOffHook()
	}
}

// onLineKey: a call on line n rings or waits: answer it; one is held:
// resume it; otherwise the next dial goes on line n (a call on another
// line is held first, as on a desk phone).
func (p *Phone) onLineKey(ctx context.Context, n int) {
	if n >= len(p.lines) {
		return
	}
	if c := p.onLine(n, (*callRec).unanswered); c != nil {
		_ = p.answerHandsFree(c)
		return
	}
	if l := p.live(); l != nil && l.line == n {
		return
	}
	if c := p.onLine(n, func(c *callRec) bool { return c.phase == phTalking && c.localHold }); c != nil {
		p.takeLine()
		_ = p.resumeRec(c)
		return
	}
	if l := p.live(); l != nil {
		// Another line's key during a call: hold it, dial tone on n.
		if l.phase != phTalking || p.holdRec(l) != nil {
			return
		}
		p.dialLine = n
		p.goOffHook()
		return
	}
	p.dialLine = n
	if p.mode == Idle {
		p.takeLine()
		p.goOffHook()
	}
}

func (p *Phone) onDigit(ctx context.Context, d rune, remote bool) {
	if x, l := p.xfer, p.live(); x != nil && l != nil && l == x.consult && d == p.cfg.Terminator &&
		(l.phase == phCalling || l.phase == phRinging) {
		// The terminator again while the consult call rings: blind.
		p.onTransferKey(ctx, remote)
		return
	}
	if l := p.live(); l != nil {
		if l.phase == phTalking || l.phase == phEarly {
			if err := l.call.SendDTMF(string(d)); err != nil {
				p.log.Warn("dtmf send failed", "err", err)
			}
		}
		return
	}
	if p.mode != OffHook && p.mode != Dialing {
		return
	}
	if d == p.cfg.Terminator && len(p.digits) > 0 {
		p.remoteDigits = p.remoteDigits || remote
		p.stopDialTimer()
		p.sendNumber(ctx)
		return
	}
	if len(p.digits) >= p.cfg.MaxDigits {
		return
	}
	if len(p.digits) == 0 {
		p.remoteDigits = false
	}
	p.digits = append(p.digits, d)
	p.remoteDigits = p.remoteDigits || remote
	if p.mode == OffHook {
		p.mode = Dialing
		p.play(nil) // dial tone stops at the first digit
	}
	p.stopDialTimer()
	p.dialTimer = time.NewTimer(p.cfg.DialTimeout)
}

// speedDial: a long press of a digit while idle or off hook dials the
// number stored for it. The digit the key's press put in first is taken
// back.
func (p *Phone) speedDial(ctx context.Context, d rune, remote bool) {
	if p.cfg.Directory == nil || p.live() != nil {
		return
	}
	switch {
	case p.mode == Idle, p.mode == OffHook:
	case p.mode == Dialing && len(p.digits) == 1 && p.digits[0] == d:
	default:
		return // a number being dialled, or no dialling at all
	}
	number, ok := p.cfg.Directory.SpeedDial(d)
	if !ok || number == "" {
		return
	}
	p.takeLine()
	p.digits, p.remoteDigits = []rune(number), remote
	p.log.Info("speed dial", "key", string(d), "to", number)
	if err := p.dial(ctx); err != nil {
		p.log.Warn("speed dial failed", "err", err)
	}
}

// toggleHeadset moves the audio to the headset and back (to the
// handset when it is lifted, else the speaker). Without a headset the
// key does nothing.
func (p *Phone) toggleHeadset() {
	if !p.cfg.Board.Headset {
		return
	}
	if p.headset {
		p.headset = false
		if !p.handset {
			p.speaker = p.live() != nil || p.mode != Idle
		}
		p.route()
		if !p.engaged() {
			p.onHookDown()
		}
		return
	}
	p.headset, p.speaker = true, false
	p.route()
	p.pickUp()
}

// SetRoute moves the audio of the active call ("handset", "speaker",
// "headset"): ErrState when the board has no such device or, for the
// handset, when it is on its hook; ErrNoCall when the phone is idle.
func (p *Phone) SetRoute(ctx context.Context, r Route) error {
	return p.exec(ctx, "route", func(context.Context) error {
		switch {
		case r == RouteHeadset && !p.cfg.Board.Headset,
			r == RouteHandset && !p.handset,
			r != RouteHeadset && r != RouteHandset && r != RouteSpeaker:
			return ErrState
		case p.live() == nil && p.mode == Idle:
			return ErrNoCall
		}
		p.headset, p.speaker = r == RouteHeadset, r == RouteSpeaker
		p.route()
		return nil
	})
}
