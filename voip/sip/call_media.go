package sip

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/codec"
	"github.com/deskphone/phone/voip/media"
	msrtp "github.com/deskphone/phone/voip/media/srtp"
	"github.com/deskphone/phone/voip/sdp"
	siplib "github.com/emiago/sipgo/sip"
)

// mediaState is the offer/answer state (RFC 3264) and the media session
// it drives. Guarded by Call.mu.
type mediaState struct {
	mapping     *portmgr.Mapping
	localSDP    *sdp.Session // our last description (offer or answer)
	remoteOffer *sdp.Session // an offer we still have to answer
	sdpVersion  uint64
	sessionID   uint64
	neg         sdp.Negotiated
	haveNeg     bool
	media       *media.Session
	localHold   bool
	remoteHold  bool
	reinviteOut bool // our re-INVITE is in progress
	reinviteIn  bool // theirs is in progress (waiting for ACK)
	lateOffer   bool
	sec         callSec // SRTP (call_srtp.go)
	relayState          // media path, liveness rule (call_relay.go)
	mediaHint           // far ends with a private SDP address (mediahint.go)
	iceState            // ICE (call_ice.go)
}

// formats are our codecs in preference order, then telephone-event
// (RFC 4733 §7.1.1: events 0-16 are the DTMF digits and flash).
func (u *UA) formats() []sdp.Format {
	var out []sdp.Format
	for _, name := range u.cfg.Codecs {
		cod, ok := codec.ByName(name)
		if !ok {
			continue
		}
		out = append(out, codecFormat(cod, out, u.cfg.DTMFPayloadType)) // opus.go
	}
	if !u.cfg.DTMFInfo {
		out = append(out, sdp.Format{PT: u.cfg.DTMFPayloadType, Name: "telephone-event", Rate: 8000, Channels: 1, Fmtp: "0-16"})
		out = append(out, extraDTMF(out, u.cfg.DTMFPayloadType)...) // opus.go
	}
	return append(out, cnFormat) // call_cn.go
}

// wantDirLocked is the direction we want: sendonly while we hold
// (RFC 3264 §8.4), sendrecv otherwise.
func (c *Call) wantDirLocked() sdp.Direction {
	if c.localHold {
		return sdp.SendOnly
	}
	return sdp.SendRecv
}

// localLocked describes our media: addresses from the media mapping's
// External (never the interface), read in one snapshot so RTP and RTCP
// come from the same learn, and a new version for every description.
func (c *Call) localLocked(dir sdp.Direction) sdp.Local {
	c.sdpVersion++
	a := c.relayedLocked(c.mapping.Addrs()) // call_ice.go: a relayed ICE pair's move under way
	if d, ok := c.iceDefaultLocked(a); ok { // call_ice.go: the updated offer's default
		a = d
	} else if c.sameNATLocked(a) { // mediahint.go
		a.External = a.Local
		if a.ExternalRTCP.IsValid() {
			a.ExternalRTCP = netip.AddrPortFrom(a.Local.Addr(), a.Local.Port()+1)
		}
	}
	mux := c.rtcpMuxLocked() // call_ice.go
	if c.haveNeg && c.neg.RTCPMux {
		a.ExternalRTCP = netip.AddrPort{} // RTCP on the RTP port: no a=rtcp, no ICE component 2
	}
	formats := c.ua.formats()
	if c.haveNeg && c.media != nil {
		// Later offers and answers keep the running codec (sdp.KeepCodec).
		formats = sdp.KeepCodec(formats, c.neg.Codec)
	}
	return sdp.Local{
		Addr:      a.External,
		RTCP:      a.ExternalRTCP,
		Formats:   formats,
		Direction: dir,
		Ptime:     int(c.ua.cfg.Ptime / time.Millisecond),
		SessionID: c.sessionID,
		Version:   c.sdpVersion,
		User:      "-",
		SRTP:      c.policyLocked(),
		Crypto:    c.cryptoLocked(),
		ICE:       c.iceLocalLocked(a), // call_ice.go
		// DTLS-SRTP (call_dtls.go)
		Keying: c.keyingLocked(), Fingerprint: c.dtlsFingerprintLocked(), DTLSRole: c.dtlsRoleLocked(),
		// rtcp-mux (call_ice.go)
		RTCPMux: mux, RTCPMuxICE: c.ua.cfg.ICE,
	}
}

func mediaDir(d sdp.Direction) media.Direction {
	switch d {
	case sdp.SendOnly:
		return media.SendOnly
	case sdp.RecvOnly:
		return media.RecvOnly
	case sdp.Inactive:
		return media.Inactive
	}
	return media.SendRecv
}

