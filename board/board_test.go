package board

import (
	"strings"
	"testing"
)

func TestOpenSimAndUnknown(t *testing.T) {
	b, err := Open("sim", Options{Input: "tone:440"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "sim" || b.AudioIn == nil || b.AudioOut == nil || b.Keypad == nil {
		t.Fatalf("sim board incomplete: %+v", b)
	}
	b.Close()
	if _, err := Open("toaster", Options{}); err == nil || !strings.Contains(err.Error(), "known") {
		t.Fatalf("unknown board: err = %v", err)
	}
}

func TestOpenQEMUOnLoopback(t *testing.T) {
	b, err := Open("qemu", Options{Extra: map[string]string{"listen": "tcp:127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Name == "" || b.Keypad == nil || b.Hook == nil {
		t.Fatalf("qemu board incomplete: %+v", b)
	}
}
