package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sip"
)

// uaLine is one line: an enabled account with its own SIP user agent,
// SIP mapping, registration, keepalives and transport. It implements
// phone.Line.
type uaLine struct {
	d    *Daemon
	n    int    // line number, 0-based
	name string // user@domain, "" for the account-less line
	// mailbox is the line's voicemail number; mwi says to subscribe to
	// its message summary.
	mailbox string
	mwi     bool
	blf     lineBLF // busy lamp subscriptions (blf.go)
	ua      *sip.UA
	mp      *lineMapper
	log     *slog.Logger

	// warned is the registration failure last logged at WARN (regWhy);
	// only the pump touches it.
	warned string

	mu     sync.Mutex // guards failed
	failed string     // why Start failed; "" when it did not
}

func (l *uaLine) setStartErr(err error) {
	l.mu.Lock()
	l.failed = err.Error()
	l.mu.Unlock()
}

func (l *uaLine) startErr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// lineMapper is the port manager as one line's UA sees it: every call
// goes to the manager, and the SIP UDP mapping the UA holds is
// remembered, so what the line's registrar saw (rport, the echoed
// Contact) is applied to that line's flow and not to another line's.
type lineMapper struct {
	pm *portmgr.Manager

	mu  sync.Mutex
	sip *portmgr.Mapping
}

func (m *lineMapper) Map(ctx context.Context, kind portmgr.Kind, tr portmgr.Transport, remote netip.AddrPort) (*portmgr.Mapping, error) {
	mp, err := m.pm.Map(ctx, kind, tr, remote)
	if err == nil && kind == portmgr.KindMedia {
		callMediaMapped() // a call's media pair: a call is up
	}
	if err == nil && kind == portmgr.KindSIP && tr == portmgr.UDP {
		m.mu.Lock()
		m.sip = mp
		m.mu.Unlock()
	}
	return mp, err
}

// Reachable is the manager's (the UA's IPv6/IPv4 choice asks it).
func (m *lineMapper) Reachable(ip netip.Addr) bool { return m.pm.Reachable(ip) }

func (m *lineMapper) UpdateRemote(mp *portmgr.Mapping, remote netip.AddrPort) error {
	return m.pm.UpdateRemote(mp, remote)
}

func (m *lineMapper) Release(mp *portmgr.Mapping) error {
	m.mu.Lock()
	wasSIP := m.sip == mp
	if wasSIP {
		m.sip = nil
	}
	m.mu.Unlock()
	err := m.pm.Release(mp)
	if !wasSIP && mp.Kind == portmgr.KindMedia {
		callMediaReleased()
		reclaimAfterCall() // a call's media pair: the call ended
	}
	return err
}

// sipMapping is the line's SIP UDP mapping, nil when it holds none (TCP,
// TLS, or between a transport's teardown and rebuild).
func (m *lineMapper) sipMapping() *portmgr.Mapping {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sip
}

var _ portmgr.Mapper = (*lineMapper)(nil)

