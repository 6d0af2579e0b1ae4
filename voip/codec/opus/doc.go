// Package opus is the Opus codec (RFC 6716) as the phone carries it in
// RTP (RFC 7587), through libopus with cgo.
//
// RTP and SDP (RFC 7587 §4, §7): the encoding name is "opus", the RTP
// clock is always 48000 Hz and the a=rtpmap always says two channels
// ("opus/48000/2") whatever is sent; the payload type is dynamic (the
// phone offers 111). What a receiver prefers goes in a=fmtp:
//
//	a=rtpmap:111 opus/48000/2
//	a=fmtp:111 maxplaybackrate=16000; sprop-maxcapturerate=16000; maxaveragebitrate=24000; stereo=0; sprop-stereo=0; useinbandfec=1
//
// The phone codes mono voice: the encoder and decoder run at 16 kHz
// (wideband, like G.722), so a 20 ms frame is 320 samples and advances
// the RTP timestamp by 960 ticks. The encoder sends at most 24 kbit/s
// (less when the far end's maxaveragebitrate asks), with in-band forward
// error correction (FEC, RFC 7587 §3.3) on and discontinuous transmission
// (DTX) off: silence is still sent, which keeps NAT bindings open.
//
// ParseFmtp reads an a=fmtp parameter list; it is pure Go and in every
// build. The codec itself (New, Codec) needs libopus and is built only
// with cgo and the build tag "opus" (go build -tags opus, with
// libopus-dev installed); elsewhere Available is false and New returns
// ErrUnavailable, so the phone neither offers Opus nor accepts it.
package opus
