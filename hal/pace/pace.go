// Package pace is the device clock of the emulated speakers: it pulls one
// frame from a hal.FrameSource every frame period, as a codec chip's DAC
// would, and hands it on as 16-bit little-endian PCM. hal/wavfile and
// hal/serialio play through it.
package pace

import (
	"encoding/binary"
	"time"

	"github.com/deskphone/phone/hal"
)

// Play runs until stop is closed. Every f.Frame it asks source for the
// current source (nil plays silence), pulls one frame of f.FrameSamples()
// samples from it, and calls write with the frame as little-endian bytes
// and as samples. The slices are reused; write must not keep them.
func Play(stop <-chan struct{}, f hal.Format, source func() hal.FrameSource, write func(le []byte, pcm []int16)) {
	pcm := make([]int16, f.FrameSamples())
	le := make([]byte, 2*len(pcm))
	t := time.NewTicker(f.Frame)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if src := source(); src == nil {
			clear(pcm)
		} else {
			src.NextFrame(pcm)
		}
		for i, s := range pcm {
			binary.LittleEndian.PutUint16(le[2*i:], uint16(s))
		}
		write(le, pcm)
	}
}
