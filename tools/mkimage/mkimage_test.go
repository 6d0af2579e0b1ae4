package mkimage

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/deskphone/phone/firmware/cpio"
	"github.com/deskphone/phone/firmware/update"
)

func opts(t testing.TB) Options {
	seed := sha256.Sum256([]byte("test key"))
	return Options{Board: "qemu-arm64", Version: "v1.0.0", BuildTime: 1700000000,
		Kernel: bytes.Repeat([]byte("kernel"), 1000), Init: bytes.Repeat([]byte("\x7fELF phoned"), 5000),
		Key: ed25519.NewKeyFromSeed(seed[:]), SlotSize: 2 * MiB, DataSize: MiB}
}

// TestReproducible builds twice from the same inputs: same bytes. A
// different build time or init changes them.
func TestReproducible(t *testing.T) {
	a, err := Build(opts(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(opts(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Image, b.Image) || !bytes.Equal(a.Manifest, b.Manifest) || !bytes.Equal(a.Bundle, b.Bundle) || !bytes.Equal(a.Sig, b.Sig) {
		t.Fatal("two builds of the same inputs differ")
	}
	o := opts(t)
	o.BuildTime++
	c, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Image, c.Image) {
		t.Fatal("the build time does not reach the image")
	}
}

func TestLayoutAndManifest(t *testing.T) {
	o := opts(t)
	r, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := ReadGPT(r.Image)
	if err != nil {
		t.Fatal(err)
	}
	m, err := update.Verify(o.Key.Public().(ed25519.PublicKey), r.Manifest, r.Sig)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"boot", "rootA", "rootB", "data"}
	if len(parts) != 4 || len(m.Parts) != 4 {
		t.Fatalf("parts %+v manifest %+v", parts, m.Parts)
	}
	for i, p := range parts {
		mp := m.Parts[i]
		if p.Name != names[i] || mp.Name != p.Name || mp.Offset != p.Offset || mp.Size != p.Size || p.Offset%MiB != 0 {
			t.Fatalf("part %d: gpt %+v manifest %+v", i, p, mp)
		}
		if mp.SHA256 != "" {
			s := sha256.Sum256(r.Image[p.Offset : p.Offset+p.Size])
			if hex.EncodeToString(s[:]) != mp.SHA256 {
				t.Fatalf("%s: sha256 mismatch", p.Name)
			}
		}
	}
	// Both slots hold the root archive, which holds /init.
	for _, p := range parts[1:3] {
		files, err := cpio.Read(r.Image[p.Offset : p.Offset+p.Size])
		if err != nil {
			t.Fatal(err)
		}
		var init []byte
		for _, f := range files {
			if f.Name == "init" {
				init = f.Data
				if f.Mode != CpioReg|0o755 {
					t.Fatalf("init mode %o", f.Mode)
				}
			}
		}
		if !bytes.Equal(init, o.Init) {
			t.Fatalf("%s: /init is not phoned", p.Name)
		}
	}
	boot, err := cpio.Read(r.Image[parts[0].Offset:])
	if err != nil || len(boot) != 3 || boot[2].Name != "vmlinuz" || !bytes.Equal(boot[2].Data, o.Kernel) {
		t.Fatalf("boot: %v %+v", err, boot)
	}
	// The bundle installs the same root.
	mb, sig, err := update.ReadBundleHeader(bytes.NewReader(r.Bundle))
	if err != nil {
		t.Fatal(err)
	}
	um, err := update.Verify(o.Key.Public().(ed25519.PublicKey), mb, sig)
	if err != nil || um.Kind != update.KindUpdate {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Bundle[update.BundleHeaderSize(len(mb)):], r.Root) {
		t.Fatal("bundle payload is not the root archive")
	}
	// Backup GPT header at the last sector.
	last := r.Image[len(r.Image)-sector:]
	if string(last[:8]) != "EFI PART" {
		t.Fatal("no backup GPT header")
	}
}

func TestBuildErrors(t *testing.T) {
	o := opts(t)
	o.SlotSize = 1024
	if _, err := Build(o); !errors.Is(err, ErrTooBig) {
		t.Fatalf("small slot: %v", err)
	}
	o = opts(t)
	o.Kernel = nil
	if _, err := Build(o); err == nil {
		t.Fatal("no kernel accepted")
	}
	if _, err := ReadGPT(make([]byte, 100*sector)); !errors.Is(err, ErrBadGPT) {
		t.Fatal(err)
	}
	r, _ := Build(opts(t))
	r.Image[2*sector+5] ^= 1
	if _, err := ReadGPT(r.Image); !errors.Is(err, ErrBadGPT) {
		t.Fatal("damaged entries accepted")
	}
}
