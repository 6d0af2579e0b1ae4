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
