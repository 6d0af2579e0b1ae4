package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDNSFields: sip.dns_servers and sip.failover_hold parse, default
// and are checked; transport auto is accepted; an IPv6 registrar or
// proxy is accepted, unless it is link-local (no zone in SIP or SDP); an
// IPv6 STUN or TURN server is accepted (a link-local TURN server is
// not).
func TestDNSFields(t *testing.T) {
	c, err := Parse("phone.yaml", []byte("sip: {dns_servers: [192.0.2.53, \"[2001:db8::53]:5353\"], failover_hold: 90s}\n"+
		"accounts:\n  - {user: a, domain: pbx.example.com, transport: AUTO}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SIP.DNSServers) != 2 || c.SIP.FailoverHold != 90*time.Second || c.Accounts[0].Transport != "auto" {
		t.Errorf("parsed %+v %+v", c.SIP, c.Accounts[0])
	}
	if d := Default(); d.SIP.FailoverHold != 5*time.Minute || d.SIP.DNSServers != nil {
		t.Errorf("defaults %+v", d.SIP)
	}
	for in, want := range map[string]string{
		"sip: {dns_servers: [dns.example.com]}\n":                                                            `phone.yaml:1: sip.dns_servers[0]: "dns.example.com" is not an IP address or ip:port`,
		"sip: {dns_servers: [\"192.0.2.1:0\"]}\n":                                                            `phone.yaml:1: sip.dns_servers[0]: "192.0.2.1:0" is not an IP address or ip:port`,
		"sip: {failover_hold: 1s}\n":                                                                         `phone.yaml:1: sip.failover_hold: 1s is out of range 10s..1h0m0s`,
		"accounts:\n  - {user: a, domain: b.example, registrar: \"[fe80::1]:5060\"}\n":                       `phone.yaml:2: accounts[0].registrar: "[fe80::1]:5060": an IPv6 link-local address cannot be used`,
		"accounts:\n  - {user: a, domain: b.example, outbound_proxy: \"sip:[fe80::1];lr\"}\n":                `phone.yaml:2: accounts[0].outbound_proxy: "sip:[fe80::1];lr": an IPv6 link-local address cannot be used`,
		"accounts:\n  - {user: a, domain: b.example, registrar: \"[ff02::1]\"}\n":                            `phone.yaml:2: accounts[0].registrar: "[ff02::1]": not a server's address`,
		"nat: {turn: {server: \"[fe80::3]:3478\", username: u, password: p}}\n":                              `phone.yaml:1: nat.turn.server: "[fe80::3]:3478": an IPv6 link-local address cannot be used`,
		"nat: {turn: {server: t.example:3478, username: u, password: p, fallbacks: [\"[ff02::1]:3478\"]}}\n": `phone.yaml:1: nat.turn.fallbacks[0]: "[ff02::1]:3478": not a server's address`,
	} {
		_, err := Parse("phone.yaml", []byte(in))
		if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v\nwant %s", in, err, want)
		}
	}
	for _, ok := range []string{
		"accounts:\n  - {user: a, domain: b.example, registrar: \"[2001:db8::1]:5060\"}\n",
		"accounts:\n  - {user: a, domain: b.example, registrar: \"fd00::5\", outbound_proxy: \"sip:[2001:db8::1];lr\"}\n",
		"nat: {stun_servers: [\"[2001:db8::3]:3478\", \"192.0.2.3:3478\"]}\n",
		"nat: {turn: {server: \"[2001:db8::3]:3478\", username: u, password: p, fallbacks: [\"[fd00::3]:3478\", 192.0.2.3:3478]}}\n",
	} {
		if _, err := Parse("phone.yaml", []byte(ok)); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, ok := range []string{"192.0.2.1:5060", "sip:pbx.example.com;transport=tcp", "sips:a@pbx.example.com:5061", "::ffff:192.0.2.1"} {
		if sipHostIs6(ok) {
			t.Errorf("%q taken for IPv6", ok)
		}
	}
}
