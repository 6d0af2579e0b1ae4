package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/mix"
)

// State is the phone's user-visible state: that of the active call, else
// of the handset (off hook, dialling, busy tone), else ringing or held
// calls.
type State int

const (
	Idle       State = iota // on hook, nothing happening
	OffHook                 // handset lifted (or speaker on): dial tone
	Dialing                 // collecting digits
	Calling                 // outgoing call placed: local ringback
	Early                   // outgoing call playing the far end's early media
	Ringing                 // incoming call alerting
	Talking                 // call connected
	Held                    // call on hold (we hold it, whatever the far end does)
	Busy                    // call failed or ended: busy/congestion tone until hang-up
	HeldRemote              // call connected, held by the far end
)

func (s State) String() string {
	return [...]string{"idle", "offhook", "dialing", "calling", "early", "ringing", "talking", "held", "busy", "held_remote"}[s]
}

// Tones makes the call-progress tones the phone plays, by country.
type Tones interface {
	Dial() hal.FrameSource
	Ringback() hal.FrameSource
	Busy() hal.FrameSource
	Congestion() hal.FrameSource
	// CallWaiting is the beep laid over a call while another waits; its
	// cadence carries the pauses (a burst every few seconds).
	CallWaiting() hal.FrameSource
}

// Route is where the audio goes: "handset", "speaker", "headset" or ""
// (nowhere: on hook).
type Route string

// Audio routes.
const (
	RouteHandset Route = "handset"
	RouteSpeaker Route = "speaker"
	RouteHeadset Route = "headset"
)

// Config configures a Phone.
type Config struct {
	// Board holds the devices. Keypad, Hook, Indicator, Ringer, Codec may
	// be nil; AudioIn and AudioOut are required for calls with audio.
	Board *hal.Board
	// Line is the SIP user agent of a phone with one line; Lines
	// replaces it for several.
	Line Line
	// Tones makes call-progress tones. Required.
	Tones Tones
	// DialTimeout is the inter-digit pause after which the number is
	// sent. Default 4 s.
	DialTimeout time.Duration
	// Terminator sends the number at once. Default '#'.
	Terminator rune
	// MaxDigits caps the dialled number. Default 32.
	MaxDigits int
	// Logger receives logs; nil discards.
	Logger *slog.Logger

	// Lines are the phone's lines (SIP accounts), line 0 the default.
	// When set, Line is ignored.
	Lines []Line
	// Settings are each line's initial DND and forwarding (by index;
	// missing means none).
	Settings []LineSettings
	// MaxCalls caps the calls at once (ringing ones included); beyond it
	// an incoming call is refused 486 (or forwarded on busy). Zero means 4.
	MaxCalls int
	// NoCallWaiting refuses an incoming call during another with 486
	// instead of playing the call-waiting tone.
	NoCallWaiting bool
	// History, when set, receives an entry for every call that ends.
	History History
	// Directory, when set, names callers and resolves speed dials.
	Directory Directory
}

// DefaultMaxCalls is the number of calls at once when Config.MaxCalls is
// zero.
const DefaultMaxCalls = 4

// Errors returned to API commands.
var (
	ErrBusy        = errors.New("phone: busy")
	ErrNoCall      = errors.New("phone: no call")
	ErrState       = errors.New("phone: not possible in this state")
	ErrStopped     = errors.New("phone: stopped")
	ErrNoLine      = errors.New("phone: no such line")
	ErrBadSettings = errors.New("phone: bad line settings")
	// ErrNoTransfer: the call's line cannot forward or transfer (it does
	// not implement Transferer).
	ErrNoTransfer = errors.New("phone: call cannot be transferred or forwarded")
)

