package daemon

// audioRate is the sample rate the phone's audio runs at: the board's
// speaker's (its microphone converts by its own format), or the config's
// audio.sample_rate for a board without one. Calls whose codec samples at
// another rate are converted at the device; tones are made at this rate.
func (d *Daemon) audioRate() int {
	if d.board != nil && d.board.AudioOut != nil {
		if r := d.board.AudioOut.Format().SampleRate; r > 0 {
			return r
		}
	}
	return d.cfg.Audio.SampleRate // the board is opened once: a change waits for a restart
}
