package led

import (
	"fmt"
	"log/slog"
	"math"
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

// ToneOpts configures a ToneRinger.
type ToneOpts struct {
	// Cadence alternates on and off times; empty means DefaultCadence.
	Cadence []time.Duration
	// Freqs are the two tones of the warble, alternating every Warble
	// (default 1300 Hz and 1600 Hz every 50 ms).
	Freqs  [2]float64
	Warble time.Duration
	// Level is the tone's peak level in dBFS (default −12).
	Level float64
}

// ToneRinger is a hal.Ringer that plays a warbling ring tone through a
// hal.AudioOut, for boards whose ringer is the speaker. Ring takes the
// output over (AudioOut.Start) and Stop gives it silence; the phone
// starts its call audio after the ringing stops.
type ToneRinger struct {
	out hal.AudioOut
	o   ToneOpts

	mu      sync.Mutex // guards following
	ringing bool
	closed  bool
}

var _ hal.Ringer = (*ToneRinger)(nil)

// NewToneRinger returns a ringer playing on out. A nil o means defaults.
func NewToneRinger(out hal.AudioOut, o *ToneOpts) (*ToneRinger, error) {
	if out == nil {
		return nil, fmt.Errorf("led: nil audio output")
	}
	var op ToneOpts
	if o != nil {
		op = *o
	}
	if err := checkCadence(op.Cadence); err != nil {
		return nil, err
	}
	if len(op.Cadence) == 0 {
		op.Cadence = DefaultCadence
	}
	if op.Freqs == [2]float64{} {
		op.Freqs = [2]float64{1300, 1600}
	}
	if op.Warble <= 0 {
		op.Warble = 50 * time.Millisecond
	}
	if op.Level == 0 {
		op.Level = -12
	}
	return &ToneRinger{out: out, o: op}, nil
}

// Ring starts the ring tone from the top of the cadence.
func (r *ToneRinger) Ring() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if r.ringing {
		return nil
	}
	if err := r.out.Start(NewRingTone(r.o, r.out.Format().SampleRate)); err != nil {
		return err
	}
	r.ringing = true
	return nil
}

// Stop silences the output.
func (r *ToneRinger) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ringing {
		return nil
	}
	r.ringing = false
	return r.out.Start(nil)
}

// Close stops ringing; it does not close the shared output.
func (r *ToneRinger) Close() error {
	err := r.Stop()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return err
}

// RingTone is a hal.FrameSource of the warbling ring tone, timed by the
// samples it produces (the device clock).
type RingTone struct {
	rate     int
	cadence  []int // in samples
	warble   int   // samples per tone
	step     [2]float64
	amp      float64
	pos, seg int // sample within the cadence step, step index
	n        int // samples since the tone started, for the warble
	phase    float64
}

// NewRingTone returns the ring tone for o at sampleRate.
func NewRingTone(o ToneOpts, sampleRate int) *RingTone {
	if sampleRate <= 0 {
		sampleRate = 8000
	}
	rt := &RingTone{rate: sampleRate, amp: 32767 * math.Pow(10, o.Level/20)}
	for _, d := range o.Cadence {
		rt.cadence = append(rt.cadence, max(1, int(d.Seconds()*float64(sampleRate))))
	}
	if len(rt.cadence) == 0 {
		rt.cadence = []int{1, 0}
	}
	rt.warble = max(1, int(o.Warble.Seconds()*float64(sampleRate)))
	for i, f := range o.Freqs {
		rt.step[i] = 2 * math.Pi * f / float64(sampleRate)
	}
	return rt
}

// NextFrame fills dst with the next samples of the tone.
func (rt *RingTone) NextFrame(dst []int16) {
	for i := range dst {
		if rt.seg%2 == 0 {
			rt.phase += rt.step[(rt.n/rt.warble)%2]
			if rt.phase > 2*math.Pi {
				rt.phase -= 2 * math.Pi
			}
			dst[i] = int16(rt.amp * math.Sin(rt.phase))
			rt.n++
		} else {
			dst[i] = 0
		}
		rt.pos++
		if rt.pos >= rt.cadence[rt.seg] {
			rt.pos = 0
			rt.seg = (rt.seg + 1) % len(rt.cadence)
			rt.phase, rt.n = 0, 0
		}
	}
}
