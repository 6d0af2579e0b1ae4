package natlab

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

// These tests run in the fast tier: they check the lab's own logic
// without namespaces.

func TestIsLabNS(t *testing.T) {
	if Prefix != "dpl-" {
		t.Skipf("DESKPHONE_NATLAB_PREFIX=%s set", Prefix)
	}
	for name, want := range map[string]bool{
		"dpl-inet":      true,
		"dpl-srv":       true,
		"dpl-s12-ph":    true,
		"dpl-s3-nat":    true,
		"dpl-s3-cgn":    true,
		"dpl-probe":     true,
		"dpl-b-inet":    false, // another lab's (DESKPHONE_NATLAB_PREFIX=dpl-b-)
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

// TestSideBySide: the pivot takes phoned and baresip rows of the same
// NAT combination into one line and counts passes per phone.
func TestSideBySide(t *testing.T) {
	var r Results
	r.Add(Row{Section: "call phoned-phoned", Scenario: "full-cone -> symmetric / kamailio-plain", Phone: "phoned", Outcome: Pass, FirstAudio: 300 * time.Millisecond})
	r.Add(Row{Section: "call baresip-baresip", Scenario: "full-cone -> symmetric / kamailio-plain", Phone: "baresip stun", Outcome: Fail})
	r.Add(Row{Section: "call baresip-baresip", Scenario: "symmetric -> symmetric / kamailio-plain", Phone: "baresip stun", Outcome: Pass})
	r.Add(Row{Section: "registration", Scenario: "full-cone / kamailio-plain", Phone: "phoned", Outcome: Pass})
	var b strings.Builder
	r.WriteMarkdown(&b, 90*time.Second)
	out := b.String()
	for _, want := range []string{
		"Run: 4 cells, 3 PASS, 1 FAIL, 0 SKIP, in 1m30s.",
		"### side by side, kamailio-plain",
		"| full-cone -> symmetric | PASS 0.3 s | - | FAIL | - | - |",
		"| symmetric -> symmetric | - | - | PASS - | - | - |",
		"| **passed** | **1/1** | **0/0** | **1/2** | **0/0** | **0/0** |",
		"### registration",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "side by side, kamailio-nathelper") {
		t.Errorf("empty nathelper table written:\n%s", out)
	}
}

// TestNetstring: ctrl_tcp framing round-trips and bad frames are errors,
// not panics.
func TestNetstring(t *testing.T) {
	in := string(netstring([]byte(`{"event":true}`))) + string(netstring(nil))
	r := bufio.NewReader(strings.NewReader(in))
	for _, want := range []string{`{"event":true}`, ""} {
		got, err := readNetstring(r)
		if err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	for _, bad := range []string{"x:", "-1:", "3:abc;", "99999999999:", "5:ab"} {
		if _, err := readNetstring(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzNetstring: no input makes the ctrl_tcp reader or the message
// handler panic.
func FuzzNetstring(f *testing.F) {
	f.Add([]byte(`14:{"event":true},`))
	f.Add([]byte(`40:{"response":true,"ok":false,"token":"1"},`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := &Baresip{resps: map[string]string{}, changed: make(chan struct{})}
		r := bufio.NewReader(strings.NewReader(string(data)))
		for {
			msg, err := readNetstring(r)
			if err != nil {
				return
			}
			b.handle(msg)
		}
	})
}

func TestLabPrefix(t *testing.T) {
	for in, want := range map[string]string{"": "dpl-", "dpl-b-": "dpl-b-", "dpl-x": "dpl-x"} {
		if got, err := labPrefix(in); err != nil || got != want {
			t.Errorf("labPrefix(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"dpl-lead-", "lab-", "dpl"} {
		if _, err := labPrefix(bad); err == nil {
			t.Errorf("labPrefix(%q) accepted: it would fall back to the shared prefix", bad)
		}
	}
}
