package sip

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sdp"
	siplib "github.com/emiago/sipgo/sip"
)

// uacState is what only an outgoing call keeps: the client side of its
// initial INVITE (RFC 3261 §13.2), with CANCEL and PRACK bookkeeping.
// Guarded by Call.mu.
type uacState struct {
	invite       *siplib.Request
	inviteTx     siplib.ClientTransaction
	provisional  bool // a provisional arrived: CANCEL may be sent
	cancelWanted bool
	cancelSent   bool
	lastRSeq     uint32
	haveRSeq     bool
	setupTimer   *time.Timer
}

// Dial places a call to target ("sip:bob@example.com", "bob@host" or a
// bare user at the account's domain). It returns once the INVITE is sent;
// progress (ringing, early media, answer, failure) arrives as CallEvents.
func (u *UA) Dial(ctx context.Context, target string) (*Call, error) {
	ruri, err := parseTarget(target, u.cfg.Account.Domain)
	if err != nil {
		return nil, err
	}
	return u.dial(ctx, ruri, dialOpts{})
}

// dialOpts are what a call placed for a REFER adds to Dial.
type dialOpts struct {
	// referredBy and replaces go into the INVITE as Referred-By (RFC
	// 3892) and Replaces (RFC 3891).
	referredBy string
	replaces   *replaces
	// viaServer sends the INVITE to the registrar whatever the
	// Request-URI's host (a Refer-To names the target's Contact, which
	// we reach through the proxy as every other request).
	viaServer bool
	// notify receives the call's progress for the referrer.
	notify *referIn
	// announce runs once the call exists, before its first CallEvent.
	announce func(*Call)
}

// dial places a call to ruri (see Dial).
func (u *UA) dial(ctx context.Context, ruri siplib.Uri, opts dialOpts) (*Call, error) {
	u.mu.Lock()
	started, closed := u.started, u.closed
	u.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if !started {
		return nil, ErrNotStarted
	}
	c := newCall(u, Outgoing, newCallID())
	c.state = StateCalling
	c.remote = ruri.String()
	c.notify = opts.notify
	c.viaServer = opts.viaServer
	mp, err := u.cfg.Mapper.Map(ctx, portmgr.KindMedia, portmgr.UDP, u.mediaHint())
	if err != nil {
		return nil, fmt.Errorf("sip: map media socket: %w", err)
	}
	u.iceWaitRelay(ctx, mp) // call_ice.go
	c.mu.Lock()
	c.mapping = mp
	d := &c.d
	d.local = u.aor()
	d.localName = wireName(u.cfg.Account.DisplayName)
	d.localTag = newTag()
	d.remote = siplib.Uri{Scheme: ruri.Scheme, User: ruri.User, Host: ruri.Host, Port: ruri.Port}
	d.target = ruri
	d.localSeq = 1
	offer := sdp.Offer(c.localLocked(sdp.SendRecv))
	c.localSDP = offer
	req := c.newInviteLocked(ruri, offer)
	if opts.referredBy != "" {
		req.AppendHeader(siplib.NewHeader("Referred-By", opts.referredBy))
	}
	if opts.replaces != nil {
		req.AppendHeader(siplib.NewHeader("Replaces", opts.replaces.String()))
		req.AppendHeader(siplib.NewHeader("Require", "replaces"))
	}
	c.invite = req
	c.identity, _ = identityOf(req, "To")
	c.mu.Unlock()

	if !u.addCall(c) {
		u.cfg.Mapper.Release(mp)
		return nil, ErrClosed
	}
	if opts.announce != nil {
		opts.announce(c)
	}
	tx, err := u.request(ctx, req)
	if err != nil {
		// A referred call was announced already: its end is reported.
		c.finish(0, err.Error(), opts.announce != nil)
		return nil, err
	}
	c.mu.Lock()
	c.inviteTx = tx
	c.setupTimer = time.AfterFunc(u.cfg.SetupTimeout, c.onSetupTimeout)
	c.mu.Unlock()
	c.log.Info("dialing", "target", ruri.String())
	u.emit(&CallEvent{Call: c, State: StateCalling})
	u.goFn(func() { c.runUAC(tx, req) })
	return c, nil
}

