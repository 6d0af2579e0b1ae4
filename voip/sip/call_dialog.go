package sip

import (
	"net/netip"
	"strings"

	siplib "github.com/emiago/sipgo/sip"
)

// dialog is the state RFC 3261 §12 keeps per dialog.
type dialog struct {
	callID              string
	localTag, remoteTag string
	local, remote       siplib.Uri // From/To URIs as we send them
	localName           string     // display names in wire form: the content
	remoteName          string     // of a quoted-string, escapes kept
	localSeq            uint32
	remoteSeq           uint32
	haveRemoteSeq       bool
	target              siplib.Uri   // remote target (the far end's Contact)
	routes              []siplib.Uri // route set, in the order requests carry it
}

// isLoose reports whether a route URI has the lr parameter (RFC 3261
// §16.12.1.1). We support only loose routing; a strict route is used as
// the next hop with the remote target kept as Request-URI.
func isLoose(u siplib.Uri) bool {
	if u.UriParams == nil {
		return false
	}
	_, ok := u.UriParams.Get("lr")
	return ok
}

// routeSetFrom reads Record-Route values from a message, in order.
func routeSetFrom(m interface {
	GetHeaders(string) []siplib.Header
}) []siplib.Uri {
	var out []siplib.Uri
	for _, h := range m.GetHeaders("Record-Route") {
		if rr, ok := h.(*siplib.RecordRouteHeader); ok {
			out = append(out, *rr.Address.Clone())
			continue
		}
		// Unparsed (comma list) values.
		for _, v := range strings.Split(h.Value(), ",") {
			v = strings.TrimSpace(v)
			v = strings.TrimPrefix(v, "<")
			if i := strings.Index(v, ">"); i >= 0 {
				v = v[:i]
			}
			var u siplib.Uri
			if siplib.ParseUri(v, &u) == nil {
				out = append(out, u)
			}
		}
	}
	return out
}

func reversed(in []siplib.Uri) []siplib.Uri {
	out := make([]siplib.Uri, len(in))
	for i, u := range in {
		out[len(in)-1-i] = u
	}
	return out
}

// contactOf returns the first Contact URI of a message.
func contactOf(m interface{ Contact() *siplib.ContactHeader }) (siplib.Uri, bool) {
	c := m.Contact()
	if c == nil || c.Address.Host == "" {
		return siplib.Uri{}, false
	}
	return *c.Address.Clone(), true
}

func tagOf(p siplib.HeaderParams) string {
	if p == nil {
		return ""
	}
	t, _ := p.Get("tag")
	return t
}

// matches reports whether an in-dialog request from the far end belongs
// to this dialog: our tag in To and, once known, theirs in From.
func (c *Call) matches(req *siplib.Request) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.To() == nil || req.From() == nil {
		return false
	}
	if tagOf(req.To().Params) != c.d.localTag {
		return false
	}
	if rt := c.d.remoteTag; rt != "" && tagOf(req.From().Params) != rt {
		return false
	}
	return true
}

// newRequestLocked builds a request inside the dialog (RFC 3261 §12.2.1.1).
// ACK and CANCEL take the CSeq number they are given; others increment ours.
func (c *Call) newRequestLocked(method siplib.RequestMethod, cseq uint32) *siplib.Request {
	u := c.ua
	d := &c.d
	ruri := *d.target.Clone()
	routes := d.routes
	if len(routes) > 0 && !isLoose(routes[0]) {
		// Strict router: it becomes the Request-URI's next hop (§12.2.1.1).
		ruri = *routes[0].Clone()
		routes = append(append([]siplib.Uri(nil), routes[1:]...), *d.target.Clone())
	}
	req := siplib.NewRequest(method, ruri)
	req.AppendHeader(u.newVia())
	mf := siplib.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &siplib.FromHeader{DisplayName: d.localName, Address: *d.local.Clone(), Params: siplib.NewParams()}
	from.Params.Add("tag", d.localTag)
	req.AppendHeader(from)
	to := &siplib.ToHeader{DisplayName: d.remoteName, Address: *d.remote.Clone(), Params: siplib.NewParams()}
	if d.remoteTag != "" {
		to.Params.Add("tag", d.remoteTag)
	}
	req.AppendHeader(to)
	cid := siplib.CallIDHeader(d.callID)
	req.AppendHeader(&cid)
	if cseq == 0 {
		d.localSeq++
		cseq = d.localSeq
	}
	req.AppendHeader(&siplib.CSeqHeader{SeqNo: cseq, MethodName: method})
	for _, r := range routes {
		req.AppendHeader(&siplib.RouteHeader{Address: *r.Clone()})
	}
	if len(routes) == 0 && u.cfg.Account.OutboundProxy != "" {
		u.mu.Lock()
		srv := u.server
		u.mu.Unlock()
		if srv.IsValid() {
			req.SetDestination(hostPort(srv))
		}
	}
	req.AppendHeader(siplib.NewHeader("User-Agent", u.cfg.UserAgent))
	return req
}

// newResponse builds a response to req inside this dialog, with our tag
// and Contact.
func (c *Call) newResponse(req *siplib.Request, code int, reason string) *siplib.Response {
	res := c.ua.newResponse(req, code, reason)
	if code > 100 {
		if to := res.To(); to != nil {
			to.Params.Add("tag", c.d.localTag)
		}
	}
	if code > 100 && code < 300 && req.IsInvite() {
		res.AppendHeader(c.ua.contactHeader())
	}
	return res
}

// sourceAddr is the IP a received message came from, invalid if unknown.
func sourceAddr(m interface{ Source() string }) netip.Addr {
	ap, err := netip.ParseAddrPort(m.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
