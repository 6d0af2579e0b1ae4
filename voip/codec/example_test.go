package codec_test

import (
	"fmt"

	"github.com/deskphone/phone/voip/codec"
)

func Example() {
	c, ok := codec.ByName("pcmu")
	if !ok {
		return
	}
	pcm := []int16{0, 1000, -1000, 32767}
	payload := c.Encode(make([]byte, 0, 160), pcm) // no allocation: dst is presized
	fmt.Printf("%s PT %d: % x\n", c.Name(), c.PayloadType(), payload)
	fmt.Println(c.Decode(nil, payload))
	// Output:
	// PCMU PT 0: ff ce 4e 80
	// [0 988 -988 32124]
}
