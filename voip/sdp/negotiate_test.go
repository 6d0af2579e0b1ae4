package sdp

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

var (
	pcmu = Format{PT: 0, Name: "PCMU", Rate: 8000}
	pcma = Format{PT: 8, Name: "PCMA", Rate: 8000}
	te   = Format{PT: 101, Name: "telephone-event", Rate: 8000, Fmtp: "0-16"}
)

func phone(dir Direction) Local {
	return Local{
		Addr:      netip.MustParseAddrPort("198.51.100.20:40000"),
		Formats:   []Format{pcma, pcmu, te},
		Direction: dir,
		Ptime:     20,
		SessionID: 42, Version: 1,
		User: "phone",
	}
}

func TestOfferText(t *testing.T) {
	l := phone(SendRecv)
	l.RTCPMux = true
	l.RTCP = netip.MustParseAddrPort("198.51.100.20:40001")
	got := string(Offer(l).Marshal())
	want := strings.Join([]string{
		"v=0",
		"o=phone 42 1 IN IP4 198.51.100.20",
		"s=-",
		"c=IN IP4 198.51.100.20",
		"t=0 0",
		"m=audio 40000 RTP/AVP 8 0 101",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
		"a=ptime:20",
		"a=rtcp:40001 IN IP4 198.51.100.20",
		"a=rtcp-mux",
		"a=sendrecv",
		"",
	}, "\r\n")
	if got != want {
		t.Errorf("offer:\n%s\nwant:\n%s", got, want)
	}
	// Defaults: PCMU and PCMA, IPv6, telephone-event fmtp filled in.
	l = Local{Addr: netip.MustParseAddrPort("[2001:db8::9]:5004"), Direction: SendOnly}
	o := Offer(l)
	if f := o.Media[0].Formats; len(f) != 2 || f[0].Name != "PCMU" || f[1].Name != "PCMA" {
		t.Errorf("default formats %+v", f)
	}
	if b := o.Marshal(); !bytes.Contains(b, []byte("c=IN IP6 2001:db8::9\r\n")) || !bytes.Contains(b, []byte("a=sendonly\r\n")) ||
		!bytes.Contains(b, []byte("o=- 0 0 IN IP6 2001:db8::9\r\n")) {
		t.Errorf("IPv6 hold offer:\n%s", b)
	}
	l = Local{Addr: netip.MustParseAddrPort("192.0.2.1:5004"), Formats: []Format{{PT: 0}, {PT: 96, Name: "telephone-event"}}}
	if f := Offer(l).Media[0].Formats[1]; f.Fmtp != "0-16" || f.Rate != 8000 {
		t.Errorf("telephone-event defaults %+v", f)
	}
}

func answerFile(t *testing.T, name string, l Local) (*Session, *Session, Negotiated, error) {
	t.Helper()
	offer := mustParse(t, load(t, name))
	ans, neg, err := Answer(offer, l)
	if ans != nil {
		if len(ans.Media) != len(offer.Media) {
			t.Fatalf("answer has %d m-lines, offer %d", len(ans.Media), len(offer.Media))
		}
		roundTrip(t, ans.Marshal())
	}
	return offer, ans, neg, err
}

