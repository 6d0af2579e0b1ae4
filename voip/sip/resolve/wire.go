package resolve

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// The record types the resolver asks for or reads (RFC 1035 §3.2.2,
// RFC 3596, RFC 2782, RFC 3403, RFC 6891).
const (
	typeA     = uint16(dnsmessage.TypeA)
	typeCNAME = uint16(dnsmessage.TypeCNAME)
	typeAAAA  = uint16(dnsmessage.TypeAAAA)
	typeSRV   = uint16(dnsmessage.TypeSRV)
	typeNAPTR = uint16(35)
	typeOPT   = uint16(dnsmessage.TypeOPT)
)

// udpSize is the EDNS0 payload size advertised (the DNS flag day 2020
// value): larger answers come truncated and are asked again over TCP.
const udpSize = 1232

// rcode values the resolver tells apart (RFC 1035 §4.1.1).
const (
	rcodeSuccess   = 0
	rcodeNameError = 3
)

func typeString(t uint16) string {
	switch t {
	case typeA:
		return "A"
	case typeCNAME:
		return "CNAME"
	case typeAAAA:
		return "AAAA"
	case typeSRV:
		return "SRV"
	case typeNAPTR:
		return "NAPTR"
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func rcodeString(rc int) string {
	switch rc {
	case 0:
		return "NOERROR"
	case 1:
		return "FORMERR"
	case 2:
		return "SERVFAIL"
	case 3:
		return "NXDOMAIN"
	case 4:
		return "NOTIMP"
	case 5:
		return "REFUSED"
	}
	return "RCODE" + strconv.Itoa(rc)
}

// naptr is the RDATA of a NAPTR record (RFC 3403 §4.1).
type naptr struct {
	Order, Preference      uint16
	Flags, Service, Regexp string
	Replacement            string // fully qualified, "." for none
}

// record is one resource record of the types the resolver reads; the
// fields that do not belong to its type are zero.
type record struct {
	Name string // owner, fully qualified
	Type uint16
	TTL  uint32
	// Addr is an A or AAAA record's address.
	Addr netip.Addr
	// Target is a CNAME's canonical name or an SRV record's target.
	Target                 string
	Priority, Weight, Port uint16 // SRV
	NAPTR                  naptr
}

// message is a parsed DNS answer: the parts the resolver uses.
type message struct {
	ID        uint16
	Response  bool
	Truncated bool
	RCode     int // with the EDNS0 extended bits
	Question  []dnsmessage.Question
	Answer    []record
	Extra     []record
}

var (
	errNAPTR = errors.New("bad NAPTR record")
	errMsg   = errors.New("bad DNS message")
)

// parseNAPTR parses NAPTR RDATA (RFC 3403 §4.1):
//
//	                                1  1  1  1  1  1
//	  0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//	|                     ORDER                     |
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//	|                   PREFERENCE                  |
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//	/                     FLAGS                     /
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//	/                   SERVICES                    /
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//	/                    REGEXP                     /
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//	/                  REPLACEMENT                  /
//	/                                               /
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//
// FLAGS, SERVICES and REGEXP are <character-string>s (a length byte,
// then that many bytes); REPLACEMENT is a domain name, which RFC 3597
// §4 forbids compressing: a compression pointer is an error, as is
// anything after the name.
func parseNAPTR(b []byte) (naptr, error) {
	var n naptr
	if len(b) < 4 {
		return n, fmt.Errorf("%w: %d bytes of RDATA, want at least 4", errNAPTR, len(b))
	}
	n.Order = binary.BigEndian.Uint16(b)
	n.Preference = binary.BigEndian.Uint16(b[2:])
	off := 4
	for i, dst := range []*string{&n.Flags, &n.Service, &n.Regexp} {
		if off >= len(b) {
			return n, fmt.Errorf("%w: RDATA ends before %s", errNAPTR, [...]string{"flags", "services", "regexp"}[i])
		}
		l := int(b[off])
		off++
		if off+l > len(b) {
			return n, fmt.Errorf("%w: %s is %d bytes, %d left", errNAPTR, [...]string{"flags", "services", "regexp"}[i], l, len(b)-off)
		}
		*dst = string(b[off : off+l])
		off += l
	}
	var name []byte
	for {
		if off >= len(b) {
			return n, fmt.Errorf("%w: replacement has no end", errNAPTR)
		}
		l := int(b[off])
		off++
		if l == 0 {
			break
		}
		if l&0xC0 != 0 {
			return n, fmt.Errorf("%w: replacement label byte %#x (compressed or reserved)", errNAPTR, l)
		}
		if off+l > len(b) {
			return n, fmt.Errorf("%w: replacement label is %d bytes, %d left", errNAPTR, l, len(b)-off)
		}
		label := b[off : off+l]
		if strings.ContainsAny(string(label), ".\\") {
			return n, fmt.Errorf("%w: replacement label %q holds a dot or backslash", errNAPTR, label)
		}
		name = append(name, label...)
		name = append(name, '.')
		if len(name) > maxNameLen {
			return n, fmt.Errorf("%w: replacement is longer than %d bytes", errNAPTR, maxNameLen)
		}
		off += l
	}
	if off != len(b) {
		return n, fmt.Errorf("%w: %d bytes after the replacement", errNAPTR, len(b)-off)
	}
	n.Replacement = string(name)
	if n.Replacement == "" {
		n.Replacement = "."
	}
	return n, nil
}

// maxNameLen is the longest name in presentation form with its final
// dot (255 bytes on the wire).
const maxNameLen = 254

// isDomainName reports whether s is a syntactically valid domain name
// (with or without the final dot): labels of 1 to 63 bytes, 255 bytes in
// all on the wire, no backslash (names from the wire never carry
// escapes; a host name cannot have them).
func isDomainName(s string) bool {
	if s == "" || strings.ContainsRune(s, '\\') {
		return false
	}
	if s == "." {
		return true
	}
	s = strings.TrimSuffix(s, ".")
	if len(s)+1 > maxNameLen {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
	}
	return true
}

// fqdn adds the final dot.
func fqdn(s string) string {
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// packQuery builds a recursive query for name and qtype with an EDNS0
// OPT record advertising udpSize.
func packQuery(id uint16, name string, qtype uint16) ([]byte, error) {
	n, err := dnsmessage.NewName(fqdn(name))
	if err != nil {
		return nil, fmt.Errorf("query name %q: %w", name, err)
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 64+len(name)), dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: n, Type: dnsmessage.Type(qtype), Class: dnsmessage.ClassINET}); err != nil {
		return nil, fmt.Errorf("query name %q: %w", name, err)
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, err
	}
	var h dnsmessage.ResourceHeader
	if err := h.SetEDNS0(udpSize, dnsmessage.RCodeSuccess, false); err != nil {
		return nil, err
	}
	if err := b.OPTResource(h, dnsmessage.OPTResource{}); err != nil {
		return nil, err
	}
	return b.Finish()
}

// parseMessage parses a DNS answer. Records of other types are skipped;
// the authority section is not read. A truncated answer (TC) is parsed
// up to its question only: its records may be cut off, and it is asked
// again over TCP. Compression loops, names that run past the message
// and malformed RDATA are errors (dnsmessage bounds every read).
func parseMessage(b []byte) (*message, error) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", errMsg, err)
	}
	m := &message{ID: h.ID, Response: h.Response, Truncated: h.Truncated, RCode: int(h.RCode)}
	if m.Question, err = p.AllQuestions(); err != nil {
		return nil, fmt.Errorf("%w: question: %w", errMsg, err)
	}
	if m.Truncated {
		return m, nil
	}
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: answer: %w", errMsg, err)
		}
		rr, ok, err := parseRecord(&p, rh, p.SkipAnswer)
		if err != nil {
			return nil, fmt.Errorf("%w: answer %s %s: %w", errMsg, rh.Name, typeString(uint16(rh.Type)), err)
		}
		if ok {
			m.Answer = append(m.Answer, rr)
		}
	}
	if err := p.SkipAllAuthorities(); err != nil {
		return nil, fmt.Errorf("%w: authority: %w", errMsg, err)
	}
	for {
		rh, err := p.AdditionalHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: additional: %w", errMsg, err)
		}
		if uint16(rh.Type) == typeOPT {
			m.RCode = int(rh.ExtendedRCode(h.RCode))
		}
		rr, ok, err := parseRecord(&p, rh, p.SkipAdditional)
		if err != nil {
			return nil, fmt.Errorf("%w: additional %s %s: %w", errMsg, rh.Name, typeString(uint16(rh.Type)), err)
		}
		if ok {
			m.Extra = append(m.Extra, rr)
		}
	}
	return m, nil
}

