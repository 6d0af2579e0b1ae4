package sip

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// dtmfDuration is how long each digit we send lasts.
const dtmfDuration = 100 * time.Millisecond

func validDigit(r rune) bool {
	return r >= '0' && r <= '9' || r == '*' || r == '#' || r >= 'A' && r <= 'D'
}

// SendDTMF sends digits (0-9, *, #, A-D) to the far end: RFC 4733
// telephone-events when negotiated, otherwise SIP INFO with
// application/dtmf-relay. It returns at once; digits go out in order.
func (c *Call) SendDTMF(digits string) error {
	digits = strings.ToUpper(digits)
	for _, r := range digits {
		if !validDigit(r) {
			return fmt.Errorf("sip: invalid DTMF digit %q", r)
		}
	}
	c.mu.Lock()
	if c.state != StateTalking && c.state != StateHeld && c.state != StateEarly {
		c.mu.Unlock()
		return ErrCallState
	}
	m := c.media
	rfc4733 := c.haveNeg && c.neg.DTMF.PT != 0 && m != nil && !c.ua.cfg.DTMFInfo
	c.mu.Unlock()
	c.ua.goFn(func() {
		c.dtmfMu.Lock()
		defer c.dtmfMu.Unlock()
		ctx, cancel := context.WithCancel(c.ua.ctx)
		defer cancel()
		go func() {
			select {
			case <-c.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		for _, r := range digits {
			var err error
			if rfc4733 {
				err = m.SendDTMF(ctx, r, dtmfDuration)
			} else {
				err = c.sendInfoDigit(ctx, r)
			}
			if err != nil {
				c.log.Debug("send DTMF", "digit", string(r), "err", err)
				return
			}
		}
	})
	return nil
}

// sendInfoDigit sends one digit as INFO application/dtmf-relay.
func (c *Call) sendInfoDigit(ctx context.Context, r rune) error {
	c.mu.Lock()
	if c.state == StateEnded {
		c.mu.Unlock()
		return ErrCallState
	}
	req := c.newRequestLocked(siplib.INFO, 0)
	c.mu.Unlock()
	req.AppendHeader(siplib.NewHeader("Content-Type", "application/dtmf-relay"))
	req.SetBody([]byte(fmt.Sprintf("Signal=%c\r\nDuration=%d\r\n", r, dtmfDuration/time.Millisecond)))
	res, err := c.ua.do(ctx, req)
	if err != nil {
		return err
	}
	if !res.IsSuccess() {
		return fmt.Errorf("sip: INFO answered %d %s", res.StatusCode, res.Reason)
	}
	return nil
}

// onInfo handles INFO in a dialog: DTMF as application/dtmf-relay
// ("Signal=5\r\nDuration=160") or application/dtmf ("5").
func (c *Call) onInfo(req *siplib.Request, tx *siplib.ServerTx) {
	c.mu.Lock()
	if c.d.haveRemoteSeq && req.CSeq().SeqNo <= c.d.remoteSeq {
		c.mu.Unlock()
		c.ua.respond(tx, req, 500, "Server Internal Error (CSeq out of order)")
		return
	}
	c.d.remoteSeq, c.d.haveRemoteSeq = req.CSeq().SeqNo, true
	c.mu.Unlock()
	if len(req.Body()) == 0 {
		// An empty INFO is a keepalive probe.
		c.ua.send(tx, c.newResponse(req, 200, "OK"))
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(h.Value()))
		if i := strings.IndexByte(ct, ';'); i >= 0 {
			ct = strings.TrimSpace(ct[:i])
		}
	}
	var digit rune
	var dur time.Duration
	var ok bool
	switch ct {
	case "application/dtmf-relay":
		digit, dur, ok = parseDTMFRelay(string(req.Body()))
	case "application/dtmf":
		digit, ok = parseDTMFDigit(strings.TrimSpace(string(req.Body())))
	default:
		res := c.newResponse(req, 415, "Unsupported Media Type")
		res.AppendHeader(siplib.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		c.ua.send(tx, res)
		return
	}
	if !ok {
		c.ua.respond(tx, req, 400, "Bad Request (DTMF body)")
		return
	}
	// The event is queued before the 200 goes out: the sender waits for
	// the 200 before its next digit, and sipgo handles every request on a
	// goroutine of its own, so emitting after the 200 could report the
	// next digit first.
	c.ua.emit(&DTMFEvent{Call: c, Digit: digit, Duration: dur, Source: "info"})
	c.ua.send(tx, c.newResponse(req, 200, "OK"))
}

// parseDTMFRelay parses the application/dtmf-relay body used by Cisco and
// most PBXes: "Signal=5\r\nDuration=160\r\n" (duration in ms).
func parseDTMFRelay(body string) (rune, time.Duration, bool) {
	var digit rune
	var dur time.Duration
	found := false
	for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "signal":
			d, ok := parseDTMFDigit(strings.TrimSpace(v))
			if !ok {
				return 0, 0, false
			}
			digit, found = d, true
		case "duration":
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 16); err == nil {
				dur = time.Duration(n) * time.Millisecond
			}
		}
	}
	return digit, dur, found
}

// parseDTMFDigit accepts a digit character or an RFC 4733 event number
// (0-15, where 10 is * and 11 is #).
func parseDTMFDigit(s string) (rune, bool) {
	s = strings.ToUpper(s)
	if len(s) == 1 && validDigit(rune(s[0])) {
		return rune(s[0]), true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 15 {
		return 0, false
	}
	return rune("0123456789*#ABCD"[n]), true
}
