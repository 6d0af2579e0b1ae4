package pbx

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// TimerC is how long the proxy waits for a final response to a
// forwarded INVITE (RFC 3261 §16.6: greater than 3 minutes).
const TimerC = 3*time.Minute + 10*time.Second

// hop is where and how to send a request.
type hop struct {
	dest      netip.AddrPort
	transport string // "UDP", "TCP", "TLS"
}

// dialog remembers both ends of a proxied dialog, so that with NATFix (or
// over TCP/TLS) in-dialog requests reach the address each side really
// sends from, whatever its Contact says.
type dialog struct {
	callerTag      string
	caller, callee hop
}

// noBuild is a sipgo client option that leaves a prebuilt request alone.
func noBuild(*sipgo.Client, *sip.Request) error { return nil }

// isReliable reports whether transport is connection oriented.
func isReliable(transport string) bool {
	return !strings.EqualFold(transport, "UDP")
}

// defaultPort returns the SIP default port of transport (RFC 3261 §19.1.2).
func defaultPort(transport string) int {
	if strings.EqualFold(transport, "TLS") {
		return 5061
	}
	return 5060
}

// hopForURI resolves a SIP URI with an IP host to a hop. Host names are
// not resolved: the PBX is a local test tool and phones register IPs.
func hopForURI(u sip.Uri) (hop, bool) {
	ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	if err != nil {
		return hop{}, false
	}
	tr := "UDP"
	if v, ok := u.UriParams.Get("transport"); ok && v != "" {
		tr = strings.ToUpper(v)
	}
	if u.IsEncrypted() {
		tr = "TLS"
	}
	port := u.Port
	if port == 0 {
		port = defaultPort(tr)
	}
	if port <= 0 || port > 65535 {
		return hop{}, false
	}
	return hop{dest: netip.AddrPortFrom(ip.Unmap(), uint16(port)), transport: tr}, true
}

// hopForBinding is where a request for a registered contact goes: with
// NATFix, or over TCP/TLS (where only the UA's own connection can reach
// it), the address the REGISTER came from; else the Contact as
// registered.
func (s *Server) hopForBinding(b Binding) (hop, bool) {
	if s.cfg.NATFix || isReliable(b.Transport) {
		return hop{dest: b.Source, transport: b.Transport}, b.Source.IsValid()
	}
	return hopForURI(b.Contact)
}

// listenPort is our port for transport.
func (s *Server) listenPort(transport string) int {
	switch strings.ToUpper(transport) {
	case "TCP":
		return int(s.TCPAddr().Port())
	case "TLS":
		return int(s.TLSAddr().Port())
	}
	return int(s.udpAddr.Port())
}

// hasTransport reports whether we listen on transport.
func (s *Server) hasTransport(transport string) bool {
	return s.listenPort(transport) != 0
}

// ourURI is our address as a loose-routing URI for Record-Route.
func (s *Server) ourURI(transport string) sip.Uri {
	u := sip.Uri{Scheme: "sip", Host: s.advHost(), Port: s.listenPort(transport), UriParams: sip.NewParams()}
	if !strings.EqualFold(transport, "UDP") {
		u.UriParams.Add("transport", strings.ToLower(transport))
	}
	u.UriParams.Add("lr", "")
	return u
}

// prepare turns a received request into the one to forward (RFC 3261
// §16.6): copy, new Request-URI, our Route entries removed, Max-Forwards
// decremented, Record-Route (two entries when the transport changes, RFC
// 5658), our Via on top, and the destination pinned to our own socket.
func (s *Server) prepare(req *sip.Request, to hop, ruri *sip.Uri, recordRoute bool) *sip.Request {
	fwd := req.Clone()
	if ruri != nil {
		fwd.Recipient = *ruri.Clone()
	}
	for r := fwd.Route(); r != nil && s.isOurs(r.Address); r = fwd.Route() {
		fwd.RemoveHeader("Route")
	}
	// Credentials for our realm were consumed here (RFC 3261 §22.3).
	for fwd.RemoveHeader("Proxy-Authorization") {
	}
	if mf := fwd.MaxForwards(); mf != nil {
		mf.Dec()
	} else {
		m := sip.MaxForwardsHeader(70)
		fwd.AppendHeader(&m)
	}
	if recordRoute {
		in := strings.ToUpper(req.Transport())
		// The top entry faces the callee, the next the caller.
		if in != to.transport {
			fwd.PrependHeader(&sip.RecordRouteHeader{Address: s.ourURI(in)})
		}
		fwd.PrependHeader(&sip.RecordRouteHeader{Address: s.ourURI(to.transport)})
	}
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: to.transport,
		Host: s.advHost(), Port: s.listenPort(to.transport), Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	fwd.PrependHeader(via)
	s.pin(fwd, to)
	return fwd
}

