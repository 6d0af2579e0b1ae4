package natlab

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The calls scenarios (issue 13) drive phoned against baresip through a
// real Kamailio: transfer both ways, call waiting, and two lines on two
// Kamailio instances (two domains) behind a NAT. Audio is checked by
// content: every phone sends its own tone and the recordings of the
// parties that end up connected must hold each other's.

// Tones of the three parties (none is a call-progress or call-waiting
// tone of any preset).
const (
	toneP = 700  // phoned
	toneB = 1300 // the first baresip
	toneC = 1900 // the second baresip (the transfer target, the waiting caller)
)

// callsTalk is how long the parties talk in each phase.
const callsTalk = 3 * time.Second

// startBaresip starts a baresip (auto answer, no media NAT help) in site s.
func (e *env) startBaresip(t *testing.T, s *Site, name, user, reg string, hz int) *Baresip {
	t.Helper()
	b, err := s.StartBaresip(name, BaresipOptions{User: user, Registrar: reg, ToneHz: hz})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// callsRow runs one calls scenario: f returns the outcome's detail, or an
// error when the scenario failed.
func (e *env) callsRow(t *testing.T, scenario string, f func() (string, error)) {
	start := time.Now()
	row := Row{Section: "calls", Scenario: scenario, Phone: "phoned+baresip"}
	detail, err := f()
	row.Outcome, row.Detail = Pass, detail
	if err != nil {
		row.Outcome, row.Detail = Fail, err.Error()
		if detail != "" {
			row.Detail += "; " + detail
		}
	}
	e.record(t, row, start)
}

// registered waits for every party's registration.
func registered(p *Phoned, lines int, bs ...*Baresip) error {
	cond := Registered
	if lines > 1 {
		cond = LinesRegistered(lines)
	}
	if st, ok := p.WaitFor(context.Background(), 10*time.Second, cond); !ok {
		if st == nil {
			return fmt.Errorf("phoned %s: no status", p.User)
		}
		return fmt.Errorf("phoned %s not registered: %s %d %s", p.User, st.Registration.State, st.Registration.Code, st.Registration.Reason)
	}
	for _, b := range bs {
		if ok, detail := b.WaitRegistered(10 * time.Second); !ok {
			return fmt.Errorf("baresip %s not registered: %s", b.User, detail)
		}
	}
	return nil
}

// heardTone measures freq in a recording and fails below the lab's
// minimum.
func heardTone(who, wav string, freq float64) (time.Duration, error) {
	if wav == "" {
		return 0, fmt.Errorf("%s: no recording", who)
	}
	d, err := ToneTime(wav, freq)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", who, err)
	}
	if d < DefaultCallTiming.MinHeard {
		return d, fmt.Errorf("%s heard %.0f Hz for %.1f s only", who, freq, d.Seconds())
	}
	return d, nil
}

// hears checks every (who, recording, tone) triple and sums up.
func hears(checks ...heardCheck) (string, error) {
	var detail string
	for _, c := range checks {
		d, err := heardTone(c.who, c.wav, c.hz)
		if err != nil {
			return detail, err
		}
		detail += fmt.Sprintf("%s heard %.0f Hz %.1fs; ", c.who, c.hz, d.Seconds())
	}
	return detail, nil
}

// heardCheck is one party's recording and the tone it must hold.
type heardCheck struct {
	who, wav string
	hz       float64
}

// transferByPhoned: phoned (behind a port-restricted NAT) calls baresip B,
// then transfers B blind to baresip C (REFER); B calls C, and B and C
// must hear each other. phoned's call ends once the transfer succeeded.
func (e *env) transferByPhoned(t *testing.T, reg string) {
	name := shortName(t)
	e.callsRow(t, "blind transfer by phoned (port-restricted): baresip B to baresip C / "+kamName(reg), func() (string, error) {
		p := e.startPhoned(t, e.site(t, PortRestricted), name+"-p", e.user(), reg, toneP)
		b := e.startBaresip(t, e.site(t, NoNAT), name+"-b", e.user(), reg, toneB)
		c := e.startBaresip(t, e.site(t, NoNAT), name+"-c", e.user(), reg, toneC)
		if err := registered(p, 1, b, c); err != nil {
			return "", err
		}
		ctx := context.Background()
		if err := p.Post("/api/call", map[string]string{"to": b.User}); err != nil {
			return "", err
		}
		if _, ok := p.WaitFor(ctx, 8*time.Second, PhoneState("talking")); !ok {
			return "", fmt.Errorf("phoned never talked to B")
		}
		time.Sleep(time.Second)
		if err := p.Post("/api/transfer", map[string]string{"to": c.User}); err != nil {
			return "", err
		}
		if !c.WaitEvents(10*time.Second, 1, "CALL_ESTABLISHED") {
			return "", fmt.Errorf("C never got B's call; B events %v", b.Events())
		}
		st, ok := p.WaitFor(ctx, 8*time.Second, func(s *Status) bool { return len(s.Phone.Calls) == 0 })
		if !ok {
			return "", fmt.Errorf("phoned still has calls after the transfer: %+v", st.Phone.Calls)
		}
		time.Sleep(callsTalk)
		b.Close()
		c.Close()
		return hears(heardCheck{"B", b.Recording(), toneC}, heardCheck{"C", c.Recording(), toneB})
	})
}

