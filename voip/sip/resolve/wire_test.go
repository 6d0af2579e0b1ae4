package resolve

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// packRRs builds an answer to a NAPTR query for example.com. holding rrs
// (zone-file lines), with miekg/dns as the reference encoder.
func packRRs(t testing.TB, rrs ...string) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeNAPTR)
	m.Response = true
	m.Compress = true
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		if rr.Header().Rrtype == dns.TypeA && strings.Contains(s, "extra") {
			m.Extra = append(m.Extra, rr)
			continue
		}
		m.Answer = append(m.Answer, rr)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseMessageMatchesMiekg: every record type the resolver reads
// parses to what miekg/dns (the encoder) put in, compressed names too.
func TestParseMessageMatchesMiekg(t *testing.T) {
	b := packRRs(t,
		`example.com. 300 IN NAPTR 10 20 "S" "SIP+D2U" "!^.*$!sip:x@example.com!" _sip._udp.example.com.`,
		`example.com. 300 IN NAPTR 65535 0 "" "" "" .`,
		`_sip._udp.example.com. 120 IN SRV 10 50 5060 pbx1.example.com.`,
		`pbx1.example.com. 60 IN A 192.0.2.1`,
		`pbx1.example.com. 60 IN AAAA 2001:db8::1`,
		`alias.example.com. 45 IN CNAME pbx1.example.com.`,
		`example.com. 45 IN TXT "skipped"`,
		`extra.example.com. 7 IN A 192.0.2.9`,
	)
	m, err := parseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []record{
		{Name: "example.com.", Type: typeNAPTR, TTL: 300, NAPTR: naptr{Order: 10, Preference: 20, Flags: "S", Service: "SIP+D2U", Regexp: "!^.*$!sip:x@example.com!", Replacement: "_sip._udp.example.com."}},
		{Name: "example.com.", Type: typeNAPTR, TTL: 300, NAPTR: naptr{Order: 65535, Replacement: "."}},
		{Name: "_sip._udp.example.com.", Type: typeSRV, TTL: 120, Priority: 10, Weight: 50, Port: 5060, Target: "pbx1.example.com."},
		{Name: "pbx1.example.com.", Type: typeA, TTL: 60, Addr: netip.MustParseAddr("192.0.2.1")},
		{Name: "pbx1.example.com.", Type: typeAAAA, TTL: 60, Addr: netip.MustParseAddr("2001:db8::1")},
		{Name: "alias.example.com.", Type: typeCNAME, TTL: 45, Target: "pbx1.example.com."},
	}
	if len(m.Answer) != len(want) {
		t.Fatalf("%d answers, want %d: %+v", len(m.Answer), len(want), m.Answer)
	}
	for i := range want {
		if m.Answer[i] != want[i] {
			t.Errorf("answer %d: %+v, want %+v", i, m.Answer[i], want[i])
		}
	}
	if len(m.Extra) != 1 || m.Extra[0].Addr != netip.MustParseAddr("192.0.2.9") || m.Extra[0].TTL != 7 {
		t.Errorf("extra: %+v", m.Extra)
	}
	if !m.Response || m.Truncated || m.RCode != 0 || len(m.Question) != 1 || m.Question[0].Name.String() != "example.com." {
		t.Errorf("header: %+v", m)
	}
}

// TestParseMessageBad: hostile or broken answers are errors, never a
// panic, and say what is wrong.
func TestParseMessageBad(t *testing.T) {
	good := packRRs(t, `pbx1.example.com. 60 IN A 192.0.2.1`)
	// A header, one question whose name points at itself.
	loop := []byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "header"},
		{"short header", good[:11], "header"},
		{"cut in the question", good[:14], "question"},
		{"cut in the answer", good[:len(good)-3], "answer"},
		{"compression loop", loop, "question"},
		{"A of 3 bytes", func() []byte {
			b := bytes.Clone(good[:len(good)-1])
			binary.BigEndian.PutUint16(b[len(b)-5:], 3)
			return b
		}(), "answer"},
		{"NAPTR compressed replacement", naptrMsg(t, []byte{0, 1, 0, 1, 1, 's', 0, 0, 0xC0, 12}), "compressed"},
		{"NAPTR cut", naptrMsg(t, []byte{0, 1, 0, 1, 5, 's'}), "flags is 5 bytes"},
		{"NAPTR trailing", naptrMsg(t, []byte{0, 1, 0, 1, 0, 0, 0, 0, 9}), "after the replacement"},
	} {
		m, err := parseMessage(tc.b)
		if err == nil || !errors.Is(err, errMsg) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %+v %v, want an error about %q", tc.name, m, err, tc.want)
		}
	}
}

