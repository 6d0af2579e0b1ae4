package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/deskphone/phone/firmware/phonebook"
)

// rec is a fake phone: it records every action and knows the calls c1
// and c2, lines 0 and 1, a small history and phonebook.
type rec struct {
	calls   []string
	lines   []Line
	history []HistoryEntry
	book    []phonebook.Entry
}

func (r *rec) log(format string, args ...any) {
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}

func (r *rec) Call(_ context.Context, to string) error {
	r.log("call %s", to)
	if to == "busy" {
		return errors.New("phone: busy")
	}
	return nil
}
func (r *rec) Answer(context.Context) error { r.log("answer"); return nil }
func (r *rec) Hangup(context.Context) error { r.log("hangup"); return nil }
func (r *rec) SendDTMF(_ context.Context, d string) error {
	r.log("dtmf %s", d)
	return nil
}
func (r *rec) Hold(context.Context) error   { r.log("hold"); return nil }
func (r *rec) Resume(context.Context) error { r.log("resume"); return nil }
func (r *rec) Key(_ context.Context, k string) error {
	r.log("key %s", k)
	return nil
}

// call checks a call id as the daemon does: unknown is ErrNotFound.
func (r *rec) call(what, id string) error {
	r.log("%s %s", what, id)
	if id != "c1" && id != "c2" {
		return fmt.Errorf("%w: call %q", ErrNotFound, id)
	}
	return nil
}

func (r *rec) CallOn(_ context.Context, line int, to string) error {
	r.log("callon %d %s", line, to)
	switch {
	case line > 1:
		return fmt.Errorf("%w: line %d", ErrNotFound, line)
	case to == "busy":
		return errors.New("phone: busy")
	}
	return nil
}
func (r *rec) AnswerCall(_ context.Context, id string) error { return r.call("answer", id) }
func (r *rec) RejectCall(_ context.Context, id string, code int) error {
	if id == "" {
		id = "c2" // the one ringing
	}
	return r.call(fmt.Sprintf("reject %d", code), id)
}
func (r *rec) HangupCall(_ context.Context, id string) error { return r.call("hangup", id) }
func (r *rec) HoldCall(_ context.Context, id string) error   { return r.call("hold", id) }
func (r *rec) ResumeCall(_ context.Context, id string) error { return r.call("resume", id) }
func (r *rec) Swap(context.Context) error                    { r.log("swap"); return nil }
func (r *rec) Transfer(_ context.Context, to string) error   { r.log("transfer %s", to); return nil }
func (r *rec) TransferAttended(_ context.Context, id, toID string) error {
	r.log("attended %s>%s", id, toID)
	if id == "" {
		return nil
	}
	if err := r.call("from", id); err != nil {
		return err
	}
	return r.call("to", toID)
}
func (r *rec) Conference(context.Context) error {
	r.log("conference")
	return errors.New("phone: not possible in this state") // nothing held
}
func (r *rec) SetRoute(_ context.Context, route string) error {
	r.log("route %s", route)
	if route == "headset" {
		return errors.New("phone: not possible in this state") // no headset
	}
	return nil
}

func (r *rec) Lines(context.Context) ([]Line, error) {
	if r.lines == nil {
		r.lines = []Line{{Line: 0}, {Line: 1, LineSettings: LineSettings{Forward: Forward{Busy: "200"}}}}
	}
	return slices.Clone(r.lines), nil
}
func (r *rec) SetLine(_ context.Context, n int, s LineSettings) error {
	r.log("setline %d %+v", n, s)
	r.lines[n].LineSettings = s
	return nil
}

func (r *rec) History(_ context.Context, kind string, limit int) ([]HistoryEntry, error) {
	r.log("history %q %d", kind, limit)
	var out []HistoryEntry
	for _, e := range r.history {
		if (kind == "" || e.Kind == kind) && (limit == 0 || len(out) < limit) {
			out = append(out, e)
		}
	}
	return out, nil
}
func (r *rec) HistoryEntry(_ context.Context, id uint64) (HistoryEntry, error) {
	for _, e := range r.history {
		if e.ID == id {
			return e, nil
		}
	}
	return HistoryEntry{}, fmt.Errorf("%w: history entry %d", ErrNotFound, id)
}
func (r *rec) ClearHistory(context.Context) error {
	r.log("clear history")
	r.history = nil
	return nil
}