// Phone is the state machine. Create it with New and drive it with Run.
type Phone struct {
	cfg   Config
	log   *slog.Logger
	lines []Line

	cmds    chan command
	callEvs chan CallEvent
	dtmfEvs chan DTMFEvent
	// noAnswer carries the call whose ring time for forward-on-no-answer
	// is up; stopped closes when Run returns, so a late timer gives up.
	noAnswer chan string
	stopped  chan struct{}

	// Owned by the Run goroutine.
	settings []LineSettings
	calls    []*callRec // every call, oldest first
	// cur is the call the handset or speaker carries (possibly held by
	// us); nil when none is, e.g. off hook for a new call.
	cur *callRec
	// mode is the handset's state when no call is current: Idle,
	// OffHook, Dialing or Busy.
	mode     State
	dialLine int // the line the next dial goes on
	digits   []rune
	lastDial string
	lastLine int
	// lastRemote is shown while the busy tone plays.
	lastRemote string
	handset    bool // handset off the hook
	speaker    bool // hands-free on
	headset    bool // audio on the headset
	muted      bool // the microphone is muted; reset when the call ends
	volume     int  // the user's setting; kept from call to call
	dialTimer  *time.Timer
	lastErr    string
	missed     int
	xfer       *xferState
	ringing    bool // the ringer is on

	// Audio (owned by the Run goroutine).
	router    *router
	base      hal.FrameSource // what the speaker plays under any overlay
	overlay   *mix.Mixer      // base with the call-waiting beep
	cwTone    hal.FrameSource
	cwPlaying bool
	confMix   *mix.Mixer

	// remoteDigits is set when any of digits (or the number redialled)
	// came from a command (the API) rather than the keypad. Owned by the
	// Run goroutine.
	remoteDigits bool

	mu   sync.Mutex // guards snap
	snap Status
}

// Status is a snapshot of the phone for the API and the display. The
// top-level call fields describe the active call, or the alerting one
// when none is active; Calls lists every call.
type Status struct {
	State    string `json:"state"`
	Digits   string `json:"digits,omitempty"`
	CallID   string `json:"call_id,omitempty"`
	Remote   string `json:"remote,omitempty"`
	Handset  bool   `json:"handset"`
	Speaker  bool   `json:"speaker"`
	Muted    bool   `json:"muted"`
	Volume   int    `json:"volume"`
	LastDial string `json:"last_dialled,omitempty"`
	Error    string `json:"error,omitempty"`

	Calls       []CallStatus `json:"calls"`
	Lines       []LineStatus `json:"lines"`
	Route       Route        `json:"route,omitempty"`
	Conference  bool         `json:"conference"`
	MissedCalls int          `json:"missed_calls"`
	// Line is the line the next dial goes on.
	Line int `json:"line"`
	// Headset is whether audio is on the headset.
	Headset bool `json:"headset"`
}

// commandKind is what a command asks the Run loop to do.
type commandKind int

const (
	cmdCall   commandKind = iota + 1 // dial arg hands-free
	cmdAnswer                        // answer the ringing call
	cmdHangup                        // end or reject the call, go on hook
	cmdDTMF                          // send arg as DTMF in the call
	cmdHold                          // put the call on hold
	cmdResume                        // take the call off hold
	cmdKey                           // press the key arg (one rune)
	cmdFunc                          // run fn on the loop (arg names it)
)

var commandNames = [...]string{cmdCall: "call", cmdAnswer: "answer", cmdHangup: "hangup",
	cmdDTMF: "dtmf", cmdHold: "hold", cmdResume: "resume", cmdKey: "key", cmdFunc: "func"}

func (k commandKind) String() string {
	if k > 0 && int(k) < len(commandNames) {
		return commandNames[k]
	}
	return fmt.Sprintf("command(%d)", int(k))
}

// command is one request from the public methods to the Run loop.
type command struct {
	kind  commandKind
	arg   string
	fn    func(ctx context.Context) error
	reply chan error
}

