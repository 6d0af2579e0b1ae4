package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type exchange struct {
	method, path, body string
	code               int
	// did is what the fake phone recorded ("" for nothing), body has
	// (when set) text the answer holds.
	did, has string
}

func run(t *testing.T, r *rec, cases []exchange) {
	t.Helper()
	h := Handler(Config{Actions: r, Status: func() any { return "ok" }})
	for _, c := range cases {
		r.calls = nil
		code, body := do(t, h, c.method, c.path, c.body, "")
		if code != c.code {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, code, strings.TrimSpace(body), c.code)
			continue
		}
		if got := strings.Join(r.calls, ","); got != c.did {
			t.Errorf("%s %s %s: did %q, want %q", c.method, c.path, c.body, got, c.did)
		}
		if c.has != "" && !strings.Contains(body, c.has) {
			t.Errorf("%s %s %s: answer %s lacks %s", c.method, c.path, c.body, body, c.has)
		}
		if c.code != http.StatusMethodNotAllowed && !json.Valid([]byte(body)) {
			t.Errorf("%s %s: answer is not JSON: %s", c.method, c.path, body)
		}
	}
}

func TestCallEndpoints(t *testing.T) {
	run(t, &rec{}, []exchange{
		// /api/call: the old form, a line, a speed dial.
		{"POST", "/api/call", `{"to":"1002"}`, 200, "call 1002", `"ok": true`},
		{"POST", "/api/call", `{"to":"1002","line":1}`, 200, "callon 1 1002", ""},
		{"POST", "/api/call", `{"to":"1002","line":0}`, 200, "callon 0 1002", ""},
		{"POST", "/api/call", `{"to":"1002","line":7}`, 404, "callon 7 1002", "line 7"},
		{"POST", "/api/call", `{"to":"1002","line":-1}`, 400, "", "out of range"},
		{"POST", "/api/call", `{"to":"1002","line":"1"}`, 400, "", ""},
		{"POST", "/api/call", `{"speed_dial":"3"}`, 200, "call 201", ""},
		{"POST", "/api/call", `{"speed_dial":"3","line":1}`, 200, "callon 1 201", ""},
		{"POST", "/api/call", `{"speed_dial":"4"}`, 404, "", "speed dial"},
		{"POST", "/api/call", `{"speed_dial":"33"}`, 400, "", "one digit"},
		{"POST", "/api/call", `{"speed_dial":"3","to":"1"}`, 400, "", "exclude"},
		{"POST", "/api/call", `{"to":"a\u0000b"}`, 400, "", "control"},
		{"POST", "/api/call", `{"to":"` + strings.Repeat("1", 300) + `"}`, 400, "", "longer"},
		{"POST", "/api/call", `{"to":"1002","from":"x"}`, 400, "", "unknown field"},
		{"POST", "/api/call", `{"to":"1002"} {}`, 400, "", "more than one"},
		{"POST", "/api/call", `["1002"]`, 400, "", ""},
		{"POST", "/api/call", `{"to":"busy","line":0}`, 409, "callon 0 busy", "busy"},
		// answer, hangup, hold, resume: with a call id, or as before.
		{"POST", "/api/answer", ``, 200, "answer", ""},
		{"POST", "/api/answer", `{}`, 200, "answer", ""},
		{"POST", "/api/answer", `{"call_id":"c2"}`, 200, "answer c2", ""},
		{"POST", "/api/answer", `{"call_id":"nope"}`, 404, "answer nope", "nope"},
		{"POST", "/api/answer", `{"call":"c2"}`, 400, "", "unknown field"},
		{"POST", "/api/hangup", `{"call_id":"c1"}`, 200, "hangup c1", ""},
		{"POST", "/api/hangup", `{"call_id":"zz"}`, 404, "hangup zz", ""},
		{"POST", "/api/hold", `{"call_id":"c1"}`, 200, "hold c1", ""},
		{"POST", "/api/hold", ``, 200, "hold", ""},
		{"POST", "/api/resume", `{"call_id":"c2"}`, 200, "resume c2", ""},
		{"POST", "/api/resume", `{"call_id":"c9"}`, 404, "resume c9", ""},
		{"POST", "/api/resume", `{"call_id":5}`, 400, "", ""},
		// reject
		{"POST", "/api/reject", ``, 200, "reject 486 c2", ""},
		{"POST", "/api/reject", `{"call_id":"c1","code":603}`, 200, "reject 603 c1", ""},
		{"POST", "/api/reject", `{"call_id":"c1","code":200}`, 400, "", "400..699"},
		{"POST", "/api/reject", `{"call_id":"c7"}`, 404, "reject 486 c7", ""},
		// swap, conference
		{"POST", "/api/swap", ``, 200, "swap", ""},
		{"POST", "/api/swap", `{"x":1}`, 400, "", "unknown field"},
		{"POST", "/api/conference", `{}`, 409, "conference", "not possible"},
		// transfer: blind, attended (held to active), attended by ids
		{"POST", "/api/transfer", `{"to":"1003"}`, 200, "transfer 1003", ""},
		{"POST", "/api/transfer", `{}`, 200, "attended >", ""},
		{"POST", "/api/transfer", ``, 200, "attended >", ""},
		{"POST", "/api/transfer", `{"call_id":"c1","to_call_id":"c2"}`, 200, "attended c1>c2,from c1,to c2", ""},
		{"POST", "/api/transfer", `{"call_id":"c1","to_call_id":"c5"}`, 404, "attended c1>c5,from c1,to c5", ""},
		{"POST", "/api/transfer", `{"call_id":"c1"}`, 400, "", "go together"},
		{"POST", "/api/transfer", `{"call_id":"c1","to_call_id":"c1"}`, 400, "", "same call"},
		{"POST", "/api/transfer", `{"to":"1003","call_id":"c1","to_call_id":"c2"}`, 400, "", "excludes"},
		{"POST", "/api/transfer", `{"to":"x\ny"}`, 400, "", "control"},
		// route
		{"POST", "/api/route", `{"route":"speaker"}`, 200, "route speaker", ""},
		{"POST", "/api/route", `{"route":"headset"}`, 409, "route headset", ""},
		{"POST", "/api/route", `{"route":"bluetooth"}`, 400, "", "not one of"},
		{"POST", "/api/route", ``, 400, "", ""},
		// the old actions keep working
		{"POST", "/api/dtmf", `{"digits":"12#"}`, 200, "dtmf 12#", ""},
		{"POST", "/api/dtmf", `{"digits":"12","x":"y"}`, 400, "", "unknown field"},
		{"POST", "/api/key", `{"key":"transfer"}`, 200, "key transfer", ""},
		// methods
		{"GET", "/api/swap", ``, http.StatusMethodNotAllowed, "", ""},
		{"DELETE", "/api/call", ``, http.StatusMethodNotAllowed, "", ""},
	})
}

