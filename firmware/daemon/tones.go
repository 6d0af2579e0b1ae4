package daemon

import (
	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/tone"
)

// tones adapts a country preset to phone.Tones. Each call returns a
// fresh generator so a tone always starts at the beginning of its cadence.
type tones struct {
	p    tone.Preset
	rate int
}

func (t tones) Dial() hal.FrameSource       { return tone.NewGenerator(t.p.Dial, t.rate) }
func (t tones) Ringback() hal.FrameSource   { return tone.NewGenerator(t.p.Ringback, t.rate) }
func (t tones) Busy() hal.FrameSource       { return tone.NewGenerator(t.p.Busy, t.rate) }
func (t tones) Congestion() hal.FrameSource { return tone.NewGenerator(t.p.Congestion, t.rate) }
func (t tones) CallWaiting() hal.FrameSource {
	return tone.NewGenerator(t.p.CallWaiting, t.rate)
}
