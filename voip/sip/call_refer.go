package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// Transfer (RFC 3515, RFC 5589): REFER and its implicit subscription,
// as transferor (Transfer, TransferReplacing, onNotify) and as transferee
// (onRefer, the referred call and the NOTIFYs that report its progress).
// The transfer target's side, INVITE with Replaces, is in call_uas.go.

const (
	// referFirstNotify is how long the transferor waits for the first
	// NOTIFY after its REFER was accepted (RFC 6665 §4.1.2.4: 64*T1).
	referFirstNotify = 32 * time.Second
	// referExpires is the subscription duration the transferee announces
	// in its NOTIFYs; the transferor waits that long for the next one.
	referExpires = 120 * time.Second
	// maxReferWait caps the wait a NOTIFY's expires asks for.
	maxReferWait = time.Hour
)

// TransferEvent reports the progress of a transfer we asked for with
// Transfer or TransferReplacing.
type TransferEvent struct {
	Call *Call
	// Code and Reason are the status line of the sipfrag (100, 180, 200,
	// 486, ...). When the REFER itself failed they are its final status
	// (403, 405, 481, ...; 408 when it timed out and 503 when it could not
	// be sent, as RFC 3261 §8.1.3.1 counts them), or 408 when the
	// subscription ended without a final NOTIFY.
	Code   int
	Reason string
	// Final is set on the last report (subscription terminated, REFER
	// refused or timed out).
	Final bool
}

// ReferredCallEvent reports that the far end of Referrer asked us to call
// a third party (an in-dialog REFER from that dialog's peer, answered 202):
// the UA has already placed Call (with Referred-By, and Replaces when the
// Refer-To carried one) and reports its progress to the referrer by NOTIFY.
// It comes before Call's first CallEvent.
type ReferredCallEvent struct {
	Call     *Call
	Referrer *Call
	// Target is the Refer-To URI, without its headers.
	Target string
}

func (*TransferEvent) event()     {}
func (*ReferredCallEvent) event() {}

// referState is a call's part in transfers. Guarded by Call.mu.
type referState struct {
	// referOut is our REFER on this call and its subscription (we are the
	// transferor), nil when none is open.
	referOut *referOut
	// referIn is the REFER the far end sent on this call that we act on
	// (we are the transferee), nil when none is open.
	referIn *referIn
	// replaced is the call an INVITE with Replaces named (we are the
	// transfer target).
	replaced *Call
	// redirects counts the 3xx this outgoing call followed.
	redirects int
}

// referOut is the transferor's view of one REFER.
type referOut struct {
	cseq     uint32
	accepted bool // a 2xx arrived
	final    bool // the final TransferEvent went out
	timer    *time.Timer
}

// Transfer sends REFER (RFC 3515) to the far end of an answered call: a
// blind transfer to target (a number, user or URI, resolved like Dial's).
// Progress arrives as TransferEvents (from the NOTIFY message/sipfrag
// bodies, RFC 5589 §6); when the final one is 2xx the UA ends the call
// with BYE itself (EndReason "transferred"). Otherwise the call stays as
// it was (held if it was). ErrPending while another REFER is open.
func (c *Call) Transfer(target string) error {
	uri, err := parseTarget(target, c.ua.cfg.Account.Domain)
	if err != nil {
		return err
	}
	uri.Headers = nil
	return c.refer("<" + uri.String() + ">")
}

// TransferReplacing sends REFER whose Refer-To names other's far end (its
// remote target, the Contact it gave) with a Replaces for other's dialog
// (RFC 3891, RFC 5589 §7): attended transfer. The Replaces tags are those
// the target sees: to-tag its own (our remote tag), from-tag ours. other
// must be answered, or an unanswered call we placed (early-only is then
// not set: RFC 5589 §7.3 lets the target decide).
func (c *Call) TransferReplacing(other *Call) error {
	if other == nil || other == c {
		return fmt.Errorf("%w: no other call to replace", ErrCallState)
	}
	other.mu.Lock()
	st := other.state
	ok := other.d.remoteTag != "" && (other.dialogUpLocked() ||
		other.dir == Outgoing && (st == StateRinging || st == StateEarly))
	r := replaces{callID: other.d.callID, toTag: other.d.remoteTag, fromTag: other.d.localTag}
	target := *other.d.target.Clone()
	other.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: the other call has no dialog to replace", ErrCallState)
	}
	target.Headers = nil
	return c.refer("<" + target.String() + "?Replaces=" + escapeHeaderValue(r.String()) + ">")
}

