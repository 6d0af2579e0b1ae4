package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deskphone/phone/hal/wake"
	"github.com/deskphone/phone/voip/sip/digest"
	siplib "github.com/emiago/sipgo/sip"
)

// The subscription engine (RFC 6665), shared by every event package:
//
//	phone (subscriber)                          server (notifier)
//	   |  SUBSCRIBE  Event: dialog  Expires: 3600     |
//	   |---------------------------------------------->|
//	   |  401/407 (digest) ... SUBSCRIBE with answer   |
//	   |<--------------------------------------------->|
//	   |  200 OK  Expires: 3600        (dialog made)   |
//	   |<----------------------------------------------|
//	   |  NOTIFY  Subscription-State: active  (state)  |  200, event
//	   |<----------------------------------------------|
//	   |  ... refresh SUBSCRIBE in the dialog before it expires ...
//	   |  NOTIFY  Subscription-State: terminated;reason=timeout
//	   |<----------------------------------------------|  200, subscribe
//	   |  SUBSCRIBE (new dialog)                        |  again at once
//	   |---------------------------------------------->|
//
// Each subscription has one goroutine (run) that sends its SUBSCRIBEs;
// NOTIFYs are handled on sipgo's request goroutine under the
// subscription's lock, parsed before anything changes.

const (
	// defaultSubExpires is the subscription lifetime asked for when
	// SubscribeOptions.Expires is zero.
	defaultSubExpires = time.Hour
	// maxSubscriptions caps the subscriptions of one UA (a BLF panel of
	// a hundred keys fits).
	maxSubscriptions = 200
	// maxNotifyBody bounds the body of a NOTIFY handed on raw.
	maxNotifyBody = 64 << 10
	// quickEnd: a subscription the notifier ends sooner than this after
	// making it is made again only after the back-off.
	quickEnd = 30 * time.Second
)

// ErrTooManySubscriptions means the UA holds maxSubscriptions already.
var ErrTooManySubscriptions = errors.New("sip: too many subscriptions")

// SubscribeOptions says what to subscribe to.
type SubscribeOptions struct {
	// Event is the event package: "message-summary", "dialog", ...
	Event string
	// Accept lists the body types we take; nil sends no Accept (the
	// package's default type, RFC 6665 §8.2.1).
	Accept []string
	// Target is the resource: a user or number at the account's domain,
	// "user@host" or a SIP URI (as Dial takes it).
	Target string
	// Expires is the lifetime asked for; zero means one hour.
	Expires time.Duration
}

// SubState is the state of a subscription.
type SubState string

const (
	// SubSubscribing: a SUBSCRIBE is on its way, no answer yet.
	SubSubscribing SubState = "subscribing"
	// SubActive: the notifier accepted the subscription.
	SubActive SubState = "active"
	// SubPending: accepted, awaiting the resource owner's approval.
	SubPending SubState = "pending"
	// SubFailed: the last attempt failed; it is retried after RetryIn.
	SubFailed SubState = "failed"
	// SubTerminated: the notifier ended the subscription for good
	// (rejected, noresource), or Close ended it.
	SubTerminated SubState = "terminated"
)

// SubStatus is a snapshot of a subscription.
type SubStatus struct {
	State SubState
	// Code and Reason are the last final response to a SUBSCRIBE (0 and
	// an error text for timeouts), or the reason of a terminated NOTIFY.
	Code   int
	Reason string
	// Expires is the lifetime granted; RetryIn when the next SUBSCRIBE
	// goes out.
	Expires, RetryIn time.Duration
	// Failures counts consecutive failed attempts.
	Failures int
}

// SubscriptionEvent reports a change of a subscription's state.
type SubscriptionEvent struct {
	Sub    *Subscription
	Status SubStatus
}

// NotifyEvent carries the body of a NOTIFY for a subscription made with
// Subscribe (WatchMWI and WatchBLF report parsed events instead).
type NotifyEvent struct {
	Sub         *Subscription
	Event       string
	ContentType string
	Body        []byte
}

func (*SubscriptionEvent) event() {}
func (*NotifyEvent) event()       {}

// notifyHandler turns NOTIFY bodies of one subscription into events.
type notifyHandler interface {
	// mediaTypes are the body types taken (nil: any).
	mediaTypes() []string
	// parse checks a body of Content-Type ctype (the whole header value)
	// and returns what applies it and gives the event to report (nil:
	// none); it changes nothing itself. gap asks the subscription to
	// refresh (state out of sequence).
	parse(s *Subscription, ctype string, body []byte) (apply func() (ev Event, gap bool), err error)
	// reset forgets the state of an old subscription dialog.
	reset()
}

