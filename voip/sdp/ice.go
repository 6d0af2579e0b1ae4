package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrICE is wrapped by every error about an ICE attribute (RFC 8839 §5).
var ErrICE = errors.New("sdp: bad ice attribute")

// Candidate types (RFC 8445 §5.1.1).
const (
	CandHost  = "host"
	CandSrflx = "srflx"
	CandPrflx = "prflx"
	CandRelay = "relay"
)

// Candidate is one a=candidate line (RFC 8839 §5.1):
//
//	candidate:<foundation> <component> <transport> <priority>
//	          <address> <port> typ <type> [raddr <addr>] [rport <port>]
//	          *(<extension name> <extension value>)
//
// Only IP addresses are kept: a candidate with an FQDN (mDNS ".local"
// names included) is an error, and the caller skips it.
type Candidate struct {
	Foundation string
	Component  int    // 1 RTP, 2 RTCP
	Transport  string // "UDP" (upper case); others are kept but unused
	Priority   uint32
	Addr       netip.AddrPort
	Type       string         // CandHost, CandSrflx, CandPrflx, CandRelay, or an unknown token
	Related    netip.AddrPort // raddr/rport, invalid when absent
	Ext        []string       // extension name/value tokens, in order
}

// ICE is the ICE description of one media stream: credentials and
// candidates (RFC 8839 §5.4, §5.1), and whether the agent is lite
// (a=ice-lite, §5.3).
type ICE struct {
	Ufrag, Pwd string
	Lite       bool
	Candidates []Candidate
	// Remote is a=remote-candidates (RFC 8839 §5.2), written in an
	// offer only: the controlling agent's subsequent offer after
	// nomination names the remote candidate of each component's selected
	// pair (§4.4.1.2.2), so that a controlled agent its checks have not
	// reached yet knows the pair. Only Component and Addr are used.
	// Answers never carry it; it is not read from a peer's description.
	Remote []Candidate
}

// isICEChar reports whether c is an ice-char (RFC 8839 §5.1: ALPHA /
// DIGIT / "+" / "/").
func isICEChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

func iceChars(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isICEChar(s[i]) {
			return false
		}
	}
	return true
}

func isToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// ParseCandidate parses the value of an a=candidate attribute (without
// the "candidate:" key).
func ParseCandidate(v string) (Candidate, error) {
	bad := func(msg string) (Candidate, error) {
		if len(v) > 80 {
			v = v[:80]
		}
		return Candidate{}, fmt.Errorf("candidate %q: %s: %w", v, msg, ErrICE)
	}
	f := strings.Fields(v)
	if len(f) < 8 {
		return bad("too few fields")
	}
	if len(f)%2 != 0 {
		return bad("odd number of fields")
	}
	var c Candidate
	if !iceChars(f[0], 1, 32) {
		return bad("foundation")
	}
	c.Foundation = f[0]
	comp, err := strconv.Atoi(f[1])
	if err != nil || comp < 1 || comp > 256 || len(f[1]) > 3 {
		return bad("component")
	}
	c.Component = comp
	if !isToken(f[2]) {
		return bad("transport")
	}
	c.Transport = strings.ToUpper(f[2])
	if len(f[3]) > 10 || !isDigits(f[3]) {
		return bad("priority")
	}
	pr, err := strconv.ParseUint(f[3], 10, 32)
	if err != nil || pr == 0 {
		return bad("priority")
	}
	c.Priority = uint32(pr)
	ip, err := netip.ParseAddr(f[4])
	if err != nil || ip.Zone() != "" {
		return bad("address is not an IP address")
	}
	port, ok := atoi(f[5], 65535)
	if !ok {
		return bad("port")
	}
	c.Addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))
	if f[6] != "typ" || !isToken(f[7]) {
		return bad("typ")
	}
	c.Type = strings.ToLower(f[7])
	var raddr netip.Addr
	rport, haveRport := 0, false
	for i := 8; i+1 < len(f); i += 2 {
		k, val := f[i], f[i+1]
		switch k {
		case "raddr":
			a, err := netip.ParseAddr(val)
			if err != nil || a.Zone() != "" {
				return bad("raddr")
			}
			raddr = a.Unmap()
		case "rport":
			p, ok := atoi(val, 65535)
			if !ok {
				return bad("rport")
			}
			rport, haveRport = p, true
		default:
			if !isToken(k) || !isToken(val) {
				return bad("extension")
			}
			c.Ext = append(c.Ext, k, val)
		}
	}
	if raddr.IsValid() && haveRport {
		c.Related = netip.AddrPortFrom(raddr, uint16(rport))
	}
	return c, nil
}

