package sip

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/deskphone/phone/hal/wake"
	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sip/digest"
	"github.com/deskphone/phone/voip/sip/resolve"
	siplib "github.com/emiago/sipgo/sip"
)

// RegState is the registration state.
type RegState string

const (
	RegUnregistered RegState = "unregistered"
	RegRegistering  RegState = "registering"
	RegRegistered   RegState = "registered"
	RegFailed       RegState = "failed"
)

// RegStatus is a snapshot of the registration.
type RegStatus struct {
	State RegState
	// Code and Reason are the last final response (or 0 and an error
	// text for timeouts and transport errors). Reason is
	// "authentication failed" when the credentials were refused.
	Code   int
	Reason string
	// Expires is the lifetime the registrar granted.
	Expires time.Duration
	// RefreshIn is when the next REGISTER goes out, from the change.
	RefreshIn time.Duration
	// Contact is the contact we registered.
	Contact string
	// Received is the source address the registrar saw (Via
	// received/rport, RFC 3581), zero when not reported.
	Received netip.AddrPort
	// ContactAddr is the address in the Contact we sent; EchoedContact
	// the address the registrar listed for our binding in its 200 OK.
	// They differ when a SIP ALG rewrote our Contact on the way.
	ContactAddr, EchoedContact netip.AddrPort
	// Failures counts consecutive failed attempts.
	Failures int
	// Server is the target of the last attempt ("udp:192.0.2.1:5060
	// (pbx1.example.com)"), empty when none could be found.
	Server string
	// Since is when the state last changed.
	Since time.Time
	// RefreshAt is when the next REGISTER goes out (RefreshIn from the
	// attempt that set it); zero when none is due.
	RefreshAt time.Time
}

// Registration returns the current registration status.
func (u *UA) Registration() RegStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.reg
}

func (u *UA) setReg(s RegStatus) {
	u.mu.Lock()
	old := u.reg
	s.RefreshAt = time.Time{}
	if s.RefreshIn > 0 {
		s.RefreshAt = time.Now().Add(s.RefreshIn)
	}
	if s.State != old.State {
		s.Since = time.Now()
	} else {
		s.Since = old.Since
	}
	u.reg = s
	u.mu.Unlock()
	// A change of what the registrar saw (Via received/rport) or of our
	// Contact is news too: the port manager adopts the received address.
	if s.State != old.State || s.Code != old.Code || s.Expires != old.Expires || s.Reason != old.Reason ||
		s.Received != old.Received || s.Contact != old.Contact || s.EchoedContact != old.EchoedContact || s.Server != old.Server {
		u.log.Info("registration", "state", s.State, "code", s.Code, "reason", s.Reason, "expires", s.Expires, "server", s.Server)
		u.emit(&RegistrationEvent{Status: s})
	}
}

// Reregister asks the registration loop to REGISTER now (for example
// after the external address changed).
func (u *UA) Reregister() {
	select {
	case u.regKick <- struct{}{}:
	default:
	}
}

// registrar is the state of one registration series (one Call-ID).
type registrar struct {
	u    *UA
	ruri siplib.Uri
	cseq uint32
	auth authState
	// bound is the Contact the registrar last accepted (zero Host: none).
	// When our Contact changes (a new external address from the port
	// manager), the next REGISTER also removes bound with expires=0
	// (RFC 3261 §10.2.2), or the registrar keeps both and forks every
	// INVITE to the dead one as well. Only regLoop and unregister, which
	// never run at once, touch it.
	bound siplib.Uri
	// sent is the Contact of the latest REGISTER.
	sent siplib.Uri
}

