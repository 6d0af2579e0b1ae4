package msgsummary

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any input either parses, within the limits, into a summary
// that survives Marshal and Parse unchanged, or is an error; never a
// panic. Seeds are the RFC 3842 examples in testdata/.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("Messages-Waiting: yes\r\nVoice-Message: 1/2 (0/1)\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		for c, n := range s.Classes {
			for _, v := range []int{n.New, n.Old, n.NewUrgent, n.OldUrgent} {
				if v < 0 || v > MaxCount {
					t.Fatalf("%s count %d out of range", c, v)
				}
			}
		}
		again, err := Parse(s.Marshal())
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%q", err, s.Marshal())
		}
		if again.Waiting != s.Waiting || len(again.Classes) != len(s.Classes) {
			t.Fatalf("round trip changed %+v into %+v", s, again)
		}
		for c, n := range s.Classes {
			if again.Classes[c] != n {
				t.Fatalf("round trip changed %s: %+v -> %+v", c, n, again.Classes[c])
			}
		}
	})
}
