package daemon

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/firmware/ui"
	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sip"
)

// TestScreenView converts the phone's status, the registration and the
// NAT report into the screen's view.
func TestScreenView(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 41, 0, 0, time.UTC)
	base := viewInput{
		Now: now, Labels: []string{"1001"}, Registrar: []bool{true},
		Regs:   []sip.RegStatus{{State: sip.RegRegistered, ContactAddr: netip.MustParseAddrPort("192.168.1.20:5060")}},
		NAT:    portmgr.Report{Type: "port-restricted-cone"},
		Codecs: map[string]string{"c1": "PCMA"},
	}

	// The contract's calls: identity, hold flags, times, codec.
	in := base
	in.Phone = phone.Status{State: "talking", MissedCalls: 2, Lines: []phone.LineStatus{{Line: 0, LineSettings: phone.LineSettings{DND: true}}},
		Calls: []phone.CallStatus{
			{ID: "c1", State: "talking", Identity: phone.Identity{Name: "Alice", Number: "1002"}, Active: true, Answered: now.Add(-time.Minute)},
			{ID: "c2", State: "talking", LocalHold: true, Remote: "sip:1003@pbx"},
			{ID: "c3", State: "waiting", Identity: phone.Identity{Number: "1004"}},
		}}
	v := buildView(in)
	if len(v.Calls) != 3 || v.Calls[0].Name != "Alice" || v.Calls[0].Codec != "PCMA" || !v.Calls[0].Active ||
		v.Calls[0].State != ui.CallTalking || !v.Calls[0].Answered.Equal(now.Add(-time.Minute)) {
		t.Fatalf("first call %+v", v.Calls)
	}
	if v.Calls[1].State != ui.CallHeld || v.Calls[1].Number != "1003" || v.Calls[2].State != ui.CallWaiting {
		t.Fatalf("held / waiting calls %+v", v.Calls[1:])
	}
	if v.MissedCalls != 2 || !v.DND || !v.Lines[0].DND || v.Lines[0].Reg != ui.RegRegistered || v.Lines[0].Label != "1001" {
		t.Fatalf("counters and lines: %+v", v)
	}
	if v.Trouble != "" || !strings.Contains(v.NATAdvice, "sent first") {
		t.Fatalf("trouble %q, advice %q", v.Trouble, v.NATAdvice)
	}

	// The single-call phone: one call from the old fields.
	in = base
	in.Phone = phone.Status{State: "ringing", CallID: "c9", Remote: "sip:1005@127.0.0.1"}
	if v := buildView(in); len(v.Calls) != 1 || v.Calls[0].State != ui.CallIncoming || v.Calls[0].Number != "1005" {
		t.Fatalf("legacy ringing call: %+v", v.Calls)
	}
	in.Phone = phone.Status{State: "talking", CallID: "c9", Remote: "1005"}
	in.Answered = map[string]time.Time{"c9": now.Add(-time.Second)}
	if v := buildView(in); len(v.Calls) != 1 || v.Calls[0].Number != "1005" || !v.Calls[0].Answered.Equal(now.Add(-time.Second)) {
		t.Fatalf("legacy talking call: %+v", v.Calls)
	}
	in.Answered = nil
	in.Phone = phone.Status{State: "dialing", Digits: "12"}
	if v := buildView(in); !v.OffHook || v.Dialing != "12" || len(v.Calls) != 0 {
		t.Fatalf("dialling: %+v", v)
	}
	in.Phone = phone.Status{State: "busy", Error: "486 Busy Here"}
	if v := buildView(in); !v.OffHook || v.Notice != "Failed: 486 Busy Here" {
		t.Fatalf("busy: %+v", v)
	}

	for in, want := range map[string]string{
		"sip:1002@127.0.0.1":                           "1002",
		"\"Bob\" <sips:bob@example.com;transport=tls>": "bob",
		"sip:pbx.example.com":                          "pbx.example.com",
		"SIP:+33123@h;user=phone":                      "+33123",
		"1004":                                         "1004",
		"":                                             "",
	} {
		if got := numberOf(in); got != want {
			t.Errorf("numberOf(%q) = %q, want %q", in, got, want)
		}
	}

	// Trouble, most serious first.
	in = base
	in.Regs = []sip.RegStatus{{State: sip.RegFailed, Code: 403, Reason: "Forbidden"}}
	in.NAT.ALGSeen = true
	if v := buildView(in); v.Trouble != "Line 1 not registered: 403 Forbidden" || v.Lines[0].Reg != ui.RegFailed {
		t.Fatalf("registration trouble %q", v.Trouble)
	}
	in.Regs = base.Regs
	if v := buildView(in); !strings.Contains(v.Trouble, "ALG") || !strings.Contains(v.NATAdvice, "turn SIP ALG off") {
		t.Fatalf("ALG trouble %q, advice %q", v.Trouble, v.NATAdvice)
	}
	in.NAT = portmgr.Report{Type: "symmetric", MediaStrategy: portmgr.StrategySTUN}
	if v := buildView(in); !strings.Contains(v.Trouble, "Symmetric NAT") || !strings.Contains(v.NATAdvice, "TURN") {
		t.Fatalf("symmetric NAT trouble %q", v.Trouble)
	}
	in.NAT.MediaStrategy = portmgr.StrategyTURN
	if v := buildView(in); v.Trouble != "" {
		t.Fatalf("symmetric NAT through TURN is trouble: %q", v.Trouble)
	}
	in.Transport = sip.TransportStatus{State: sip.TransportDown, LastError: "no route"}
	if v := buildView(in); v.Trouble != "Network down: no route" {
		t.Fatalf("transport trouble %q", v.Trouble)
	}
	// A line without a registrar is not in trouble for being unregistered.
	in = base
	in.Registrar = []bool{false}
	in.Regs = []sip.RegStatus{{State: sip.RegUnregistered}}
	if v := buildView(in); v.Lines[0].Reg != ui.RegNone || v.Trouble != "" {
		t.Fatalf("direct line: %+v, trouble %q", v.Lines[0], v.Trouble)
	}
}