// regLoop registers and refreshes until the UA closes. Refresh happens at
// refreshAfter(granted); failures back off (backoff); 423 retries at
// once with Min-Expires; 503 waits for Retry-After.
func (u *UA) regLoop() {
	ruri, _ := parseServer(u.cfg.Account.Registrar, u.cfg.Account.Transport)
	ruri.User = "" // RFC 3261 §10.2: no userinfo in a REGISTER Request-URI
	ruri.UriParams = nil
	if u.tr == portmgr.TCP {
		ruri.UriParams = siplib.HeaderParams{{K: "transport", V: "tcp"}}
	}
	r := &registrar{u: u, ruri: ruri, cseq: 1}
	u.mu.Lock()
	u.regr = r
	u.mu.Unlock()
	ctx := u.ctx
	expires := u.cfg.Account.Expires
	failures := 0
	briefs := 0
	hops := 0 // failovers in a row without a back-off
	for {
		cur := u.Registration()
		if cur.State != RegRegistered {
			cur.State = RegRegistering
			u.setReg(cur)
		}
		// RFC 3263 §4.3: the target for this attempt; a timeout, a
		// transport error or a 503 moves on to the next one at once.
		tg, _, err := u.regTarget(ctx)
		var res *sipResponse
		if err == nil {
			rctx, done := u.familyCtx(ctx, tg)
			res, err = r.register(rctx, expires)
			err = done(err)
		}
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		ct := u.contactURI()
		st := RegStatus{Contact: ct.String(), Failures: failures, Server: tg.String()}
		if tg.Addr.IsValid() {
			if why, hold, ok := failoverCause(res, err); ok {
				// Move on at once, but once round the list at most: then
				// back off, even when the first target's hold has ended.
				if u.targetFailed(tg, hold, why) && hops+1 < u.targetCount() {
					hops++
					failures++
					u.setReg(RegStatus{
						State: RegFailed, Code: codeOf(res), Failures: failures, Contact: st.Contact, Server: st.Server,
						Reason: fmt.Sprintf("%s: %s; trying the next server", tg, why),
					})
					continue
				}
				if err != nil {
					err = fmt.Errorf("no server of %s answers (last %s: %w)", u.getTargets().host, tg, err)
				}
			} else if err == nil {
				u.targetOK(tg)
			}
		}
		switch {
		case err != nil:
			failures++
			st.State, st.Failures = RegFailed, failures
			st.Reason = err.Error()
			if u.transportName() == "TLS" {
				st.Reason += tlsHint(u.cfg.Account.TLS, err, time.Now())
			}
			if errors.Is(err, ErrAuthFailed) {
				st.Reason = "authentication failed"
				if res != nil {
					st.Code = res.StatusCode
				}
			}
			wait = u.backoff(failures)
		case res.IsSuccess():
			failures, briefs = 0, 0
			granted := grantedExpiry(res, u.contactURI(), expires)
			if granted <= 0 {
				failures++
				st.State, st.Code, st.Reason = RegFailed, res.StatusCode, "registrar granted no binding"
				wait = u.backoff(failures)
				break
			}
			wait = refreshAfter(granted)
			st.State, st.Code, st.Reason = RegRegistered, res.StatusCode, res.Reason
			st.Expires, st.RefreshIn = granted, wait
			st.Received = viaReceived(res)
			ours := u.contactURI()
			st.ContactAddr = uriAddr(ours)
			st.EchoedContact = echoedContact(res, ours)
			r.bound = r.sent
		case res.StatusCode == 423 && briefs < 3:
			// RFC 3261 §10.2.8: retry with at least Min-Expires.
			briefs++
			if me := minExpires(res); me > expires {
				expires = me
				continue
			}
			failures++
			st.State, st.Code, st.Reason, st.Failures = RegFailed, res.StatusCode, res.Reason, failures
			wait = u.backoff(failures)
		default:
			failures++
			st.State, st.Code, st.Reason, st.Failures = RegFailed, res.StatusCode, res.Reason, failures
			wait = u.backoff(failures)
			if ra := retryAfter(res); ra > 0 && (res.StatusCode == 503 || res.StatusCode == 500 || res.StatusCode == 480 || res.StatusCode == 486 || res.StatusCode == 600 || res.StatusCode == 603) {
				// RFC 3261 §21.5.4 / §20.33: wait as long as asked.
				wait = ra
			}
		}
		hops = 0
		if st.State == RegFailed {
			st.RefreshIn = wait
			if cur := u.Registration(); cur.State == RegRegistered {
				// A failed refresh: the binding may still hold until it expires.
				u.log.Warn("registration refresh failed", "code", st.Code, "reason", st.Reason)
			}
		}
		u.setReg(st)
		if st.State == RegRegistered && u.cfg.Registered != nil {
			u.cfg.Registered()
		}
		// wake: on time while the phone is idle (hal/wake, issue 19).
		t := wake.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-u.regKick:
			t.Stop()
		}
	}
}

