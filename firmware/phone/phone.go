package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

	// Volume is the speaker volume at start, 1..100 (the config's
	// audio.volume, which the daemon also sets on the codec); zero means
	// 70 and VolumeOff starts silent.
	Volume int
	// Voicemail are the numbers the voicemail key dials, by line
	// (e.g. "*97"); a line without one (or "") has no voicemail key.
	Voicemail []string
	// BLF are the busy lamp keys (at most hal.BLFKeys, each key once).
	BLF []BLFKey
}

// VolumeOff is the Config.Volume that starts the phone silent (volume 0).
const VolumeOff = -1

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
	// audioBack carries the call, held by the far end, whose audio
	// (music on hold) started to arrive: playCall's arrival hook.
	audioBack chan string
	stopped   chan struct{}

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
	// busyTimer ends the busy tone of a hands-free call that failed
	// (BusyHandsFree): nobody holds a handset to put down.
	busyTimer *time.Timer
	lastErr   string
	missed    int
	xfer      *xferState
	ringing   bool // the ringer is on

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

	// mwi is each line's mailbox (SetMessages), lamps each BLF key's
	// state (SetLamp, by index of Config.BLF). Owned by the Run goroutine.
	mwi   []Messages
	lamps []lamp

	mu   sync.Mutex // guards snap
	snap Status
	// notify signals Status readers after each publish (notify.go).
	notify notifier
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
	// Lamps are the busy lamp keys, in Config.BLF's order.
	Lamps []LampStatus `json:"lamps"`
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
	if err := checkVoicemail(cfg.Voicemail, len(lines)); err != nil {
		return nil, err
	}
	if err := checkBLF(cfg.BLF, len(lines)); err != nil {
		return nil, err
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
		cfg:       cfg,
		log:       log.With("component", "phone"),
		lines:     lines,
		settings:  make([]LineSettings, len(lines)),
		cmds:      make(chan command),
		callEvs:   make(chan CallEvent, 32),
		dtmfEvs:   make(chan DTMFEvent, 32),
		noAnswer:  make(chan string, 8),
		audioBack: make(chan string, 8),
		stopped:   make(chan struct{}),
		volume:    70,
		mwi:       make([]Messages, len(lines)),
		lamps:     make([]lamp, len(cfg.BLF)),
	}
	for i := range p.lamps {
		p.lamps[i].state = LampUnknown
	}
	copy(p.settings, cfg.Settings)
	if cfg.Board.AudioIn != nil {
		p.router = &router{in: cfg.Board.AudioIn, log: p.log}
	}
	switch {
	case cfg.Volume > 0:
		p.volume = min(cfg.Volume, 100)
	case cfg.Volume < 0:
		p.volume = 0
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
		var dialC, busyC <-chan time.Time
		if p.dialTimer != nil {
			dialC = p.dialTimer.C
		}
		if p.busyTimer != nil {
			busyC = p.busyTimer.C
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
		case id := <-p.audioBack:
			p.onHeldAudio(id)
		case <-dialC:
			p.dialTimer = nil
			p.sendNumber(ctx)
		case <-busyC:
			p.busyTimer = nil
			p.endHandsFreeBusy()
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
	p.stopBusyTimer()
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
		Lamps: p.lampStatus(),
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
		s.Lines[i] = LineStatus{Line: i, LineSettings: l, Messages: p.mwi[i], Voicemail: p.voicemailNumber(i)}
	}
	p.mu.Lock()
	p.snap = s
	p.mu.Unlock()
	p.notify.signal()
}
