package sip

import (
	"net/netip"
	"testing"

	siplib "github.com/emiago/sipgo/sip"
)

func regOK(contacts ...string) *siplib.Response {
	res := siplib.NewResponse(200, "OK")
	for _, c := range contacts {
		h := &siplib.ContactHeader{}
		if err := siplib.ParseUri(c, &h.Address); err != nil {
			panic(err)
		}
		res.AppendHeader(h)
	}
	return res
}

func TestEchoedContact(t *testing.T) {
	ours := siplib.Uri{Scheme: "sip", User: "1001", Host: "203.0.113.7", Port: 5062}
	want := netip.MustParseAddrPort("203.0.113.7:5062")
	alg := netip.MustParseAddrPort("198.51.100.9:40000")
	for _, tc := range []struct {
		name     string
		contacts []string
		want     netip.AddrPort
	}{
		{"unchanged", []string{"sip:1001@203.0.113.7:5062"}, want},
		{"unchanged among others", []string{"sip:1001@192.0.2.5:5060", "sip:1001@203.0.113.7:5062"}, want},
		{"rewritten by an ALG", []string{"sip:1001@198.51.100.9:40000"}, alg},
		{"other user only", []string{"sip:1002@198.51.100.9:40000"}, netip.AddrPort{}},
		{"two unknown bindings", []string{"sip:1001@192.0.2.5:5060", "sip:1001@198.51.100.9:40000"}, netip.AddrPort{}},
		{"none", nil, netip.AddrPort{}},
		{"host name", []string{"sip:1001@phone.example:5060"}, netip.AddrPort{}},
	} {
		if got := echoedContact(regOK(tc.contacts...), ours); got != tc.want {
			t.Errorf("%s: echoed %v, want %v", tc.name, got, tc.want)
		}
	}
}
