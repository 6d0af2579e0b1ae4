package api

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/deskphone/phone/firmware/config"
)

// TestPatchConfigMerges: PATCH merges a partial document (RFC 7396):
// mappings key by key, null back to the default, lists replaced; the
// secrets stay.
func TestPatchConfigMerges(t *testing.T) {
	h, path, fc := configServer(t)
	w := doCfg(h, "PATCH", "/api/config", "application/json",
		`{"nat": {"keepalive": "15s", "upnp": null}, "audio": {"volume": 60}, "codecs": ["PCMA"]}`)
	if w.Code != 200 {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	c := fc.Config()
	if c.NAT.Keepalive.String() != "15s" || c.Audio.Volume != 60 || len(c.Codecs) != 1 || c.Codecs[0] != "PCMA" {
		t.Errorf("merged: nat %+v, audio %+v, codecs %v", c.NAT, c.Audio, c.Codecs)
	}
	if c.NAT.UPnP || c.NAT.TURN.Password != "turnpw" || c.Accounts[0].Password != "s3cret" || len(c.Accounts) != 2 {
		t.Errorf("null upnp (sim default off) and the secrets: nat %+v, accounts %+v", c.NAT, c.Accounts)
	}
	saved, err := config.Load(path)
	if err != nil || saved.Audio.Volume != 60 || saved.API.Token != "tok-0123456789abcdef" {
		t.Fatalf("saved: %v %+v", err, saved)
	}
	// YAML works too, and a redacted password keeps the account's.
	w = doCfg(h, "PATCH", "/api/config", "application/yaml",
		"accounts:\n  - user: \"1001\"\n    password: (redacted)\n    domain: pbx.example.com\n    display_name: Desk\n")
	if w.Code != 200 {
		t.Fatalf("PATCH yaml: %d %s", w.Code, w.Body)
	}
	if c := fc.Config(); len(c.Accounts) != 1 || c.Accounts[0].Password != "s3cret" || c.Accounts[0].DisplayName != "Desk" {
		t.Errorf("accounts after PATCH: %+v", c.Accounts)
	}
}

// TestPatchConfigProblems: a PATCH with problems is 400 with each
// problem at the body's line (or only the field when the body does not
// hold it), and nothing is saved.
func TestPatchConfigProblems(t *testing.T) {
	h, path, fc := configServer(t)
	before, _ := os.ReadFile(path)
	cur := fc.Config()
	for _, c := range []struct {
		name, ct, body string
		code           int
		want           []string
	}{
		{"bad values", "application/json", "{\n \"ptime\": \"25ms\",\n \"nat\": {\"keepalive\": \"10s\",\n  \"stun\": 1}\n}", 400,
			[]string{"body:2: ptime: 25ms is not a multiple of 10ms", "body:4: nat.stun: unknown key"}},
		{"account without domain", "application/json", "{\"accounts\": [\n {\"user\": \"1003\"}]}", 400,
			[]string{"body:2: accounts[0].domain: required"}},
		{"short token", "application/json", `{"api": {"token": "short"}}`, 400, []string{"body:1: api.token: 5 characters is too short"}},
		{"not an object", "application/json", `[1, 2]`, 400, []string{"body:1: a PATCH body is one mapping"}},
		{"syntax", "application/json", "{\"a\": [}", 400, []string{"body: yaml: did not find expected node content"}},
		{"list for a mapping", "application/json", `{"nat": [1]}`, 400, []string{"body:1: nat: expected a mapping"}},
		{"text/plain", "text/plain", `{"audio": {"volume": 1}}`, 415, nil},
		{"form", "application/x-www-form-urlencoded", "audio=1", 415, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := doCfg(h, "PATCH", "/api/config", c.ct, c.body)
			if w.Code != c.code {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, c.code)
			}
			for _, want := range c.want {
				if !strings.Contains(w.Body.String(), want) {
					t.Errorf("answer lacks %q:\n%s", want, w.Body)
				}
			}
		})
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) || fc.Config() != cur {
		t.Error("a refused PATCH changed the file or the store")
	}
}

