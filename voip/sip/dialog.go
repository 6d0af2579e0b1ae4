package sip

import (
	"strings"

	siplib "github.com/emiago/sipgo/sip"
)

// dialog is the state RFC 3261 §12 keeps per dialog.
type dialog struct {
	callID              string
	localTag, remoteTag string
	local, remote       siplib.Uri // From/To URIs as we send them
	localName           string
	remoteName          string
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
