// Package tone generates and detects the call-progress tones a phone plays
// and hears: dial tone, ringback, busy, congestion and call waiting.
//
// A Spec describes one tone: its frequencies (played together), an
// optional amplitude modulation, its cadence and its level. PresetFor
// returns the national tone plan of a country; the values follow the
// national entries of ITU-T Recommendation E.180 Supplement 2 ("Various
// tones used in national networks") and the operator specifications those
// entries come from (North American Precise Tone Plan, BT SIN 350,
// Communications Alliance S002 for Australia, NTT for Japan). The "eu"
// preset is the ITU-T E.180 §2 recommendation as harmonised across Europe
// (425 Hz).
//
// A Generator plays a Spec as a hal.FrameSource: phase continuous across
// frames, sample-accurate on the cadence, with a 1 ms ramp at each burst
// edge so that bursts do not click.
//
// Goertzel measures the fraction of a block's power at one frequency, and
// Contains decides whether a frequency is clearly present. Both work on
// the output of a G.711 round trip and in moderate noise; the frequency
// resolution is about sampleRate/len(samples), so use blocks of 100 ms or
// more to tell apart tones closer than 50 Hz.
//
// It is an audio leaf beside the hardware interfaces: boards (board/sim
// plays a tone as its sim microphone), the phone (firmware/daemon's
// call-progress tones) and the tests that listen to calls all use it, and
// it imports nothing of this module.
package tone
