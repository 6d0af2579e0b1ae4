package pbx

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Service extensions, answered by the PBX itself. They need no
// registration: INVITE sip:echo@<domain>.
const (
	// ServiceEcho answers and sends every received RTP payload back to
	// where it came from.
	ServiceEcho = "echo"
	// ServiceTone answers and plays a continuous 1 kHz tone.
	ServiceTone = "tone"
	// ServiceEarly sends 183 Session Progress with SDP (reliably, RFC
	// 3262, when the caller supports 100rel), plays a 400+450 Hz
	// announcement for Config.EarlyDuration, then answers and echoes.
	ServiceEarly = "early"
)

func isService(user string) bool {
	switch user {
	case ServiceEcho, ServiceTone, ServiceEarly:
		return true
	}
	return false
}

// serviceCall is one call to a service extension (we are the UAS).
type serviceCall struct {
	s      *Server
	kind   string
	callID string
	inv    *sip.Request
	tx     sip.ServerTransaction
	toTag  string
	local  netip.AddrPort
	sessID uint64
	media  *mediaSession

	acked     chan struct{} // closed on the ACK for our 2xx
	pracked   chan struct{} // closed on the PRACK for our reliable 183
	done      chan struct{} // closed by stop
	ackOnce   sync.Once
	prackOnce sync.Once
	stopOnce  sync.Once

	mu      sync.Mutex // guards following
	version uint64
	ourSDP  []byte // our current SDP answer
	rseq    uint32 // RSeq of the reliable 183, 0 if none
}

// ServiceStats reports the RTP counters of a live service call, for tests
// and the demo. ok is false when no such call exists.
func (s *Server) ServiceStats(callID string) (received, sent uint64, ok bool) {
	c := s.service(callID)
	if c == nil {
		return 0, 0, false
	}
	return c.media.received.Load(), c.media.sent.Load(), true
}

func (s *Server) service(callID string) *serviceCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.services[callID]
}

// startService answers an authenticated initial INVITE to a service. It
// runs on sipgo's handler goroutine and returns once the final response
// is sent (so the server transaction lives as long as it must).
func (s *Server) startService(kind string, req *sip.Request, tx sip.ServerTransaction) {
	if len(req.Body()) == 0 {
		// Offerless INVITEs (offer in the 2xx) are not supported here.
		s.respond(tx, req, sip.StatusNotAcceptableHere, "", sip.NewHeader("Warning", `399 pbx "no SDP offer"`))
		return
	}
	if req.GetHeader("Require") != nil {
		for _, ext := range splitList(req.GetHeader("Require").Value()) {
			if ext != "100rel" {
				s.respond(tx, req, sip.StatusBadExtension, "", sip.NewHeader("Unsupported", ext))
				return
			}
		}
	}
	conn, err := s.cfg.Net.ListenPacket("udp", net.JoinHostPort(s.udpAddr.Addr().String(), "0"))
	if err != nil {
		s.log.Error("media socket", "err", err)
		s.respond(tx, req, sip.StatusInternalServerError, "")
		return
	}
	ua, _ := conn.LocalAddr().(*net.UDPAddr)
	if ua == nil {
		conn.Close()
		s.respond(tx, req, sip.StatusInternalServerError, "")
		return
	}
	c := &serviceCall{
		s: s, kind: kind, callID: req.CallID().Value(), inv: req, tx: tx,
		toTag:  sip.GenerateTagN(16),
		local:  netip.AddrPortFrom(s.adv, uint16(ua.Port)),
		sessID: rand.Uint64() >> 2, version: 1,
		acked: make(chan struct{}), pracked: make(chan struct{}), done: make(chan struct{}),
	}
	neg, err := answerOffer(req.Body(), c.local, c.sessID, c.version)
	if err != nil {
		conn.Close()
		s.log.Info("service call refused", "service", kind, "err", err)
		s.respond(tx, req, sip.StatusNotAcceptableHere, "", sip.NewHeader("Warning", `399 pbx "`+err.Error()+`"`))
		return
	}
	c.ourSDP = neg.answer
	// Every response to this INVITE, including the 487 sipgo makes on
	// CANCEL, carries the same To tag (RFC 3261 §8.2.6.2).
	req.To().Params.Add("tag", c.toTag)
	mode := modeSilent
	switch kind {
	case ServiceEcho:
		mode = modeEcho
	case ServiceTone:
		mode = modeTone
	case ServiceEarly:
		mode = modeAnnounce
	}
	c.media = newMediaSession(conn, neg.codec, neg.pt, neg.remote, mode)
	c.media.setSend(neg.send)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.media.close()
		s.respond(tx, req, sip.StatusServiceUnavailable, "")
		return
	}
	s.services[c.callID] = c
	s.mu.Unlock()
	s.log.Info("service call", "service", kind, "call_id", c.callID, "raddr", req.Source(),
		"codec", neg.codec.Name(), "rtp", neg.remote)
	tx.OnCancel(func(*sip.Request) {
		// sipgo has answered the CANCEL and sent 487 already.
		c.stop()
	})
	if kind == ServiceEarly && !c.early() {
		return
	}
	c.answer()
}

