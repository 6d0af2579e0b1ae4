package led

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"

	"github.com/deskphone/phone/hal"
)

// sampleLevels reads pin every 50 ms for n samples, starting 25 ms in so
// that no sample falls on a blink edge.
func sampleLevels(p *gpiotest.Pin, n int) string {
	time.Sleep(25 * time.Millisecond)
	s := make([]byte, n)
	for i := range s {
		s[i] = '_'
		if p.Read() == gpio.High {
			s[i] = '#'
		}
		time.Sleep(50 * time.Millisecond)
	}
	return string(s)
}

func TestIndicatorPatterns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		line, msg, mute := &gpiotest.Pin{N: "LINE", L: gpio.High}, &gpiotest.Pin{N: "MSG"}, &gpiotest.Pin{N: "MUTE"}
		in, err := NewIndicator(map[hal.LED]gpio.PinOut{hal.LEDLine: line, hal.LEDMessage: msg, hal.LEDMute: mute}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if line.Read() != gpio.Low {
			t.Fatal("LED not turned off at start")
		}
		must(t, in.Set(hal.LEDLine, hal.BlinkFast))
		must(t, in.Set(hal.LEDMessage, hal.BlinkSlow))
		must(t, in.Set(hal.LEDMute, hal.On))
		must(t, in.Set(hal.LEDSpeaker, hal.On)) // no pin: ignored
		// 2 s of 50 ms samples: fast = 100 ms on/off, slow = 500 ms on/off.
		done := make(chan string, 2)
		go func() { done <- sampleLevels(msg, 40) }()
		go func() { done <- sampleLevels(mute, 40) }()
		fast := sampleLevels(line, 40)
		got := map[string]bool{<-done: true, <-done: true}
		if want := "##__##__##__##__##__##__##__##__##__##__"; fast != want {
			t.Errorf("fast blink\n got %s\nwant %s", fast, want)
		}
		if want := "##########__________##########__________"; !got[want] {
			t.Errorf("slow blink: got %v, want %s", got, want)
		}
		if want := "########################################"; !got[want] {
			t.Errorf("steady: got %v, want %s", got, want)
		}
		must(t, in.Set(hal.LEDLine, hal.Off))
		time.Sleep(time.Second)
		if line.Read() != gpio.Low || in.Pattern(hal.LEDLine) != hal.Off {
			t.Error("LED not off")
		}
		if err := in.Set(hal.LEDLine, hal.Pattern(9)); err == nil {
			t.Error("bad pattern accepted")
		}
		must(t, in.Close())
		if mute.Read() != gpio.Low || msg.Read() != gpio.Low {
			t.Error("Close left LEDs lit")
		}
		if err := in.Set(hal.LEDLine, hal.On); err != ErrClosed {
			t.Errorf("Set after Close = %v", err)
		}
		must(t, in.Close())
	})
}

func TestIndicatorActiveLow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &gpiotest.Pin{N: "LINE"}
		in, err := NewIndicator(map[hal.LED]gpio.PinOut{hal.LEDLine: p}, &Opts{ActiveLow: true})
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		if p.Read() != gpio.High {
			t.Error("active-low LED not off (High) at start")
		}
		must(t, in.Set(hal.LEDLine, hal.On))
		if p.Read() != gpio.Low {
			t.Error("active-low LED not lit (Low)")
		}
	})
}

func TestBuzzerCadence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &gpiotest.Pin{N: "BUZZ"}
		b, err := NewBuzzer(p, &BuzzerOpts{Cadence: []time.Duration{400 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 2 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		must(t, b.Ring())
		must(t, b.Ring()) // idempotent
		// UK-style double ring, sampled every 50 ms for 3 s.
		got := sampleLevels(p, 60)
		want := "########____########________________________________________"
		if got != want {
			t.Errorf("cadence\n got %s\nwant %s", got, want)
		}
		must(t, b.Stop())
		if p.Read() != gpio.Low || b.Ringing() {
			t.Error("buzzer still on after Stop")
		}
		must(t, b.Close())
		if err := b.Ring(); err != ErrClosed {
			t.Errorf("Ring after Close = %v", err)
		}
	})
}

// pwmPin is a gpiotest pin whose PWM fails, like a pin without hardware PWM.
type pwmPin struct{ gpiotest.Pin }

func (p *pwmPin) PWM(gpio.Duty, physic.Frequency) error { return errors.New("no PWM on this pin") }

func TestBuzzerPWM(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &gpiotest.Pin{N: "PWM0"}
		b, err := NewBuzzer(p, &BuzzerOpts{Tone: 2 * physic.KiloHertz})
		if err != nil {
			t.Fatal(err)
		}
		must(t, b.Ring())
		time.Sleep(time.Second)
		p.Lock()
		d, f := p.D, p.F
		p.Unlock()
		if d != gpio.DutyHalf || f != 2*physic.KiloHertz {
			t.Errorf("ringing PWM %v at %v, want 50%% at 2 kHz", d, f)
		}
		time.Sleep(2 * time.Second) // into the 4 s pause
		p.Lock()
		d = p.D
		p.Unlock()
		if d != 0 {
			t.Errorf("pause PWM duty %v, want 0", d)
		}
		must(t, b.Close())

		// Without PWM the buzzer falls back to on/off.
		q := &pwmPin{Pin: gpiotest.Pin{N: "GPIO5"}}
		b, err = NewBuzzer(q, &BuzzerOpts{Tone: 2 * physic.KiloHertz})
		if err != nil {
			t.Fatal(err)
		}
		must(t, b.Ring())
		time.Sleep(time.Second)
		if q.Read() != gpio.High {
			t.Error("fallback buzzer not on")
		}
		must(t, b.Close())
		if q.Read() != gpio.Low {
			t.Error("fallback buzzer not off")
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The blink clock ticks only while an LED blinks: steady and dark LEDs
// do not wake an idle phone ten times a second (issue 19), and blinking
// after a quiet spell still toggles every tick.
func TestIndicatorClockOnlyWhileBlinking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &gpiotest.Pin{N: "LINE"}
		in, err := NewIndicator(map[hal.LED]gpio.PinOut{hal.LEDLine: p}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		ticks := func() int {
			synctest.Wait()
			in.mu.Lock()
			defer in.mu.Unlock()
			return in.n
		}
		must(t, in.Set(hal.LEDLine, hal.On))
		time.Sleep(10 * time.Second)
		if n := ticks(); n != 0 {
			t.Fatalf("%d ticks with no LED blinking", n)
		}
		must(t, in.Set(hal.LEDLine, hal.BlinkFast))
		if got := sampleLevels(p, 8); got != "##__##__" {
			t.Errorf("fast blink after a quiet spell: %s", got)
		}
		must(t, in.Set(hal.LEDLine, hal.Off))
		before := ticks()
		time.Sleep(10 * time.Second)
		if n := ticks(); n != before {
			t.Fatalf("the clock ran on after blinking ended: %d ticks", n-before)
		}
		if p.Read() != gpio.Low {
			t.Error("LED not off")
		}
	})
}
