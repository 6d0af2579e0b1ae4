package sip

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sdp"
	siplib "github.com/emiago/sipgo/sip"
)

// onReinvite answers the far end's re-INVITE: 491 on glare (§14.2), the
// SDP answer with our direction, media updated (remote address, hold).
func (c *Call) onReinvite(req *siplib.Request, tx *siplib.ServerTx) {
	c.mu.Lock()
	if c.d.haveRemoteSeq && req.CSeq().SeqNo <= c.d.remoteSeq {
		c.mu.Unlock()
		c.ua.respond(tx, req, 500, "Server Internal Error (CSeq out of order)")
		return
	}
	c.d.remoteSeq, c.d.haveRemoteSeq = req.CSeq().SeqNo, true
	if c.reinviteOut {
		c.mu.Unlock()
		c.ua.send(tx, c.newResponse(req, 491, "Request Pending"))
		return
	}
	if !c.confirmed && c.okRes != nil && c.haveNeg && !c.lateOffer && !c.reinviteIn {
		// The re-INVITE overtook the ACK of our 2xx (sipgo handles each
		// message on its own goroutine); the offer/answer is complete,
		// so the new request implies the dialog is confirmed.
		c.confirmed, c.okAcked = true, true
		if c.okTimer != nil {
			c.okTimer.Stop()
		}
	}
	if c.reinviteIn && !c.lateOffer && c.okRes != nil && c.inviteReq != nil && c.okRes.CSeq().SeqNo == c.inviteReq.CSeq().SeqNo {
		// The new re-INVITE overtook the ACK of our 2xx to the previous
		// one (sipgo handles each message on its own goroutine). That
		// offer/answer is complete and the far end sends a new INVITE
		// only after our final response, so the previous transaction is
		// over: §14.2's 500 is for an INVITE that arrives before our
		// final response, not after it.
		c.reinviteIn, c.okAcked = false, true
		if c.okTimer != nil {
			c.okTimer.Stop()
		}
	}
	if c.reinviteIn || !c.confirmed || (c.state != StateTalking && c.state != StateHeld) {
		c.mu.Unlock()
		res := c.newResponse(req, 500, "Server Internal Error")
		res.AppendHeader(siplib.NewHeader("Retry-After", strconv.Itoa(int(rand.Uint32N(10)))))
		c.ua.send(tx, res)
		return
	}
	if t, ok := contactOf(req); ok {
		c.d.target = t // §12.2.2: a target refresh
	}
	res := c.newResponse(req, 200, "OK")
	var neg *sdp.Negotiated
	if len(req.Body()) > 0 {
		offer, err := sdp.Parse(req.Body())
		if err != nil || !isSDP(req) {
			c.mu.Unlock()
			c.ua.respond(tx, req, 488, "Not Acceptable Here")
			return
		}
		c.rekeyForOfferLocked(offer)
		ans, n, err := sdp.Answer(offer, c.localLocked(c.wantDirLocked()))
		if err == nil {
			err = c.checkSecLocked(n)
		}
		if err != nil {
			c.mu.Unlock()
			c.log.Info("re-INVITE refused", "err", err)
			c.ua.send(tx, c.newResponse(req, 488, "Not Acceptable Here"))
			return
		}
		c.localSDP = ans
		neg = &n
		withSDP(res, ans)
	} else {
		c.localSDP = sdp.Offer(c.localLocked(c.wantDirLocked()))
		c.lateOffer = true
		withSDP(res, c.localSDP)
	}
	c.reinviteIn = true
	c.serverTx, c.inviteReq = tx, req
	c.mu.Unlock()
	if neg != nil {
		if err := c.applyNeg(*neg); err != nil {
			c.log.Warn("media", "err", err)
		}
	}
	c.sendOK(res)
	c.mu.Lock()
	ev := c.eventLocked(0, "re-INVITE", false)
	c.mu.Unlock()
	c.ua.emit(ev)
}

// Hold puts the call on hold with a re-INVITE offering sendonly (RFC
// 3264 §8.4); our audio is muted while held. It returns once the
// re-INVITE is sent; the answer arrives as a CallEvent.
func (c *Call) Hold() error { return c.setHold(true) }

// Resume takes the call off hold (re-INVITE with sendrecv).
func (c *Call) Resume() error { return c.setHold(false) }

// Refresh sends a re-INVITE that offers the addresses the port manager
// advertises now (Contact from the SIP mapping, c=/m= from the media
// mapping), keeping the hold state. Its owner calls it when an external
// address changed under a live call (NAT reboot, new lease), so the far
// end sends to the new address (the RFC 3665 §3.7 flow). It returns once
// the re-INVITE is sent; ErrPending while another re-INVITE is open.
func (c *Call) Refresh() error {
	c.mu.Lock()
	if !c.confirmed || (c.state != StateTalking && c.state != StateHeld) {
		c.mu.Unlock()
		return ErrCallState
	}
	hold := c.localHold
	c.mu.Unlock()
	return c.sendReinvite(hold, 0)
}

// UsesMapping reports whether mp is this call's media mapping.
func (c *Call) UsesMapping(mp *portmgr.Mapping) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return mp != nil && c.mapping == mp
}

func (c *Call) setHold(hold bool) error {
	c.mu.Lock()
	if !c.confirmed || (c.state != StateTalking && c.state != StateHeld) {
		c.mu.Unlock()
		return ErrCallState
	}
	if c.reinviteOut || c.reinviteIn {
		c.mu.Unlock()
		return ErrPending
	}
	c.mu.Unlock()
	return c.sendReinvite(hold, 0)
}

