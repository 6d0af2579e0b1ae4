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

// uasState is the server side of INVITE transactions: the initial
// INVITE of an incoming call (reliable provisionals, RFC 3262) and every
// re-INVITE the far end sends on either kind of call (2xx retransmitted
// until ACKed, RFC 3261 §13.3.1.4). Guarded by Call.mu.
type uasState struct {
	inviteReq  *siplib.Request
	serverTx   siplib.ServerTransaction
	relOK      bool // the caller supports 100rel and we enabled it
	rseq       uint32
	relQueue   []*relProv
	pending2xx *siplib.Response
	okRes      *siplib.Response
	okTimer    *time.Timer
	okAcked    bool
	okStarted  time.Time
	okInterval time.Duration
}

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
	// RFC 3891 §3: INVITE with Replaces. Checked before the call cap,
	// since the call it replaces is about to go.
	var replaced *Call
	if hs := req.GetHeaders("Replaces"); len(hs) > 0 {
		if len(hs) > 1 {
			u.respond(tx, req, 400, "Bad Request (two Replaces)")
			return
		}
		r, err := parseReplaces(hs[0].Value())
		if err != nil {
			u.respond(tx, req, 400, "Bad Request (Replaces)")
			return
		}
		old, code, reason := u.matchReplaces(r)
		if code != 0 {
			u.log.Info("INVITE with Replaces refused", "code", code, "replaces", r.callID)
			u.respond(tx, req, code, reason)
			return
		}
		replaced = old
	}
	if replaced == nil && u.atCallCap() {
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
	c.replaced = replaced
	c.peerAddr = sourceAddr(req)
	if id, ok := identityOf(req, "From"); ok {
		c.identity = id
	}
	from := req.From()
	c.remote = from.Address.String()
	if na, err := parseNameAddr(from.Value()); err == nil && na.Name != "" {
		// sipgo keeps the quoted-pairs of a display name: undo them
		// before quoting it for display.
		c.remote = quote(na.Name) + " <" + from.Address.String() + ">"
	}
	d := &c.d
	d.localTag = newTag()
	d.remoteTag = tagOf(from.Params)
	d.local = *req.To().Address.Clone()
	d.remote = *from.Address.Clone()
	d.remoteName = from.DisplayName
	d.localName = wireName(u.cfg.Account.DisplayName)
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
	if !remote.IsValid() {
		remote = u.mediaHint() // an INVITE without offer
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
			warn := `304 deskphone "Media type not available"`
			if errors.Is(err, sdp.ErrInsecure) {
				// RFC 3261 §20.43: the offer's RTP profile (plain, or
				// SRTP we cannot key) is not one our policy accepts.
				warn = `302 deskphone "Incompatible transport protocol (SRTP policy)"`
				u.log.Info("offer refused by the SRTP policy", "err", err)
			}
			res.AppendHeader(siplib.NewHeader("Warning", warn))
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
	if replaced != nil {
		c.log.Info("incoming call replaces another", "replaces", replaced.id)
	}
	c.log.Info("incoming call", "from", c.remote)
	u.emit(&IncomingCallEvent{Call: c})
	c.provisionalResponse(180, "Ringing", false)
	u.goFn(func() { c.ringTimeout(u.cfg.RingTimeout) })
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

// Redirect answers an unanswered incoming call 302 Moved Temporarily with
// target (a number, user or SIP URI, resolved like Dial's) as Contact (RFC
// 3261 §21.3.3) and ends it (EndCode 302). ErrCallState for an outgoing
// or answered call.
func (c *Call) Redirect(target string) error {
	if c.dir != Incoming {
		return ErrCallState
	}
	uri, err := parseTarget(target, c.ua.cfg.Account.Domain)
	if err != nil {
		return err
	}
	uri.Headers = nil
	c.mu.Lock()
	ok := (c.state == StateIncoming || c.state == StateEarly) && c.okRes == nil
	tx, req := c.serverTx, c.inviteReq
	c.mu.Unlock()
	if !ok || tx == nil {
		return ErrCallState
	}
	res := c.newResponse(req, 302, "Moved Temporarily")
	res.AppendHeader(&siplib.ContactHeader{Address: uri, Params: siplib.NewParams()})
	c.ua.send(tx, res)
	c.log.Info("redirected", "to", uri.String())
	c.finish(302, "Moved Temporarily", true)
	return nil
}

// Replaces is, for an incoming call whose INVITE carried Replaces
// naming one of our dialogs (RFC 3891), that call; nil otherwise. The
// phone answers such a call at once and hangs the replaced one up.
func (c *Call) Replaces() *Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.replaced
}

// matchReplaces finds the call a Replaces names (RFC 3891 §3): to-tag is
// our local tag and from-tag the remote one. A confirmed dialog matches
// (486 if early-only); an early one only if we placed it (481 otherwise);
// a dialog that has ended gets 603; no dialog 481.
func (u *UA) matchReplaces(r replaces) (*Call, int, string) {
	if c := u.callByID(r.callID); c != nil {
		c.mu.Lock()
		match := c.d.localTag == r.toTag && c.d.remoteTag == r.fromTag
		st, up, dir := c.state, c.dialogUpLocked(), c.dir
		c.mu.Unlock()
		if match {
			switch {
			case st == StateEnded:
				return nil, 603, "Declined"
			case up:
				if r.earlyOnly {
					return nil, 486, "Busy Here"
				}
				return c, 0, ""
			case dir == Outgoing && (st == StateCalling || st == StateRinging || st == StateEarly):
				return c, 0, ""
			}
			return nil, 481, "Call/Transaction Does Not Exist"
		}
	}
	if u.endedRecently(r.callID, r.toTag, r.fromTag) {
		return nil, 603, "Declined"
	}
	return nil, 481, "Call/Transaction Does Not Exist"
}
