package pbx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The event server: a notifier (RFC 6665) for the message-summary (RFC
// 3842) and dialog (RFC 4235) event packages, for tests of a phone's
// subscriptions. A SUBSCRIBE for either package to one of Users is
// authenticated (401), answered 200 with the granted Expires, and
// followed by a NOTIFY with the resource's current state; refreshes in
// the dialog are answered the same way, Expires: 0 ends the subscription
// with a terminated NOTIFY. The state itself is whatever the test sets
// with Notify: the PBX does not derive it from calls. NOTIFYs go to the
// address the SUBSCRIBE came from (as with NATFix).

// ErrNoSubscription is returned by the event methods when no
// subscription matched.
var ErrNoSubscription = errors.New("pbx: no such subscription")

// served lists the event packages the event server answers.
var served = map[string]bool{"message-summary": true, "dialog": true}

// EventSub describes a subscription the event server holds.
type EventSub struct {
	// Event is the package, User the resource (Request-URI user).
	Event, User string
	// Subscriber is the From URI of the SUBSCRIBE.
	Subscriber string
	CallID     string
	// Expires is the lifetime last granted; Subscribes counts the
	// SUBSCRIBEs accepted in this dialog (1 before any refresh).
	Expires    time.Duration
	Subscribes int
}

// eventSub is the notifier's side of one subscription dialog.
type eventSub struct {
	EventSub
	localTag  string
	remote    sip.FromHeader // the subscriber (To of our NOTIFYs)
	contact   sip.Uri        // the subscriber's Contact: our NOTIFYs' Request-URI
	to        hop            // where NOTIFYs go
	cseq      uint32
	remoteSeq uint32
	mu        sync.Mutex // guards cseq and the fields above
	// sending is held (a token in the channel) from a NOTIFY's CSeq to
	// its final response, so the NOTIFYs of the dialog go out one at a
	// time in CSeq order (one overtaking another would be refused 500 by
	// the subscriber, RFC 3261 §12.2.2). A channel, not a mutex: a
	// goroutine waiting on it is durably blocked in a synctest bubble.
	sending chan struct{}
}

// events is the event server's state.
type events struct {
	mu    sync.Mutex           // guards following
	subs  map[string]*eventSub // by Call-ID
	state map[string]noteState // current state by event and user
}

type noteState struct {
	contentType string
	body        []byte
}

func stateKey(event, user string) string { return event + "\x00" + user }

// eventPackage is the package of a request's Event header, lower case.
func eventPackage(req *sip.Request) string {
	h := req.GetHeader("Event")
	if h == nil {
		return ""
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	return strings.ToLower(strings.TrimSpace(v))
}

// handleEvent takes the SUBSCRIBEs of the served packages; it reports
// false for every other request.
func (s *Server) handleEvent(req *sip.Request, tx sip.ServerTransaction, inDialog bool) bool {
	if req.Method != sip.SUBSCRIBE || !served[eventPackage(req)] {
		return false
	}
	if inDialog {
		s.events.mu.Lock()
		es := s.events.subs[req.CallID().Value()]
		s.events.mu.Unlock()
		if es == nil {
			s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist")
			return true
		}
		s.refreshSubscription(es, req, tx)
		return true
	}
	s.newSubscription(req, tx)
	return true
}

// grant checks the Expires of a SUBSCRIBE: 423 below MinExpires (but 0),
// capped at MaxExpires. ok false when it answered.
func (s *Server) grant(req *sip.Request, tx sip.ServerTransaction) (time.Duration, bool) {
	exp := DefaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			s.respond(tx, req, sip.StatusBadRequest, "Bad Expires")
			return 0, false
		}
		exp = time.Duration(n) * time.Second
	}
	if exp != 0 && exp < s.cfg.MinExpires {
		s.respond(tx, req, 423, "", sip.NewHeader("Min-Expires", strconv.Itoa(int(s.cfg.MinExpires/time.Second))))
		return 0, false
	}
	return min(exp, s.cfg.MaxExpires), true
}

func (s *Server) newSubscription(req *sip.Request, tx sip.ServerTransaction) {
	user := req.Recipient.User
	if _, ok := s.cfg.Users[user]; !ok {
		s.respond(tx, req, sip.StatusNotFound, "")
		return
	}
	if _, ok := s.authenticate(req, tx, false); !ok {
		return
	}
	exp, ok := s.grant(req, tx)
	if !ok {
		return
	}
	ct := req.Contact()
	if ct == nil {
		s.respond(tx, req, sip.StatusBadRequest, "Missing Contact")
		return
	}
	es := &eventSub{
		EventSub: EventSub{Event: eventPackage(req), User: user, Subscriber: req.From().Address.String(),
			CallID: req.CallID().Value(), Expires: exp, Subscribes: 1},
		localTag:  sip.GenerateTagN(16),
		remote:    *sip.HeaderClone(req.From()).(*sip.FromHeader),
		contact:   *ct.Address.Clone(),
		to:        hop{dest: source(req), transport: strings.ToUpper(req.Transport())},
		remoteSeq: req.CSeq().SeqNo,
		sending:   make(chan struct{}, 1),
	}
	if exp > 0 {
		s.events.mu.Lock()
		if s.events.subs == nil {
			s.events.subs = map[string]*eventSub{}
		}
		s.events.subs[es.CallID] = es
		s.events.mu.Unlock()
	}
	s.respondSubscribe(req, tx, es, exp)
	s.log.Info("subscription", "event", es.Event, "user", user, "expires", exp, "call_id", es.CallID)
	s.goCall(func() { s.notifyCurrent(es, exp) })
}

