package sdp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Local describes our side of a session for Offer and Answer.
type Local struct {
	// Addr is the address and port the peer sends RTP to: the external
	// RTP address from portmgr. Required: without it the description
	// has no c= line.
	Addr netip.AddrPort
	// RTCP, when valid, is advertised with a=rtcp (RFC 3605); needed
	// when the external RTCP port is not Addr's port + 1.
	RTCP netip.AddrPort
	// RTCPMux offers or accepts RTP and RTCP on one port (RFC 5761).
	RTCPMux bool
	// RTCPMuxICE accepts a=rtcp-mux in an answer to an offer whose
	// stream does ICE with us (RFC 8839 peers such as WebRTC gateways
	// offer it), without offering it: ICE then runs on component 1 only.
	// An answer that accepts rtcp-mux has no a=rtcp and no component-2
	// candidates.
	RTCPMuxICE bool
	// Formats are our codecs in order of preference, plus
	// telephone-event if we do RFC 4733 DTMF. Name and Rate may be left
	// empty for static payload types; Rate defaults to 8000. When empty,
	// PCMU and PCMA are used.
	Formats []Format
	// Direction is what we want: SendRecv normally, SendOnly to hold,
	// Inactive to hold a held call.
	Direction Direction
	// Ptime is the packet time in ms we want to receive; 0 leaves it
	// out.
	Ptime int
	// SessionID and Version go into o=; increment Version for every new
	// offer in a dialog (RFC 3264 §8).
	SessionID, Version uint64
	// User is the o= username; "-" when empty.
	User string
	// SRTP is the media security policy (RFC 4568 SDES keying).
	SRTP Policy
	// Crypto are our sending keys, one per suite we offer, in order of
	// preference (see Suites); required unless SRTP is SRTPOff. Offer
	// numbers them 1..n; Answer uses the one of the chosen line's suite
	// under that line's tag. Their Tag fields are ignored.
	Crypto []Crypto
	// ICE, when not nil, is offered, and answered to an ICE offer
	// (RFC 8839; ice.go).
	ICE *ICE
	// Keying says whether SRTP is keyed by SDES, DTLS-SRTP or either
	// (dtls.go); DTLS needs Fingerprint.
	Keying Keying
	// Fingerprint is our DTLS certificate's (RFC 8122), offered with
	// a=setup:actpass when Keying allows DTLS.
	Fingerprint Fingerprint
	// DTLSRole is our role in a DTLS association already running (a
	// re-offer's answer keeps it); SetupNone when there is none.
	DTLSRole Setup
}

// Negotiated is the outcome of an offer/answer exchange: what the media
// session needs.
type Negotiated struct {
	// Codec is the audio codec, with the payload type the peer uses.
	Codec Format
	// DTMF is telephone-event (RFC 4733); PT 0 and Name "" when not
	// negotiated.
	DTMF Format
	// CN is comfort noise (RFC 3389) at the codec's clock rate; PT 0
	// and Name "" when not negotiated (cn.go).
	CN Format
	// Remote is where to send RTP.
	Remote netip.AddrPort
	// RemoteRTCP is where to send RTCP: Remote with rtcp-mux, else the
	// peer's a=rtcp, else Remote's port + 1 (RFC 3550 §11).
	RemoteRTCP netip.AddrPort
	// Direction is ours: whether we may send and should expect media.
	Direction Direction
	// Ptime is the packet time in ms to send with: the peer's a=ptime
	// (capped at its a=maxptime), else ours, else 20.
	Ptime int
	// RTCPMux is true when both sides have a=rtcp-mux.
	RTCPMux bool
	// Index is the m-line of the negotiated stream.
	Index int
	// SRTP holds the suite and keys when the stream is SRTP; zero for
	// plain RTP.
	SRTP SRTP
	// RemoteICE is the peer's ICE description when both sides do ICE
	// (ice.go); nil otherwise.
	RemoteICE *ICE
	// DTLS holds our role and the peer's fingerprints when the stream is
	// keyed by DTLS-SRTP (RFC 5763); zero otherwise.
	DTLS DTLS
}

const telephoneEvent = "telephone-event"

