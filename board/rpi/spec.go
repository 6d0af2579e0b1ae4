package rpi

import (
	"errors"
	"fmt"
)

// The rpi board's facts for config validation (package board's Spec).

// SampleRates are the audio rates the board runs at: the WM8960's ADC
// and DAC at 8 kHz (SYSCLK/1536) or 16 kHz (SYSCLK/768), ALSA opened at
// the same rate (audio.sample_rate).
var SampleRates = []int{8000, 16000}

// OptionKeys are the board_options the rpi board reads (board.Open maps
// them onto Options), each with a check of its value.
var OptionKeys = map[string]func(string) error{
	"alsa_device": nil, // ALSADevice, e.g. hw:0,0
	"i2c_bus":     nil, // I2CBus, the codec's bus, e.g. 1
	"display":     checkDisplay,
	"display_bus": nil,
	"no_audio":    checkBool,
	"no_codec":    checkBool,
}

func checkDisplay(s string) error {
	if s != "" && s != DisplaySSD1306 {
		return fmt.Errorf("%q is not a display this board drives (%s, or empty for none)", s, DisplaySSD1306)
	}
	return nil
}

func checkBool(s string) error {
	if s != "true" && s != "false" {
		return fmt.Errorf("%q is not true or false", s)
	}
	return nil
}

// CheckInput: the rpi board records from its sound card ("device"; the
// config's default "silence" names it too, and board_options no_audio
// turns audio off). Files and test tones are the sim board's.
func CheckInput(spec string) error {
	if spec == "device" || spec == "silence" || spec == "" {
		return nil
	}
	return errors.New("the rpi board records from its sound card: use device (board_options no_audio: true for none)")
}

// CheckOutput: the rpi board plays to its sound card ("speaker"; the
// config's default "null" names it too).
func CheckOutput(spec string) error {
	if spec == "speaker" || spec == "null" || spec == "" {
		return nil
	}
	return errors.New("the rpi board plays to its sound card: use speaker (board_options no_audio: true for none)")
}
