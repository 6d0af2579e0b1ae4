// Package pace is the device clock of the emulated speakers: it pulls one
// frame from a hal.FrameSource every frame period, as a codec chip's DAC
// would, and hands it on as 16-bit little-endian PCM. hal/wavfile and
// hal/serialio play through it.
//
// Play keeps the clock running with silence while there is no source (a
// recording keeps its timeline); PlayIdle stops it then, so an idle phone
// is not woken 50 times a second by a speaker with nothing to play.
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
	play(stop, nil, f, source, write)
}

// PlayIdle is Play for a device that may stop its clock: when source
// returns nil at a frame time, nothing is written and the clock stops
// (no timer runs) until wake receives; it then asks source again and,
// with a source, restarts the clock, the first frame one frame period
// later. The owner sends on wake (a buffered channel, non-blocking
// sends) whenever it sets a source.
func PlayIdle(stop, wake <-chan struct{}, f hal.Format, source func() hal.FrameSource, write func(le []byte, pcm []int16)) {
	if wake == nil {
		panic("pace: PlayIdle without a wake channel")
	}
	play(stop, wake, f, source, write)
}

func play(stop, wake <-chan struct{}, f hal.Format, source func() hal.FrameSource, write func(le []byte, pcm []int16)) {
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
		src := source()
		if src == nil && wake != nil {
			t.Stop()
			for src == nil {
				select {
				case <-stop:
					return
				case <-wake:
				}
				src = source()
			}
			t.Reset(f.Frame)
			continue
		}
		if src == nil {
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
