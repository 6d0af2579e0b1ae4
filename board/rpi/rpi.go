package rpi

import (
	"errors"
	"fmt"
	"log/slog"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/alsa"
	"github.com/deskphone/phone/hal/hook"
	"github.com/deskphone/phone/hal/keypad"
	"github.com/deskphone/phone/hal/led"
	"github.com/deskphone/phone/hal/ssd1306"
	"github.com/deskphone/phone/hal/wm8960"
)

// Options is the board's wiring and device settings. Zero fields take
// DefaultOptions' values.
type Options struct {
	// Rows and Cols are the keypad's GPIO names, e.g. "GPIO5"; rows are
	// driven, columns read with pull-ups. Their count must match the
	// keypad's key map.
	Rows, Cols []string
	// Hook is the hook switch's GPIO.
	Hook string
	// LEDs maps each indicator to its GPIO; an LED left out is not fitted.
	LEDs map[hal.LED]string
	// Buzzer is the ringer's GPIO; BuzzerTone its PWM frequency (0 for an
	// active buzzer).
	Buzzer     string
	BuzzerTone physic.Frequency
	// I2CBus is the codec's bus ("1" is GPIO2/3); CodecAddr its address.
	I2CBus    string
	CodecAddr uint16
	// NoCodec leaves the WM8960 alone, for images where the kernel's
	// snd-soc-wm8960 driver owns it (then use the ALSA mixer).
	NoCodec bool
	// NoAudio opens no ALSA streams (AudioIn and AudioOut stay nil).
	NoAudio bool
	// ALSADevice is the capture PCM; playback uses ALSA's default PCM.
	ALSADevice string
	// Display is the screen: DisplaySSD1306 (a 128×64 OLED at 0x3C on
	// DisplayBus) or "" for none.
	Display string
	// DisplayBus is the screen's I²C bus; "" means I2CBus (shared with
	// the codec: different addresses, one bus).
	DisplayBus string
	// DisplayOpts override the panel's options (size, mirroring); nil
	// means ssd1306.DefaultOpts.
	DisplayOpts *ssd1306.Opts
	// Format of the audio streams; zero means hal.Narrowband.
	Format hal.Format
	// Keypad, HookOpts, Codec and LED override the drivers' options; nil
	// means the driver's defaults (with the Codec's sample rate following
	// Format).
	Keypad   *keypad.Opts
	HookOpts *hook.Opts
	Codec    *wm8960.Opts
	LED      *led.Opts
	// Logger; nil discards.
	Logger *slog.Logger
}

// DefaultOptions is the wiring in docs/hardware.md (BCM GPIO numbers).
// GPIO2/3 (I²C1) and GPIO18–21 (I²S) belong to the audio HAT.
var DefaultOptions = Options{
	Rows: []string{"GPIO5", "GPIO6", "GPIO13", "GPIO26", "GPIO16"},
	Cols: []string{"GPIO23", "GPIO24", "GPIO25", "GPIO9"},
	Hook: "GPIO27",
	LEDs: map[hal.LED]string{
		hal.LEDLine: "GPIO17", hal.LEDMessage: "GPIO22", hal.LEDMute: "GPIO10", hal.LEDSpeaker: "GPIO11",
	},
	Buzzer:     "GPIO12", // PWM0
	BuzzerTone: 2 * physic.KiloHertz,
	I2CBus:     "1",
	CodecAddr:  wm8960.Addr,
	ALSADevice: "default",
	Format:     hal.Narrowband,
}

// DisplaySSD1306 is the Display option of the reference panel.
const DisplaySSD1306 = "ssd1306"

// platform is what the board needs from the machine; tests replace it.
type platform struct {
	init    func() error
	pin     func(name string) gpio.PinIO
	i2c     func(name string) (i2c.BusCloser, error)
	openOut func(*alsa.Opts) (hal.AudioOut, error)
	openIn  func(*alsa.Opts) (hal.AudioIn, error)
}

var real = platform{
	init: initDrivers,
	pin:  gpioreg.ByName,
	i2c:  i2creg.Open,
	openOut: func(o *alsa.Opts) (hal.AudioOut, error) {
		out, err := alsa.NewOut(o)
		if err != nil {
			return nil, err
		}
		return out, nil
	},
	openIn: func(o *alsa.Opts) (hal.AudioIn, error) {
		in, err := alsa.NewIn(o)
		if err != nil {
			return nil, err
		}
		return in, nil
	},
}

// Open initialises periph's drivers and builds the board. Board.Close
// releases every device and the I²C bus.
func Open(o Options) (*hal.Board, error) { return open(o, real) }

