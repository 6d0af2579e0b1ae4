package mkimage

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deskphone/phone/firmware/cpio"
)

func TestModInfoDepends(t *testing.T) {
	mi := []byte("license=GPL\x00depends=jbd2,mbcache,crc16\x00intree=Y\x00name=ext4\x00")
	if got := ModInfoDepends(mi); !slices.Equal(got, []string{"jbd2", "mbcache", "crc16"}) {
		t.Fatalf("%v", got)
	}
	if got := ModInfoDepends([]byte("depends=\x00name=virtio_blk\x00")); len(got) != 0 {
		t.Fatalf("%v", got)
	}
}

// TestResolve orders modules after their dependencies, reproducibly,
// and reports missing modules and cycles.
func TestResolve(t *testing.T) {
	deps := map[string][]string{
		"ext4": {"jbd2", "mbcache", "crc16"}, "jbd2": nil, "mbcache": nil, "crc16": nil,
		"virtio_net": {"net_failover"}, "net_failover": {"failover"}, "failover": nil,
		"virtio-blk": nil, "a": {"b"}, "b": {"a"}, "broken": {"nowhere"},
	}
	s := &ModuleSet{Paths: map[string]string{}, Depends: func(p string) ([]string, error) { return deps[p], nil }}
	for n := range deps {
		s.Paths[ModuleName(n)] = n
	}
	got, err := s.Resolve([]string{"virtio_net", "ext4", "virtio-blk"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"crc16", "jbd2", "mbcache", "ext4", "virtio_blk", "failover", "net_failover", "virtio_net"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if _, err := s.Resolve([]string{"a"}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: %v", err)
	}
	if _, err := s.Resolve([]string{"broken"}); err == nil || !strings.Contains(err.Error(), "needed by broken") {
		t.Fatalf("missing dep: %v", err)
	}
	if _, err := s.Resolve([]string{"ghost"}); err == nil {
		t.Fatal("unknown module accepted")
	}
}

// TestBootStage builds an image with a boot stage: the boot partition
// holds initrd.img, whose archive has /init, /dev/console as a character
// device 5:1, the modules and their load order, and the factory update
// manifest; the root has the resolv.conf link.
func TestBootStage(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"kernel/fs/jbd2.ko", "kernel/fs/ext4.ko"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(n)), 0o755)
		os.WriteFile(filepath.Join(dir, n), []byte("\x7fELF "+n), 0o644)
	}
	set, err := IndexModules(dir)
	if err != nil {
		t.Fatal(err)
	}
	set.Depends = func(p string) ([]string, error) {
		if strings.HasSuffix(p, "ext4.ko") {
			return []string{"jbd2"}, nil
		}
		return nil, nil
	}
	order, err := set.Resolve([]string{"ext4"})
	if err != nil {
		t.Fatal(err)
	}
	o := opts(t)
	o.Loader = []byte("\x7fELF loader")
	if o.Modules, err = set.ModuleFiles(order); err != nil {
		t.Fatal(err)
	}
	r, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	parts, _ := ReadGPT(r.Image)
	boot, err := cpio.Read(r.Image[parts[0].Offset:])
	if err != nil {
		t.Fatal(err)
	}
	var initrd []byte
	for _, f := range boot {
		if f.Name == "initrd.img" {
			initrd = f.Data
		}
	}
	if !bytes.Equal(initrd, r.Initrd) || len(initrd) == 0 {
		t.Fatal("boot partition has no initrd.img")
	}
	files, err := cpio.Read(initrd)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]File{}
	for _, f := range files {
		byName[f.Name] = f
	}
	if c := byName["dev/console"]; c.Mode != CpioChar|0o600 || c.Major != 5 || c.Minor != 1 {
		t.Fatalf("dev/console %+v", c)
	}
	if !bytes.Equal(byName["init"].Data, o.Loader) || string(byName["lib/modules/load.order"].Data) != "jbd2\next4\n" {
		t.Fatalf("init or load order: %q", byName["lib/modules/load.order"].Data)
	}
	if !bytes.Contains(byName["lib/modules/ext4.ko"].Data, []byte("ext4.ko")) || byName["etc/deskphone/update.manifest"].Data == nil {
		t.Fatal("modules or manifest missing")
	}
	root, _ := cpio.Read(r.Root)
	found := false
	for _, f := range root {
		if f.Name == "etc/resolv.conf" && f.Mode == CpioSymlink|0o777 && string(f.Data) == "/tmp/resolv.conf" {
			found = true
		}
	}
	if !found {
		t.Fatal("root has no /etc/resolv.conf link")
	}
}
