package phone

import (
	"context"
	"fmt"
	"time"

	"github.com/deskphone/phone/hal"
)

func (p *Phone) sendNumber(ctx context.Context) {
	if p.cur != nil || p.mode != Dialing || len(p.digits) == 0 {
		return
	}
	if err := p.dial(ctx); err != nil {
		p.log.Warn("dial failed", "err", err)
	}
}

// dial places a call to the collected digits on the selected line. A
// connected call is held first; the new call becomes the current one.
func (p *Phone) dial(ctx context.Context) error { return p.dialVia(ctx, nil) }

// dialVia is dial with the call placed by place instead of the line's
// Dial when place is set (a directed pickup).
func (p *Phone) dialVia(ctx context.Context, place func(ctx context.Context, target string) (Call, error)) error {
	target := string(p.digits)
	if !p.remoteDigits {
		ctx = OnKeypad(ctx)
	}
	p.digits, p.remoteDigits = nil, false
	p.stopDialTimer()
	line := p.dialLine
	if line < 0 || line >= len(p.lines) {
		line = 0
	}
	p.lastDial, p.lastLine = target, line
	p.lastErr = ""
	if len(p.calls) >= p.cfg.MaxCalls {
		p.lastErr = fmt.Sprintf("%d calls at once", p.cfg.MaxCalls)
		p.toBusy(target, false)
		return ErrBusy
	}
	if l := p.live(); l != nil {
		if l.phase != phTalking {
			return ErrBusy
		}
		if err := p.holdRec(l); err != nil {
			return err
		}
	}
	if place == nil {
		place = p.lines[line].Dial
	}
	call, err := place(ctx, target)
	if err != nil {
		p.lastErr = err.Error()
		p.cur = nil
		p.toBusy(target, false)
		return err
	}
	c := p.newRec(call, line, false, target)
	p.calls = append(p.calls, c)
	p.cur, p.mode = c, Idle
	if x := p.xfer; x != nil && x.consult == nil {
		x.consult = c
	}
	p.play(p.cfg.Tones.Ringback())
	p.log.Info("calling", "to", target, "line", line, "call_id", call.ID())
	return nil
}

// toBusy leaves the user on the busy (or congestion) tone.
func (p *Phone) toBusy(remote string, busy bool) {
	p.mode = Busy
	p.lastRemote = remote
	if busy {
		p.play(p.cfg.Tones.Busy())
	} else {
		p.play(p.cfg.Tones.Congestion())
	}
}

// answerHandsFree answers c on the speaker unless the user is already
// at the phone.
func (p *Phone) answerHandsFree(c *callRec) error {
	if !p.engaged() {
		p.speaker = true
	}
	return p.answer(c)
}

// answer answers a ringing or waiting call, holding the live one first.
func (p *Phone) answer(c *callRec) error {
	if l := p.live(); l != nil && l != c {
		if l.phase != phTalking {
			// Placing a call: give it up for the one that rings.
			_ = p.hangupRec(l)
		} else if err := p.holdRec(l); err != nil {
			return err
		}
	}
	if err := c.call.Answer(); err != nil {
		p.lastErr = err.Error()
		return err
	}
	if c.noAnswer != nil {
		c.noAnswer.Stop()
		c.noAnswer = nil
	}
	p.stopDialTimer()
	p.digits = nil
	c.phase, c.answered = phTalking, time.Now()
	p.cur, p.mode = c, Idle
	p.lastErr = ""
	p.startTalking(c)
	p.log.Info("answered", "from", c.remote, "line", c.line, "call_id", c.call.ID())
	return nil
}

// reject refuses an unanswered incoming call and logs it.
func (p *Phone) reject(c *callRec, code int, reason string) error {
	err := c.call.Reject(code)
	c.kind, c.code, c.reason = KindRejected, code, reason
	p.drop(c)
	return err
}

// hangupRec ends a call from our side.
func (p *Phone) hangupRec(c *callRec) error {
	err := c.call.Hangup()
	if err != nil {
		p.log.Warn("hangup", "call_id", c.call.ID(), "err", err)
	}
	partner := p.confPartner(c)
	wasCur := c == p.cur
	p.drop(c)
	if wasCur && partner != nil {
		// One party leaves the conference: the other stays, a normal call.
		p.cur = partner
		p.playCall()
	} else if wasCur {
		p.play(nil)
	}
	return err
}

// holdRec holds c (both parties of a conference).
func (p *Phone) holdRec(c *callRec) error {
	for _, x := range p.withPartner(c) {
		if x.localHold {
			continue
		}
		if err := x.call.Hold(); err != nil {
			return err
		}
		x.localHold = true
		// A held call sends no audio (voip/sip call_hold.go): no capture
		// loop to wake the phone 50 times a second for nothing. The RTP
		// timestamp keeps to the clock across the pause; resumeRec starts
		// the loop again.
		p.stopPump(x)
	}
	if c == p.cur || c.conf && p.cur != nil && p.cur.conf {
		p.play(nil)
	}
	return nil
}

