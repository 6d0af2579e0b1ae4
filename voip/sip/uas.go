package sip

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sdp"
	siplib "github.com/emiago/sipgo/sip"
)

// relProv is a reliable provisional response (RFC 3262 §3) waiting for
// its PRACK.
type relProv struct {
	res      *siplib.Response
	rseq     uint32
	hasSDP   bool
	timer    *time.Timer
	interval time.Duration
	sent     time.Time
}

// onInvite handles an INVITE: a new call, or a re-INVITE in a dialog.
func (u *UA) onInvite(req *siplib.Request, tx *siplib.ServerTx) {
	if tagOf(req.To().Params) != "" {
		u.inDialog(req, tx, (*Call).onReinvite)
		return
	}
	// Same Call-ID, new transaction, no To tag: a merged or looped
	// request (RFC 3261 §8.2.2.2), e.g. a proxy forking one INVITE to two
	// bindings that both reach us. The claim covers the time until the
	// call is added (the media Map may wait), so two copies arriving
	// together cannot both become calls.
	if !u.claimCallID(req.CallID().Value()) {
		u.respond(tx, req, 482, "Loop Detected")
		return
	}
	defer u.unclaimCallID(req.CallID().Value())
	if u.atCallCap() {
		// Decided before any media port is mapped, so a burst of
		// INVITEs costs no ports.
		u.adm.busy.Add(1)
		u.respond(tx, req, 486, "Busy Here")
		return
	}
	if bad := u.unsupportedRequire(req); len(bad) > 0 {
		res := u.newResponse(req, 420, "Bad Extension")
		res.AppendHeader(siplib.NewHeader("Unsupported", strings.Join(bad, ", ")))
		u.send(tx, res)
		return
	}
	var offer *sdp.Session
	if len(req.Body()) > 0 {
		if !isSDP(req) {
			res := u.newResponse(req, 415, "Unsupported Media Type")
			res.AppendHeader(siplib.NewHeader("Accept", "application/sdp"))
			u.send(tx, res)
			return
		}
		o, err := sdp.Parse(req.Body())
		if err != nil {
			u.respond(tx, req, 400, "Bad Request (SDP)")
			return
		}
		offer = o
	}
	c := newCall(u, Incoming, req.CallID().Value())
	c.state = StateIncoming
	from := req.From()
	c.remote = from.Address.String()
	if from.DisplayName != "" {
		c.remote = fmt.Sprintf("%q <%s>", from.DisplayName, from.Address.String())
	}
	d := &c.d
	d.localTag = newTag()
	d.remoteTag = tagOf(from.Params)
	d.local = *req.To().Address.Clone()
	d.remote = *from.Address.Clone()
	d.remoteName = from.DisplayName
	d.localName = u.cfg.Account.DisplayName
	d.remoteSeq, d.haveRemoteSeq = req.CSeq().SeqNo, true
	d.localSeq = rand.Uint32N(1 << 30)
	if t, ok := contactOf(req); ok {
		d.target = t
	} else {
		u.respond(tx, req, 400, "Bad Request (no Contact)")
		return
	}
	d.routes = routeSetFrom(req)
	c.inviteReq, c.serverTx = req, tx
	c.relOK = u.cfg.Prack && (hasToken(req, "Supported", "100rel") || hasToken(req, "Require", "100rel"))
	c.rseq = 1 + rand.Uint32N(1<<31-2)

	// Media socket and a first check of the offer: no common codec is a
	// 488 at once (RFC 3261 §13.3.1.1), before the phone rings.
	var remote netip.AddrPort
	if offer != nil && len(offer.Media) > 0 {
		remote = netipFromSDP(offer)
	}
	mp, err := u.cfg.Mapper.Map(u.ctx, portmgr.KindMedia, portmgr.UDP, remote)
	if err != nil {
		u.log.Warn("map media socket", "err", err)
		u.respond(tx, req, 503, "Service Unavailable")
		return
	}
	c.mapping = mp
	if offer != nil {
		c.mu.Lock()
		_, _, err := sdp.Answer(offer, c.localLocked(sdp.SendRecv))
		c.mu.Unlock()
		if err != nil {
			u.cfg.Mapper.Release(mp)
			res := u.newResponse(req, 488, "Not Acceptable Here")
			res.AppendHeader(siplib.NewHeader("Warning", `304 deskphone "Media type not available"`))
			u.send(tx, res)
			return
		}
		c.remoteOffer = offer
	}
	if !u.addCall(c) {
		u.cfg.Mapper.Release(mp)
		u.respond(tx, req, 503, "Service Unavailable")
		return
	}
	tx.OnCancel(func(*siplib.Request) {
		// The transaction layer answered 200 to the CANCEL and 487 to the
		// INVITE (RFC 3261 §9.2); end the call off this callback.
		u.goFn(func() { c.finish(487, "cancelled by caller", true) })
	})
	c.log.Info("incoming call", "from", c.remote)
	u.emit(&IncomingCallEvent{Call: c})
	c.provisionalResponse(180, "Ringing", false)
	u.goFn(func() { c.ringTimeout(u.cfg.RingTimeout) })
}

