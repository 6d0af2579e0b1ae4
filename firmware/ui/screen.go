package ui

import (
	"bytes"
	"context"
	"errors"
	"image"
	"log/slog"
	"sync"
	"time"

	"github.com/deskphone/phone/hal"
)

// ScreenConfig wires a Screen.
type ScreenConfig struct {
	// View returns what to show now; it is called on the Screen's
	// goroutine for every frame and every key, and by Image. Required.
	View func() View
	// Display is the panel. Nil means no panel: the screen then renders
	// nothing by itself (no frames, no clock, no marquee, no dimming)
	// and Image renders the view when asked.
	Display hal.Display
	// Keys are the keypad's events. The screen takes the keys it uses
	// and passes the others on through Keypad. Nil means no keys.
	Keys <-chan hal.KeyEvent
	// Changed, when set, is signalled whenever the view may have
	// changed (the phone's state, a registration, the NAT report): the
	// next frame is rendered at once. Between signals the panel is
	// redrawn only when the time it shows changes: once a second while
	// a call's timer shows, else once a minute for the idle clock.
	// Without Changed the view is re-read every Poll.
	Changed <-chan struct{}
	// Poll is how often a panel's view is re-read when Changed is nil
	// (default 40 ms, so a change shows within one 50 ms frame budget).
	// Unused with Changed.
	Poll time.Duration
	// Do carries out an action the screen asks for (the daemon maps it
	// onto the phone). It runs on the Screen's goroutine: it should not
	// block for long. Nil drops actions.
	Do func(Action)
	// DimAfter dims the panel to DimLevel (0–100) after that long with
	// no key and no call; a key or a call brings full brightness back.
	// Zero never dims.
	DimAfter time.Duration
	DimLevel int
	// Logger; nil discards.
	Logger *slog.Logger
}

// ScrollEvery is the marquee's tick.
const ScrollEvery = 100 * time.Millisecond

// Screen runs a UI: it renders a frame for every change (a key, a
// signal on Changed, a poll that found a new view, a clock or marquee
// tick), sends the frames that differ from the last one to the display,
// and splits the keypad between the UI and the phone. Without a display
// it renders only for Image, so an idle phone with no panel never wakes
// for the screen.
type Screen struct {
	cfg  ScreenConfig
	log  *slog.Logger
	ui   *UI
	work *image.Paletted // rendered here, then compared with last

	// wake marks activity (dimming); nil when the panel never dims.
	// dimmed says the panel is dimmed. Both belong to the goroutine.
	wake   func()
	dimmed bool

	out    chan hal.KeyEvent         // keys for the phone
	inject chan pressed              // keys pressed through Press (not the keypad)
	shots  chan chan *image.Paletted // Image's requests, with no display
	kept   map[hal.Key]bool          // keys whose press the UI took: their release is dropped too

	mu     sync.Mutex // guards following
	last   *image.Paletted
	frames uint64

	started   chan struct{} // closed by Start
	startOnce sync.Once
	closeOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
}

// NewScreen returns a Screen that has not started (see Start), so that
// its Keypad can be handed to the phone first.
func NewScreen(cfg ScreenConfig) (*Screen, error) {
	if cfg.View == nil {
		return nil, errors.New("ui: ScreenConfig.View is required")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 40 * time.Millisecond
		if cfg.Changed != nil {
			cfg.Poll = time.Second
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Screen{
		cfg: cfg, log: log.With("component", "screen"), ui: New(), work: NewFrame(), last: NewFrame(),
		out: make(chan hal.KeyEvent, 64), inject: make(chan pressed), shots: make(chan chan *image.Paletted), kept: map[hal.Key]bool{}, done: make(chan struct{}), started: make(chan struct{}),
	}
	if cfg.Display != nil {
		if b := cfg.Display.Bounds(); b.Dx() > 0 && b.Dy() > 0 && b != s.work.Rect {
			s.work = image.NewPaletted(b, Palette)
			s.last = image.NewPaletted(b, Palette)
		}
	}
	return s, nil
}

// Keypad returns the keys the screen did not take, as a hal.Keypad for
// the phone. Its channel is closed when the screen stops. Its Close does
// nothing: the board's keypad belongs to the board.
func (s *Screen) Keypad() hal.Keypad { return phoneKeys{s} }

type phoneKeys struct{ s *Screen }

func (k phoneKeys) Events() <-chan hal.KeyEvent { return k.s.out }
func (k phoneKeys) Close() error                { return nil }

// Start starts the screen's goroutine; Close stops it. Starting twice
// does nothing.
func (s *Screen) Start() {
	s.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.cancel = cancel
		close(s.started)
		go func() {
			defer close(s.done)
			defer close(s.out)
			s.run(ctx)
		}()
	})
}

