package sdp

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
)

// Direction is a media stream's direction attribute (RFC 8866 §6.7),
// from our side of the description that carries it.
type Direction int

const (
	SendRecv Direction = iota // a=sendrecv, the default
	SendOnly                  // a=sendonly
	RecvOnly                  // a=recvonly
	Inactive                  // a=inactive
)

// String returns the attribute name.
func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return "direction(" + strconv.Itoa(int(d)) + ")"
}

// Reverse returns the direction as seen from the other side: sendonly
// and recvonly swap.
func (d Direction) Reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	}
	return d
}

// Sends reports whether d allows sending.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether d allows receiving.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// makeDirection builds a direction from its send and receive halves.
func makeDirection(send, recv bool) Direction {
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}

// intersect returns the direction allowed by both a and b.
func intersect(a, b Direction) Direction {
	return makeDirection(a.Sends() && b.Sends(), a.Receives() && b.Receives())
}

func parseDirection(s string) (Direction, bool) {
	switch s {
	case "sendrecv":
		return SendRecv, true
	case "sendonly":
		return SendOnly, true
	case "recvonly":
		return RecvOnly, true
	case "inactive":
		return Inactive, true
	}
	return 0, false
}

// Format is one RTP payload format of a media line: the payload type
// with its a=rtpmap and a=fmtp.
type Format struct {
	PT       uint8
	Name     string // encoding name, e.g. "PCMU", "telephone-event"
	Rate     int    // clock rate in Hz; 0 when an a=rtpmap gave none (unknown)
	Channels int    // audio channels; 1 when not given
	Fmtp     string // a=fmtp parameters, "" if none
}

// Attr is one attribute line: a=Key or a=Key:Value.
type Attr struct {
	Key, Value string
}

func (a Attr) String() string {
	if a.Value == "" {
		return a.Key
	}
	return a.Key + ":" + a.Value
}

// Line is a line kept as is: Type is its letter, Value what follows "=".
type Line struct {
	Type  byte
	Value string
}

// Origin is the o= line (RFC 8866 §5.2). The fields are kept as text.
type Origin struct {
	Username       string
	SessionID      string
	SessionVersion string
	NetType        string // "IN"
	AddrType       string // "IP4" or "IP6"
	Address        string
}

// Media is one m= section.
type Media struct {
	Type      string // "audio", "video", ...
	Port      int
	PortCount int    // the /<number of ports> of the m= line, 0 if absent
	Proto     string // "RTP/AVP", ...
	// Formats are the payload formats of an RTP stream, in m= order.
	Formats []Format
	// Fmts are the format tokens of a non-RTP stream (e.g. "t38").
	Fmts      []string
	Direction Direction      // effective: media-level, else session-level, else sendrecv
	Ptime     int            // a=ptime in ms, 0 if absent
	MaxPtime  int            // a=maxptime in ms, 0 if absent
	RTCPMux   bool           // a=rtcp-mux (RFC 5761)
	RTCP      netip.AddrPort // a=rtcp (RFC 3605); the address is invalid when not given
	Conn      netip.Addr     // media-level c=, invalid if absent
	// ConnHost holds a media-level c= address that is not a plain IP
	// address (a host name, or multicast with TTL); Conn is then invalid.
	ConnHost string
	Extra    []Line // i=, b=, k= and unknown lines, in order
	Attrs    []Attr // attributes not interpreted above, in order
}

// Session is a parsed session description.
type Session struct {
	Origin Origin
	Name   string     // s=
	Conn   netip.Addr // session-level c=, invalid if absent
	// ConnHost holds a session-level c= address that is not a plain IP
	// address; Conn is then invalid.
	ConnHost string
	Times    []string // t= values; "0 0" is written when empty
	Extra    []Line   // i=, u=, e=, p=, b=, r=, z=, k= and unknown lines
	Attrs    []Attr   // session-level attributes (direction attributes are applied to the media)
	Media    []Media
}

// static holds the static RTP/AVP payload types of RFC 3551 §6.
var static = map[uint8]Format{
	0: {0, "PCMU", 8000, 1, ""}, 3: {3, "GSM", 8000, 1, ""}, 4: {4, "G723", 8000, 1, ""},
	5: {5, "DVI4", 8000, 1, ""}, 6: {6, "DVI4", 16000, 1, ""}, 7: {7, "LPC", 8000, 1, ""},
	8: {8, "PCMA", 8000, 1, ""}, 9: {9, "G722", 8000, 1, ""}, 10: {10, "L16", 44100, 2, ""},
	11: {11, "L16", 44100, 1, ""}, 12: {12, "QCELP", 8000, 1, ""}, 13: {13, "CN", 8000, 1, ""},
	14: {14, "MPA", 90000, 1, ""}, 15: {15, "G728", 8000, 1, ""}, 16: {16, "DVI4", 11025, 1, ""},
	17: {17, "DVI4", 22050, 1, ""}, 18: {18, "G729", 8000, 1, ""},
	25: {25, "CelB", 90000, 1, ""}, 26: {26, "JPEG", 90000, 1, ""}, 28: {28, "nv", 90000, 1, ""},
	31: {31, "H261", 90000, 1, ""}, 32: {32, "MPV", 90000, 1, ""}, 33: {33, "MP2T", 90000, 1, ""},
	34: {34, "H263", 90000, 1, ""},
}

