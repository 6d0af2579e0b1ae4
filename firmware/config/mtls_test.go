package config

import (
	"errors"
	"strings"
	"testing"
)

// TestClientCertFields: tls_cert_file and tls_key_file parse and survive
// a save; they come as a pair and only with a transport that runs TLS.
func TestClientCertFields(t *testing.T) {
	c, err := Parse("phone.yaml", []byte("accounts:\n  - {user: a, domain: b.example, transport: tls, tls_cert_file: /data/a.pem, tls_key_file: /data/a.key}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Accounts[0]; a.TLSCertFile != "/data/a.pem" || a.TLSKeyFile != "/data/a.key" {
		t.Errorf("parsed %+v", a)
	}
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("saved.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if a := back.Accounts[0]; a.TLSCertFile != "/data/a.pem" || a.TLSKeyFile != "/data/a.key" {
		t.Errorf("after a save %+v", a)
	}
	for in, want := range map[string]string{
		"accounts:\n  - {user: a, domain: b.example, transport: tls, tls_cert_file: /a.pem}\n":   `phone.yaml:2: accounts[0].tls_key_file: required with tls_cert_file`,
		"accounts:\n  - {user: a, domain: b.example, transport: tls, tls_key_file: /a.key}\n":    `phone.yaml:2: accounts[0].tls_cert_file: required with tls_key_file`,
		"accounts:\n  - {user: a, domain: b.example, tls_cert_file: /a.pem, tls_key_file: /k}\n": `phone.yaml:2: accounts[0].tls_cert_file: a client certificate needs transport tls or auto, not "udp"`,
	} {
		_, err := Parse("phone.yaml", []byte(in))
		if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v\nwant %s", in, err, want)
		}
	}
}

// TestLineCodecsField: accounts[].codecs parses, survives a save, is
// checked like the top level's list, and LineCodecs prefers it.
func TestLineCodecsField(t *testing.T) {
	c, err := Parse("phone.yaml", []byte("accounts:\n  - {user: a, domain: b.example, codecs: [pcma]}\n  - {user: c, domain: b.example}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.LineCodecs(c.Accounts[0]); len(got) != 1 || got[0] != "PCMA" {
		t.Errorf("line 0 codecs %v", got)
	}
	if got := c.LineCodecs(c.Accounts[1]); len(got) != 3 || got[0] != "G722" {
		t.Errorf("line 1 codecs %v, want the default", got)
	}
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("saved.yaml", out)
	if err != nil || len(back.Accounts[0].Codecs) != 1 || back.Accounts[1].Codecs != nil {
		t.Errorf("after a save: %v %+v", err, back.Accounts)
	}
	n := c.Clone()
	n.Accounts[0].Codecs[0] = "PCMU"
	if c.Accounts[0].Codecs[0] != "PCMA" {
		t.Error("Clone shares an account's codecs")
	}
	_, err = Parse("phone.yaml", []byte("accounts:\n  - {user: a, domain: b.example, codecs: [G729, PCMA, pcma]}\n"))
	for _, want := range []string{`phone.yaml:2: accounts[0].codecs[0]: "G729" is not one of G722, PCMU, PCMA, OPUS`, `accounts[0].codecs[2]: "PCMA" is listed twice`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad line codecs: %v, want %s", err, want)
		}
	}
}
