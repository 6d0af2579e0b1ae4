package sip

import (
	"github.com/deskphone/phone/voip/codec"
	"github.com/deskphone/phone/voip/sdp"
)

// codecFormat is the SDP format of one of our codecs: its name, clock,
// channel count and a=fmtp (Opus: "opus/48000/2" with its parameters,
// RFC 7587 §7). A dynamic payload type (Opus's 111) that the formats
// before it or telephone-event (dtmfPT) already use is moved to a free
// one.
func codecFormat(cod codec.Codec, before []sdp.Format, dtmfPT uint8) sdp.Format {
	f := sdp.Format{PT: cod.PayloadType(), Name: cod.Name(), Rate: cod.ClockRate(),
		Channels: codec.Channels(cod), Fmtp: codec.Fmtp(cod)}
	if f.PT < 96 {
		return f
	}
	used := map[uint8]bool{dtmfPT: true}
	for _, o := range before {
		used[o.PT] = true
	}
	for pt := f.PT; used[f.PT] && pt <= 127; pt++ {
		f.PT = pt
	}
	for pt := uint8(96); used[f.PT] && pt < f.PT; pt++ {
		f.PT = pt
	}
	return f
}

// extraDTMF returns telephone-event at each clock rate of codecs other
// than 8000 Hz (Opus: 48000), since RFC 4733 §2.1 has the events on the
// audio codec's clock and an answerer only pairs them at the same rate.
// Their payload types are the lowest dynamic ones (96..127) not in use.
func extraDTMF(codecs []sdp.Format, dtmfPT uint8) []sdp.Format {
	used := map[uint8]bool{dtmfPT: true}
	for _, f := range codecs {
		used[f.PT] = true
	}
	var out []sdp.Format
	seen := map[int]bool{8000: true}
	for _, f := range codecs {
		if seen[f.Rate] {
			continue
		}
		seen[f.Rate] = true
		pt := uint8(96)
		for used[pt] && pt < 127 {
			pt++
		}
		if used[pt] {
			break
		}
		used[pt] = true
		out = append(out, sdp.Format{PT: pt, Name: "telephone-event", Rate: f.Rate, Channels: 1, Fmtp: "0-16"})
	}
	return out
}

// setRemoteFmtp hands the far end's a=fmtp of the negotiated codec to a
// codec that adapts to it (Opus: bit rate, DTX, CBR). Parameters it
// cannot use are left out; the call goes on.
func (c *Call) setRemoteFmtp(cod codec.Codec, neg sdp.Negotiated) {
	if r, ok := cod.(codec.RemoteFmtp); ok {
		if err := r.SetRemoteFmtp(neg.Codec.Fmtp); err != nil {
			c.log.Warn("far end's codec parameters partly ignored", "codec", cod.Name(), "err", err)
		}
	}
}