// normalize fills in a Format's name and rate from the static table and
// the defaults.
func normalize(f Format) Format {
	if f.Name == "" {
		if st, ok := static[f.PT]; ok {
			f.Name, f.Rate, f.Channels = st.Name, st.Rate, st.Channels
		}
	}
	if f.Rate == 0 {
		f.Rate = 8000
	}
	if f.Channels == 0 {
		f.Channels = 1
	}
	return f
}

func localFormats(l Local) []Format {
	fs := l.Formats
	if len(fs) == 0 {
		fs = []Format{{PT: 0}, {PT: 8}}
	}
	out := make([]Format, 0, len(fs))
	for _, f := range fs {
		f = normalize(f)
		if strings.EqualFold(f.Name, telephoneEvent) && f.Fmtp == "" {
			f.Fmtp = "0-16" // RFC 4733 §7.1.1: the DTMF events
		}
		out = append(out, f)
	}
	return out
}

// sameCodec reports whether two formats are the same encoding (RFC 4855
// §3: names are case-insensitive).
func sameCodec(a, b Format) bool {
	return strings.EqualFold(a.Name, b.Name) && a.Rate == b.Rate && a.Channels == b.Channels
}

func isDTMF(f Format) bool { return strings.EqualFold(f.Name, telephoneEvent) }

func origin(l Local, a netip.Addr) Origin {
	if !a.IsValid() {
		a = netip.IPv4Unspecified() // Local.Addr missing: still a well-formed o= line
	}
	return Origin{
		Username:       or(l.User, "-"),
		SessionID:      strconv.FormatUint(l.SessionID, 10),
		SessionVersion: strconv.FormatUint(l.Version, 10),
		NetType:        "IN",
		AddrType:       addrType(a),
		Address:        a.String(),
	}
}

func (l Local) media(formats []Format, dir Direction, mux bool) Media {
	m := Media{
		Type:      "audio",
		Port:      int(l.Addr.Port()),
		Proto:     "RTP/AVP",
		Formats:   formats,
		Direction: dir,
		Ptime:     l.Ptime,
		RTCPMux:   mux,
	}
	if l.RTCP.IsValid() && l.RTCP.Port() != 0 {
		m.RTCP = l.RTCP
	}
	return m
}

// Offer builds an SDP offer (RFC 3264 §5) with one audio stream. With
// SRTPOptional it is RTP/AVP with our a=crypto lines (best-effort SRTP,
// which an answerer without SRTP answers plain); with SRTPRequired it is
// RTP/SAVP (RFC 3711 §12, RFC 4568 §3.1).
func Offer(l Local) *Session {
	a := l.Addr.Addr()
	m := l.media(localFormats(l), l.Direction, l.RTCPMux)
	if l.SRTP != SRTPOff {
		if l.SRTP == SRTPRequired {
			m.Proto = "RTP/SAVP"
			if l.Keying == KeyingDTLS && l.offersDTLS() {
				m.Proto = "UDP/TLS/RTP/SAVP" // RFC 5764 §8
			}
		}
		if l.Keying.sdes() {
			for i, c := range l.Crypto {
				c.Tag = uint32(i + 1)
				m.Attrs = append(m.Attrs, c.Attr())
			}
		}
		if l.offersDTLS() {
			m.Attrs = append(m.Attrs, l.dtlsLines(SetupActPass)...)
		}
	}
	if l.ICE != nil {
		m.Attrs = append(m.Attrs, l.ICE.Attrs()...)
	}
	return &Session{
		Origin: origin(l, a),
		Name:   "-",
		Conn:   a,
		Media:  []Media{m},
		Attrs:  l.ICE.sessionAttrs(), // ice.go: a=ice-lite
	}
}

