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
)

// State is the phone's user-visible state.
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
}

// Config configures a Phone.
type Config struct {
	// Board holds the devices. Keypad, Hook, Indicator, Ringer, Codec may
	// be nil; AudioIn and AudioOut are required for calls with audio.
	Board *hal.Board
	// Line is the SIP user agent. Required.
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
	// When set, Line is ignored. (Issue 13 contract.)
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
}

// VolumeOff is the Config.Volume that starts the phone silent (volume 0).
const VolumeOff = -1

// Errors returned to API commands.
var (
	ErrBusy    = errors.New("phone: busy")
	ErrNoCall  = errors.New("phone: no call")
	ErrState   = errors.New("phone: not possible in this state")
	ErrStopped = errors.New("phone: stopped")
)

// Phone is the state machine. Create it with New and drive it with Run.
type Phone struct {
	cfg Config
	log *slog.Logger

	cmds    chan command
	callEvs chan CallEvent
	dtmfEvs chan DTMFEvent

	// Owned by the Run goroutine.
	state    State
	digits   []rune
	lastDial string
	handset  bool // handset off the hook
	speaker  bool // hands-free on
	muted    bool // the microphone is muted; reset when the call ends
	volume   int  // the user's setting; kept from call to call
	// remoteHeld: the far end holds the call (its last offer or answer
	// was sendonly or inactive).
	remoteHeld bool
	call       Call
	remote     string
	dialTimer  *time.Timer
	pump       context.CancelFunc
	pumpDone   chan struct{}
	lastErr    string

	// remoteDigits is set when any of digits (or the number redialled)
	// came from a command (the API) rather than the keypad. Owned by the
	// Run goroutine.
	remoteDigits bool

	mu   sync.Mutex // guards snap
	snap Status
}

// Status is a snapshot of the phone for the API and the display.
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

	// Issue 13 contract: every call, every line, the audio route.
	Calls       []CallStatus `json:"calls"`
	Lines       []LineStatus `json:"lines"`
	Route       Route        `json:"route,omitempty"`
	Conference  bool         `json:"conference"`
	MissedCalls int          `json:"missed_calls"`
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
)

var commandNames = [...]string{cmdCall: "call", cmdAnswer: "answer", cmdHangup: "hangup",
	cmdDTMF: "dtmf", cmdHold: "hold", cmdResume: "resume", cmdKey: "key"}

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
	reply chan error
}

// New checks cfg and returns a Phone in Idle.
func New(cfg Config) (*Phone, error) {
	if cfg.Board == nil || cfg.Line == nil || cfg.Tones == nil {
		return nil, errors.New("phone: Board, Line and Tones are required")
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
		cfg:     cfg,
		log:     log.With("component", "phone"),
		cmds:    make(chan command),
		callEvs: make(chan CallEvent, 32),
		dtmfEvs: make(chan DTMFEvent, 32),
		volume:  70,
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

// Run drives the phone until ctx is done. It hangs up a live call on the
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
	p.setIndicators()
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
			p.onCall(ctx, ev)
		case ev := <-p.dtmfEvs:
			p.log.Info("dtmf received", "digit", string(ev.Digit))
		case c := <-p.cmds:
			c.reply <- p.onCommand(ctx, c)
		case <-dialC:
			p.dialTimer = nil
			p.sendNumber(ctx)
		}
		p.publish()
	}
}

func (p *Phone) shutdown() {
	if p.call != nil {
		_ = p.call.Hangup()
	}
	p.endCall()
	p.stopDialTimer()
	p.play(nil)
	if r := p.cfg.Board.Ringer; r != nil {
		_ = r.Stop()
	}
	p.state = Idle
	p.publish()
}

func (p *Phone) publish() {
	s := Status{
		State: p.state.String(), Digits: string(p.digits), Remote: p.remote,
		Handset: p.handset, Speaker: p.speaker, Muted: p.muted, Volume: p.volume,
		LastDial: p.lastDial, Error: p.lastErr,
	}
	if p.call != nil {
		s.CallID = p.call.ID()
	}
	p.mu.Lock()
	p.snap = s
	p.mu.Unlock()
}

