package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/phonebook"
)

func TestHistoryEndpoints(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 8, 30, 0, 0, time.UTC)
	r := &rec{history: []HistoryEntry{
		{ID: 3, Kind: "missed", Line: 1, Remote: "sip:201@pbx", Name: "Alice", Start: t0, Code: 487},
		{ID: 2, Kind: "placed", Line: 0, Remote: "1002", Start: t0.Add(-time.Hour), Duration: 61.5},
		{ID: 1, Kind: "received", Line: 0, Remote: "", Start: t0.Add(-2 * time.Hour)},
	}}
	run(t, r, []exchange{
		{"GET", "/api/history", ``, 200, `history "" 0`, `"name": "Alice"`},
		{"GET", "/api/history?kind=missed", ``, 200, `history "missed" 0`, `"id": 3`},
		{"GET", "/api/history?limit=1", ``, 200, `history "" 1`, `"start": "2026-12-04T08:30:00Z"`},
		{"GET", "/api/history?kind=placed&limit=5", ``, 200, `history "placed" 5`, `"duration": 61.5`},
		{"GET", "/api/history?kind=lost", ``, 400, "", "not one of"},
		{"GET", "/api/history?limit=0", ``, 400, "", "1..10000"},
		{"GET", "/api/history?limit=x", ``, 400, "", "1..10000"},
		{"GET", "/api/history?limit=1&limit=2", ``, 400, "", "2 times"},
		{"GET", "/api/history?sort=asc", ``, 400, "", "unknown query parameter"},
		// Redial: on the entry's line, or another.
		{"POST", "/api/history/3/dial", ``, 200, "callon 1 sip:201@pbx", ""},
		{"POST", "/api/history/2/dial", `{}`, 200, "callon 0 1002", ""},
		{"POST", "/api/history/3/dial", `{"line":0}`, 200, "callon 0 sip:201@pbx", ""},
		{"POST", "/api/history/3/dial", `{"line":9}`, 404, "callon 9 sip:201@pbx", ""},
		{"POST", "/api/history/3/dial", `{"to":"1"}`, 400, "", "unknown field"},
		{"POST", "/api/history/9/dial", ``, 404, "", "history entry 9"},
		{"POST", "/api/history/1/dial", ``, 409, "", "no number"},
		{"POST", "/api/history/x/dial", ``, 400, "", "not a valid id"},
		{"POST", "/api/history/-1/dial", ``, 400, "", ""},
		{"DELETE", "/api/history", ``, 200, "clear history", ""},
		{"GET", "/api/history", ``, 200, `history "" 0`, `"history": []`},
		{"POST", "/api/history", `{}`, http.StatusMethodNotAllowed, "", ""},
	})
}

func TestPhonebookEndpoints(t *testing.T) {
	r := &rec{}
	run(t, r, []exchange{
		{"GET", "/api/phonebook", ``, 200, "", `"entries": []`},
		{"POST", "/api/phonebook", `{"name":"Alice","numbers":[{"number":"201","label":"work"}],"speed_dial":"2"}`, 201, "add Alice", `"id": "1"`},
		{"POST", "/api/phonebook", `{"name":"Bob","numbers":[{"number":"202"}]}`, 201, "add Bob", `"id": "2"`},
		{"GET", "/api/phonebook", ``, 200, "", `"label": "work"`},
		{"GET", "/api/phonebook/2", ``, 200, "", `"name": "Bob"`},
		{"GET", "/api/phonebook/9", ``, 404, "", "phonebook entry"},
		{"POST", "/api/phonebook", `{"numbers":[{"number":"203"}]}`, 400, "add ", "name: required"},
		{"POST", "/api/phonebook", `{"name":"disk full","numbers":[{"number":"1"}]}`, 500, "add disk full", "no space"},
		{"POST", "/api/phonebook", ``, 400, "", "body is required"},
		{"POST", "/api/phonebook", `{"name":"C","numbers":["203"]}`, 400, "", ""},
		{"POST", "/api/phonebook", `{"name":"C","phone":"203"}`, 400, "", "unknown field"},
		{"PUT", "/api/phonebook/2", `{"name":"Robert","numbers":[{"number":"202"}]}`, 200, "update 2 Robert", `"name": "Robert"`},
		{"PUT", "/api/phonebook/7", `{"name":"X","numbers":[{"number":"1"}]}`, 404, "update 7 X", ""},
		{"PUT", "/api/phonebook/2", `{"name":"X","numbers":[{"number":"1","kind":"x"}]}`, 400, "", "unknown field"},
		{"PUT", "/api/phonebook/2", ``, 400, "", "body is required"},
		{"DELETE", "/api/phonebook/1", ``, 200, "delete 1", ""},
		{"DELETE", "/api/phonebook/1", ``, 404, "delete 1", ""},
		{"PUT", "/api/phonebook", `{}`, http.StatusMethodNotAllowed, "", ""},
	})
	if len(r.book) != 1 || r.book[0].Name != "Robert" {
		t.Fatalf("phonebook now %+v", r.book)
	}
}

