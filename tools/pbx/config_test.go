package pbx

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestConfigErrors(t *testing.T) {
	for name, c := range map[string]Config{
		"algorithm":       {Algorithm: "SHA-1"},
		"user":            {Users: map[string]string{"a b": "x"}},
		"service":         {Users: map[string]string{"echo": "x"}},
		"tls no cert":     {TLS: netip.MustParseAddrPort("127.0.0.1:0")},
		"expires":         {MinExpires: time.Hour, MaxExpires: time.Minute},
		"domain name":     {Domains: map[string]map[string]string{"a b": {"x": "y"}}},
		"domain is realm": {Realm: "pbx.test", Domains: map[string]map[string]string{"PBX.test": {"x": "y"}}},
		"domain user":     {Domains: map[string]map[string]string{"other.test": {"x@y": "z"}}},
	} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err %v, want ErrConfig", name, err)
		}
	}
}

// TestHopForBinding: without NATFix a UDP binding is reached at its
// Contact as registered (the phone must advertise its public address);
// with NATFix, or over TCP, at the address the REGISTER came from.
func TestHopForBinding(t *testing.T) {
	src := netip.MustParseAddrPort("203.0.113.7:40000")
	udp := Binding{Contact: sip.Uri{Scheme: "sip", User: "a", Host: "192.168.1.2", Port: 5062}, Source: src, Transport: "UDP"}
	s := &Server{}
	h, ok := s.hopForBinding(udp)
	if !ok || h.dest != netip.MustParseAddrPort("192.168.1.2:5062") || h.transport != "UDP" {
		t.Fatalf("no NATFix: %+v %v", h, ok)
	}
	s.cfg.NATFix = true
	if h, _ := s.hopForBinding(udp); h.dest != src {
		t.Fatalf("NATFix: %+v", h)
	}
	s.cfg.NATFix = false
	tcp := udp
	tcp.Transport = "TCP"
	if h, _ := s.hopForBinding(tcp); h.dest != src || h.transport != "TCP" {
		t.Fatalf("TCP: %+v", h)
	}
	tls := udp
	tls.Contact.Port = 0
	tls.Contact.UriParams = sip.NewParams()
	tls.Contact.UriParams.Add("transport", "tls")
	if h, _ := hopForURI(tls.Contact); h.dest.Port() != 5061 || h.transport != "TLS" {
		t.Fatalf("TLS default port: %+v", h)
	}
	if _, ok := hopForURI(sip.Uri{Host: "pbx.example"}); ok {
		t.Fatal("host names are not resolved")
	}
}

func TestStartClose(t *testing.T) {
	b := newBench(t, nil)
	if err := b.pbx.Start(); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	if err := b.pbx.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.pbx.Close(); err != nil {
		t.Fatal("Close not idempotent:", err)
	}
	if err := b.pbx.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
}