// early plays the announcement as early media. It reports false when the
// call ended (CANCEL, no PRACK, shutdown) before it could be answered.
func (c *serviceCall) early() bool {
	reliable := hasOption(c.inv, "Supported", "100rel") || hasOption(c.inv, "Require", "100rel")
	res := c.response(183, c.sdp())
	if reliable {
		c.mu.Lock()
		c.rseq = rand.Uint32N(1<<31-1) + 1 // RFC 3262 §3: 1 .. 2**31-1
		rseq := c.rseq
		c.mu.Unlock()
		res.AppendHeader(sip.NewHeader("Require", "100rel"))
		res.AppendHeader(sip.NewHeader("RSeq", strconv.FormatUint(uint64(rseq), 10)))
	}
	if err := c.tx.Respond(res); err != nil {
		c.stop()
		return false
	}
	announce := time.NewTimer(c.s.cfg.EarlyDuration)
	defer announce.Stop()
	if reliable {
		// RFC 3262 §3: retransmit at T1, doubling, until PRACK; give up
		// with a 5xx after 64*T1. A 2xx must wait for the PRACK because
		// the 183 carried SDP.
		t1 := c.s.t1()
		interval := t1
		retx := time.NewTimer(interval)
		defer retx.Stop()
		giveUp := time.NewTimer(64 * t1)
		defer giveUp.Stop()
	wait:
		for {
			select {
			case <-c.pracked:
				break wait
			case <-retx.C:
				if err := c.tx.Respond(res); err != nil {
					c.stop()
					return false
				}
				interval *= 2
				retx.Reset(interval)
			case <-giveUp.C:
				c.s.log.Info("no PRACK for reliable 183", "call_id", c.callID)
				c.stop()
				c.s.respond(c.tx, c.inv, sip.StatusInternalServerError, "No PRACK")
				return false
			case <-c.done:
				return false
			}
		}
	}
	select {
	case <-announce.C:
	case <-c.done:
		return false
	}
	c.media.setMode(modeEcho)
	return true
}

// answer sends the 2xx and keeps retransmitting it until the ACK (RFC
// 3261 §13.3.1.4: T1 doubling up to T2, for 64*T1).
func (c *serviceCall) answer() {
	res := c.response(200, c.sdp())
	if err := c.tx.Respond(res); err != nil {
		c.stop()
		return
	}
	c.s.goCall(func() {
		t1 := c.s.t1()
		interval := t1
		retx := time.NewTimer(interval)
		defer retx.Stop()
		giveUp := time.NewTimer(64 * t1)
		defer giveUp.Stop()
		for {
			select {
			case <-c.acked:
				return
			case <-c.tx.Acks():
				c.ackOnce.Do(func() { close(c.acked) })
				return
			case <-retx.C:
				_ = c.tx.Respond(res)
				interval = min(2*interval, 8*t1)
				retx.Reset(interval)
			case <-giveUp.C:
				c.s.log.Info("no ACK for 2xx, ending service call", "call_id", c.callID)
				c.stop()
				return
			case <-c.done:
				return
			}
		}
	})
}

