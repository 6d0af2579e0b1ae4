package sim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/deskphone/phone/hal"
)

// The sim board's facts for config validation (package board's Spec):
// it reads no board_options, and these audio specs.

// CheckInput reports whether Open takes spec as the microphone at the
// narrowband rate (CheckInputAt).
func CheckInput(spec string) error { return CheckInputAt(spec, hal.Narrowband.SampleRate) }

// CheckInputAt reports whether Open takes spec as the microphone at the
// sample rate: "silence" (or ""), "tone:<Hz>" below half the rate, or
// "wav:<path>" (the file is read at Open). There is no microphone
// device: the sim board runs on a developer's computer.
func CheckInputAt(spec string, rate int) error {
	switch {
	case spec == "" || spec == "silence":
		return nil
	case spec == "device":
		return errors.New("the sim board has no microphone device: use silence, tone:<Hz> or wav:<path>")
	case strings.HasPrefix(spec, "tone:"):
		hz, err := strconv.ParseFloat(strings.TrimPrefix(spec, "tone:"), 64)
		if nyq := float64(rate) / 2; err != nil || !(hz >= 20 && hz < nyq) {
			return fmt.Errorf("tone frequency must be a number of Hz from 20 to below %g", nyq)
		}
		return nil
	case strings.HasPrefix(spec, "wav:"):
		if strings.TrimPrefix(spec, "wav:") == "" {
			return errors.New("wav: needs a file path, e.g. wav:/data/in.wav")
		}
		return nil
	}
	return errors.New("want silence, tone:<Hz> or wav:<path>")
}

// CheckOutput reports whether Open takes spec as the speaker: "null" (or
// ""), "wav:<path>", or "speaker" in a build that has the host's sound
// device (cgo and the alsa build tag).
func CheckOutput(spec string) error {
	switch {
	case spec == "" || spec == "null":
		return nil
	case spec == "speaker":
		if speakerOut == nil {
			return errors.New("this build has no host speaker (build phoned with cgo and -tags alsa); use null or wav:<path>")
		}
		return nil
	case strings.HasPrefix(spec, "wav:"):
		if strings.TrimPrefix(spec, "wav:") == "" {
			return errors.New("wav: needs a file path, e.g. wav:/data/out.wav")
		}
		return nil
	}
	return errors.New("want null, wav:<path> or speaker")
}