// rawHandler hands bodies on as NotifyEvents.
type rawHandler struct{ event string }

func (rawHandler) mediaTypes() []string { return nil }
func (rawHandler) reset()               {}
func (h rawHandler) parse(s *Subscription, ctype string, body []byte) (func() (Event, bool), error) {
	if len(body) > maxNotifyBody {
		return nil, fmt.Errorf("body of %d bytes (limit %d)", len(body), maxNotifyBody)
	}
	return func() (Event, bool) {
		return &NotifyEvent{Sub: s, Event: h.event, ContentType: ctype, Body: append([]byte(nil), body...)}, false
	}, nil
}

// Subscription is one subscription the UA keeps alive until Close: it
// refreshes it before it expires and makes it again when the notifier
// forgets it (481, or a NOTIFY with Subscription-State terminated).
type Subscription struct {
	u      *UA
	event  string // package name, lower case
	accept []string
	ruri   siplib.Uri
	asked  time.Duration
	h      notifyHandler
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	mu        sync.Mutex // guards following
	d         dialog
	est       bool // the dialog exists (remote tag known)
	auth      authState
	st        SubStatus
	next      time.Time // when run sends the next SUBSCRIBE
	due       time.Time // an earlier time NOTIFYs or ResubscribeAll asked for (zero: none)
	renew     bool      // start a new dialog at next
	stopped   bool      // terminated by the notifier for good, or closed
	estAt     time.Time // when the current dialog was made
	quickEnds int       // dialogs in a row the notifier ended within quickEnd
	closeOnce sync.Once
}

// subscriptions is the UA's registry of subscriptions by Call-ID.
type subscriptions struct {
	mu     sync.Mutex // guards following
	byCall map[string]*Subscription
	all    map[*Subscription]bool
}

func (r *subscriptions) add(s *Subscription) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.all) >= maxSubscriptions {
		return ErrTooManySubscriptions
	}
	if r.all == nil {
		r.all, r.byCall = map[*Subscription]bool{}, map[string]*Subscription{}
	}
	r.all[s] = true
	return nil
}

func (r *subscriptions) setCall(s *Subscription, old, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byCall[old] == s {
		delete(r.byCall, old)
	}
	if r.all[s] {
		r.byCall[id] = s
	}
}

func (r *subscriptions) remove(s *Subscription, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.all, s)
	if r.byCall[id] == s {
		delete(r.byCall, id)
	}
}

func (r *subscriptions) byCallID(id string) *Subscription {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byCall[id]
}

func (r *subscriptions) list() []*Subscription {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Subscription, 0, len(r.all))
	for s := range r.all {
		out = append(out, s)
	}
	return out
}

// Subscribe starts a subscription and returns it at once; its state
// arrives as SubscriptionEvents and each NOTIFY body as a NotifyEvent.
// ctx bounds only the start; the subscription lives until its Close or
// the UA's.
func (u *UA) Subscribe(ctx context.Context, o SubscribeOptions) (*Subscription, error) {
	return u.subscribe(ctx, o, rawHandler{event: strings.ToLower(strings.TrimSpace(o.Event))})
}

func (u *UA) subscribe(ctx context.Context, o SubscribeOptions, h notifyHandler) (*Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u.mu.Lock()
	started, closed := u.started, u.closed
	u.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if !started {
		return nil, ErrNotStarted
	}
	ev := strings.ToLower(strings.TrimSpace(o.Event))
	if ev == "" || strings.ContainsAny(ev, " \t\r\n;,:") {
		return nil, fmt.Errorf("%w: event package %q", ErrBadConfig, o.Event)
	}
	ruri, err := parseTarget(o.Target, u.cfg.Account.Domain)
	if err != nil {
		return nil, err
	}
	if o.Expires <= 0 {
		o.Expires = defaultSubExpires
	}
	for _, a := range o.Accept {
		if strings.ContainsAny(a, "\r\n,") {
			return nil, fmt.Errorf("%w: Accept %q", ErrBadConfig, a)
		}
	}
	s := &Subscription{
		u: u, event: ev, accept: append([]string(nil), o.Accept...), ruri: ruri, asked: o.Expires, h: h,
		log:  u.log.With("event", ev, "target", ruri.String()),
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		st: SubStatus{State: SubSubscribing},
	}
	s.ctx, s.cancel = context.WithCancel(u.ctx)
	if err := u.subs.add(s); err != nil {
		s.cancel()
		return nil, err
	}
	s.mu.Lock()
	s.newDialogLocked()
	s.mu.Unlock()
	if !u.goFn(s.run) {
		u.subs.remove(s, s.callID())
		s.cancel()
		return nil, ErrClosed
	}
	return s, nil
}

