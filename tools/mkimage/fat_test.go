package mkimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// readFAT32 is an independent reader for the tests: it walks the volume
// from the boot sector, following FAT chains, and returns every file by
// its long name (directories end in "/").
func readFAT32(img []byte) (map[string][]byte, error) {
	if len(img) < 512 || img[510] != 0x55 || img[511] != 0xaa || string(img[82:90]) != "FAT32   " {
		return nil, errors.New("no FAT32 boot sector")
	}
	bps := int64(binary.LittleEndian.Uint16(img[11:]))
	spc := int64(img[13])
	rsvd := int64(binary.LittleEndian.Uint16(img[14:]))
	nfat := int64(img[16])
	fatSz := int64(binary.LittleEndian.Uint32(img[36:]))
	rootClus := binary.LittleEndian.Uint32(img[44:])
	total := int64(binary.LittleEndian.Uint32(img[32:]))
	if bps != 512 || spc == 0 || total*bps != int64(len(img)) {
		return nil, fmt.Errorf("bad BPB: bps %d spc %d total %d len %d", bps, spc, total, len(img))
	}
	fat := img[rsvd*bps : (rsvd+fatSz)*bps]
	for i := int64(1); i < nfat; i++ {
		if !bytes.Equal(fat, img[(rsvd+i*fatSz)*bps:(rsvd+(i+1)*fatSz)*bps]) {
			return nil, errors.New("FAT copies differ")
		}
	}
	data := (rsvd + nfat*fatSz) * bps
	csize := spc * bps
	seen := map[uint32]bool{}
	chain := func(c uint32, size int64) ([]byte, error) {
		var out []byte
		for c >= 2 && c < 0x0ffffff8 {
			if seen[c] {
				return nil, fmt.Errorf("cluster %d used twice", c)
			}
			seen[c] = true
			off := data + int64(c-2)*csize
			if off+csize > int64(len(img)) {
				return nil, fmt.Errorf("cluster %d outside the volume", c)
			}
			out = append(out, img[off:off+csize]...)
			c = binary.LittleEndian.Uint32(fat[4*c:]) & 0x0fffffff
		}
		if size >= 0 {
			if int64(len(out)) < size {
				return nil, fmt.Errorf("chain of %d bytes for a %d byte file", len(out), size)
			}
			out = out[:size]
		}
		return out, nil
	}
	files := map[string][]byte{}
	var walk func(c uint32, prefix string) error
	walk = func(c uint32, prefix string) error {
		d, err := chain(c, -1)
		if err != nil {
			return err
		}
		var long []uint16
		for i := 0; i+32 <= len(d); i += 32 {
			e := d[i : i+32]
			if e[0] == 0 {
				break
			}
			if e[11] == 0x0f {
				var part []uint16
				for _, o := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
					part = append(part, binary.LittleEndian.Uint16(e[o:]))
				}
				long = append(part, long...)
				continue
			}
			if e[11]&0x08 != 0 || e[0] == '.' {
				long = nil
				continue
			}
			name := strings.TrimRight(string(e[0:8]), " ")
			if ext := strings.TrimRight(string(e[8:11]), " "); ext != "" {
				name += "." + ext
			}
			if long != nil {
				for j, u := range long {
					if u == 0 {
						long = long[:j]
						break
					}
				}
				name = string(utf16.Decode(long))
				long = nil
			}
			clus := uint32(binary.LittleEndian.Uint16(e[20:]))<<16 | uint32(binary.LittleEndian.Uint16(e[26:]))
			if e[11]&0x10 != 0 {
				files[prefix+name+"/"] = nil
				if err := walk(clus, prefix+name+"/"); err != nil {
					return err
				}
				continue
			}
			b, err := chain(clus, int64(binary.LittleEndian.Uint32(e[28:])))
			if err != nil {
				return fmt.Errorf("%s: %w", prefix+name, err)
			}
			files[prefix+name] = b
		}
		return nil
	}
	return files, walk(rootClus, "")
}

func fatFiles() []File {
	big := bytes.Repeat([]byte("0123456789abcdef"), 70000) // 1.1 MB
	return []File{
		{Name: "bootcode.bin", Mode: CpioReg | 0o644, Data: []byte("bootcode")},
		{Name: "START.ELF", Mode: CpioReg | 0o644, Data: []byte("start")},
		{Name: "config.txt", Mode: CpioReg | 0o644, Data: []byte("arm_64bit=1\n")},
		{Name: "bcm2837-rpi-3-b.dtb", Mode: CpioReg | 0o644, Data: []byte("dtb 3b")},
		{Name: "bcm2837-rpi-3-b-plus.dtb", Mode: CpioReg | 0o644, Data: []byte("dtb 3b+")},
		{Name: "vmlinuz", Mode: CpioReg | 0o644, Data: big},
		{Name: "empty", Mode: CpioReg | 0o644},
		{Name: "overlays", Mode: CpioDir | 0o755},
		{Name: "overlays/a-rather-long-overlay-name-for-a-sound-card.dtbo", Mode: CpioReg | 0o644, Data: []byte("overlay")},
		{Name: "deep/er/file.txt", Mode: CpioReg | 0o644, Data: []byte("deep")},
	}
}

