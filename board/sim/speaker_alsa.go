//go:build linux && cgo && alsa

package sim

import (
	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/alsa"
)

// With the alsa build tag, output "speaker" plays through the host's
// default ALSA device (oto/v2).
func init() {
	speakerOut = func(f hal.Format) (hal.AudioOut, error) {
		return alsa.NewOut(&alsa.Opts{Format: f})
	}
}
