package sdp

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func load(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sdp", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t *testing.T, b []byte) *Session {
	t.Helper()
	s, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, b)
	}
	return s
}

// roundTrip checks Parse -> Marshal -> Parse -> Marshal is stable.
func roundTrip(t *testing.T, b []byte) {
	t.Helper()
	s := mustParse(t, b)
	m1 := s.Marshal()
	s2, err := Parse(m1)
	if err != nil {
		t.Fatalf("reparse: %v\n%s", err, m1)
	}
	if m2 := s2.Marshal(); !bytes.Equal(m1, m2) {
		t.Fatalf("unstable round trip:\n%s\n---\n%s", m1, m2)
	}
	if !bytes.HasSuffix(m1, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(m1, []byte("\r\n"), nil), []byte("\n")) {
		t.Fatalf("Marshal does not use CRLF:\n%q", m1)
	}
}

func TestParseTestdata(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "sdp", "*.sdp"))
	if len(files) < 20 {
		t.Fatalf("only %d test files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, b)
			// LF-only and CRLF give the same result.
			lf := bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
			crlf := bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))
			a, b2 := mustParse(t, lf).Marshal(), mustParse(t, crlf).Marshal()
			if !bytes.Equal(a, b2) {
				t.Errorf("LF and CRLF differ:\n%s\n%s", a, b2)
			}
		})
	}
}

// TestRFCFlowSDP checks the fields of one RFC 3665 body.
func TestRFCFlowSDP(t *testing.T) {
	s := mustParse(t, load(t, "rfc3665_3.10_unsuccessful_no_response_from_user_agent_L58.sdp"))
	want := Origin{"alice", "2890844526", "2890844526", "IN", "IP4", "client.atlanta.example.com"}
	if s.Origin != want {
		t.Errorf("origin %+v", s.Origin)
	}
	if s.Name != "-" || s.Conn != netip.MustParseAddr("192.0.2.101") || len(s.Times) != 1 || s.Times[0] != "0 0" {
		t.Errorf("session %+v", s)
	}
	if len(s.Media) != 1 {
		t.Fatalf("%d media", len(s.Media))
	}
	m := s.Media[0]
	if m.Type != "audio" || m.Port != 49172 || m.Proto != "RTP/AVP" || m.Direction != SendRecv ||
		len(m.Formats) != 1 || m.Formats[0] != (Format{0, "PCMU", 8000, 1, ""}) {
		t.Errorf("media %+v", m)
	}
}