// do sends a command to the loop and waits for its result.
func (p *Phone) do(ctx context.Context, kind commandKind, arg string) error {
	c := command{kind: kind, arg: arg, reply: make(chan error, 1)}
	select {
	case p.cmds <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Call dials target hands-free (the API's "call" action).
func (p *Phone) Call(ctx context.Context, target string) error { return p.do(ctx, cmdCall, target) }

// Answer answers the ringing call hands-free.
func (p *Phone) Answer(ctx context.Context) error { return p.do(ctx, cmdAnswer, "") }

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

// Press injects a key press (the API's and the terminal's keys).
func (p *Phone) Press(ctx context.Context, key hal.Key) error {
	return p.do(ctx, cmdKey, string(rune(key)))
}

func (p *Phone) onCommand(ctx context.Context, c command) error {
	switch c.kind {
	case cmdCall:
		if strings.TrimSpace(c.arg) == "" {
			return fmt.Errorf("%w: empty number", ErrState)
		}
		switch p.state {
		case Idle, OffHook, Dialing, Busy:
		default:
			return ErrBusy
		}
		if !p.handset {
			p.speaker = true
		}
		p.stopDialTimer()
		p.digits, p.remoteDigits = []rune(c.arg), true
		return p.dial(ctx)
	case cmdAnswer:
		if p.state != Ringing {
			return ErrNoCall
		}
		if !p.handset {
			p.speaker = true
		}
		return p.answer()
	case cmdHangup:
		if p.state == Ringing && p.call != nil {
			err := p.call.Reject(603)
			p.endCall()
			p.toIdleOrBusy(false)
			return err
		}
		p.handset, p.speaker = false, false
		p.onHookDown()
		return nil
	case cmdDTMF:
		if p.call == nil || (p.state != Talking && p.state != HeldRemote && p.state != Early) {
			return ErrNoCall
		}
		return p.call.SendDTMF(c.arg)
	case cmdHold:
		if p.state != Talking && p.state != HeldRemote {
			return ErrState
		}
		return p.hold()
	case cmdResume:
		if p.state != Held {
			return ErrState
		}
		return p.resume()
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

func (p *Phone) onHook(ctx context.Context, off bool) {
	p.handset = off
	if off {
		p.speaker = false // lifting the handset takes the call from the speaker
		p.route()
		switch p.state {
		case Idle:
			p.goOffHook()
		case Ringing:
			_ = p.answer()
		}
		return
	}
	if !p.speaker {
		p.onHookDown()
	}
}

// onKey handles a key press; remote is true for a key the API pressed.
func (p *Phone) onKey(ctx context.Context, ev hal.KeyEvent, remote bool) {
	if !ev.Down || ev.Repeat && !(ev.Key == hal.KeyVolUp || ev.Key == hal.KeyVolDown) {
		return
	}
	k := ev.Key
	switch {
	case k.IsDigit():
		p.onDigit(ctx, rune(k), remote)
	case k == hal.KeySpeaker:
		if p.speaker {
			p.speaker = false
			p.route()
			if !p.handset {
				p.onHookDown()
			}
			return
		}
		p.speaker = true
		p.route()
		switch p.state {
		case Idle:
			p.goOffHook()
		case Ringing:
			_ = p.answer()
		}
	case k == hal.KeyLine:
		if p.state == Ringing {
			if !p.handset {
				p.speaker = true
			}
			_ = p.answer()
		} else if p.state == Idle {
			p.speaker = true
			p.goOffHook()
		}
	case k == hal.KeyHold:
		switch p.state {
		case Talking, HeldRemote:
			_ = p.hold()
		case Held:
			_ = p.resume()
		}
	case k == hal.KeyRedial:
		if p.lastDial != "" && (p.state == Idle || p.state == OffHook || p.state == Dialing) {
			if !p.handset {
				p.speaker = true
			}
			p.digits, p.remoteDigits = []rune(p.lastDial), remote
			_ = p.dial(ctx)
		}
	case k == hal.KeyMute:
		p.muted = !p.muted
		if c := p.cfg.Board.Codec; c != nil {
			_ = c.SetMute(p.muted)
		}
		p.setIndicators()
	case k == hal.KeyVolUp, k == hal.KeyVolDown:
		step := 10
		if k == hal.KeyVolDown {
			step = -10
		}
		p.volume = min(100, max(0, p.volume+step))
		if c := p.cfg.Board.Codec; c != nil {
			_ = c.SetVolume(p.volume)
		}
	}
}

func (p *Phone) onDigit(ctx context.Context, d rune, remote bool) {
	switch p.state {
	case OffHook, Dialing:
		if d == p.cfg.Terminator && len(p.digits) > 0 {
			p.remoteDigits = p.remoteDigits || remote
			p.stopDialTimer()
			p.sendNumber(ctx)
			return
		}
		if len(p.digits) >= p.cfg.MaxDigits {
			return
		}
		if len(p.digits) == 0 {
			p.remoteDigits = false
		}
		p.digits = append(p.digits, d)
		p.remoteDigits = p.remoteDigits || remote
		if p.state == OffHook {
			p.state = Dialing
			p.play(nil) // dial tone stops at the first digit
		}
		p.stopDialTimer()
		p.dialTimer = time.NewTimer(p.cfg.DialTimeout)
	case Talking, HeldRemote, Early:
		if p.call != nil {
			if err := p.call.SendDTMF(string(d)); err != nil {
				p.log.Warn("dtmf send failed", "err", err)
			}
		}
	}
}

func (p *Phone) sendNumber(ctx context.Context) {
	if p.state != Dialing || len(p.digits) == 0 {
		return
	}
	if err := p.dial(ctx); err != nil {
		p.log.Warn("dial failed", "err", err)
	}
}

func (p *Phone) dial(ctx context.Context) error {
	target := string(p.digits)
	if !p.remoteDigits {
		ctx = OnKeypad(ctx)
	}
	p.digits, p.remoteDigits = nil, false
	p.lastDial = target
	p.lastErr = ""
	call, err := p.cfg.Line.Dial(ctx, target)
	if err != nil {
		p.lastErr = err.Error()
		p.state = Busy
		p.play(p.cfg.Tones.Congestion())
		return err
	}
	p.call = call
	p.remote = target
	p.state = Calling
	p.play(p.cfg.Tones.Ringback())
	p.setIndicators()
	p.log.Info("calling", "to", target, "call_id", call.ID())
	return nil
}

func (p *Phone) answer() error {
	if p.call == nil {
		return ErrNoCall
	}
	if r := p.cfg.Board.Ringer; r != nil {
		_ = r.Stop()
	}
	if err := p.call.Answer(); err != nil {
		p.lastErr = err.Error()
		return err
	}
	p.startTalking()
	return nil
}

func (p *Phone) hold() error {
	if err := p.call.Hold(); err != nil {
		return err
	}
	p.state = Held
	p.play(nil)
	p.setIndicators()
	return nil
}

func (p *Phone) resume() error {
	if err := p.call.Resume(); err != nil {
		return err
	}
	p.state = p.connectedState()
	p.playMedia()
	p.setIndicators()
	return nil
}

func (p *Phone) onCall(ctx context.Context, ev CallEvent) {
	if ev.State == CallIncoming {
		p.onIncoming(ev.Call)
		return
	}
	if p.call == nil || ev.Call.ID() != p.call.ID() {
		return // an event of a call we no longer track
	}
	switch ev.State {
	case CallRinging:
		if p.state == Calling {
			p.play(p.cfg.Tones.Ringback())
		}
	case CallEarly:
		if p.state == Calling || p.state == Early {
			p.state = Early
			p.playMedia()
		}
	case CallAnswered, CallHeld, CallResumed:
		if ev.State == CallAnswered && (p.state == Calling || p.state == Early) {
			p.startTalking()
		}
		p.onRemoteHold(ev.RemoteHold)
	case CallEnded, CallFailed:
		wasRinging := p.state == Ringing
		wasConnected := p.state == Talking || p.state == Held || p.state == HeldRemote
		p.endCall()
		if ev.State == CallFailed {
			p.lastErr = fmt.Sprintf("%d %s", ev.Code, ev.Reason)
		}
		if wasRinging {
			p.toIdleOrBusy(false)
			return
		}
		if wasConnected && ev.State == CallEnded && p.speaker && !p.handset {
			// Hands-free, nobody holds a handset to hang up: the far
			// end's hang-up ends it all, as on a desk phone, so the
			// next call rings rather than finding the phone busy.
			p.speaker = false
			p.onHookDown()
			return
		}
		busy := ev.Code == 486 || ev.Code == 600 || ev.Code == 603 || ev.State == CallEnded
		p.toIdleOrBusy(true)
		if p.state == Busy {
			if busy {
				p.play(p.cfg.Tones.Busy())
			} else {
				p.play(p.cfg.Tones.Congestion())
			}
		}
	}
}

// onRemoteHold follows the far end's hold of a connected call. Our own
// hold (Held) shows until we resume; what the far end sends while it
// holds (music on hold) keeps playing.
func (p *Phone) onRemoteHold(held bool) {
	switch p.state {
	case Talking, HeldRemote, Held:
	default:
		return
	}
	p.remoteHeld = held
	if p.state != Held {
		p.state = p.connectedState()
	}
	p.setIndicators()
}

// connectedState is the state of a connected call we do not hold.
func (p *Phone) connectedState() State {
	if p.remoteHeld {
		return HeldRemote
	}
	return Talking
}

func (p *Phone) onIncoming(c Call) {
	if p.state != Idle || p.call != nil {
		// One line, no call waiting yet: the caller hears busy.
		p.log.Info("incoming call while busy: 486", "from", c.Remote())
		_ = c.Reject(486)
		return
	}
	p.call = c
	p.remote = c.Remote()
	p.state = Ringing
	if r := p.cfg.Board.Ringer; r != nil {
		_ = r.Ring()
	}
	p.setIndicators()
	p.log.Info("ringing", "from", c.Remote(), "call_id", c.ID())
	if p.handset { // off hook already: a lift is an answer
		_ = p.answer()
	}
}

func (p *Phone) startTalking() {
	p.state = Talking
	p.playMedia()
	p.route()
	p.setIndicators()
	p.startPump()
}

// startPump runs the microphone capture loop of the call's media.
func (p *Phone) startPump() {
	if p.pump != nil || p.call == nil || p.cfg.Board.AudioIn == nil {
		return
	}
	m := p.call.Media()
	if m == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.pump, p.pumpDone = cancel, done
	in := p.cfg.Board.AudioIn
	go func() {
		defer close(done)
		if err := m.Run(ctx, in); err != nil && !errors.Is(err, context.Canceled) {
			p.log.Debug("capture loop ended", "err", err)
		}
	}()
}

func (p *Phone) playMedia() {
	if p.call != nil {
		if m := p.call.Media(); m != nil {
			p.play(m)
			return
		}
	}
	p.play(nil)
}

func (p *Phone) play(src hal.FrameSource) {
	if out := p.cfg.Board.AudioOut; out != nil {
		if err := out.Start(src); err != nil {
			p.log.Warn("audio out", "err", err)
		}
	}
}

func (p *Phone) endCall() {
	if p.pump != nil {
		p.pump()
		<-p.pumpDone
		p.pump, p.pumpDone = nil, nil
	}
	if r := p.cfg.Board.Ringer; r != nil {
		_ = r.Stop()
	}
	p.call = nil
	p.remoteHeld = false
	p.play(nil)
	p.unmute()
}

// unmute turns mute off: mute belongs to one call, the next starts with
// the microphone live (as on Yealink and Polycom desk phones).
func (p *Phone) unmute() {
	if !p.muted {
		return
	}
	p.muted = false
	if c := p.cfg.Board.Codec; c != nil {
		_ = c.SetMute(false)
	}
	p.setIndicators()
}

// toIdleOrBusy moves to Busy while the user is still off hook (they hear
// the tone and hang up), to Idle otherwise.
func (p *Phone) toIdleOrBusy(offHookTone bool) {
	switch {
	case (p.handset || p.speaker) && offHookTone:
		p.state = Busy
	case p.handset || p.speaker:
		p.goOffHook()
	default:
		p.state = Idle
		p.remote = ""
	}
	p.setIndicators()
}

func (p *Phone) onHookDown() {
	p.stopDialTimer()
	p.digits = nil
	if p.call != nil {
		if p.state == Ringing {
			return // putting down an on-hook handset does not reject a ringing call
		}
		if err := p.call.Hangup(); err != nil {
			p.log.Warn("hangup", "err", err)
		}
		p.endCall()
	}
	p.play(nil)
	p.unmute()
	p.state = Idle
	p.remote = ""
	p.route()
	p.setIndicators()
}

func (p *Phone) goOffHook() {
	p.state = OffHook
	p.digits = nil
	p.remote = ""
	p.play(p.cfg.Tones.Dial())
	p.route()
	p.setIndicators()
}

func (p *Phone) stopDialTimer() {
	if p.dialTimer != nil {
		p.dialTimer.Stop()
		p.dialTimer = nil
	}
}

func (p *Phone) route() {
	c := p.cfg.Board.Codec
	if c == nil {
		return
	}
	r := hal.RouteHandset
	if p.speaker && !p.handset {
		r = hal.RouteSpeaker
	}
	_ = c.SetRoute(r)
}

func (p *Phone) setIndicators() {
	ind := p.cfg.Board.Indicator
	if ind == nil {
		return
	}
	line := hal.Off
	switch p.state {
	case Ringing:
		line = hal.BlinkFast
	case Held:
		line = hal.BlinkSlow
	case OffHook, Dialing, Calling, Early, Talking, HeldRemote, Busy:
		line = hal.On
	}
	_ = ind.Set(hal.LEDLine, line)
	sp, mute := hal.Off, hal.Off
	if p.speaker {
		sp = hal.On
	}
	if p.muted {
		mute = hal.On
	}
	_ = ind.Set(hal.LEDSpeaker, sp)
	_ = ind.Set(hal.LEDMute, mute)
}
