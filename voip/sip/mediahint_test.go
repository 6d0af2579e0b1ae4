package sip

import (
	"net/netip"
	"strings"
	"testing"

	siplib "github.com/emiago/sipgo/sip"
)

func TestBottomViaReceived(t *testing.T) {
	for _, tc := range []struct {
		name string
		vias []string
		want string
	}{
		{"proxy-then-ata", []string{"SIP/2.0/UDP 198.51.100.20;branch=z9hG4bKp", "SIP/2.0/UDP 192.168.1.10:5060;received=203.0.113.7;rport=40000;branch=z9hG4bKa"}, "203.0.113.7"},
		{"one-line", []string{"SIP/2.0/UDP 198.51.100.20;branch=z9hG4bKp, SIP/2.0/UDP 192.168.1.10;received=203.0.113.8;branch=z9hG4bKa"}, "203.0.113.8"},
		{"no-received", []string{"SIP/2.0/UDP 198.51.100.20;branch=z9hG4bKp", "SIP/2.0/UDP 203.0.113.9;branch=z9hG4bKa"}, ""},
		{"private-received", []string{"SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKp", "SIP/2.0/UDP 192.168.1.10;received=10.1.2.3;branch=z9hG4bKa"}, ""},
		{"garbage-received", []string{"SIP/2.0/UDP 192.168.1.10;received=not-an-ip;branch=z9hG4bKa"}, ""},
		{"cgnat-received", []string{"SIP/2.0/UDP 192.168.1.10;received=100.64.1.1;branch=z9hG4bKa"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := "INVITE sip:alice@pbx.test SIP/2.0\r\n"
			for _, v := range tc.vias {
				raw += "Via: " + v + "\r\n"
			}
			raw += "From: <sip:bob@pbx.test>;tag=1\r\nTo: <sip:alice@pbx.test>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
			m, err := siplib.ParseMessage([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			got := bottomViaReceived(m.(*siplib.Request))
			want := netip.Addr{}
			if tc.want != "" {
				want = netip.MustParseAddr(tc.want)
			}
			if got != want {
				t.Errorf("got %v, want %v (vias %s)", got, want, strings.Join(tc.vias, " | "))
			}
		})
	}
}

func TestPrivateIP(t *testing.T) {
	for s, want := range map[string]bool{
		"192.168.1.2": true, "10.0.0.1": true, "172.16.5.5": true, "100.64.0.9": true, "169.254.1.1": true,
		"fd00::1": true, "203.0.113.5": false, "8.8.8.8": false, "2001:db8::1": false,
	} {
		if got := privateIP(netip.MustParseAddr(s)); got != want {
			t.Errorf("privateIP(%s) = %v, want %v", s, got, want)
		}
	}
}

// FuzzBottomViaReceived feeds arbitrary Via values through sipgo's parser
// and bottomViaReceived: no panic, and a result only when it is a public
// IP.
func FuzzBottomViaReceived(f *testing.F) {
	f.Add("SIP/2.0/UDP 192.168.1.10:5060;received=203.0.113.7;rport=40000;branch=z9hG4bKa")
	f.Add("SIP/2.0/UDP 198.51.100.20;branch=z9hG4bKp, SIP/2.0/UDP 10.0.0.2;received=203.0.113.8")
	f.Add("SIP/2.0/UDP [fd00::1];received=2001:db8::7")
	f.Add("SIP/2.0/UDP x;received=")
	f.Fuzz(func(t *testing.T, via string) {
		raw := "INVITE sip:a@b SIP/2.0\r\nVia: " + via + "\r\nFrom: <sip:b@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
		m, err := siplib.ParseMessage([]byte(raw))
		if err != nil {
			return
		}
		req, ok := m.(*siplib.Request)
		if !ok {
			return
		}
		if ip := bottomViaReceived(req); ip.IsValid() && (privateIP(ip) || !ip.IsGlobalUnicast()) {
			t.Fatalf("non-public hint %v from %q", ip, via)
		}
	})
}
