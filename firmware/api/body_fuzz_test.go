package api

import (
	"net/http"
	"testing"
)

// FuzzActionBodies sends arbitrary bodies to every endpoint that reads
// one: no panic, an answer from the documented set, and a refusal (400)
// for a body that is not a JSON object of the endpoint's fields.
func FuzzActionBodies(f *testing.F) {
	paths := []struct{ method, path string }{
		{"POST", "/api/call"}, {"POST", "/api/answer"}, {"POST", "/api/reject"}, {"POST", "/api/transfer"},
		{"POST", "/api/route"}, {"POST", "/api/dtmf"}, {"POST", "/api/key"}, {"PUT", "/api/lines/1"},
		{"POST", "/api/history/1/dial"}, {"POST", "/api/phonebook"}, {"PUT", "/api/phonebook/1"},
	}
	for i, b := range []string{`{"to":"1002","line":1}`, `{"call_id":"c1","code":603}`, `{"call_id":"c1","to_call_id":"c2"}`,
		`{"route":"speaker"}`, `{"digits":"1#"}`, `{"hook":"off"}`, `{"dnd":true,"forward":{"busy":"1","no_answer_after":5}}`,
		`{"line":0}`, `{"name":"A","numbers":[{"number":"1"}]}`, `{"name":"A","numbers":[{"number":"1"}],"id":"1"}`, `null`, `{"to":1e400}`} {
		f.Add(uint8(i), b)
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		p := paths[int(which)%len(paths)]
		r := &rec{}
		h := Handler(Config{Actions: r, Status: func() any { return "ok" }})
		code, _ := do(t, h, p.method, p.path, body, "")
		switch code {
		case http.StatusOK, http.StatusCreated:
			if len(r.calls) == 0 && p.method == "POST" && p.path != "/api/call" {
				t.Fatalf("%s %s %q: %d without an action", p.method, p.path, body, code)
			}
		case http.StatusBadRequest:
		case http.StatusNotFound, http.StatusConflict, http.StatusInternalServerError:
			// from the fake phone
		default:
			t.Fatalf("%s %s %q: %d", p.method, p.path, body, code)
		}
	})
}
