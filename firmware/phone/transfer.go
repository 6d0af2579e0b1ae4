package phone

import (
	"context"
	"fmt"
)

// xferState is a transfer the user is setting up with the keys: the call
// held for it, and the consult call once dialled.
type xferState struct {
	held    *callRec
	consult *callRec
}

// onTransferKey does what a desk phone's transfer key does:
//   - in a call: hold it and give dial tone for the consult call, on the
//     same line;
//   - after dialling, before the consult call answers (still dialling, or
//     the consult call ringing; there the terminator does the same):
//     blind transfer of the held call to the number dialled (the consult
//     attempt is cancelled);
//   - once the consult call is answered: attended transfer, the held
//     call's far end to the consult call's (REFER with Replaces);
//   - with nothing dialled: cancel, back to the held call.
func (p *Phone) onTransferKey(ctx context.Context, remote bool) {
	x := p.xfer
	if x == nil {
		l := p.live()
		if l == nil || l.phase != phTalking || p.confActive() {
			return
		}
		if err := p.holdRec(l); err != nil {
			p.lastErr = "transfer: " + err.Error()
			return
		}
		p.xfer = &xferState{held: l}
		p.cur = nil
		p.dialLine = l.line
		p.takeLine()
		p.goOffHook()
		return
	}
	switch c := x.consult; {
	case c == nil && len(p.digits) > 0:
		target := string(p.digits)
		p.digits = nil
		p.stopDialTimer()
		_ = p.blind(x.held, target)
	case c == nil:
		p.xfer = nil
		_ = p.resumeRec(x.held)
	case c.phase == phTalking:
		_ = p.attended(x.held, c)
	default:
		target := c.remote
		_ = p.hangupRec(c)
		_ = p.blind(x.held, target)
	}
}

// blind sends held's far end to target (REFER). On the way the user is
// done with it: the phone goes back to where it was before the call.
func (p *Phone) blind(held *callRec, target string) error {
	p.xfer = nil
	t, ok := held.call.(Transferer)
	if !ok {
		p.lastErr = "transfer: " + ErrNoTransfer.Error()
		return ErrNoTransfer
	}
	if err := t.Transfer(target); err != nil {
		held.xfer = "failed: " + err.Error()
		p.lastErr = "transfer: " + err.Error()
		return fmt.Errorf("phone: transfer: %w", err)
	}
	held.xfer = "trying " + target
	p.log.Info("blind transfer", "call_id", held.call.ID(), "to", target)
	if held == p.cur {
		p.cur = nil
	}
	p.leaveAfterTransfer()
	return nil
}

// attended connects held's far end to consult's (REFER with Replaces).
func (p *Phone) attended(held, consult *callRec) error {
	p.xfer = nil
	t, ok := held.call.(Transferer)
	if !ok {
		p.lastErr = "transfer: " + ErrNoTransfer.Error()
		return ErrNoTransfer
	}
	if err := t.TransferReplacing(consult.call); err != nil {
		held.xfer = "failed: " + err.Error()
		p.lastErr = "transfer: " + err.Error()
		return fmt.Errorf("phone: transfer: %w", err)
	}
	held.xfer = "trying " + consult.remote
	p.log.Info("attended transfer", "call_id", held.call.ID(), "to", consult.call.ID())
	return nil
}

// leaveAfterTransfer: the user handed the call on; hands-free the phone
// goes idle, with the handset lifted it gives dial tone.
func (p *Phone) leaveAfterTransfer() {
	if p.live() != nil {
		return
	}
	p.stopDialTimer()
	p.digits = nil
	if !p.handset {
		p.speaker, p.headset = false, false
		p.route()
	}
	p.toIdleOrBusy(false)
}

// onTransferProgress shows a transfer's progress; a final failure leaves
// the call held, to be resumed.
func (p *Phone) onTransferProgress(c *callRec, ev CallEvent) {
	s := fmt.Sprintf("%d %s", ev.Code, ev.Reason)
	switch {
	case ev.Final && ev.Code >= 200 && ev.Code < 300:
		c.xfer = "done: " + s
	case ev.Final:
		c.xfer = "failed: " + s
		p.lastErr = "transfer failed: " + s
		p.log.Info("transfer failed", "call_id", c.call.ID(), "status", s)
	default:
		c.xfer = s
	}
}

// Transfer transfers the active call: blind to target when target is set;
// with target empty, attended: the held call's far end to the active
// call's far end (REFER with Replaces).
func (p *Phone) Transfer(ctx context.Context, target string) error {
	return p.exec(ctx, "transfer", func(context.Context) error {
		if target != "" {
			src := p.cur
			if x := p.xfer; x != nil {
				if x.consult != nil && x.consult.phase != phTalking {
					_ = p.hangupRec(x.consult)
				}
				src = x.held
			}
			if src == nil || src.phase != phTalking || p.confActive() {
				return ErrNoCall
			}
			if _, ok := src.call.(Transferer); ok && !src.localHold {
				// As the transfer key does (RFC 5589 section 6.1): the
				// far end waits on hold while it is sent on.
				if err := p.holdRec(src); err != nil {
					return err
				}
			}
			return p.blind(src, target)
		}
		if x := p.xfer; x != nil && x.consult != nil && x.consult.phase == phTalking {
			return p.attended(x.held, x.consult)
		}
		a := p.live()
		if a == nil || a.phase != phTalking || p.confActive() {
			return ErrNoCall
		}
		h := p.lastHeld(a)
		if h == nil {
			return fmt.Errorf("%w: no held call to connect", ErrState)
		}
		return p.attended(h, a)
	})
}
