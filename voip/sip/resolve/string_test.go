package resolve

import (
	"net/netip"
	"testing"
)

// TestTargetString: a target names its transport, address and the name
// it came from; the zero Target (nothing resolved) is empty, so a
// registration that cannot resolve shows no server rather than
// ":invalid AddrPort".
func TestTargetString(t *testing.T) {
	tg := Target{Transport: "udp", Addr: netip.MustParseAddrPort("192.0.2.1:5060"), Name: "pbx1.example.com"}
	if got, want := tg.String(), "udp:192.0.2.1:5060 (pbx1.example.com)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (Target{}).String(); got != "" {
		t.Errorf("zero Target String() = %q, want \"\"", got)
	}
}
