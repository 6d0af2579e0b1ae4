package natlab

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

// algReport checks whether phoned says it saw the SIP ALG: the phone
// should notice one (a rewritten Contact/Via in responses).
func (e *env) algReport(t *testing.T) {
	start := time.Now()
	s := e.site(t, ALG)
	p := e.startPhoned(t, s, shortName(t), e.user(), KamailioPlain, 700)
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

// keepalive: a 5 s UDP binding timeout (a common NAT's 30 s scaled down
// 6x) and 30 s idle (5 minutes scaled down 10x); the phone keeps its
// registration flow open with a 2 s keepalive and must still receive a
// call from a public phone through Kamailio without NAT help.
func (e *env) keepalive(t *testing.T) {
	start := time.Now()
	s := e.siteTimeout(t, PortRestricted, 5*time.Second)
	pub := e.site(t, NoNAT)
	nat := e.natYAML() + "  keepalive: 2s\n"
	p := e.startPhonedNAT(t, s, shortName(t)+"-nat", e.user(), KamailioPlain, 700, nat)
	q := e.startPhoned(t, pub, shortName(t)+"-pub", e.user(), KamailioPlain, 1300)
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
	p := e.startPhoned(t, s, shortName(t)+"-nat", e.user(), KamailioPlain, 700)
	q := e.startPhoned(t, pub, shortName(t)+"-pub", e.user(), KamailioPlain, 1300)
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
	time.Sleep(10 * time.Second) // the 10 s a NAT reboot may cost before the phone is reachable
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
	p := e.startPhoned(t, s, shortName(t)+"-nat", e.user(), KamailioNAT, 700)
	q := e.startPhoned(t, pub, shortName(t)+"-pub", e.user(), KamailioNAT, 1300)
	row := Row{Section: "nat reboot", Scenario: "port-restricted, conntrack flushed + ports moved, in a call / kamailio-nathelper", Phone: "phoned"}
	for _, x := range []*Phoned{p, q} {
		if _, ok := x.WaitFor(ctx, 10*time.Second, Registered); !ok {
			row.Outcome, row.Detail = Fail, x.User+" not registered"
			e.record(t, row, start)
			return
		}
	}
	if err := p.Post("/api/call", map[string]string{"to": q.User}); err != nil {
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
	time.Sleep(10 * time.Second) // the 10 s a NAT reboot may cost before the phone is reachable
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

// earlyMedia: phoned behind a NAT of kind k calls the extension
// "early", which Kamailio routes to tools/pbx's early service on the
// public segment: 183 with SDP, then a 400+450 Hz announcement for 5 s,
// then 200. While phoned is still unanswered its recording must hold at
// least 1 s of both frequencies. (baresip 1.0's answermode=early sends
// 183 with SDP but no RTP before 200, so it cannot be the far end here.)
func (e *env) earlyMedia(t *testing.T, k NATKind, reg string) {
	start := time.Now()
	ctx := context.Background()
	row := Row{Section: "early media", Scenario: fmt.Sprintf("%s caller, 183 + media from tools/pbx / %s", k, kamName(reg)), Phone: "phoned"}
	s := e.site(t, k)
	p := e.startPhoned(t, s, shortName(t), e.user(), reg, 700)
	if _, ok := p.WaitFor(ctx, 10*time.Second, Registered); !ok {
		row.Outcome, row.Detail = Fail, "not registered"
		e.record(t, row, start)
		return
	}
	if err := p.Post("/api/call", map[string]string{"to": "early"}); err != nil {
		t.Fatal(err)
	}
	caller := &PhonedEndpoint{P: p, Hz: 700}
	if _, ok := p.WaitFor(ctx, 6*time.Second, PhoneState("early")); !ok {
		row.Outcome, row.Detail = Fail, "phoned never got the 183; "+caller.Summary()
		e.record(t, row, start)
		return
	}
	progress := time.Now()
	// phoned's recording is flushed once a second; what it holds while
	// the phone is still in state early was played before the 200.
	var lo, hi time.Duration
	var firstHeard time.Duration
	state := "early"
	for time.Since(progress) < EarlyAnnouncement+2*time.Second {
		st, err := p.Status()
		if err != nil || st.Phone.State != "early" {
			if st != nil {
				state = st.Phone.State
			}
			break
		}
		lo, _ = ToneTime(p.WAV, 400)
		hi, _ = ToneTime(p.WAV, 450)
		if firstHeard == 0 && lo > 0 && hi > 0 {
			firstHeard = time.Since(progress)
		}
		time.Sleep(200 * time.Millisecond)
	}
	summary := caller.Summary()
	caller.Hangup()
	caller.Stop()
	row.Detail = fmt.Sprintf("before answer phoned heard 400 Hz %.1fs, 450 Hz %.1fs (first after %.1fs); then %s; %s",
		lo.Seconds(), hi.Seconds(), firstHeard.Seconds(), state, summary)
	row.Outcome = Fail
	if lo >= time.Second && hi >= time.Second {
		row.Outcome = Pass
		row.FirstAudio = firstHeard
	}
	e.record(t, row, start)
}

// natBehaviour pins what a NAT kind does, with STUN from the phone's
// namespace against coturn's two addresses: mapping (does the external
// port stay the same towards two destinations, and is it the local
// port) and filtering (does a response from the other port, or the other
// address and port, come in). The expectations are the kind's
// definition.
func (e *env) natBehaviour(t *testing.T, k NATKind) {
	start := time.Now()
	s := e.site(t, k)
	row := Row{Section: "nat behaviour", Scenario: string(k), Phone: "lab"}
	got, err := probeNAT(s)
	if err != nil {
		row.Outcome, row.Detail = Fail, err.Error()
		e.record(t, row, start)
		return
	}
	want := NATProbe{PortKept: true, SameMapping: true}
	switch k {
	case FullCone:
		want.FromOtherPort, want.FromOtherAddr = true, true
	case RestrictedCone:
		want.FromOtherPort = true
	case Symmetric:
		want.PortKept, want.SameMapping = false, false
	}
	want.External = got.External
	row.Detail = got.String()
	row.Outcome = Pass
	if got != want || got.External != s.WANIP {
		row.Outcome = Fail
		row.Detail += fmt.Sprintf("; want %s from %s", want, s.WANIP)
	}
	e.record(t, row, start)
}