// TestConfigWritesCrossSite: a page on another origin cannot change the
// config: a foreign Origin is 403 and a rebound Host 421, before the body
// is read.
func TestConfigWritesCrossSite(t *testing.T) {
	h, _, fc := configServer(t)
	cur := fc.Config()
	for _, m := range []string{"PUT", "PATCH"} {
		for _, hdr := range []map[string]string{
			{"Content-Type": "application/json", "Origin": "http://evil.example"},
			{"Content-Type": "application/json", "Host": "evil.example"},
		} {
			code := req(t, h, m, "/api/config", `{"audio": {"volume": 1}}`, hdr)
			if code != http.StatusForbidden && code != http.StatusMisdirectedRequest {
				t.Errorf("%s %v: %d", m, hdr, code)
			}
		}
	}
	if fc.Config() != cur {
		t.Error("a cross-site write changed the config")
	}
}

// TestUnknownFieldIs400: a body with a field the endpoint does not take
// is a malformed request (400), never a conflict, and nothing is done.
func TestUnknownFieldIs400(t *testing.T) {
	r := &rec{}
	h := Handler(Config{Actions: r, Status: func() any { return "ok" }})
	js := map[string]string{"Content-Type": "application/json"}
	for _, c := range []struct{ path, body string }{
		{"/api/call", `{"to": "1002", "bogus": 1}`},
		{"/api/call", `{"to": 1002}`},
		{"/api/call", `{"to": "1002"} {}`},
		{"/api/call", `not json`},
		{"/api/hangup", `{"call": "x"}`},
		{"/api/dtmf", `{"digits": "1", "x": true}`},
		{"/api/key", `[]`},
	} {
		if code := req(t, h, "POST", c.path, c.body, js); code != http.StatusBadRequest {
			t.Errorf("POST %s %s: %d, want 400", c.path, c.body, code)
		}
	}
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/api/lines/0", `{"dnd": true, "dnd_cod": 486}`},
		{"POST", "/api/phonebook", `{"name": "A", "number": "1", "extra": 1}`},
		{"PUT", "/api/phonebook/x", `{"nme": "A"}`},
		{"POST", "/api/reject", `{"call_id": "x", "code": "486"}`},
		{"POST", "/api/transfer", `{"too": "1003"}`},
	} {
		if code := req(t, h, c.method, c.path, c.body, js); code != http.StatusBadRequest {
			t.Errorf("%s %s %s: %d, want 400", c.method, c.path, c.body, code)
		}
	}
	if len(r.calls) != 0 {
		t.Errorf("malformed requests reached the phone: %v", r.calls)
	}
}

// FuzzParseConfigPatch: any body is merged and checked without a panic;
// a refusal is a list of problems, cur is never changed, and no
// redacted secret is kept as the secret.
func FuzzParseConfigPatch(f *testing.F) {
	f.Add([]byte(`{"nat": {"keepalive": "15s", "upnp": null}, "audio": {"volume": 60}}`))
	f.Add([]byte("accounts:\n  - user: \"1001\"\n    domain: pbx.example.com\n    password: (redacted)\n"))
	f.Add([]byte(`{"board_options": {"i2c_bus": "1"}, "codecs": ["PCMA"]}`))
	f.Add([]byte(`{"nat": [1], "x": {"y": null}}`))
	f.Add([]byte("- 1\n"))
	cur, err := config.Parse("phone.yaml", []byte(savedConfig))
	if err != nil {
		f.Fatal(err)
	}
	before, err := config.Marshal(cur)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseConfigPatch(body, cur)
		if after, _ := config.Marshal(cur); string(after) != string(before) {
			t.Fatal("the current config changed")
		}
		if err != nil {
			if len(config.Problems(err)) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			return
		}
		for _, a := range c.Accounts {
			if a.Password == Redacted {
				t.Fatal("a redacted password was kept as the password")
			}
		}
		if c.API.Token == Redacted || c.NAT.TURN.Password == Redacted || c.Web.PasswordHash == Redacted {
			t.Fatal("a redacted secret was kept as the secret")
		}
	})
}
