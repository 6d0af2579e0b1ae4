package jitter_test

import (
	"fmt"
	"time"

	"github.com/deskphone/phone/voip/codec"
	"github.com/deskphone/phone/voip/media/jitter"
)

// Packets are pushed as they arrive; the audio device pulls frames.
func Example() {
	b, err := jitter.New(jitter.Config{ClockRate: 8000, Decode: codec.PCMU.Decode})
	if err != nil {
		fmt.Println(err)
		return
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	payload := codec.PCMU.Encode(nil, make([]int16, 160)) // 20 ms of silence
	frame := make([]int16, 160)
	for i := range 10 {
		b.Push(uint16(i), uint32(i*160), i == 0, payload, t0.Add(time.Duration(i)*20*time.Millisecond))
		b.NextFrame(frame)
	}
	st := b.Stats()
	fmt.Println(st.Pushed, st.Target)
	// Output: 10 30ms
}
