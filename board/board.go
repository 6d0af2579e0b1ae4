package board

import (
	"fmt"
	"io"

	"github.com/deskphone/phone/board/qemu"
	"github.com/deskphone/phone/board/rpi"
	"github.com/deskphone/phone/board/sim"
	"github.com/deskphone/phone/hal"
)

// Options are the board-independent settings of every board plus a free
// map of board-specific ones (config board_options).
type Options struct {
	// Input and Output are the audio specs (config audio.input/output):
	// sim takes tone:/wav:/silence and wav:/null/speaker; qemu takes raw
	// PCM files or udp:HOST:PORT (see board/qemu).
	Input, Output string
	// Keys is the sim board's terminal.
	Keys io.Reader
	// SampleRate is the audio sample rate of the sim and qemu boards
	// (config audio.sample_rate): 8000, or 16000 for wideband; 0 means
	// 8000. The rpi board sets its WM8960 and opens ALSA at this rate.
	SampleRate int
	// Extra holds board_options: qemu "listen" (tcp:HOST:PORT or
	// unix:PATH), "screen_listen" (the same, or "none") and "serial"
	// (device); rpi "alsa_device", "i2c_bus", "no_audio",
	// "no_codec" ("true"), "display" ("ssd1306") and "display_bus".
	// Spec lists them; Validate refuses any other.
	Extra map[string]string
}

// Names lists the boards Open knows.
func Names() []string { return []string{"sim", "qemu", "rpi"} }

// Open returns the named board, wired.
func Open(name string, o Options) (*hal.Board, error) {
	switch name {
	case "", "sim":
		return sim.Open(sim.Options{Input: o.Input, Output: o.Output, Keys: o.Keys, Format: format(o.SampleRate)})
	case "qemu":
		qo := qemu.DefaultOptions
		if v := o.Extra["listen"]; v != "" {
			qo.Listen = v
		}
		qo.Serial = o.Extra["serial"]
		qo.Format = format(o.SampleRate)
		if v := o.Extra["screen_listen"]; v != "" {
			qo.ScreenListen = v
		}
		if err := qo.SetAudio(o.Input, o.Output); err != nil {
			return nil, err
		}
		return qemu.Open(qo)
	case "rpi":
		ro := rpi.DefaultOptions
		if v := o.Extra["alsa_device"]; v != "" {
			ro.ALSADevice = v
		}
		if v := o.Extra["i2c_bus"]; v != "" {
			ro.I2CBus = v
		}
		ro.NoAudio = o.Extra["no_audio"] == "true"
		ro.NoCodec = o.Extra["no_codec"] == "true"
		ro.Display, ro.DisplayBus = o.Extra["display"], o.Extra["display_bus"]
		ro.Format = format(o.SampleRate)
		return rpi.Open(ro)
	}
	return nil, fmt.Errorf("board: unknown board %q (known: %v)", name, Names())
}

// format is the audio format at rate (20 ms mono frames); zero rate means
// narrowband.
func format(rate int) hal.Format {
	f := hal.Narrowband
	if rate > 0 {
		f.SampleRate = rate
	}
	return f
}