// newInviteLocked builds the initial INVITE: From with our tag, To the
// target, our Contact, Supported: 100rel (RFC 3262 §4) and the offer.
func (c *Call) newInviteLocked(ruri siplib.Uri, offer *sdp.Session) *siplib.Request {
	u := c.ua
	to := &siplib.ToHeader{Address: *c.d.remote.Clone(), Params: siplib.NewParams()}
	req := u.baseRequest(siplib.INVITE, ruri, to, c.id, c.d.localSeq)
	req.From().Params.Add("tag", c.d.localTag)
	if u.cfg.Account.DisplayName != "" {
		req.From().DisplayName = wireName(u.cfg.Account.DisplayName)
	}
	req.AppendHeader(u.contactHeader())
	req.AppendHeader(siplib.NewHeader("Allow", allowMethods))
	if u.cfg.Prack {
		req.AppendHeader(siplib.NewHeader("Supported", "100rel, replaces"))
	} else {
		req.AppendHeader(siplib.NewHeader("Supported", "replaces"))
	}
	withSDP(req, offer)
	// Without an outbound proxy, calls to our own domain go to the
	// registrar, which routes them (as desk phones do).
	if u.cfg.Account.OutboundProxy == "" && u.cfg.Account.Registrar != "" && (c.viaServer || strings.EqualFold(ruri.Host, u.cfg.Account.Domain)) {
		u.mu.Lock()
		srv := u.server
		u.mu.Unlock()
		if srv.IsValid() {
			req.SetDestination(hostPort(srv))
		}
	}
	return req
}

// runUAC reads the responses of our INVITE transaction(s) until a final
// response settles the call.
func (c *Call) runUAC(tx siplib.ClientTransaction, req *siplib.Request) {
	for {
		select {
		case res := <-tx.Responses():
			next, nreq, done := c.onInviteResponse(tx, req, res)
			if done {
				return
			}
			if next != nil {
				tx, req = next, nreq
			}
		case <-tx.Done():
			c.mu.Lock()
			confirmed := c.confirmed
			c.mu.Unlock()
			if !confirmed {
				code, reason := 408, "Request Timeout"
				if err := tx.Err(); err != nil && !errors.Is(err, siplib.ErrTransactionTimeout) {
					code, reason = 503, "Service Unavailable ("+err.Error()+")"
				}
				c.finish(code, reason, true)
			}
			return
		case <-c.done:
			tx.Terminate()
			return
		}
	}
}

// onInviteResponse handles one response to our INVITE. It returns a new
// transaction when the INVITE was re-sent with credentials, and done when
// the call is settled.
func (c *Call) onInviteResponse(tx siplib.ClientTransaction, req *siplib.Request, res *siplib.Response) (siplib.ClientTransaction, *siplib.Request, bool) {
	code := res.StatusCode
	switch {
	case code == 100:
		c.mu.Lock()
		c.provisional = true
		send := c.cancelWanted && !c.cancelSent
		c.mu.Unlock()
		if send {
			c.sendCancel()
		}
		return nil, nil, false
	case code < 200:
		c.onProvisional(res)
		return nil, nil, false
	case code < 300:
		c.onSuccess(tx, req, res)
		return nil, nil, true
	case code == 401 || code == 407:
		c.mu.Lock()
		fresh := req.GetHeader("Authorization") != nil || req.GetHeader("Proxy-Authorization") != nil
		err := c.auth.update(res, fresh)
		cancelled := c.cancelWanted
		c.mu.Unlock()
		if err != nil || cancelled {
			reason := "authentication failed"
			if cancelled {
				reason = "cancelled"
			}
			c.finish(code, reason, true)
			return nil, nil, true
		}
		nreq, err := c.reinviteWithAuth(req)
		if err != nil {
			c.finish(code, err.Error(), true)
			return nil, nil, true
		}
		ntx, err := c.ua.request(c.ua.ctx, nreq)
		if err != nil {
			c.finish(503, err.Error(), true)
			return nil, nil, true
		}
		c.mu.Lock()
		c.invite, c.inviteTx, c.provisional = nreq, ntx, false
		c.mu.Unlock()
		return ntx, nreq, false
	case code >= 300 && code < 400:
		if ntx, nreq, ok := c.followRedirect(req, res); ok {
			return ntx, nreq, false
		}
		c.finish(code, res.Reason, true)
		return nil, nil, true
	default:
		// The transaction ACKs non-2xx itself (RFC 3261 §17.1.1.3).
		reason := res.Reason
		c.mu.Lock()
		if c.cancelSent && code == 487 {
			reason = "cancelled"
			if c.sec.failure != "" {
				reason = c.sec.failure
			}
		}
		c.mu.Unlock()
		c.finish(code, reason, true)
		return nil, nil, true
	}
}