// New checks cfg and returns a Phone in Idle.
func New(cfg Config) (*Phone, error) {
	lines := cfg.Lines
	if len(lines) == 0 && cfg.Line != nil {
		lines = []Line{cfg.Line}
	}
	if cfg.Board == nil || len(lines) == 0 || cfg.Tones == nil {
		return nil, errors.New("phone: Board, Line (or Lines) and Tones are required")
	}
	for i, l := range lines {
		if l == nil {
			return nil, fmt.Errorf("phone: Lines[%d] is nil", i)
		}
	}
	if len(cfg.Settings) > len(lines) {
		return nil, fmt.Errorf("%w: %d settings for %d lines", ErrBadSettings, len(cfg.Settings), len(lines))
	}
	for i, s := range cfg.Settings {
		if err := s.check(); err != nil {
			return nil, fmt.Errorf("phone: line %d: %w", i, err)
		}
	}
	if cfg.MaxCalls < 0 {
		return nil, fmt.Errorf("phone: MaxCalls %d is negative", cfg.MaxCalls)
	}
	if cfg.MaxCalls == 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 4 * time.Second
	}
	if cfg.Terminator == 0 {
		cfg.Terminator = '#'
	}
	if cfg.MaxDigits == 0 {
		cfg.MaxDigits = 32
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Phone{
		cfg:      cfg,
		log:      log.With("component", "phone"),
		lines:    lines,
		settings: make([]LineSettings, len(lines)),
		cmds:     make(chan command),
		callEvs:  make(chan CallEvent, 32),
		dtmfEvs:  make(chan DTMFEvent, 32),
		noAnswer: make(chan string, 8),
		stopped:  make(chan struct{}),
		volume:   70,
	}
	copy(p.settings, cfg.Settings)
	if cfg.Board.AudioIn != nil {
		p.router = &router{in: cfg.Board.AudioIn, log: p.log}
	}
	p.publish()
	return p, nil
}

// CallEvent delivers a call event from the line. It never blocks for
// long: the phone's loop drains the queue.
func (p *Phone) CallEvent(ev CallEvent) { p.callEvs <- ev }

// DTMF delivers a digit received from the far end.
func (p *Phone) DTMF(ev DTMFEvent) {
	select {
	case p.dtmfEvs <- ev:
	default:
	}
}

// Status returns the latest snapshot.
func (p *Phone) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snap
}

// Run drives the phone until ctx is done. It hangs up every call on the
// way out and stops every goroutine it started.
func (p *Phone) Run(ctx context.Context) error {
	var keys <-chan hal.KeyEvent
	var hooks <-chan hal.HookEvent
	if p.cfg.Board.Keypad != nil {
		keys = p.cfg.Board.Keypad.Events()
	}
	if p.cfg.Board.Hook != nil {
		hooks = p.cfg.Board.Hook.Events()
		if p.cfg.Board.Hook.OffHook() {
			p.handset = true
			p.goOffHook()
		}
	}
	p.settle()
	defer p.shutdown()
	for {
		var dialC <-chan time.Time
		if p.dialTimer != nil {
			dialC = p.dialTimer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-keys:
			if !ok {
				keys = nil
				continue
			}
			p.onKey(ctx, ev, false)
		case ev, ok := <-hooks:
			if !ok {
				hooks = nil
				continue
			}
			p.onHook(ctx, ev.OffHook)
		case ev := <-p.callEvs:
			if ev.Call != nil {
				p.onCall(ctx, ev)
			}
		case ev := <-p.dtmfEvs:
			p.log.Info("dtmf received", "digit", string(ev.Digit))
		case c := <-p.cmds:
			var err error
			if c.kind == cmdFunc && c.fn != nil {
				err = c.fn(ctx)
			} else {
				err = p.onCommand(ctx, c)
			}
			// The snapshot is current when the caller gets the answer.
			p.settle()
			c.reply <- err
			continue
		case id := <-p.noAnswer:
			p.onNoAnswer(id)
		case <-dialC:
			p.dialTimer = nil
			p.sendNumber(ctx)
		}
		p.settle()
	}
}

