package api

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestWriteJSONPooled: the pooled encoder writes what a fresh indenting
// encoder wrote, response after response, small and large, and an
// unencodable value writes no body.
func TestWriteJSONPooled(t *testing.T) {
	type item struct {
		Name string   `json:"name"`
		N    int      `json:"n"`
		Tags []string `json:"tags,omitempty"`
	}
	vals := []any{
		map[string]string{"error": "bad <input> & more"},
		[]item{{Name: "a", N: 1, Tags: []string{"x", "y"}}, {Name: "b"}},
		strings.Repeat("z", maxPooledJSON+1), // larger than the pool keeps
		item{Name: "after the large one", N: 3},
		map[string]string{},
	}
	for i, v := range append(vals, vals...) {
		rec := httptest.NewRecorder()
		writeJSON(rec, 200, v)
		want, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.Body.String(); got != string(want)+"\n" {
			t.Fatalf("response %d:\n%q\nwant\n%q", i, got, string(want)+"\n")
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
	}
	rec := httptest.NewRecorder()
	writeJSON(rec, 500, map[string]any{"f": func() {}})
	if rec.Code != 500 || rec.Body.Len() != 0 {
		t.Fatalf("unencodable: code %d body %q", rec.Code, rec.Body.String())
	}
}

// BenchmarkWriteJSON: a status-sized response; allocations per response
// (before the pool the indenting encoder allocated its buffer each time).
func BenchmarkWriteJSON(b *testing.B) {
	type call struct {
		ID, State, Peer string
		RTP             struct{ Sent, Received uint64 }
	}
	v := struct {
		Schema int
		Calls  []call
		Lines  []map[string]any
	}{Schema: 2, Calls: make([]call, 2), Lines: []map[string]any{{"line": 0, "dnd": false, "forward": map[string]string{}}}}
	rec := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		rec.Body.Reset()
		writeJSON(rec, 200, v)
	}
}