// reinviteWithAuth copies the INVITE with a higher CSeq, a new branch and
// our digest answer (RFC 3261 §22.2).
func (c *Call) reinviteWithAuth(old *siplib.Request) (*siplib.Request, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	req := old.Clone()
	req.RemoveHeader("Via")
	req.PrependHeader(c.ua.newVia())
	c.d.localSeq++
	req.CSeq().SeqNo = c.d.localSeq
	if err := c.auth.apply(req, c.credentials()); err != nil {
		return nil, err
	}
	return req, nil
}

// onProvisional handles 101-199: early dialog, PRACK, early media.
func (c *Call) onProvisional(res *siplib.Response) {
	reliable := hasToken(res, "Require", "100rel") && res.GetHeader("RSeq") != nil
	c.mu.Lock()
	if c.state == StateEnded {
		c.mu.Unlock()
		return
	}
	c.provisional = true
	sendCancel := c.cancelWanted && !c.cancelSent
	if id, ok := identityOf(res, ""); ok {
		c.identity = id // RFC 3325 §9.1: a P-Asserted-Identity in a response
	}
	if tag := tagOf(res.To().Params); tag != "" && !c.confirmed {
		// Early dialog (RFC 3261 §12.1.2): route set and target from it.
		if c.d.remoteTag == "" || c.d.remoteTag == tag {
			c.d.remoteTag = tag
			c.d.routes = reversed(routeSetFrom(res))
			if t, ok := contactOf(res); ok {
				c.d.target = t
			}
		}
	}
	var prack *siplib.Request
	if reliable && c.ua.cfg.Prack {
		rseq, err := strconv.ParseUint(strings.TrimSpace(res.GetHeader("RSeq").Value()), 10, 32)
		switch {
		case err != nil:
			c.mu.Unlock()
			return
		case c.haveRSeq && uint32(rseq) <= c.lastRSeq:
			// A retransmission: our PRACK transaction retransmits itself.
			c.mu.Unlock()
			return
		case c.haveRSeq && uint32(rseq) != c.lastRSeq+1:
			// Out of order (RFC 3262 §4): drop, the UAS retransmits.
			c.mu.Unlock()
			return
		}
		c.haveRSeq, c.lastRSeq = true, uint32(rseq)
		prack = c.newRequestLocked(siplib.PRACK, 0)
		cs := res.CSeq()
		prack.AppendHeader(siplib.NewHeader("RAck", fmt.Sprintf("%d %d %s", rseq, cs.SeqNo, cs.MethodName)))
		prack.SetBody(nil)
	}
	var answer *sdp.Session
	if isSDP(res) && !c.haveNeg {
		if a, err := sdp.Parse(res.Body()); err == nil {
			answer = a
		}
	}
	offer := c.localSDP
	earlyOK := c.ua.cfg.EarlyMedia
	c.mu.Unlock()

	if prack != nil {
		c.ua.goFn(func() {
			ctx, cancel := context.WithTimeout(c.ua.ctx, 32*time.Second)
			defer cancel()
			if _, err := c.ua.do(ctx, prack); err != nil {
				c.log.Debug("PRACK", "err", err)
			}
		})
	}
	if sendCancel {
		c.sendCancel()
		return
	}
	if answer != nil && prack != nil {
		// A reliable provisional's answer completes the offer/answer
		// (RFC 3262 §5): one our SRTP policy refuses ends the call now.
		if _, err := sdp.Accept(offer, answer); errors.Is(err, sdp.ErrInsecure) || errors.Is(err, sdp.ErrCrypto) {
			reason := negFailure("", err)
			c.mu.Lock()
			c.sec.failure = reason
			c.mu.Unlock()
			c.log.Warn("early answer refused", "err", err)
			c.cancel(0, reason)
			return
		}
	}
	early := false
	if answer != nil && earlyOK {
		neg, err := sdp.Accept(offer, answer)
		if err == nil {
			if err := c.applyNeg(neg); err != nil {
				c.log.Warn("early media", "err", err)
			} else {
				early = true
			}
		}
	}
	c.mu.Lock()
	if c.state == StateEnded {
		c.mu.Unlock()
		return
	}
	switch {
	case early || c.state == StateEarly:
		c.state = StateEarly
		early = true
	default:
		c.state = StateRinging
	}
	ev := c.eventLocked(res.StatusCode, res.Reason, early)
	c.mu.Unlock()
	c.ua.emit(ev)
}

