package phone

import (
	"context"
	"fmt"
	"time"
)

func (p *Phone) onCall(ctx context.Context, ev CallEvent) {
	switch ev.State {
	case CallIncoming:
		p.onIncoming(ev)
		return
	case CallReferred:
		p.onReferred(ev)
		return
	}
	c := p.find(ev.Call.ID())
	if c == nil {
		return // an event of a call we no longer track
	}
	switch ev.State {
	case CallRinging, CallEarly, CallAnswered:
		if !c.incoming {
			p.identify(c)
		}
	}
	switch ev.State {
	case CallRinging:
		if c.phase == phCalling {
			c.phase = phRinging
			if c == p.cur {
				p.play(p.cfg.Tones.Ringback())
			}
		}
	case CallEarly:
		if c.phase == phCalling || c.phase == phRinging || c.phase == phEarly {
			c.phase = phEarly
			if c == p.cur {
				p.playCall()
			}
		}
	case CallAnswered, CallHeld, CallResumed:
		if ev.State == CallAnswered && (c.phase == phCalling || c.phase == phRinging || c.phase == phEarly) {
			c.phase, c.answered = phTalking, time.Now()
			if c == p.cur {
				p.startTalking(c)
			} else {
				p.startPump(c)
			}
		}
		if c.phase == phTalking {
			// What the far end sends while it holds (music on hold)
			// keeps playing; our own hold shows whatever it does.
			was := c.remoteHold
			c.remoteHold = ev.RemoteHold
			p.pumpWhileSending(c) // hold.go
			if was != c.remoteHold {
				c.heldAudio = false
				if c == p.cur {
					p.playCall()
				}
			}
		}
	case CallTransferProgress:
		p.onTransferProgress(c, ev)
	case CallEnded, CallFailed:
		p.onEnded(c, ev)
	}
}

// onEnded: the line ended a call (the far end hung up, or it failed).
func (p *Phone) onEnded(c *callRec, ev CallEvent) {
	wasCur := c == p.cur
	wasConnected := c.phase == phTalking
	partner := p.confPartner(c)
	if ev.State == CallFailed || ev.Code != 0 {
		c.code, c.reason = ev.Code, ev.Reason
	}
	p.drop(c)
	if !wasCur {
		return
	}
	if ev.State == CallFailed {
		p.lastErr = fmt.Sprintf("%d %s", ev.Code, ev.Reason)
	}
	if partner != nil {
		// The other party stays, as a normal call.
		p.cur = partner
		p.playCall()
		return
	}
	if wasConnected && ev.State == CallEnded && (p.speaker || p.headset) && !p.handset {
		// Hands-free (or on the headset), nobody holds a handset to hang up: the far
		// end's hang-up ends it all, as on a desk phone, so the
		// next call rings rather than finding the phone busy.
		p.speaker, p.headset = false, false
		p.onHookDown()
		return
	}
	busy := ev.Code == 486 || ev.Code == 600 || ev.Code == 603 || ev.State == CallEnded
	if p.engaged() {
		p.toBusy(c.remote, busy)
		if (p.speaker || p.headset) && !p.handset {
			p.stopBusyTimer()
			p.busyTimer = time.NewTimer(BusyHandsFree)
		}
		return
	}
	p.toIdleOrBusy(false)
}

// onIncoming: a call arrives. Do-not-disturb and forward-always apply
// first; a phone at its call limit (or busy without call waiting)
// forwards on busy or answers 486; otherwise it rings, or waits with
// the beep during another call.
func (p *Phone) onIncoming(ev CallEvent) {
	if p.find(ev.Call.ID()) != nil {
		return // a repeated event
	}
	c := p.newRec(ev.Call, ev.Line, true, ev.Call.Remote())
	if ev.Replaces != nil {
		p.onReplaces(c, ev.Replaces)
		return
	}
	set := p.lineSettings(ev.Line)
	if set.DND {
		code := set.dndCode()
		p.log.Info("incoming call refused: do not disturb", "from", c.remote, "line", c.line, "code", code)
		_ = p.reject(c, code, "do not disturb")
		return
	}
	if t := set.Forward.Always; t != "" {
		p.forward(c, t, "forward always")
		return
	}
	up := len(p.calls) > 0 || p.mode != Idle
	if len(p.calls) >= p.cfg.MaxCalls || p.cfg.NoCallWaiting && up {
		if t := set.Forward.Busy; t != "" {
			p.forward(c, t, "forward busy")
			return
		}
		p.log.Info("incoming call while busy: 486", "from", c.remote, "line", c.line)
		_ = c.call.Reject(486)
		c.kind, c.code, c.reason = KindMissed, 486, "busy"
		p.record(c)
		return
	}
	c.phase = phIncoming
	if p.engaged() {
		c.phase = phWaiting
	}
	if t := set.Forward.NoAnswer; t != "" {
		id := c.call.ID()
		c.noAnswer = time.AfterFunc(set.Forward.noAnswerAfter(), func() {
			select {
			case p.noAnswer <- id:
			case <-p.stopped:
			}
		})
	}
	p.calls = append(p.calls, c)
	p.log.Info("incoming call", "from", c.remote, "line", c.line, "call_id", c.call.ID(), "waiting", c.phase == phWaiting)
}

