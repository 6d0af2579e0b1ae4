package sip

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"

	siplib "github.com/emiago/sipgo/sip"
)

// TestIdentityOf: the far end's identity from P-Asserted-Identity (the
// first sip, sips or tel URI of it) or else From/To, with display names
// quoted, escaped, unquoted or in UTF-8, and numbers from sip user parts
// (escapes undone, user parameters dropped) and tel URIs.
func TestIdentityOf(t *testing.T) {
	for _, tc := range []struct {
		name     string
		headers  string
		fallback string
		want     Identity
		ok       bool
	}{
		{"from plain", `From: "Bob" <sip:bob@example.com>;tag=1`, "From",
			Identity{"Bob", "bob", "sip:bob@example.com"}, true},
		{"from escapes", `From: "Al \"Big\" \\ Smith" <sip:al@example.com>;tag=1`, "From",
			Identity{`Al "Big" \ Smith`, "al", "sip:al@example.com"}, true},
		{"from utf-8", `From: "Zoë Ðurić 山田" <sip:%2B4930123@example.com;user=phone>;tag=1`, "From",
			Identity{"Zoë Ðurić 山田", "+4930123", "sip:%2B4930123@example.com;user=phone"}, true},
		{"from unquoted tokens", "From: Joe Bloggs <sip:+4930;npdi@example.com>;tag=1", "From",
			Identity{"Joe Bloggs", "+4930", "sip:+4930;npdi@example.com"}, true},
		{"from addr-spec", "From: sip:carol@example.com;tag=1", "From",
			Identity{"", "carol", "sip:carol@example.com"}, true},
		{"to", `To: "Desk" <sips:desk@example.com>`, "To",
			Identity{"Desk", "desk", "sips:desk@example.com"}, true},
		{"pai over from", "From: \"Anon\" <sip:anonymous@anonymous.invalid>;tag=1\r\n" +
			"P-Asserted-Identity: \"Reception, Main\" <sip:100@pbx.example.com>, <tel:+1-555-0100>", "From",
			Identity{"Reception, Main", "100", "sip:100@pbx.example.com"}, true},
		{"pai tel first", "From: <sip:x@y>;tag=1\r\nP-Asserted-Identity: <tel:+15550100;ext=12>", "From",
			Identity{"", "+15550100", "tel:+15550100;ext=12"}, true},
		{"pai skips other schemes", "From: <sip:x@y>;tag=1\r\nP-Asserted-Identity: <mailto:a@b>, \"Q\" <sip:q@h>", "From",
			Identity{"Q", "q", "sip:q@h"}, true},
		{"malformed pai falls back", "From: \"F\" <sip:f@h>;tag=1\r\nP-Asserted-Identity: \"unterminated <sip:p@h>", "From",
			Identity{"F", "f", "sip:f@h"}, true},
		{"pai only, no fallback", "From: <sip:x@y>;tag=1", "", Identity{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" + tc.headers +
				"\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
			if !strings.Contains(tc.headers, "To:") {
				raw = strings.Replace(raw, "Call-ID", "To: <sip:b@h>\r\nCall-ID", 1)
			}
			if !strings.Contains(tc.headers, "From:") {
				raw = strings.Replace(raw, "Call-ID", "From: <sip:a@h>;tag=9\r\nCall-ID", 1)
			}
			msg, err := siplib.ParseMessage([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := identityOf(msg.(*siplib.Request), tc.fallback)
			if ok != tc.ok || got != tc.want {
				t.Errorf("identity %+v %v, want %+v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestParseNameAddrBad: malformed values are errors, never a guess.
func TestParseNameAddrBad(t *testing.T) {
	for _, v := range []string{
		``, `"`, `"no end <sip:a@b>`, `"name" sip:a@b`, `<sip:a@b`, `<>`, `"x" <sip:a@b> junk`,
		"\"bad\\\r\" <sip:a@b>", "\"ctl\x01\" <sip:a@b>", "<sip:a@b\xff>", `nocolon`, `<1abc:x>`,
		`na"me <sip:a@b>`, `sip:a@b?x=y`,
	} {
		if na, err := parseNameAddr(v); err == nil {
			t.Errorf("parseNameAddr(%q) = %+v, want an error", v, na)
		}
	}
	if na, err := parseNameAddr("Joe \t  Bloggs <sip:j@b>;x=1"); err != nil || na.Name != "Joe Bloggs" || na.URI != "sip:j@b" || na.Params != ";x=1" {
		t.Errorf("unquoted display name: %+v %v", na, err)
	}
	if _, err := parseNameAddrs(`<sip:a@b>, "x" <sip:c@d>,`); err == nil {
		t.Error("a trailing comma parsed")
	}
}

// TestCallIdentity: through tools/pbx, bob sees alice's tricky display
// name (quotes, a backslash, UTF-8) exactly as she set it, and her
// number; alice sees bob's number from the To she sent.
func TestCallIdentity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw := newPBXWorld(t, "MD5")
		an, bn := pw.w.host("10.0.0.2"), pw.w.host("10.0.0.3")
		pw.start(t)
		name := `Zoë "Z" O\Brien, Ltd`
		a := newPhone(t, an, func(c *Config) {
			c.Account = Account{User: "alice", Password: "a-secret", Domain: "pbx.test", Registrar: "10.0.0.1:5060", DisplayName: name}
		})
		b := newPhone(t, bn, func(c *Config) {
			c.Account = Account{User: "bob", Password: "b-secret", Domain: "pbx.test", Registrar: "10.0.0.1:5060"}
		})
		a.waitReg(t, RegRegistered)
		b.waitReg(t, RegRegistered)
		ab, err := a.ua.Dial(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		ba := b.waitIncoming(t)
		if got, want := ba.Identity(), (Identity{name, "alice", "sip:alice@pbx.test"}); got != want {
			t.Errorf("bob sees %+v, want %+v", got, want)
		}
		if got, want := ba.Remote(), `"Zoë \"Z\" O\\Brien, Ltd" <sip:alice@pbx.test>`; got != want {
			t.Errorf("bob's Remote %s, want %s", got, want)
		}
		if st := ba.Stats(); st.Identity.Name != name {
			t.Errorf("Stats identity %+v", st.Identity)
		}
		if got, want := ab.Identity(), (Identity{"", "bob", "sip:bob@pbx.test"}); got != want {
			t.Errorf("alice sees %+v, want %+v", got, want)
		}
		ba.Answer()
		a.waitCall(t, ab, StateTalking)
		ab.Hangup()
		b.waitCall(t, ba, StateEnded)
	})
}