// answerCrypto chooses the keying of an offered stream under our policy:
// the first offered a=crypto line of a suite we have a key for (RFC 4568
// §7.1.1, the offerer's preference), or plain RTP where the policy
// allows it. A refused stream gets an error wrapping ErrInsecure.
func (l Local) answerCrypto(om *Media) (SRTP, error) {
	savp := isSAVP(om.Proto)
	if l.SRTP == SRTPOff {
		if savp {
			return SRTP{}, fmt.Errorf("%s offered with srtp off: %w", om.Proto, ErrInsecure)
		}
		return SRTP{}, nil
	}
	offered, errs := om.Cryptos()
	for _, c := range offered {
		for _, ours := range l.Crypto {
			if ours.Suite == c.Suite {
				ours.Tag = c.Tag
				ours.Lifetime, ours.MKI, ours.Params = 0, nil, nil
				return SRTP{Suite: c.Suite, Local: ours, Remote: c}, nil
			}
		}
	}
	switch {
	case len(offered) > 0 || len(errs) > 0:
		why := "no a=crypto line with a suite we have"
		if len(errs) > 0 {
			why = errs[0].Error()
		}
		if !savp && l.SRTP == SRTPOptional {
			return SRTP{}, nil // best effort: answer plain, without crypto
		}
		return SRTP{}, fmt.Errorf("%s: %w", why, ErrInsecure)
	case savp:
		return SRTP{}, fmt.Errorf("%s offered without a=crypto: %w", om.Proto, ErrInsecure)
	case l.SRTP == SRTPRequired:
		return SRTP{}, fmt.Errorf("plain RTP offered and srtp is required: %w", ErrInsecure)
	}
	return SRTP{}, nil
}

// streamConn returns the connection address of media i: media-level c=,
// else session-level.
func streamConn(s *Session, m *Media) (netip.Addr, bool) {
	if m.Conn.IsValid() {
		return m.Conn, true
	}
	if m.ConnHost != "" {
		return netip.Addr{}, false
	}
	return s.Conn, s.Conn.IsValid()
}

// peerDirection is the direction the peer's stream declares, with the
// RFC 2543 hold form c=0.0.0.0 read as "do not send to me" (RFC 3264
// §8.4).
func peerDirection(m *Media, conn netip.Addr) Direction {
	d := m.Direction
	if conn.IsUnspecified() {
		d = makeDirection(d.Sends(), false)
	}
	return d
}

// remotes returns the RTP and RTCP addresses of a peer's stream.
func remotes(m *Media, conn netip.Addr, mux bool) (netip.AddrPort, netip.AddrPort) {
	rtp := netip.AddrPortFrom(conn, uint16(m.Port))
	switch {
	case mux:
		return rtp, rtp
	case m.RTCP.Port() != 0:
		a := m.RTCP.Addr()
		if !a.IsValid() {
			a = conn
		}
		return rtp, netip.AddrPortFrom(a, m.RTCP.Port())
	}
	return rtp, netip.AddrPortFrom(conn, uint16(m.Port+1))
}

// sendPtime picks the packet time to send with.
func sendPtime(peer *Media, ours int) int {
	p := peer.Ptime
	if p == 0 {
		p = ours
	}
	if p == 0 {
		p = 20
	}
	if peer.MaxPtime > 0 && p > peer.MaxPtime {
		p = peer.MaxPtime
	}
	return p
}

// acceptable reports whether we can take part in an offered stream.
func acceptable(m *Media) bool {
	if m.Port == 0 || !strings.EqualFold(m.Type, "audio") {
		return false
	}
	switch strings.ToUpper(m.Proto) {
	case "RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF":
		return true
	}
	return false
}

// rejected returns the answer to a stream we refuse: the same m-line
// with port 0 (RFC 3264 §6).
func rejected(m *Media) Media {
	r := Media{Type: m.Type, Proto: m.Proto, Fmts: m.Fmts, Direction: Inactive}
	if isRTP(m.Proto) {
		for _, f := range m.Formats {
			r.Formats = append(r.Formats, Format{PT: f.PT, Name: f.Name, Rate: f.Rate, Channels: f.Channels})
		}
	}
	if len(r.Formats) == 0 && len(r.Fmts) == 0 {
		if isRTP(m.Proto) {
			r.Formats = []Format{{PT: 0, Name: "PCMU", Rate: 8000, Channels: 1}}
		} else {
			r.Fmts = []string{"*"}
		}
	}
	return r
}