func TestParseFields(t *testing.T) {
	t.Run("pbx", func(t *testing.T) {
		m := mustParse(t, load(t, "x_pbx_offer.sdp")).Media[0]
		want := []Format{{0, "PCMU", 8000, 1, ""}, {8, "PCMA", 8000, 1, ""}, {3, "GSM", 8000, 1, ""}, {101, "telephone-event", 8000, 1, "0-16"}}
		if len(m.Formats) != len(want) {
			t.Fatalf("formats %+v", m.Formats)
		}
		for i := range want {
			if m.Formats[i] != want[i] {
				t.Errorf("format %d = %+v, want %+v", i, m.Formats[i], want[i])
			}
		}
		if m.Ptime != 20 || m.MaxPtime != 150 || m.Direction != SendRecv || len(m.Attrs) != 0 {
			t.Errorf("media %+v", m)
		}
	})
	t.Run("softswitch", func(t *testing.T) {
		m := mustParse(t, load(t, "x_softswitch_offer.sdp")).Media[0]
		if f := m.Formats[0]; f != (Format{102, "opus", 48000, 2, "useinbandfec=1; maxplaybackrate=16000"}) {
			t.Errorf("opus %+v", f)
		}
		if m.RTCP != netip.MustParseAddrPort("198.51.100.7:24581") || m.RTCPMux {
			t.Errorf("rtcp %v mux %v", m.RTCP, m.RTCPMux)
		}
	})
	t.Run("t38", func(t *testing.T) {
		m := mustParse(t, load(t, "x_t38_reoffer.sdp")).Media[0]
		if m.Type != "image" || m.Proto != "udptl" || len(m.Formats) != 0 || len(m.Fmts) != 1 || m.Fmts[0] != "t38" || len(m.Attrs) != 5 {
			t.Errorf("t38 %+v", m)
		}
		if m.Attrs[4] != (Attr{"T38FaxUdpEC", "t38UDPRedundancy"}) {
			t.Errorf("attr %+v", m.Attrs[4])
		}
	})
	t.Run("ipv6", func(t *testing.T) {
		s := mustParse(t, load(t, "x_ipv6.sdp"))
		if s.Conn != netip.MustParseAddr("2001:db8::2") || s.Media[0].Direction != SendOnly || s.Media[0].Ptime != 30 {
			t.Errorf("%+v", s)
		}
		if !bytes.Contains(s.Marshal(), []byte("c=IN IP6 2001:db8::2\r\n")) {
			t.Errorf("IPv6 c= not written:\n%s", s.Marshal())
		}
	})
	t.Run("audio+video", func(t *testing.T) {
		s := mustParse(t, load(t, "x_audio_video.sdp"))
		if len(s.Media) != 3 || len(s.Extra) != 1 || s.Extra[0] != (Line{'b', "AS:2000"}) {
			t.Fatalf("%+v", s)
		}
		m := s.Media[2]
		if m.Conn != netip.MustParseAddr("192.0.2.5") || m.Direction != RecvOnly ||
			len(m.Extra) != 1 || m.Extra[0] != (Line{'b', "TIAS:64000"}) ||
			len(m.Attrs) != 1 || m.Attrs[0] != (Attr{"x-custom", "keep me"}) || m.Formats[0].Fmtp != "mode=30" {
			t.Errorf("third m-line %+v", m)
		}
		if s.Media[0].Port != 0 || s.Media[1].Formats[1].Name != "H263" {
			t.Errorf("first two %+v", s.Media[:2])
		}
	})
	t.Run("webrtc", func(t *testing.T) {
		s := mustParse(t, load(t, "x_webrtc.sdp"))
		m := s.Media[0]
		if !m.RTCPMux || m.RTCP != netip.MustParseAddrPort("0.0.0.0:9") || m.Conn != netip.IPv4Unspecified() {
			t.Errorf("%+v", m)
		}
		if len(s.Attrs) != 2 || s.Attrs[1] != (Attr{"msid-semantic", " WMS"}) {
			t.Errorf("session attrs %q", s.Attrs)
		}
		if m.Formats[0].Fmtp != "minptime=10;useinbandfec=1" || len(m.Attrs) != 7 {
			t.Errorf("attrs %q", m.Attrs)
		}
	})
	t.Run("lf", func(t *testing.T) {
		m := mustParse(t, load(t, "x_lf_only.sdp")).Media[0]
		if m.Ptime != 20 || !m.RTCPMux || m.RTCP.Port() != 6001 || m.RTCP.Addr().IsValid() {
			t.Errorf("%+v", m)
		}
	})
	t.Run("hostname", func(t *testing.T) {
		s := mustParse(t, load(t, "rfc3666_2.1_successful_sip_to_isup_pstn_call_L90.sdp"))
		if s.Conn.IsValid() || s.ConnHost == "" {
			t.Errorf("conn %v host %q", s.Conn, s.ConnHost)
		}
	})
}

func TestSessionDirection(t *testing.T) {
	s := mustParse(t, []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=sendonly\r\n"+
		"m=audio 1000 RTP/AVP 0\r\nm=audio 2000 RTP/AVP 0\r\na=inactive\r\nm=audio 3000 RTP/AVP 0\r\na=sendrecv\r\n"))
	got := []Direction{s.Media[0].Direction, s.Media[1].Direction, s.Media[2].Direction}
	if got[0] != SendOnly || got[1] != Inactive || got[2] != SendRecv {
		t.Errorf("directions %v", got)
	}
	if len(s.Attrs) != 0 {
		t.Errorf("session direction kept as attr: %v", s.Attrs)
	}
}