func (c *Call) sendReinvite(hold bool, attempt int) error {
	c.mu.Lock()
	if c.state == StateEnded {
		c.mu.Unlock()
		return ErrCallState
	}
	if c.reinviteOut || c.reinviteIn {
		c.mu.Unlock()
		return ErrPending
	}
	prevHold := c.localHold
	c.localHold = hold
	offer := sdp.Offer(c.localLocked(c.wantDirLocked()))
	req := c.newRequestLocked(siplib.INVITE, 0)
	req.AppendHeader(c.ua.contactHeader())
	req.AppendHeader(siplib.NewHeader("Allow", allowMethods))
	withSDP(req, offer)
	c.reinviteOut = true
	c.mu.Unlock()
	tx, err := c.ua.request(c.ua.ctx, req)
	if err != nil {
		c.mu.Lock()
		c.reinviteOut, c.localHold = false, prevHold
		c.mu.Unlock()
		return err
	}
	c.ua.goFn(func() { c.runReinvite(tx, req, offer, hold, prevHold, attempt) })
	return nil
}

// retryReinvite sends the re-INVITE again after delay, unless the call
// or the UA ends first.
func (c *Call) retryReinvite(delay time.Duration, hold bool, attempt int) {
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		if err := c.sendReinvite(hold, attempt); err != nil && !errors.Is(err, ErrPending) {
			c.log.Debug("re-INVITE retry", "err", err)
		}
	case <-c.done:
	case <-c.ua.ctx.Done():
	}
}

// runReinvite waits for the answer to our re-INVITE.
func (c *Call) runReinvite(tx siplib.ClientTransaction, req *siplib.Request, offer *sdp.Session, hold, prevHold bool, attempt int) {
	var res *siplib.Response
	authTried := false
	for res == nil {
		select {
		case r := <-tx.Responses():
			if r.IsProvisional() {
				continue
			}
			if (r.StatusCode == 401 || r.StatusCode == 407) && !authTried {
				authTried = true
				c.mu.Lock()
				err := c.auth.update(r, false)
				var nreq *siplib.Request
				if err == nil {
					nreq = req.Clone()
					nreq.RemoveHeader("Via")
					nreq.PrependHeader(c.ua.newVia())
					c.d.localSeq++
					nreq.CSeq().SeqNo = c.d.localSeq
					err = c.auth.apply(nreq, c.credentials())
				}
				c.mu.Unlock()
				if err == nil {
					if ntx, err := c.ua.request(c.ua.ctx, nreq); err == nil {
						tx, req = ntx, nreq
						continue
					}
				}
			}
			res = r
		case <-tx.Done():
			res = &siplib.Response{StatusCode: 408, Reason: "Request Timeout"}
		case <-c.done:
			tx.Terminate()
			return
		}
	}
	code := res.StatusCode
	switch {
	case code >= 200 && code < 300:
		c.mu.Lock()
		ack := c.newAckLocked(res)
		c.lastAck = ack
		if t, ok := contactOf(res); ok {
			c.d.target = t
		}
		c.localSDP = offer
		c.reinviteOut = false
		if hold {
			c.state = StateHeld
		} else {
			c.state = StateTalking
		}
		c.mu.Unlock()
		if err := c.ua.write(ack); err != nil {
			c.log.Debug("ACK", "err", err)
		}
		c.reAckOn(tx, ack)
		if isSDP(res) {
			if ans, err := sdp.Parse(res.Body()); err == nil {
				neg, err := sdp.Accept(offer, ans)
				if err == nil {
					err = c.applyNeg(neg)
				}
				if errors.Is(err, sdp.ErrInsecure) || errors.Is(err, sdp.ErrCrypto) {
					// The answer drops or breaks SRTP: the call cannot go on.
					c.log.Warn("re-INVITE answer", "err", err)
					c.bye(c.ua.ctx, negFailure("", err), false)
					return
				} else if err != nil {
					c.log.Warn("media", "err", err)
				}
			}
		}
		c.emitState(code, res.Reason)
	case code == 491:
		// Glare (RFC 3261 §14.1): retry after a random delay; 2.1-4 s if
		// we own the Call-ID (we placed the call), else 0-2 s.
		c.mu.Lock()
		c.reinviteOut, c.localHold = false, prevHold
		c.mu.Unlock()
		if attempt >= 3 {
			c.emitState(code, res.Reason)
			return
		}
		var delay time.Duration
		if c.dir == Outgoing {
			delay = 2100*time.Millisecond + time.Duration(rand.IntN(191))*10*time.Millisecond
		} else {
			delay = time.Duration(rand.IntN(201)) * 10 * time.Millisecond
		}
		c.retryReinvite(delay, hold, attempt+1)
	case code == 500 && res.GetHeader("Retry-After") != nil && attempt < 3:
		// The far end was still busy with an earlier re-INVITE (RFC 3261
		// §14.2): it said when to try again; try the same offer then.
		c.mu.Lock()
		c.reinviteOut, c.localHold = false, prevHold
		c.mu.Unlock()
		c.retryReinvite(min(retryAfter(res), 10*time.Second), hold, attempt+1)
	case code == 408 || code == 481:
		// §14.1: the dialog is gone.
		c.mu.Lock()
		c.reinviteOut = false
		c.mu.Unlock()
		c.bye(c.ua.ctx, fmt.Sprintf("re-INVITE failed: %d", code), false)
	default:
		c.mu.Lock()
		c.reinviteOut, c.localHold = false, prevHold
		c.mu.Unlock()
		c.emitState(code, res.Reason)
	}
}
