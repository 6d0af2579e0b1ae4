package sip

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// NOTIFY handling for the subscriptions of subscribe.go (RFC 6665
// §4.1.3): the dialog, the source, CSeq order and Subscription-State are
// checked and the body parsed before anything changes.

// subState is a parsed Subscription-State header (RFC 6665 §8.2.3).
type subState struct {
	value      string // active, pending, terminated
	reason     string
	expires    time.Duration
	hasExpires bool
	retryAfter time.Duration
}

func parseSubState(v string) (subState, bool) {
	var s subState
	parts := strings.Split(v, ";")
	s.value = strings.ToLower(strings.TrimSpace(parts[0]))
	if s.value == "" || !isToken(s.value) {
		return s, false
	}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.Trim(strings.TrimSpace(val), `"`)
		switch k {
		case "reason":
			s.reason = strings.ToLower(val)
		case "expires", "retry-after":
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return s, false
			}
			n = min(n, 1<<30)
			if k == "expires" {
				s.expires, s.hasExpires = time.Duration(n)*time.Second, true
			} else {
				s.retryAfter = time.Duration(n) * time.Second
			}
		}
	}
	return s, true
}

// eventPackage is the package name of an Event header, lower case,
// without parameters; "" when absent.
func eventPackage(req *sipRequest) string {
	h := req.GetHeader("Event")
	if h == nil {
		h = req.GetHeader("o") // compact form (RFC 6665 §8.2.1)
	}
	if h == nil {
		return ""
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	return strings.ToLower(strings.TrimSpace(v))
}

// mediaTypeOf is a message's Content-Type without parameters, lower case.
func mediaTypeOf(req *sipRequest) string {
	h := req.GetHeader("Content-Type")
	if h == nil {
		return ""
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	return strings.ToLower(strings.TrimSpace(v))
}

// handleNotify answers every NOTIFY but those of the transfer package
// (Event: refer, reported false for the caller to handle): for one of our
// subscriptions it applies the body; an out-of-dialog message-summary is
// unsolicited MWI (admission already checked its source); the rest gets
// 481 (no such subscription) or 489 (no event package).
func (u *UA) handleNotify(req *sipRequest, tx siplib.ServerTransaction) bool {
	ev := eventPackage(req)
	if ev == "refer" {
		return false
	}
	if ev == "" {
		u.respond(tx, req, 400, "Bad Request (missing Event)")
		return true
	}
	toTag := tagOf(req.To().Params)
	if toTag == "" {
		if ev == "message-summary" {
			u.onUnsolicitedMWI(req, tx)
			return true
		}
		u.respond(tx, req, 481, "Subscription Does Not Exist")
		return true
	}
	s := u.subs.byCallID(req.CallID().Value())
	if s == nil {
		// Not one of our subscriptions: perhaps a call's dialog (an
		// event package other than refer there is 489) or nothing at
		// all (481); the dialog code answers either.
		return false
	}
	s.onNotify(req, tx, ev, toTag)
	return true
}

// onNotify handles a NOTIFY whose Call-ID is ours: dialog and order
// checks, the source, then the body, parsed before anything changes.
func (s *Subscription) onNotify(req *sipRequest, tx siplib.ServerTransaction, ev, toTag string) {
	u := s.u
	// Only the proxy (or an allowed peer) speaks for our notifiers; the
	// check may resolve the proxy, so it runs before the lock.
	if u.policy() != AcceptAny {
		src := req.MessageData.Source()
		ap, err := netip.ParseAddrPort(src)
		if err != nil || !u.fromTrusted(ap.Addr().Unmap()) {
			u.adm.forbidden.Add(1)
			u.logRefusal("refused a NOTIFY from a peer that is neither the proxy nor allowed (403)", req, src)
			u.respond(tx, req, 403, "Forbidden")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if toTag != s.d.localTag || s.stopped {
		u.respond(tx, req, 481, "Subscription Does Not Exist")
		return
	}
	fromTag := tagOf(req.From().Params)
	if s.est && s.d.remoteTag != "" && fromTag != s.d.remoteTag {
		// A second dialog forked from our SUBSCRIBE: we keep one.
		u.respond(tx, req, 481, "Subscription Does Not Exist")
		return
	}
	if ev != s.event {
		u.respond(tx, req, 489, "Bad Event")
		return
	}
	seq := req.CSeq().SeqNo
	if s.d.haveRemoteSeq {
		if seq < s.d.remoteSeq {
			u.respond(tx, req, 500, "Server Internal Error (CSeq out of order)")
			return
		}
		if seq == s.d.remoteSeq {
			// A retransmission (its transaction is gone): same answer,
			// nothing applied twice.
			u.respond(tx, req, 200, "OK")
			return
		}
	}
	h := req.GetHeader("Subscription-State")
	if h == nil {
		u.respond(tx, req, 400, "Bad Request (missing Subscription-State)")
		return
	}
	ss, ok := parseSubState(h.Value())
	if !ok {
		u.respond(tx, req, 400, "Bad Request (Subscription-State)")
		return
	}
	var apply func() (Event, bool)
	if body := req.Body(); len(body) > 0 {
		mt := mediaTypeOf(req)
		if want := s.h.mediaTypes(); want != nil && !slices.Contains(want, mt) {
			res := u.newResponse(req, 415, "Unsupported Media Type")
			res.AppendHeader(siplib.NewHeader("Accept", strings.Join(want, ", ")))
			u.send(tx, res)
			return
		}
		ctype := ""
		if h := req.GetHeader("Content-Type"); h != nil {
			ctype = h.Value()
		}
		var err error
		apply, err = s.h.parse(s, ctype, body)
		if err != nil {
			s.log.Warn("NOTIFY with a malformed body (400, nothing changed)", "err", err)
			u.respond(tx, req, 400, "Bad Request (body)")
			return
		}
	}
	// Accepted: the NOTIFY is part of the dialog now.
	s.d.remoteSeq, s.d.haveRemoteSeq = seq, true
	if !s.est {
		// The NOTIFY came before the 200 (RFC 6665 §4.1.2.4): it makes
		// the dialog (route set in Record-Route order, §12.1.1).
		s.d.remoteTag = fromTag
		s.d.routes = routeSetFrom(req)
		s.est, s.estAt = true, time.Now()
	}
	if c, ok := contactOf(req); ok {
		s.d.target = c // NOTIFY is a target refresh request
	}
	res := u.newResponse(req, 200, "OK")
	res.AppendHeader(u.contactHeader())
	u.send(tx, res)
	var event Event
	gap := false
	if apply != nil {
		event, gap = apply()
	}
	if event != nil {
		u.emit(event)
	}
	switch ss.value {
	case "active", "pending":
		st := s.st
		if ss.value == "active" {
			st.State = SubActive
		} else {
			st.State = SubPending
		}
		if ss.hasExpires {
			// The notifier may shorten the subscription (§4.1.2.4).
			// Status.Expires stays what the 2xx granted: a count-down in
			// every NOTIFY (Asterisk) is not news.
			if at := time.Now().Add(refreshAfter(ss.expires)); at.Before(s.next) {
				s.dueLocked(at)
			}
		}
		if gap {
			// Partial state out of sequence: a refresh brings full state.
			s.dueLocked(time.Now())
		}
		s.setStatusLocked(st)
	case "terminated":
		s.onTerminatedLocked(ss)
	}
}

// onTerminatedLocked applies Subscription-State: terminated (RFC 6665
// §4.1.3): deactivated, timeout or no reason: subscribe again at once;
// probation, giveup: again after retry-after (or the back-off);
// rejected, noresource, invariant: never again.
func (s *Subscription) onTerminatedLocked(ss subState) {
	st := SubStatus{State: SubFailed, Reason: "terminated by notifier"}
	if ss.reason != "" {
		st.Reason += ": " + ss.reason
	}
	s.renew = true
	switch ss.reason {
	case "rejected", "noresource", "invariant":
		s.stopped = true
		st.State = SubTerminated
		s.cancel()
	case "probation", "giveup":
		wait := ss.retryAfter
		if wait <= 0 {
			wait = s.u.backoff(1)
		}
		st.RetryIn = wait
		s.dueLocked(time.Now().Add(wait))
	default:
		// At once, unless the notifier keeps ending new subscriptions
		// straight away: then back off, or the two would loop.
		wait := time.Duration(0)
		if time.Since(s.estAt) < quickEnd {
			s.quickEnds++
			wait = s.u.backoff(s.quickEnds)
			st.RetryIn = wait
		} else {
			s.quickEnds = 0
		}
		s.dueLocked(time.Now().Add(wait))
	}
	s.setStatusLocked(st)
}

// dueLocked asks run for a SUBSCRIBE at t at the latest.
func (s *Subscription) dueLocked(t time.Time) {
	if s.due.IsZero() || t.Before(s.due) {
		s.due = t
	}
	s.kick()
}

func (s *Subscription) setStatusLocked(st SubStatus) {
	if st != s.st {
		s.st = st
		s.log.Info("subscription", "state", st.State, "code", st.Code, "reason", st.Reason, "expires", st.Expires)
		s.u.emit(&SubscriptionEvent{Sub: s, Status: st})
	}
}