// Value is the candidate as an a=candidate value (without the key).
func (c Candidate) Value() string {
	var b strings.Builder
	tr := c.Transport
	if tr == "" {
		tr = "UDP"
	}
	fmt.Fprintf(&b, "%s %d %s %d %s %d typ %s", c.Foundation, c.Component, tr, c.Priority,
		c.Addr.Addr(), c.Addr.Port(), c.Type)
	if c.Related.IsValid() {
		fmt.Fprintf(&b, " raddr %s rport %d", c.Related.Addr(), c.Related.Port())
	}
	for _, e := range c.Ext {
		b.WriteByte(' ')
		b.WriteString(e)
	}
	return b.String()
}

// Attrs are the ICE attributes of a media description: a=ice-ufrag,
// a=ice-pwd and one a=candidate per candidate. a=ice-lite is a session
// attribute (RFC 8839 §5.3), added by Offer and Answer.
func (ice *ICE) Attrs() []Attr {
	out := []Attr{{Key: "ice-ufrag", Value: ice.Ufrag}, {Key: "ice-pwd", Value: ice.Pwd}}
	for _, c := range ice.Candidates {
		out = append(out, Attr{Key: "candidate", Value: c.Value()})
	}
	if len(ice.Remote) > 0 {
		// remote-candidate = component-ID SP connection-address SP port
		var b strings.Builder
		for i, c := range ice.Remote {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%d %s %d", c.Component, c.Addr.Addr(), c.Addr.Port())
		}
		out = append(out, Attr{Key: "remote-candidates", Value: b.String()})
	}
	return out
}

// sessionAttrs are the session-level ICE attributes: a=ice-lite for a
// lite agent (RFC 8839 §5.3), none otherwise or without ICE.
func (ice *ICE) sessionAttrs() []Attr {
	if ice == nil || !ice.Lite {
		return nil
	}
	return []Attr{{Key: "ice-lite"}}
}

// ICE reads the ICE description of media m of session s: credentials at
// media level, else session level (RFC 8839 §5.4); a=ice-lite at
// session level; the candidates of m. ok is false when m has no valid
// credentials (the peer does no ICE for it). Candidates that do not
// parse, or are not UDP, are skipped (RFC 8839 §5.1: unknown transports
// are ignored); their errors are returned for logging.
//
// An ICE description whose candidates do not include the default
// destination c=/m= (an SBC or SIP ALG rewrote the address, RFC 8839
// §3.2.4: ice-mismatch) is returned with ok false: the caller falls back
// to plain offer/answer.
func (s *Session) ICE(m *Media) (ice ICE, ok bool, errs []error) {
	ice, ok, _, errs = s.iceMismatch(m)
	return ice, ok, errs
}

// ICEMismatch reports whether media m of session s carries valid ICE
// credentials but its default destination (c=/m=) is none of its
// component-1 candidates: something on the way (an SBC, a SIP ALG,
// Kamailio's nathelper fix_nated_sdp) rewrote the address. RFC 8839
// (ice-mismatch, as in RFC 5245 §5.1): the answerer does no ICE
// for it and says so with a=ice-mismatch.
func (s *Session) ICEMismatch(m *Media) bool {
	_, _, mis, _ := s.iceMismatch(m)
	return mis
}

