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