// sipAccount turns a config account into the UA's.
func sipAccount(a config.Account) (sip.Account, error) {
	sa := sip.Account{
		User: a.User, AuthUser: a.AuthUser, Password: a.Password, Domain: a.Domain,
		DisplayName: a.DisplayName, Registrar: a.Registrar, OutboundProxy: a.OutboundProxy,
		Transport: a.Transport, Expires: a.Expires,
	}
	if a.TLSCAFile != "" {
		pem, err := os.ReadFile(a.TLSCAFile)
		if err != nil {
			return sa, fmt.Errorf("daemon: tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return sa, fmt.Errorf("daemon: tls_ca_file %s: no PEM certificate found", a.TLSCAFile)
		}
		sa.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if a.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(a.TLSCertFile, a.TLSKeyFile)
		if err != nil {
			return sa, fmt.Errorf("daemon: tls_cert_file %s / tls_key_file %s: %w", a.TLSCertFile, a.TLSKeyFile, err)
		}
		if sa.TLS == nil {
			sa.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		sa.TLS.Certificates = []tls.Certificate{cert}
	}
	return sa, nil
}

// lineSettings is a config account's call handling as the phone takes it.
func lineSettings(a config.Account) phone.LineSettings {
	return phone.LineSettings{
		DND: a.DND, DNDCode: a.DNDCode,
		Forward: phone.Forward{
			Always: a.ForwardAlways, Busy: a.ForwardBusy, NoAnswer: a.ForwardNoAnswer,
			NoAnswerAfter: a.ForwardNoAnswerAfter,
		},
	}
}

// Dial implements phone.Line. Service codes are run here, before any
// line is involved, and only when dialled on the keypad.
func (l *uaLine) Dial(ctx context.Context, target string) (phone.Call, error) {
	d := l.d
	if f, ok := d.codes[target]; ok {
		if !phone.DialledOnKeypad(ctx) {
			// A web page or a token holder must not wipe the phone.
			d.log.Warn("service code refused: not dialled on the keypad")
			return nil, ErrServiceCodeRemote
		}
		d.log.Info("service code dialled", "code", target)
		f()
		return nil, ErrServiceCode
	}
	c, err := l.ua.Dial(ctx, target)
	if err != nil {
		return nil, err
	}
	return d.wrap(c, l.n), nil
}

// phoneTimeout bounds a pump's wait for the phone's loop (which applies
// SetMessages before returning); it only matters when the phone stops.
const phoneTimeout = 5 * time.Second

// Pickup implements phone.Picker: an INVITE to target with Replaces,
// taking over the call ringing there (directed pickup from a busy lamp).
func (l *uaLine) Pickup(ctx context.Context, target, replaces string) (phone.Call, error) {
	c, err := l.ua.DialReplacing(ctx, target, replaces)
	if err != nil {
		return nil, err
	}
	return l.d.wrap(c, l.n), nil
}

// pump turns the line's UA events into phone events, tagged with the
// line, until the UA closes its channel.
func (l *uaLine) pump() {
	d := l.d
	for ev := range l.ua.Events() {
		switch e := ev.(type) {
		case *sip.RegistrationEvent:
			l.registration(e.Status)
			d.scr.poke()
		case *sip.IncomingCallEvent:
			pe := phone.CallEvent{Call: d.wrap(e.Call, l.n), State: phone.CallIncoming, Line: l.n}
			if r := e.Call.Replaces(); r != nil {
				// Attended transfer to us (RFC 3891): the phone answers
				// the new call at once and ends the replaced one.
				pe.Replaces = d.wrap(r, l.n)
			}
			d.ph.CallEvent(pe)
		case *sip.CallEvent:
			lc := d.wrap(e.Call, l.n)
			if st, ok := lc.track(e); ok {
				d.ph.CallEvent(phone.CallEvent{Call: lc, State: st, Code: e.Code, Reason: e.Reason, RemoteHold: e.RemoteHold, Line: l.n})
			}
			if e.State == sip.StateEnded {
				d.forget(e.Call)
			}
		case *sip.TransferEvent:
			d.ph.CallEvent(phone.CallEvent{Call: d.wrap(e.Call, l.n), State: phone.CallTransferProgress,
				Code: e.Code, Reason: e.Reason, Final: e.Final, Line: l.n})
		case *sip.ReferredCallEvent:
			l.log.Info("transfer asked by the far end", "target", e.Target)
			d.ph.CallEvent(phone.CallEvent{Call: d.wrap(e.Call, l.n), State: phone.CallReferred,
				Old: d.wrap(e.Referrer, l.n), Line: l.n})
		case *sip.MWIEvent:
			// Subscribed or unsolicited (Asterisk), it is this line's
			// mailbox: the phone lights the message lamp and shows the
			// counts.
			ctx, cancel := context.WithTimeout(context.Background(), phoneTimeout)
			if err := d.ph.SetMessages(ctx, l.n, e.Waiting, e.New, e.Old); err != nil {
				l.log.Warn("message waiting not shown", "err", err)
			}
			cancel()
		case *sip.DialogStateEvent, *sip.SubscriptionEvent:
			l.blfEvent(ev) // busy lamps (blf.go)
		case *sip.DTMFEvent:
			l.log.Info("dtmf", "digit", string(e.Digit), "source", e.Source)
			d.ph.DTMF(phone.DTMFEvent{Call: d.wrap(e.Call, l.n), Digit: e.Digit})
		}
	}
}

// registration logs a registration change and hands what the registrar
// saw of the line's flow to the port manager, for the line's own mapping.
func (l *uaLine) registration(s sip.RegStatus) {
	l.logRegistration(s)
	if s.State != sip.RegRegistered {
		return
	}
	mp := l.mp.sipMapping()
	if s.Received.IsValid() && mp != nil {
		// What the registrar saw is the truth about the SIP flow (RFC
		// 3581): the port manager adopts it and reports a change, which
		// the line's UA acts on (HandlePortEvent).
		l.mp.pm.ObserveRportFor(mp, s.Received)
	}
	if s.EchoedContact.IsValid() && s.EchoedContact != s.ContactAddr {
		// The registrar holds a Contact we did not send: a SIP ALG
		// rewrote it. The port manager reports it (nat.alg).
		l.mp.pm.ObserveContactFor(mp, s.ContactAddr, s.EchoedContact)
	}
}

// lineCall adapts a *sip.Call to phone.Call and phone.Transferer.
type lineCall struct {
	c    *sip.Call
	line int

	// held is whether the last state reported to the phone was held (by
	// either side); only the line's pump touches it.
	held     bool
	answered bool
}

// track turns a UA call event into the phone's call state, telling a
// call that comes back from hold (CallResumed) from one answered for the
// first time (CallAnswered).
func (l *lineCall) track(e *sip.CallEvent) (phone.CallState, bool) {
	switch e.State {
	case sip.StateRinging:
		if e.EarlyMedia {
			return phone.CallEarly, true
		}
		return phone.CallRinging, true
	case sip.StateEarly:
		return phone.CallEarly, true
	case sip.StateTalking, sip.StateHeld:
		wasHeld, wasAnswered := l.held, l.answered
		l.answered = true
		l.held = e.State == sip.StateHeld || e.LocalHold || e.RemoteHold
		switch {
		case l.held:
			return phone.CallHeld, true
		case wasHeld:
			return phone.CallResumed, true
		case wasAnswered:
			return 0, false // a refresh or a codec change: nothing for the phone
		}
		return phone.CallAnswered, true
	case sip.StateEnded:
		if e.Code >= 300 {
			return phone.CallFailed, true
		}
		return phone.CallEnded, true
	}
	return 0, false
}

func (l *lineCall) ID() string                   { return l.c.ID() }
func (l *lineCall) Remote() string               { return l.c.Remote() }
func (l *lineCall) Answer() error                { return l.c.Answer() }
func (l *lineCall) Reject(code int) error        { return l.c.Reject(code) }
func (l *lineCall) Hangup() error                { return l.c.Hangup() }
func (l *lineCall) Hold() error                  { return l.c.Hold() }
func (l *lineCall) Resume() error                { return l.c.Resume() }
func (l *lineCall) SendDTMF(digits string) error { return l.c.SendDTMF(digits) }
func (l *lineCall) Media() phone.Media {
	if m := l.c.Media(); m != nil {
		return m
	}
	return nil
}

func (l *lineCall) Redirect(target string) error { return l.c.Redirect(target) }
func (l *lineCall) Transfer(target string) error { return l.c.Transfer(target) }

// TransferReplacing sends REFER with Replaces naming other's dialog;
// other must be a call of this phone (any line).
func (l *lineCall) TransferReplacing(other phone.Call) error {
	o, ok := other.(*lineCall)
	if !ok || o == nil {
		return fmt.Errorf("daemon: attended transfer to a call that is not the phone's (%T)", other)
	}
	return l.c.TransferReplacing(o.c)
}

func (l *lineCall) Identity() phone.Identity {
	id := l.c.Identity()
	return phone.Identity{Name: id.Name, Number: id.Number, URI: id.URI}
}

var (
	_ phone.Call       = (*lineCall)(nil)
	_ phone.Transferer = (*lineCall)(nil)
	_ phone.Line       = (*uaLine)(nil)
	_ phone.Picker     = (*uaLine)(nil)
)

// wrap returns the phone's handle of c, the same one for every event of
// the call.
func (d *Daemon) wrap(c *sip.Call, line int) *lineCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	lc, ok := d.calls[c]
	if !ok {
		lc = &lineCall{c: c, line: line}
		d.calls[c] = lc
		d.countCall(c)
	}
	return lc
}

// forget drops the handle of an ended call.
func (d *Daemon) forget(c *sip.Call) {
	d.mu.Lock()
	delete(d.calls, c)
	d.mu.Unlock()
}