// onSuccess handles a 2xx to the INVITE: dialog confirmed, ACK sent as
// its own request (RFC 3261 §13.2.2.4), media started or updated.
func (c *Call) onSuccess(tx siplib.ClientTransaction, req *siplib.Request, res *siplib.Response) {
	c.mu.Lock()
	if c.setupTimer != nil {
		c.setupTimer.Stop()
	}
	first := !c.confirmed
	c.confirmed = true
	if first {
		c.d.remoteTag = tagOf(res.To().Params)
		c.d.routes = reversed(routeSetFrom(res))
		if t, ok := contactOf(res); ok {
			c.d.target = t
		}
		if to := res.To(); to != nil {
			c.d.remoteName = to.DisplayName
		}
		c.peerAddr = sourceAddr(res)
	}
	if id, ok := identityOf(res, ""); ok {
		c.identity = id
	}
	ack := c.newAckLocked(res)
	c.lastAck = ack
	cancelled := c.cancelWanted || c.state == StateEnded
	var answer *sdp.Session
	if isSDP(res) {
		answer, _ = sdp.Parse(res.Body())
	}
	offer := c.localSDP
	c.mu.Unlock()

	if err := c.ua.write(ack); err != nil {
		c.log.Warn("send ACK", "err", err)
	}
	c.reAckOn(tx, ack)
	if cancelled {
		// The 2xx crossed our CANCEL: confirm, then end with BYE (§9.1).
		c.mu.Lock()
		if c.state == StateEnded {
			// Already ended here (a CANCEL or the setup timer got there
			// first): close the dialog the 2xx made, without ending the
			// call a second time.
			req := c.newRequestLocked(siplib.BYE, 0)
			c.mu.Unlock()
			c.sendBye(c.ua.ctx, req, false)
			return
		}
		c.state = StateTalking
		c.mu.Unlock()
		c.bye(c.ua.ctx, "cancelled", false)
		return
	}
	if answer == nil {
		c.mu.Lock()
		had := c.haveNeg
		c.mu.Unlock()
		if !had {
			c.log.Warn("2xx without SDP answer")
			c.bye(c.ua.ctx, "no SDP answer", false)
			return
		}
	} else if neg, err := sdp.Accept(offer, answer); err != nil {
		c.log.Warn("bad SDP answer", "err", err)
		c.bye(c.ua.ctx, negFailure("bad SDP answer", err), false)
		return
	} else if err := c.applyNeg(neg); err != nil {
		c.log.Warn("media", "err", err)
		c.bye(c.ua.ctx, negFailure("media failed", err), false)
		return
	}
	c.mu.Lock()
	if c.state == StateEnded {
		c.mu.Unlock()
		return
	}
	c.state = StateTalking
	c.answered = time.Now()
	ev := c.eventLocked(res.StatusCode, res.Reason, false)
	// A hangup that came while the 2xx was being taken (after the check
	// above) could only CANCEL, which the answered INVITE ignores: end
	// the call with BYE now (RFC 3261 §9.1).
	hungUp := c.cancelWanted
	c.mu.Unlock()
	c.log.Info("answered", "codec", c.Codec())
	c.ua.emit(ev)
	if hungUp {
		c.bye(c.ua.ctx, "cancelled", false)
	}
}

