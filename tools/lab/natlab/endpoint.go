package natlab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Endpoint is a phone the call scenarios drive: phoned through its API,
// baresip through ctrl_tcp. The scenarios are written once against it.
type Endpoint interface {
	// Label names the phone and its variant ("phoned", "baresip stun").
	Label() string
	// UserName is the account the phone registered.
	UserName() string
	// Tone is the frequency the phone sends.
	Tone() float64
	// WaitRegistered waits up to d for the registration.
	WaitRegistered(d time.Duration) (bool, string)
	// Dial calls user at registrar.
	Dial(user, registrar string) error
	// WaitIncoming waits up to d for an incoming call (ringing, or
	// already answered by an auto-answering phone).
	WaitIncoming(d time.Duration) bool
	// Answer answers the incoming call (a no-op for auto-answer).
	Answer() error
	// WaitTalking waits up to d for the call to be established.
	WaitTalking(d time.Duration) bool
	// HearsMedia reports whether the phone receives media now: RTP
	// counted by phoned, the far tone in baresip's recording.
	HearsMedia(far float64) bool
	// Hangup ends the call.
	Hangup()
	// Stop stops the phone; its recording is complete afterwards.
	Stop()
	// Recording is the WAV file of what the phone received.
	Recording() string
	// Summary is a short state line for reports.
	Summary() string
}

// PhonedEndpoint drives a phoned.
type PhonedEndpoint struct {
	P  *Phoned
	Hz float64
}

// Label implements Endpoint.
func (e *PhonedEndpoint) Label() string { return "phoned" }

// UserName implements Endpoint.
func (e *PhonedEndpoint) UserName() string { return e.P.User }

// Tone implements Endpoint.
func (e *PhonedEndpoint) Tone() float64 { return e.Hz }

// WaitRegistered implements Endpoint.
func (e *PhonedEndpoint) WaitRegistered(d time.Duration) (bool, string) {
	st, ok := e.P.WaitFor(context.Background(), d, Registered)
	if ok {
		return true, "registered " + st.Registration.Contact
	}
	if st == nil {
		return false, "no status"
	}
	return false, fmt.Sprintf("registration %s %d %s", st.Registration.State, st.Registration.Code, st.Registration.Reason)
}

// Dial implements Endpoint.
func (e *PhonedEndpoint) Dial(user, _ string) error {
	return e.P.Post("/api/call", map[string]string{"to": user})
}

// WaitIncoming implements Endpoint.
func (e *PhonedEndpoint) WaitIncoming(d time.Duration) bool {
	_, ok := e.P.WaitFor(context.Background(), d, PhoneState("ringing"))
	return ok
}

// Answer implements Endpoint.
func (e *PhonedEndpoint) Answer() error { return e.P.Post("/api/answer", nil) }

// WaitTalking implements Endpoint.
func (e *PhonedEndpoint) WaitTalking(d time.Duration) bool {
	_, ok := e.P.WaitFor(context.Background(), d, PhoneState("talking"))
	return ok
}

// HearsMedia implements Endpoint.
func (e *PhonedEndpoint) HearsMedia(float64) bool {
	st, err := e.P.Status()
	return err == nil && len(st.Calls) > 0 && st.Calls[0].RTP.Received > 0
}

// Hangup implements Endpoint.
func (e *PhonedEndpoint) Hangup() {
	_ = e.P.Post("/api/hangup", nil)
	e.P.WaitFor(context.Background(), 3*time.Second, PhoneState("idle"))
}

// Stop implements Endpoint.
func (e *PhonedEndpoint) Stop() { e.P.Proc.Stop() }

// Recording implements Endpoint.
func (e *PhonedEndpoint) Recording() string { return e.P.WAV }

// Summary implements Endpoint.
func (e *PhonedEndpoint) Summary() string {
	st, err := e.P.Status()
	if err != nil {
		return "phoned: no status"
	}
	s := "phoned " + st.Phone.State
	if len(st.Calls) > 0 {
		c := st.Calls[0]
		s += fmt.Sprintf(", rtp sent %d recv %d to %s", c.RTP.Sent, c.RTP.Received, c.RTP.Remote)
	}
	if st.NAT != nil {
		s += ", media via " + st.NAT.MediaStrategy
	}
	return s
}

// BaresipEndpoint drives a baresip.
type BaresipEndpoint struct {
	B        *Baresip
	Hz       float64
	MediaNAT string
}

// Label implements Endpoint.
func (e *BaresipEndpoint) Label() string { return BaresipLabel(e.MediaNAT) }

// BaresipLabel names a baresip variant in reports.
func BaresipLabel(medianat string) string {
	if medianat == "" {
		return "baresip defaults"
	}
	return "baresip " + medianat
}

// UserName implements Endpoint.
func (e *BaresipEndpoint) UserName() string { return e.B.User }

// Tone implements Endpoint.
func (e *BaresipEndpoint) Tone() float64 { return e.Hz }

// WaitRegistered implements Endpoint.
func (e *BaresipEndpoint) WaitRegistered(d time.Duration) (bool, string) {
	return e.B.WaitRegistered(d)
}

// Dial implements Endpoint.
func (e *BaresipEndpoint) Dial(user, registrar string) error {
	return e.B.Dial("sip:" + user + "@" + registrar)
}

// WaitIncoming implements Endpoint.
func (e *BaresipEndpoint) WaitIncoming(d time.Duration) bool {
	_, ok := e.B.WaitEvent(d, "CALL_INCOMING", "CALL_ESTABLISHED")
	return ok
}