// Target is the resource the subscription watches, as a URI.
func (s *Subscription) Target() string { return s.ruri.String() }

// Event is the event package.
func (s *Subscription) Event() string { return s.event }

// Status returns the subscription's state.
func (s *Subscription) Status() SubStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *Subscription) callID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d.callID
}

// Close ends the subscription: it stops refreshing and unsubscribes
// (SUBSCRIBE with Expires: 0, RFC 6665 §4.1.2.3), waiting at most
// Config.CloseTimeout. It is idempotent.
func (s *Subscription) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.u.cfg.CloseTimeout)
	defer cancel()
	s.close(ctx)
	return nil
}

func (s *Subscription) close(ctx context.Context) {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		s.mu.Lock()
		est := s.est && !s.stopped
		s.stopped = true
		id := s.d.callID
		s.mu.Unlock()
		if est {
			res, err := s.send(ctx, 0)
			if err != nil {
				s.log.Debug("unsubscribe failed", "err", err)
			} else if !res.IsSuccess() {
				s.log.Debug("unsubscribe refused", "code", res.StatusCode)
			}
		}
		s.u.subs.remove(s, id)
		s.setStatus(SubStatus{State: SubTerminated, Reason: "closed"})
	})
}

// closeAll unsubscribes every subscription, within ctx (UA.Close).
func (r *subscriptions) closeAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range r.list() {
		wg.Add(1)
		go func() { defer wg.Done(); s.close(ctx) }()
	}
	wg.Wait()
}

// ResubscribeAll refreshes every subscription now, so the notifiers learn
// our new Contact (call it when the SIP mapping's external address
// changed; a notifier that lost the subscription answers 481 and the
// subscription is made again).
func (u *UA) ResubscribeAll() {
	now := time.Now()
	for _, s := range u.subs.list() {
		s.mu.Lock()
		s.dueLocked(now)
		s.mu.Unlock()
	}
}

// Subscriptions returns the live subscriptions.
func (u *UA) Subscriptions() []*Subscription { return u.subs.list() }

func (s *Subscription) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Subscription) setStatus(st SubStatus) {
	s.mu.Lock()
	old := s.st
	s.st = st
	s.mu.Unlock()
	if st != old {
		s.log.Info("subscription", "state", st.State, "code", st.Code, "reason", st.Reason, "expires", st.Expires)
		s.u.emit(&SubscriptionEvent{Sub: s, Status: st})
	}
}

// newDialogLocked starts a new subscription dialog: new Call-ID and tag,
// no remote tag, route set or state.
func (s *Subscription) newDialogLocked() {
	u := s.u
	old := s.d.callID
	s.d = dialog{
		callID:    newCallID(),
		localTag:  newTag(),
		local:     u.aor(),
		localName: u.cfg.Account.DisplayName,
		remote:    siplib.Uri{Scheme: s.ruri.Scheme, User: s.ruri.User, Host: s.ruri.Host, Port: s.ruri.Port},
		target:    *s.ruri.Clone(),
		localSeq:  0,
	}
	s.est = false
	s.renew = false
	s.h.reset()
	u.subs.setCall(s, old, s.d.callID)
}

