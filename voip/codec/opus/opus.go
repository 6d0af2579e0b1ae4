//go:build cgo && opus

package opus

/*
#cgo pkg-config: opus
#include <opus.h>

// cgo cannot call the variadic opus_*_ctl: one wrapper per request.
static int enc_set(OpusEncoder *st, int req, opus_int32 v) { return opus_encoder_ctl(st, req, v); }
*/
import "C"

import (
	"fmt"
	"slices"
	"unsafe"
)

// Available reports whether this build has libopus.
const Available = true

// Complexity is the encoder's complexity (0..10; libopus's default is
// 10): 5 costs about half the CPU time of 10 (BenchmarkEncode on the
// build machine: 130 against 235 µs a 20 ms frame) and codes a voice
// band tone as well, which matters on a Raspberry Pi.
const Complexity = 5

// frameMax is the most samples one Opus packet decodes to at SampleRate
// (120 ms).
const frameMax = SampleRate * 120 / 1000

// maxPacket bounds one encoded packet (RFC 6716 §3.4: 1275 octets a
// frame; voice at 24 kbit/s needs about 60).
const maxPacket = 1275

// Codec is one call's Opus encoder and decoder, mono at 16 kHz. Encode
// and Decode may run on different goroutines (they share no state);
// each alone is not safe for concurrent use.
//
// The libopus states live in Go memory (opus_encoder_init and
// opus_decoder_init into a buffer of opus_*_get_size bytes; the states
// hold no pointers into themselves), so a Codec needs no Close: the
// garbage collector frees it.
type Codec struct {
	enc    []uint64 // OpusEncoder, 8-byte aligned
	dec    []uint64 // OpusDecoder
	remote Params
}

// New returns a codec whose encoder follows the far end's params (its
// a=fmtp; the zero Params for none): DefaultBitrate or the far end's
// maxaveragebitrate when lower (constrained VBR), in-band FEC and 10 %
// expected loss,
// no DTX unless the far end asks for it (usedtx=1), CBR if it asks.
func New(remote Params) (*Codec, error) {
	c := &Codec{
		enc: make([]uint64, (C.opus_encoder_get_size(1)+7)/8),
		dec: make([]uint64, (C.opus_decoder_get_size(1)+7)/8),
	}
	if rc := C.opus_encoder_init(c.encoder(), SampleRate, 1, C.OPUS_APPLICATION_VOIP); rc != C.OPUS_OK {
		return nil, libErr("encoder init", rc)
	}
	if rc := C.opus_decoder_init(c.decoder(), SampleRate, 1); rc != C.OPUS_OK {
		return nil, libErr("decoder init", rc)
	}
	if err := c.SetRemote(remote); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Codec) encoder() *C.OpusEncoder { return (*C.OpusEncoder)(unsafe.Pointer(&c.enc[0])) }
func (c *Codec) decoder() *C.OpusDecoder { return (*C.OpusDecoder)(unsafe.Pointer(&c.dec[0])) }

func libErr(what string, rc C.int) error {
	return fmt.Errorf("%w: %s: %s", ErrLibopus, what, C.GoString(C.opus_strerror(rc)))
}

// SetRemote configures the encoder for the far end's params.
func (c *Codec) SetRemote(p Params) error {
	fec := 1 // we always send FEC; a receiver without it ignores it
	dtx := b2i(p.UseDTX)
	for _, s := range []struct {
		req C.int
		v   int
	}{
		{C.OPUS_SET_BITRATE_REQUEST, p.Bitrate()},
		{C.OPUS_SET_VBR_REQUEST, 1 - b2i(p.CBR)},
		{C.OPUS_SET_VBR_CONSTRAINT_REQUEST, 1}, // no bursts over the average
		{C.OPUS_SET_INBAND_FEC_REQUEST, fec},
		{C.OPUS_SET_PACKET_LOSS_PERC_REQUEST, 10},
		{C.OPUS_SET_DTX_REQUEST, dtx},
		{C.OPUS_SET_SIGNAL_REQUEST, C.OPUS_SIGNAL_VOICE},
		{C.OPUS_SET_COMPLEXITY_REQUEST, Complexity},
		{C.OPUS_SET_MAX_BANDWIDTH_REQUEST, C.OPUS_BANDWIDTH_WIDEBAND},
	} {
		if rc := C.enc_set(c.encoder(), s.req, C.opus_int32(s.v)); rc != C.OPUS_OK {
			return libErr(fmt.Sprintf("ctl %d", s.req), rc)
		}
	}
	c.remote = p
	return nil
}

