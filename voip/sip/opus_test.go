package sip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/deskphone/phone/voip/codec"
	"github.com/deskphone/phone/voip/sdp"
)

// TestExtraDTMF: Opus's 48 kHz clock gets its own telephone-event, on a
// free dynamic payload type; 8 kHz codecs share the configured one.
func TestExtraDTMF(t *testing.T) {
	ours := []sdp.Format{
		{PT: 111, Name: "opus", Rate: 48000, Channels: 2},
		{PT: 9, Name: "G722", Rate: 8000, Channels: 1},
		{PT: 96, Name: "telephone-event", Rate: 8000, Channels: 1},
	}
	got := extraDTMF(ours, 96)
	if len(got) != 1 || got[0].Rate != 48000 || got[0].PT != 97 || got[0].Fmtp != "0-16" {
		t.Fatalf("got %+v, want telephone-event/48000 on PT 97", got)
	}
	if got := extraDTMF(ours[1:], 96); len(got) != 0 {
		t.Errorf("narrowband clocks only: %+v", got)
	}
	if f := codecFormat(codec.PCMU, nil, 111); f.PT != 0 || f.Channels != 1 || f.Fmtp != "" || f.Rate != 8000 {
		t.Errorf("PCMU: %+v", f)
	}
	if cod, ok := codec.ByName("opus"); ok {
		if f := codecFormat(cod, nil, 101); f.PT != 111 || f.Name != "opus" || f.Rate != 48000 || f.Channels != 2 || f.Fmtp == "" {
			t.Errorf("opus: %+v", f)
		}
		if f := codecFormat(cod, nil, 111); f.PT != 112 {
			t.Errorf("opus with telephone-event on 111: PT %d, want 112", f.PT)
		}
	}
}

// TestOpusOfferAnswer: an offer with Opus reads as RFC 7587 has it, and an
// answerer without Opus picks the next codec; one with it answers Opus
// with its own a=fmtp and the offerer's payload type.
func TestOpusOfferAnswer(t *testing.T) {
	opus := sdp.Format{PT: 111, Name: "opus", Rate: 48000, Channels: 2, Fmtp: "useinbandfec=1; stereo=0"}
	g722 := sdp.Format{PT: 9, Name: "G722", Rate: 8000, Channels: 1}
	dtmf48 := sdp.Format{PT: 96, Name: "telephone-event", Rate: 48000, Channels: 1, Fmtp: "0-16"}
	l := sdp.Local{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Formats: []sdp.Format{opus, g722, dtmf48}}
	wire := string(sdp.Offer(l).Marshal())
	for _, want := range []string{"m=audio 4000 RTP/AVP 111 9 96", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 useinbandfec=1; stereo=0", "a=rtpmap:96 telephone-event/48000"} {
		if !strings.Contains(wire, want) {
			t.Errorf("offer lacks %q:\n%s", want, wire)
		}
	}
	offer, err := sdp.Parse([]byte(wire))
	if err != nil {
		t.Fatal(err)
	}
	without := sdp.Local{Addr: netip.MustParseAddrPort("192.0.2.2:5000"), Formats: []sdp.Format{{PT: 9}, {PT: 0}}}
	if _, neg, err := sdp.Answer(offer, without); err != nil || neg.Codec.Name != "G722" {
		t.Errorf("an answerer without Opus: %+v, %v", neg.Codec, err)
	}
	ours := opus
	ours.PT, ours.Fmtp = 112, "maxaveragebitrate=20000"
	with := sdp.Local{Addr: netip.MustParseAddrPort("192.0.2.2:5000"), Formats: []sdp.Format{ours, dtmf48}}
	ans, neg, err := sdp.Answer(offer, with)
	if err != nil || neg.Codec.Name != "opus" || neg.Codec.PT != 111 || neg.DTMF.PT != 96 || neg.Codec.Fmtp != opus.Fmtp {
		t.Fatalf("an answerer with Opus: %+v dtmf %+v, %v", neg.Codec, neg.DTMF, err)
	}
	if w := string(ans.Marshal()); !strings.Contains(w, "a=fmtp:111 maxaveragebitrate=20000") {
		t.Errorf("answer lacks our fmtp:\n%s", w)
	}
	if _, _, err := sdp.Answer(offer, sdp.Local{Addr: without.Addr, Formats: []sdp.Format{{PT: 0}}}); !errors.Is(err, sdp.ErrNoCommonCodec) {
		t.Errorf("PCMU only against Opus and G.722: %v", err)
	}
}