// run sends the SUBSCRIBEs until the subscription is closed or ended for
// good.
func (s *Subscription) run() {
	defer close(s.done)
	ctx := s.ctx
	failures, renewals, briefs := 0, 0, 0
	for {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return
		}
		if s.renew {
			s.newDialogLocked()
		}
		s.mu.Unlock()
		res, err := s.send(ctx, s.asked)
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		st := SubStatus{State: SubFailed}
		switch {
		case err != nil:
			failures++
			st.Reason = err.Error()
			if errors.Is(err, ErrAuthFailed) {
				st.Reason = "authentication failed"
				if res != nil {
					st.Code = res.StatusCode
				}
			}
			wait = s.u.backoff(failures)
		case res.IsSuccess():
			failures = 0
			granted := s.asked
			if h := res.GetHeader("Expires"); h != nil {
				if n, perr := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32); perr == nil {
					granted = time.Duration(n) * time.Second
				}
			}
			s.mu.Lock()
			cur := s.st.State
			s.mu.Unlock()
			st.State = SubActive
			if cur == SubPending {
				st.State = SubPending
			}
			st.Code, st.Reason, st.Expires = res.StatusCode, res.Reason, granted
			if granted <= 0 {
				// The notifier ends it at once: make a new one later.
				failures++
				st.State, st.Reason = SubFailed, "notifier granted no time"
				wait = s.u.backoff(failures)
				s.mu.Lock()
				s.renew = true
				s.mu.Unlock()
				break
			}
			wait = refreshAfter(granted)
		case res.StatusCode == 481 && renewals < 1:
			// The notifier forgot the dialog (RFC 6665 §4.1.2.2): make
			// a new subscription at once.
			renewals++
			s.mu.Lock()
			s.renew = true
			s.mu.Unlock()
			s.log.Info("subscription unknown to the notifier (481): subscribing again")
			continue
		case res.StatusCode == 423:
			// RFC 6665 §4.1.2.1 / RFC 3261 §10.2.8: retry with
			// Min-Expires, three times at most in a row.
			if me := minExpires(res); me > s.asked && briefs < 3 {
				briefs++
				s.asked = me
				continue
			}
			failures++
			st.Code, st.Reason = res.StatusCode, res.Reason
			wait = s.u.backoff(failures)
		default:
			failures++
			st.Code, st.Reason = res.StatusCode, res.Reason
			wait = s.u.backoff(failures)
			if ra := retryAfter(res); ra > 0 {
				wait = max(wait, ra)
			}
			s.mu.Lock()
			if !s.est || res.StatusCode == 481 {
				s.renew = true
			}
			s.mu.Unlock()
		}
		renewals, briefs = 0, 0
		st.Failures = failures
		if st.State == SubFailed {
			st.RetryIn = wait
		}
		s.mu.Lock()
		s.next = time.Now().Add(wait)
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			return
		}
		s.setStatus(st)
		if !s.sleep(ctx) {
			return
		}
	}
}

// sleep waits until s.next, or s.due when NOTIFYs or ResubscribeAll
// asked for an earlier SUBSCRIBE.
func (s *Subscription) sleep(ctx context.Context) bool {
	for {
		s.mu.Lock()
		at := s.next
		if !s.due.IsZero() && s.due.Before(at) {
			at = s.due
		}
		d := time.Until(at)
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			return false
		}
		if d <= 0 {
			return true
		}
		t := wake.NewTimer(d) // a refresh minutes away: on time while idle (hal/wake)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
			return true
		case <-s.wake:
			t.Stop()
		}
	}
}

// send sends one SUBSCRIBE (in the dialog once it exists), answering up
// to three digest challenges, and returns the final response. A 2xx
// establishes the dialog (RFC 6665 §4.1.2.1).
func (s *Subscription) send(ctx context.Context, expires time.Duration) (*sipResponse, error) {
	u := s.u
	cr := digest.Credentials{Username: u.cfg.Account.AuthUser, Password: u.cfg.Account.Password}
	fresh := false
	for range 4 {
		s.mu.Lock()
		s.due = time.Time{} // this SUBSCRIBE is what was asked for
		req := s.newRequestLocked(expires)
		err := s.auth.apply(req, cr)
		sentAuth := s.auth.chal != nil
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		res, err := u.doAny(ctx, req)
		if err != nil {
			return nil, err
		}
		switch res.StatusCode {
		case 401, 407:
			s.mu.Lock()
			err := s.auth.update(res, fresh)
			s.mu.Unlock()
			if err != nil {
				return res, err
			}
			fresh = true
			continue
		case 403:
			if sentAuth {
				return res, ErrAuthFailed
			}
		}
		if res.IsSuccess() {
			s.mu.Lock()
			s.establishLocked(res)
			s.mu.Unlock()
		}
		return res, nil
	}
	return nil, fmt.Errorf("%w: too many challenges", ErrAuthFailed)
}

// establishLocked takes the dialog from a 2xx to our SUBSCRIBE (RFC 3261
// §12.1.2): remote tag, target, route set (reversed Record-Route). A
// NOTIFY that came first made it already.
func (s *Subscription) establishLocked(res *sipResponse) {
	if s.est {
		if c, ok := contactOf(res); ok {
			s.d.target = c
		}
		return
	}
	s.d.remoteTag = tagOf(res.To().Params)
	if c, ok := contactOf(res); ok {
		s.d.target = c
	}
	s.d.routes = reversed(routeSetFrom(res))
	s.est, s.estAt = true, time.Now()
}