// Answer answers an offer (RFC 3264 §6). It takes the first audio stream
// that shares a codec with us; the codec is the first of the offerer's
// formats, in the offer's order, that we have, with the offerer's
// payload type. telephone-event is added, with the offerer's payload
// type, when both sides have it at the codec's clock rate. Our direction
// is l.Direction intersected with the reverse of the offer's (§6.1): we
// send only if the offerer receives, receive only if it sends. rtcp-mux
// is accepted only if both sides have it (RFC 5761 §5.1.1). Every other
// m-line is answered with port 0, so the answer has the offer's m-lines
// in the offer's order. With no usable stream it returns ErrNoCommonCodec.
func Answer(offer *Session, l Local) (*Session, Negotiated, error) {
	if offer == nil {
		return nil, Negotiated{}, fmt.Errorf("answer: no offer: %w", ErrNoCommonCodec)
	}
	ours := localFormats(l)
	var ourDTMF *Format
	for i := range ours {
		if isDTMF(ours[i]) {
			ourDTMF = &ours[i]
			break
		}
	}
	a := l.Addr.Addr()
	ans := &Session{Origin: origin(l, a), Name: "-", Conn: a}
	var neg Negotiated
	chosen := -1
	var addrErr, secErr error
	for i := range offer.Media {
		om := &offer.Media[i]
		if chosen >= 0 || !l.takes(om) {
			ans.Media = append(ans.Media, rejected(om))
			continue
		}
		sec, dt, err := l.answerKeying(offer, om)
		if err != nil {
			secErr = fmt.Errorf("answer: m-line %d: %w", i+1, err)
			ans.Media = append(ans.Media, rejected(om))
			continue
		}
		codec, ourCodec, ok := pickCodec(om.Formats, ours)
		if !ok {
			ans.Media = append(ans.Media, rejected(om))
			continue
		}
		conn, ok := streamConn(offer, om)
		if !ok {
			addrErr = fmt.Errorf("answer: m-line %d: %w", i+1, ErrNoAddress)
			ans.Media = append(ans.Media, rejected(om))
			continue
		}
		// Answer with the offerer's payload type and our parameters.
		af := codec
		if ourCodec.Fmtp != "" {
			af.Fmtp = ourCodec.Fmtp
		}
		formats := []Format{af}
		var dtmf Format
		if ourDTMF != nil {
			for _, f := range om.Formats {
				if isDTMF(f) && f.Rate == codec.Rate {
					dtmf = f
					ad := f
					ad.Fmtp = ourDTMF.Fmtp
					formats = append(formats, ad)
					break
				}
			}
		}
		cn, haveCN := matchCN(om.Formats, ours, codec.Rate)
		if haveCN {
			formats = append(formats, cn)
		}
		mux := om.RTCPMux && (l.RTCPMux || l.RTCPMuxICE && doesICE(offer, om, l.ICE))
		lm := l
		if mux {
			// RFC 5761 §5.1.3: RTCP on the RTP port; RFC 8839 §4.2: no
			// candidates for component 2.
			lm.RTCP, lm.ICE = netip.AddrPort{}, l.ICE.component1()
		}
		dir := intersect(l.Direction, peerDirection(om, conn).Reverse())
		am := lm.media(formats, dir, mux)
		am.Proto = om.Proto
		if sec.Enabled() {
			am.Attrs = append(am.Attrs, sec.Local.Attr())
		}
		rice := answerICE(offer, om, lm.ICE, ans, &am)
		if dt.Enabled() {
			am.Attrs = append(am.Attrs, l.dtlsLines(dt.Role)...)
		}
		ans.Media = append(ans.Media, am)
		rtp, rtcp := remotes(om, conn, mux)
		neg = Negotiated{
			Codec: codec, DTMF: dtmf, CN: cn, Remote: rtp, RemoteRTCP: rtcp,
			Direction: dir, Ptime: sendPtime(om, l.Ptime), RTCPMux: mux, Index: i,
			SRTP: sec, RemoteICE: rice, DTLS: dt,
		}
		chosen = i
	}
	if chosen < 0 {
		if addrErr != nil {
			return ans, Negotiated{}, addrErr
		}
		if secErr != nil {
			return ans, Negotiated{}, secErr
		}
		return ans, Negotiated{}, fmt.Errorf("answer: %w", ErrNoCommonCodec)
	}
	return ans, neg, nil
}

// pickCodec returns the first of theirs (in their order, DTMF and
// unnamed formats skipped) that is among ours, and our matching entry.
func pickCodec(theirs, ours []Format) (Format, Format, bool) {
	for _, t := range theirs {
		if t.Name == "" || isExtra(t) {
			continue
		}
		for _, o := range ours {
			if !isExtra(o) && sameCodec(t, o) {
				return t, o, true
			}
		}
	}
	return Format{}, Format{}, false
}

