package config_test

import (
	"fmt"

	"github.com/deskphone/phone/firmware/config"
)

func ExampleParse() {
	data := []byte(`accounts:
  - user: "1001"
    domain: pbx.example.com
    transport: udpx
codecs: [PCMU, G729]
nat:
  keepalive: 25s
  stun: stun.example.net
`)
	_, err := config.Parse("phone.yaml", data)
	fmt.Println(err)
	// Output:
	// phone.yaml:4: accounts[0].transport: "udpx" is not one of udp, tcp, tls
	// phone.yaml:5: codecs[1]: "G729" is not one of G722, PCMU, PCMA, OPUS
	// phone.yaml:8: nat.stun: unknown key (known keys: binding_lifetime, change_check, early_udp, ice, keepalive, media_timeout, static_external, strategies, stun_servers, turn, upnp)
}

func ExampleDefault() {
	c := config.Default()
	fmt.Println(c.Codecs, c.Ptime, c.Ports.SIP, c.Ports.Media, c.API.Listen)
	// Output: [G722 PCMU PCMA] 20ms 5060-5069 16384-16483 127.0.0.1:8080
}
