package opus

import (
	"fmt"
	"strconv"
	"strings"
)

// RTP facts of Opus (RFC 7587 §4.1, §7).
const (
	// Name is the RTP encoding name (a=rtpmap), compared case-insensitively.
	Name = "opus"
	// ClockRate is the RTP clock rate: always 48000 Hz.
	ClockRate = 48000
	// SDPChannels is the channel count a=rtpmap always carries.
	SDPChannels = 2
	// SampleRate is the rate the phone's encoder and decoder run at.
	SampleRate = 16000
	// PayloadType is the dynamic payload type the phone offers.
	PayloadType = 111
	// DefaultBitrate is the encoder's average bit rate when the far end
	// asks for no less (maxaveragebitrate): mono wideband voice.
	DefaultBitrate = 24000
	// MinBitrate and MaxBitrate bound maxaveragebitrate (RFC 7587 §6.1).
	MinBitrate, MaxBitrate = 6000, 510000
)

// Params are the a=fmtp parameters of RFC 7587 §6.1 that the phone reads;
// zero values mean "not given" (the RFC's defaults apply).
type Params struct {
	// MaxPlaybackRate is the highest audio rate the receiver wants
	// (maxplaybackrate, 8000..48000); 0 when not given (48000).
	MaxPlaybackRate int
	// SpropMaxCaptureRate is the highest rate the sender captures
	// (sprop-maxcapturerate); 0 when not given.
	SpropMaxCaptureRate int
	// MaxAverageBitrate is the highest average bit rate the receiver
	// wants (maxaveragebitrate, 6000..510000); 0 when not given.
	MaxAverageBitrate int
	// Stereo and SpropStereo: the receiver prefers, the sender is likely
	// to send, stereo.
	Stereo, SpropStereo bool
	// CBR asks for constant bit rate.
	CBR bool
	// UseInbandFEC: the receiver can use in-band FEC.
	UseInbandFEC bool
	// UseDTX: the receiver wants discontinuous transmission.
	UseDTX bool
}

// Local is what the phone puts in its a=fmtp: it plays and captures at
// 16 kHz, wants mono at DefaultBitrate and decodes in-band FEC.
var Local = Params{
	MaxPlaybackRate:     SampleRate,
	SpropMaxCaptureRate: SampleRate,
	MaxAverageBitrate:   DefaultBitrate,
	UseInbandFEC:        true,
}

// String formats p as an a=fmtp parameter list (without the payload
// type), parameters "; "-separated as RFC 7587 §7's examples have them.
// Boolean parameters are written only where they differ from the
// RFC's default, except stereo=0 and sprop-stereo=0, which some
// implementations want to see.
func (p Params) String() string {
	var parts []string
	add := func(k string, v int) { parts = append(parts, k+"="+strconv.Itoa(v)) }
	if p.MaxPlaybackRate != 0 {
		add("maxplaybackrate", p.MaxPlaybackRate)
	}
	if p.SpropMaxCaptureRate != 0 {
		add("sprop-maxcapturerate", p.SpropMaxCaptureRate)
	}
	if p.MaxAverageBitrate != 0 {
		add("maxaveragebitrate", p.MaxAverageBitrate)
	}
	add("stereo", b2i(p.Stereo))
	add("sprop-stereo", b2i(p.SpropStereo))
	if p.CBR {
		add("cbr", 1)
	}
	add("useinbandfec", b2i(p.UseInbandFEC))
	if p.UseDTX {
		add("usedtx", 1)
	}
	return strings.Join(parts, "; ")
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ParseFmtp reads an a=fmtp parameter list ("key=value" pairs separated
// by ";", spaces allowed; keys case-insensitive). Unknown parameters are
// ignored (RFC 7587 §6.1: "MUST be ignored"), and so are known ones
// whose value is out of range, each reported in the returned error,
// which wraps ErrFmtp; the Params hold every parameter that was valid,
// so a caller may use them despite the error.
func ParseFmtp(s string) (Params, error) {
	var p Params
	var bad []string
	for field := range strings.SplitSeq(s, ";") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			bad = append(bad, strconv.Quote(field)+" has no value")
			continue
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		var err error
		switch k {
		case "maxplaybackrate":
			p.MaxPlaybackRate, err = intIn(v, 8000, 48000)
		case "sprop-maxcapturerate":
			p.SpropMaxCaptureRate, err = intIn(v, 8000, 48000)
		case "maxaveragebitrate":
			p.MaxAverageBitrate, err = intIn(v, MinBitrate, MaxBitrate)
		case "stereo":
			p.Stereo, err = flag(v)
		case "sprop-stereo":
			p.SpropStereo, err = flag(v)
		case "cbr":
			p.CBR, err = flag(v)
		case "useinbandfec":
			p.UseInbandFEC, err = flag(v)
		case "usedtx":
			p.UseDTX, err = flag(v)
		default:
			continue
		}
		if err != nil {
			bad = append(bad, k+": "+err.Error())
		}
	}
	if len(bad) > 0 {
		return p, fmt.Errorf("%w: %s", ErrFmtp, strings.Join(bad, "; "))
	}
	return p, nil
}

func intIn(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not an integer in %d..%d", v, lo, hi)
	}
	return n, nil
}

func flag(v string) (bool, error) {
	switch v {
	case "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, fmt.Errorf("%q is not 0 or 1", v)
}

// Bitrate is the encoder's average bit rate for a far end that sent
// params: DefaultBitrate, or its maxaveragebitrate when lower.
func (p Params) Bitrate() int {
	if p.MaxAverageBitrate != 0 && p.MaxAverageBitrate < DefaultBitrate {
		return p.MaxAverageBitrate
	}
	return DefaultBitrate
}
