package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const commonYAML = `accounts:
  - domain: pbx.example.net
    password: common
codecs: [PCMA]
provision:
  interval: 12h
`

func TestOverlayMergesKeyByKey(t *testing.T) {
	base := Default()
	base.API.Token = "device-token-0123456789"
	base.Accounts = []Account{{User: "old", Domain: "old.example", Enabled: true, Transport: "udp", Expires: time.Hour, DNDCode: 486, ForwardNoAnswerAfter: 20 * time.Second, SRTP: "off"}}
	mac := `accounts:
  - user: "1001"
    password: secret
    display_name: Front desk
`
	c, err := Overlay(base, Layer{"http://p/phone.yaml", []byte(commonYAML)}, Layer{"http://p/001122334455.yaml", []byte(mac)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Accounts) != 1 {
		t.Fatalf("accounts = %+v", c.Accounts)
	}
	a := c.Accounts[0]
	if a.User != "1001" || a.Domain != "pbx.example.net" || a.Password != "secret" || a.DisplayName != "Front desk" || a.AuthUser != "1001" || a.Registrar != "pbx.example.net" {
		t.Errorf("account = %+v", a)
	}
	if len(c.Codecs) != 1 || c.Codecs[0] != "PCMA" || c.Provision.Interval != 12*time.Hour {
		t.Errorf("codecs %v interval %v", c.Codecs, c.Provision.Interval)
	}
	if c.API.Token != base.API.Token {
		t.Errorf("api.token = %q: keys no layer names keep the base's value", c.API.Token)
	}
	if base.Accounts[0].User != "old" {
		t.Error("base changed")
	}
}

func TestOverlayErrorsNameLayerAndLine(t *testing.T) {
	mac := "accounts:\n  - user: \"1001\"\n    transport: carrier-pigeon\n"
	_, err := Overlay(Default(), Layer{"http://p/phone.yaml", []byte(commonYAML)}, Layer{"http://p/mac.yaml", []byte(mac)})
	if err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(err.Error(), "http://p/mac.yaml:3: accounts[0].transport:") {
		t.Errorf("err = %v", err)
	}
	_, err = Overlay(Default(), Layer{"http://p/phone.yaml", []byte("codecs: [PCMA]\nbogus: 1\n")})
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "http://p/phone.yaml:2: bogus:") {
		t.Errorf("err = %v", err)
	}
	_, err = Overlay(Default(), Layer{"http://p/phone.yaml", []byte("codecs: [PCMA\n")})
	if !errors.Is(err, ErrSyntax) || !strings.HasPrefix(err.Error(), "http://p/phone.yaml:") {
		t.Errorf("err = %v", err)
	}
	// A missing domain is reported where the account is, in the layer
	// that made it.
	_, err = Overlay(Default(), Layer{"a.yaml", []byte("codecs: [PCMU]\n")}, Layer{"b.yaml", []byte("accounts:\n  - user: x\n")})
	if err == nil || !strings.Contains(err.Error(), "b.yaml:2: accounts[0].domain") {
		t.Errorf("err = %v", err)
	}
}

func TestProvisionSectionRoundTrip(t *testing.T) {
	src := `provision:
  url: https://prov.example.net/phones
  interval: 1h
  username: phone
  password: pw
firmware:
  url: https://prov.example.net/fw/deskphone-1.2.bundle
  version: "1.2"
`
	c, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse("out.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Provision != c.Provision || c2.Firmware != c.Firmware {
		t.Errorf("round trip: %+v %+v", c2.Provision, c2.Firmware)
	}
	d, _ := Marshal(Default())
	if strings.Contains(string(d), "provision") || strings.Contains(string(d), "firmware") {
		t.Error("defaults write provision or firmware sections")
	}
	for _, bad := range []string{
		"provision: {url: ftp://x/}", "provision: {url: 'http://u:p@x/'}", "provision: {interval: 1s}",
		"provision: {password: x}", "provision: {cert_file: a}", "firmware: {url: http://x/b}", "firmware: {version: '2'}",
	} {
		if _, err := Parse("bad.yaml", []byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func FuzzOverlay(f *testing.F) {
	f.Add([]byte(commonYAML), []byte("accounts:\n  - user: a\n"))
	f.Add([]byte("a: &x {b: *x}"), []byte("accounts: [{user: x}]"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		base := Default()
		c, err := Overlay(base, Layer{"a", a}, Layer{"b", b})
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Overlay result does not validate: %v", verr)
			}
		}
		if base.Codecs[0] != Default().Codecs[0] {
			t.Fatal("base changed")
		}
	})
}

func ExampleOverlay() {
	common := Layer{Name: "http://prov/p/phone.yaml", Data: []byte("accounts:\n  - domain: pbx.example.net\ncodecs: [PCMA]\n")}
	phone := Layer{Name: "http://prov/p/0011223344aa.yaml", Data: []byte("accounts:\n  - user: \"2001\"\n    transport: pigeon\n")}
	_, err := Overlay(Default(), common, phone)
	fmt.Println(err)
	phone.Data = []byte("accounts:\n  - user: \"2001\"\n")
	c, _ := Overlay(Default(), common, phone)
	fmt.Println(c.Accounts[0].User, c.Accounts[0].Domain, c.Codecs)
	// Output:
	// http://prov/p/0011223344aa.yaml:3: accounts[0].transport: "pigeon" is not one of udp, tcp, tls
	// 2001 pbx.example.net [PCMA]
}
