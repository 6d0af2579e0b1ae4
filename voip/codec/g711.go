package codec

import (
	"slices"
	"strings"
)

// Codec is an audio codec carried in RTP.
type Codec interface {
	// Name is the RTP encoding name used in SDP a=rtpmap ("PCMU", "PCMA").
	Name() string
	// PayloadType is the static RTP payload type (RFC 3551 §6).
	PayloadType() uint8
	// ClockRate is the RTP clock rate in Hz: the unit of RTP timestamps
	// and of the rate in SDP a=rtpmap.
	ClockRate() int
	// SampleRate is the rate of the audio the codec takes and gives, in
	// Hz. It equals ClockRate except for G.722 (16000 Hz audio on an
	// 8000 Hz RTP clock, RFC 3551 §4.5.2).
	SampleRate() int
	// Encode appends the encoding of pcm to dst (one byte per sample for
	// G.711) and returns the extended slice.
	Encode(dst []byte, pcm []int16) []byte
	// Decode appends the samples decoded from payload to dst (one sample
	// per byte for G.711) and returns the extended slice.
	Decode(dst []int16, payload []byte) []int16
}

// PCMU is G.711 µ-law, RTP payload type 0.
var PCMU Codec = ulawCodec{}

// PCMA is G.711 A-law, RTP payload type 8.
var PCMA Codec = alawCodec{}

// all makes each codec: G.711 is stateless and shared, G.722 keeps the
// ADPCM state of one call, so every lookup gets a fresh one.
var all = []func() Codec{
	func() Codec { return NewG722() },
	func() Codec { return PCMU },
	func() Codec { return PCMA },
}

// ByName returns the codec whose RTP encoding name is name, compared
// case-insensitively as SDP requires (RFC 4855 §3). A stateful codec
// (G.722, Opus) is new on each call: use one for one call's media. Opus
// is found only in builds that have it (OpusAvailable).
func ByName(name string) (Codec, bool) {
	if strings.EqualFold(name, "opus") {
		return newOpus() // opus.go: made only when asked for (libopus state)
	}
	for _, mk := range all {
		if c := mk(); strings.EqualFold(c.Name(), name) {
			return c, true
		}
	}
	return nil, false
}

// ByPayloadType returns the codec with the static RTP payload type pt,
// new for a stateful codec as ByName.
func ByPayloadType(pt uint8) (Codec, bool) {
	for _, mk := range all {
		if c := mk(); c.PayloadType() == pt {
			return c, true
		}
	}
	return nil, false
}

// Tables, filled once at package initialisation from the reference
// algorithms in ref.go.
var (
	ulawDecode [256]int16
	alawDecode [256]int16
	// ulawEncode is indexed by the 14 most significant bits of the input,
	// as an unsigned offset: uint16(x) >> 2.
	ulawEncode [1 << 14]byte
	// alawEncode is indexed by uint16(x) >> 4.
	alawEncode [1 << 12]byte
)

func init() {
	for i := range 256 {
		ulawDecode[i] = refUlawExpand(byte(i))
		alawDecode[i] = refAlawExpand(byte(i))
	}
	for i := range len(ulawEncode) {
		ulawEncode[i] = refUlawCompress(int16(uint16(i) << 2))
	}
	for i := range len(alawEncode) {
		alawEncode[i] = refAlawCompress(int16(uint16(i) << 4))
	}
}

// LinearToUlaw encodes one 16-bit linear sample to a µ-law code byte as
// sent on the wire.
func LinearToUlaw(s int16) byte { return ulawEncode[uint16(s)>>2] }

// UlawToLinear decodes one µ-law code byte to a 16-bit linear sample.
func UlawToLinear(b byte) int16 { return ulawDecode[b] }

// LinearToAlaw encodes one 16-bit linear sample to an A-law code byte as
// sent on the wire (even bits inverted).
func LinearToAlaw(s int16) byte { return alawEncode[uint16(s)>>4] }

// AlawToLinear decodes one A-law code byte to a 16-bit linear sample.
func AlawToLinear(b byte) int16 { return alawDecode[b] }

// grow extends b by n elements, reallocating only when its capacity is
// too small, and returns the extended slice.
func grow[T any](b []T, n int) []T {
	return slices.Grow(b, n)[:len(b)+n]
}

type ulawCodec struct{}

func (ulawCodec) Name() string       { return "PCMU" }
func (ulawCodec) PayloadType() uint8 { return 0 }
func (ulawCodec) ClockRate() int     { return 8000 }
func (ulawCodec) SampleRate() int    { return 8000 }

func (ulawCodec) Encode(dst []byte, pcm []int16) []byte {
	n := len(dst)
	dst = grow(dst, len(pcm))
	out := dst[n:]
	for i, s := range pcm {
		out[i] = ulawEncode[uint16(s)>>2]
	}
	return dst
}

func (ulawCodec) Decode(dst []int16, payload []byte) []int16 {
	n := len(dst)
	dst = grow(dst, len(payload))
	out := dst[n:]
	for i, b := range payload {
		out[i] = ulawDecode[b]
	}
	return dst
}

type alawCodec struct{}

func (alawCodec) Name() string       { return "PCMA" }
func (alawCodec) PayloadType() uint8 { return 8 }
func (alawCodec) ClockRate() int     { return 8000 }
func (alawCodec) SampleRate() int    { return 8000 }

func (alawCodec) Encode(dst []byte, pcm []int16) []byte {
	n := len(dst)
	dst = grow(dst, len(pcm))
	out := dst[n:]
	for i, s := range pcm {
		out[i] = alawEncode[uint16(s)>>4]
	}
	return dst
}

func (alawCodec) Decode(dst []int16, payload []byte) []int16 {
	n := len(dst)
	dst = grow(dst, len(payload))
	out := dst[n:]
	for i, b := range payload {
		out[i] = alawDecode[b]
	}
	return dst
}
