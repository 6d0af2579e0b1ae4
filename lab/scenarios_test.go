package lab

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func shortName(t *testing.T) string {
	return strings.ReplaceAll(strings.TrimPrefix(t.Name(), "TestLab/"), "/", "_")
}

// ring has caller call callee's user and reports whether the callee
// rang within d, answering and hanging up when it did.
func ring(caller, callee *Phoned, d time.Duration) (bool, string) {
	ctx := context.Background()
	if err := caller.Post("/api/call", map[string]string{"to": callee.User}); err != nil {
		return false, err.Error()
	}
	_, ok := callee.WaitFor(ctx, d, PhoneState("ringing"))
	st, _ := caller.Status()
	_ = caller.Post("/api/hangup", nil)
	caller.WaitFor(ctx, 3*time.Second, PhoneState("idle"))
	callee.WaitFor(ctx, 3*time.Second, PhoneState("idle"))
	if !ok {
		state := "?"
		if st != nil {
			state = st.Phone.State
		}
		return false, "callee did not ring within " + d.String() + " (caller state " + state + ")"
	}
	return true, "callee rang"
}

// algReport checks whether phoned says it saw the SIP ALG: the issue
// wants the phone to notice one (a rewritten Contact/Via in responses).
func (e *env) algReport(t *testing.T) {
	start := time.Now()
	s := e.site(t, ALG)
	p := e.startPhoned(t, s, shortName(t), "1001", KamailioPlain, 700)
	st, ok := p.WaitFor(context.Background(), 10*time.Second, Registered)
	if ok {
		st, _ = p.WaitFor(context.Background(), 8*time.Second, ReportSettled)
	}
	row := Row{Section: "sip alg", Scenario: "alg reported by the phone", Phone: "phoned"}
	switch {
	case !ok:
		row.Outcome, row.Detail = Fail, "not registered"
	case st.NAT != nil && st.NAT.ALGSeen:
		row.Outcome, row.Detail = Pass, st.NAT.String()
	default:
		row.Outcome, row.Detail = Fail, "registered, but alg_seen is false: "+st.NAT.String()
	}
	e.record(t, row, start)
}

// keepalive: a 5 s UDP binding timeout (the 30 s scaled down 6x)
// and 30 s idle (its 5 minutes scaled down 10x); the phone keeps its
// registration flow open with a 2 s keepalive and must still receive a
// call from a public phone through Kamailio without NAT help.
func (e *env) keepalive(t *testing.T) {
	start := time.Now()
	s := e.siteTimeout(t, PortRestricted, 5*time.Second)
	pub := e.site(t, NoNAT)
	nat := e.natYAML() + "  keepalive: 2s\n"
	p := e.startPhonedNAT(t, s, shortName(t)+"-nat", "1001", KamailioPlain, 700, nat)
	q := e.startPhoned(t, pub, shortName(t)+"-pub", "1002", KamailioPlain, 1300)
	row := Row{Section: "keepalive", Scenario: "port-restricted, udp timeout 5 s, idle 30 s / kamailio-plain", Phone: "phoned"}
	for _, x := range []*Phoned{p, q} {
		if _, ok := x.WaitFor(context.Background(), 10*time.Second, Registered); !ok {
			row.Outcome, row.Detail = Fail, x.User+" not registered"
			e.record(t, row, start)
			return
		}
	}
	time.Sleep(30 * time.Second) // the scaled idle period
	ok, detail := ring(q, p, 6*time.Second)
	row.Outcome, row.Detail = Fail, detail
	if ok {
		row.Outcome = Pass
	}
	row.Detail += "; conntrack after idle: " + fmt.Sprint(strings.Count(s.Conntrack(), "udp"), " udp entries")
	e.record(t, row, start)
}

// rebootRegistration flushes the NAT's conntrack table and moves its
// external ports while the phone is registered; a public phone must
// reach it again within 10 s.
func (e *env) rebootRegistration(t *testing.T) {
	start := time.Now()
	s := e.site(t, PortRestricted)
	pub := e.site(t, NoNAT)
	p := e.startPhoned(t, s, shortName(t)+"-nat", "1001", KamailioPlain, 700)
	q := e.startPhoned(t, pub, shortName(t)+"-pub", "1002", KamailioPlain, 1300)
	row := Row{Section: "nat reboot", Scenario: "port-restricted, conntrack flushed + ports moved, registered / kamailio-plain", Phone: "phoned"}
	for _, x := range []*Phoned{p, q} {
		if _, ok := x.WaitFor(context.Background(), 10*time.Second, Registered); !ok {
			row.Outcome, row.Detail = Fail, x.User+" not registered"
			e.record(t, row, start)
			return
		}
	}
	if err := s.Reboot(true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second) // the recovery allowance
	ok, detail := ring(q, p, 5*time.Second)
	st, _ := p.Status()
	row.Outcome, row.Detail = Fail, detail
	if ok {
		row.Outcome = Pass
	}
	if st != nil {
		row.Detail += "; contact now " + st.Registration.Contact
	}
	e.record(t, row, start)
}

// rebootCall does the same in a call between the NATed phone and a
// public one, and checks that RTP flows both ways again within 10 s.
func (e *env) rebootCall(t *testing.T) {
	start := time.Now()
	ctx := context.Background()
	s := e.site(t, PortRestricted)
	pub := e.site(t, NoNAT)
	p := e.startPhoned(t, s, shortName(t)+"-nat", "1001", KamailioNAT, 700)
	q := e.startPhoned(t, pub, shortName(t)+"-pub", "1002", KamailioNAT, 1300)
	row := Row{Section: "nat reboot", Scenario: "port-restricted, conntrack flushed + ports moved, in a call / kamailio-nathelper", Phone: "phoned"}
	for _, x := range []*Phoned{p, q} {
		if _, ok := x.WaitFor(ctx, 10*time.Second, Registered); !ok {
			row.Outcome, row.Detail = Fail, x.User+" not registered"
			e.record(t, row, start)
			return
		}
	}
	if err := p.Post("/api/call", map[string]string{"to": "1002"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := q.WaitFor(ctx, 6*time.Second, PhoneState("ringing")); !ok {
		row.Outcome, row.Detail = Fail, "call did not connect before the reboot"
		e.record(t, row, start)
		return
	}
	_ = q.Post("/api/answer", nil)
	if _, ok := p.WaitFor(ctx, 5*time.Second, PhoneState("talking")); !ok {
		row.Outcome, row.Detail = Fail, "call did not connect before the reboot"
		e.record(t, row, start)
		return
	}
	time.Sleep(2 * time.Second)
	if err := s.Reboot(true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second) // the recovery allowance
	counts := func() (uint64, uint64) {
		a, _ := p.Status()
		b, _ := q.Status()
		if a == nil || b == nil || len(a.Calls) == 0 || len(b.Calls) == 0 {
			return 0, 0
		}
		return a.Calls[0].RTP.Received, b.Calls[0].RTP.Received
	}
	a1, b1 := counts()
	time.Sleep(2 * time.Second) // a window to see whether packets still arrive
	a2, b2 := counts()
	_ = p.Post("/api/hangup", nil)
	row.Detail = fmt.Sprintf("10-12 s after the reboot: NATed phone received %d RTP, public phone received %d", a2-a1, b2-b1)
	row.Outcome = Fail
	if a2-a1 > 50 && b2-b1 > 50 {
		row.Outcome = Pass
	}
	e.record(t, row, start)
}
