// Package haltest holds fakes of the hal interfaces whose fields and
// methods tests drive. Audio fakes are paced by real timers, so they run
// at device speed normally and instantly inside a testing/synctest bubble.
package haltest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/deskphone/phone/hal"
)

// ErrClosed is returned by a fake after Close.
var ErrClosed = errors.New("haltest: closed")

// Keypad is a fake keypad; Press and Release inject events.
type Keypad struct {
	ch   chan hal.KeyEvent
	once sync.Once
	mu   sync.Mutex
	done bool
}

// NewKeypad returns a fake keypad with a buffered event channel.
func NewKeypad() *Keypad { return &Keypad{ch: make(chan hal.KeyEvent, 64)} }

func (k *Keypad) Events() <-chan hal.KeyEvent { return k.ch }

func (k *Keypad) send(ev hal.KeyEvent) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.done {
		k.ch <- ev
	}
}

// Press sends a key-down then key-up for each key.
func (k *Keypad) Press(keys ...hal.Key) {
	for _, key := range keys {
		k.send(hal.KeyEvent{Key: key, Down: true, At: time.Now()})
		k.send(hal.KeyEvent{Key: key, Down: false, At: time.Now()})
	}
}

// Type presses each character of s as a dial key.
func (k *Keypad) Type(s string) {
	for _, r := range s {
		k.Press(hal.Key(r))
	}
}

// Send injects one raw event.
func (k *Keypad) Send(ev hal.KeyEvent) { k.send(ev) }

func (k *Keypad) Close() error {
	k.once.Do(func() {
		k.mu.Lock()
		k.done = true
		close(k.ch)
		k.mu.Unlock()
	})
	return nil
}

// Hook is a fake hook switch.
type Hook struct {
	ch   chan hal.HookEvent
	mu   sync.Mutex
	off  bool
	done bool
}

// NewHook returns an on-hook fake.
func NewHook() *Hook { return &Hook{ch: make(chan hal.HookEvent, 16)} }

func (h *Hook) Events() <-chan hal.HookEvent { return h.ch }

func (h *Hook) OffHook() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.off
}

func (h *Hook) set(off bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done || h.off == off {
		return
	}
	h.off = off
	h.ch <- hal.HookEvent{OffHook: off, At: time.Now()}
}

// Lift takes the handset off the hook.
func (h *Hook) Lift() { h.set(true) }

// HangUp puts the handset back.
func (h *Hook) HangUp() { h.set(false) }

func (h *Hook) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done {
		h.done = true
		close(h.ch)
	}
	return nil
}

// Indicator records the last pattern of each LED.
type Indicator struct {
	mu  sync.Mutex
	LED map[hal.LED]hal.Pattern
}

func NewIndicator() *Indicator { return &Indicator{LED: map[hal.LED]hal.Pattern{}} }

func (i *Indicator) Set(led hal.LED, p hal.Pattern) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.LED[led] = p
	return nil
}

// Get returns the LED's current pattern.
func (i *Indicator) Get(led hal.LED) hal.Pattern {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.LED[led]
}

func (i *Indicator) Close() error { return nil }

// Ringer records whether it is ringing and how often it started.
type Ringer struct {
	mu      sync.Mutex
	ringing bool
	Starts  int
}

func (r *Ringer) Ring() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ringing {
		r.Starts++
	}
	r.ringing = true
	return nil
}

func (r *Ringer) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ringing = false
	return nil
}

// Ringing reports whether the ringer is on.
func (r *Ringer) Ringing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ringing
}

func (r *Ringer) Close() error { return r.Stop() }

// AudioIn is a fake microphone: each ReadFrame waits one frame time and
// fills dst from Source (silence when nil).
type AudioIn struct {
	Fmt hal.Format
	mu  sync.Mutex
	src hal.FrameSource
	// next is when the next frame is due; it paces capture like a device clock.
	next   time.Time
	closed bool
}

// NewAudioIn returns a fake microphone playing src.
func NewAudioIn(f hal.Format, src hal.FrameSource) *AudioIn { return &AudioIn{Fmt: f, src: src} }

func (a *AudioIn) Format() hal.Format { return a.Fmt }

// SetSource changes what the microphone hears.
func (a *AudioIn) SetSource(src hal.FrameSource) {
	a.mu.Lock()
	a.src = src
	a.mu.Unlock()
}

func (a *AudioIn) ReadFrame(ctx context.Context, dst []int16) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	now := time.Now()
	if a.next.IsZero() || a.next.Before(now.Add(-a.Fmt.Frame)) {
		a.next = now
	}
	a.next = a.next.Add(a.Fmt.Frame)
	wait := time.Until(a.next)
	src := a.src
	a.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if src == nil {
		clear(dst)
		return nil
	}
	src.NextFrame(dst)
	return nil
}