// Close stops the screen and waits for its goroutine. It does not close
// the display (the board does). It is idempotent.
func (s *Screen) Close() error {
	s.closeOnce.Do(func() {
		started := true
		s.startOnce.Do(func() { started = false; close(s.out) })
		if !started {
			return
		}
		s.cancel()
		<-s.done
	})
	return nil
}

// Image returns a copy of the last frame; with no display, a frame
// rendered now.
func (s *Screen) Image() *image.Paletted {
	if s.cfg.Display == nil {
		return s.shot()
	}
	return s.copyLast()
}

// Frames returns the number of distinct frames shown so far.
func (s *Screen) Frames() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frames
}

func (s *Screen) run(ctx context.Context) {
	keys, changed := s.cfg.Keys, s.cfg.Changed
	// shown: there is a panel to draw on. Without one nothing below
	// ticks, and frames are rendered only when Image asks (shot).
	shown := s.cfg.Display != nil
	var pollC <-chan time.Time
	if shown && changed == nil {
		poll := time.NewTicker(s.cfg.Poll)
		defer poll.Stop()
		pollC = poll.C
	}
	// clock wakes the screen when the time it shows changes (Changed
	// brings every other change).
	var clock *time.Timer
	if shown && changed != nil {
		clock = time.NewTimer(time.Hour)
		defer clock.Stop()
	}
	var scroll *time.Ticker
	defer func() {
		if scroll != nil {
			scroll.Stop()
		}
	}()
	s.brightness(100)
	var dimC <-chan time.Time
	if shown && s.cfg.DimAfter > 0 {
		dim := time.NewTimer(s.cfg.DimAfter)
		defer dim.Stop()
		dimC = dim.C
		s.wake = func() {
			if s.dimmed {
				s.dimmed = false
				s.brightness(100)
			}
			dim.Reset(s.cfg.DimAfter)
		}
	}
	first, render := true, shown
	for {
		if render {
			if s.frame(first) && s.wake != nil {
				s.wake() // a call keeps the panel lit
			}
			first = false
			if clock != nil {
				clock.Reset(untilClock(s.ui.View(), time.Now()))
			}
		}
		render = shown
		// The marquee ticks only while some text scrolls on a panel.
		var scrollC <-chan time.Time
		if shown && s.ui.Animating() {
			if scroll == nil {
				scroll = time.NewTicker(ScrollEvery)
			}
			scrollC = scroll.C
		} else if scroll != nil {
			scroll.Stop()
			scroll = nil
		}
		var clockC <-chan time.Time
		if clock != nil {
			clockC = clock.C
		}
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-keys:
			if !ok {
				keys = nil
				continue
			}
			if s.wake != nil {
				s.wake()
			}
			s.key(ev)
		case <-dimC:
			render = false
			if len(s.ui.View().Calls) > 0 {
				s.wake() // re-arms the timer: the panel dims after the call
				continue
			}
			s.dimmed = true
			s.brightness(s.cfg.DimLevel)
		case _, ok := <-changed:
			if !ok {
				changed = nil
			}
		case p := <-s.inject:
			if s.wake != nil {
				s.wake()
			}
			p.taken <- s.uiKey(hal.KeyEvent{Key: p.key, Down: true, At: time.Now()}, true)
		case r := <-s.shots:
			s.frame(false)
			r <- s.copyLast()
		case <-pollC:
		case <-clockC:
		case <-scrollC:
			s.ui.Tick()
		}
	}
}

// untilClock is how long from now until what v shows of the time
// changes: the next whole second of an answered call's timer, else the
// next minute of the idle clock (the history's dates change with it).
func untilClock(v View, now time.Time) time.Duration {
	d := now.Truncate(time.Minute).Add(time.Minute).Sub(now)
	for _, c := range v.Calls {
		if c.Answered.IsZero() || c.State.ringing() {
			continue
		}
		if e := now.Sub(c.Answered); e >= 0 {
			d = min(d, time.Second-e%time.Second)
		}
	}
	return d
}

// shot renders the view for Image when there is no display: on the
// screen's goroutine while it runs (the UI's menus belong to it), else
// with a fresh UI.
func (s *Screen) shot() *image.Paletted {
	running := false
	select {
	case <-s.started:
		running = true
	default:
	}
	if running {
		r := make(chan *image.Paletted, 1)
		select {
		case s.shots <- r:
			return <-r
		case <-s.done:
		}
	}
	u := New()
	u.SetView(s.cfg.View())
	img := image.NewPaletted(s.work.Rect, Palette)
	u.Render(img)
	return img
}