// TestRtpmapWithoutRate: an a=rtpmap without a clock rate (RFC 4475
// §3.1.1.3 esc01 has "a=rtpmap:31 LPC") is accepted: the rate is the
// static type's when the name matches it, else 0 (unknown), and it
// marshals back without one.
func TestRtpmapWithoutRate(t *testing.T) {
	in := "v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=audio 49217 RTP/AVP 0 12\r\na=rtpmap:0 pcmu\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n"
	s := mustParse(t, []byte(in))
	if f := s.Media[1].Formats[0]; f.PT != 31 || f.Name != "LPC" || f.Rate != 0 {
		t.Errorf("LPC without rate: %+v, want rate 0 (unknown)", f)
	}
	if f := s.Media[0].Formats[0]; f.Name != "pcmu" || f.Rate != 8000 {
		t.Errorf("static PCMU without rate: %+v, want the static 8000", f)
	}
	out := string(s.Marshal())
	if !strings.Contains(out, "a=rtpmap:31 LPC\r\n") || !strings.Contains(out, "a=rtpmap:0 pcmu/8000\r\n") {
		t.Errorf("marshalled:\n%s", out)
	}
	// The offer is still answerable on the audio line; the video line is
	// refused (port 0), and LPC never passes for a codec of ours.
	ans, neg, err := Answer(s, Local{Addr: netip.MustParseAddrPort("192.0.2.9:4000"), Direction: SendRecv})
	if err != nil || neg.Codec.PT != 0 || neg.Index != 0 || ans.Media[1].Port != 0 {
		t.Errorf("answer %v %+v err %v", ans, neg, err)
	}
	lpcOnly := mustParse(t, []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"+
		"m=audio 1000 RTP/AVP 96\r\na=rtpmap:96 PCMU\r\n"))
	if _, _, err := Answer(lpcOnly, Local{Addr: netip.MustParseAddrPort("192.0.2.9:4000")}); !errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("dynamic PCMU without a rate answered: %v, want ErrNoCommonCodec", err)
	}
}