func TestAnswer(t *testing.T) {
	t.Run("offerer's order wins", func(t *testing.T) {
		// We prefer PCMA, the PBX lists PCMU first: PCMU is chosen.
		_, ans, neg, err := answerFile(t, "x_pbx_offer.sdp", phone(SendRecv))
		if err != nil {
			t.Fatal(err)
		}
		if neg.Codec.PT != 0 || neg.Codec.Name != "PCMU" || neg.DTMF.PT != 101 || neg.DTMF.Name != "telephone-event" {
			t.Errorf("negotiated %+v", neg)
		}
		if neg.Remote != netip.MustParseAddrPort("203.0.113.10:17220") || neg.RemoteRTCP != netip.MustParseAddrPort("203.0.113.10:17221") {
			t.Errorf("remote %v rtcp %v", neg.Remote, neg.RemoteRTCP)
		}
		if neg.Direction != SendRecv || neg.Ptime != 20 || neg.RTCPMux {
			t.Errorf("negotiated %+v", neg)
		}
		b := string(ans.Marshal())
		for _, w := range []string{"m=audio 40000 RTP/AVP 0 101\r\n", "c=IN IP4 198.51.100.20\r\n", "a=fmtp:101 0-16\r\n", "a=sendrecv\r\n", "o=phone 42 1 IN IP4 198.51.100.20\r\n"} {
			if !strings.Contains(b, w) {
				t.Errorf("answer lacks %q:\n%s", w, b)
			}
		}
		if strings.Contains(b, "rtcp-mux") {
			t.Errorf("answer has rtcp-mux the offer lacked:\n%s", b)
		}
	})
	t.Run("skip unknown codecs, DTMF at codec rate, a=rtcp", func(t *testing.T) {
		_, ans, neg, err := answerFile(t, "x_softswitch_offer.sdp", phone(SendRecv))
		if err != nil {
			t.Fatal(err)
		}
		// opus and G722 are unknown to us; PCMA (8) is next.
		if neg.Codec.PT != 8 || neg.DTMF.PT != 101 || neg.DTMF.Rate != 8000 {
			t.Errorf("negotiated %+v", neg)
		}
		if neg.RemoteRTCP != netip.MustParseAddrPort("198.51.100.7:24581") {
			t.Errorf("rtcp %v", neg.RemoteRTCP)
		}
		if f := ans.Media[0].Formats; len(f) != 2 || f[0].PT != 8 || f[1].PT != 101 {
			t.Errorf("answer formats %+v", f)
		}
	})
	t.Run("dynamic telephone-event PT, rtcp-mux both", func(t *testing.T) {
		l := phone(SendRecv)
		l.RTCPMux = true
		_, ans, neg, err := answerFile(t, "x_lf_only.sdp", l)
		if err != nil {
			t.Fatal(err)
		}
		if neg.Codec.PT != 8 || neg.DTMF.PT != 96 || !neg.RTCPMux || neg.RemoteRTCP != neg.Remote {
			t.Errorf("negotiated %+v", neg)
		}
		if !ans.Media[0].RTCPMux || ans.Media[0].Formats[1].PT != 96 {
			t.Errorf("answer %+v", ans.Media[0])
		}
	})
	t.Run("rtcp-mux only we have", func(t *testing.T) {
		l := phone(SendRecv)
		l.RTCPMux = true
		_, ans, neg, err := answerFile(t, "x_pbx_offer.sdp", l)
		if err != nil || neg.RTCPMux || ans.Media[0].RTCPMux {
			t.Errorf("mux negotiated without the offer: %+v %v", neg, err)
		}
	})
	t.Run("rtcp-mux only they have", func(t *testing.T) {
		_, ans, neg, err := answerFile(t, "x_lf_only.sdp", phone(SendRecv))
		if err != nil || neg.RTCPMux || ans.Media[0].RTCPMux || neg.RemoteRTCP.Port() != 6001 {
			t.Errorf("mux: %+v %v", neg, err)
		}
	})
	t.Run("no DTMF on our side", func(t *testing.T) {
		l := phone(SendRecv)
		l.Formats = []Format{pcmu}
		_, ans, neg, err := answerFile(t, "x_pbx_offer.sdp", l)
		if err != nil || neg.DTMF != (Format{}) || len(ans.Media[0].Formats) != 1 {
			t.Errorf("%+v %v", neg, err)
		}
	})
	t.Run("old hold c=0.0.0.0", func(t *testing.T) {
		_, ans, neg, err := answerFile(t, "x_old_hold.sdp", phone(SendRecv))
		if err != nil {
			t.Fatal(err)
		}
		if neg.Direction != RecvOnly || neg.Direction.Sends() || ans.Media[0].Direction != RecvOnly {
			t.Errorf("hold answered %v", neg.Direction)
		}
	})
	t.Run("media-level c=, rejected and video streams", func(t *testing.T) {
		_, ans, neg, err := answerFile(t, "x_audio_video.sdp", phone(SendRecv))
		if err != nil {
			t.Fatal(err)
		}
		if neg.Index != 2 || neg.Codec.PT != 8 || neg.Remote != netip.MustParseAddrPort("192.0.2.5:49174") {
			t.Errorf("negotiated %+v", neg)
		}
		// The offer is recvonly: we only send.
		if neg.Direction != SendOnly || ans.Media[2].Direction != SendOnly {
			t.Errorf("direction %v", neg.Direction)
		}
		if ans.Media[0].Port != 0 || ans.Media[1].Port != 0 || ans.Media[1].Type != "video" || ans.Media[2].Port != 40000 {
			t.Errorf("answer ports %d %d %d", ans.Media[0].Port, ans.Media[1].Port, ans.Media[2].Port)
		}
		if neg.DTMF.PT != 101 {
			t.Errorf("dtmf %+v", neg.DTMF)
		}
	})
	t.Run("only the first acceptable audio stream", func(t *testing.T) {
		offer := mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1000 RTP/AVP 0\r\nm=audio 2000 RTP/AVP 0\r\n"))
		ans, neg, err := Answer(offer, phone(SendRecv))
		if err != nil || neg.Index != 0 || ans.Media[0].Port != 40000 || ans.Media[1].Port != 0 {
			t.Errorf("%+v %v", neg, err)
		}
	})
	t.Run("ptime and maxptime", func(t *testing.T) {
		offer := mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1000 RTP/AVP 0\r\na=ptime:30\r\na=maxptime:20\r\n"))
		_, neg, err := Answer(offer, phone(SendRecv))
		if err != nil || neg.Ptime != 20 {
			t.Errorf("ptime %d %v", neg.Ptime, err)
		}
		offer = mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1000 RTP/AVP 0\r\na=ptime:30\r\n"))
		if _, neg, _ := Answer(offer, phone(SendRecv)); neg.Ptime != 30 {
			t.Errorf("ptime %d", neg.Ptime)
		}
		offer = mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1000 RTP/AVP 0\r\n"))
		l := phone(SendRecv)
		l.Ptime = 0
		if _, neg, _ := Answer(offer, l); neg.Ptime != 20 {
			t.Errorf("default ptime %d", neg.Ptime)
		}
	})
	t.Run("case-insensitive codec names", func(t *testing.T) {
		offer := mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1000 RTP/AVP 97 98\r\na=rtpmap:97 pcma/8000\r\na=rtpmap:98 TELEPHONE-EVENT/8000\r\n"))
		_, neg, err := Answer(offer, phone(SendRecv))
		if err != nil || neg.Codec.PT != 97 || neg.DTMF.PT != 98 {
			t.Errorf("%+v %v", neg, err)
		}
	})
	for _, c := range []struct {
		name string
		file string
		err  error
	}{
		{"SAVPF only", "x_webrtc.sdp", ErrNoCommonCodec},
		{"T.38 only", "x_t38_reoffer.sdp", ErrNoCommonCodec},
		{"host name c=", "rfc3666_2.1_successful_sip_to_isup_pstn_call_L90.sdp", ErrNoAddress},
	} {
		t.Run(c.name, func(t *testing.T) {
			offer, ans, _, err := answerFile(t, c.file, phone(SendRecv))
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			for i, m := range ans.Media {
				if m.Port != 0 || m.Type != offer.Media[i].Type {
					t.Errorf("m-line %d not rejected: %+v", i, m)
				}
			}
		})
	}
	t.Run("no common codec", func(t *testing.T) {
		offer := mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1000 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
		ans, _, err := Answer(offer, phone(SendRecv))
		if !errors.Is(err, ErrNoCommonCodec) || ans.Media[0].Port != 0 {
			t.Errorf("err %v", err)
		}
		if _, _, err := Answer(nil, phone(SendRecv)); !errors.Is(err, ErrNoCommonCodec) {
			t.Errorf("nil offer: %v", err)
		}
		if _, _, err := Answer(&Session{}, phone(SendRecv)); !errors.Is(err, ErrNoCommonCodec) {
			t.Errorf("empty offer: %v", err)
		}
	})
}