// onNoAnswer forwards a call that rang too long.
func (p *Phone) onNoAnswer(id string) {
	c := p.find(id)
	if c == nil || !c.unanswered() {
		return
	}
	c.noAnswer = nil
	if t := p.lineSettings(c.line).Forward.NoAnswer; t != "" {
		p.forward(c, t, "forward no answer")
	}
}

// forward redirects an unanswered incoming call to target (302) and logs
// it; a call whose line cannot redirect is refused 486.
func (p *Phone) forward(c *callRec, target, why string) {
	t, ok := c.call.(Transferer)
	var err error
	if ok {
		err = t.Redirect(target)
	} else {
		err = ErrNoTransfer
	}
	if err != nil {
		p.log.Warn("forward failed: 486", "from", c.remote, "to", target, "err", err)
		_ = c.call.Reject(486)
		c.kind, c.code, c.reason = KindRejected, 486, fmt.Sprintf("%s to %s failed: %v", why, target, err)
	} else {
		p.log.Info("call forwarded", "from", c.remote, "to", target, "why", why)
		c.kind, c.code, c.reason, c.forwardedTo = KindForwarded, 302, why, target
	}
	p.drop(c)
}

// onReplaces: an INVITE with Replaces (we are the target of an attended
// transfer) takes over a call we have: answer it at once, move the
// audio to it, end the replaced call.
func (p *Phone) onReplaces(c *callRec, old Call) {
	o := p.find(old.ID())
	if o == nil || o.phase != phTalking {
		p.log.Info("replaces names no call of ours: 481", "from", c.remote)
		_ = c.call.Reject(481)
		c.kind, c.code, c.reason = KindRejected, 481, "replaces an unknown call"
		p.record(c)
		return
	}
	if err := c.call.Answer(); err != nil {
		p.log.Warn("answer replacing call", "err", err)
		c.kind, c.code, c.reason = KindRejected, 500, err.Error()
		p.record(c)
		return
	}
	c.line = o.line
	c.phase, c.answered = phTalking, time.Now()
	wasCur := o == p.cur
	i := len(p.calls)
	for j, x := range p.calls {
		if x == o {
			i = j
		}
	}
	p.calls = append(p.calls[:i], append([]*callRec{c}, p.calls[i:]...)...)
	_ = o.call.Hangup()
	p.drop(o)
	if wasCur || p.live() == nil {
		if l := p.live(); l != nil {
			_ = p.holdRec(l)
		}
		p.cur, p.mode = c, Idle
		if !p.engaged() {
			p.speaker = true
		}
		p.startTalking(c)
	} else {
		p.startPump(c)
		_ = p.holdRec(c)
	}
	p.log.Info("call replaced", "old", old.ID(), "new", c.call.ID(), "from", c.remote)
}

// onReferred: the far end of ev.Old asked us to call a third party and
// the line placed that call (ev.Call). It becomes the current outgoing
// call (ringback); the far end ends the old one.
func (p *Phone) onReferred(ev CallEvent) {
	if p.find(ev.Call.ID()) != nil {
		return
	}
	c := p.newRec(ev.Call, ev.Line, false, ev.Call.Remote())
	c.phase = phCalling
	var old *callRec
	if ev.Old != nil {
		old = p.find(ev.Old.ID())
	}
	if l := p.live(); l != nil && l != old && l.phase == phTalking {
		_ = p.holdRec(l)
	}
	p.calls = append(p.calls, c)
	p.cur, p.mode = c, Idle
	if !p.engaged() {
		p.speaker = true
		p.route()
	}
	p.play(p.cfg.Tones.Ringback())
	p.log.Info("referred: calling", "to", c.remote, "line", c.line, "call_id", c.call.ID())
}
