package g722_test

import (
	"fmt"

	"github.com/deskphone/phone/voip/codec/g722"
)

// One 20 ms RTP packet each way: 320 samples at 16 kHz, 160 octets.
func Example() {
	enc, dec := g722.NewEncoder(), g722.NewDecoder(g722.Mode1)
	pcm := make([]int16, 320)
	payload := enc.Encode(nil, pcm)
	out := dec.Decode(nil, payload)
	fmt.Println(len(payload), "octets,", len(out), "samples, timestamp step", len(payload)*g722.ClockRate/8000)
	// Output: 160 octets, 320 samples, timestamp step 160
}