// transferOfPhoned: baresip B calls phoned (behind a port-restricted NAT),
// phoned answers, B transfers phoned to baresip C; phoned calls C itself
// (the transferee), and phoned and C must hear each other.
func (e *env) transferOfPhoned(t *testing.T, reg string) {
	name := shortName(t)
	e.callsRow(t, "phoned (port-restricted) transferred by baresip B to baresip C / "+kamName(reg), func() (string, error) {
		p := e.startPhoned(t, e.site(t, PortRestricted), name+"-p", e.user(), reg, toneP)
		b := e.startBaresip(t, e.site(t, NoNAT), name+"-b", e.user(), reg, toneB)
		c := e.startBaresip(t, e.site(t, NoNAT), name+"-c", e.user(), reg, toneC)
		if err := registered(p, 1, b, c); err != nil {
			return "", err
		}
		ctx := context.Background()
		if err := b.Dial("sip:" + p.User + "@" + reg); err != nil {
			return "", err
		}
		if _, ok := p.WaitFor(ctx, 6*time.Second, PhoneState("ringing")); !ok {
			return "", fmt.Errorf("phoned never rang")
		}
		if err := p.Post("/api/answer", nil); err != nil {
			return "", err
		}
		if !b.WaitEvents(8*time.Second, 1, "CALL_ESTABLISHED") {
			return "", fmt.Errorf("B's call to phoned not established: %v", b.Events())
		}
		time.Sleep(time.Second)
		if err := b.Transfer("sip:" + c.User + "@" + reg); err != nil {
			return "", err
		}
		if !c.WaitEvents(10*time.Second, 1, "CALL_ESTABLISHED") {
			st, _ := p.Status()
			return "", fmt.Errorf("C never got phoned's call; phoned %+v; B events %v", st.Phone, b.Events())
		}
		time.Sleep(callsTalk)
		p.Proc.Stop()
		c.Close()
		return hears(heardCheck{"phoned", p.WAV, toneC}, heardCheck{"C", c.Recording(), toneP})
	})
}

// callWaiting: phoned (behind a port-restricted NAT) talks to baresip B;
// baresip C calls phoned, which shows the call as waiting, answers it
// (B is held) and talks to C; then swaps back to B. What B hears after the
// swap is counted as the RTP phoned sends it, not from B's recording:
// Debian's baresip 1.0 stops its sndfile recording of received audio at
// the hold re-INVITE (its dec.wav ends there while its status line shows
// 64 kbit/s still arriving), so the recording cannot tell.
func (e *env) callWaiting(t *testing.T, reg string) {
	name := shortName(t)
	e.callsRow(t, "call waiting on phoned (port-restricted): B talking, C answered, swap / "+kamName(reg), func() (string, error) {
		p := e.startPhoned(t, e.site(t, PortRestricted), name+"-p", e.user(), reg, toneP)
		b := e.startBaresip(t, e.site(t, NoNAT), name+"-b", e.user(), reg, toneB)
		c := e.startBaresip(t, e.site(t, NoNAT), name+"-c", e.user(), reg, toneC)
		if err := registered(p, 1, b, c); err != nil {
			return "", err
		}
		ctx := context.Background()
		if err := p.Post("/api/call", map[string]string{"to": b.User}); err != nil {
			return "", err
		}
		if _, ok := p.WaitFor(ctx, 8*time.Second, PhoneState("talking")); !ok {
			return "", fmt.Errorf("phoned never talked to B")
		}
		if err := c.Dial("sip:" + p.User + "@" + reg); err != nil {
			return "", err
		}
		st, ok := p.WaitFor(ctx, 6*time.Second, func(s *Status) bool { _, ok := s.CallIn("waiting"); return ok })
		if !ok {
			return "", fmt.Errorf("no waiting call on phoned: %+v", st.Phone)
		}
		w, _ := st.CallIn("waiting")
		first, _ := st.CallIn("talking")
		if err := p.Post("/api/answer", map[string]string{"call_id": w.ID}); err != nil {
			return "", err
		}
		if !c.WaitEvents(8*time.Second, 1, "CALL_ESTABLISHED") {
			return "", fmt.Errorf("C's call not established: %v", c.Events())
		}
		if st, ok := p.WaitFor(ctx, 5*time.Second, func(s *Status) bool { _, ok := s.CallIn("held"); return ok }); !ok {
			return "", fmt.Errorf("B not held after answering C: %+v", st.Phone)
		}
		time.Sleep(callsTalk)
		if err := p.Post("/api/swap", nil); err != nil {
			return "", err
		}
		time.Sleep(500 * time.Millisecond) // the resume's re-INVITE
		st0, err := p.Status()
		if err != nil {
			return "", err
		}
		time.Sleep(callsTalk)
		st1, err := p.Status()
		if err != nil {
			return "", err
		}
		s0, ok0 := st0.Sent(first.ID)
		s1, ok1 := st1.Sent(first.ID)
		p.Proc.Stop()
		b.Close()
		c.Close()
		detail, err := hears(heardCheck{"phoned", p.WAV, toneC}, heardCheck{"C", c.Recording(), toneP},
			heardCheck{"phoned", p.WAV, toneB})
		if err != nil {
			return detail, err
		}
		// 20 ms packets: 3 s is 150; allow for the resume's set-up.
		if want := uint64(callsTalk/(20*time.Millisecond)) * 8 / 10; !ok0 || !ok1 || s1-s0 < want {
			return detail, fmt.Errorf("after the swap phoned sent B %d RTP packets in %s, want at least %d", s1-s0, callsTalk, want)
		}
		return detail + fmt.Sprintf("phoned sent B %d RTP packets in %s after the swap; ", s1-s0, callsTalk), nil
	})
}