// isRTP reports whether proto carries RTP payload types in its m= line.
func isRTP(proto string) bool {
	return strings.Contains(strings.ToUpper(proto), "RTP/")
}

type parser struct {
	n    int    // line number
	text string // current line
}

func (p *parser) fail(msg string) error {
	t := p.text
	if len(t) > 80 {
		t = t[:80] + "..."
	}
	return &ParseError{Line: p.n, Text: t, Msg: msg}
}

// Parse parses a session description. Lines may end in CRLF or LF; blank
// lines are skipped. The first line must be v=0. Lines of unknown type
// and unknown attributes are kept. It returns a *ParseError, wrapping
// ErrSyntax, for a structurally bad line.
func Parse(b []byte) (*Session, error) {
	s := &Session{}
	p := &parser{}
	var (
		sawV    bool
		sessDir Direction
		sessHas bool
		m       *Media
		mHasDir []bool
	)
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		p.n++
		p.text = strings.TrimRight(string(line), " \t\r")
		if p.text == "" {
			continue
		}
		if len(p.text) < 2 || p.text[1] != '=' || p.text[0] < 'a' || p.text[0] > 'z' {
			return nil, p.fail("not a <type>=<value> line")
		}
		typ, val := p.text[0], p.text[2:]
		if !sawV {
			if typ != 'v' {
				return nil, p.fail("description does not start with v=")
			}
			if val != "0" {
				return nil, p.fail("unsupported version")
			}
			sawV = true
			continue
		}
		switch {
		case typ == 'v':
			return nil, p.fail("second v= line")
		case typ == 'm':
			md, err := p.media(val)
			if err != nil {
				return nil, err
			}
			s.Media = append(s.Media, md)
			m = &s.Media[len(s.Media)-1]
			mHasDir = append(mHasDir, false)
		case typ == 'c':
			addr, host, err := p.conn(val)
			if err != nil {
				return nil, err
			}
			if m != nil {
				m.Conn, m.ConnHost = addr, host
			} else {
				s.Conn, s.ConnHost = addr, host
			}
		case typ == 'a':
			key, value, _ := strings.Cut(val, ":")
			if value == "" {
				key = strings.TrimRight(key, " \t") // as the line end would be
			}
			if d, ok := parseDirection(key); ok && value == "" {
				if m != nil {
					m.Direction = d
					mHasDir[len(mHasDir)-1] = true
				} else {
					sessDir, sessHas = d, true
				}
				continue
			}
			if m == nil {
				s.Attrs = append(s.Attrs, Attr{key, value})
				continue
			}
			if err := p.mediaAttr(m, key, value); err != nil {
				return nil, err
			}
		case m != nil:
			m.Extra = append(m.Extra, Line{typ, val})
		case typ == 'o':
			f := strings.Fields(val)
			if len(f) != 6 {
				return nil, p.fail("o= needs 6 fields")
			}
			s.Origin = Origin{f[0], f[1], f[2], f[3], f[4], f[5]}
		case typ == 's':
			s.Name = val
		case typ == 't':
			f := strings.Fields(val)
			if len(f) != 2 || !isDigits(f[0]) || !isDigits(f[1]) {
				return nil, p.fail("t= needs a start and a stop time")
			}
			s.Times = append(s.Times, f[0]+" "+f[1])
		default:
			s.Extra = append(s.Extra, Line{typ, val})
		}
	}
	if !sawV {
		p.text = ""
		return nil, p.fail("empty description")
	}
	if sessHas {
		for i := range s.Media {
			if !mHasDir[i] {
				s.Media[i].Direction = sessDir
			}
		}
	}
	return s, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoi parses a small non-negative decimal number.
func atoi(s string, maxv int) (int, bool) {
	if !isDigits(s) || len(s) > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxv {
		return 0, false
	}
	return n, true
}

