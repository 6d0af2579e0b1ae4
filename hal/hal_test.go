package hal

import "testing"

// TestBLFKeysAndLamps: the busy lamp keys and lamps map to their index
// and back, have names the API can press, and stay apart from the line
// keys and the other LEDs.
func TestBLFKeysAndLamps(t *testing.T) {
	for n := range BLFKeys {
		k, ok := BLFKey(n)
		if !ok {
			t.Fatalf("BLFKey(%d) missing", n)
		}
		if i, ok := k.BLFOf(); !ok || i != n {
			t.Fatalf("%v.BLFOf() = %d, %v", k, i, ok)
		}
		if _, ok := k.LineOf(); ok || k.IsDigit() {
			t.Fatalf("%v is also a line or dial key", k)
		}
		name := k.String()
		if back, ok := KeyByName(name); !ok || back != k {
			t.Fatalf("KeyByName(%q) = %v, %v", name, back, ok)
		}
		led, ok := BLFLED(n)
		if !ok || led.String() != name {
			t.Fatalf("BLFLED(%d) = %v (%q), want %q", n, led, led.String(), name)
		}
	}
	for _, n := range []int{-1, BLFKeys} {
		if _, ok := BLFKey(n); ok {
			t.Fatalf("BLFKey(%d) exists", n)
		}
		if _, ok := BLFLED(n); ok {
			t.Fatalf("BLFLED(%d) exists", n)
		}
	}
	for _, k := range []Key{KeyLine1, KeySoft4, '1'} {
		if _, ok := k.BLFOf(); ok {
			t.Fatalf("%v is a BLF key", k)
		}
	}
	if KeyBLF1 != KeySoft4+1 || LEDBLF1 != LEDSpeaker+1 {
		t.Fatal("new keys or LEDs moved the existing ones")
	}
}
