package led

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/deskphone/phone/hal"
)

// DefaultCadence is the North American ring: 2 s on, 4 s off.
var DefaultCadence = []time.Duration{2 * time.Second, 4 * time.Second}

// BuzzerOpts configures a Buzzer.
type BuzzerOpts struct {
	// Cadence alternates on and off times; empty means DefaultCadence.
	Cadence []time.Duration
	// Tone is the PWM frequency for a passive buzzer. Zero, or a pin
	// without PWM, drives the pin High while on (an active buzzer).
	Tone physic.Frequency
	// Logger; nil discards.
	Logger *slog.Logger
}

// Buzzer is a hal.Ringer on one GPIO output.
type Buzzer struct {
	pin gpio.PinOut
	o   BuzzerOpts

	mu      sync.Mutex // guards following
	pwm     bool       // PWM still believed to work
	stop    chan struct{}
	done    chan struct{}
	closed  bool
	lastErr error
}

var _ hal.Ringer = (*Buzzer)(nil)

// NewBuzzer silences the buzzer and returns it. A nil o means the zero
// BuzzerOpts (active buzzer, DefaultCadence).
func NewBuzzer(pin gpio.PinOut, o *BuzzerOpts) (*Buzzer, error) {
	if pin == nil {
		return nil, fmt.Errorf("%w: nil buzzer pin", ErrPin)
	}
	var op BuzzerOpts
	if o != nil {
		op = *o
	}
	if err := checkCadence(op.Cadence); err != nil {
		return nil, err
	}
	if len(op.Cadence) == 0 {
		op.Cadence = DefaultCadence
	}
	if op.Logger == nil {
		op.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Buzzer{pin: pin, o: op, pwm: op.Tone > 0}
	if err := pin.Out(gpio.Low); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrPin, pin, err)
	}
	return b, nil
}

func checkCadence(c []time.Duration) error {
	for _, d := range c {
		if d <= 0 {
			return fmt.Errorf("led: cadence step %v must be positive", d)
		}
	}
	if len(c)%2 != 0 {
		return fmt.Errorf("led: cadence needs on and off times, got %d steps", len(c))
	}
	return nil
}

// Ring starts the cadence; ringing again while ringing does nothing.
func (b *Buzzer) Ring() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.stop != nil {
		return nil
	}
	b.stop, b.done = make(chan struct{}), make(chan struct{})
	go b.run(b.stop, b.done)
	return nil
}

func (b *Buzzer) run(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTimer(0)
	<-t.C
	defer t.Stop()
	for i := 0; ; i = (i + 1) % len(b.o.Cadence) {
		b.set(i%2 == 0)
		t.Reset(b.o.Cadence[i])
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// set sounds or silences the buzzer, falling back from PWM to plain
// on/off the first time PWM fails.
func (b *Buzzer) set(on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	if b.pwm {
		duty := gpio.Duty(0)
		if on {
			duty = gpio.DutyHalf
		}
		if err = b.pin.PWM(duty, b.o.Tone); err == nil {
			return
		}
		b.o.Logger.Warn("buzzer PWM failed, using on/off", "component", "ringer", "err", err)
		b.pwm = false
	}
	if err = b.pin.Out(gpio.Level(on)); err != nil && b.lastErr == nil {
		b.o.Logger.Error("buzzer pin failed", "component", "ringer", "err", err)
	}
	b.lastErr = err
}

// Stop silences the buzzer.
func (b *Buzzer) Stop() error {
	b.mu.Lock()
	stop, done := b.stop, b.done
	b.stop, b.done = nil, nil
	b.mu.Unlock()
	if stop == nil {
		return nil
	}
	close(stop)
	<-done
	b.set(false)
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastErr
}

// Ringing reports whether the cadence is running.
func (b *Buzzer) Ringing() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stop != nil
}

// Close stops ringing. It is idempotent.
func (b *Buzzer) Close() error {
	err := b.Stop()
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return err
}