// parseRecord reads the RDATA of the record rh heads, or skips it when
// the resolver does not use its type (ok false).
func parseRecord(p *dnsmessage.Parser, rh dnsmessage.ResourceHeader, skip func() error) (rr record, ok bool, err error) {
	rr = record{Name: rh.Name.String(), Type: uint16(rh.Type), TTL: rh.TTL}
	switch rr.Type {
	case typeA:
		a, err := p.AResource()
		if err != nil {
			return rr, false, err
		}
		rr.Addr = netip.AddrFrom4(a.A)
	case typeAAAA:
		a, err := p.AAAAResource()
		if err != nil {
			return rr, false, err
		}
		rr.Addr = netip.AddrFrom16(a.AAAA)
	case typeCNAME:
		c, err := p.CNAMEResource()
		if err != nil {
			return rr, false, err
		}
		rr.Target = c.CNAME.String()
	case typeSRV:
		s, err := p.SRVResource()
		if err != nil {
			return rr, false, err
		}
		rr.Priority, rr.Weight, rr.Port, rr.Target = s.Priority, s.Weight, s.Port, s.Target.String()
	case typeNAPTR:
		u, err := p.UnknownResource()
		if err != nil {
			return rr, false, err
		}
		if rr.NAPTR, err = parseNAPTR(u.Data); err != nil {
			return rr, false, err
		}
	default:
		return rr, false, skip()
	}
	return rr, true, nil
}
