package mix_test

import (
	"fmt"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/mix"
)

// Example mixes two parties of a conference at full level and a beep at
// half level; the sum saturates instead of wrapping.
func Example() {
	party := func(v int16) hal.FrameSource {
		return hal.FrameSourceFunc(func(dst []int16) {
			for i := range dst {
				dst[i] = v
			}
		})
	}
	m := mix.New(
		mix.Input{Src: party(10000), Gain: mix.Unity},
		mix.Input{Src: party(20000), Gain: mix.Unity},
		mix.Input{Src: party(600), Gain: mix.Linear(0.5)},
	)
	frame := make([]int16, hal.Narrowband.FrameSamples())
	m.NextFrame(frame)
	fmt.Println(len(frame), frame[0])
	m.SetGain(0, mix.Linear(2)) // 20000 + 20000 + 300 clips
	m.NextFrame(frame)
	fmt.Println(frame[0])
	// Output:
	// 160 30300
	// 32767
}