// The new writes need JSON too, and a foreign origin or a missing token
// reaches none of them.
func TestNewEndpointsGuarded(t *testing.T) {
	r := &rec{book: []phonebook.Entry{{ID: "1", Name: "A", Numbers: []phonebook.Number{{Number: "1"}}}}}
	h := Handler(Config{Token: "t", Actions: r, Status: func() any { return "ok" }})
	auth := "Bearer t"
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/transfer", `{"to":"1"}`},
		{"POST", "/api/reject", `{}`},
		{"PUT", "/api/lines/0", `{"dnd":true}`},
		{"POST", "/api/history/1/dial", `{}`},
		{"POST", "/api/phonebook", `{"name":"B","numbers":[{"number":"2"}]}`},
		{"PUT", "/api/phonebook/1", `{"name":"B","numbers":[{"number":"2"}]}`},
	} {
		if code := req(t, h, c.method, c.path, c.body, map[string]string{"Authorization": auth, "Content-Type": "text/plain"}); code != http.StatusUnsupportedMediaType {
			t.Errorf("%s %s as text/plain: %d, want 415", c.method, c.path, code)
		}
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/history", ``},
		{"GET", "/api/phonebook", ``},
		{"DELETE", "/api/history", ``},
		{"DELETE", "/api/phonebook/1", ``},
		{"PUT", "/api/lines/0", `{"dnd":true}`},
	} {
		hdr := map[string]string{"Authorization": auth, "Content-Type": "application/json", "Origin": "http://evil.example"}
		if code := req(t, h, c.method, c.path, c.body, hdr); code != http.StatusForbidden {
			t.Errorf("%s %s from a foreign origin: %d, want 403", c.method, c.path, code)
		}
		delete(hdr, "Origin")
		delete(hdr, "Authorization")
		if code := req(t, h, c.method, c.path, c.body, hdr); code != http.StatusUnauthorized {
			t.Errorf("%s %s without the token: %d, want 401", c.method, c.path, code)
		}
	}
	if len(r.calls) != 0 || len(r.book) != 1 {
		t.Fatalf("refused requests reached the phone: %v", r.calls)
	}
}

// A PUT body is bounded like a POST's: 413 beyond MaxBodyBytes, before
// the action.
func TestPutBodyLimit(t *testing.T) {
	r := &rec{}
	h := Handler(Config{Actions: r, Status: func() any { return "ok" }, MaxBodyBytes: 64})
	big := `{"name":"` + strings.Repeat("x", 100) + `","numbers":[{"number":"1"}]}`
	if code, body := do(t, h, "PUT", "/api/phonebook/1", big, ""); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("big PUT: %d %s", code, body)
	}
	if code, body := do(t, h, "PUT", "/api/lines/0", `{"forward":{"always":"`+strings.Repeat("1", 100)+`"}}`, ""); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("big PUT: %d %s", code, body)
	}
	if len(r.calls) != 0 {
		t.Fatalf("calls %v", r.calls)
	}
}