// media parses "m=<media> <port>[/<number>] <proto> <fmt> ..." (RFC 8866 §5.14).
func (p *parser) media(val string) (Media, error) {
	f := strings.Fields(val)
	if len(f) < 3 {
		return Media{}, p.fail("m= needs media, port and proto")
	}
	md := Media{Type: f[0], Proto: f[2]}
	port, count, hasCount := strings.Cut(f[1], "/")
	var ok bool
	if md.Port, ok = atoi(port, 65535); !ok {
		return Media{}, p.fail("bad port")
	}
	if hasCount {
		if md.PortCount, ok = atoi(count, 65535); !ok || md.PortCount == 0 {
			return Media{}, p.fail("bad number of ports")
		}
	}
	if !isRTP(md.Proto) {
		md.Fmts = append([]string(nil), f[3:]...)
		return md, nil
	}
	for _, t := range f[3:] {
		pt, ok := atoi(t, 127)
		if !ok {
			return Media{}, p.fail("bad RTP payload type " + strconv.Quote(t))
		}
		ft, ok := static[uint8(pt)]
		if !ok {
			ft = Format{PT: uint8(pt), Channels: 1}
		}
		md.Formats = append(md.Formats, ft)
	}
	return md, nil
}

// conn parses "c=<nettype> <addrtype> <connection-address>" (RFC 8866 §5.7).
func (p *parser) conn(val string) (netip.Addr, string, error) {
	f := strings.Fields(val)
	if len(f) != 3 {
		return netip.Addr{}, "", p.fail("c= needs 3 fields")
	}
	// The address decides the family, whatever <addrtype> says (IP4 or
	// IP6, RFC 8866 §5.7): a literal is what media is sent to. An
	// IPv4-mapped IPv6 address (::ffff:192.0.2.1) is the IPv4 address.
	if a, err := netip.ParseAddr(f[2]); err == nil && a.Zone() == "" {
		return a.Unmap(), "", nil
	}
	return netip.Addr{}, f[2], nil
}

// mediaAttr interprets one media-level attribute or keeps it in Attrs.
func (p *parser) mediaAttr(m *Media, key, value string) error {
	rtp := isRTP(m.Proto)
	switch key {
	case "rtpmap":
		if !rtp {
			break
		}
		// a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
		// (RFC 8866 §6.6). The clock rate is required by the grammar, but
		// valid messages leave it out (RFC 4475 §3.1.1.3 esc01 has
		// "a=rtpmap:31 LPC"): without it the rate is the static payload
		// type's when the name matches it, else 0 (unknown), and such a
		// format never matches a codec of ours.
		pts, enc, ok := strings.Cut(value, " ")
		pt, okPT := atoi(pts, 127)
		parts := strings.Split(strings.TrimSpace(enc), "/")
		if !ok || !okPT || len(parts) > 3 || parts[0] == "" {
			return p.fail("bad rtpmap")
		}
		rate, okR := 0, true
		if len(parts) >= 2 {
			rate, okR = atoi(parts[1], 1<<30)
			if !okR || rate == 0 {
				return p.fail("bad rtpmap clock rate")
			}
		} else if st, isStatic := static[uint8(pt)]; isStatic && strings.EqualFold(st.Name, parts[0]) {
			rate = st.Rate
		}
		ch := 1
		if len(parts) == 3 {
			var okC bool
			if ch, okC = atoi(parts[2], 255); !okC || ch == 0 {
				return p.fail("bad rtpmap channels")
			}
		}
		found := false
		for i := range m.Formats { // a payload type listed twice gets both
			if f := &m.Formats[i]; f.PT == uint8(pt) {
				f.Name, f.Rate, f.Channels = parts[0], rate, ch
				found = true
			}
		}
		if found {
			return nil
		}
		// Not in the m= line: keep as an unknown attribute.
	case "fmtp":
		if !rtp {
			break
		}
		pts, params, _ := strings.Cut(value, " ")
		pt, ok := atoi(pts, 127)
		if !ok {
			break
		}
		found := false
		for i := range m.Formats {
			if f := &m.Formats[i]; f.PT == uint8(pt) {
				f.Fmtp = strings.TrimSpace(params)
				found = true
			}
		}
		if found {
			return nil
		}
	case "ptime", "maxptime":
		v, ok := parsePtime(value)
		if !ok {
			return p.fail("bad " + key)
		}
		if key == "ptime" {
			m.Ptime = v
		} else {
			m.MaxPtime = v
		}
		return nil
	case "rtcp":
		// a=rtcp:<port> [<nettype> <addrtype> <connection-address>] (RFC 3605 §2.1)
		f := strings.Fields(value)
		if len(f) != 1 && len(f) != 4 {
			return p.fail("bad rtcp attribute")
		}
		port, ok := atoi(f[0], 65535)
		if !ok {
			return p.fail("bad rtcp port")
		}
		var a netip.Addr
		if len(f) == 4 {
			if pa, err := netip.ParseAddr(f[3]); err == nil && pa.Zone() == "" {
				a = pa.Unmap()
			}
		}
		m.RTCP = netip.AddrPortFrom(a, uint16(port))
		return nil
	case "rtcp-mux":
		if value == "" {
			m.RTCPMux = true
			return nil
		}
	}
	m.Attrs = append(m.Attrs, Attr{key, value})
	return nil
}