// pin sets where a request we send goes and which socket sends it. Over
// UDP, Laddr names our listener so sipgo reuses it instead of opening a
// socket of its own; over TCP/TLS the pooled connection to dest is used.
func (s *Server) pin(r *sip.Request, to hop) {
	r.SetTransport(to.transport)
	r.SetDestination(to.dest.String())
	if to.transport == "UDP" {
		r.Laddr = s.laddr
	} else {
		r.Laddr = sip.Addr{}
	}
}

// handleInitialInvite authenticates an INVITE without To tag and hands it
// to a service or forwards it to the callee's registered contact.
func (s *Server) handleInitialInvite(req *sip.Request, tx sip.ServerTransaction) {
	if s.cfg.OnInvite != nil {
		if o := s.cfg.OnInvite(req, false); o.Code != 0 {
			s.respondOverride(tx, req, o)
			return
		}
	}
	if !s.cfg.NoInviteAuth {
		if _, ok := s.authenticate(req, tx, true); !ok {
			return
		}
	}
	if s.cfg.OnInvite != nil {
		if o := s.cfg.OnInvite(req, true); o.Code != 0 {
			s.respondOverride(tx, req, o)
			return
		}
	}
	user := req.Recipient.User
	if isService(user) {
		s.startService(user, req, tx)
		return
	}
	s.proxyToUser(req, tx, true)
}

// proxyOutOfDialog forwards a non-INVITE request without To tag
// (MESSAGE, OPTIONS, SUBSCRIBE...) to a registered user.
func (s *Server) proxyOutOfDialog(req *sip.Request, tx sip.ServerTransaction) {
	s.proxyToUser(req, tx, false)
}

// proxyToUser looks the Request-URI up and forwards to the newest
// binding: user@domain for one of our domains (404 unknown, 480 not
// registered); a registered contact itself (the Contact a Refer-To
// names, RFC 5589 §7) goes to that binding; any other host is taken as
// Realm's. Forking to several bindings is not done.
func (s *Server) proxyToUser(req *sip.Request, tx sip.ServerTransaction, recordRoute bool) {
	var b Binding
	if c, ok := s.reg.byContact(req.Recipient); ok && !s.isDomain(req.Recipient.Host) && c.Contact.User == req.Recipient.User {
		b = c
	} else {
		dom := s.domain(req.Recipient.Host)
		user := req.Recipient.User
		if _, ok := dom.users[user]; !ok {
			s.respond(tx, req, sip.StatusNotFound, "")
			return
		}
		bs := s.reg.lookup(dom.aor(user))
		if len(bs) == 0 {
			s.respond(tx, req, sip.StatusTemporarilyUnavailable, "")
			return
		}
		b = bs[0]
	}
	to, ok := s.hopForBinding(b)
	if !ok || !s.hasTransport(to.transport) {
		s.respond(tx, req, sip.StatusTemporarilyUnavailable, "Contact Unreachable")
		return
	}
	fwd := s.prepare(req, to, &b.Contact, recordRoute)
	if req.IsInvite() {
		callID := req.CallID().Value()
		tag, _ := req.From().Params.Get("tag")
		s.mu.Lock()
		s.dialogs[callID] = &dialog{callerTag: tag,
			caller: hop{dest: source(req), transport: strings.ToUpper(req.Transport())}, callee: to}
		s.mu.Unlock()
		s.forwardInvite(req, tx, fwd, true)
		return
	}
	s.forwardNonInvite(req, tx, fwd)
}

