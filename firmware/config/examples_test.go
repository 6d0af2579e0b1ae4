package config

import (
	"path/filepath"
	"testing"
)

// TestExamples: every config shipped in examples/ loads and validates as
// written (README's by-hand steps run examples/sim-*.yaml).
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("examples/: %d configs, want at least 3", len(files))
	}
	for _, f := range files {
		c, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if filepath.Base(f) != "office-rpi.yaml" && c.NAT.UPnP {
			t.Errorf("%s: a config run on a developer's computer must say nat.upnp: false", f)
		}
	}
}