// acceptCrypto reads the keying of an answered stream: the answer's
// a=crypto must name a tag and suite we offered (RFC 4568 §7.1.2). A
// plain answer is accepted only to a best-effort (RTP/AVP) offer.
func acceptCrypto(om, am *Media) (SRTP, error) {
	offered, _ := om.Cryptos()
	if len(offered) == 0 {
		return SRTP{}, nil // we did not offer SRTP: crypto in the answer is ignored
	}
	got, errs := am.Cryptos()
	switch {
	case len(got) == 1:
		c := got[0]
		for _, o := range offered {
			if o.Tag == c.Tag && o.Suite == c.Suite {
				return SRTP{Suite: c.Suite, Local: o, Remote: c}, nil
			}
		}
		return SRTP{}, fmt.Errorf("answer a=crypto tag %d %s was not offered: %w", c.Tag, c.Suite, ErrInsecure)
	case len(got) > 1:
		return SRTP{}, fmt.Errorf("answer has %d a=crypto lines: %w", len(got), ErrInsecure)
	case len(errs) > 0:
		return SRTP{}, fmt.Errorf("answer: %w", errs[0])
	case isSAVP(om.Proto) || isSAVP(am.Proto):
		return SRTP{}, fmt.Errorf("plain answer to an %s offer: %w", om.Proto, ErrInsecure)
	}
	return SRTP{}, nil
}

// Accept reads the answer to our offer (RFC 3264 §7), as the UAC. The
// answer must have the offer's number of m-lines. The stream is the
// first audio m-line the answerer accepted (port not 0); the codec is
// the first format of the answer that we offered, and telephone-event is
// used if the answer has it and we offered it. Our direction is our
// offered direction intersected with the reverse of the answer's.
func Accept(offer, answer *Session) (Negotiated, error) {
	if offer == nil || answer == nil {
		return Negotiated{}, fmt.Errorf("accept: missing description: %w", ErrMismatch)
	}
	if len(answer.Media) != len(offer.Media) {
		return Negotiated{}, fmt.Errorf("accept: %d m-lines answer %d offered: %w",
			len(answer.Media), len(offer.Media), ErrMismatch)
	}
	var addrErr error
	for i := range answer.Media {
		am, om := &answer.Media[i], &offer.Media[i]
		if !strings.EqualFold(am.Type, om.Type) {
			return Negotiated{}, fmt.Errorf("accept: m-line %d is %q, offered %q: %w", i+1, am.Type, om.Type, ErrMismatch)
		}
		if !acceptable(am) || !acceptable(om) {
			continue
		}
		offered := make([]Format, len(om.Formats))
		for j, f := range om.Formats {
			offered[j] = normalize(f)
		}
		codec, _, ok := pickCodec(am.Formats, offered)
		if !ok {
			continue
		}
		conn, ok := streamConn(answer, am)
		if !ok {
			addrErr = fmt.Errorf("accept: m-line %d: %w", i+1, ErrNoAddress)
			continue
		}
		sec, dt, err := acceptKeying(answer, om, am)
		if err != nil {
			return Negotiated{}, fmt.Errorf("accept: m-line %d: %w", i+1, err)
		}
		var dtmf Format
		for _, f := range am.Formats {
			if isDTMF(f) && f.Rate == codec.Rate {
				for _, o := range offered {
					if isDTMF(o) && o.Rate == f.Rate {
						dtmf = f
					}
				}
				break
			}
		}
		cn, _ := matchCN(am.Formats, offered, codec.Rate)
		mux := om.RTCPMux && am.RTCPMux
		rtp, rtcp := remotes(am, conn, mux)
		return Negotiated{
			Codec:      codec,
			DTMF:       dtmf,
			CN:         cn,
			Remote:     rtp,
			RemoteRTCP: rtcp,
			Direction:  intersect(om.Direction, peerDirection(am, conn).Reverse()),
			Ptime:      sendPtime(am, om.Ptime),
			RTCPMux:    mux,
			Index:      i,
			SRTP:       sec,
			RemoteICE:  acceptICE(offer, om, answer, am),
			DTLS:       dt,
		}, nil
	}
	if addrErr != nil {
		return Negotiated{}, addrErr
	}
	return Negotiated{}, fmt.Errorf("accept: %w", ErrNoCommonCodec)
}
