package sip

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"strings"

	siplib "github.com/emiago/sipgo/sip"
)

// Pre-parse validation of UDP datagrams. sipgo drops, without a word, a
// request it cannot parse (a Content-Length larger than the body or not a
// number, a CSeq that is empty or out of range, ...), so the sender
// retransmits for 32 s and never learns why; RFC 3261 §8.2 (and RFC 4475
// §3.1.2) want a 400. It also keeps LWS around a header parameter's "="
// in the name and value ("tag = 1" becomes "tag " and " 1"), which RFC
// 3261 §25.1 allows, so a valid message (RFC 4475 wsinv) lost its From
// tag and was refused (newParser repairs that for every transport). The
// UA parses each UDP request first: one that does not parse is answered
// 400 statelessly (RFC 3261 §8.2.6, to the source address, RFC 3581) and
// dropped.
//
// Stream transports are left to sipgo: a message that does not parse
// leaves no boundary to resynchronise on, so it closes the connection and
// the flow is rebuilt (see flow.go).

// udpResponseLimit is what sipgo sends over UDP at most: it refuses a
// message over sip.UDPMTUSize-200 bytes (its reading of RFC 3261 §18.1.1,
// which is about requests), and the server transaction then dies, so a
// response that grew past 1300 bytes (a 200 copying a long Via or
// Record-Route chain) was silently dropped. RFC 3261 §18.2.2 sends a
// response back over the transport the request came on; the UA sends it
// as one datagram (IP fragments) rather than not at all, trimming the
// optional headers first (see send).
const udpResponseLimit = 65507

func init() {
	// sipgo's limit is a package variable read by every UDP write; it is
	// set before any goroutine can read it. A response that needs IP
	// fragments is logged (fitResponse). The UA's own requests stay far
	// below 1300 bytes (one audio m-line); RFC 3261 §18.1.1 would move a
	// larger one to TCP, which this UA does not do on its own.
	siplib.UDPMTUSize = udpResponseLimit + 200
}

// udpPathLimit is the size over which a message does not fit a 1500-byte
// path MTU with room to spare (RFC 3261 §18.1.1).
const udpPathLimit = 1300

// preparse is the pre-parse validation of one datagram (see above). It
// returns what sipgo should parse, nil to drop.
func (u *UA) preparse(props siplib.TransportReadProps, data []byte) []byte {
	if !strings.EqualFold(props.Transport, "UDP") || len(bytes.Trim(data, "\r\n")) == 0 || bytes.HasPrefix(data, []byte("SIP/")) {
		return data
	}
	msg, err := preparser.ParseSIP(data)
	if err != nil {
		if looksLikeRequest(data) {
			u.rejectUnparsed(props.RemoteAddr, data, err)
		} else {
			u.log.Debug("dropped an unparsable datagram", "raddr", props.RemoteAddr, "err", err)
		}
		return nil
	}
	if _, ok := msg.(*siplib.Request); !ok {
		u.log.Debug("dropped a datagram that parsed as neither request nor response", "raddr", props.RemoteAddr)
		return nil
	}
	return data
}

// preparser is the parser the pre-parse validation uses: the one sipgo
// is given (newParser), so both agree on what parses.
var preparser = newParser()

// looksLikeRequest reports whether data starts with a request line:
// a token, a space, something, " SIP/".
func looksLikeRequest(data []byte) bool {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	method, rest, ok := bytes.Cut(bytes.TrimRight(line, "\r"), []byte(" "))
	if !ok || len(method) == 0 {
		return false
	}
	for _, c := range method {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte("()<>@,;:\\\"/[]?={}"), c) >= 0 {
			return false
		}
	}
	i := bytes.LastIndexByte(rest, ' ')
	return i > 0 && bytes.HasPrefix(rest[i+1:], []byte("SIP/"))
}

// rejectUnparsed answers a request sipgo cannot parse with a stateless
// 400, built from its header lines: every Via, From, To (with a tag),
// Call-ID and CSeq, copied as they came so the sender can match it to
// its transaction.
func (u *UA) rejectUnparsed(to net.Addr, data []byte, why error) {
	if to == nil {
		return
	}
	reason := "Bad Request"
	switch {
	case errors.Is(why, siplib.ErrParseReadBodyIncomplete) || strings.Contains(strings.ToLower(why.Error()), "body"):
		reason = "Bad Request (Content-Length)"
	case strings.Contains(why.Error(), "CSeq"):
		reason = "Bad Request (CSeq)"
	default:
		var ne *strconv.NumError
		if errors.As(why, &ne) {
			reason = "Bad Request (malformed number)"
		}
	}
	lines := headerLines(data)
	hasVia := false
	for _, h := range lines {
		name, _, _ := strings.Cut(h, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); n == "via" || n == "v" {
			hasVia = true
		}
	}
	if !hasVia {
		// A response is routed by its Via (RFC 3261 §18.2.2): without
		// one there is nothing to answer.
		u.log.Debug("dropped an unparsable request without Via", "raddr", to, "err", why)
		return
	}
	var b bytes.Buffer
	b.WriteString("SIP/2.0 400 " + reason + "\r\n")
	for _, h := range lines {
		name, val, _ := strings.Cut(h, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v", "from", "f", "call-id", "i", "cseq":
			b.WriteString(h + "\r\n")
		case "to", "t":
			if !strings.Contains(strings.ToLower(val), "tag") {
				h += ";tag=" + newTag()
			}
			b.WriteString(h + "\r\n")
		}
	}
	b.WriteString("User-Agent: " + u.cfg.UserAgent + "\r\nContent-Length: 0\r\n\r\n")
	u.log.Info("rejected an unparsable request (400)", "raddr", to, "err", why)
	mp := u.mapping()
	if mp == nil || mp.Conn == nil {
		return
	}
	if _, err := mp.Conn.WriteTo(b.Bytes(), to); err != nil {
		u.log.Debug("stateless 400 not sent", "raddr", to, "err", err)
	}
}

// headerLines returns the header lines of a message (after the start
// line, before the empty line), with folded continuation lines joined
// (RFC 3261 §7.3.1). At most 100 lines are kept.
func headerLines(data []byte) []string {
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	var out []string
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(out) > 0 {
			out[len(out)-1] += " " + strings.TrimSpace(l)
			continue
		}
		if len(out) == 100 {
			break
		}
		out = append(out, l)
	}
	return out
}

// fitResponse trims a response to a UDP request that does not fit the
// path MTU (RFC 3261 §18.1.1): the headers the UA adds for information
// only go first. What is still too large is sent anyway, as IP fragments,
// and logged: the alternative was to drop it.
func (u *UA) fitResponse(res *sipResponse) {
	if !strings.EqualFold(res.Transport(), "UDP") {
		return
	}
	size := len(res.String())
	if size <= udpPathLimit {
		return
	}
	for _, h := range []string{"User-Agent", "Allow", "Supported", "Accept"} {
		res.RemoveHeader(h)
	}
	if n := len(res.String()); n > udpPathLimit {
		u.log.Warn("response larger than a UDP path allows; sent as IP fragments",
			"code", res.StatusCode, "size", n, "raddr", res.Destination())
	}
}