func (r *rec) Phonebook(context.Context) ([]phonebook.Entry, error) { return r.book, nil }
func (r *rec) PhonebookEntry(_ context.Context, id string) (phonebook.Entry, error) {
	for _, e := range r.book {
		if e.ID == id {
			return e, nil
		}
	}
	return phonebook.Entry{}, fmt.Errorf("%w: phonebook entry %q", ErrNotFound, id)
}
func (r *rec) AddPhonebook(_ context.Context, e phonebook.Entry) (phonebook.Entry, error) {
	r.log("add %s", e.Name)
	switch e.Name {
	case "":
		return e, fmt.Errorf("%w: name: required", ErrInvalid)
	case "disk full":
		return e, fmt.Errorf("%w: saving: no space", ErrFailed)
	}
	e.ID = strconv.Itoa(len(r.book) + 1)
	r.book = append(r.book, e)
	return e, nil
}
func (r *rec) UpdatePhonebook(ctx context.Context, id string, e phonebook.Entry) (phonebook.Entry, error) {
	r.log("update %s %s", id, e.Name)
	for i := range r.book {
		if r.book[i].ID == id {
			e.ID = id
			r.book[i] = e
			return e, nil
		}
	}
	return e, fmt.Errorf("%w: phonebook entry %q", ErrNotFound, id)
}
func (r *rec) DeletePhonebook(_ context.Context, id string) error {
	r.log("delete %s", id)
	for i := range r.book {
		if r.book[i].ID == id {
			r.book = slices.Delete(r.book, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("%w: phonebook entry %q", ErrNotFound, id)
}
func (r *rec) SpeedDial(_ context.Context, key string) (string, error) {
	if key == "3" {
		return "201", nil
	}
	return "", fmt.Errorf("%w: no speed dial %s", ErrNotFound, key)
}

// do sends a request the way curl or a script does: Host 127.0.0.1:8080,
// no Origin, JSON for POSTs.
func do(t *testing.T, h http.Handler, method, path, body, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = "127.0.0.1:8080"
	if method == "POST" || method == "PUT" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func TestActionsAndStatus(t *testing.T) {
	r := &rec{}
	h := Handler(Config{Actions: r, Status: func() any { return map[string]any{"registration": map[string]string{"state": "registered"}} }})
	if code, body := do(t, h, "GET", "/api/status", "", ""); code != 200 || !strings.Contains(body, `"state": "registered"`) {
		t.Fatalf("status: %d %s", code, body)
	}
	cases := []struct {
		path, body string
		code       int
	}{
		{"/api/call", `{"to":"1002"}`, 200},
		{"/api/call", `{}`, 400},
		{"/api/call", `{"to":"busy"}`, 409},
		{"/api/call", `not json`, 400},
		{"/api/answer", ``, 200},
		{"/api/dtmf", `{"digits":"12#"}`, 200},
		{"/api/dtmf", `{"digits":"1x"}`, 400},
		{"/api/hold", ``, 200},
		{"/api/resume", ``, 200},
		{"/api/key", `{"key":"hold"}`, 200},
		{"/api/key", `{"hook":"off"}`, 200},
		{"/api/key", `{}`, 400},
		{"/api/hangup", ``, 200},
	}
	for _, c := range cases {
		if code, body := do(t, h, "POST", c.path, c.body, ""); code != c.code {
			t.Errorf("POST %s %s: %d %s, want %d", c.path, c.body, code, body, c.code)
		}
	}
	want := "call 1002,call busy,answer,dtmf 12#,hold,resume,key hold,key hook:off,hangup"
	if got := strings.Join(r.calls, ","); got != want {
		t.Fatalf("calls %s\nwant  %s", got, want)
	}
	if code, _ := do(t, h, "GET", "/api/call", "", ""); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /api/call: %d", code)
	}
}

func TestTokenRequiredBeyondLoopback(t *testing.T) {
	if _, err := Start(Config{Listen: "0.0.0.0:0", Actions: &rec{}, Status: func() any { return nil }}); !errors.Is(err, ErrTokenRequired) {
		t.Fatalf("err = %v, want ErrTokenRequired", err)
	}
	h := Handler(Config{Token: "s3cret", Actions: &rec{}, Status: func() any { return "ok" }})
	if code, _ := do(t, h, "GET", "/api/status", "", ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := do(t, h, "GET", "/api/status", "", "wrong"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if code, _ := do(t, h, "GET", "/api/status", "", "s3cret"); code != 200 {
		t.Fatalf("right token: %d", code)
	}
}

func TestStartServesOnLoopback(t *testing.T) {
	s, err := Start(Config{Listen: "127.0.0.1:0", Actions: &rec{}, Status: func() any { return "up" }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get("http://" + s.Addr().String() + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, l := range []string{"127.0.0.1:1", "localhost:80", "[::1]:80"} {
		if !Loopback(l) {
			t.Errorf("%s not loopback", l)
		}
	}
	for _, l := range []string{"0.0.0.0:80", "192.0.2.1:80", ":80", "bad"} {
		if Loopback(l) {
			t.Errorf("%s loopback", l)
		}
	}
}