func (a *AudioIn) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	return nil
}

// AudioOut is a fake speaker: a goroutine pulls one frame per frame time
// from the current source and keeps the samples for inspection.
type AudioOut struct {
	Fmt hal.Format
	// Keep bounds how many samples are kept (the newest win); 0 keeps 10 s.
	Keep int

	mu      sync.Mutex
	src     hal.FrameSource
	samples []int16
	frames  int
	stop    chan struct{}
	done    chan struct{}
}

// NewAudioOut returns a fake speaker; it starts pulling on the first Start.
func NewAudioOut(f hal.Format) *AudioOut { return &AudioOut{Fmt: f} }

func (a *AudioOut) Format() hal.Format { return a.Fmt }

func (a *AudioOut) Start(src hal.FrameSource) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.src = src
	if a.stop == nil {
		a.stop = make(chan struct{})
		a.done = make(chan struct{})
		go a.run(a.stop, a.done)
	}
	return nil
}

func (a *AudioOut) run(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(a.Fmt.Frame)
	defer t.Stop()
	buf := make([]int16, a.Fmt.FrameSamples())
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		a.mu.Lock()
		src := a.src
		a.mu.Unlock()
		if src == nil {
			clear(buf)
		} else {
			src.NextFrame(buf)
		}
		a.mu.Lock()
		a.frames++
		a.samples = append(a.samples, buf...)
		keep := a.Keep
		if keep == 0 {
			keep = a.Fmt.SampleRate * 10
		}
		if over := len(a.samples) - keep; over > 0 {
			a.samples = append(a.samples[:0], a.samples[over:]...)
		}
		a.mu.Unlock()
	}
}

// Source returns the frame source playing now (nil for silence).
func (a *AudioOut) Source() hal.FrameSource {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.src
}

// Samples returns a copy of the newest n samples played (all if n <= 0).
func (a *AudioOut) Samples(n int) []int16 {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.samples
	if n > 0 && len(s) > n {
		s = s[len(s)-n:]
	}
	return append([]int16(nil), s...)
}

// Reset forgets the samples played so far.
func (a *AudioOut) Reset() {
	a.mu.Lock()
	a.samples = a.samples[:0]
	a.mu.Unlock()
}

// Frames reports how many frames were pulled.
func (a *AudioOut) Frames() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.frames
}

func (a *AudioOut) Close() error {
	a.mu.Lock()
	stop, done := a.stop, a.done
	a.stop = nil
	a.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	return nil
}

// Codec records the codec chip settings.
type Codec struct {
	mu     sync.Mutex
	Route  hal.Route
	Volume int
	Muted  bool
	Gain   int
}

func (c *Codec) SetRoute(r hal.Route) error { c.mu.Lock(); c.Route = r; c.mu.Unlock(); return nil }
func (c *Codec) SetVolume(v int) error      { c.mu.Lock(); c.Volume = v; c.mu.Unlock(); return nil }
func (c *Codec) SetMute(m bool) error       { c.mu.Lock(); c.Muted = m; c.mu.Unlock(); return nil }
func (c *Codec) SetInputGain(g int) error   { c.mu.Lock(); c.Gain = g; c.mu.Unlock(); return nil }
func (c *Codec) Close() error               { return nil }

// State returns a snapshot of the settings.
func (c *Codec) State() (hal.Route, int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Route, c.Volume, c.Muted
}

// NewBoard returns a board made of fakes, 8 kHz narrowband, with the
// microphone playing mic (silence when nil).
func NewBoard(mic hal.FrameSource) (*hal.Board, *Keypad, *Hook, *AudioIn, *AudioOut) {
	kp, hk := NewKeypad(), NewHook()
	in, out := NewAudioIn(hal.Narrowband, mic), NewAudioOut(hal.Narrowband)
	return &hal.Board{
		Name: "fake", Keypad: kp, Hook: hk, Indicator: NewIndicator(), Ringer: &Ringer{},
		AudioIn: in, AudioOut: out, Codec: &Codec{Volume: 70},
	}, kp, hk, in, out
}

var (
	_ hal.Keypad    = (*Keypad)(nil)
	_ hal.Hook      = (*Hook)(nil)
	_ hal.Indicator = (*Indicator)(nil)
	_ hal.Ringer    = (*Ringer)(nil)
	_ hal.AudioIn   = (*AudioIn)(nil)
	_ hal.AudioOut  = (*AudioOut)(nil)
	_ hal.Codec     = (*Codec)(nil)
)