// resumeRec resumes c (both parties of a conference) and makes it the
// current call, holding the live one first.
func (p *Phone) resumeRec(c *callRec) error {
	if l := p.live(); l != nil && l != c && !(l.conf && c.conf) {
		if l.phase != phTalking {
			_ = p.hangupRec(l)
		} else if err := p.holdRec(l); err != nil {
			return err
		}
	}
	for _, x := range p.withPartner(c) {
		if !x.localHold {
			continue
		}
		if err := x.call.Resume(); err != nil {
			return err
		}
		x.localHold = false
		p.startPump(x)
	}
	p.cur, p.mode = c, Idle
	if x := p.xfer; x != nil && x.held == c {
		p.xfer = nil // back to the call: the transfer is given up (a consult call stays, held)
	}
	p.stopDialTimer()
	p.digits = nil
	p.playCall()
	p.route()
	return nil
}

// swap holds the live call and resumes the newest held one.
func (p *Phone) swap() error {
	h := p.lastHeld(p.cur)
	if h == nil || p.confActive() {
		return ErrState
	}
	if !p.engaged() {
		p.speaker = true
		p.route()
	}
	return p.resumeRec(h)
}

func (p *Phone) startTalking(c *callRec) {
	p.playCall()
	p.route()
	p.startPump(c)
}

// toIdleOrBusy moves to Busy while the user is still off hook (they hear
// the tone and hang up), to Idle otherwise.
func (p *Phone) toIdleOrBusy(offHookTone bool) {
	switch {
	case p.engaged() && offHookTone:
		p.mode = Busy
	case p.engaged():
		p.goOffHook()
	default:
		p.mode = Idle
		p.play(nil)
	}
}

// onHookDown: the user leaves the phone (handset down with the speaker
// off, speaker off with the handset down, the API's hang-up). The live
// call ends (a conference: both); calls we hold stay held, and calls
// that were waiting ring.
func (p *Phone) onHookDown() {
	p.stopDialTimer()
	p.digits = nil
	if x := p.xfer; x != nil {
		p.xfer = nil
		if x.consult != nil && x.consult != p.cur {
			_ = p.hangupRec(x.consult)
		}
	}
	if l := p.live(); l != nil {
		for _, c := range p.withPartner(l) {
			_ = p.hangupRec(c)
		}
	}
	p.cur = nil
	p.play(nil)
	p.unmute()
	p.mode = Idle
	p.dialLine = 0
	p.route()
}

// goOffHook gives dial tone for a new call; a call we hold stays held,
// no longer current.
func (p *Phone) goOffHook() {
	if p.cur != nil && p.cur.localHold {
		p.cur = nil
	}
	p.mode = OffHook
	p.digits = nil
	p.play(p.cfg.Tones.Dial())
	p.route()
}

func (p *Phone) stopDialTimer() {
	if p.dialTimer != nil {
		p.dialTimer.Stop()
		p.dialTimer = nil
	}
}

func (p *Phone) stopBusyTimer() {
	if p.busyTimer != nil {
		p.busyTimer.Stop()
		p.busyTimer = nil
	}
}

// BusyHandsFree is how long a hands-free call that failed (busy,
// declined, not found) plays its busy or congestion tone before the phone
// goes back to idle with the speaker off, as Polycom and Yealink phones
// do: with the handset on its hook nobody would hang up, and the next
// call must ring rather than find the phone busy.
const BusyHandsFree = 3 * time.Second

// endHandsFreeBusy ends the busy tone of a failed hands-free call, unless
// the user has since lifted the handset or moved on.
func (p *Phone) endHandsFreeBusy() {
	if p.mode != Busy || p.handset || !(p.speaker || p.headset) || p.live() != nil {
		return
	}
	p.speaker, p.headset = false, false
	p.onHookDown()
}

// route sets the codec's acoustic path.
func (p *Phone) route() {
	c := p.cfg.Board.Codec
	if c == nil {
		return
	}
	r := hal.RouteHandset
	switch {
	case p.headset:
		r = hal.RouteHeadset
	case p.speaker && !p.handset:
		r = hal.RouteSpeaker
	}
	_ = c.SetRoute(r)
}

// unmute turns mute off: mute belongs to one call, the next starts with
// the microphone live (as on Yealink and Polycom desk phones).
func (p *Phone) unmute() {
	if !p.muted {
		return
	}
	p.muted = false
	if c := p.cfg.Board.Codec; c != nil {
		_ = c.SetMute(false)
	}
}

func (p *Phone) setIndicators() {
	ind := p.cfg.Board.Indicator
	if ind == nil {
		return
	}
	line := hal.Off
	switch p.state() {
	case Ringing:
		line = hal.BlinkFast
	case Held:
		line = hal.BlinkSlow
	case OffHook, Dialing, Calling, Early, Talking, HeldRemote, Busy:
		line = hal.On
	}
	if p.waiting() != nil {
		line = hal.BlinkFast
	}
	_ = ind.Set(hal.LEDLine, line)
	sp, mute, msg := hal.Off, hal.Off, hal.Off
	if p.speaker {
		sp = hal.On
	}
	if p.muted {
		mute = hal.On
	}
	msg = p.messageLamp()
	_ = ind.Set(hal.LEDSpeaker, sp)
	_ = ind.Set(hal.LEDMute, mute)
	_ = ind.Set(hal.LEDMessage, msg)
	p.setLamps(ind)
}