// naptrMsg is an answer holding one NAPTR record with the given RDATA.
func naptrMsg(t testing.TB, rdata []byte) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeNAPTR)
	m.Response = true
	m.Answer = append(m.Answer, &dns.RFC3597{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeNAPTR, Class: dns.ClassINET, Ttl: 60}, Rdata: "00"})
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	b = b[:len(b)-3] // RDLENGTH 1, RDATA 00
	b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
	return append(b, rdata...)
}

func TestParseNAPTR(t *testing.T) {
	rd := []byte{0, 10, 0, 20, 1, 's', 7, 'S', 'I', 'P', '+', 'D', '2', 'U', 0, 4, '_', 's', 'i', 'p', 3, 'c', 'o', 'm', 0}
	n, err := parseNAPTR(rd)
	if err != nil || n != (naptr{Order: 10, Preference: 20, Flags: "s", Service: "SIP+D2U", Replacement: "_sip.com."}) {
		t.Fatalf("%+v %v", n, err)
	}
	for i := range len(rd) {
		if _, err := parseNAPTR(rd[:i]); !errors.Is(err, errNAPTR) {
			t.Errorf("cut at %d: %v", i, err)
		}
	}
	long := []byte{0, 0, 0, 0, 0, 0, 0}
	for range 5 {
		long = append(long, 63)
		long = append(long, bytes.Repeat([]byte{'a'}, 63)...)
	}
	if _, err := parseNAPTR(append(long, 0)); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("300-byte replacement: %v", err)
	}
	if _, err := parseNAPTR([]byte{0, 0, 0, 0, 0, 0, 0, 3, 'a', '.', 'b', 0}); err == nil || !strings.Contains(err.Error(), "dot") {
		t.Errorf("dot in a label: %v", err)
	}
}

// packNAPTR is the inverse of parseNAPTR for the fuzz round trip.
func packNAPTR(n naptr) []byte {
	b := binary.BigEndian.AppendUint16(nil, n.Order)
	b = binary.BigEndian.AppendUint16(b, n.Preference)
	for _, s := range []string{n.Flags, n.Service, n.Regexp} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	if n.Replacement != "." {
		for l := range strings.SplitSeq(strings.TrimSuffix(n.Replacement, "."), ".") {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	return append(b, 0)
}

// FuzzParseNAPTR: any RDATA parses or fails with errNAPTR; what parses
// packs back to the same bytes, with a valid replacement name.
func FuzzParseNAPTR(f *testing.F) {
	f.Add([]byte{0, 10, 0, 20, 1, 's', 7, 'S', 'I', 'P', '+', 'D', '2', 'U', 0, 4, '_', 's', 'i', 'p', 3, 'c', 'o', 'm', 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 1, 0, 1, 1, 's', 0, 0, 0xC0, 12})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseNAPTR(b)
		if err != nil {
			if !errors.Is(err, errNAPTR) {
				t.Fatalf("error %v is not errNAPTR", err)
			}
			return
		}
		if !isDomainName(n.Replacement) {
			t.Fatalf("replacement %q is not a domain name", n.Replacement)
		}
		if again := packNAPTR(n); !bytes.Equal(again, b) {
			t.Fatalf("%x -> %+v -> %x", b, n, again)
		}
	})
}

// FuzzParseMessage: any bytes parse or fail with errMsg; what parses has
// records with fully qualified owner names of at most 255 bytes on the
// wire and addresses of the right family.
func FuzzParseMessage(f *testing.F) {
	f.Add(packRRs(f, `example.com. 300 IN NAPTR 10 20 "s" "SIP+D2U" "" _sip._udp.example.com.`,
		`_sip._udp.example.com. 120 IN SRV 10 50 5060 pbx1.example.com.`, `pbx1.example.com. 60 IN A 192.0.2.1`,
		`pbx1.example.com. 60 IN AAAA 2001:db8::1`, `extra.example.com. 7 IN A 192.0.2.9`))
	f.Add(packRRs(f, `alias.example.com. 45 IN CNAME pbx1.example.com.`))
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMessage(b)
		if err != nil {
			if !errors.Is(err, errMsg) {
				t.Fatalf("error %v is not errMsg", err)
			}
			return
		}
		for _, rr := range append(m.Answer, m.Extra...) {
			if !strings.HasSuffix(rr.Name, ".") || len(rr.Name) > maxNameLen {
				t.Fatalf("owner %q", rr.Name)
			}
			switch rr.Type {
			case typeA:
				if !rr.Addr.Is4() {
					t.Fatalf("A %v", rr.Addr)
				}
			case typeAAAA:
				if !rr.Addr.Is6() {
					t.Fatalf("AAAA %v", rr.Addr)
				}
			case typeCNAME, typeSRV, typeNAPTR:
			default:
				t.Fatalf("record of type %d kept", rr.Type)
			}
		}
	})
}
