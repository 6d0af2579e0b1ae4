package tone

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Spec describes one tone.
type Spec struct {
	// Freqs are the frequencies in Hz played together, each at Level.
	// An empty Freqs is silence.
	Freqs []float64
	// Cadence is on, off, on, off, ... durations, repeated. Empty means
	// continuous. An odd-length cadence is played as if it ended with
	// an off period of zero length.
	Cadence []time.Duration
	// Level is the level of each frequency component in dBFS: the RMS
	// of the component relative to a full-scale sine. 0 dBm0 in G.711 is
	// about -3.14 dBFS.
	Level float64
	// AM, when non-zero, amplitude-modulates the tone at AM Hz with a
	// depth of 90% (e.g. Japan's ringback, 400 Hz modulated by 16 Hz).
	// The peak stays at Level.
	AM float64
}

// Continuous reports whether the tone has no cadence.
func (s Spec) Continuous() bool { return len(s.Cadence) == 0 }

// Period returns the length of one cadence cycle, or 0 when continuous.
func (s Spec) Period() time.Duration {
	var p time.Duration
	for _, d := range s.Cadence {
		p += d
	}
	return p
}

// Preset is the set of call-progress tones of one country.
type Preset struct {
	Country     string
	Dial        Spec // the line is ready for dialling
	Ringback    Spec // the far end is being alerted
	Busy        Spec // the called party is busy
	Congestion  Spec // the network cannot complete the call (reorder)
	CallWaiting Spec // a second call is waiting (played over the call)
}

// dBm0 converts a level in dBm0 (G.711 digital milliwatt reference) to
// dBFS: a full-scale sine is +3.14 dBm0 (ITU-T G.711, G.168).
func dBm0(l float64) float64 { return l - 3.14 }

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func hz(f ...float64) []float64 { return f }