// Answer implements Endpoint: baresip answers by itself (answermode).
func (e *BaresipEndpoint) Answer() error { return nil }

// WaitTalking implements Endpoint.
func (e *BaresipEndpoint) WaitTalking(d time.Duration) bool {
	_, ok := e.B.WaitEvent(d, "CALL_ESTABLISHED")
	return ok
}

// HearsMedia implements Endpoint.
func (e *BaresipEndpoint) HearsMedia(far float64) bool {
	rec := e.B.Recording()
	if rec == "" {
		return false
	}
	d, err := ToneTime(rec, far)
	return err == nil && d > 0
}

// Hangup implements Endpoint.
func (e *BaresipEndpoint) Hangup() {
	_ = e.B.Hangup()
	e.B.WaitEvent(3*time.Second, "CALL_CLOSED")
}

// Stop implements Endpoint.
func (e *BaresipEndpoint) Stop() { e.B.Close() }

// Recording implements Endpoint.
func (e *BaresipEndpoint) Recording() string { return e.B.Recording() }

// Summary implements Endpoint.
func (e *BaresipEndpoint) Summary() string {
	return e.Label() + " events " + strings.Join(e.B.Events(), ",")
}

// CallResult is what one call between two endpoints showed.
type CallResult struct {
	OK bool
	// Detail says what happened, for the report.
	Detail string
	// FirstAudio is the time from answer until both sides received
	// media (0 when they never did within the talk period).
	FirstAudio time.Duration
	// CallerHeard and CalleeHeard are how long each side's recording
	// holds the other's tone.
	CallerHeard, CalleeHeard time.Duration
}

// CallTiming bounds the phases of a call; the zero value is replaced by
// DefaultCallTiming.
type CallTiming struct {
	Register, Ring, Connect time.Duration
	// Talk is how long the call goes on once media flows both ways, and
	// MaxTalk how long after the answer it ends at the latest (ICE
	// checks and a re-INVITE come before baresip's media in ICE mode).
	Talk, MaxTalk time.Duration
	// MinHeard is how much of the far tone each recording must hold.
	MinHeard time.Duration
}

// DefaultCallTiming is what the lab's call scenarios use: 3 s of talk
// after media flows both ways (ending 8 s after answer at the latest),
// and each direction must carry the far tone for 1.5 s.
var DefaultCallTiming = CallTiming{Register: 10 * time.Second, Ring: 6 * time.Second, Connect: 5 * time.Second,
	Talk: 3 * time.Second, MaxTalk: 8 * time.Second, MinHeard: 1500 * time.Millisecond}

// errNoRecording reports an endpoint that left no recording.
var errNoRecording = errors.New("no recording")

// Call has caller call callee through registrar and checks audio both
// ways by content. Both endpoints are stopped when it returns.
func Call(caller, callee Endpoint, registrar string, tm CallTiming) CallResult {
	if tm == (CallTiming{}) {
		tm = DefaultCallTiming
	}
	defer caller.Stop()
	defer callee.Stop()
	for _, p := range []Endpoint{caller, callee} {
		if ok, detail := p.WaitRegistered(tm.Register); !ok {
			return CallResult{Detail: fmt.Sprintf("%s %s not registered: %s", p.Label(), p.UserName(), detail)}
		}
	}
	if err := caller.Dial(callee.UserName(), registrar); err != nil {
		return CallResult{Detail: "dial: " + err.Error()}
	}
	if !callee.WaitIncoming(tm.Ring) {
		return CallResult{Detail: "callee never rang; caller: " + caller.Summary() + "; callee: " + callee.Summary()}
	}
	if err := callee.Answer(); err != nil {
		return CallResult{Detail: "answer: " + err.Error()}
	}
	answered := time.Now()
	if !caller.WaitTalking(tm.Connect) || !callee.WaitTalking(tm.Connect) {
		return CallResult{Detail: "call not established; caller: " + caller.Summary() + "; callee: " + callee.Summary()}
	}
	var res CallResult
	talkEnd := answered.Add(max(tm.MaxTalk, tm.Talk))
	for time.Now().Before(talkEnd) {
		if res.FirstAudio == 0 && caller.HearsMedia(callee.Tone()) && callee.HearsMedia(caller.Tone()) {
			res.FirstAudio = time.Since(answered)
			talkEnd = time.Now().Add(tm.Talk)
		}
		time.Sleep(100 * time.Millisecond)
	}
	summary := "caller: " + caller.Summary() + "; callee: " + callee.Summary()
	caller.Hangup()
	caller.Stop()
	callee.Stop()
	var errs []string
	var err error
	if res.CallerHeard, err = heard(caller, callee.Tone()); err != nil {
		errs = append(errs, "caller "+err.Error())
	}
	if res.CalleeHeard, err = heard(callee, caller.Tone()); err != nil {
		errs = append(errs, "callee "+err.Error())
	}
	res.Detail = fmt.Sprintf("caller heard callee %.1fs, callee heard caller %.1fs; %s",
		res.CallerHeard.Seconds(), res.CalleeHeard.Seconds(), summary)
	if len(errs) > 0 {
		res.Detail += "; " + strings.Join(errs, "; ")
	}
	res.OK = res.CallerHeard >= tm.MinHeard && res.CalleeHeard >= tm.MinHeard
	return res
}

func heard(e Endpoint, far float64) (time.Duration, error) {
	rec := e.Recording()
	if rec == "" {
		return 0, errNoRecording
	}
	return ToneTime(rec, far)
}
