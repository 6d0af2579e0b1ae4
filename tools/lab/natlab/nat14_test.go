package natlab

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// rebootKeepPorts flushes the NAT's connection tracking (and the cone
// sets) while the phone is registered, keeping the masquerading ports: a
// router that reboots and hands out the same external port again. The
// STUN server sees no change, so nothing re-registers; the phone is
// reachable again only once something goes out to the registrar. The
// cell measures when the NAT has a connection from the phone to the
// registrar again (conntrack) and then has a public phone call it; the
// budget is 10 s.
func (e *env) rebootKeepPorts(t *testing.T) {
	start := time.Now()
	s := e.site(t, PortRestricted)
	pub := e.site(t, NoNAT)
	p := e.startPhoned(t, s, shortName(t)+"-nat", e.user(), KamailioPlain, 700)
	q := e.startPhoned(t, pub, shortName(t)+"-pub", e.user(), KamailioPlain, 1300)
	row := Row{Section: "nat reboot", Scenario: "port-restricted, conntrack flushed, same ports, registered / kamailio-plain", Phone: "phoned"}
	for _, x := range []*Phoned{p, q} {
		if _, ok := x.WaitFor(context.Background(), 10*time.Second, Registered); !ok {
			row.Outcome, row.Detail = Fail, x.User+" not registered"
			e.record(t, row, start)
			return
		}
	}
	st0, _ := p.Status()
	time.Sleep(7 * time.Second) // an arbitrary phase of the phone's timers
	flow := fmt.Sprintf("src=%s dst=%s ", s.PhoneIP, KamailioPlain)
	if err := s.Reboot(false); err != nil {
		t.Fatal(err)
	}
	rebooted := time.Now()
	reopened := time.Duration(-1)
	for time.Since(rebooted) < 25*time.Second {
		if strings.Contains(s.Conntrack(), flow) {
			reopened = time.Since(rebooted)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if wait := 10*time.Second - time.Since(rebooted); wait > 0 {
		time.Sleep(wait) // call at the end of the budget, as reboot/registration does
	}
	ok, detail := ring(q, p, 5*time.Second)
	row.Outcome, row.Detail = Fail, detail
	if ok && reopened >= 0 && reopened <= 10*time.Second {
		row.Outcome = Pass
	}
	if reopened >= 0 {
		row.Detail += fmt.Sprintf("; path to the registrar open again %.1f s after the flush", reopened.Seconds())
	} else {
		row.Detail += "; path to the registrar not open again within 25 s"
	}
	if st, _ := p.Status(); st != nil && st0 != nil && st.Registration.Contact != st0.Registration.Contact {
		row.Detail += "; contact changed to " + st.Registration.Contact
	}
	e.record(t, row, start)
}

// lifetime reads the binding lifetime phoned measures behind a
// port-restricted NAT with the lab's 30 s UDP timeout. Linux masquerading
// re-creates an expired binding on the same port, which fooled the old
// probe (it said 300 s); the RFC 5780 §4.6 probe (RESPONSE-PORT from
// another socket) must say at most 30 s.
func (e *env) lifetime(t *testing.T) {
	start := time.Now()
	s := e.site(t, PortRestricted)
	p := e.startPhoned(t, s, shortName(t), e.user(), KamailioPlain, 700)
	row := Row{Section: "binding lifetime", Scenario: fmt.Sprintf("port-restricted, %v UDP timeout / coturn", e.udp), Phone: "phoned"}
	var st *Status
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if x, err := p.Status(); err == nil && x.NAT != nil && x.NAT.Measured {
			st = x
			break
		}
		time.Sleep(time.Second)
	}
	switch {
	case st == nil:
		row.Outcome, row.Detail = Fail, "no measured binding lifetime within 90 s"
	case st.NAT.Lifetime > 0 && st.NAT.Lifetime <= e.udp.Seconds():
		row.Outcome = Pass
	default:
		row.Outcome = Fail
	}
	if st != nil {
		row.Detail = fmt.Sprintf("binding_lifetime_s %v (%s), measured %.0f s after start, keepalive %v s",
			st.NAT.Lifetime, st.NAT.LifetimeMethod, time.Since(start).Seconds(), st.NAT.Keepalive)
	}
	e.record(t, row, start)
}

// relayFallbackCells are issue 14's first pair: phoned behind a
// port-restricted cone NAT and baresip (medianat=stun, no latching)
// behind a symmetric one, both ways. Before the media-liveness rule no
// audio flowed either way; phoned now moves the call to its TURN relay
// when nothing arrives 1 s after the answer.
func relayFallbackCells(run func(string, func(*testing.T)), e *env) {
	run("relay-fallback/port-restricted-to-symmetric-stun/kamailio-nathelper", func(t *testing.T) {
		e.call(t, "call phoned-baresip", PortRestricted, Symmetric, KamailioNAT, phonedSpec, baresipSpec("stun"))
	})
	for _, reg := range []string{KamailioPlain, KamailioNAT} {
		run("relay-fallback/symmetric-stun-to-port-restricted/"+kamName(reg), func(t *testing.T) {
			e.call(t, "call phoned-baresip", Symmetric, PortRestricted, reg, baresipSpec("stun"), phonedSpec)
		})
	}
}