// newAckLocked builds the ACK for a 2xx: same CSeq number, new branch,
// to the remote target through the route set.
func (c *Call) newAckLocked(res *siplib.Response) *siplib.Request {
	ack := c.newRequestLocked(siplib.ACK, res.CSeq().SeqNo)
	ack.SetBody(nil)
	return ack
}

// reAckOn answers every retransmission of the 2xx that ack acknowledges
// with ack again, for as long as tx lives: 64*T1 after the 2xx (RFC 6026
// §8.4), well after a short call has ended. The callback holds the ACK
// and the UA, not the call: holding the call kept its media session (the
// jitter buffer's frames, the codecs, about 40 kB) on the heap for 32 s
// after the hangup, so a phone that places calls in a row held the
// sessions of the calls that ended in the last 32 s as well (heap
// profiles of phoned after a hangup; docs/performance.md).
func (c *Call) reAckOn(tx siplib.ClientTransaction, ack *siplib.Request) {
	ua, log := c.ua, c.log
	seq := ack.CSeq().SeqNo
	tx.OnRetransmission(func(r *siplib.Response) {
		if r.CSeq() == nil || r.CSeq().SeqNo != seq {
			return
		}
		if err := ua.write(ack); err != nil {
			log.Debug("resend ACK", "err", err)
		}
	})
}

// resendAck answers a retransmitted 2xx with the same ACK.
func (c *Call) resendAck(res *siplib.Response) {
	c.mu.Lock()
	ack := c.lastAck
	if ack == nil || res.CSeq() == nil || ack.CSeq().SeqNo != res.CSeq().SeqNo {
		// A 2xx to a re-INVITE we no longer remember.
		if ack == nil || res.CSeq() == nil {
			c.mu.Unlock()
			return
		}
		ack = c.newAckLocked(res)
	}
	c.mu.Unlock()
	if err := c.ua.write(ack); err != nil {
		c.log.Debug("resend ACK", "err", err)
	}
}

// cancel ends an unanswered outgoing call: CANCEL once a provisional
// arrived (RFC 3261 §9.1), otherwise as soon as one does.
func (c *Call) cancel(code int, reason string) {
	c.mu.Lock()
	if c.state == StateEnded || c.cancelWanted {
		c.mu.Unlock()
		return
	}
	if c.state == StateTalking || c.state == StateHeld {
		// Answered since the caller looked (Hangup reads the state
		// before calling here): a CANCEL would be ignored, so BYE.
		c.mu.Unlock()
		c.bye(context.Background(), reason, false)
		return
	}
	c.cancelWanted = true
	send := c.provisional
	c.mu.Unlock()
	c.log.Info("cancelling", "reason", reason)
	if send {
		c.sendCancel()
	}
}

