package dhcp

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
)

func TestProvisionURL(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts map[byte][]byte
		want string
	}{
		{"none", nil, ""},
		{"66 url", map[byte][]byte{66: []byte("http://10.0.0.1/phones/")}, "http://10.0.0.1/phones/"},
		{"66 https", map[byte][]byte{66: []byte("https://prov.example.net/p")}, "https://prov.example.net/p"},
		{"66 bare host", map[byte][]byte{66: []byte("prov.example.net")}, "http://prov.example.net"},
		{"66 C string", map[byte][]byte{66: []byte("http://10.0.0.1/p\x00")}, "http://10.0.0.1/p"},
		{"66 tftp ignored", map[byte][]byte{66: []byte("tftp://10.0.0.1/")}, ""},
		{"66 credentials ignored", map[byte][]byte{66: []byte("http://u:p@h/")}, ""},
		{"150", map[byte][]byte{150: {10, 0, 0, 7, 10, 0, 0, 8}}, "http://10.0.0.7"},
		{"66 over 150", map[byte][]byte{66: []byte("http://a/"), 150: {10, 0, 0, 7}}, "http://a/"},
		{"43 with prefix wins", map[byte][]byte{43: []byte("deskphone:https://ours/p"), 66: []byte("http://theirs/")}, "https://ours/p"},
		{"43 without prefix ignored", map[byte][]byte{43: {1, 4, 't', 'e', 's', 't'}, 66: []byte("http://a/")}, "http://a/"},
		{"junk", map[byte][]byte{66: []byte("http://a b/"), 150: {0, 0, 0, 0}}, ""},
	} {
		m := &Message{Options: tc.opts}
		if got := ProvisionURL(m); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The client asks for the provisioning options and names its vendor
// class; the lease carries the URL from the ACK.
func TestLeaseCarriesProvisionURL(t *testing.T) {
	c := &Client{MAC: []byte{2, 0, 0, 0, 0, 1}}
	m, err := Parse(c.request(Discover, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []byte{43, 66, 150} {
		if !slices.Contains(m.Options[optParamList], o) {
			t.Errorf("option %d not requested", o)
		}
	}
	if !bytes.Equal(m.Options[optVendorClass], []byte(VendorClass)) {
		t.Errorf("vendor class %q", m.Options[optVendorClass])
	}
	ack := &Message{Op: 2, YIAddr: netip.MustParseAddr("10.0.0.5"), Options: map[byte][]byte{optMsgType: {Ack}, 66: []byte("http://10.0.0.1/p")}}
	ack2, err := Parse(ack.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	l, err := leaseFromAck(ack2)
	if err != nil || l.ProvisionURL != "http://10.0.0.1/p" {
		t.Fatalf("lease %+v, %v", l, err)
	}
}

func FuzzProvisionURL(f *testing.F) {
	f.Add([]byte("deskphone:http://x/"), []byte("http://y/"), []byte{10, 0, 0, 1})
	f.Add([]byte{}, []byte("host\x00"), []byte{})
	f.Fuzz(func(t *testing.T, o43, o66, o150 []byte) {
		u := ProvisionURL(&Message{Options: map[byte][]byte{43: o43, 66: o66, 150: o150}})
		if u != "" && httpURL(u) != u {
			t.Fatalf("%q is not stable", u)
		}
	})
}