// handleInDialog handles requests inside a service call's dialog.
func (c *serviceCall) handleInDialog(req *sip.Request, tx sip.ServerTransaction) {
	switch req.Method {
	case sip.ACK:
		c.ackOnce.Do(func() { close(c.acked) })
	case sip.PRACK:
		// RFC 3262 §7.2: RAck = response-num CSeq-num Method.
		rack := req.GetHeader("RAck")
		c.mu.Lock()
		rseq := c.rseq
		c.mu.Unlock()
		f := []string{}
		if rack != nil {
			f = strings.Fields(rack.Value())
		}
		if rseq == 0 || len(f) != 3 || f[0] != strconv.FormatUint(uint64(rseq), 10) ||
			f[1] != strconv.FormatUint(uint64(c.inv.CSeq().SeqNo), 10) || !strings.EqualFold(f[2], "INVITE") {
			c.s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "")
			return
		}
		c.prackOnce.Do(func() { close(c.pracked) })
		c.s.respond(tx, req, sip.StatusOK, "")
	case sip.BYE:
		c.stop()
		c.s.respond(tx, req, sip.StatusOK, "")
	case sip.INVITE, sip.UPDATE:
		// Re-offer (hold, resume, refresh): follow the new address and
		// answer with our unchanged stream.
		if len(req.Body()) > 0 {
			c.mu.Lock()
			neg, err := answerOffer(req.Body(), c.local, c.sessID, c.version+1)
			if err == nil {
				c.version++
				c.ourSDP = neg.answer
			}
			c.mu.Unlock()
			if err != nil {
				c.s.respond(tx, req, sip.StatusNotAcceptableHere, "")
				return
			}
			// The codec stays; hold (sendonly/inactive) stops our sending.
			c.media.setRemote(neg.remote)
			c.media.setSend(neg.send)
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", c.sdp())
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(c.contact())
		if err := tx.Respond(res); err != nil {
			c.s.log.Debug("re-INVITE answer failed", "err", err)
		}
	case sip.INFO, sip.OPTIONS, sip.MESSAGE, sip.NOTIFY:
		c.s.respond(tx, req, sip.StatusOK, "")
	default:
		c.s.respond(tx, req, sip.StatusNotImplemented, "")
	}
}

// response builds a response to the INVITE with our To tag, Contact and
// an SDP body.
func (c *serviceCall) response(code int, body []byte) *sip.Response {
	res := sip.NewResponseFromRequest(c.inv, code, reasonPhrase(code), body)
	if to := res.To(); to != nil {
		to.Params.Add("tag", c.toTag)
	}
	res.AppendHeader(c.contact())
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	return res
}

func (c *serviceCall) contact() *sip.ContactHeader {
	tr := strings.ToUpper(c.inv.Transport())
	u := sip.Uri{Scheme: "sip", User: c.kind, Host: c.s.advHost(), Port: c.s.listenPort(tr), UriParams: sip.NewParams()}
	if tr != "UDP" {
		u.UriParams.Add("transport", strings.ToLower(tr))
	}
	return &sip.ContactHeader{Address: u}
}

func (c *serviceCall) sdp() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ourSDP
}

// stop ends the call: media closed, call forgotten. Idempotent.
func (c *serviceCall) stop() {
	c.stopOnce.Do(func() {
		close(c.done)
		c.media.close()
		c.s.mu.Lock()
		if c.s.services[c.callID] == c {
			delete(c.s.services, c.callID)
		}
		c.s.mu.Unlock()
		c.s.log.Info("service call ended", "service", c.kind, "call_id", c.callID,
			"rtp_in", c.media.received.Load(), "rtp_out", c.media.sent.Load())
	})
}

// t1 is the retransmission base of our own UAS retransmissions.
func (s *Server) t1() time.Duration {
	if s.cfg.T1 > 0 {
		return s.cfg.T1
	}
	return sip.T1
}

// hasOption reports whether header name (a comma list of option tags)
// contains tag.
func hasOption(req *sip.Request, name, tag string) bool {
	for _, h := range req.GetHeaders(name) {
		for _, v := range splitList(h.Value()) {
			if strings.EqualFold(v, tag) {
				return true
			}
		}
	}
	return false
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
