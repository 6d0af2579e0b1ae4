package natlab

import (
	"strings"
	"testing"
	"time"
)

// TestHairpinRules: the hairpin recipe learns owners from outbound UDP
// only, loops only LAN packets to the NAT's own public address, and
// rewrites the source of looped packets to that address; the two
// phones' port ranges do not overlap (masquerading must keep every
// port for the map's key to be the external port).
func TestHairpinRules(t *testing.T) {
	r := hairpinRules("198.18.1.5", "10.0.5.0/24", 30*time.Second)
	for _, want := range []string{
		`iifname "lan" oifname "wan" meta l4proto udp update @owner { udp sport timeout 30s : ip saddr }`,
		`iifname "lan" ip daddr 198.18.1.5 meta l4proto udp dnat to udp dport map @owner`,
		`oifname "lan" ip saddr 10.0.5.0/24 ct status dnat snat to 198.18.1.5`,
		"hook prerouting priority dstnat", "hook postrouting priority srcnat",
	} {
		if !strings.Contains(r, want) {
			t.Errorf("hairpin rules lack %q:\n%s", want, r)
		}
	}
	if strings.Contains(r, `iifname "wan"`) {
		t.Errorf("hairpin rules touch WAN input (the NAT's filtering must stay the recipe's):\n%s", r)
	}
	a, b := SameNATPorts[0], SameNATPorts[1]
	for _, x := range [][2]int{a.SIP, a.Media} {
		for _, y := range [][2]int{b.SIP, b.Media} {
			if x[0] <= y[1] && y[0] <= x[1] {
				t.Errorf("port ranges %v and %v overlap", x, y)
			}
		}
	}
}
