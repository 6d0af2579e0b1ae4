package config

import (
	"strings"
	"testing"
)

func TestWebPasswordHash(t *testing.T) {
	const good = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
	c, err := Parse("phone.yaml", []byte("web:\n  password_hash: \""+good+"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Web.PasswordHash != good {
		t.Errorf("PasswordHash = %q", c.Web.PasswordHash)
	}
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("out.yaml", out)
	if err != nil || back.Web.PasswordHash != good {
		t.Errorf("round trip: %v, %q", err, back.Web.PasswordHash)
	}
	for _, bad := range []string{"secret", "$2a$10$short", "$1$10$" + good[7:], "$2a$03$" + good[7:], "$2a$10$" + good[7:] + "x"} {
		_, err := Parse("phone.yaml", []byte("log:\n  level: info\nweb:\n  password_hash: '"+bad+"'\n"))
		if err == nil || !strings.HasPrefix(err.Error(), "phone.yaml:4: web.password_hash: is not a bcrypt hash") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
	_, err = Parse("phone.yaml", []byte("web:\n  password: x\n"))
	if err == nil || !strings.Contains(err.Error(), "phone.yaml:2: web.password: unknown key") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestClone(t *testing.T) {
	c := full()
	n := c.Clone()
	n.Accounts[0].Password = "changed"
	n.Codecs[0] = "X"
	n.NAT.STUNServers = append(n.NAT.STUNServers[:0], "x:1")
	n.SIP.Allow[0] = "10.0.0.1"
	for k := range n.BoardOptions {
		n.BoardOptions[k] = "changed"
	}
	if c.Accounts[0].Password == "changed" || c.Codecs[0] == "X" || c.NAT.STUNServers[0] == "x:1" || c.SIP.Allow[0] == "10.0.0.1" {
		t.Error("Clone shares slices with the original")
	}
	for _, v := range c.BoardOptions {
		if v == "changed" {
			t.Error("Clone shares the board options map")
		}
	}
}