// backoff is RetryMin doubled per failure, capped at RetryMax, ±20 %.
func (u *UA) backoff(failures int) time.Duration {
	d := u.cfg.RetryMin
	for i := 1; i < failures && d < u.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, u.cfg.RetryMax)
	j := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * j)
}

// refreshAfter is when to refresh a binding granted for g: 85 % of g or
// 30 s before it expires, whichever is sooner, but never before half of
// g has passed, and at least one second.
func refreshAfter(g time.Duration) time.Duration {
	r := min(g*85/100, g-30*time.Second)
	r = max(r, g/2)
	return max(r, time.Second)
}

// register sends one REGISTER (answering up to three challenges) and
// returns the final response.
func (r *registrar) register(ctx context.Context, expires time.Duration) (*sipResponse, error) {
	u := r.u
	cr := digest.Credentials{Username: u.cfg.Account.AuthUser, Password: u.cfg.Account.Password}
	fresh := false
	for attempt := 0; attempt < 4; attempt++ {
		req := r.newRequest(expires)
		if err := r.auth.apply(req, cr); err != nil {
			return nil, err
		}
		sentAuth := r.auth.chal != nil
		res, err := u.do(ctx, req)
		if err != nil {
			return nil, err
		}
		switch res.StatusCode {
		case 401, 407:
			if err := r.auth.update(res, fresh); err != nil {
				return res, err
			}
			fresh = true
			continue
		case 403:
			if sentAuth {
				return res, ErrAuthFailed
			}
		}
		return res, nil
	}
	return nil, fmt.Errorf("%w: too many challenges", ErrAuthFailed)
}

func (r *registrar) newRequest(expires time.Duration) *sipRequest {
	u := r.u
	r.cseq++
	to := &siplib.ToHeader{DisplayName: wireName(u.cfg.Account.DisplayName), Address: u.aor(), Params: siplib.NewParams()}
	req := u.baseRequest(siplib.REGISTER, r.ruri, to, u.regCallID, r.cseq)
	// The From tag of a REGISTER series may change; keep one per request.
	ct := u.contactHeader()
	r.sent = ct.Address
	secs := int(expires / time.Second)
	ct.Params.Add("expires", strconv.Itoa(secs))
	if a := u.cfg.Account; a.InstanceID != "" {
		ct.Params.Add("+sip.instance", `"<`+a.InstanceID+`>"`)
		if a.RegID > 0 {
			ct.Params.Add("reg-id", strconv.Itoa(a.RegID))
		}
	}
	req.AppendHeader(ct)
	if r.bound.Host != "" && !sameContact(r.bound, ct.Address) {
		// Our address changed: drop the old binding in the same request.
		old := &siplib.ContactHeader{Address: *r.bound.Clone(), Params: siplib.NewParams()}
		old.Params.Add("expires", "0")
		req.AppendHeader(old)
	}
	e := siplib.ExpiresHeader(secs)
	req.AppendHeader(&e)
	if u.cfg.Prack {
		req.AppendHeader(siplib.NewHeader("Supported", "100rel"))
	}
	req.AppendHeader(siplib.NewHeader("Allow", allowMethods))
	req.SetBody(nil)
	return req
}

// unregister removes our binding (Expires: 0), answering one challenge,
// bounded by ctx.
func (u *UA) unregister(ctx context.Context) {
	// Continue the series the loop used: same Call-ID, higher CSeq, and
	// its last challenge for a pre-emptive answer.
	u.mu.Lock()
	r := u.regr
	u.mu.Unlock()
	if r == nil {
		return
	}
	res, err := r.register(ctx, 0)
	st := u.Registration()
	st.State, st.Expires, st.RefreshIn = RegUnregistered, 0, 0
	if err != nil {
		st.Reason = "un-REGISTER: " + err.Error()
	} else {
		st.Code, st.Reason = res.StatusCode, res.Reason
	}
	u.setReg(st)
}

