package config

// sampleRate checks audio.sample_rate: every board's audio runs at 8000
// or 16000 Hz (16000 carries a G.722 call's full band; on the Raspberry
// Pi the WM8960 and ALSA are set to it). A board that runs at fewer
// rates says so in its BoardSpec (CheckBoard). Calls whose codec samples
// at another rate are converted at the device.
func (v *validator) sampleRate(_ string, rate int) {
	if rate != 8000 && rate != 16000 {
		v.fail("audio.sample_rate", "%d is not 8000 or 16000", rate)
	}
}
