package opus_test

import (
	"fmt"

	"github.com/deskphone/phone/voip/codec/opus"
)

func ExampleParseFmtp() {
	// baresip's a=fmtp for Opus.
	p, err := opus.ParseFmtp("stereo=1;sprop-stereo=1;maxaveragebitrate=16000")
	fmt.Println(p.Stereo, p.MaxAverageBitrate, p.Bitrate(), err)
	fmt.Println(opus.Local)
	// Output:
	// true 16000 16000 <nil>
	// maxplaybackrate=16000; sprop-maxcapturerate=16000; maxaveragebitrate=24000; stereo=0; sprop-stereo=0; useinbandfec=1
}
