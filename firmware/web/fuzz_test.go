package web

import (
	crand "crypto/rand"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
)

// clean reports whether a parsed text field is what a form field may
// become: trimmed, printable UTF-8, at most maxField bytes.
func clean(s string) bool {
	return len(s) <= maxField && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// FuzzParseNumbers: the phonebook's numbers field. Never a panic; what
// it accepts is at least one clean number without spaces.
func FuzzParseNumbers(f *testing.F) {
	for _, s := range []string{"1002 office", "1002\r\n\r\nsip:bob@example.com home phone", "", " ", "\x00", strings.Repeat("1\n", 30)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ns, err := parseNumbers(v)
		if err != nil {
			if _, ok := err.(formError); !ok {
				t.Fatalf("error %T", err)
			}
			return
		}
		if len(ns) == 0 || len(ns) > maxNumbers {
			t.Fatalf("%d numbers accepted", len(ns))
		}
		for _, n := range ns {
			if n.Number == "" || strings.ContainsAny(n.Number, " \t") || !clean(n.Number) || !clean(n.Label) {
				t.Fatalf("accepted %+v", n)
			}
		}
		// What formatNumbers writes reads back the same.
		again, err := parseNumbers(formatNumbers(ns))
		if err != nil || len(again) != len(ns) {
			t.Fatalf("round trip: %v %v", again, err)
		}
		for i := range ns {
			if again[i] != ns[i] {
				t.Fatalf("round trip: %+v != %+v", again[i], ns[i])
			}
		}
	})
}

// FuzzForms feeds one urlencoded body to every form parser.
func FuzzForms(f *testing.F) {
	for _, s := range []string{
		"user=1001&password=pw&domain=127.0.0.1&expires=300&enabled=on",
		"dnd=on&dnd_code=480&forward_busy=1003&no_answer_after=15",
		"strategies=stun%2C+static&keepalive=20s&sip_min=5070&sip_max=5079&media_min=20000&media_max=20099",
		"input=tone%3A440&volume=55&tones=de",
		"to=echo&line=1", "name=Bob&numbers=1002+desk&speed_dial=2", "keepalive=-1s&volume=1e9&line=%00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		if a, err := parseAccount(form, config.DefaultAccount()); err == nil {
			for _, s := range []string{a.User, a.AuthUser, a.Domain, a.Registrar, a.OutboundProxy, a.DisplayName} {
				if !clean(s) {
					t.Fatalf("account field %q", s)
				}
			}
			if a.Expires < 60e9 {
				t.Fatalf("expires %s", a.Expires)
			}
		}
		if l, err := parseLine(form); err == nil {
			if l.DNDCode != 480 && l.DNDCode != 486 || l.Forward.NoAnswerAfter < 0 || l.Forward.NoAnswerAfter > api.MaxNoAnswerAfter {
				t.Fatalf("line %+v", l)
			}
		}
		c := config.Default()
		if err := parseNetwork(form, c); err == nil && c.NAT.Keepalive < 0 {
			t.Fatalf("keepalive %s", c.NAT.Keepalive)
		}
		c = config.Default()
		if err := parseAudio(form, c); err == nil && (c.Audio.Volume < 0 || c.Audio.Volume > 100) {
			t.Fatalf("volume %d", c.Audio.Volume)
		}
		if to, line, err := parseDial(form); err == nil && (to == "" || !clean(to) || line != nil && (*line < 0 || *line > 255)) {
			t.Fatalf("dial %q %v", to, line)
		}
		if e, err := parseEntry(form); err == nil && (e.Name == "" || len(e.Numbers) == 0 || len(e.SpeedDial) > 1) {
			t.Fatalf("entry %+v", e)
		}
	})
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	if _, err := GeneratePassword(strings.NewReader("short")); err == nil {
		t.Fatal("a random source that ran dry was accepted")
	}
	for range 50 {
		pw, err := GeneratePassword(crand.Reader)
		if err != nil || len(pw) != 16 || strings.Trim(pw, passwordAlphabet) != "" {
			t.Fatalf("%q %v", pw, err)
		}
		seen[pw] = true
	}
	if len(seen) < 50 {
		t.Errorf("%d distinct passwords of 50", len(seen))
	}
	h, err := HashPassword("sixteen chars ok")
	if err != nil || !passwordOK(h, "sixteen chars ok") || passwordOK(h, "sixteen chars ok!") || passwordOK("", "") {
		t.Errorf("hash %q %v", h, err)
	}
	if c, err := config.Parse("x", []byte("web:\n  password_hash: '"+h+"'\n")); err != nil || c.Web.PasswordHash != h {
		t.Errorf("the config refuses HashPassword's hash: %v", err)
	}
	if _, err := HashPassword(strings.Repeat("x", 73)); err == nil {
		t.Error("a password bcrypt would cut accepted")
	}
}

func TestFirstPassword(t *testing.T) {
	for _, c := range []struct {
		listen, hash string
		want         bool
	}{
		{":8080", "", true},
		{"0.0.0.0:8080", "", true},
		{"192.0.2.1:8080", "", true},
		{"127.0.0.1:8080", "", false},
		{"localhost:8080", "", false},
		{"", "", false},
		{":8080", testHash, false},
	} {
		cfg := config.Default()
		cfg.Web.PasswordHash = c.hash
		st := &memStore{cur: cfg}
		pw, err := FirstPassword(st, c.listen, crand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if got := pw != ""; got != c.want {
			t.Errorf("listen %q hash %q: password %q", c.listen, c.hash, pw)
			continue
		}
		if c.want && (st.saves != 1 || !passwordOK(st.Config().Web.PasswordHash, pw)) {
			t.Errorf("listen %q: the hash of %q was not saved", c.listen, pw)
		}
		if !c.want && st.saves != 0 {
			t.Errorf("listen %q: saved", c.listen)
		}
	}
	// A config that cannot be saved is an error, and nothing changes.
	cfg := config.Default()
	cfg.Ports.SIP.Min = 80 // invalid: SaveConfig refuses
	st := &memStore{cur: cfg}
	if pw, err := FirstPassword(st, ":8080", crand.Reader); err == nil || pw != "" || st.Config().Web.PasswordHash != "" {
		t.Errorf("unsaveable config: %q %v", pw, err)
	}
}