// refer sends a REFER with the given Refer-To value and follows it.
func (c *Call) refer(referTo string) error {
	c.mu.Lock()
	if !c.dialogUpLocked() {
		c.mu.Unlock()
		return ErrCallState
	}
	if c.referOut != nil {
		c.mu.Unlock()
		return ErrPending
	}
	req := c.newRequestLocked(siplib.REFER, 0)
	req.AppendHeader(siplib.NewHeader("Refer-To", referTo))
	req.AppendHeader(siplib.NewHeader("Referred-By", c.referredByLocked()))
	req.AppendHeader(c.ua.contactHeader())
	req.SetBody(nil)
	ro := &referOut{cseq: req.CSeq().SeqNo}
	c.referOut = ro
	c.mu.Unlock()
	c.log.Info("transfer: REFER", "refer_to", referTo)
	if !c.ua.goFn(func() { c.runRefer(req, ro) }) {
		c.mu.Lock()
		c.referOut = nil
		c.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// dialogUpLocked reports whether the call is answered and its dialog
// confirmed: ACKed, or for an incoming call our 2xx sent (RFC 3261
// §12.1.1: the UAS's dialog is confirmed then; only BYE must wait for
// the ACK, §15), so a transfer can start at once.
func (c *Call) dialogUpLocked() bool {
	up := c.confirmed || c.dir == Incoming && c.okRes != nil
	return up && (c.state == StateTalking || c.state == StateHeld)
}

// referredByLocked is our Referred-By (RFC 3892): our address of record.
func (c *Call) referredByLocked() string {
	if c.d.localName != "" {
		return `"` + c.d.localName + `" <` + c.d.local.String() + ">"
	}
	return "<" + c.d.local.String() + ">"
}

// runRefer waits for the REFER's final response. A refusal or timeout is
// the transfer's final report; after a 2xx the NOTIFYs report.
func (c *Call) runRefer(req *siplib.Request, ro *referOut) {
	ctx, cancel := context.WithCancel(c.ua.ctx)
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	res, err := c.doInDialog(ctx, req)
	code, reason := 0, ""
	switch {
	case err != nil && c.isEnded():
		c.referDone(ro, 487, "call ended", true)
		return
	case errors.Is(err, ErrTimeout):
		code, reason = 408, "Request Timeout"
	case err != nil:
		code, reason = 503, "Service Unavailable ("+err.Error()+")"
	case res.IsSuccess():
		c.mu.Lock()
		if c.referOut == ro && !ro.final {
			ro.accepted = true
			if ro.timer == nil {
				ro.timer = time.AfterFunc(referFirstNotify, func() { c.referExpired(ro) })
			}
		}
		c.mu.Unlock()
		c.log.Info("transfer: REFER accepted", "code", res.StatusCode)
		return
	default:
		code, reason = res.StatusCode, res.Reason
	}
	c.log.Info("transfer: REFER failed", "code", code, "reason", reason)
	c.referDone(ro, code, reason, true)
}

// referExpired ends a subscription whose next NOTIFY never came.
func (c *Call) referExpired(ro *referOut) {
	c.log.Info("transfer: no final NOTIFY")
	c.referDone(ro, 408, "no final NOTIFY", true)
}

// referDone emits (with emit) the final TransferEvent of ro once and
// closes it.
func (c *Call) referDone(ro *referOut, code int, reason string, emit bool) {
	c.mu.Lock()
	if ro.final {
		c.mu.Unlock()
		return
	}
	ro.final = true
	if ro.timer != nil {
		ro.timer.Stop()
	}
	if c.referOut == ro {
		c.referOut = nil
	}
	c.mu.Unlock()
	if emit {
		c.ua.emit(&TransferEvent{Call: c, Code: code, Reason: reason, Final: true})
	}
}

func (c *Call) isEnded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == StateEnded
}

// onNotify takes a NOTIFY of our REFER's implicit subscription (RFC 3515
// §2.4.4, RFC 6665 §4.1.3): Event refer (with the REFER's CSeq as id, if
// any), a Subscription-State, and a message/sipfrag body whose status line
// becomes a TransferEvent. A NOTIFY with no REFER of ours open is 481; a
// malformed one is 400 (489 for another event package); neither changes
// anything.
func (c *Call) onNotify(req *siplib.Request, tx *siplib.ServerTx) {
	evs := headers(req, "Event", "o")
	if len(evs) != 1 {
		c.ua.respond(tx, req, 400, "Bad Request (one Event required)")
		return
	}
	pkg, params, _ := strings.Cut(evs[0].Value(), ";")
	if !strings.EqualFold(strings.TrimSpace(pkg), "refer") {
		c.ua.respond(tx, req, 489, "Bad Event")
		return
	}
	id := ""
	for _, p := range strings.Split(params, ";") {
		if k, v, _ := strings.Cut(strings.TrimSpace(p), "="); strings.EqualFold(k, "id") {
			id = strings.TrimSpace(v)
		}
	}
	c.mu.Lock()
	ro := c.referOut
	c.mu.Unlock()
	if ro == nil || ro.final || (id != "" && id != strconv.FormatUint(uint64(ro.cseq), 10)) {
		c.ua.respond(tx, req, 481, "Subscription Does Not Exist")
		return
	}
	ss := req.GetHeader("Subscription-State")
	if ss == nil {
		c.ua.respond(tx, req, 400, "Bad Request (no Subscription-State)")
		return
	}
	sub, ok := parseSubState(ss.Value())
	state, expires := sub.value, sub.expires
	if !ok {
		c.ua.respond(tx, req, 400, "Bad Request (Subscription-State)")
		return
	}
	if ct := req.ContentType(); ct == nil || !strings.EqualFold(mediaType(ct.Value()), "message/sipfrag") {
		c.ua.respond(tx, req, 415, "Unsupported Media Type")
		return
	}
	frag, err := parseSipfrag(req.Body())
	if err != nil {
		c.ua.respond(tx, req, 400, "Bad Request (sipfrag)")
		return
	}
	final := state == "terminated"
	c.mu.Lock()
	if c.referOut != ro || ro.final {
		c.mu.Unlock()
		c.ua.respond(tx, req, 481, "Subscription Does Not Exist")
		return
	}
	if final {
		ro.final = true
		c.referOut = nil
		if ro.timer != nil {
			ro.timer.Stop()
		}
	} else {
		// The NOTIFY may overtake the 202 (RFC 3515 §2.4.4); either
		// way the subscription is on, and the next NOTIFY is due
		// before it expires.
		ro.accepted = true
		wait := referExpires
		if expires > 0 {
			wait = min(expires, maxReferWait)
		}
		if ro.timer != nil {
			ro.timer.Stop()
		}
		ro.timer = time.AfterFunc(wait, func() { c.referExpired(ro) })
	}
	c.mu.Unlock()
	// The event goes out before the 200: the transferee sends its next
	// NOTIFY only on this answer, and sipgo hands each request to its
	// own goroutine, so emitting after the answer let a 180 overtake
	// the 100 before it (TestBlindTransfer saw [180 100 200] once).
	c.log.Info("transfer: NOTIFY", "code", frag.code, "reason", frag.reason, "final", final)
	c.ua.emit(&TransferEvent{Call: c, Code: frag.code, Reason: frag.reason, Final: final})
	c.ua.send(tx, c.newResponse(req, 200, "OK"))
	if final && frag.code >= 200 && frag.code < 300 {
		// RFC 5589 §6.1: the transfer worked; we leave the call.
		c.bye(c.ua.ctx, "transferred", false)
	}
}

// headers returns a header's values under its full and its compact name
// (RFC 3515 §2.1 "r", RFC 3892 "b", RFC 6665 "o"), which sipgo's parser
// leaves apart.
func headers(m interface {
	GetHeaders(string) []siplib.Header
}, full, compact string) []siplib.Header {
	return append(m.GetHeaders(full), m.GetHeaders(compact)...)
}

// mediaType is a Content-Type value without its parameters.
func mediaType(v string) string {
	t, _, _ := strings.Cut(v, ";")
	return strings.TrimSpace(t)
}

// doInDialog sends an in-dialog request and waits for its final
// response, answering one digest challenge (RFC 3261 §22.2).
func (c *Call) doInDialog(ctx context.Context, req *siplib.Request) (*siplib.Response, error) {
	res, err := c.ua.do(ctx, req)
	if err != nil || (res.StatusCode != 401 && res.StatusCode != 407) {
		return res, err
	}
	c.mu.Lock()
	err = c.auth.update(res, false)
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
	if err != nil {
		return res, nil
	}
	return c.ua.do(ctx, nreq)
}

// ---- transferee -------------------------------------------------------------

// referIn is the transferee's side of one REFER: the subscription it
// created on the referrer's dialog and the progress of the call placed
// for it, to be sent as NOTIFYs in order.
type referIn struct {
	referrer *Call
	cseq     uint32 // the REFER's CSeq: the subscription's id
	wake     chan struct{}

	mu    sync.Mutex // guards following
	queue []sipfrag
	last  bool // the final report is queued
}

// push queues a report; the final one closes the queue.
func (ri *referIn) push(f sipfrag, final bool) {
	ri.mu.Lock()
	if ri.last {
		ri.mu.Unlock()
		return
	}
	ri.queue = append(ri.queue, f)
	ri.last = final
	ri.mu.Unlock()
	select {
	case ri.wake <- struct{}{}:
	default:
	}
}

// progress turns the referred call's CallEvents into reports: 1xx while
// it rings, then its final status (200 on answer; 487 when it ended
// without a SIP status).
func (ri *referIn) progress(ev *CallEvent) {
	switch ev.State {
	case StateRinging, StateEarly:
		if ev.Code > 100 && ev.Code < 200 {
			ri.push(sipfrag{ev.Code, ev.Reason}, false)
		}
	case StateTalking, StateHeld:
		ri.push(sipfrag{200, "OK"}, true)
	case StateEnded:
		code, reason := ev.Code, ev.Reason
		if code < 300 {
			code, reason = 487, "Request Terminated"
		}
		ri.push(sipfrag{code, reason}, true)
	}
}

// onRefer acts on a REFER inside this call's dialog (RFC 3515 §2.4.2):
// only from the dialog's peer (403 otherwise), only on an answered call
// (481), with exactly one Refer-To naming a sip, sips or tel URI and a
// well-formed Replaces if any (400). It answers 202, NOTIFYs 100 Trying,
// places the call and reports its progress by NOTIFY. Refused REFERs
// change nothing.
func (c *Call) onRefer(req *siplib.Request, tx *siplib.ServerTx) {
	if !c.fromPeer(req) {
		c.ua.adm.forbidden.Add(1)
		c.ua.logRefusal("refused a REFER from a stranger to the dialog (403)", req, req.MessageData.Source())
		c.ua.respond(tx, req, 403, "Forbidden")
		return
	}
	c.mu.Lock()
	answered := c.dialogUpLocked()
	busy := c.referIn != nil
	c.mu.Unlock()
	if !answered {
		c.ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	hs := headers(req, "Refer-To", "r")
	if len(hs) != 1 {
		c.ua.respond(tx, req, 400, "Bad Request (one Refer-To required)")
		return
	}
	rt, err := parseReferTo(hs[0].Value())
	if err != nil {
		c.log.Info("transfer: bad Refer-To", "err", err)
		c.ua.respond(tx, req, 400, "Bad Request (Refer-To)")
		return
	}
	if busy {
		c.ua.respond(tx, req, 491, "Request Pending")
		return
	}
	target := rt.target
	if strings.EqualFold(target.Scheme, "tel") {
		t, err := parseTarget(telNumber(rt.uri), c.ua.cfg.Account.Domain)
		if err != nil {
			c.ua.respond(tx, req, 400, "Bad Request (Refer-To)")
			return
		}
		t.UriParams = siplib.HeaderParams{{K: "user", V: "phone"}}
		target = t
	}
	ri := &referIn{referrer: c, cseq: req.CSeq().SeqNo, wake: make(chan struct{}, 1)}
	c.mu.Lock()
	if c.referIn != nil || c.state == StateEnded {
		c.mu.Unlock()
		c.ua.respond(tx, req, 491, "Request Pending")
		return
	}
	c.referIn = ri
	referredBy := c.referredByPeerLocked(req)
	c.mu.Unlock()
	c.ua.send(tx, c.newResponse(req, 202, "Accepted"))
	c.log.Info("transfer: REFER accepted", "target", rt.uri, "replaces", rt.replaces != nil)
	ri.push(sipfrag{100, "Trying"}, false)
	if !c.ua.goFn(func() { c.runNotifier(ri) }) {
		return
	}
	opts := dialOpts{referredBy: referredBy, replaces: rt.replaces, viaServer: true, notify: ri,
		announce: func(nc *Call) {
			c.ua.emit(&ReferredCallEvent{Call: nc, Referrer: c, Target: rt.uri})
		}}
	if _, err := c.ua.dial(c.ua.ctx, target, opts); err != nil {
		c.log.Warn("transfer: placing the referred call", "err", err)
		ri.push(sipfrag{503, "Service Unavailable"}, true)
	}
}

// referredByPeerLocked is the Referred-By for the referred INVITE: the
// REFER's own when it has a valid one, else the referrer's address.
func (c *Call) referredByPeerLocked(req *siplib.Request) string {
	if hs := headers(req, "Referred-By", "b"); len(hs) == 1 {
		if _, err := parseNameAddr(hs[0].Value()); err == nil {
			return hs[0].Value()
		}
	}
	if c.d.remoteName != "" {
		return `"` + c.d.remoteName + `" <` + c.d.remote.String() + ">"
	}
	return "<" + c.d.remote.String() + ">"
}

// fromPeer reports whether an in-dialog request came from the dialog's
// peer: the address the dialog was set up from, its remote target or
// first route, or the proxy (and Config.Allow) as admission trusts it.
func (c *Call) fromPeer(req *siplib.Request) bool {
	ap, err := netip.ParseAddrPort(req.MessageData.Source())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	c.mu.Lock()
	hosts := []string{c.d.target.Host}
	if len(c.d.routes) > 0 {
		hosts = append(hosts, c.d.routes[0].Host)
	}
	peer := c.peerAddr
	c.mu.Unlock()
	if peer.IsValid() && peer == ip {
		return true
	}
	for _, h := range hosts {
		if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil && a.Unmap() == ip {
			return true
		}
	}
	return c.ua.fromTrusted(ip)
}

// runNotifier sends the queued reports as NOTIFYs on the referrer's
// dialog, one at a time (RFC 6665 §4.2.2: the next waits for the answer
// to the previous), until the final one or the referrer's end.
func (c *Call) runNotifier(ri *referIn) {
	defer func() {
		c.mu.Lock()
		if c.referIn == ri {
			c.referIn = nil
		}
		c.mu.Unlock()
	}()
	for {
		ri.mu.Lock()
		var f sipfrag
		have := len(ri.queue) > 0
		final := false
		if have {
			f = ri.queue[0]
			ri.queue = ri.queue[1:]
			final = ri.last && len(ri.queue) == 0
		}
		ri.mu.Unlock()
		if !have {
			select {
			case <-ri.wake:
				continue
			case <-c.done:
				return
			case <-c.ua.ctx.Done():
				return
			}
		}
		if err := c.sendNotify(ri, f, final); err != nil {
			c.log.Info("transfer: NOTIFY", "code", f.code, "err", err)
			if c.isEnded() {
				return
			}
		}
		if final {
			return
		}
	}
}

// sendNotify sends one NOTIFY with f as message/sipfrag (RFC 3515
// §2.4.5) and waits for its answer.
func (c *Call) sendNotify(ri *referIn, f sipfrag, final bool) error {
	c.mu.Lock()
	if c.state == StateEnded {
		c.mu.Unlock()
		return ErrCallState
	}
	req := c.newRequestLocked(siplib.NOTIFY, 0)
	c.mu.Unlock()
	req.AppendHeader(siplib.NewHeader("Event", "refer;id="+strconv.FormatUint(uint64(ri.cseq), 10)))
	ss := fmt.Sprintf("active;expires=%d", int(referExpires/time.Second))
	if final {
		ss = "terminated;reason=noresource"
	}
	req.AppendHeader(siplib.NewHeader("Subscription-State", ss))
	req.AppendHeader(c.ua.contactHeader())
	req.AppendHeader(siplib.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte(f.String()))
	ctx, cancel := context.WithTimeout(c.ua.ctx, 64*siplib.T1)
	defer cancel()
	res, err := c.doInDialog(ctx, req)
	if err != nil {
		return err
	}
	if !res.IsSuccess() {
		return fmt.Errorf("sip: NOTIFY answered %d %s", res.StatusCode, res.Reason)
	}
	return nil
}