// grantedExpiry is the lifetime the registrar granted our contact: its
// expires parameter in the 200, else the Expires header, else what we
// asked for (RFC 3261 §10.2.4).
func grantedExpiry(res *sipResponse, ours siplib.Uri, asked time.Duration) time.Duration {
	var exp *time.Duration
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*siplib.ContactHeader)
		if !ok || !sameContact(c.Address, ours) {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
				d := time.Duration(n) * time.Second
				exp = &d
			}
		}
	}
	if exp != nil {
		return *exp
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

func sameContact(a, b siplib.Uri) bool {
	pa, pb := a.Port, b.Port
	if pa == 0 {
		pa = 5060
	}
	if pb == 0 {
		pb = 5060
	}
	return strings.EqualFold(a.Host, b.Host) && pa == pb && a.User == b.User
}

func minExpires(res *sipResponse) time.Duration {
	h := res.GetHeader("Min-Expires")
	if h == nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0
	}
	return time.Duration(n) * time.Second
}

// viaReceived is the address the server saw us at (RFC 3581 §4).
// echoedContact returns the address of the Contact the registrar lists
// for our binding (RFC 3261 §10.3 step 8): ours when it came back
// unchanged, else the binding of our user that differs from every other
// one we could have sent -- what a SIP ALG rewrote our Contact into. Zero
// when the registrar listed nothing for our user.
func echoedContact(res *sipResponse, ours siplib.Uri) netip.AddrPort {
	var other netip.AddrPort
	n := 0
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*siplib.ContactHeader)
		if !ok || c.Address.User != ours.User {
			continue
		}
		if sameContact(c.Address, ours) {
			return uriAddr(ours)
		}
		if ap := uriAddr(c.Address); ap.IsValid() {
			other, n = ap, n+1
		}
	}
	if n == 1 {
		return other
	}
	return netip.AddrPort{} // none, or several other bindings: nothing to conclude
}

// uriAddr is a SIP URI's IP and port (5060 when absent); zero for a host
// name.
func uriAddr(u siplib.Uri) netip.AddrPort {
	ip, err := netip.ParseAddr(u.Host)
	if err != nil {
		return netip.AddrPort{}
	}
	p := u.Port
	if p == 0 {
		p = 5060
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p))
}

func viaReceived(res *sipResponse) netip.AddrPort {
	v := res.Via()
	if v == nil {
		return netip.AddrPort{}
	}
	host, _ := v.Params.Get("received")
	port, _ := v.Params.Get("rport")
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		p = v.Port
	}
	return netip.AddrPortFrom(ip, uint16(p))
}

// regTarget is where the next REGISTER goes: the server's current
// target. It fails, saying why, when there is no network yet (no SIP
// socket) or the server's name does not resolve.
func (u *UA) regTarget(ctx context.Context) (resolve.Target, bool, error) {
	if u.mapping() == nil {
		err := errors.New("no SIP socket")
		if t := u.getTargets(); t != nil && t.getNetErr() != nil {
			err = t.getNetErr()
		}
		return resolve.Target{}, false, fmt.Errorf("no network: %w", err)
	}
	tg, all, err := u.pickTarget(ctx)
	if err == nil && u.mapping() == nil {
		// The target is of the other IP family: its socket is being made
		// (switchFamily); the rebuild registers at once.
		return resolve.Target{}, false, fmt.Errorf("new SIP socket for %s", tg)
	}
	return tg, all, err
}

// failoverCause says whether a REGISTER outcome means the server is
// unusable (RFC 3263 §4.3): a transaction timeout, a transport error, or
// 503 Service Unavailable (whose Retry-After becomes the hold).
func failoverCause(res *sipResponse, err error) (why string, hold time.Duration, ok bool) {
	switch {
	case err != nil:
		if errors.Is(err, ErrAuthFailed) || errors.Is(err, context.Canceled) || errors.Is(err, errNoSocket) {
			return "", 0, false
		}
		if errors.Is(err, ErrTimeout) {
			return "no answer", 0, true
		}
		return err.Error(), 0, true
	case res == nil:
		return "", 0, false
	case res.StatusCode == 503:
		return "503 " + res.Reason, retryAfter(res), true
	case res.StatusCode == 408:
		return "408 " + res.Reason, 0, true
	}
	return "", 0, false
}

func codeOf(res *sipResponse) int {
	if res == nil {
		return 0
	}
	return res.StatusCode
}
