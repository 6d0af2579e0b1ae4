package natlab

import (
	"time"

	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/hal/wavfile"
)

// ToneTime measures how long freq is heard in a recording: the number of
// 100 ms blocks in which tone.Contains finds it, as a duration. The lab
// gives each phone a tone no call-progress preset uses, so ringback in
// the recording does not count.
func ToneTime(wav string, freq float64) (time.Duration, error) {
	samples, rate, err := wavfile.ReadFile(wav)
	if err != nil {
		return 0, err
	}
	block := rate / 10
	var n int
	for i := 0; i+block <= len(samples); i += block {
		if tone.Contains(samples[i:i+block], freq, rate) {
			n++
		}
	}
	return time.Duration(n) * 100 * time.Millisecond, nil
}
