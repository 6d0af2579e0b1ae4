package pbx

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/deskphone/phone/voip/codec"
)

// This file holds the little SDP (RFC 8866) the service calls need: read
// the first audio stream of an offer and build an answer (RFC 3264 §6).
// It is deliberately small; the phone's full implementation is voip/sdp.

var errSDP = errors.New("pbx: unusable SDP offer")

// offer is what the services take from an SDP offer.
type offer struct {
	remote  netip.AddrPort // RTP address of the offerer
	codec   codec.Codec
	pt      uint8 // payload type of codec in the offer
	dtmfPT  uint8 // telephone-event payload type, 0 if none
	hasDTMF bool
}

// parseOffer reads the first audio m= line of an SDP body and picks the
// first G.711 format in the offerer's preference order.
func parseOffer(body []byte) (offer, error) {
	var o offer
	var sessConn, mediaConn netip.Addr
	port := -1
	var pts []uint8
	names := map[uint8]string{}
	inAudio, seenAudio := false, false
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimRight(line, "\r")
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		val := line[2:]
		switch line[0] {
		case 'm':
			if seenAudio {
				inAudio = false
				continue
			}
			f := strings.Fields(val)
			if len(f) < 4 || f[0] != "audio" {
				inAudio = false
				continue
			}
			p, err := strconv.Atoi(strings.SplitN(f[1], "/", 2)[0])
			if err != nil || p < 0 || p > 65535 {
				return o, fmt.Errorf("%w: bad m= port %q", errSDP, f[1])
			}
			port = p
			for _, s := range f[3:] {
				n, err := strconv.ParseUint(s, 10, 7)
				if err != nil {
					continue
				}
				pts = append(pts, uint8(n))
			}
			inAudio, seenAudio = true, true
		case 'c':
			f := strings.Fields(val)
			if len(f) < 3 {
				continue
			}
			a, err := netip.ParseAddr(strings.SplitN(f[2], "/", 2)[0])
			if err != nil {
				continue
			}
			if inAudio {
				mediaConn = a
			} else if !seenAudio {
				sessConn = a
			}
		case 'a':
			if !inAudio || !strings.HasPrefix(val, "rtpmap:") {
				continue
			}
			f := strings.Fields(strings.TrimPrefix(val, "rtpmap:"))
			if len(f) < 2 {
				continue
			}
			n, err := strconv.ParseUint(f[0], 10, 7)
			if err != nil {
				continue
			}
			names[uint8(n)] = strings.ToLower(f[1])
		}
	}
	if port < 0 {
		return o, fmt.Errorf("%w: no audio stream", errSDP)
	}
	addr := mediaConn
	if !addr.IsValid() {
		addr = sessConn
	}
	if !addr.IsValid() {
		return o, fmt.Errorf("%w: no connection address", errSDP)
	}
	o.remote = netip.AddrPortFrom(addr.Unmap(), uint16(port))
	for _, pt := range pts {
		name := names[pt]
		if o.codec == nil {
			switch {
			case name == "pcmu/8000" || (name == "" && pt == 0):
				o.codec, o.pt = codec.PCMU, pt
				continue
			case name == "pcma/8000" || (name == "" && pt == 8):
				o.codec, o.pt = codec.PCMA, pt
				continue
			}
		}
		if name == "telephone-event/8000" && !o.hasDTMF {
			o.dtmfPT, o.hasDTMF = pt, true
		}
	}
	if o.codec == nil {
		return o, fmt.Errorf("%w: no common codec", errSDP)
	}
	return o, nil
}

// answerSDP builds our answer for the negotiated offer.
func answerSDP(o offer, local netip.AddrPort, sessID, version uint64) []byte {
	ip := "IP4"
	if local.Addr().Is6() {
		ip = "IP6"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=pbx %d %d IN %s %s\r\ns=pbx\r\nc=IN %s %s\r\nt=0 0\r\n",
		sessID, version, ip, local.Addr(), ip, local.Addr())
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %d", local.Port(), o.pt)
	if o.hasDTMF {
		fmt.Fprintf(&b, " %d", o.dtmfPT)
	}
	fmt.Fprintf(&b, "\r\na=rtpmap:%d %s/%d\r\n", o.pt, o.codec.Name(), o.codec.ClockRate())
	if o.hasDTMF {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", o.dtmfPT, o.dtmfPT)
	}
	b.WriteString("a=ptime:20\r\na=sendrecv\r\n")
	return []byte(b.String())
}
