package sip

import (
	"strings"

	siplib "github.com/emiago/sipgo/sip"
)

// newParser is sipgo's parser with one repair: sipgo keeps the LWS around
// a header parameter's "=" in its name and value ("tag = 1" becomes
// "tag " and " 1"), which RFC 3261 §25.1 allows (EQUAL = SWS "=" SWS), so
// a valid request (RFC 4475 wsinv) lost its From tag, could not be
// matched to a transaction and got 400. The From, To and Via parsers here
// trim their parameters. It is used for every transport.
func newParser() *siplib.Parser {
	m := map[string]siplib.HeaderParser{}
	for name, p := range siplib.DefaultHeadersParser() {
		m[name] = p
	}
	for _, name := range []string{"f", "from", "t", "to", "v", "via"} {
		if p := m[name]; p != nil {
			m[name] = trimmingParams(p)
		}
	}
	return siplib.NewParser(siplib.WithHeadersParsers(m))
}

func trimmingParams(p siplib.HeaderParser) siplib.HeaderParser {
	return func(name []byte, data string) (siplib.Header, error) {
		h, err := p(name, data)
		switch h := h.(type) {
		case *siplib.FromHeader:
			trimParams(h.Params)
		case *siplib.ToHeader:
			trimParams(h.Params)
		case *siplib.ViaHeader:
			trimParams(h.Params)
		}
		return h, err
	}
}

func trimParams(ps siplib.HeaderParams) {
	for i := range ps {
		ps[i].K, ps[i].V = strings.TrimSpace(ps[i].K), strings.TrimSpace(ps[i].V)
	}
}