// sendCancel sends CANCEL for the current INVITE: same Request-URI, Call-ID,
// From, To, Route and top Via (branch) as the INVITE, CSeq method CANCEL.
func (c *Call) sendCancel() {
	c.mu.Lock()
	if c.cancelSent || c.invite == nil {
		c.mu.Unlock()
		return
	}
	c.cancelSent = true
	inv := c.invite
	req := siplib.NewRequest(siplib.CANCEL, *inv.Recipient.Clone())
	req.AppendHeader(inv.Via().Clone())
	mf := siplib.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for _, name := range []string{"From", "To", "Call-ID"} {
		if h := inv.GetHeader(name); h != nil {
			req.AppendHeader(siplib.HeaderClone(h))
		}
	}
	req.AppendHeader(&siplib.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: siplib.CANCEL})
	for _, h := range inv.GetHeaders("Route") {
		req.AppendHeader(siplib.HeaderClone(h))
	}
	if d := inv.Destination(); d != "" {
		req.SetDestination(d)
	}
	req.SetBody(nil)
	c.mu.Unlock()
	c.ua.goFn(func() {
		ctx, cancel := context.WithTimeout(c.ua.ctx, 32*time.Second)
		defer cancel()
		res, err := c.ua.do(ctx, req)
		if err != nil {
			c.log.Debug("CANCEL", "err", err)
			return
		}
		if res.StatusCode == 481 {
			// The INVITE is already gone (a final response is on its way).
			c.log.Debug("CANCEL got 481")
		}
	})
	// RFC 3261 §9.1: if no final response arrives within 64*T1 after the
	// CANCEL, consider the INVITE transaction cancelled.
	c.ua.goFn(func() {
		t := time.NewTimer(64 * siplib.T1)
		defer t.Stop()
		select {
		case <-t.C:
			c.finish(487, "cancelled (no final response)", true)
		case <-c.done:
		case <-c.ua.ctx.Done():
		}
	})
}

// onSetupTimeout fires when no final response arrived in SetupTimeout.
func (c *Call) onSetupTimeout() {
	c.mu.Lock()
	st := c.state
	prov := c.provisional
	tx := c.inviteTx
	c.mu.Unlock()
	if st == StateEnded || st == StateTalking || st == StateHeld {
		return
	}
	c.log.Info("setup timeout")
	if prov {
		c.cancel(408, "setup timeout")
		return
	}
	if tx != nil {
		tx.Terminate()
	}
	c.finish(408, "setup timeout", true)
}

// maxRedirects is how many 3xx a call follows: one hop, so that two
// phones forwarding to each other cannot loop.
const maxRedirects = 1

// followRedirect answers a 3xx (RFC 3261 §8.1.3.4) by sending the INVITE
// again to the first sip, sips or tel Contact that differs from where the
// last one went: same Call-ID, From and To, a higher CSeq, a new branch.
// The early dialog state of the first attempt is dropped. It follows at
// most maxRedirects hops, none once the caller hung up.
func (c *Call) followRedirect(old *siplib.Request, res *siplib.Response) (siplib.ClientTransaction, *siplib.Request, bool) {
	var next siplib.Uri
	found := false
	for _, h := range res.GetHeaders("Contact") {
		nas, err := parseNameAddrs(h.Value())
		if err != nil {
			continue
		}
		for _, na := range nas {
			u, _, err := dialable(na.URI)
			if err != nil {
				continue
			}
			if strings.EqualFold(u.Scheme, "tel") {
				if u, err = parseTarget(telNumber(na.URI), c.ua.cfg.Account.Domain); err != nil {
					continue
				}
			}
			if u.String() == old.Recipient.String() {
				continue
			}
			next, found = u, true
			break
		}
		if found {
			break
		}
	}
	if !found {
		return nil, nil, false
	}
	c.mu.Lock()
	if c.cancelWanted || c.state == StateEnded || c.confirmed || c.redirects >= maxRedirects {
		c.mu.Unlock()
		return nil, nil, false
	}
	c.redirects++
	c.d.remoteTag, c.d.routes, c.d.target = "", nil, next
	c.provisional, c.haveRSeq, c.lastRSeq = false, false, 0
	c.d.localSeq++
	req := c.newInviteLocked(next, c.localSDP)
	for _, name := range []string{"Referred-By", "Replaces", "Require"} {
		for _, h := range old.GetHeaders(name) {
			req.AppendHeader(siplib.HeaderClone(h))
		}
	}
	c.invite = req
	c.state = StateCalling
	ev := c.eventLocked(res.StatusCode, res.Reason, false)
	c.mu.Unlock()
	c.log.Info("redirected", "code", res.StatusCode, "to", next.String())
	tx, err := c.ua.request(c.ua.ctx, req)
	if err != nil {
		c.finish(503, err.Error(), true)
		return nil, nil, false
	}
	c.mu.Lock()
	c.inviteTx = tx
	c.mu.Unlock()
	c.ua.emit(ev)
	return tx, req, true
}
