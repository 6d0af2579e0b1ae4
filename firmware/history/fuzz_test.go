package history

import (
	"reflect"
	"testing"
)

// FuzzDecode: no input makes the loader panic, and whatever it accepts
// is written back and read again unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"next_id":3,"entries":[{"id":2,"kind":"missed","line":1,"remote":"sip:201@pbx","name":"Alice","start":"2026-12-04T08:30:00Z","duration":0,"code":487},{"id":1,"kind":"placed","line":0,"remote":"1002","start":"2026-12-04T08:00:00.123Z","duration":61.5}]}`))
	f.Add([]byte(`{"version":1,"next_id":1,"entries":[]}`))
	f.Add([]byte(`{"version":1,"next_id":1,"entries":null}`))
	f.Add([]byte(`{"version":1,"next_id":2,"entries":[{"id":1,"kind":"x","line":0,"remote":"","start":"0001-01-01T00:00:00Z","duration":1e300}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decode(data)
		if err != nil {
			return
		}
		again, err := decode(encodeLocked(got.entries, got.nextID))
		if err != nil {
			t.Fatalf("re-encoded file refused: %v", err)
		}
		if len(got.entries) == 0 && len(again.entries) == 0 {
			return
		}
		for i := range got.entries {
			a, b := got.entries[i], again.entries[i]
			if !a.Start.Equal(b.Start) {
				t.Fatalf("start %v became %v", a.Start, b.Start)
			}
			a.Start = b.Start
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("entry %d: %+v became %+v", i, a, b)
			}
		}
	})
}