func open(o Options, p platform) (*hal.Board, error) {
	d := DefaultOptions
	if o.Rows == nil {
		o.Rows = d.Rows
	}
	if o.Cols == nil {
		o.Cols = d.Cols
	}
	if o.Hook == "" {
		o.Hook = d.Hook
	}
	if o.LEDs == nil {
		o.LEDs = d.LEDs
	}
	if o.Buzzer == "" {
		o.Buzzer, o.BuzzerTone = d.Buzzer, d.BuzzerTone
	}
	if o.I2CBus == "" {
		o.I2CBus = d.I2CBus
	}
	if o.CodecAddr == 0 {
		o.CodecAddr = d.CodecAddr
	}
	if o.ALSADevice == "" {
		o.ALSADevice = d.ALSADevice
	}
	if o.Format == (hal.Format{}) {
		o.Format = d.Format
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := p.init(); err != nil {
		return nil, fmt.Errorf("board rpi: periph host init: %w", err)
	}
	pin := func(role, name string) (gpio.PinIO, error) {
		pp := p.pin(name)
		if pp == nil {
			return nil, fmt.Errorf("board rpi: %s: no GPIO named %q on this machine", role, name)
		}
		return pp, nil
	}
	if o.Display != "" && o.Display != DisplaySSD1306 {
		return nil, fmt.Errorf("board rpi: display %q (want %q or none)", o.Display, DisplaySSD1306)
	}
	b := &hal.Board{Name: "rpi"}
	// buses are the I²C buses opened, by name: the codec and the screen
	// share one when they name the same.
	buses := map[string]i2c.BusCloser{}
	openBus := func(name string) (i2c.BusCloser, error) {
		if bus, ok := buses[name]; ok {
			return bus, nil
		}
		bus, err := p.i2c(name)
		if err != nil {
			return nil, fmt.Errorf("board rpi: I2C bus %q: %w", name, err)
		}
		buses[name] = bus
		return bus, nil
	}
	b.Closer = func() error {
		var first error
		for _, bus := range buses {
			if err := bus.Close(); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	fail := func(err error) (*hal.Board, error) {
		b.Close()
		return nil, err
	}

	var rows []gpio.PinIO
	var cols []gpio.PinIn
	for i, n := range o.Rows {
		pp, err := pin(fmt.Sprintf("keypad row %d", i), n)
		if err != nil {
			return fail(err)
		}
		rows = append(rows, pp)
	}
	for i, n := range o.Cols {
		pp, err := pin(fmt.Sprintf("keypad column %d", i), n)
		if err != nil {
			return fail(err)
		}
		cols = append(cols, pp)
	}
	kopts := keypad.DefaultOpts
	if o.Keypad != nil {
		kopts = *o.Keypad
	}
	kopts.Logger = o.Logger
	kp, err := keypad.New(rows, cols, &kopts)
	if err != nil {
		return fail(fmt.Errorf("board rpi: %w", err))
	}
	b.Keypad = kp

	hp, err := pin("hook", o.Hook)
	if err != nil {
		return fail(err)
	}
	hopts := hook.DefaultOpts
	if o.HookOpts != nil {
		hopts = *o.HookOpts
	}
	hopts.Logger = o.Logger
	hk, err := hook.New(hp, &hopts)
	if err != nil {
		return fail(fmt.Errorf("board rpi: %w", err))
	}
	b.Hook = hk

	leds := map[hal.LED]gpio.PinOut{}
	for l, n := range o.LEDs {
		pp, err := pin("LED "+l.String(), n)
		if err != nil {
			return fail(err)
		}
		leds[l] = pp
	}
	lopts := led.Opts{}
	if o.LED != nil {
		lopts = *o.LED
	}
	lopts.Logger = o.Logger
	ind, err := led.NewIndicator(leds, &lopts)
	if err != nil {
		return fail(fmt.Errorf("board rpi: %w", err))
	}
	b.Indicator = ind

	bp, err := pin("buzzer", o.Buzzer)
	if err != nil {
		return fail(err)
	}
	rg, err := led.NewBuzzer(bp, &led.BuzzerOpts{Tone: o.BuzzerTone, Logger: o.Logger})
	if err != nil {
		return fail(fmt.Errorf("board rpi: %w", err))
	}
	b.Ringer = rg

	if !o.NoCodec {
		bus, err := openBus(o.I2CBus)
		if err != nil {
			return fail(err)
		}
		copts := wm8960.DefaultOpts
		if o.Codec != nil {
			copts = *o.Codec
		} else {
			copts.SampleRate = o.Format.SampleRate
		}
		c, err := wm8960.NewI2C(bus, o.CodecAddr, &copts)
		if err != nil {
			return fail(fmt.Errorf("board rpi: codec: %w", err))
		}
		b.Codec = c
	}

	if o.Display == DisplaySSD1306 {
		name := o.DisplayBus
		if name == "" {
			name = o.I2CBus
		}
		bus, err := openBus(name)
		if err != nil {
			return fail(err)
		}
		disp, err := ssd1306.NewI2C(bus, o.DisplayOpts)
		if err != nil {
			return fail(fmt.Errorf("board rpi: display: %w", err))
		}
		b.Display = disp
	}

	if !o.NoAudio {
		aopts := &alsa.Opts{Device: o.ALSADevice, Format: o.Format, Logger: o.Logger}
		out, err := p.openOut(aopts)
		if err != nil {
			return fail(audioErr("playback", err))
		}
		b.AudioOut = out
		in, err := p.openIn(aopts)
		if err != nil {
			return fail(audioErr("capture", err))
		}
		b.AudioIn = in
	}
	return b, nil
}

func audioErr(dir string, err error) error {
	if errors.Is(err, alsa.ErrNoCgo) {
		return fmt.Errorf("board rpi: %s: %w (use `make cross-rpi`, or Options.NoAudio for a board without sound)", dir, err)
	}
	return fmt.Errorf("board rpi: %s: %w", dir, err)
}
