package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskphone/phone/firmware/config"
)

const hashA = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"

const savedConfig = `accounts:
  - user: "1001"
    password: "s3cret"
    domain: pbx.example.com
  - user: "1002"
    password: "other"
    domain: pbx.example.com
nat:
  upnp: false
  turn:
    server: turn.example.com:3478
    username: u
    password: turnpw
api:
  listen: 127.0.0.1:8080
  token: tok-0123456789abcdef
web:
  password_hash: "` + hashA + `"
`

// configServer is an API with a FileConfig over a file holding
// savedConfig.
func configServer(t *testing.T) (http.Handler, string, *FileConfig) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "phone.yaml")
	if err := os.WriteFile(path, []byte(savedConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fc := NewFileConfig(path, c)
	h := Handler(Config{Actions: &rec{}, Status: func() any { return "ok" }, ConfigStore: fc})
	return h, path, fc
}

func doCfg(h http.Handler, method, path, ct, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Host = "127.0.0.1:8080"
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestGetConfigRedacts(t *testing.T) {
	h, _, _ := configServer(t)
	for _, q := range []string{"", "?format=yaml"} {
		w := doCfg(h, "GET", "/api/config"+q, "", "")
		if w.Code != 200 {
			t.Fatalf("GET /api/config%s: %d %s", q, w.Code, w.Body)
		}
		body := w.Body.String()
		for _, secret := range []string{"s3cret", "other", "turnpw", "tok-0123456789abcdef", hashA} {
			if strings.Contains(body, secret) {
				t.Errorf("GET /api/config%s shows a secret %q:\n%s", q, secret, body)
			}
		}
		if strings.Count(body, Redacted) != 5 || !strings.Contains(body, "pbx.example.com") {
			t.Errorf("GET /api/config%s: want 5 redacted secrets and the rest:\n%s", q, body)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(doCfg(h, "GET", "/api/config", "", "").Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if nat, _ := doc["nat"].(map[string]any); nat["upnp"] != false {
		t.Errorf("nat.upnp = %v", nat["upnp"])
	}
}

// TestPutConfigRoundTrip: what GET answers, sent back with one change,
// saves that change and keeps every redacted secret.
func TestPutConfigRoundTrip(t *testing.T) {
	h, path, fc := configServer(t)
	for _, ct := range []string{"application/yaml", "application/json"} {
		q := "?format=yaml"
		if ct == "application/json" {
			q = ""
		}
		got := doCfg(h, "GET", "/api/config"+q, "", "").Body.String()
		changed := strings.Replace(got, "pbx.example.com", "pbx2.example.com", 1)
		w := doCfg(h, "PUT", "/api/config", ct, changed)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"restart_required": true`) {
			t.Fatalf("PUT %s: %d %s", ct, w.Code, w.Body)
		}
		c, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if c.Accounts[0].Domain != "pbx2.example.com" || c.Accounts[0].Password != "s3cret" || c.Accounts[1].Password != "other" ||
			c.NAT.TURN.Password != "turnpw" || c.API.Token != "tok-0123456789abcdef" || c.Web.PasswordHash != hashA {
			t.Errorf("PUT %s saved %+v", ct, c)
		}
		if fc.Config().Accounts[0].Domain != "pbx2.example.com" {
			t.Errorf("the store still holds the old config")
		}
		// Back, so the next round matches by the first domain again.
		c.Accounts[0].Domain = "pbx.example.com"
		if _, err := fc.SaveConfig(c); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPutConfigProblems(t *testing.T) {
	h, path, _ := configServer(t)
	for _, c := range []struct {
		name, ct, body string
		code           int
		want           string
	}{
		{"invalid yaml", "application/yaml", "accounts:\n  - user: \"1001\"\n    transport: udpx\n", 400, "body:2: accounts[0].domain: required"},
		{"unknown key", "application/yaml", "log:\n  level: info\n  colour: red\n", 400, "body:3: log.colour: unknown key"},
		{"json lines", "application/json", "{\n \"log\": {\"level\": \"loud\"}\n}", 400, `body:2: log.level: \"loud\" is not one of`},
		{"redacted new account", "application/yaml", "accounts:\n  - user: \"1009\"\n    domain: pbx.example.com\n    password: (redacted)\n", 400, "body:4: accounts[0].password: (redacted), but the phone has no account 1009@pbx.example.com"},
		{"redacted alias", "application/yaml", "x: &a \"(redacted)\"\n", 400, "body:1: x: unknown key"},
		{"redacted escaped", "application/yaml", "nat:\n  turn:\n    server: turn.example.net:3478\n    username: u\n    password: \"\\x28redacted)\"\n", 400, "nat.turn.password: (redacted) where the phone could not tell"},
		{"bad hash", "application/yaml", "web:\n  password_hash: secret\n", 400, "body:2: web.password_hash: is not a bcrypt hash"},
		{"text/plain", "text/plain", "log:\n  level: info\n", 415, "application/json or application/yaml"},
		{"form", "application/x-www-form-urlencoded", "a=b", 415, ""},
		{"too large", "application/yaml", "# " + strings.Repeat("x", MaxConfigBytes) + "\n", 413, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := doCfg(h, "PUT", "/api/config", c.ct, c.body)
			if w.Code != c.code || !strings.Contains(w.Body.String(), c.want) {
				t.Errorf("%d %s\nwant %d with %q", w.Code, w.Body, c.code, c.want)
			}
		})
	}
	if b, _ := os.ReadFile(path); string(b) != savedConfig {
		t.Errorf("a refused PUT changed the file:\n%s", b)
	}
}

func TestConfigNeedsToken(t *testing.T) {
	_, _, fc := configServer(t)
	h := Handler(Config{Actions: &rec{}, Status: func() any { return "ok" }, ConfigStore: fc, Token: "0123456789abcdef", Listen: "0.0.0.0:8080"})
	if w := doCfg(h, "GET", "/api/config", "", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/config without the token: %d", w.Code)
	}
	if w := doCfg(h, "PUT", "/api/config", "application/yaml", "{}"); w.Code != http.StatusUnauthorized {
		t.Errorf("PUT /api/config without the token: %d", w.Code)
	}
}

func TestConfigOffWithoutStore(t *testing.T) {
	h := Handler(Config{Actions: &rec{}, Status: func() any { return "ok" }})
	if w := doCfg(h, "GET", "/api/config", "", ""); w.Code != http.StatusNotFound {
		t.Errorf("GET /api/config without a store: %d", w.Code)
	}
}

// TestWebMount: paths outside /api/ go to Config.Web without the token
// (the page logs in on its own), after the Host and Origin checks; /api/
// paths still need the token.
func TestWebMount(t *testing.T) {
	web := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	h := Handler(Config{Actions: &rec{}, Status: func() any { return "ok" }, Web: web, Token: "0123456789abcdef", Listen: "0.0.0.0:8080"})
	for _, c := range []struct {
		path string
		hdr  map[string]string
		code int
	}{
		{"/", nil, 299},
		{"/login", nil, 299},
		{"/apix", nil, 299},
		{"/api/status", nil, 401},
		{"/api", nil, 401},
		{"/login", map[string]string{"Host": "evil.example"}, 421},
		{"/login", map[string]string{"Origin": "http://evil.example"}, 403},
	} {
		if code := req(t, h, "GET", c.path, "", c.hdr); code != c.code {
			t.Errorf("GET %s %v: %d, want %d", c.path, c.hdr, code, c.code)
		}
	}
}

func FuzzParseConfigUpdate(f *testing.F) {
	f.Add([]byte(savedConfig))
	f.Add([]byte("accounts:\n  - user: \"1001\"\n    domain: pbx.example.com\n    password: (redacted)\napi:\n  token: '(redacted)'\n"))
	f.Add([]byte(`{"accounts": [{"user": "1001", "domain": "pbx.example.com", "password": "(redacted)"}], "nat": {"turn": {"password": "(redacted)"}}}`))
	f.Add([]byte("web: {password_hash: (redacted)}\n"))
	cur, err := config.Parse("phone.yaml", []byte(savedConfig))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseConfigUpdate(body, cur)
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

// TestPutConfigCompactJSON: a config sent back as compact JSON, every
// redacted secret on one line (as a script's json.dumps writes it), keeps
// each secret: they are put back in document order whatever order they
// were found in.
func TestPutConfigCompactJSON(t *testing.T) {
	h, path, _ := configServer(t)
	var doc any
	if err := json.Unmarshal(doCfg(h, "GET", "/api/config", "", "").Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	compact, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(compact), Redacted); n < 4 {
		t.Fatalf("%d redacted secrets in %s", n, compact)
	}
	changed := strings.Replace(string(compact), "pbx.example.com", "pbx2.example.com", 1)
	if w := doCfg(h, "PUT", "/api/config", "application/json", changed); w.Code != 200 {
		t.Fatalf("PUT compact JSON: %d %s", w.Code, w.Body)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Accounts[0].Password != "s3cret" || c.Accounts[1].Password != "other" || c.NAT.TURN.Password != "turnpw" ||
		c.API.Token != "tok-0123456789abcdef" || c.Web.PasswordHash != hashA {
		t.Errorf("secrets not kept: %+v", c)
	}
}