// parsePtime reads a packet time in ms. RFC 8866 §6.4 allows a decimal
// fraction ("20.0" is seen in the wild); it is rounded to whole ms.
func parsePtime(v string) (int, bool) {
	ip, frac, hasFrac := strings.Cut(v, ".")
	n, ok := atoi(ip, 100000)
	if !ok || (hasFrac && frac != "" && !isDigits(frac)) {
		return 0, false
	}
	if hasFrac && frac != "" && frac[0] >= '5' {
		n++
	}
	return n, true
}

// Marshal writes the description with CRLF line ends, in the line order
// of RFC 8866 §5. Every RTP format gets an a=rtpmap line and every media
// section an explicit direction attribute.
func (s *Session) Marshal() []byte {
	var b strings.Builder
	line := func(parts ...string) {
		for _, p := range parts {
			b.WriteString(p)
		}
		b.WriteString("\r\n")
	}
	extras := func(ls []Line, types string) {
		for _, l := range ls {
			if strings.IndexByte(types, l.Type) >= 0 {
				line(string(l.Type), "=", l.Value)
			}
		}
	}
	others := func(ls []Line, known string) {
		for _, l := range ls {
			if strings.IndexByte(known, l.Type) < 0 {
				line(string(l.Type), "=", l.Value)
			}
		}
	}
	conn := func(a netip.Addr, host string) {
		switch {
		case a.IsValid():
			line("c=IN ", addrType(a), " ", a.String())
		case host != "":
			t := "IP4"
			if strings.Contains(host, ":") {
				t = "IP6"
			}
			line("c=IN ", t, " ", host)
		}
	}

	line("v=0")
	o := s.Origin
	line("o=", or(o.Username, "-"), " ", or(o.SessionID, "0"), " ", or(o.SessionVersion, "0"), " ",
		or(o.NetType, "IN"), " ", or(o.AddrType, "IP4"), " ", or(o.Address, "0.0.0.0"))
	line("s=", or(s.Name, "-"))
	extras(s.Extra, "iuep")
	conn(s.Conn, s.ConnHost)
	extras(s.Extra, "b")
	if len(s.Times) == 0 {
		line("t=0 0")
	}
	for _, t := range s.Times {
		line("t=", t)
	}
	others(s.Extra, "iuepb")
	for _, a := range s.Attrs {
		line("a=", a.String())
	}
	for i := range s.Media {
		m := &s.Media[i]
		port := strconv.Itoa(m.Port)
		if m.PortCount > 0 {
			port += "/" + strconv.Itoa(m.PortCount)
		}
		b.WriteString("m=" + or(m.Type, "audio") + " " + port + " " + or(m.Proto, "RTP/AVP"))
		rtp := isRTP(or(m.Proto, "RTP/AVP"))
		if rtp {
			for _, f := range m.Formats {
				b.WriteString(" " + strconv.Itoa(int(f.PT)))
			}
		} else {
			for _, f := range m.Fmts {
				b.WriteString(" " + f)
			}
		}
		b.WriteString("\r\n")
		extras(m.Extra, "i")
		conn(m.Conn, m.ConnHost)
		others(m.Extra, "i")
		if rtp {
			var done [128]bool
			for _, f := range m.Formats {
				if f.PT > 127 || done[f.PT] {
					continue // one rtpmap and fmtp per payload type
				}
				done[f.PT] = true
				if f.Name != "" {
					enc := f.Name
					if f.Rate > 0 {
						enc += "/" + strconv.Itoa(f.Rate)
						if f.Channels > 1 {
							enc += "/" + strconv.Itoa(f.Channels)
						}
					}
					line("a=rtpmap:", strconv.Itoa(int(f.PT)), " ", enc)
				}
				if f.Fmtp != "" {
					line("a=fmtp:", strconv.Itoa(int(f.PT)), " ", f.Fmtp)
				}
			}
		}
		if m.Ptime > 0 {
			line("a=ptime:", strconv.Itoa(m.Ptime))
		}
		if m.MaxPtime > 0 {
			line("a=maxptime:", strconv.Itoa(m.MaxPtime))
		}
		if m.RTCP.Port() != 0 {
			if a := m.RTCP.Addr(); a.IsValid() {
				line("a=rtcp:", strconv.Itoa(int(m.RTCP.Port())), " IN ", addrType(a), " ", a.String())
			} else {
				line("a=rtcp:", strconv.Itoa(int(m.RTCP.Port())))
			}
		}
		if m.RTCPMux {
			line("a=rtcp-mux")
		}
		line("a=", m.Direction.String())
		for _, a := range m.Attrs {
			line("a=", a.String())
		}
	}
	return []byte(b.String())
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func addrType(a netip.Addr) string {
	if a.Is4() {
		return "IP4"
	}
	return "IP6"
}
