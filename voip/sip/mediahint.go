package sip

import (
	"net/netip"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sdp"
	siplib "github.com/emiago/sipgo/sip"
)

// Far ends that do no NAT work, and two phones behind one NAT.
//
// Many ATAs and cheap phones behind a NAT put their private address in
// the SDP (c=IN IP4 192.168.x.y) and rely on a media relay the PBX may
// not have. The signalling often shows their public address anyway: a
// registrar such as Kamailio rewrites the Contact (fix_nated_contact),
// and the first proxy adds received= to the far end's Via (RFC 3261
// §18.2.1, the bottom Via of a request from it). When the SDP address
// is private and signalling shows a public one that is not our own NAT's,
// media goes to that public address at the SDP's ports (port-preserving
// NATs, Linux masquerading among them, keep the port): our early UDP and
// RTP open our NAT towards it, the far end's RTP to our public address
// then passes our filter, the session latches onto whatever source it
// comes from, and the address is permitted on our relay. Where the far
// end's NAT changes the port and our NAT filters by port, the liveness
// rule moves the call to the relay (the far end's RTP reaches the relay
// from any port; the permission is per IP).
//
// When the public address signalling shows is our own (the far end is
// behind the same NAT), the private SDP address is on our LAN: it is
// kept, so two phones behind one NAT talk directly whether or not the
// NAT hairpins. And when signalling shows our own public address while
// the SDP holds the far end's public one (a far end that did NAT work
// behind our NAT), the media goes to the SDP's private... the far end
// did not say it; hairpinning is then needed, and the liveness rule
// relays when the NAT does not hairpin.

// mediaHint is what the far end's signalling shows about its public
// address. Guarded by Call.mu.
type mediaHint struct {
	hintFrom string     // where the hint came from ("contact", "via received"), empty without one
	hintIP   netip.Addr // the public IP media was sent to instead of the SDP's
}

// privateIP says whether ip is a private (RFC 1918, RFC 4193), shared
// (RFC 6598 CGNAT) or link-local address: one that is not reachable
// from the internet.
func privateIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsPrivate() || ip.IsLinkLocalUnicast() || cgnat.Contains(ip)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// ownPublicIPs are the public addresses signalling and the port manager
// know for us: the SIP mapping's external address and what the
// registrar saw (Via received).
func (u *UA) ownPublicIPs() []netip.Addr {
	var out []netip.Addr
	if a := u.external().Addr(); a.IsValid() {
		out = append(out, a.Unmap())
	}
	if r := u.Registration().Received.Addr(); r.IsValid() {
		out = append(out, r.Unmap())
	}
	return out
}

// signalledPublicLocked is the far end's public IP as signalling shows
// it: its Contact (the remote target, as a registrar may have rewritten
// it) when that is a public IP, else received= of the bottom Via of the
// last request it sent us.
func (c *Call) signalledPublicLocked() (netip.Addr, string) {
	// The remote target is the far end's Contact only once it sent one:
	// before, an outgoing call's target is still our Request-URI (the
	// PBX's address, often), which says nothing about the far end.
	fromFarEnd := c.dir == Incoming || c.invite == nil || c.d.target.Host != c.invite.Recipient.Host
	if ip, err := netip.ParseAddr(c.d.target.Host); err == nil && fromFarEnd && ip.IsGlobalUnicast() && !privateIP(ip) {
		return ip.Unmap(), "contact"
	}
	if c.inviteReq != nil {
		if ip := bottomViaReceived(c.inviteReq); ip.IsValid() {
			return ip, "via received"
		}
	}
	return netip.Addr{}, ""
}

// bottomViaReceived is the received= of a request's bottom Via (the
// originator's, as the first proxy saw it), when it is a public IP.
func bottomViaReceived(req *siplib.Request) netip.Addr {
	hs := req.GetHeaders("Via")
	for i := len(hs) - 1; i >= 0; i-- {
		v, ok := hs[i].(*siplib.ViaHeader)
		if !ok {
			continue
		}
		r, ok := v.Params.Get("received")
		if !ok {
			return netip.Addr{}
		}
		ip, err := netip.ParseAddr(r)
		if err != nil || !ip.IsGlobalUnicast() || privateIP(ip) {
			return netip.Addr{}
		}
		return ip.Unmap()
	}
	return netip.Addr{}
}

// hintLocked rewrites the far end's media addresses of neg when its SDP
// address is private and signalling shows its public IP (see above);
// own are our public IPs (ownPublicIPs, read before c.mu).
func (c *Call) hintLocked(neg sdp.Negotiated, own []netip.Addr) sdp.Negotiated {
	ra := neg.Remote.Addr().Unmap()
	if !ra.IsValid() || !privateIP(ra) || c.ua.cfg.NoMediaHint {
		c.hintFrom, c.hintIP = "", netip.Addr{}
		return neg
	}
	pub, from := c.signalledPublicLocked()
	if !pub.IsValid() {
		return neg
	}
	for _, o := range own {
		if o == pub {
			// Behind our own NAT: the private address is on our LAN.
			if c.hintFrom != "same-nat" {
				c.log.Info("far end behind our NAT: media to its private address", "sdp", neg.Remote, "public", pub)
			}
			c.hintFrom, c.hintIP = "same-nat", netip.Addr{}
			return neg
		}
	}
	if c.hintIP != pub {
		c.log.Info("far end advertises a private media address: sending to the public address signalling shows",
			"sdp", neg.Remote, "public", pub, "from", from)
	}
	c.hintFrom, c.hintIP = from, pub
	neg.Remote = netip.AddrPortFrom(pub, neg.Remote.Port())
	if neg.RemoteRTCP.IsValid() {
		neg.RemoteRTCP = netip.AddrPortFrom(pub, neg.RemoteRTCP.Port())
	}
	return neg
}

// offerAddr is the connection address of an SDP's first audio stream.
func offerAddr(s *sdp.Session) netip.Addr {
	if s == nil {
		return netip.Addr{}
	}
	for _, m := range s.Media {
		if m.Type != "audio" {
			continue
		}
		if m.Conn.IsValid() {
			return m.Conn.Unmap()
		}
		break
	}
	return s.Conn.Unmap()
}

// sameNATLocked says whether the far end is behind our own NAT and
// advertises a private address: then our description carries our LAN
// address (the mapping's local one) instead of the NAT's public one, so
// its media comes straight over the LAN even from a far end that does
// not latch and a NAT that does not hairpin. Known once its SDP arrived:
// an offer we answer (remoteOffer) or an answer already applied (hint).
func (c *Call) sameNATLocked(a portmgr.Addrs) bool {
	if c.ua.cfg.NoMediaHint || a.Via == portmgr.StrategyTURN || !a.Local.IsValid() || !a.External.IsValid() || a.Local.Addr() == a.External.Addr() {
		return false
	}
	if c.hintFrom == "same-nat" {
		return true
	}
	ra := offerAddr(c.remoteOffer)
	if !ra.IsValid() || !privateIP(ra) {
		return false
	}
	pub, _ := c.signalledPublicLocked()
	return pub.IsValid() && pub == a.External.Addr().Unmap()
}

// MediaHint reports the public address media was sent to in place of
// the far end's private SDP address and where signalling showed it
// ("contact" or "via received"), or "same-nat" when the far end is
// behind our NAT and its private address is used; empty otherwise.
func (c *Call) MediaHint() (from string, ip netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hintFrom, c.hintIP
}
