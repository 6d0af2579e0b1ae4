package tone_test

import (
	"fmt"

	"github.com/deskphone/phone/hal/tone"
)

func Example() {
	p, err := tone.PresetFor("de")
	if err != nil {
		return
	}
	g := tone.NewGenerator(p.Busy, 8000) // 425 Hz, 480 ms on, 480 ms off
	frame := make([]int16, 160)          // one 20 ms frame
	g.NextFrame(frame)
	fmt.Println(tone.Contains(frame, 425, 8000), tone.Contains(frame, 1000, 8000))
	for range 24 { // 500 ms later the tone is in its off period
		g.NextFrame(frame)
	}
	fmt.Println(tone.Contains(frame, 425, 8000))
	// Output:
	// true false
	// false
}
