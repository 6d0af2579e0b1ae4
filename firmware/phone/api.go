package phone

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/deskphone/phone/hal"
)

// The methods the API and the terminal call. Each runs on the Run loop
// and returns once the snapshot shows its effect.

// do sends a command to the loop and waits for its result.
func (p *Phone) do(ctx context.Context, kind commandKind, arg string) error {
	return p.send(ctx, command{kind: kind, arg: arg})
}

// exec runs fn on the loop and returns its result.
func (p *Phone) exec(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	return p.send(ctx, command{kind: cmdFunc, arg: name, fn: fn})
}

func (p *Phone) send(ctx context.Context, c command) error {
	c.reply = make(chan error, 1)
	select {
	case p.cmds <- c:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.stopped:
		return ErrStopped
	}
	select {
	case err := <-c.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Call dials target hands-free (the API's "call" action) on the default
// line.
func (p *Phone) Call(ctx context.Context, target string) error { return p.do(ctx, cmdCall, target) }

// CallOn dials target on line (0-based) hands-free. A connected call is
// held first.
func (p *Phone) CallOn(ctx context.Context, line int, target string) error {
	return p.exec(ctx, "call", func(ctx context.Context) error {
		if line < 0 || line >= len(p.lines) {
			return fmt.Errorf("%w: %d", ErrNoLine, line)
		}
		return p.apiCall(ctx, line, target)
	})
}

// Answer answers the ringing (or waiting) call hands-free.
func (p *Phone) Answer(ctx context.Context) error { return p.do(ctx, cmdAnswer, "") }

// AnswerCall answers the ringing or waiting call id hands-free (the active
// call, if any, is held first).
func (p *Phone) AnswerCall(ctx context.Context, id string) error {
	return p.exec(ctx, "answer", func(context.Context) error {
		c := p.find(id)
		if c == nil || !c.unanswered() {
			return fmt.Errorf("%w: %q is not ringing", ErrNoCall, id)
		}
		return p.answerHandsFree(c)
	})
}

// RejectCall refuses the ringing or waiting call id (486, or code).
func (p *Phone) RejectCall(ctx context.Context, id string, code int) error {
	return p.exec(ctx, "reject", func(context.Context) error {
		c := p.find(id)
		if c == nil || !c.unanswered() {
			return fmt.Errorf("%w: %q is not ringing", ErrNoCall, id)
		}
		if code == 0 {
			code = 486
		}
		if code < 400 || code > 699 {
			return fmt.Errorf("%w: reject code %d is not a 4xx-6xx", ErrState, code)
		}
		return p.reject(c, code, "rejected")
	})
}

// HangupCall ends call id. Ending the active call does not take the
// phone off the held ones; ending a ringing one refuses it (603).
func (p *Phone) HangupCall(ctx context.Context, id string) error {
	return p.exec(ctx, "hangup", func(context.Context) error {
		c := p.find(id)
		if c == nil {
			return fmt.Errorf("%w: %q", ErrNoCall, id)
		}
		if c.unanswered() {
			return p.reject(c, 603, "declined")
		}
		wasCur := c == p.cur
		err := p.hangupRec(c)
		switch {
		case !wasCur || p.cur != nil:
		case !p.handset:
			// Hands-free, nobody holds a handset to put down.
			p.speaker, p.headset = false, false
			p.onHookDown()
		default:
			p.goOffHook() // the handset is up: dial tone for the next
		}
		return err
	})
}

// Hangup ends the current call (or rejects a ringing one) and goes on hook.
func (p *Phone) Hangup(ctx context.Context) error { return p.do(ctx, cmdHangup, "") }

// SendDTMF sends digits in the current call.
func (p *Phone) SendDTMF(ctx context.Context, digits string) error {
	return p.do(ctx, cmdDTMF, digits)
}

// Hold puts the current call on hold.
func (p *Phone) Hold(ctx context.Context) error { return p.do(ctx, cmdHold, "") }

// Resume takes the current call off hold.
func (p *Phone) Resume(ctx context.Context) error { return p.do(ctx, cmdResume, "") }

// HoldCall holds call id.
func (p *Phone) HoldCall(ctx context.Context, id string) error {
	return p.exec(ctx, "hold", func(context.Context) error {
		c := p.find(id)
		if c == nil {
			return fmt.Errorf("%w: %q", ErrNoCall, id)
		}
		if c.phase != phTalking || c.localHold {
			return ErrState
		}
		return p.holdRec(c)
	})
}

// ResumeCall resumes call id and makes it active (the active one, if
// another, is held first).
func (p *Phone) ResumeCall(ctx context.Context, id string) error {
	return p.exec(ctx, "resume", func(context.Context) error {
		c := p.find(id)
		if c == nil {
			return fmt.Errorf("%w: %q", ErrNoCall, id)
		}
		if c.phase != phTalking || !c.localHold {
			return ErrState
		}
		if !p.engaged() {
			p.speaker = true
			p.route()
		}
		return p.resumeRec(c)
	})
}

// Swap makes the held call active and holds the active one.
func (p *Phone) Swap(ctx context.Context) error {
	return p.exec(ctx, "swap", func(context.Context) error { return p.swap() })
}

// ClearMissed resets Status.MissedCalls (the user has seen them).
func (p *Phone) ClearMissed(ctx context.Context) error {
	return p.exec(ctx, "clear missed", func(context.Context) error {
		p.missed = 0
		return nil
	})
}

// SetLine changes a line's DND and forwarding.
func (p *Phone) SetLine(ctx context.Context, line int, s LineSettings) error {
	if err := s.check(); err != nil {
		return err
	}
	return p.exec(ctx, "set line", func(context.Context) error {
		if line < 0 || line >= len(p.settings) {
			return fmt.Errorf("%w: %d", ErrNoLine, line)
		}
		p.settings[line] = s
		p.log.Info("line settings", "line", line, "dnd", s.DND, "forward_always", s.Forward.Always,
			"forward_busy", s.Forward.Busy, "forward_no_answer", s.Forward.NoAnswer)
		return nil
	})
}

// Press injects a key press (the API's and the terminal's keys).
func (p *Phone) Press(ctx context.Context, key hal.Key) error {
	return p.do(ctx, cmdKey, string(rune(key)))
}

// apiCall dials target hands-free on line for the API.
func (p *Phone) apiCall(ctx context.Context, line int, target string) error {
	if strings.TrimSpace(target) == "" {
		return fmt.Errorf("%w: empty number", ErrState)
	}
	if l := p.live(); l != nil && l.phase != phTalking {
		return ErrBusy // a call is being placed: one at a time
	}
	if len(p.calls) >= p.cfg.MaxCalls {
		return ErrBusy
	}
	if !p.engaged() {
		p.speaker = true
	}
	p.stopDialTimer()
	p.dialLine = line
	p.digits, p.remoteDigits = []rune(target), true
	return p.dial(ctx)
}

func (p *Phone) onCommand(ctx context.Context, c command) error {
	switch c.kind {
	case cmdCall:
		return p.apiCall(ctx, 0, c.arg)
	case cmdAnswer:
		r := p.alerting()
		if r == nil {
			return ErrNoCall
		}
		return p.answerHandsFree(r)
	case cmdHangup:
		if p.state() == Ringing {
			if r := p.alerting(); r != nil {
				return p.reject(r, 603, "declined")
			}
		}
		if p.cur != nil {
			_ = p.hangupRec(p.cur)
		}
		p.handset, p.speaker, p.headset = false, false, false
		p.onHookDown()
		return nil
	case cmdDTMF:
		c2 := p.live()
		if c2 == nil || (c2.phase != phTalking && c2.phase != phEarly) {
			return ErrNoCall
		}
		return c2.call.SendDTMF(c.arg)
	case cmdHold:
		l := p.live()
		if l == nil || l.phase != phTalking {
			return ErrState
		}
		return p.holdRec(l)
	case cmdResume:
		h := p.cur
		if h == nil || !h.localHold {
			h = p.lastHeld(nil)
		}
		if h == nil || !h.localHold {
			return ErrState
		}
		if !p.engaged() {
			p.speaker = true
			p.route()
		}
		return p.resumeRec(h)
	case cmdKey:
		r := []rune(c.arg)
		if len(r) != 1 {
			return ErrState
		}
		p.onKey(ctx, hal.KeyEvent{Key: hal.Key(r[0]), Down: true, At: time.Now()}, true)
		return nil
	}
	return fmt.Errorf("phone: unknown command %v", c.kind)
}
