package config

// sampleRate checks audio.sample_rate against what the board's audio
// runs at: the sim and qemu boards make their audio at 8000 or 16000 Hz
// (16000 carries a G.722 call's full band), the Raspberry Pi's WM8960
// driver runs at 8000 Hz only. Calls whose codec samples at another rate
// are converted at the device.
func (v *validator) sampleRate(board string, rate int) {
	switch {
	case rate != 8000 && rate != 16000:
		v.fail("audio.sample_rate", "%d is not 8000 or 16000", rate)
	case rate == 16000 && board == "rpi":
		v.fail("audio.sample_rate", "the rpi board's audio runs at 8000 Hz only")
	}
}
