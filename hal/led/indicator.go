package led

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/deskphone/phone/hal"
)

// tick is the blink clock: BlinkFast toggles every tick, BlinkSlow every
// five (hal.Pattern's 100 ms and 500 ms).
const tick = 100 * time.Millisecond

// Opts configures an Indicator.
type Opts struct {
	// ActiveLow says an LED lights when its pin is Low (LED to 3.3 V).
	ActiveLow bool
	// Logger; nil discards.
	Logger *slog.Logger
}

// Indicator is a hal.Indicator over GPIO pins. LEDs the board has no pin
// for are accepted and ignored.
type Indicator struct {
	pins map[hal.LED]gpio.PinOut
	o    Opts
	done chan struct{}
	wake chan struct{} // Set: the blink clock may start or stop
	wg   sync.WaitGroup
	once sync.Once

	mu     sync.Mutex // guards following
	closed bool
	pat    map[hal.LED]hal.Pattern
	lit    map[hal.LED]bool // level last written
	n      int              // ticks so far: the blink phase
}

var _ hal.Indicator = (*Indicator)(nil)

// NewIndicator turns every LED off. A nil o means the zero Opts (active
// high). The blink clock ticks only while an LED blinks, so LEDs that
// are off or steady do not wake an idle phone.
func NewIndicator(pins map[hal.LED]gpio.PinOut, o *Opts) (*Indicator, error) {
	var op Opts
	if o != nil {
		op = *o
	}
	if op.Logger == nil {
		op.Logger = slog.New(slog.DiscardHandler)
	}
	in := &Indicator{pins: map[hal.LED]gpio.PinOut{}, o: op, done: make(chan struct{}), wake: make(chan struct{}, 1),
		pat: map[hal.LED]hal.Pattern{}, lit: map[hal.LED]bool{}}
	for led, p := range pins {
		if p == nil {
			continue
		}
		in.pins[led] = p
		if err := in.writeLocked(led, false); err != nil {
			return nil, err
		}
	}
	in.wg.Add(1)
	go in.run()
	return in, nil
}

// Set shows pattern p on led. Blinking starts in the lit phase of the
// shared clock when the clock is lit, else at its next lit phase.
func (in *Indicator) Set(led hal.LED, p hal.Pattern) error {
	if p < hal.Off || p > hal.BlinkFast {
		return fmt.Errorf("%w: %d", ErrPattern, p)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return ErrClosed
	}
	if _, ok := in.pins[led]; !ok {
		return nil
	}
	in.pat[led] = p
	select { // the clock starts or stops with the blinking
	case in.wake <- struct{}{}:
	default:
	}
	return in.writeLocked(led, litAt(p, in.n))
}

// blinkingLocked says whether any LED blinks (the clock must tick).
func (in *Indicator) blinkingLocked() bool {
	for _, p := range in.pat {
		if p == hal.BlinkSlow || p == hal.BlinkFast {
			return true
		}
	}
	return false
}

// Pattern reports what led shows.
func (in *Indicator) Pattern(led hal.LED) hal.Pattern {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.pat[led]
}

// litAt says whether pattern p is lit at tick n.
func litAt(p hal.Pattern, n int) bool {
	switch p {
	case hal.On:
		return true
	case hal.BlinkFast:
		return n%2 == 0
	case hal.BlinkSlow:
		return (n/5)%2 == 0
	}
	return false
}

func (in *Indicator) writeLocked(led hal.LED, on bool) error {
	if cur, ok := in.lit[led]; ok && cur == on {
		return nil
	}
	l := gpio.Level(on != in.o.ActiveLow)
	if err := in.pins[led].Out(l); err != nil {
		return fmt.Errorf("%w %s (%v): %w", ErrPin, in.pins[led], led, err)
	}
	in.lit[led] = on
	return nil
}

func (in *Indicator) run() {
	defer in.wg.Done()
	t := time.NewTicker(tick)
	t.Stop() // started by the first blinking pattern
	defer t.Stop()
	running, failing := false, false
	for {
		var tc <-chan time.Time
		if running {
			tc = t.C
		}
		ticked := false
		select {
		case <-in.done:
			return
		case <-in.wake:
		case <-tc:
			ticked = true
		}
		in.mu.Lock()
		var err error
		if ticked {
			in.n++
			for led, p := range in.pat {
				if e := in.writeLocked(led, litAt(p, in.n)); e != nil && err == nil {
					err = e
				}
			}
		}
		blinking := in.blinkingLocked()
		in.mu.Unlock()
		switch {
		case blinking && !running:
			t.Reset(tick)
			running = true
		case !blinking && running:
			t.Stop()
			running = false
		}
		if ticked {
			if err != nil && !failing {
				in.o.Logger.Error("led write failed", "component", "led", "err", err)
			}
			failing = err != nil
		}
	}
}

// Close stops blinking and turns every LED off. It is idempotent.
func (in *Indicator) Close() error {
	var err error
	in.once.Do(func() {
		close(in.done)
		in.wg.Wait()
		in.mu.Lock()
		defer in.mu.Unlock()
		in.closed = true
		for led := range in.pins {
			if e := in.writeLocked(led, false); e != nil && err == nil {
				err = e
			}
		}
	})
	return err
}
