package cpio

import (
	"bytes"
	"testing"
)

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	Write(&b, []File{{Name: "init", Mode: Reg | 0o755, Data: []byte("x")}, {Name: "d", Mode: Dir | 0o755}}, 1)
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := Read(data)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Write(&out, files, 1); err != nil {
			t.Fatal(err)
		}
		again, err := Read(out.Bytes())
		if err != nil || len(again) != len(files) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
