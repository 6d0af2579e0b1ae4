package codec

import "github.com/deskphone/phone/voip/codec/g722"

// G722 is ITU-T G.722 at 64 kbit/s as RTP carries it (RFC 3551 §4.5.2):
// static payload type 9, "G722/8000" in SDP, 16 kHz audio. It holds the
// encoder and decoder state of one call's media: make one per call with
// NewG722 (or ByName). Encode and Decode may run on different goroutines
// (they share no state); each alone is not safe for concurrent use.
type G722 struct {
	enc *g722.Encoder
	dec *g722.Decoder
}

// NewG722 returns a G.722 codec in its initial state.
func NewG722() *G722 {
	return &G722{enc: g722.NewEncoder(), dec: g722.NewDecoder(g722.Mode1)}
}

func (*G722) Name() string       { return "G722" }
func (*G722) PayloadType() uint8 { return g722.PayloadType }
func (*G722) ClockRate() int     { return g722.ClockRate }
func (*G722) SampleRate() int    { return g722.SampleRate }

// Encode appends one octet for each pair of samples.
func (c *G722) Encode(dst []byte, pcm []int16) []byte { return c.enc.Encode(dst, pcm) }

// Decode appends two samples for each octet.
func (c *G722) Decode(dst []int16, payload []byte) []int16 { return c.dec.Decode(dst, payload) }