// presets holds the national tone plans. Cadences are in milliseconds,
// on first. Sources are given per country; where a source gives a range
// the nominal value is used.
var presets = map[string]Preset{
	// United States and Canada: the Precise Tone Plan (ANSI T1.401,
	// Telcordia GR-506), listed for the US in E.180 Suppl. 2.
	"us": {
		Country:     "us",
		Dial:        Spec{Freqs: hz(350, 440), Level: dBm0(-13)},
		Ringback:    Spec{Freqs: hz(440, 480), Cadence: ms(2000, 4000), Level: dBm0(-19)},
		Busy:        Spec{Freqs: hz(480, 620), Cadence: ms(500, 500), Level: dBm0(-24)},
		Congestion:  Spec{Freqs: hz(480, 620), Cadence: ms(250, 250), Level: dBm0(-24)},
		CallWaiting: Spec{Freqs: hz(440), Cadence: ms(300, 9700), Level: dBm0(-13)},
	},
	// United Kingdom: BT SIN 350 (E.180 Suppl. 2, United Kingdom).
	"uk": {
		Country:     "uk",
		Dial:        Spec{Freqs: hz(350, 440), Level: dBm0(-13)},
		Ringback:    Spec{Freqs: hz(400, 450), Cadence: ms(400, 200, 400, 2000), Level: dBm0(-13)},
		Busy:        Spec{Freqs: hz(400), Cadence: ms(375, 375), Level: dBm0(-13)},
		Congestion:  Spec{Freqs: hz(400), Cadence: ms(400, 350, 225, 525), Level: dBm0(-13)},
		CallWaiting: Spec{Freqs: hz(400), Cadence: ms(100, 4000), Level: dBm0(-13)},
	},
	// Germany: Deutsche Telekom 1TR110 (E.180 Suppl. 2, Germany).
	"de": {
		Country:     "de",
		Dial:        Spec{Freqs: hz(425), Level: dBm0(-10)},
		Ringback:    Spec{Freqs: hz(425), Cadence: ms(1000, 4000), Level: dBm0(-10)},
		Busy:        Spec{Freqs: hz(425), Cadence: ms(480, 480), Level: dBm0(-10)},
		Congestion:  Spec{Freqs: hz(425), Cadence: ms(240, 240), Level: dBm0(-10)},
		CallWaiting: Spec{Freqs: hz(425), Cadence: ms(200, 200, 200, 5000), Level: dBm0(-10)},
	},
	// France: E.180 Suppl. 2, France (440 Hz "la").
	"fr": {
		Country:     "fr",
		Dial:        Spec{Freqs: hz(440), Level: dBm0(-10)},
		Ringback:    Spec{Freqs: hz(440), Cadence: ms(1500, 3500), Level: dBm0(-10)},
		Busy:        Spec{Freqs: hz(440), Cadence: ms(500, 500), Level: dBm0(-10)},
		Congestion:  Spec{Freqs: hz(440), Cadence: ms(250, 250), Level: dBm0(-10)},
		CallWaiting: Spec{Freqs: hz(440), Cadence: ms(300, 10000), Level: dBm0(-10)},
	},
	// ITU-T E.180 §2 recommended tones, as harmonised in Europe (CEPT
	// and ETSI TR 101 041): 425 Hz, ringing 1 s on 4 s off, busy 0.5 s
	// on/off, congestion twice as fast, call waiting two short bursts.
	"eu": {
		Country:     "eu",
		Dial:        Spec{Freqs: hz(425), Level: dBm0(-10)},
		Ringback:    Spec{Freqs: hz(425), Cadence: ms(1000, 4000), Level: dBm0(-10)},
		Busy:        Spec{Freqs: hz(425), Cadence: ms(500, 500), Level: dBm0(-10)},
		Congestion:  Spec{Freqs: hz(425), Cadence: ms(250, 250), Level: dBm0(-10)},
		CallWaiting: Spec{Freqs: hz(425), Cadence: ms(200, 200, 200, 4400), Level: dBm0(-10)},
	},
	// Australia: Communications Alliance (ACIF) S002 (E.180 Suppl. 2,
	// Australia). Dial tone and ringback are 425 Hz modulated by 25 Hz,
	// given as the pair 413 + 438 Hz. S002 congestion drops alternate
	// bursts by 10 dB; a Spec has one level, so all bursts are equal.
	"au": {
		Country:     "au",
		Dial:        Spec{Freqs: hz(413, 438), Level: dBm0(-13)},
		Ringback:    Spec{Freqs: hz(413, 438), Cadence: ms(400, 200, 400, 2000), Level: dBm0(-13)},
		Busy:        Spec{Freqs: hz(425), Cadence: ms(375, 375), Level: dBm0(-10)},
		Congestion:  Spec{Freqs: hz(425), Cadence: ms(375, 375), Level: dBm0(-10)},
		CallWaiting: Spec{Freqs: hz(425), Cadence: ms(200, 200, 200, 4400), Level: dBm0(-13)},
	},
	// Japan: NTT (E.180 Suppl. 2, Japan). Ringback and call waiting are
	// 400 Hz modulated by 16 Hz; busy and congestion are the same tone.
	"jp": {
		Country:     "jp",
		Dial:        Spec{Freqs: hz(400), Level: dBm0(-13)},
		Ringback:    Spec{Freqs: hz(400), AM: 16, Cadence: ms(1000, 2000), Level: dBm0(-13)},
		Busy:        Spec{Freqs: hz(400), Cadence: ms(500, 500), Level: dBm0(-13)},
		Congestion:  Spec{Freqs: hz(400), Cadence: ms(500, 500), Level: dBm0(-13)},
		CallWaiting: Spec{Freqs: hz(400), AM: 16, Cadence: ms(500, 8000), Level: dBm0(-13)},
	},
}

// aliases maps other accepted names to a preset.
var aliases = map[string]string{
	"gb":  "uk",
	"ca":  "us",
	"itu": "eu",
}

// Countries returns the names PresetFor accepts as primary keys, sorted.
func Countries() []string {
	out := make([]string, 0, len(presets))
	for c := range presets {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// PresetFor returns the tone plan of a country, named by its ISO 3166
// alpha-2 code in any case ("us", "uk" or "gb", "de", "fr", "au", "jp",
// "ca"), or "eu" (also "itu") for the ITU-T E.180 default. The returned
// Preset is a copy the caller may modify.
func PresetFor(country string) (Preset, error) {
	c := strings.ToLower(strings.TrimSpace(country))
	if a, ok := aliases[c]; ok {
		c = a
	}
	p, ok := presets[c]
	if !ok {
		return Preset{}, fmt.Errorf("%q: %w", country, ErrUnknownCountry)
	}
	for _, s := range []*Spec{&p.Dial, &p.Ringback, &p.Busy, &p.Congestion, &p.CallWaiting} {
		s.Freqs = slices.Clone(s.Freqs)
		s.Cadence = slices.Clone(s.Cadence)
	}
	return p, nil
}