// SetRemoteFmtp configures the encoder for the far end's a=fmtp
// parameter list; a malformed parameter is ignored (and reported), the
// valid ones still apply.
func (c *Codec) SetRemoteFmtp(fmtp string) error {
	p, perr := ParseFmtp(fmtp)
	if err := c.SetRemote(p); err != nil {
		return err
	}
	return perr
}

func (*Codec) Name() string       { return Name }
func (*Codec) PayloadType() uint8 { return PayloadType }
func (*Codec) ClockRate() int     { return ClockRate }
func (*Codec) SampleRate() int    { return SampleRate }

// Channels is the a=rtpmap channel count: always 2 (RFC 7587 §7).
func (*Codec) Channels() int { return SDPChannels }

// Fmtp is our a=fmtp parameter list (Local).
func (*Codec) Fmtp() string { return Local.String() }

// Encode appends one Opus packet coding pcm, which must be a frame
// libopus takes (2.5, 5, 10, 20, 40 or 60 ms: 320 samples for 20 ms);
// on any other length, or an encoder error, dst is returned unchanged.
func (c *Codec) Encode(dst []byte, pcm []int16) []byte {
	if len(pcm) == 0 {
		return dst
	}
	n := len(dst)
	dst = slices.Grow(dst, maxPacket)
	out := dst[n : n+maxPacket]
	rc := C.opus_encode(c.encoder(), (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)),
		(*C.uchar)(unsafe.Pointer(&out[0])), maxPacket)
	if rc < 0 {
		return dst[:n]
	}
	return dst[:n+int(rc)]
}

// Decode appends the samples of one Opus packet (up to 120 ms). A packet
// libopus refuses decodes to nothing; an empty payload is a lost packet
// (see Conceal).
func (c *Codec) Decode(dst []int16, payload []byte) []int16 {
	if len(payload) == 0 {
		return dst
	}
	return c.decode(dst, payload, frameMax, 0)
}

// DecodeFEC appends n samples recovered for a lost packet from the
// in-band FEC data of the packet after it (RFC 7587 §3.3); where that
// packet has none libopus conceals instead.
func (c *Codec) DecodeFEC(dst []int16, next []byte, n int) []int16 {
	if len(next) == 0 || n <= 0 || n > frameMax {
		return c.Conceal(dst, n)
	}
	return c.decode(dst, next, n, 1)
}

// Conceal appends n samples of libopus's loss concealment (a multiple
// of 2.5 ms, at most 120 ms).
func (c *Codec) Conceal(dst []int16, n int) []int16 {
	if n <= 0 || n > frameMax {
		return dst
	}
	return c.decode(dst, nil, n, 0)
}

func (c *Codec) decode(dst []int16, payload []byte, n int, fec C.int) []int16 {
	k := len(dst)
	dst = slices.Grow(dst, n)
	out := dst[k : k+n]
	var p *C.uchar
	if len(payload) > 0 {
		p = (*C.uchar)(unsafe.Pointer(&payload[0]))
	}
	rc := C.opus_decode(c.decoder(), p, C.opus_int32(len(payload)),
		(*C.opus_int16)(unsafe.Pointer(&out[0])), C.int(n), fec)
	if rc < 0 {
		return dst[:k]
	}
	return dst[:k+int(rc)]
}
