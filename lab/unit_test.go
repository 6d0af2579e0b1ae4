package lab

import (
	"strings"
	"testing"
	"time"
)

// These tests run in the fast tier: they check the lab's own logic
// without namespaces.

func TestIsLabNS(t *testing.T) {
	if Prefix != "dpl-" {
		t.Skipf("LAB_PREFIX=%s set", Prefix)
	}
	for name, want := range map[string]bool{
		"dpl-inet":      true,
		"dpl-srv":       true,
		"dpl-s12-ph":    true,
		"dpl-s3-nat":    true,
		"dpl-s3-cgn":    true,
		"dpl-probe":     true,
		"dpl-b-inet":    false, // another lab's (LAB_PREFIX=dpl-b-)
		"dpl-b-s1-ph":   false,
		"dpl-s1-phx":    false,
		"other-inet":    false,
		"dpl-":          false,
		"dpl-inet-more": false,
	} {
		if got := IsLabNS(name); got != want {
			t.Errorf("IsLabNS(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestNATRulesInput: every NAT kind drops unsolicited WAN input to the
// box itself after letting replies in, and only symmetric randomises
// ports.
func TestNATRulesInput(t *testing.T) {
	for _, k := range []NATKind{FullCone, RestrictedCone, PortRestricted, Symmetric, ALG} {
		r := natRules(k, "10.1.0.2", 30*time.Second)
		in := r[strings.Index(r, "chain c_in"):]
		in = in[:strings.Index(in, "}")]
		est := strings.Index(in, `iifname "wan" ct state established,related accept`)
		drop := strings.Index(in, `iifname "wan" drop`)
		if !strings.Contains(in, "hook input") || est < 0 || drop < est {
			t.Errorf("%s: input chain wrong:\n%s", k, in)
		}
		if got := strings.Contains(r, "fully-random"); got != (k == Symmetric) {
			t.Errorf("%s: fully-random = %v", k, got)
		}
		if !strings.Contains(r, "timeout 30s") && (k == FullCone || k == RestrictedCone) {
			t.Errorf("%s: cone set timeout missing:\n%s", k, r)
		}
	}
}

func TestParseMustPass(t *testing.T) {
	m := ParseMustPass("# c\nregistration: full-cone / kamailio-plain: phoned # x\n\n  a: b: c  \n")
	if len(m) != 2 || !m["registration: full-cone / kamailio-plain: phoned"] || !m["a: b: c"] {
		t.Fatalf("got %v", m)
	}
}