// TestAnswerDirections is the table of RFC 3264 §6.1: our direction is
// what we want intersected with the reverse of the offer's.
func TestAnswerDirections(t *testing.T) {
	want := map[[2]Direction]Direction{ // {offer, ours wanted} -> answer
		{SendRecv, SendRecv}: SendRecv, {SendRecv, SendOnly}: SendOnly, {SendRecv, RecvOnly}: RecvOnly, {SendRecv, Inactive}: Inactive,
		{SendOnly, SendRecv}: RecvOnly, {SendOnly, SendOnly}: Inactive, {SendOnly, RecvOnly}: RecvOnly, {SendOnly, Inactive}: Inactive,
		{RecvOnly, SendRecv}: SendOnly, {RecvOnly, SendOnly}: SendOnly, {RecvOnly, RecvOnly}: Inactive, {RecvOnly, Inactive}: Inactive,
		{Inactive, SendRecv}: Inactive, {Inactive, SendOnly}: Inactive, {Inactive, RecvOnly}: Inactive, {Inactive, Inactive}: Inactive,
	}
	for k, w := range want {
		offer := Offer(Local{Addr: netip.MustParseAddrPort("192.0.2.1:1000"), Direction: k[0]})
		offer = mustParse(t, offer.Marshal())
		ans, neg, err := Answer(offer, phone(k[1]))
		if err != nil {
			t.Fatal(err)
		}
		if neg.Direction != w || ans.Media[0].Direction != w {
			t.Errorf("offer %v, we want %v: answered %v (negotiated %v), want %v", k[0], k[1], ans.Media[0].Direction, neg.Direction, w)
		}
		// The offerer's view (Accept) mirrors it.
		uac, err := Accept(offer, mustParse(t, ans.Marshal()))
		if err != nil {
			t.Fatal(err)
		}
		if uac.Direction != w.Reverse() {
			t.Errorf("offer %v answer %v: offerer gets %v", k[0], w, uac.Direction)
		}
	}
}

