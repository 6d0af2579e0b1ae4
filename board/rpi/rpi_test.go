package rpi

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/alsa"
	"github.com/deskphone/phone/hal/haltest"
)

// fakeMachine is a Pi made of gpiotest pins and a recording I²C bus.
type fakeMachine struct {
	pins    map[string]*gpiotest.Pin
	bus     *recBus
	busName string
	audio   error // returned by the ALSA openers
}

type recBus struct {
	i2ctest.Record
	closed bool
}

func (r *recBus) Close() error { r.closed = true; return nil }

func newMachine() *fakeMachine {
	m := &fakeMachine{pins: map[string]*gpiotest.Pin{}, bus: &recBus{}}
	for _, n := range []string{"GPIO5", "GPIO6", "GPIO13", "GPIO26", "GPIO16", "GPIO23", "GPIO24", "GPIO25",
		"GPIO9", "GPIO27", "GPIO17", "GPIO22", "GPIO10", "GPIO11", "GPIO12"} {
		m.pins[n] = &gpiotest.Pin{N: n}
	}
	return m
}

func (m *fakeMachine) platform() platform {
	return platform{
		init: func() error { return nil },
		pin: func(n string) gpio.PinIO {
			if p, ok := m.pins[n]; ok {
				return p
			}
			return nil
		},
		i2c: func(n string) (i2c.BusCloser, error) {
			m.busName = n
			return m.bus, nil
		},
		openOut: func(o *alsa.Opts) (hal.AudioOut, error) {
			if m.audio != nil {
				return nil, m.audio
			}
			return haltest.NewAudioOut(o.Format), nil
		},
		openIn: func(o *alsa.Opts) (hal.AudioIn, error) {
			if m.audio != nil {
				return nil, m.audio
			}
			return haltest.NewAudioIn(o.Format, nil), nil
		},
	}
}

func TestOpenWiresTheTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMachine()
		b, err := open(Options{}, m.platform())
		if err != nil {
			t.Fatal(err)
		}
		if b.Name != "rpi" || b.Keypad == nil || b.Hook == nil || b.Indicator == nil || b.Ringer == nil ||
			b.Codec == nil || b.AudioIn == nil || b.AudioOut == nil {
			t.Fatalf("incomplete board %+v", b)
		}
		for _, n := range []string{"GPIO23", "GPIO24", "GPIO25", "GPIO9", "GPIO27"} {
			if p := m.pins[n].Pull(); p != gpio.PullUp {
				t.Errorf("%s pull %v, want up (keypad column / hook)", n, p)
			}
		}
		if m.busName != "1" {
			t.Errorf("codec on I2C bus %q, want 1", m.busName)
		}
		ops := m.bus.Ops
		if len(ops) != 24 || ops[0].Addr != 0x1a || string(ops[0].W) != "\x1e\x00" {
			t.Fatalf("codec init: %d writes, first %+v; want 24 writes starting with R15 reset at 0x1a", len(ops), ops[0])
		}
		// The buzzer rings with PWM on GPIO12.
		if err := b.Ringer.Ring(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // let the cadence goroutine switch the buzzer on
		if err := b.Indicator.Set(hal.LEDMute, hal.On); err != nil {
			t.Fatal(err)
		}
		if m.pins["GPIO10"].Read() != gpio.High {
			t.Error("mute LED (GPIO10) not lit")
		}
		m.pins["GPIO12"].Lock()
		duty := m.pins["GPIO12"].D
		m.pins["GPIO12"].Unlock()
		if duty != gpio.DutyHalf {
			t.Errorf("buzzer duty %v", duty)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if !m.bus.closed {
			t.Error("I2C bus not closed")
		}
		if len(m.bus.Ops) != 28 {
			t.Errorf("%d codec writes after Close, want the 4 power-down writes too", len(m.bus.Ops))
		}
		if m.pins["GPIO10"].Read() != gpio.Low {
			t.Error("LED left lit after Close")
		}
	})
}

func TestOpenErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMachine()
		delete(m.pins, "GPIO9")
		_, err := open(Options{}, m.platform())
		if err == nil || !strings.Contains(err.Error(), `keypad column 3: no GPIO named "GPIO9"`) {
			t.Errorf("missing pin: %v", err)
		}

		m = newMachine()
		m.audio = alsa.ErrNoCgo
		_, err = open(Options{}, m.platform())
		if !errors.Is(err, alsa.ErrNoCgo) || !strings.Contains(err.Error(), "cross-rpi") {
			t.Errorf("no ALSA: %v", err)
		}
		if !m.bus.closed {
			t.Error("bus left open after a failed Open")
		}

		m = newMachine()
		m.audio = alsa.ErrNoCgo
		b, err := open(Options{NoAudio: true, NoCodec: true}, m.platform())
		if err != nil {
			t.Fatal(err)
		}
		if b.AudioIn != nil || b.AudioOut != nil || b.Codec != nil || len(m.bus.Ops) != 0 {
			t.Errorf("NoAudio/NoCodec board has audio %v %v codec %v, %d I2C writes", b.AudioIn, b.AudioOut, b.Codec, len(m.bus.Ops))
		}
		b.Close()

		m = newMachine()
		_, err = open(Options{Rows: []string{"GPIO5"}}, m.platform()) // 1 row for a 5-row key map
		if err == nil {
			t.Error("row count mismatch accepted")
		}
	})
}

// TestOpenDisplay: the SSD1306 shares the codec's I²C bus (opened once,
// closed once, after the panel is switched off).
func TestOpenDisplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMachine()
		opened := 0
		p := m.platform()
		inner := p.i2c
		p.i2c = func(n string) (i2c.BusCloser, error) { opened++; return inner(n) }
		b, err := open(Options{Display: DisplaySSD1306, NoAudio: true}, p)
		if err != nil {
			t.Fatal(err)
		}
		if b.Display == nil || b.Display.Bounds().Dx() != 128 || b.Display.Bounds().Dy() != 64 {
			t.Fatalf("display %v", b.Display)
		}
		if opened != 1 {
			t.Errorf("bus opened %d times, want once for codec and display", opened)
		}
		var panel []i2ctest.IO
		for _, op := range m.bus.Ops {
			if op.Addr == 0x3c {
				panel = append(panel, op)
			}
		}
		// Initialisation (display on last), then a clear frame: 8 pages.
		if len(panel) != 1+16 || panel[0].W[1] != 0xAE || panel[0].W[len(panel[0].W)-1] != 0xAF {
			t.Fatalf("%d panel writes, first %x", len(panel), panel[0].W)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		last := m.bus.Ops[len(m.bus.Ops)-1]
		if !m.bus.closed || last.Addr != 0x3c || string(last.W) != "\x00\xae" {
			t.Errorf("bus closed %v, last write %+v; want the panel switched off, then the bus closed", m.bus.closed, last)
		}
		if _, err := open(Options{Display: "st7567", NoAudio: true}, newMachine().platform()); err == nil ||
			!strings.Contains(err.Error(), `display "st7567"`) {
			t.Errorf("unknown display: %v", err)
		}
	})
}