// twoLines: one phoned behind a port-restricted NAT with two accounts, line
// 0 at kamailio-plain and line 1 at kamailio-nathelper (two Kamailio
// instances, two domains). A baresip at the second calls line 1 (the
// phone shows line 1), then the phone calls a baresip at the first on
// line 0; audio both ways on each.
func (e *env) twoLines(t *testing.T) {
	name := shortName(t)
	e.callsRow(t, "two lines on two kamailios, phoned port-restricted: call in on line 1, out on line 0", func() (string, error) {
		s := e.site(t, PortRestricted)
		p, err := s.StartPhoned(name+"-p", PhonedOptions{Binary: e.phoned, User: e.user(), Registrar: KamailioPlain, ToneHz: toneP,
			NAT: e.natYAML(), User2: e.user(), Registrar2: KamailioNAT})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Proc.Stop)
		b := e.startBaresip(t, e.site(t, NoNAT), name+"-b", e.user(), KamailioNAT, toneB)
		c := e.startBaresip(t, e.site(t, NoNAT), name+"-c", e.user(), KamailioPlain, toneC)
		if err := registered(p, 2, b, c); err != nil {
			return "", err
		}
		ctx := context.Background()
		if err := b.Dial("sip:" + p.User2 + "@" + KamailioNAT); err != nil {
			return "", err
		}
		st, ok := p.WaitFor(ctx, 6*time.Second, PhoneState("ringing"))
		if !ok {
			return "", fmt.Errorf("line 1 never rang: %+v", st.Phone)
		}
		if len(st.Phone.Calls) != 1 || st.Phone.Calls[0].Line != 1 {
			return "", fmt.Errorf("incoming call not shown on line 1: %+v", st.Phone.Calls)
		}
		if err := p.Post("/api/answer", nil); err != nil {
			return "", err
		}
		if !b.WaitEvents(8*time.Second, 1, "CALL_ESTABLISHED") {
			return "", fmt.Errorf("B's call to line 1 not established: %v", b.Events())
		}
		time.Sleep(callsTalk)
		if err := p.Post("/api/hangup", nil); err != nil {
			return "", err
		}
		if _, ok := p.WaitFor(ctx, 5*time.Second, PhoneState("idle")); !ok {
			return "", fmt.Errorf("phone not idle after hanging up line 1")
		}
		if err := p.Post("/api/call", map[string]any{"to": c.User, "line": 0}); err != nil {
			return "", err
		}
		if !c.WaitEvents(8*time.Second, 1, "CALL_ESTABLISHED") {
			st, _ := p.Status()
			return "", fmt.Errorf("line 0 call to C not established: %+v; C %v", st.Phone, c.Events())
		}
		time.Sleep(callsTalk)
		p.Proc.Stop()
		b.Close()
		c.Close()
		return hears(heardCheck{"phoned", p.WAV, toneB}, heardCheck{"B", b.Recording(), toneP},
			heardCheck{"phoned", p.WAV, toneC}, heardCheck{"C", c.Recording(), toneP})
	})
}
