package config

import (
	"errors"
	"strings"
	"testing"
)

// TestTURNCAFile: nat.turn.ca_file parses, survives a save and is
// refused without the TLS leg.
func TestTURNCAFile(t *testing.T) {
	c, err := Parse("phone.yaml", []byte("nat:\n  turn: {server: \"192.0.2.1:443\", username: u, password: p, transport: tls, ca_file: /data/turn-ca.pem}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.NAT.TURN.CAFile != "/data/turn-ca.pem" {
		t.Errorf("parsed %+v", c.NAT.TURN)
	}
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("saved.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if back.NAT.TURN.CAFile != "/data/turn-ca.pem" {
		t.Errorf("after a save %+v", back.NAT.TURN)
	}
	in := "nat:\n  turn: {server: \"192.0.2.1:3478\", username: u, password: p, ca_file: /ca.pem}\n"
	want := `phone.yaml:2: nat.turn.ca_file: a CA file needs nat.turn.transport tls, not ""`
	if _, err := Parse("phone.yaml", []byte(in)); !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("%q: %v\nwant %s", in, err, want)
	}
}