func (s *Server) refreshSubscription(es *eventSub, req *sip.Request, tx sip.ServerTransaction) {
	es.mu.Lock()
	tag, _ := req.To().Params.Get("tag")
	ok := tag == es.localTag && req.CSeq().SeqNo > es.remoteSeq
	es.mu.Unlock()
	if !ok {
		s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist")
		return
	}
	if _, ok := s.authenticate(req, tx, false); !ok {
		return
	}
	exp, ok := s.grant(req, tx)
	if !ok {
		return
	}
	es.mu.Lock()
	es.remoteSeq = req.CSeq().SeqNo
	es.Subscribes++
	es.Expires = exp
	if ct := req.Contact(); ct != nil {
		es.contact = *ct.Address.Clone() // SUBSCRIBE is a target refresh
	}
	es.to = hop{dest: source(req), transport: strings.ToUpper(req.Transport())}
	es.mu.Unlock()
	if exp == 0 {
		s.events.mu.Lock()
		delete(s.events.subs, es.CallID)
		s.events.mu.Unlock()
	}
	s.respondSubscribe(req, tx, es, exp)
	s.goCall(func() { s.notifyCurrent(es, exp) })
}

func (s *Server) respondSubscribe(req *sip.Request, tx sip.ServerTransaction, es *eventSub, exp time.Duration) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.To().Params.Add("tag", es.localTag)
	res.AppendHeader(&sip.ContactHeader{Address: s.eventContact(es.User, strings.ToUpper(req.Transport()))})
	e := sip.ExpiresHeader(int(exp / time.Second))
	res.AppendHeader(&e)
	if err := tx.Respond(res); err != nil {
		s.log.Debug("respond failed", "err", err)
	}
}

// eventContact is our Contact in a subscription dialog over transport.
func (s *Server) eventContact(user, transport string) sip.Uri {
	u := sip.Uri{Scheme: "sip", User: user, Host: s.advHost(), Port: s.listenPort(transport)}
	if !strings.EqualFold(transport, "UDP") {
		u.UriParams = sip.HeaderParams{{K: "transport", V: strings.ToLower(transport)}}
	}
	return u
}

// notifyCurrent sends the NOTIFY that follows a SUBSCRIBE: the current
// state, or terminated for an un-SUBSCRIBE.
func (s *Server) notifyCurrent(es *eventSub, exp time.Duration) {
	s.events.mu.Lock()
	st := s.events.state[stateKey(es.Event, es.User)]
	s.events.mu.Unlock()
	state := "active;expires=" + strconv.Itoa(int(exp/time.Second))
	if exp == 0 {
		state = "terminated;reason=timeout"
	}
	if _, err := s.sendNotify(s.ctx, es, state, st.contentType, st.body); err != nil {
		s.log.Debug("NOTIFY failed", "err", err, "call_id", es.CallID)
	}
}

// sendNotify sends one NOTIFY in es's dialog and returns the status of
// the final response.
func (s *Server) sendNotify(ctx context.Context, es *eventSub, state, contentType string, body []byte) (int, error) {
	select {
	case es.sending <- struct{}{}:
		defer func() { <-es.sending }()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	es.mu.Lock()
	es.cseq++
	req := sip.NewRequest(sip.NOTIFY, *es.contact.Clone())
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: es.to.transport,
		Host: s.advHost(), Port: s.listenPort(es.to.transport), Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	req.AppendHeader(via)
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: es.User, Host: s.cfg.Realm}, Params: sip.NewParams()}
	from.Params.Add("tag", es.localTag)
	req.AppendHeader(from)
	to := sip.ToHeader(es.remote)
	to.Params = es.remote.Params.Clone()
	req.AppendHeader(&to)
	cid := sip.CallIDHeader(es.CallID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: es.cseq, MethodName: sip.NOTIFY})
	req.AppendHeader(&sip.ContactHeader{Address: s.eventContact(es.User, es.to.transport)})
	req.AppendHeader(sip.NewHeader("Event", es.Event))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	if len(body) > 0 {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
		if strings.HasPrefix(strings.ToLower(contentType), "multipart/related") {
			req.AppendHeader(sip.NewHeader("Require", "eventlist")) // RFC 4662 §5
		}
	}
	req.SetBody(body)
	s.pin(req, es.to)
	es.mu.Unlock()
	return s.transact(ctx, req)
}

