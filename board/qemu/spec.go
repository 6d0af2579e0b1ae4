package qemu

// The qemu board's facts for config validation (package board's Spec).

// OptionKeys are the board_options the qemu board reads: "listen" and
// "screen_listen" (tcp:HOST:PORT, unix:PATH or none) and "serial" (a
// device carrying the panel protocol).
var OptionKeys = []string{"listen", "screen_listen", "serial"}

// CheckAudio reports whether SetAudio takes spec as the microphone or
// the speaker: "udp:HOST:PORT", "file:PATH", or the board's own
// ("silence", "null", "device", "speaker": silence and discard here).
func CheckAudio(spec string) error {
	_, _, err := audioSpec(spec)
	return err
}
