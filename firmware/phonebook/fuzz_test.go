package phonebook

import (
	"reflect"
	"testing"
)

// FuzzParse: no input makes the parser panic; whatever it accepts is
// written by Marshal and read back the same.
func FuzzParse(f *testing.F) {
	f.Add([]byte("entries:\n  - {name: A, numbers: [\"1\"], speed_dial: 1}\n"))
	f.Add([]byte("version: 1\nentries:\n  - id: x\n    name: \"B: c\"\n    numbers:\n      - {number: 'sip:b@h', label: work}\n"))
	f.Add([]byte("entries:\n  - name: 'yes'\n    numbers: [null, 1]\n"))
	f.Add([]byte("entries: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := Parse("f.yaml", data)
		if err != nil {
			return
		}
		again, err := Parse("f.yaml", Marshal(es))
		if err != nil {
			t.Fatalf("Marshal's output refused: %v\n%s", err, Marshal(es))
		}
		if len(es) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(es, again) {
			t.Fatalf("round trip\n%+v\n%+v", es, again)
		}
	})
}
