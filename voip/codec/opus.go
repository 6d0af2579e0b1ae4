package codec

import "github.com/deskphone/phone/voip/codec/opus"

// SDPFormat is implemented by codecs whose SDP description is more than
// a name and a clock rate (Opus: "opus/48000/2" and an a=fmtp line).
type SDPFormat interface {
	// Channels is the a=rtpmap channel count.
	Channels() int
	// Fmtp is our a=fmtp parameter list; "" for none.
	Fmtp() string
}

// RemoteFmtp is implemented by codecs that adapt their encoder to the
// far end's a=fmtp parameters (Opus: maxaveragebitrate, usedtx, cbr).
type RemoteFmtp interface {
	// SetRemoteFmtp applies the far end's parameter list. An error
	// names parameters that were ignored; the codec stays usable.
	SetRemoteFmtp(fmtp string) error
}

// Channels is c's a=rtpmap channel count: 1 unless c says otherwise.
func Channels(c Codec) int {
	if f, ok := c.(SDPFormat); ok {
		return f.Channels()
	}
	return 1
}

// Fmtp is c's a=fmtp parameter list, "" for none.
func Fmtp(c Codec) string {
	if f, ok := c.(SDPFormat); ok {
		return f.Fmtp()
	}
	return ""
}

// OpusAvailable reports whether this build has Opus (libopus through cgo,
// build tag "opus"); without it ByName("opus") finds nothing, so Opus is
// neither offered nor accepted.
const OpusAvailable = opus.Available