// transact sends a request we originate and returns the final status.
func (s *Server) transact(ctx context.Context, req *sip.Request) (int, error) {
	ctl, err := s.cli.TransactionRequest(ctx, req, noBuild)
	if err != nil {
		return 0, fmt.Errorf("pbx: send %s: %w", req.Method, err)
	}
	defer ctl.Terminate()
	for {
		select {
		case res := <-ctl.Responses():
			if res.StatusCode >= 200 {
				return res.StatusCode, nil
			}
		case <-ctl.Done():
			return 0, fmt.Errorf("pbx: %s: no final response", req.Method)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Notify sets the state of event (message-summary or dialog) for user
// and sends it in a NOTIFY to every subscription to it. It returns the
// final status of each NOTIFY, in no particular order (a test reads 400
// for a body the phone refused), or ErrNoSubscription.
func (s *Server) Notify(ctx context.Context, event, user, contentType string, body []byte) ([]int, error) {
	s.events.mu.Lock()
	if s.events.state == nil {
		s.events.state = map[string]noteState{}
	}
	s.events.state[stateKey(event, user)] = noteState{contentType: contentType, body: append([]byte(nil), body...)}
	subs := s.matching(event, user)
	s.events.mu.Unlock()
	if len(subs) == 0 {
		return nil, ErrNoSubscription
	}
	var codes []int
	for _, es := range subs {
		es.mu.Lock()
		state := "active;expires=" + strconv.Itoa(int(es.Expires/time.Second))
		es.mu.Unlock()
		code, err := s.sendNotify(ctx, es, state, contentType, body)
		if err != nil {
			return codes, err
		}
		codes = append(codes, code)
	}
	return codes, nil
}

// Terminate ends every subscription to event for user with a NOTIFY
// carrying Subscription-State: terminated;reason=<reason> (RFC 6665
// §4.1.3) and forgets them.
func (s *Server) Terminate(ctx context.Context, event, user, reason string) error {
	s.events.mu.Lock()
	subs := s.matching(event, user)
	for _, es := range subs {
		delete(s.events.subs, es.CallID)
	}
	s.events.mu.Unlock()
	if len(subs) == 0 {
		return ErrNoSubscription
	}
	state := "terminated"
	if reason != "" {
		state += ";reason=" + reason
	}
	for _, es := range subs {
		if _, err := s.sendNotify(ctx, es, state, "", nil); err != nil {
			return err
		}
	}
	return nil
}

// ForgetSubscriptions drops every subscription without telling the
// subscribers, as a notifier that restarted would: their next refresh
// gets 481.
func (s *Server) ForgetSubscriptions() {
	s.events.mu.Lock()
	s.events.subs = nil
	s.events.mu.Unlock()
}

// Subscriptions lists the subscriptions the event server holds.
func (s *Server) Subscriptions() []EventSub {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	out := make([]EventSub, 0, len(s.events.subs))
	for _, es := range s.events.subs {
		es.mu.Lock()
		out = append(out, es.EventSub)
		es.mu.Unlock()
	}
	return out
}

// matching returns the subscriptions to event for user; events.mu held.
func (s *Server) matching(event, user string) []*eventSub {
	var out []*eventSub
	for _, es := range s.events.subs {
		if es.Event == event && es.User == user {
			out = append(out, es)
		}
	}
	return out
}

// NotifyUnsolicited sends user's newest binding a NOTIFY outside any
// dialog with Event: message-summary (as Asterisk does for mailboxes
// without a subscription) and returns the final status.
func (s *Server) NotifyUnsolicited(ctx context.Context, user, contentType string, body []byte) (int, error) {
	bs := s.reg.lookup(user)
	if len(bs) == 0 {
		return 0, fmt.Errorf("pbx: %s is not registered", user)
	}
	b := bs[0]
	to, ok := s.hopForBinding(b)
	if !ok {
		to = hop{dest: b.Source, transport: b.Transport}
	}
	if s.cfg.NATFix || !to.dest.IsValid() {
		to = hop{dest: b.Source, transport: b.Transport}
	}
	req := sip.NewRequest(sip.NOTIFY, *b.Contact.Clone())
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: to.transport,
		Host: s.advHost(), Port: s.listenPort(to.transport), Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	req.AppendHeader(via)
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: s.cfg.Realm}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: s.cfg.Realm}, Params: sip.NewParams()})
	cid := sip.CallIDHeader(sip.GenerateTagN(24))
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.NOTIFY})
	req.AppendHeader(sip.NewHeader("Event", "message-summary"))
	req.AppendHeader(sip.NewHeader("Subscription-State", "active"))
	if len(body) > 0 {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	}
	req.SetBody(body)
	s.pin(req, to)
	return s.transact(ctx, req)
}
