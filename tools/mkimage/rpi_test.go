package mkimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskphone/phone/firmware/update"
)

func rpiOpts(t testing.TB) Options {
	o := opts(t)
	o.Board = BoardRPi
	o.Loader = []byte("loader")
	o.BootFiles = []File{
		{Name: "bootcode.bin", Mode: CpioReg | 0o644, Data: []byte("bootcode")},
		{Name: "start4.elf", Mode: CpioReg | 0o644, Data: []byte("start4")},
		{Name: "bcm2711-rpi-4-b.dtb", Mode: CpioReg | 0o644, Data: []byte("dtb")},
	}
	return o
}

// TestRPiLayout builds an rpi image: a hybrid MBR whose first entry is the
// FAT32 (0x0C) boot partition and whose second protects the GPT, a GPT
// that still names every partition, and a boot volume holding the
// firmware, config.txt, cmdline.txt, the kernel and the boot stage.
func TestRPiLayout(t *testing.T) {
	o := rpiOpts(t)
	r, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := ReadGPT(r.Image)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 4 || parts[0].Name != "boot" || parts[3].Name != "data" {
		t.Fatalf("gpt %+v", parts)
	}
	mbr, err := ReadMBR(r.Image)
	if err != nil {
		t.Fatal(err)
	}
	if len(mbr) != 2 || mbr[0].Type != 0x0c || mbr[0].Offset != parts[0].Offset || mbr[0].Size != parts[0].Size ||
		mbr[1].Type != 0xee || mbr[1].Offset != sector || mbr[1].Offset+mbr[1].Size != parts[0].Offset {
		t.Fatalf("mbr %+v, boot %+v", mbr, parts[0])
	}
	// The GPT type of the boot partition is Microsoft basic data.
	if !bytes.Equal(r.Image[2*sector:2*sector+16], basicData[:]) || !bytes.Equal(r.Image[2*sector+128:2*sector+144], linuxData[:]) {
		t.Fatal("partition types: boot should be basic data, rootA Linux data")
	}
	boot := r.Image[parts[0].Offset : parts[0].Offset+parts[0].Size]
	files, err := readFAT32(boot)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{
		"bootcode.bin": []byte("bootcode"), "start4.elf": []byte("start4"), "bcm2711-rpi-4-b.dtb": []byte("dtb"),
		"config.txt": []byte(RPiConfig), "cmdline.txt": []byte(RPiCmdline + "\n"), "vmlinuz": o.Kernel, "initrd.img": r.Initrd,
	}
	for n, w := range want {
		if !bytes.Equal(files[n], w) {
			t.Errorf("%s: %q..., want %d bytes", n, first(files[n]), len(w))
		}
	}
	if !strings.Contains(RPiConfig, "initramfs initrd.img followkernel") || !strings.Contains(RPiConfig, "arm_64bit=1") {
		t.Error("config.txt lost its kernel/initramfs lines")
	}
	// The manifest hashes the FAT volume as written.
	m, err := update.ParseManifest(r.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(boot)
	if p, ok := m.Part("boot"); !ok || p.SHA256 != hex.EncodeToString(s[:]) {
		t.Fatal("manifest does not hash the boot volume")
	}
	// Same inputs, same bytes.
	r2, err := Build(rpiOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Image, r2.Image) {
		t.Fatal("two rpi builds differ")
	}
	// A config.txt among the boot files replaces the default.
	o.BootFiles = append(o.BootFiles, File{Name: "config.txt", Mode: CpioReg | 0o644, Data: []byte("arm_64bit=1\n# mine\n")})
	r3, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	p3, _ := ReadGPT(r3.Image)
	f3, err := readFAT32(r3.Image[p3[0].Offset : p3[0].Offset+p3[0].Size])
	if err != nil || string(f3["config.txt"]) != "arm_64bit=1\n# mine\n" {
		t.Fatalf("own config.txt: %v %q", err, f3["config.txt"])
	}

	if fsck, err := exec.LookPath("fsck.fat"); err == nil {
		p := filepath.Join(t.TempDir(), "boot")
		if err := os.WriteFile(p, boot, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(fsck, "-n", p).CombinedOutput(); err != nil {
			t.Fatalf("fsck.fat: %v\n%s", err, out)
		}
	}
	if sfdisk, err := exec.LookPath("sfdisk"); err == nil {
		p := filepath.Join(t.TempDir(), "disk")
		if err := os.WriteFile(p, r.Image, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(sfdisk, "--label-nested", "dos", "-d", p).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("type=c")) || !bytes.Contains(out, []byte("type=ee")) {
			t.Fatalf("sfdisk (MBR view): %v\n%s", err, out)
		}
		out, err = exec.Command(sfdisk, "-d", p).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte(`name="rootB"`)) {
			t.Fatalf("sfdisk (GPT view): %v\n%s", err, out)
		}
	}
}

func first(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

func FuzzReadMBR(f *testing.F) {
	disk := make([]byte, 2*sector)
	writeHybridMBR(disk, gptPart{name: "boot", first: MiB, end: 50 * MiB}, "seed")
	f.Add(disk[:sector])
	f.Fuzz(func(t *testing.T, b []byte) {
		parts, err := ReadMBR(b)
		if err != nil {
			return
		}
		for _, p := range parts {
			if p.Type == 0 || p.Offset < 0 || p.Size < 0 {
				t.Fatalf("entry %+v", p)
			}
		}
	})
}
