package pbx

import (
	"fmt"
	"net/netip"

	"github.com/deskphone/phone/voip/codec"
	"github.com/deskphone/phone/voip/sdp"
)

// ourFormats are what the services offer to answer with: G.711 and RFC
// 4733 telephone-event (which echo reflects like any payload).
var ourFormats = []sdp.Format{
	{PT: 0, Name: "PCMU", Rate: 8000},
	{PT: 8, Name: "PCMA", Rate: 8000},
	{PT: 101, Name: "telephone-event", Rate: 8000, Fmtp: "0-16"},
}

// negotiation is the outcome of answering an offer (RFC 3264 §6).
type negotiation struct {
	answer []byte
	codec  codec.Codec
	pt     uint8 // payload type of codec, as the offerer numbered it
	remote netip.AddrPort
	send   bool // the offerer receives (not sendonly/inactive, i.e. not holding us)
}

// answerOffer answers an SDP offer with voip/sdp: the offerer's first
// G.711 format, our RTP address local, session sessID at version.
func answerOffer(body []byte, local netip.AddrPort, sessID, version uint64) (negotiation, error) {
	off, err := sdp.Parse(body)
	if err != nil {
		return negotiation{}, err
	}
	ans, neg, err := sdp.Answer(off, sdp.Local{Addr: local, Formats: ourFormats, Direction: sdp.SendRecv,
		Ptime: 20, SessionID: sessID, Version: version, User: "pbx"})
	if err != nil {
		return negotiation{}, err
	}
	c, ok := codec.ByName(neg.Codec.Name)
	if !ok || c.ClockRate() != neg.Codec.Rate {
		return negotiation{}, fmt.Errorf("%w: %s/%d", sdp.ErrNoCommonCodec, neg.Codec.Name, neg.Codec.Rate)
	}
	return negotiation{answer: ans.Marshal(), codec: c, pt: neg.Codec.PT, remote: neg.Remote,
		send: neg.Direction.Sends()}, nil
}