// copyLast returns a copy of the last frame.
func (s *Screen) copyLast() *image.Paletted {
	s.mu.Lock()
	defer s.mu.Unlock()
	img := image.NewPaletted(s.last.Rect, Palette)
	copy(img.Pix, s.last.Pix)
	return img
}

// key gives a key event to the UI, or to the phone when the UI has no
// use for it.
func (s *Screen) key(ev hal.KeyEvent) {
	switch {
	case !ev.Down:
		// A release goes where its press went.
		if s.kept[ev.Key] {
			delete(s.kept, ev.Key)
			return
		}
		s.forward(ev)
		return
	case ev.Long:
		if !s.kept[ev.Key] {
			s.forward(ev)
		}
		return
	case ev.Repeat && !s.kept[ev.Key]:
		s.forward(ev)
		return
	}
	if !s.uiKey(ev, false) && !ev.Repeat {
		s.forward(ev)
		return
	}
	s.kept[ev.Key] = true
}

// uiKey gives a press to the UI and carries out its action; it reports
// whether the UI took the key.
func (s *Screen) uiKey(ev hal.KeyEvent, remote bool) bool {
	s.ui.SetView(s.cfg.View())
	a, handled := s.ui.Key(ev)
	if !handled {
		return false
	}
	if a.Kind != ActNone {
		a.Remote = remote
		s.log.Debug("action", "action", a.String())
		if s.cfg.Do != nil {
			s.cfg.Do(a)
		}
	}
	return true
}

// ErrNotRunning is Press's answer when the screen is not running.
var ErrNotRunning = errors.New("ui: the screen is not running")

// pressed is a key pressed through Press, with where to say whether the
// UI took it.
type pressed struct {
	key   hal.Key
	taken chan bool
}

// Press presses k from elsewhere than the keypad (the API) and reports
// whether the screen took it. The UI handles it as a keypad press (the
// arrows, soft keys and menus; digits in a menu), and the action it leads
// to is marked Remote so the daemon can refuse what only a person at the
// phone may do (a factory reset). A key the screen does not take is the
// caller's to give to the phone; the screen never forwards it, so it
// keeps the caller's rights rather than the keypad's.
func (s *Screen) Press(ctx context.Context, k hal.Key) (bool, error) {
	select {
	case <-s.started:
	default:
		return false, ErrNotRunning
	}
	p := pressed{key: k, taken: make(chan bool, 1)}
	select {
	case s.inject <- p:
	case <-s.done:
		return false, ErrNotRunning
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case taken := <-p.taken:
		return taken, nil
	case <-s.done:
		return false, ErrNotRunning
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func (s *Screen) forward(ev hal.KeyEvent) {
	select {
	case s.out <- ev:
	default:
		s.log.Warn("phone not reading keys: key dropped", "key", ev.Key.String())
	}
}

func (s *Screen) brightness(level int) {
	if d := s.cfg.Display; d != nil {
		if err := d.SetBrightness(level); err != nil {
			s.log.Warn("display brightness", "err", err)
		}
	}
}

// frame renders the current view and shows it when it differs from the
// last frame (or always, when force). It reports whether the view has
// calls.
func (s *Screen) frame(force bool) (calls bool) {
	s.ui.SetView(s.cfg.View())
	calls = len(s.ui.View().Calls) > 0
	s.ui.Render(s.work)
	if !force && bytes.Equal(s.work.Pix, s.last.Pix) {
		return calls
	}
	s.mu.Lock()
	copy(s.last.Pix, s.work.Pix)
	s.frames++
	s.mu.Unlock()
	if d := s.cfg.Display; d != nil {
		// Only this goroutine writes last, so the panel may read it
		// without the lock.
		if err := d.Draw(s.last); err != nil {
			s.log.Warn("display draw", "err", err)
		}
	}
	return calls
}

// ToPhone sends a press and release of k to the phone as if from the
// keypad. It is for Do, which runs on the screen's goroutine: a soft key
// whose meaning is a phone key (Send is the dial terminator, volume,
// mute) goes the keypad's way, with the keypad's rights.
func (s *Screen) ToPhone(k hal.Key) {
	at := time.Now()
	s.forward(hal.KeyEvent{Key: k, Down: true, At: at})
	s.forward(hal.KeyEvent{Key: k, At: at})
}