func TestParseErrors(t *testing.T) {
	bad, err := os.ReadFile(filepath.Join("testdata", "sdp-bad", "rfc3666_3.7_unsuccessful_pstn_sip_acm_timeout_L89.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	const head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
	for _, c := range []struct {
		in   string
		line int
	}{
		{string(bad), 3},
		{"", 0},
		{"\r\n\n", 2},
		{"o=- 1 1 IN IP4 a\r\n", 1},
		{"v=1\r\n", 1},
		{"v=0\r\nv=0\r\n", 2},
		{"v=0\r\nthis is not sdp\r\n", 2},
		{"v=0\r\nA=foo\r\n", 2},
		{"v=0\r\n=foo\r\n", 2},
		{"v=0\r\no=- 1 IN IP4 a\r\n", 2},
		{head + "c=IN IP4\r\n", 4},
		{head + "t=0\r\n", 4},
		{head + "t=now later\r\n", 4},
		{head + "m=audio\r\n", 4},
		{head + "m=audio x RTP/AVP 0\r\n", 4},
		{head + "m=audio 70000 RTP/AVP 0\r\n", 4},
		{head + "m=audio 1000/0 RTP/AVP 0\r\n", 4},
		{head + "m=audio 1000 RTP/AVP 0 pcmu\r\n", 4},
		{head + "m=audio 1000 RTP/AVP 128\r\n", 4},
		{head + "m=audio 1000 RTP/AVP 0\r\na=rtpmap:0 /8000\r\n", 5},
		{head + "m=audio 1000 RTP/AVP 0\r\na=rtpmap:0 PCMU/\r\n", 5},
		{head + "m=audio 1000 RTP/AVP 0\r\na=rtpmap:0 PCMU/0\r\n", 5},
		{head + "m=audio 1000 RTP/AVP 0\r\na=rtpmap:x PCMU/8000\r\n", 5},
		{head + "m=audio 1000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000/0\r\n", 5},
		{head + "m=audio 1000 RTP/AVP 0\r\na=ptime:x\r\n", 5},
		{head + "m=audio 1000 RTP/AVP 0\r\na=ptime:20.x\r\n", 5},
		{head + "m=audio 1000 RTP/AVP 0\r\na=maxptime:-1\r\n", 5},
		{head + "m=audio 1000 RTP/AVP 0\r\na=rtcp:x\r\n", 5},
		{head + "m=audio 1000 RTP/AVP 0\r\na=rtcp:1001 IN IP4\r\n", 5},
	} {
		_, err := Parse([]byte(c.in))
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want a ParseError", c.in, err)
			continue
		}
		if pe.Line != c.line {
			t.Errorf("Parse(%q): line %d, want %d (%v)", c.in, pe.Line, c.line, err)
		}
		if !strings.Contains(err.Error(), "line ") {
			t.Errorf("error %q does not name the line", err)
		}
	}
}

// TestParseLenient checks inputs that are odd but must parse.
func TestParseLenient(t *testing.T) {
	for _, in := range []string{
		"v=0\n",                           // nothing else
		"v=0\r\nx=unknown line type\r\n",  // unknown type kept
		"v=0\r\n\r\no=- 1 1 IN IP4 h\r\n", // blank line
		"v=0 \r\ns=trailing space   \r\n",
		"v=0\r\nm=audio 1000 RTP/AVP\r\n",                                   // no formats
		"v=0\r\nm=audio 1000 RTP/AVP 96\r\na=rtpmap:97 foo/8000\r\n",        // rtpmap for absent PT
		"v=0\r\nm=audio 1000 RTP/AVP 96\r\na=fmtp:x y\r\na=fmtp:96\r\n",     // odd fmtp
		"v=0\r\nm=audio 1000/2 RTP/AVP 0\r\nc=IN IP4 224.2.1.1/127/2\r\n",   // multicast
		"v=0\r\nm=application 9 UDP/BFCP *\r\na=floorctrl:c-s\r\n",          // non-RTP
		"v=0\r\nm=audio 1000 RTP/AVP 0\r\na=sendonly:x\r\na=rtcp-mux:x\r\n", // flags with values
		"v=0\r\nm=audio 1000 RTP/AVP 0\r\ni=info\r\nk=prompt\r\nt=0 0\r\n",
		"v=0\r\ni=i\r\nu=http://x\r\ne=a@b\r\np=+1\r\nr=7d 1h 0 25h\r\nz=0 -1h\r\nk=clear:x\r\n",
	} {
		roundTrip(t, []byte(in))
	}
	s := mustParse(t, []byte("v=0\r\nm=audio 1000/2 RTP/AVP 0\r\nc=IN IP4 224.2.1.1/127/2\r\n"))
	if m := s.Media[0]; m.PortCount != 2 || m.ConnHost != "224.2.1.1/127/2" || m.Conn.IsValid() {
		t.Errorf("multicast %+v", m)
	}
	s = mustParse(t, []byte("v=0\r\nm=audio 1000 RTP/AVP 96\r\na=rtpmap:97 foo/8000\r\n"))
	if a := s.Media[0].Attrs; len(a) != 1 || a[0] != (Attr{"rtpmap", "97 foo/8000"}) {
		t.Errorf("stray rtpmap not kept: %v", a)
	}
}

func TestDirection(t *testing.T) {
	for _, c := range []struct {
		d     Direction
		s     string
		r     Direction
		sends bool
		recvs bool
	}{
		{SendRecv, "sendrecv", SendRecv, true, true},
		{SendOnly, "sendonly", RecvOnly, true, false},
		{RecvOnly, "recvonly", SendOnly, false, true},
		{Inactive, "inactive", Inactive, false, false},
	} {
		if c.d.String() != c.s || c.d.Reverse() != c.r || c.d.Sends() != c.sends || c.d.Receives() != c.recvs {
			t.Errorf("%v: %s %v %v %v", c.d, c.d.String(), c.d.Reverse(), c.d.Sends(), c.d.Receives())
		}
	}
	if Direction(9).String() == "" {
		t.Error("empty String for a bad direction")
	}
}