// newRequestLocked builds the next SUBSCRIBE: out of dialog (with the
// outbound route) before the dialog exists, else within it (RFC 3261
// §12.2.1.1).
func (s *Subscription) newRequestLocked(expires time.Duration) *sipRequest {
	u := s.u
	d := &s.d
	d.localSeq++
	var req *sipRequest
	if !s.est {
		to := &siplib.ToHeader{Address: *d.remote.Clone(), Params: siplib.NewParams()}
		req = u.baseRequest(siplib.SUBSCRIBE, *s.ruri.Clone(), to, d.callID, d.localSeq)
		req.From().Params.Add("tag", d.localTag)
		// Without an outbound proxy the registrar routes every
		// subscription (a list URI on another host too): the line's
		// flow, NAT binding and keepalives are to it. With one, the
		// Route header sends it there.
		if u.cfg.Account.OutboundProxy == "" {
			if srv := u.serverAddr(); srv.IsValid() {
				req.SetDestination(hostPort(srv))
			}
		}
	} else {
		req = u.dialogRequest(d, siplib.SUBSCRIBE)
	}
	req.AppendHeader(u.contactHeader())
	req.AppendHeader(siplib.NewHeader("Event", s.event))
	if len(s.accept) > 0 {
		req.AppendHeader(siplib.NewHeader("Accept", strings.Join(s.accept, ", ")))
	}
	e := siplib.ExpiresHeader(int(expires / time.Second))
	req.AppendHeader(&e)
	req.AppendHeader(siplib.NewHeader("Allow", allowMethods+", SUBSCRIBE, NOTIFY"))
	if sh, ok := s.h.(interface{ supported() string }); ok {
		req.AppendHeader(siplib.NewHeader("Supported", sh.supported()))
	}
	req.SetBody(nil)
	return req
}

func (u *UA) serverAddr() netip.AddrPort {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.server
}

// dialogRequest builds a request in dialog d (RFC 3261 §12.2.1.1),
// incrementing nothing: the caller set d.localSeq.
func (u *UA) dialogRequest(d *dialog, method siplib.RequestMethod) *sipRequest {
	ruri := *d.target.Clone()
	routes := d.routes
	if len(routes) > 0 && !isLoose(routes[0]) {
		ruri = *routes[0].Clone()
		routes = append(append([]siplib.Uri(nil), routes[1:]...), *d.target.Clone())
	}
	req := siplib.NewRequest(method, ruri)
	req.AppendHeader(u.newVia())
	mf := siplib.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &siplib.FromHeader{DisplayName: d.localName, Address: *d.local.Clone(), Params: siplib.NewParams()}
	from.Params.Add("tag", d.localTag)
	req.AppendHeader(from)
	to := &siplib.ToHeader{DisplayName: d.remoteName, Address: *d.remote.Clone(), Params: siplib.NewParams()}
	if d.remoteTag != "" {
		to.Params.Add("tag", d.remoteTag)
	}
	req.AppendHeader(to)
	cid := siplib.CallIDHeader(d.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&siplib.CSeqHeader{SeqNo: d.localSeq, MethodName: method})
	for _, r := range routes {
		req.AppendHeader(&siplib.RouteHeader{Address: *r.Clone()})
	}
	if len(routes) == 0 {
		// Without a route set the request still goes on the line's flow
		// to its server (outbound proxy or registrar), which routes it
		// by the Request-URI: the phone's NAT binding, keepalives and
		// TCP/TLS connection are to that server, not to the notifier's
		// Contact.
		if srv := u.serverAddr(); srv.IsValid() {
			req.SetDestination(hostPort(srv))
		}
	}
	req.AppendHeader(siplib.NewHeader("User-Agent", u.cfg.UserAgent))
	return req
}

// doAny is UA.do for requests that must still go out while the UA
// closes (the un-SUBSCRIBE): it sends through sendRequest directly.
func (u *UA) doAny(ctx context.Context, req *sipRequest) (*sipResponse, error) {
	tx, err := u.sendRequest(ctx, req, true)
	if err != nil {
		return nil, fmt.Errorf("sip: send %s: %w", req.Method, err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				if errors.Is(err, siplib.ErrTransactionTimeout) {
					return nil, fmt.Errorf("%w: %s: %w", ErrTimeout, req.Method, err)
				}
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: transaction ended", ErrTimeout, req.Method)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
