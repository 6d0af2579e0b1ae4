package media

import "math"

// vad is a voice activity detector on frame energy: a frame is speech
// when its level stands clearly above the tracked background noise
// floor (and above an absolute threshold), and speech is held for a
// hangover after the last active frame so word endings and short pauses
// are not cut.
//
// The floor follows the quietest frames at once and rises slowly (about
// 3 dB/s), so it settles on the background noise and adapts to a noisier
// room without taking speech for noise.
type vad struct {
	floor    float64 // background level, dBov
	hang     int     // samples of hangover left
	hangover int     // samples of hangover after speech
	rate     int     // samples per second
	level    float64 // level of the last frame, dBov
}

const (
	vadMargin   = 9   // dB above the floor that counts as speech
	vadAbsolute = -55 // dBov: quieter frames are never speech
	vadRise     = 3   // dB/s the floor rises by when frames are louder
	vadHangover = 300 // ms of speech kept after the last active frame
)

func newVAD(rate int) vad {
	return vad{floor: -60, hangover: rate * vadHangover / 1000, rate: rate, hang: rate * vadHangover / 1000}
}

// active classifies one frame (at rate samples a second) and reports
// whether it is to be sent as voice.
func (v *vad) active(pcm []int16) bool {
	if len(pcm) == 0 {
		return v.hang > 0
	}
	var sum float64
	for _, x := range pcm {
		f := float64(x)
		sum += f * f
	}
	rms := math.Sqrt(sum / float64(len(pcm)))
	lvl := -127.0
	if rms > 0 {
		lvl = max(-127, 20*math.Log10(rms/cnFullScale))
	}
	v.level = lvl
	if lvl < v.floor {
		v.floor = lvl
	} else {
		v.floor = min(lvl, v.floor+vadRise*float64(len(pcm))/float64(v.rate))
	}
	if lvl > vadAbsolute && lvl > v.floor+vadMargin {
		v.hang = v.hangover
		return true
	}
	if v.hang > 0 {
		v.hang -= len(pcm)
		return true
	}
	return false
}

// noiseLevel is the level byte to send for the current background: the
// last frame's level (the floor when that was louder).
func (v *vad) noiseLevel() uint8 {
	return CNLevel(cnFullScale * math.Pow(10, min(v.level, v.floor+vadMargin)/20))
}