// applyNeg puts a negotiated description into effect: it creates the
// media session on the mapping's sockets the first time, and afterwards
// follows changes of remote address and direction (re-INVITE).
func (c *Call) applyNeg(neg sdp.Negotiated) error {
	c.mediaMu.Lock()
	defer c.mediaMu.Unlock()
	own := c.ua.ownPublicIPs()
	c.mu.Lock()
	if c.state == StateEnded {
		c.mu.Unlock()
		return nil
	}
	if err := c.checkSecLocked(neg); err != nil {
		c.mu.Unlock()
		return err
	}
	prev, had := c.neg, c.haveNeg
	if !neg.Remote.Addr().IsValid() || neg.Remote.Addr().IsUnspecified() {
		// c=0.0.0.0 (RFC 2543 hold): keep sending nowhere new.
		if had {
			neg.Remote, neg.RemoteRTCP = prev.Remote, prev.RemoteRTCP
		}
	}
	neg = c.hintLocked(neg, own) // mediahint.go
	c.neg, c.haveNeg = neg, true
	if c.localHold {
		c.remoteHold = neg.Direction == sdp.Inactive
	} else {
		c.remoteHold = neg.Direction == sdp.RecvOnly || neg.Direction == sdp.Inactive
	}
	m, mp, mute := c.media, c.mapping, c.localHold
	if m != nil {
		if err := c.applySecLocked(neg, nil); err != nil {
			c.mu.Unlock()
			return err
		}
	}
	c.mu.Unlock()

	if m == nil {
		cod, ok := codec.ByName(neg.Codec.Name)
		if !ok {
			return fmt.Errorf("sip: negotiated codec %q is not available", neg.Codec.Name)
		}
		c.setRemoteFmtp(cod, neg) // opus.go
		cfg := media.Config{
			Conn:            mp.Conn,
			RTCPConn:        mp.RTCPConn,
			Remote:          neg.Remote,
			RemoteRTCP:      neg.RemoteRTCP,
			Codec:           cod,
			PayloadType:     neg.Codec.PT,
			DTMFPayloadType: neg.DTMF.PT,
			CNPayloadType:   neg.CN.PT,
			VAD:             c.ua.cfg.VAD,
			Ptime:           time.Duration(neg.Ptime) * time.Millisecond,
			Logger:          c.log,
			DeviceRate:      c.ua.cfg.AudioRate,
		}
		if neg.RTCPMux {
			cfg.RTCPConn = nil
		}
		var prot *msrtp.Session
		if neg.SRTP.Enabled() {
			p, err := msrtp.New(neg.SRTP)
			if err != nil {
				return fmt.Errorf("sip: start srtp: %w", err)
			}
			prot, cfg.Protector = p, p
		}
		dt, err := c.startDTLS(neg, &cfg) // call_dtls.go
		if err != nil {
			return err
		}
		s, err := media.New(cfg)
		if err != nil {
			if dt != nil {
				dt.Close()
			}
			return fmt.Errorf("sip: start media: %w", err)
		}
		c.mu.Lock()
		if c.state == StateEnded {
			c.mu.Unlock()
			s.Close()
			if dt != nil {
				dt.Close()
			}
			return nil
		}
		c.sec.dtls, c.sec.dtlsNeg = dt, neg.DTLS
		if err := c.applySecLocked(neg, prot); err != nil {
			c.mu.Unlock()
			s.Close()
			return err
		}
		c.media = s
		c.mu.Unlock()
		m = s
		c.ua.goFn(func() { c.forwardDTMF(s) })
		c.ua.goFn(func() { c.watchLiveness(s) })
	} else if had && (neg.Remote != prev.Remote || neg.RemoteRTCP != prev.RemoteRTCP) {
		m.SetRemote(neg.Remote, neg.RemoteRTCP)
	}
	if !had || neg.Remote != prev.Remote {
		if err := c.ua.cfg.Mapper.UpdateRemote(mp, neg.Remote); err != nil {
			c.log.Debug("update remote", "err", err)
		}
	}
	m.SetDirection(runDir(mediaDir(neg.Direction), mute)) // call_hold.go
	m.SetMute(mute)
	c.startICE(neg, mp, m) // call_ice.go
	return nil
}

// forwardDTMF turns RFC 4733 digits from the media session into events.
func (c *Call) forwardDTMF(s *media.Session) {
	ch := s.DTMF()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return
			}
			c.ua.emit(&DTMFEvent{Call: c, Digit: ev.Digit, Duration: ev.Duration, Source: "rfc4733"})
		case <-c.done:
			return
		}
	}
}

// netipFromSDP is the RTP address of the first media of an offer.
func netipFromSDP(s *sdp.Session) (ap netip.AddrPort) {
	m := s.Media[0]
	ip := m.Conn
	if !ip.IsValid() {
		ip = s.Conn
	}
	if !ip.IsValid() || m.Port <= 0 || m.Port > 65535 {
		return ap
	}
	return netip.AddrPortFrom(ip, uint16(m.Port))
}

func withSDP(m interface {
	SetBody([]byte)
	AppendHeader(siplib.Header)
}, s *sdp.Session) {
	if s == nil {
		return
	}
	m.AppendHeader(siplib.NewHeader("Content-Type", "application/sdp"))
	m.SetBody(s.Marshal())
}

func isSDP(m interface {
	Body() []byte
	ContentType() *siplib.ContentTypeHeader
}) bool {
	if len(m.Body()) == 0 {
		return false
	}
	ct := m.ContentType()
	if ct == nil {
		return false
	}
	v := strings.ToLower(strings.TrimSpace(ct.Value()))
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v == "application/sdp"
}