func (p *Phone) shutdown() {
	close(p.stopped)
	for _, c := range append([]*callRec(nil), p.calls...) {
		if c.answered.IsZero() && c.incoming {
			_ = c.call.Reject(486)
		} else {
			_ = c.call.Hangup()
		}
		p.drop(c)
	}
	p.stopDialTimer()
	p.xfer = nil
	p.mode = Idle
	p.play(nil)
	if r := p.cfg.Board.Ringer; r != nil {
		_ = r.Stop()
	}
	p.ringing = false
	p.publish()
}

// settle brings everything that follows from the call list up to date
// after each event: waiting or ringing calls, the ringer, the beep, the
// calls' microphones, the LEDs and the snapshot.
func (p *Phone) settle() {
	engaged := p.engaged()
	ring := false
	for _, c := range p.calls {
		switch c.phase {
		case phIncoming, phWaiting:
			// A call rings while the user is free; during a call, or off
			// hook, it waits (the beep in the ear instead of the bell).
			if engaged {
				c.phase = phWaiting
			} else {
				c.phase = phIncoming
				ring = true
			}
		}
	}
	if r := p.cfg.Board.Ringer; r != nil && ring != p.ringing {
		if ring {
			_ = r.Ring()
		} else {
			_ = r.Stop()
		}
	}
	p.ringing = ring
	if (p.waiting() != nil) != p.cwPlaying {
		p.output()
	}
	p.routeAudio()
	p.setIndicators()
	p.publish()
}

// state derives the phone's state from the calls and the handset.
func (p *Phone) state() State {
	if c := p.cur; c != nil {
		return c.phoneState()
	}
	if p.mode != Idle {
		return p.mode
	}
	for _, c := range p.calls {
		if c.phase == phIncoming {
			return Ringing
		}
	}
	if len(p.calls) > 0 {
		return Held
	}
	return Idle
}

// engaged reports whether the user is at the phone: handset lifted,
// speaker or headset on.
func (p *Phone) engaged() bool { return p.handset || p.speaker || p.headset }

func (p *Phone) routeName() Route {
	switch {
	case p.headset:
		return RouteHeadset
	case p.speaker && !p.handset:
		return RouteSpeaker
	case p.handset:
		return RouteHandset
	}
	return ""
}

func (p *Phone) publish() {
	st := p.state()
	s := Status{
		State: st.String(), Digits: string(p.digits),
		Handset: p.handset, Speaker: p.speaker, Muted: p.muted, Volume: p.volume,
		LastDial: p.lastDial, Error: p.lastErr, Route: p.routeName(), Headset: p.headset,
		Conference: p.confActive(), MissedCalls: p.missed, Line: p.dialLine,
		Calls: make([]CallStatus, 0, len(p.calls)), Lines: make([]LineStatus, len(p.settings)),
	}
	top := p.cur
	if top == nil {
		top = p.alerting()
	}
	if top != nil {
		s.CallID, s.Remote = top.call.ID(), top.remote
	} else if st == Busy {
		s.Remote = p.lastRemote
	}
	for _, c := range p.calls {
		s.Calls = append(s.Calls, c.status(c == p.cur))
	}
	for i, l := range p.settings {
		s.Lines[i] = LineStatus{Line: i, LineSettings: l}
	}
	p.mu.Lock()
	p.snap = s
	p.mu.Unlock()
}

// do sends a command to the loop and waits for its result.
func (p *Phone) do(ctx context.Context, kind commandKind, arg string) error {
	return p.send(ctx, command{kind: kind, arg: arg})
}

// exec runs fn on the loop and returns its result.
func (p *Phone) exec(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	return p.send(ctx, command{kind: cmdFunc, arg: name, fn: fn})
}