func (s *Session) iceMismatch(m *Media) (ice ICE, ok, mismatch bool, errs []error) {
	if m == nil {
		return ICE{}, false, false, nil
	}
	get := func(key string) string {
		for _, a := range m.Attrs {
			if a.Key == key {
				return a.Value
			}
		}
		for _, a := range s.Attrs {
			if a.Key == key {
				return a.Value
			}
		}
		return ""
	}
	ice.Ufrag, ice.Pwd = get("ice-ufrag"), get("ice-pwd")
	if !iceChars(ice.Ufrag, 4, 256) || !iceChars(ice.Pwd, 22, 256) {
		return ICE{}, false, false, nil
	}
	for _, a := range s.Attrs {
		if a.Key == "ice-lite" {
			ice.Lite = true
		}
	}
	for _, a := range m.Attrs {
		if a.Key == "ice-mismatch" {
			return ICE{}, false, false, nil
		}
		if a.Key != "candidate" {
			continue
		}
		c, err := ParseCandidate(a.Value)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c.Transport != "UDP" {
			continue
		}
		ice.Candidates = append(ice.Candidates, c)
	}
	conn, cok := streamConn(s, m)
	if !cok || m.Port <= 0 || m.Port > 65535 {
		return ICE{}, false, false, errs
	}
	def := netip.AddrPortFrom(conn.Unmap(), uint16(m.Port))
	for _, c := range ice.Candidates {
		if c.Component == 1 && c.Addr == def {
			return ice, true, false, errs
		}
	}
	return ICE{}, false, true, errs
}

// answerICE adds our ICE attributes to the answer's media am when we do
// ICE and the offered stream om does, and returns the offerer's
// description (nil when either side does not). An offer whose default
// destination is none of its candidates gets a=ice-mismatch and no
// other ICE attribute (RFC 8839 ice-mismatch, as in RFC 5245 §5.1): the call is a plain one.
func answerICE(offer *Session, om *Media, ours *ICE, ans *Session, am *Media) *ICE {
	if ours == nil {
		return nil
	}
	theirs, ok, mismatch, _ := offer.iceMismatch(om)
	if mismatch {
		am.Attrs = append(am.Attrs, Attr{Key: "ice-mismatch"})
	}
	if !ok {
		return nil
	}
	if theirs.Lite && ours.Lite {
		return nil // RFC 8445 §6.1.1: two lite agents do no ICE
	}
	oa := *ours
	oa.Remote = nil // RFC 8839 §4.4.2: never in an answer
	am.Attrs = append(am.Attrs, oa.Attrs()...)
	if ours.Lite && !hasAttr(ans.Attrs, "ice-lite") {
		ans.Attrs = append(ans.Attrs, ours.sessionAttrs()...)
	}
	return &theirs
}

// doesICE reports whether answering stream om of offer with our ICE
// description ours runs ICE (answerICE returns the offerer's).
func doesICE(offer *Session, om *Media, ours *ICE) bool {
	if ours == nil {
		return false
	}
	theirs, ok, _, _ := offer.iceMismatch(om)
	return ok && !(theirs.Lite && ours.Lite)
}

// component1 is ice with its component-1 candidates only (rtcp-mux);
// nil stays nil.
func (ice *ICE) component1() *ICE {
	if ice == nil {
		return nil
	}
	c := *ice
	c.Candidates = nil
	for _, cd := range ice.Candidates {
		if cd.Component == 1 {
			c.Candidates = append(c.Candidates, cd)
		}
	}
	return &c
}

func hasAttr(as []Attr, key string) bool {
	for _, a := range as {
		if a.Key == key {
			return true
		}
	}
	return false
}

// acceptICE is the answerer's ICE description when we offered ICE on om
// and the answer's am has it.
func acceptICE(offer *Session, om *Media, answer *Session, am *Media) *ICE {
	if _, ok, _ := offer.ICE(om); !ok {
		return nil
	}
	theirs, ok, _ := answer.ICE(am)
	if !ok {
		return nil
	}
	return &theirs
}