// TestOfferAnswerAccept runs a whole exchange through the wire format.
func TestOfferAnswerAccept(t *testing.T) {
	alice := Local{
		Addr:    netip.MustParseAddrPort("192.0.2.10:20000"),
		RTCP:    netip.MustParseAddrPort("192.0.2.10:20001"),
		RTCPMux: true,
		Formats: []Format{pcmu, pcma, {PT: 100, Name: "telephone-event", Rate: 8000}},
		Ptime:   30, SessionID: 7, Version: 1, User: "alice",
	}
	bob := phone(SendRecv)
	bob.RTCPMux = true
	offer := mustParse(t, Offer(alice).Marshal())
	ans, bneg, err := Answer(offer, bob)
	if err != nil {
		t.Fatal(err)
	}
	aneg, err := Accept(offer, mustParse(t, ans.Marshal()))
	if err != nil {
		t.Fatal(err)
	}
	if bneg.Codec.Name != "PCMU" || aneg.Codec.Name != "PCMU" || aneg.Codec.PT != 0 {
		t.Errorf("codecs %+v / %+v", aneg.Codec, bneg.Codec)
	}
	if aneg.DTMF.PT != 100 || bneg.DTMF.PT != 100 {
		t.Errorf("dtmf %+v / %+v", aneg.DTMF, bneg.DTMF)
	}
	if aneg.Remote != bob.Addr || bneg.Remote != alice.Addr || !aneg.RTCPMux || !bneg.RTCPMux || aneg.RemoteRTCP != bob.Addr {
		t.Errorf("addresses %+v / %+v", aneg, bneg)
	}
	// Each sends with the other's ptime.
	if aneg.Ptime != 20 || bneg.Ptime != 30 {
		t.Errorf("ptime %d / %d", aneg.Ptime, bneg.Ptime)
	}

	// Hold: alice re-offers sendonly, bob answers recvonly.
	alice.Direction, alice.Version = SendOnly, 2
	offer = mustParse(t, Offer(alice).Marshal())
	ans, bneg, err = Answer(offer, bob)
	if err != nil {
		t.Fatal(err)
	}
	aneg, err = Accept(offer, mustParse(t, ans.Marshal()))
	if err != nil || aneg.Direction != SendOnly || bneg.Direction != RecvOnly {
		t.Errorf("hold: alice %v bob %v %v", aneg.Direction, bneg.Direction, err)
	}
	if offer.Origin.SessionVersion != "2" {
		t.Errorf("version %q", offer.Origin.SessionVersion)
	}
	// Old-style hold in an answer: c=0.0.0.0 means do not send.
	a := mustParse(t, ans.Marshal())
	a.Conn = netip.IPv4Unspecified()
	a.Media[0].Direction = SendRecv
	if n, err := Accept(offer, a); err != nil || n.Direction.Sends() {
		t.Errorf("c=0.0.0.0 answer: %v %v", n.Direction, err)
	}
}

func TestAcceptErrors(t *testing.T) {
	offer := mustParse(t, Offer(phone(SendRecv)).Marshal())
	two := mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1000 RTP/AVP 0\r\nm=audio 2000 RTP/AVP 0\r\n"))
	video := mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.1\r\nm=video 1000 RTP/AVP 31\r\n"))
	rejected := mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 0 RTP/AVP 0\r\n"))
	other := mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1000 RTP/AVP 18\r\n"))
	noaddr := mustParse(t, []byte("v=0\r\nm=audio 1000 RTP/AVP 0\r\n"))
	for _, c := range []struct {
		name   string
		answer *Session
		err    error
	}{
		{"nil", nil, ErrMismatch},
		{"m-line count", two, ErrMismatch},
		{"m-line type", video, ErrMismatch},
		{"rejected", rejected, ErrNoCommonCodec},
		{"codec not offered", other, ErrNoCommonCodec},
		{"no c=", noaddr, ErrNoAddress},
	} {
		if _, err := Accept(offer, c.answer); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
	}
}

func TestOfferWithoutAddress(t *testing.T) {
	b := Offer(Local{}).Marshal()
	if !bytes.Contains(b, []byte("o=- 0 0 IN IP4 0.0.0.0\r\n")) || bytes.Contains(b, []byte("c=")) {
		t.Errorf("offer without address:\n%s", b)
	}
	roundTrip(t, b)
}
