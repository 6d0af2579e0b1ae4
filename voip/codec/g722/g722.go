package g722

// Mode is the decoder's operating mode (G.722 §1.4): how many bits of each
// lower-band code it uses.
type Mode int

const (
	// Mode1 is 64 kbit/s: 6 bits per lower-band sample. RTP uses it.
	Mode1 Mode = 1
	// Mode2 is 56 kbit/s: 5 bits, one left for auxiliary data.
	Mode2 Mode = 2
	// Mode3 is 48 kbit/s: 4 bits, two left for auxiliary data.
	Mode3 Mode = 3
)

// Sizes for RTP (RFC 3551 §4.5.2).
const (
	// SampleRate is the audio sample rate.
	SampleRate = 16000
	// ClockRate is the RTP timestamp rate, half the sample rate.
	ClockRate = 8000
	// PayloadType is the static RTP payload type.
	PayloadType = 9
)

// Encoder encodes 16 kHz linear PCM to G.722 at 64 kbit/s. The zero value
// is not ready: use NewEncoder.
type Encoder struct {
	low, high band
	x         [24]int32 // the transmit QMF's delay line, oldest first
}

// NewEncoder returns an encoder in the Recommendation's reset state.
func NewEncoder() *Encoder {
	e := &Encoder{}
	e.Reset()
	return e
}

// Reset returns e to its initial state, as at the start of a call.
func (e *Encoder) Reset() {
	e.low.reset(true)
	e.high.reset(false)
	e.x = [24]int32{}
}

// Encode appends to dst the G.722 octets for pcm, one octet for each pair
// of samples, and returns the extended slice. A final odd sample is
// ignored: audio frames always hold an even number of samples.
func (e *Encoder) Encode(dst []byte, pcm []int16) []byte {
	for i := 0; i+1 < len(pcm); i += 2 {
		// Transmit QMF (§3.1): shift two samples in, compute the
		// lower and higher band from the even and odd taps.
		copy(e.x[:], e.x[2:])
		e.x[22] = int32(pcm[i])
		e.x[23] = int32(pcm[i+1])
		var even, odd int32
		for j := 0; j < 12; j++ {
			odd += e.x[2*j] * qmf[j]
			even += e.x[2*j+1] * qmf[11-j]
		}
		xl := sat((even + odd) >> 14)
		xh := sat((even - odd) >> 14)
		il := e.low.encodeLow(xl)
		ih := e.high.encodeHigh(xh)
		dst = append(dst, byte(ih<<6|il))
	}
	return dst
}

// Decoder decodes G.722 to 16 kHz linear PCM. The zero value is not
// ready: use NewDecoder.
type Decoder struct {
	mode      Mode
	low, high band
	x         [24]int32 // the receive QMF's delay line, oldest first
}

// NewDecoder returns a decoder in mode (Mode1 for RTP; anything else
// counts as Mode1) in the Recommendation's reset state.
func NewDecoder(mode Mode) *Decoder {
	if mode != Mode2 && mode != Mode3 {
		mode = Mode1
	}
	d := &Decoder{mode: mode}
	d.Reset()
	return d
}

// Reset returns d to its initial state, as at the start of a call.
func (d *Decoder) Reset() {
	d.low.reset(true)
	d.high.reset(false)
	d.x = [24]int32{}
}

// Decode appends to dst two samples for each octet of payload and returns
// the extended slice. Every octet is a valid code.
func (d *Decoder) Decode(dst []int16, payload []byte) []int16 {
	for _, c := range payload {
		rl := d.low.decodeLow(int32(c&0x3f), d.mode)
		rh := d.high.decodeHigh(int32(c >> 6))
		// Receive QMF (§4.4).
		copy(d.x[:], d.x[2:])
		d.x[22] = rl + rh
		d.x[23] = rl - rh
		var o1, o2 int32
		for j := 0; j < 12; j++ {
			o2 += d.x[2*j] * qmf[j]
			o1 += d.x[2*j+1] * qmf[11-j]
		}
		dst = append(dst, int16(sat(o1>>11)), int16(sat(o2>>11)))
	}
	return dst
}