// proxyInDialog routes a request with a To tag (RFC 3261 §16.4 loose
// routing): our Route entries are removed, then it goes to the next Route
// or the Request-URI; with NATFix, or over TCP/TLS, to the other party's
// recorded address instead.
func (s *Server) proxyInDialog(req *sip.Request, tx sip.ServerTransaction) {
	if tag, _ := req.To().Params.Get("tag"); req.IsAck() && strings.HasPrefix(tag, ownTagPrefix) {
		return // the ACK of our own 407 (or other final response)
	}
	probe := req.Clone()
	for r := probe.Route(); r != nil && s.isOurs(r.Address); r = probe.Route() {
		probe.RemoveHeader("Route")
	}
	var to hop
	var ok bool
	if r := probe.Route(); r != nil {
		to, ok = hopForURI(r.Address)
	} else if s.isOurs(req.Recipient) {
		// Addressed to us but no service call has it (ended, or never
		// was): 481 below, not a loop to ourselves.
		ok = false
	} else {
		to, ok = hopForURI(req.Recipient)
		if b, found := s.reg.byContact(req.Recipient); found && (s.cfg.NATFix || isReliable(b.Transport)) {
			to, ok = hop{dest: b.Source, transport: b.Transport}, true
		}
	}
	callID := req.CallID().Value()
	s.mu.Lock()
	d := s.dialogs[callID]
	s.mu.Unlock()
	if d != nil && probe.Route() == nil {
		fromTag, _ := req.From().Params.Get("tag")
		other := d.callee
		if fromTag != d.callerTag {
			other = d.caller
		}
		if s.cfg.NATFix || isReliable(other.transport) || !ok {
			to, ok = other, true
		}
	}
	if !ok || !s.hasTransport(to.transport) {
		if !req.IsAck() {
			s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "")
		}
		return
	}
	fwd := s.prepare(req, to, nil, false)
	switch {
	case req.IsAck():
		// ACK for a 2xx is its own transaction-less request: forward it
		// statelessly (RFC 3261 §16.11 allows it for ACK).
		if err := s.cli.WriteRequest(fwd, noBuild); err != nil {
			s.log.Debug("forward ACK failed", "err", err, "call_id", callID)
		}
	case req.IsInvite():
		s.forwardInvite(req, tx, fwd, false)
	default:
		if s.forwardNonInvite(req, tx, fwd) && req.Method == sip.BYE {
			s.mu.Lock()
			delete(s.dialogs, callID)
			s.mu.Unlock()
		}
	}
}

// forwardNonInvite relays a non-INVITE request statefully and its final
// response back. It reports whether the final response was a 2xx.
func (s *Server) forwardNonInvite(req *sip.Request, tx sip.ServerTransaction, fwd *sip.Request) bool {
	ctl, err := s.cli.TransactionRequest(s.ctx, fwd, noBuild)
	if err != nil {
		s.log.Info("forward failed", "method", req.Method, "err", err)
		s.respond(tx, req, sip.StatusServiceUnavailable, "")
		return false
	}
	defer ctl.Terminate()
	for {
		select {
		case res := <-ctl.Responses():
			if res.StatusCode < 200 {
				continue
			}
			s.relay(tx, res)
			return res.StatusCode < 300
		case <-ctl.Done():
			s.respond(tx, req, sip.StatusRequestTimeout, "")
			return false
		case <-tx.Done():
			return false
		case <-s.ctx.Done():
			return false
		}
	}
}