func TestLineEndpoints(t *testing.T) {
	r := &rec{}
	run(t, r, []exchange{
		{"GET", "/api/lines", ``, 200, "", `"busy": "200"`},
		{"PUT", "/api/lines/0", `{"dnd":true}`, 200, "setline 0 {DND:true DNDCode:0 Forward:{Always: Busy: NoAnswer: NoAnswerAfter:0}}", `"dnd": true`},
		// Fields left out keep their value: line 1's busy forward stays.
		{"PUT", "/api/lines/1", `{"dnd_code":480,"forward":{"no_answer":"sip:vm@pbx","no_answer_after":15}}`, 200,
			"setline 1 {DND:false DNDCode:480 Forward:{Always: Busy:200 NoAnswer:sip:vm@pbx NoAnswerAfter:15}}", `"no_answer_after": 15`},
		{"PUT", "/api/lines/1", `{"forward":{"busy":""}}`, 200,
			"setline 1 {DND:false DNDCode:480 Forward:{Always: Busy: NoAnswer:sip:vm@pbx NoAnswerAfter:15}}", ""},
		{"PUT", "/api/lines/2", `{"dnd":true}`, 404, "", "line 2"},
		{"PUT", "/api/lines/x", `{"dnd":true}`, 400, "", "not a valid line"},
		{"PUT", "/api/lines/999", `{"dnd":true}`, 400, "", "not a valid line"},
		{"PUT", "/api/lines/0", `{"dnd_code":404}`, 400, "", "486 or 480"},
		{"PUT", "/api/lines/0", `{"forward":{"no_answer_after":-1}}`, 400, "", "out of range"},
		{"PUT", "/api/lines/0", `{"forward":{"no_answer_after":601}}`, 400, "", "out of range"},
		{"PUT", "/api/lines/0", `{"forward":{"always":"a\tb"}}`, 400, "", "control"},
		{"PUT", "/api/lines/0", `{"forward":{"sometimes":"1"}}`, 400, "", "unknown field"},
		{"PUT", "/api/lines/0", `{"dnd":"yes"}`, 400, "", ""},
		{"PUT", "/api/lines/0", `{`, 400, "", ""},
		{"POST", "/api/lines/0", `{"dnd":true}`, http.StatusMethodNotAllowed, "", ""},
	})
	if r.lines[0].DND != true || r.lines[1].Forward.NoAnswer != "sip:vm@pbx" {
		t.Fatalf("lines now %+v", r.lines)
	}
}