func (p *Phone) send(ctx context.Context, c command) error {
	c.reply = make(chan error, 1)
	select {
	case p.cmds <- c:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.stopped:
		return ErrStopped
	}
	select {
	case err := <-c.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Call dials target hands-free (the API's "call" action) on the default
// line.
func (p *Phone) Call(ctx context.Context, target string) error { return p.do(ctx, cmdCall, target) }

// CallOn dials target on line (0-based) hands-free. A connected call is
// held first.
func (p *Phone) CallOn(ctx context.Context, line int, target string) error {
	return p.exec(ctx, "call", func(ctx context.Context) error {
		if line < 0 || line >= len(p.lines) {
			return fmt.Errorf("%w: %d", ErrNoLine, line)
		}
		return p.apiCall(ctx, line, target)
	})
}

// Answer answers the ringing (or waiting) call hands-free.
func (p *Phone) Answer(ctx context.Context) error { return p.do(ctx, cmdAnswer, "") }

// AnswerCall answers the ringing or waiting call id hands-free (the active
// call, if any, is held first).
func (p *Phone) AnswerCall(ctx context.Context, id string) error {
	return p.exec(ctx, "answer", func(context.Context) error {
		c := p.find(id)
		if c == nil || !c.unanswered() {
			return fmt.Errorf("%w: %q is not ringing", ErrNoCall, id)
		}
		return p.answerHandsFree(c)
	})
}

// RejectCall refuses the ringing or waiting call id (486, or code).
func (p *Phone) RejectCall(ctx context.Context, id string, code int) error {
	return p.exec(ctx, "reject", func(context.Context) error {
		c := p.find(id)
		if c == nil || !c.unanswered() {
			return fmt.Errorf("%w: %q is not ringing", ErrNoCall, id)
		}
		if code == 0 {
			code = 486
		}
		if code < 400 || code > 699 {
			return fmt.Errorf("%w: reject code %d is not a 4xx-6xx", ErrState, code)
		}
		return p.reject(c, code, "rejected")
	})
}

// HangupCall ends call id. Ending the active call does not take the
// phone off the held ones; ending a ringing one refuses it (603).
func (p *Phone) HangupCall(ctx context.Context, id string) error {
	return p.exec(ctx, "hangup", func(context.Context) error {
		c := p.find(id)
		if c == nil {
			return fmt.Errorf("%w: %q", ErrNoCall, id)
		}
		if c.unanswered() {
			return p.reject(c, 603, "declined")
		}
		wasCur := c == p.cur
		err := p.hangupRec(c)
		switch {
		case !wasCur || p.cur != nil:
		case !p.handset:
			// Hands-free, nobody holds a handset to put down.
			p.speaker, p.headset = false, false
			p.onHookDown()
		default:
			p.goOffHook() // the handset is up: dial tone for the next
		}
		return err
	})
}

// Hangup ends the current call (or rejects a ringing one) and goes on hook.
func (p *Phone) Hangup(ctx context.Context) error { return p.do(ctx, cmdHangup, "") }

// SendDTMF sends digits in the current call.
func (p *Phone) SendDTMF(ctx context.Context, digits string) error {
	return p.do(ctx, cmdDTMF, digits)
}

// Hold puts the current call on hold.
func (p *Phone) Hold(ctx context.Context) error { return p.do(ctx, cmdHold, "") }

// Resume takes the current call off hold.
func (p *Phone) Resume(ctx context.Context) error { return p.do(ctx, cmdResume, "") }

// HoldCall holds call id.
func (p *Phone) HoldCall(ctx context.Context, id string) error {
	return p.exec(ctx, "hold", func(context.Context) error {
		c := p.find(id)
		if c == nil {
			return fmt.Errorf("%w: %q", ErrNoCall, id)
		}
		if c.phase != phTalking || c.localHold {
			return ErrState
		}
		return p.holdRec(c)
	})
}

// ResumeCall resumes call id and makes it active (the active one, if
// another, is held first).
func (p *Phone) ResumeCall(ctx context.Context, id string) error {
	return p.exec(ctx, "resume", func(context.Context) error {
		c := p.find(id)
		if c == nil {
			return fmt.Errorf("%w: %q", ErrNoCall, id)
		}
		if c.phase != phTalking || !c.localHold {
			return ErrState
		}
		if !p.engaged() {
			p.speaker = true
			p.route()
		}
		return p.resumeRec(c)
	})
}

// Swap makes the held call active and holds the active one.
func (p *Phone) Swap(ctx context.Context) error {
	return p.exec(ctx, "swap", func(context.Context) error { return p.swap() })
}

// ClearMissed resets Status.MissedCalls (the user has seen them).
func (p *Phone) ClearMissed(ctx context.Context) error {
	return p.exec(ctx, "clear missed", func(context.Context) error {
		p.missed = 0
		return nil
	})
}

// SetLine changes a line's DND and forwarding.
func (p *Phone) SetLine(ctx context.Context, line int, s LineSettings) error {
	if err := s.check(); err != nil {
		return err
	}
	return p.exec(ctx, "set line", func(context.Context) error {
		if line < 0 || line >= len(p.settings) {
			return fmt.Errorf("%w: %d", ErrNoLine, line)
		}
		p.settings[line] = s
		p.log.Info("line settings", "line", line, "dnd", s.DND, "forward_always", s.Forward.Always,
			"forward_busy", s.Forward.Busy, "forward_no_answer", s.Forward.NoAnswer)
		return nil
	})
}

// Press injects a key press (the API's and the terminal's keys).
func (p *Phone) Press(ctx context.Context, key hal.Key) error {
	return p.do(ctx, cmdKey, string(rune(key)))
}

// apiCall dials target hands-free on line for the API.
func (p *Phone) apiCall(ctx context.Context, line int, target string) error {
	if strings.TrimSpace(target) == "" {
		return fmt.Errorf("%w: empty number", ErrState)
	}
	if l := p.live(); l != nil && l.phase != phTalking {
		return ErrBusy // a call is being placed: one at a time
	}
	if len(p.calls) >= p.cfg.MaxCalls {
		return ErrBusy
	}
	if !p.engaged() {
		p.speaker = true
	}
	p.stopDialTimer()
	p.dialLine = line
	p.digits, p.remoteDigits = []rune(target), true
	return p.dial(ctx)
}

func (p *Phone) onCommand(ctx context.Context, c command) error {
	switch c.kind {
	case cmdCall:
		return p.apiCall(ctx, 0, c.arg)
	case cmdAnswer:
		r := p.alerting()
		if r == nil {
			return ErrNoCall
		}
		return p.answerHandsFree(r)
	case cmdHangup:
		if p.state() == Ringing {
			if r := p.alerting(); r != nil {
				return p.reject(r, 603, "declined")
			}
		}
		if p.cur != nil {
			_ = p.hangupRec(p.cur)
		}
		p.handset, p.speaker, p.headset = false, false, false
		p.onHookDown()
		return nil
	case cmdDTMF:
		c2 := p.live()
		if c2 == nil || (c2.phase != phTalking && c2.phase != phEarly) {
			return ErrNoCall
		}
		return c2.call.SendDTMF(c.arg)
	case cmdHold:
		l := p.live()
		if l == nil || l.phase != phTalking {
			return ErrState
		}
		return p.holdRec(l)
	case cmdResume:
		h := p.cur
		if h == nil || !h.localHold {
			h = p.lastHeld(nil)
		}
		if h == nil || !h.localHold {
			return ErrState
		}
		if !p.engaged() {
			p.speaker = true
			p.route()
		}
		return p.resumeRec(h)
	case cmdKey:
		r := []rune(c.arg)
		if len(r) != 1 {
			return ErrState
		}
		p.onKey(ctx, hal.KeyEvent{Key: hal.Key(r[0]), Down: true, At: time.Now()}, true)
		return nil
	}
	return fmt.Errorf("phone: unknown command %v", c.kind)
}