// forwardInvite relays an INVITE statefully: 100 Trying at once,
// provisional and final responses back, a CANCEL from the caller
// forwarded downstream (RFC 3261 §16.10), and 2xx retransmissions passed
// on after the transaction is done (RFC 6026).
func (s *Server) forwardInvite(req *sip.Request, tx sip.ServerTransaction, fwd *sip.Request, initial bool) {
	callID := req.CallID().Value()
	s.respond(tx, req, sip.StatusTrying, "")
	ctl, err := s.cli.TransactionRequest(s.ctx, fwd, noBuild)
	if err != nil {
		s.log.Info("forward INVITE failed", "err", err, "call_id", callID)
		s.respond(tx, req, sip.StatusServiceUnavailable, "")
		s.dropDialog(callID, initial)
		return
	}
	if ct, ok := ctl.(*sip.ClientTx); ok {
		ct.OnRetransmission(func(res *sip.Response) {
			if res.IsSuccess() {
				s.forwardStateless(res)
			}
		})
	}
	var cancelOnce sync.Once
	cancelled := make(chan struct{})
	tx.OnCancel(func(*sip.Request) { cancelOnce.Do(func() { close(cancelled) }) })
	// Timer C (RFC 3261 §16.6 step 11): a callee that rings for ever is
	// cancelled and the caller gets 408.
	timerC := time.NewTimer(TimerC)
	defer timerC.Stop()
	for {
		select {
		case <-timerC.C:
			s.cancelDownstream(fwd)
			s.respond(tx, req, sip.StatusRequestTimeout, "")
			s.dropDialog(callID, initial)
			return
		case res := <-ctl.Responses():
			if res.StatusCode == sip.StatusTrying {
				continue
			}
			s.relay(tx, res)
			if res.StatusCode >= 300 {
				s.dropDialog(callID, initial)
			}
			if res.StatusCode >= 200 {
				return
			}
		case <-cancelled:
			cancelled = nil
			s.cancelDownstream(fwd)
		case <-ctl.Done():
			s.respond(tx, req, sip.StatusRequestTimeout, "")
			s.dropDialog(callID, initial)
			return
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Server) dropDialog(callID string, initial bool) {
	if !initial {
		return
	}
	s.mu.Lock()
	delete(s.dialogs, callID)
	s.mu.Unlock()
}

// cancelDownstream sends a CANCEL for our forwarded INVITE (RFC 3261
// §9.1: same Request-URI, Call-ID, To, From, CSeq number and top Via).
func (s *Server) cancelDownstream(fwd *sip.Request) {
	c := sip.NewRequest(sip.CANCEL, *fwd.Recipient.Clone())
	c.AppendHeader(fwd.Via().Clone())
	for _, h := range fwd.GetHeaders("Route") {
		c.AppendHeader(sip.HeaderClone(h))
	}
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	c.AppendHeader(sip.HeaderClone(fwd.From()))
	c.AppendHeader(sip.HeaderClone(fwd.To()))
	c.AppendHeader(sip.HeaderClone(fwd.CallID()))
	c.AppendHeader(&sip.CSeqHeader{SeqNo: fwd.CSeq().SeqNo, MethodName: sip.CANCEL})
	c.SetBody(nil)
	c.SetTransport(fwd.Transport())
	c.SetDestination(fwd.Destination())
	c.Laddr = fwd.Laddr
	ctl, err := s.cli.TransactionRequest(s.ctx, c, noBuild)
	if err != nil {
		s.log.Info("forward CANCEL failed", "err", err)
		return
	}
	s.goCall(func() {
		defer ctl.Terminate()
		for {
			select {
			case res := <-ctl.Responses():
				if res.StatusCode >= 200 {
					return
				}
			case <-ctl.Done():
				return
			case <-s.ctx.Done():
				return
			}
		}
	})
}

// relay passes a response from downstream back through the server
// transaction, without our Via (RFC 3261 §16.7 step 3).
func (s *Server) relay(tx sip.ServerTransaction, res *sip.Response) {
	res = res.Clone()
	res.RemoveHeader("Via")
	next := res.Via()
	if next == nil {
		return
	}
	// Clone copied the destination computed from our Via; aim at the
	// next one (its received/rport, RFC 3581 §4).
	res.SetDestination(viaDestination(next))
	if err := tx.Respond(res); err != nil {
		s.log.Debug("relay response failed", "code", res.StatusCode, "err", err)
	}
}

// forwardStateless passes on a response that matches no transaction (a
// 2xx retransmission) when the top Via is ours.
func (s *Server) forwardStateless(res *sip.Response) {
	via := res.Via()
	if via == nil || via.Host != s.advHost() || via.Port != s.listenPort(via.Transport) {
		return
	}
	res = res.Clone()
	res.RemoveHeader("Via")
	next := res.Via()
	if next == nil {
		return
	}
	res.SetDestination(viaDestination(next))
	res.SetTransport(strings.ToUpper(next.Transport))
	if err := s.ua.TransportLayer().WriteMsg(res); err != nil {
		s.log.Debug("stateless forward failed", "err", err)
	}
}

// handleStrayResponse gets responses that match no client transaction.
func (s *Server) handleStrayResponse(res *sip.Response) {
	if res.IsSuccess() && res.CSeq() != nil && res.CSeq().MethodName == sip.INVITE {
		s.forwardStateless(res)
	}
}

// viaDestination is where a response goes by a Via value: sent-by,
// overridden by received and rport (RFC 3261 §18.2.2, RFC 3581 §4).
func viaDestination(via *sip.ViaHeader) string {
	host, port := via.Host, via.Port
	if v, ok := via.Params.Get("received"); ok && v != "" {
		host = v
	}
	if v, ok := via.Params.Get("rport"); ok && v != "" {
		if p, err := strconv.Atoi(v); err == nil {
			port = p
		}
	}
	if port == 0 {
		port = defaultPort(via.Transport)
	}
	return hostPort(host, port)
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}
