package daemon

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/phone"
)

// TestStoreThroughAPI: the history and phonebook the config names are
// opened (a corrupt history does not stop the phone), served by the API
// through the adapter with the API's status codes, and saved.
func TestStoreThroughAPI(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.History.File = filepath.Join(dir, "history.json")
	cfg.Phonebook.File = filepath.Join(dir, "phonebook.yaml")
	if err := os.WriteFile(cfg.History.File, []byte("{torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Phonebook.File, []byte("entries:\n  - {name: Alice, numbers: [\"201\"], speed_dial: 2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	if err := d.openStore(); err != nil {
		t.Fatalf("openStore with a corrupt history: %v", err)
	}
	defer d.closeStore()
	if name, ok := d.store.phonebook.Lookup("sip:201@pbx"); !ok || name != "Alice" {
		t.Fatalf("Lookup = %q %v", name, ok)
	}
	d.store.history.Add(phone.HistoryEntry{Kind: "missed", Line: 0, Remote: "sip:201@pbx", Name: "Alice", Start: time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)})

	h := api.Handler(api.Config{Actions: actions{d}, Status: func() any { return nil }})
	do := func(method, path, body string) (int, string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Host = "127.0.0.1:8080"
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	for _, c := range []struct {
		method, path, body string
		code               int
		has                string
	}{
		{"GET", "/api/history?kind=missed", "", 200, `"name": "Alice"`},
		{"GET", "/api/phonebook/1", "", 200, `"speed_dial": "2"`},
		{"GET", "/api/phonebook/9", "", 404, "no phonebook entry"},
		{"POST", "/api/phonebook", `{"name":"Bob","numbers":[{"number":"202"}]}`, 201, `"id": "2"`},
		{"POST", "/api/phonebook", `{"name":"","numbers":[{"number":"203"}]}`, 400, "name: required"},
		{"POST", "/api/phonebook", `{"name":"Carol","numbers":[{"number":"203"}],"speed_dial":"2"}`, 409, "already the speed dial of Alice"},
		{"PUT", "/api/phonebook/7", `{"name":"X","numbers":[{"number":"1"}]}`, 404, ""},
		{"DELETE", "/api/phonebook/2", "", 200, ""},
		{"DELETE", "/api/history", "", 200, ""},
		{"GET", "/api/history", "", 200, `"history": []`},
	} {
		if code, body := do(c.method, c.path, c.body); code != c.code || !strings.Contains(body, c.has) {
			t.Errorf("%s %s %s: %d %s, want %d with %q", c.method, c.path, c.body, code, body, c.code, c.has)
		}
	}
	if n, err := (actions{d}).SpeedDial(t.Context(), "2"); err != nil || n != "201" {
		t.Errorf("SpeedDial(2) = %q, %v", n, err)
	}
	d.closeStore()
	d.closeStore()
	if _, err := os.Stat(cfg.History.File + ".corrupt"); err != nil {
		t.Errorf("the corrupt history was not kept aside: %v", err)
	}
	saved, _ := os.ReadFile(cfg.History.File)
	if !strings.Contains(string(saved), `"entries": []`) {
		t.Errorf("the cleared history was not saved: %s", saved)
	}

	// No store (a daemon the lead has not wired yet): 409, not a panic.
	h = api.Handler(api.Config{Actions: actions{&Daemon{}}, Status: func() any { return nil }})
	if code, _ := do("GET", "/api/phonebook", ""); code != http.StatusConflict {
		t.Errorf("no store: %d, want 409", code)
	}
}