// TestFAT32RoundTrip writes a volume and reads every file back with an
// independent reader: long names, 8.3 names, an empty file, nested
// directories and a file spanning thousands of clusters.
func TestFAT32RoundTrip(t *testing.T) {
	files := fatFiles()
	size, err := FAT32Size(files, 0)
	if err != nil {
		t.Fatal(err)
	}
	img, err := FAT32(files, size, FATOptions{VolumeID: 0x12345678, Time: 1700000000, HiddenSectors: 2048})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readFAT32(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Mode&0o170000 == CpioDir {
			if _, ok := got[f.Name+"/"]; !ok {
				t.Errorf("directory %s missing", f.Name)
			}
			continue
		}
		b, ok := got[f.Name]
		if !ok {
			t.Errorf("%s missing; have %v", f.Name, keys(got))
			continue
		}
		if !bytes.Equal(b, f.Data) {
			t.Errorf("%s: %d bytes, want %d", f.Name, len(b), len(f.Data))
		}
	}
	// Again from the same inputs: the same bytes; another time: not.
	img2, _ := FAT32(files, size, FATOptions{VolumeID: 0x12345678, Time: 1700000000, HiddenSectors: 2048})
	if !bytes.Equal(img, img2) {
		t.Fatal("two volumes from the same inputs differ")
	}
	img3, _ := FAT32(files, size, FATOptions{VolumeID: 0x12345678, Time: 1800000000, HiddenSectors: 2048})
	if bytes.Equal(img, img3) {
		t.Fatal("the time does not reach the volume")
	}
}

func keys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}

func TestFAT32Refuses(t *testing.T) {
	ok := []File{{Name: "a", Mode: CpioReg, Data: []byte("x")}}
	if _, err := FAT32(ok, 16*MiB, FATOptions{}); !errors.Is(err, ErrTooSmall) {
		t.Errorf("16 MiB FAT32: %v, want ErrTooSmall", err)
	}
	size, err := FAT32Size(ok, 0)
	if err != nil {
		t.Fatal(err)
	}
	full := []File{{Name: "big", Mode: CpioReg, Data: make([]byte, size)}}
	if _, err := FAT32(full, size, FATOptions{}); !errors.Is(err, ErrTooBig) {
		t.Errorf("overfull: %v, want ErrTooBig", err)
	}
	for _, bad := range [][]File{
		{{Name: "a:b", Mode: CpioReg}},
		{{Name: "link", Mode: CpioSymlink, Data: []byte("x")}},
		{{Name: "x", Mode: CpioReg}, {Name: "x/y", Mode: CpioReg}},
		{{Name: "x", Mode: CpioReg}, {Name: "x", Mode: CpioReg}},
		{{Name: "/", Mode: CpioDir}},
	} {
		if _, err := FAT32(bad, size, FATOptions{}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := FAT32(ok, size+1, FATOptions{}); err == nil {
		t.Error("a size that is not whole sectors accepted")
	}
}

func TestShortNames(t *testing.T) {
	var nodes []*fatNode
	for _, n := range []string{"START.ELF", "start4.elf", "bcm2837-rpi-3-b.dtb", "bcm2837-rpi-3-b-plus.dtb", "vmlinuz", "Start4.elf", "a+b.txt"} {
		nodes = append(nodes, &fatNode{name: n})
	}
	if err := shortNames(nodes); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		short string
		lfn   bool
	}{
		{"START   ELF", false}, {"START4  ELF", true}, {"BCM283~1DTB", true}, {"BCM283~2DTB", true},
		{"VMLINUZ    ", true}, {"START4~1ELF", true}, {"A_B~1   TXT", true},
	}
	for i, w := range want {
		if got := string(nodes[i].short[:]); got != w.short || nodes[i].lfn != w.lfn {
			t.Errorf("%s: short %q lfn %v, want %q %v", nodes[i].name, got, nodes[i].lfn, w.short, w.lfn)
		}
	}
}

func TestDOSTime(t *testing.T) {
	// 2023-11-14 22:13:20 UTC.
	d, tm := dosTime(1700000000)
	if d != (2023-1980)<<9|11<<5|14 || tm != 22<<11|13<<5|10 {
		t.Fatalf("dosTime: %#x %#x", d, tm)
	}
	if d, _ := dosTime(0); d != 1<<5|1 {
		t.Fatalf("1970 not clamped to 1980: %#x", d)
	}
}

// TestFAT32Tools checks the volume with dosfstools' fsck.fat and reads it
// with mtools, when they are installed (make image installs them).
func TestFAT32Tools(t *testing.T) {
	files := fatFiles()
	size, err := FAT32Size(files, MiB)
	if err != nil {
		t.Fatal(err)
	}
	img, err := FAT32(files, size, FATOptions{VolumeID: 0xcafe, Time: 1700000000})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "boot.fat")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	ran := false
	if fsck, err := exec.LookPath("fsck.fat"); err == nil {
		ran = true
		out, err := exec.Command(fsck, "-n", "-v", p).CombinedOutput()
		if err != nil {
			t.Fatalf("fsck.fat -n: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("FAT32")) {
			t.Fatalf("fsck.fat did not see FAT32:\n%s", out)
		}
		t.Logf("fsck.fat:\n%s", out)
	}
	if mtype, err := exec.LookPath("mtype"); err == nil {
		ran = true
		for _, f := range files {
			if f.Mode&0o170000 != CpioReg {
				continue
			}
			cmd := exec.Command(mtype, "-i", p, "::"+f.Name)
			cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("mtype %s: %v", f.Name, err)
			}
			if !bytes.Equal(out, f.Data) {
				t.Fatalf("mtype %s: %d bytes, want %d", f.Name, len(out), len(f.Data))
			}
		}
		out, err := exec.Command("mdir", "-i", p, "::").CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("bcm2837-rpi-3-b-plus.dtb")) || !bytes.Contains(out, []byte("BOOT")) {
			t.Fatalf("mdir: %v\n%s", err, out)
		}
	}
	if !ran {
		t.Skip("neither fsck.fat (dosfstools) nor mtype (mtools) is installed")
	}
}
