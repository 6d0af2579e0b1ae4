package config

import "testing"

// TestUPnPDefaultByBoard: nat.upnp defaults off on the sim board (a
// laptop must not ask its router for mappings) and on for the device
// boards; a value in the file wins either way.
func TestUPnPDefaultByBoard(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want bool
	}{
		{"", false},
		{"board: sim\n", false},
		{"board: rpi\n", true},
		{"board: qemu\n", true},
		{"board: sim\nnat:\n  upnp: true\n", true},
		{"board: rpi\nnat:\n  upnp: false\n", false},
	} {
		cfg, err := Parse("phone.yaml", []byte(c.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.NAT.UPnP != c.want {
			t.Errorf("%q: nat.upnp = %v, want %v", c.yaml, cfg.NAT.UPnP, c.want)
		}
	}
}