// netipFromSDP is the RTP address of the first media of an offer.
func netipFromSDP(s *sdp.Session) (ap netip.AddrPort) {
	m := s.Media[0]
	ip := m.Conn
	if !ip.IsValid() {
		ip = s.Conn
	}
	if !ip.IsValid() || m.Port <= 0 || m.Port > 65535 {
		return ap
	}
	return netip.AddrPortFrom(ip, uint16(m.Port))
}

// provisionalResponse sends 180/183, reliably when the caller supports
// 100rel (RFC 3262 §3), with our SDP answer when withSDP.
func (c *Call) provisionalResponse(code int, reason string, withAnswer bool) error {
	c.mu.Lock()
	if c.state == StateEnded || c.okRes != nil || c.serverTx == nil {
		c.mu.Unlock()
		return ErrCallState
	}
	res := c.newResponse(c.inviteReq, code, reason)
	var neg *sdp.Negotiated
	if withAnswer {
		if c.remoteOffer == nil {
			c.mu.Unlock()
			return fmt.Errorf("%w: no offer to answer early", ErrCallState)
		}
		ans, n, err := sdp.Answer(c.remoteOffer, c.localLocked(c.wantDirLocked()))
		if err != nil {
			c.mu.Unlock()
			return err
		}
		c.localSDP, c.remoteOffer = ans, nil
		withSDP(res, ans)
		neg = &n
	}
	tx := c.serverTx
	if !c.relOK {
		c.mu.Unlock()
		if neg != nil {
			if err := c.applyNeg(*neg); err != nil {
				return err
			}
		}
		return tx.Respond(res)
	}
	rp := &relProv{res: res, rseq: c.rseq, hasSDP: withAnswer, interval: siplib.T1}
	c.rseq++
	res.AppendHeader(siplib.NewHeader("Require", "100rel"))
	res.AppendHeader(siplib.NewHeader("RSeq", strconv.FormatUint(uint64(rp.rseq), 10)))
	c.relQueue = append(c.relQueue, rp)
	first := len(c.relQueue) == 1
	c.mu.Unlock()
	if neg != nil {
		if err := c.applyNeg(*neg); err != nil {
			return err
		}
	}
	if first {
		c.transmitReliable(rp)
	}
	return nil
}

// transmitReliable sends a reliable provisional and schedules its
// retransmission: T1, doubling, until PRACK; after 64*T1 the INVITE is
// rejected with 5xx (RFC 3262 §3).
func (c *Call) transmitReliable(rp *relProv) {
	c.mu.Lock()
	if c.state == StateEnded || len(c.relQueue) == 0 || c.relQueue[0] != rp {
		c.mu.Unlock()
		return
	}
	if rp.sent.IsZero() {
		rp.sent = time.Now()
	} else if time.Since(rp.sent) >= 64*siplib.T1 {
		c.mu.Unlock()
		c.log.Warn("reliable provisional never PRACKed")
		c.rejectWith(504, "Server Time-out (no PRACK)")
		return
	}
	tx := c.serverTx
	res := rp.res
	rp.timer = time.AfterFunc(rp.interval, func() { c.transmitReliable(rp) })
	rp.interval *= 2
	c.mu.Unlock()
	if err := tx.Respond(res); err != nil {
		c.log.Debug("send reliable provisional", "err", err)
	}
}

