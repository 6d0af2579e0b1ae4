package sdp_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/deskphone/phone/voip/sdp"
)

func Example() {
	// The caller (UAC) offers PCMU, PCMA and RFC 4733 DTMF.
	alice := sdp.Local{
		Addr: netip.MustParseAddrPort("192.0.2.10:20000"),
		Formats: []sdp.Format{
			{PT: 0, Name: "PCMU", Rate: 8000},
			{PT: 8, Name: "PCMA", Rate: 8000},
			{PT: 101, Name: "telephone-event", Rate: 8000},
		},
		Ptime: 20, SessionID: 1, Version: 1, User: "alice",
	}
	offer := sdp.Offer(alice)
	fmt.Print(strings.ReplaceAll(string(offer.Marshal()), "\r\n", "\n")) // CRLF on the wire

	// The callee (UAS) prefers PCMA but takes the offerer's first choice.
	bob := sdp.Local{
		Addr:    netip.MustParseAddrPort("198.51.100.20:40000"),
		Formats: []sdp.Format{{PT: 8}, {PT: 0}, {PT: 101, Name: "telephone-event"}},
		Ptime:   20, SessionID: 2, Version: 1, User: "bob",
	}
	received, err := sdp.Parse(offer.Marshal())
	if err != nil {
		fmt.Println(err)
		return
	}
	answer, neg, err := sdp.Answer(received, bob)
	if err != nil {
		fmt.Println(err) // errors.Is(err, sdp.ErrNoCommonCodec): reply 488
		return
	}
	fmt.Printf("bob: %s/%d PT %d, DTMF PT %d, send to %v, %v\n",
		neg.Codec.Name, neg.Codec.Rate, neg.Codec.PT, neg.DTMF.PT, neg.Remote, neg.Direction)

	// Back at the caller.
	got, err := sdp.Accept(offer, answer)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("alice: %s PT %d, send to %v, RTCP to %v\n", got.Codec.Name, got.Codec.PT, got.Remote, got.RemoteRTCP)
	// Output:
	// v=0
	// o=alice 1 1 IN IP4 192.0.2.10
	// s=-
	// c=IN IP4 192.0.2.10
	// t=0 0
	// m=audio 20000 RTP/AVP 0 8 101
	// a=rtpmap:0 PCMU/8000
	// a=rtpmap:8 PCMA/8000
	// a=rtpmap:101 telephone-event/8000
	// a=fmtp:101 0-16
	// a=ptime:20
	// a=sendrecv
	// bob: PCMU/8000 PT 0, DTMF PT 101, send to 192.0.2.10:20000, sendrecv
	// alice: PCMU PT 0, send to 198.51.100.20:40000, RTCP to 198.51.100.20:40001
}
