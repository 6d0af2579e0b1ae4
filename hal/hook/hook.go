package hook

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/deskphone/phone/hal"
)

// Opts configures the hook switch. Zero durations take DefaultOpts'.
type Opts struct {
	// OffHook is the level the pin reads with the handset lifted. The
	// default (Low) suits a contact that closes to ground when the
	// handset is lifted, with the pull-up holding the pin High on hook.
	OffHook gpio.Level
	// Pull is the input's pull resistor (default PullUp).
	Pull gpio.Pull
	// Debounce is how long the contact must be still (default 30 ms).
	Debounce time.Duration
	// Poll is the sampling interval when edges are not available
	// (default 5 ms).
	Poll time.Duration
	// EdgeTimeout bounds one WaitForEdge (default 1 min). Close ends a
	// pending wait with the pin's Halt; the bound matters only where Halt
	// cannot end it (periph's sysfs driver), and as a look at the pin
	// once a timeout, should an edge ever be lost. See halt.go.
	EdgeTimeout time.Duration
	// NoEdges forces polling even where the pin has edge detection.
	NoEdges bool
	// Logger; nil discards.
	Logger *slog.Logger
}

// DefaultOpts: contact to ground when lifted, pull-up, 30 ms debounce.
var DefaultOpts = Opts{
	OffHook:     gpio.Low,
	Pull:        gpio.PullUp,
	Debounce:    30 * time.Millisecond,
	Poll:        5 * time.Millisecond,
	EdgeTimeout: time.Minute,
}

// Switch is a debounced hook switch. It implements hal.Hook.
type Switch struct {
	pin   gpio.PinIn
	o     Opts
	edges bool
	ch    chan hal.HookEvent
	done  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once

	mu  sync.Mutex // guards following
	off bool
}

var _ hal.Hook = (*Switch)(nil)

// New sets the pin up and starts watching it. A nil o means DefaultOpts.
// When the pin refuses edge detection, the switch is polled.
func New(pin gpio.PinIn, o *Opts) (*Switch, error) {
	if pin == nil {
		return nil, fmt.Errorf("%w: nil pin", ErrPin)
	}
	op := DefaultOpts
	if o != nil {
		op = *o
	}
	d := DefaultOpts
	if op.Debounce <= 0 {
		op.Debounce = d.Debounce
	}
	if op.Poll <= 0 {
		op.Poll = d.Poll
	}
	if op.EdgeTimeout <= 0 {
		op.EdgeTimeout = d.EdgeTimeout
	}
	if op.Logger == nil {
		op.Logger = slog.New(slog.DiscardHandler)
	}
	op.Logger = op.Logger.With("component", "hook", "pin", pin.String())
	s := &Switch{pin: pin, o: op, ch: make(chan hal.HookEvent, 8), done: make(chan struct{})}
	if !op.NoEdges {
		if err := pin.In(op.Pull, gpio.BothEdges); err != nil {
			op.Logger.Info("no edge detection, polling", "err", err)
		} else {
			s.edges = true
		}
	}
	if !s.edges {
		if err := pin.In(op.Pull, gpio.NoEdge); err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrPin, pin, err)
		}
	}
	s.off = pin.Read() == op.OffHook
	s.wg.Add(1)
	go s.run()
	return s, nil
}

// Polling reports whether the switch is polled rather than interrupt driven.
func (s *Switch) Polling() bool { return !s.edges }

// Events delivers debounced changes; it is closed by Close.
func (s *Switch) Events() <-chan hal.HookEvent { return s.ch }

// OffHook reports the debounced state.
func (s *Switch) OffHook() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.off
}

func (s *Switch) run() {
	defer s.wg.Done()
	state := s.OffHook()
	cand := state
	since := time.Now()
	var timer *time.Timer
	if !s.edges {
		timer = time.NewTimer(0)
		<-timer.C
		defer timer.Stop()
	}
	for {
		wait := s.o.EdgeTimeout
		if !s.edges {
			wait = s.o.Poll
		}
		if cand != state {
			// At least 1 ms: gpioioctl's WaitForEdge(0) waits forever.
			wait = min(wait, max(time.Until(since.Add(s.o.Debounce)), time.Millisecond))
		}
		edge := false
		if s.edges {
			start := time.Now()
			edge = s.pin.WaitForEdge(wait)
			select {
			case <-s.done:
				return
			default:
			}
			if !edge && wait >= time.Second && time.Since(start) < wait/2 && !s.pause() {
				return
			}
		} else {
			timer.Reset(wait)
			select {
			case <-s.done:
				return
			case <-timer.C:
			}
		}
		now := time.Now()
		lvl := s.pin.Read() == s.o.OffHook
		if lvl != cand || edge {
			cand, since = lvl, now // the contact moved: wait for it to be still
		}
		if cand != state && now.Sub(since) >= s.o.Debounce {
			state = cand
			s.mu.Lock()
			s.off = state
			s.mu.Unlock()
			select {
			case s.ch <- hal.HookEvent{OffHook: state, At: since}:
			case <-s.done:
				return
			}
		}
	}
}

// Close stops watching, ends a pending wait for an edge (Halt; on a pin
// that cannot be halted, it waits at most EdgeTimeout), waits for the
// goroutine and closes Events. It leaves the pin an input without edge
// detection. It is idempotent.
func (s *Switch) Close() error {
	s.once.Do(func() {
		close(s.done)
		if s.edges {
			s.halt()
			_ = s.pin.In(s.o.Pull, gpio.NoEdge)
		}
		s.wg.Wait()
		close(s.ch)
	})
	return nil
}