// onPrack matches a PRACK to the outstanding reliable provisional by RAck
// (RFC 3262 §3), answers 200, and releases what waited for it.
func (c *Call) onPrack(req *siplib.Request, tx *siplib.ServerTx) {
	rack := req.GetHeader("RAck")
	var rseq, cseq uint64
	var method string
	ok := false
	if rack != nil {
		f := strings.Fields(rack.Value())
		if len(f) == 3 {
			var e1, e2 error
			rseq, e1 = strconv.ParseUint(f[0], 10, 32)
			cseq, e2 = strconv.ParseUint(f[1], 10, 32)
			method = strings.ToUpper(f[2])
			ok = e1 == nil && e2 == nil
		}
	}
	c.mu.Lock()
	var rp *relProv
	if ok && len(c.relQueue) > 0 && c.inviteReq != nil {
		head := c.relQueue[0]
		if uint32(rseq) == head.rseq && uint32(cseq) == c.inviteReq.CSeq().SeqNo && method == "INVITE" {
			rp = head
		}
	}
	if rp == nil {
		c.mu.Unlock()
		c.ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if rp.timer != nil {
		rp.timer.Stop()
	}
	c.relQueue = c.relQueue[1:]
	var next *relProv
	if len(c.relQueue) > 0 {
		next = c.relQueue[0]
	}
	var ok2xx *siplib.Response
	if next == nil && c.pending2xx != nil {
		ok2xx, c.pending2xx = c.pending2xx, nil
	}
	c.mu.Unlock()
	c.ua.send(tx, c.newResponse(req, 200, "OK"))
	if next != nil {
		c.transmitReliable(next)
	}
	if ok2xx != nil {
		c.sendOK(ok2xx)
	}
}

// Progress sends 183 Session Progress with our SDP answer, so the caller
// hears this end's audio before the answer (early media, RFC 3960).
func (c *Call) Progress() error {
	if c.dir != Incoming {
		return ErrCallState
	}
	if err := c.provisionalResponse(183, "Session Progress", true); err != nil {
		return err
	}
	c.mu.Lock()
	if c.state == StateIncoming {
		c.state = StateEarly
	}
	ev := c.eventLocked(183, "Session Progress", true)
	c.mu.Unlock()
	c.ua.emit(ev)
	return nil
}

// Answer accepts an incoming call: 200 OK with our SDP answer (or offer,
// when the INVITE had none), media started. If a reliable provisional
// carrying SDP is not PRACKed yet, the 200 waits for it (RFC 3262 §3).
func (c *Call) Answer() error {
	if c.dir != Incoming {
		return ErrCallState
	}
	c.mu.Lock()
	if (c.state != StateIncoming && c.state != StateEarly) || c.okRes != nil {
		c.mu.Unlock()
		return ErrCallState
	}
	res := c.newResponse(c.inviteReq, 200, "OK")
	var neg *sdp.Negotiated
	switch {
	case c.remoteOffer != nil:
		ans, n, err := sdp.Answer(c.remoteOffer, c.localLocked(c.wantDirLocked()))
		if err != nil {
			c.mu.Unlock()
			c.rejectWith(488, "Not Acceptable Here")
			return err
		}
		c.localSDP, c.remoteOffer = ans, nil
		neg = &n
		withSDP(res, ans)
	case c.localSDP != nil:
		// The answer went out in a reliable 183; repeat it.
		withSDP(res, c.localSDP)
	default:
		// Late offer: we offer in the 200, the answer comes in the ACK.
		c.localSDP = sdp.Offer(c.localLocked(sdp.SendRecv))
		withSDP(res, c.localSDP)
	}
	// okRes set keeps Reject and a second Answer out; the state becomes
	// talking only once the media is in effect, so SendDTMF (which picks
	// RFC 4733 or INFO from it) never sees talking without it.
	c.okRes = res
	c.answered = time.Now()
	wait := false
	for _, rp := range c.relQueue {
		if rp.hasSDP {
			wait = true
		}
	}
	if wait {
		c.pending2xx = res
	} else {
		// Unacknowledged provisionals without SDP stop retransmitting.
		for _, rp := range c.relQueue {
			if rp.timer != nil {
				rp.timer.Stop()
			}
		}
	}
	c.mu.Unlock()
	if neg != nil {
		if err := c.applyNeg(*neg); err != nil {
			c.log.Warn("media", "err", err)
		}
	}
	c.mu.Lock()
	if c.state == StateEnded {
		// Cancelled meanwhile: the INVITE transaction answered 487.
		c.mu.Unlock()
		return ErrCallState
	}
	c.state = StateTalking
	ev := c.eventLocked(200, "OK", false)
	c.mu.Unlock()
	if !wait {
		c.sendOK(res)
	}
	c.log.Info("answered", "codec", c.Codec())
	c.ua.emit(ev)
	return nil
}

// sendOK sends a 2xx to an INVITE and retransmits it (T1 doubling, capped
// at T2) until the ACK arrives; without an ACK after 64*T1 the call is
// ended with BYE (RFC 3261 §13.3.1.4).
func (c *Call) sendOK(res *siplib.Response) {
	c.mu.Lock()
	tx := c.serverTx
	c.okRes, c.okAcked = res, false
	c.okStarted = time.Now()
	c.okInterval = siplib.T1
	if c.okTimer != nil {
		c.okTimer.Stop()
	}
	c.okTimer = time.AfterFunc(c.okInterval, c.retransmitOK)
	c.mu.Unlock()
	if err := tx.Respond(res); err != nil {
		c.log.Debug("send 2xx", "err", err)
	}
}

func (c *Call) retransmitOK() {
	c.mu.Lock()
	if c.okAcked || c.state == StateEnded || c.okRes == nil {
		c.mu.Unlock()
		return
	}
	if time.Since(c.okStarted) >= 64*siplib.T1 {
		c.mu.Unlock()
		c.log.Warn("no ACK for 2xx")
		c.bye(c.ua.ctx, "no ACK", false)
		return
	}
	c.okInterval = min(c.okInterval*2, siplib.T2)
	c.okTimer = time.AfterFunc(c.okInterval, c.retransmitOK)
	tx, res := c.serverTx, c.okRes
	c.mu.Unlock()
	if err := tx.Respond(res); err != nil {
		c.log.Debug("retransmit 2xx", "err", err)
	}
}

// onAck stops 2xx retransmission and, for a late offer or re-INVITE
// without SDP, takes the answer from the ACK.
func (c *Call) onAck(req *siplib.Request) {
	c.mu.Lock()
	if c.okRes == nil || c.okAcked || req.CSeq() == nil || req.CSeq().SeqNo != c.okRes.CSeq().SeqNo {
		c.mu.Unlock()
		return
	}
	c.okAcked = true
	c.confirmed = true
	c.reinviteIn = false
	if c.okTimer != nil {
		c.okTimer.Stop()
	}
	var answer *sdp.Session
	if isSDP(req) {
		answer, _ = sdp.Parse(req.Body())
	}
	offer := c.localSDP
	needAnswer := !c.haveNeg || c.lateOffer
	c.lateOffer = false
	c.mu.Unlock()
	if answer != nil && needAnswer {
		if neg, err := sdp.Accept(offer, answer); err == nil {
			if err := c.applyNeg(neg); err != nil {
				c.log.Warn("media", "err", err)
			}
			c.emitState(0, "")
		}
	}
}

// Reject declines an incoming call with code (486 Busy Here by default,
// 603 Decline, ...).
func (c *Call) Reject(code int) error {
	if c.dir != Incoming {
		return ErrCallState
	}
	if code < 300 || code > 699 {
		code = 486
	}
	reason := map[int]string{486: "Busy Here", 603: "Decline", 480: "Temporarily Unavailable", 404: "Not Found", 488: "Not Acceptable Here"}[code]
	if reason == "" {
		reason = "Rejected"
	}
	c.mu.Lock()
	ok := (c.state == StateIncoming || c.state == StateEarly) && c.okRes == nil
	c.mu.Unlock()
	if !ok {
		return ErrCallState
	}
	c.rejectWith(code, reason)
	return nil
}

func (c *Call) rejectWith(code int, reason string) {
	c.mu.Lock()
	tx, req := c.serverTx, c.inviteReq
	c.mu.Unlock()
	if tx != nil {
		c.ua.send(tx, c.newResponse(req, code, reason))
	}
	c.finish(code, reason, true)
}

// emitState emits a CallEvent with the current state.
func (c *Call) emitState(code int, reason string) {
	c.mu.Lock()
	ev := c.eventLocked(code, reason, false)
	c.mu.Unlock()
	c.ua.emit(ev)
}

// ---- re-INVITE (RFC 3261 §14) -------------------------------------------

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
		ans, n, err := sdp.Answer(offer, c.localLocked(c.wantDirLocked()))
		if err != nil {
			c.mu.Unlock()
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
		tx.OnRetransmission(func(r *siplib.Response) { c.resendAck(r) })
		if isSDP(res) {
			if ans, err := sdp.Parse(res.Body()); err == nil {
				if neg, err := sdp.Accept(offer, ans); err == nil {
					if err := c.applyNeg(neg); err != nil {
						c.log.Warn("media", "err", err)
					}
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
