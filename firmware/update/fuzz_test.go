package update

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func FuzzReadBundle(f *testing.F) {
	priv, pub := testKey(f, 1)
	payload := []byte("root")
	f.Add(bundle(f, priv, updateManifest("qemu-arm64", "v1.0.0", 1, payload), payload))
	f.Add([]byte(BundleMagic + "\x00\x00\x00\x02{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		mb, sig, err := ReadBundleHeader(bytes.NewReader(b))
		if err != nil {
			return
		}
		_, _ = Verify(pub, mb, sig)
		_, _ = ParseManifest(mb)
	})
}

func FuzzState(f *testing.F) {
	f.Add([]byte(`{"committed":"A","trial":"B","trial_boots":1}`))
	f.Add([]byte(`{"committed":"B"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "ab.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		slot, _, _ := Boot(path)
		if slot != SlotA && slot != SlotB {
			t.Fatalf("boot chose %q", slot)
		}
	})
}
