package mkimage

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ModuleName normalises a kernel module name as the kernel does: dashes
// and underscores are the same.
func ModuleName(s string) string {
	return strings.ReplaceAll(strings.TrimSuffix(filepath.Base(s), ".ko"), "-", "_")
}

// ModInfoDepends returns the "depends=" list of a module's .modinfo
// section: NUL-separated key=value strings (include/linux/moduleparam.h).
func ModInfoDepends(modinfo []byte) []string {
	var deps []string
	for kv := range bytes.SplitSeq(modinfo, []byte{0}) {
		v, ok := bytes.CutPrefix(kv, []byte("depends="))
		if !ok {
			continue
		}
		for d := range strings.SplitSeq(string(v), ",") {
			if d = strings.TrimSpace(d); d != "" {
				deps = append(deps, ModuleName(d))
			}
		}
	}
	return deps
}

// ModuleSet finds modules by name under a kernel's lib/modules/VERSION
// directory and orders them so every module comes after its dependencies.
type ModuleSet struct {
	// Paths maps a module name to its .ko file.
	Paths map[string]string
	// Depends returns a module's dependencies (default: read the ELF
	// .modinfo section of its file).
	Depends func(path string) ([]string, error)
}

// IndexModules walks dir for uncompressed .ko files.
func IndexModules(dir string) (*ModuleSet, error) {
	s := &ModuleSet{Paths: map[string]string{}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			s.Paths[ModuleName(p)] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mkimage: modules: %w", err)
	}
	return s, nil
}

func elfDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("%s: no .modinfo section", path)
	}
	b, err := sec.Data()
	if err != nil {
		return nil, err
	}
	return ModInfoDepends(b), nil
}

// Resolve returns the named modules and their dependencies in load order
// (dependencies first; ties by name, so the order is reproducible).
// Names the set does not hold are errors: a module built into the kernel
// should not be asked for.
func (s *ModuleSet) Resolve(names []string) ([]string, error) {
	deps := s.Depends
	if deps == nil {
		deps = elfDepends
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n string, from string) error
	visit = func(n, from string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("mkimage: module dependency cycle at %s", n)
		case 2:
			return nil
		}
		p, ok := s.Paths[n]
		if !ok {
			if from != "" {
				return fmt.Errorf("mkimage: module %s (needed by %s) not found", n, from)
			}
			return fmt.Errorf("mkimage: module %s not found", n)
		}
		state[n] = 1
		ds, err := deps(p)
		if err != nil {
			return fmt.Errorf("mkimage: module %s: %w", n, err)
		}
		sort.Strings(ds)
		for _, d := range ds {
			if err := visit(d, n); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, n)
		return nil
	}
	sorted := append([]string(nil), names...)
	for i := range sorted {
		sorted[i] = ModuleName(sorted[i])
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		if err := visit(n, ""); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// ModuleFiles reads the resolved modules into initramfs entries
// lib/modules/NAME.ko, plus lib/modules/load.order listing them in load
// order, one a line.
func (s *ModuleSet) ModuleFiles(order []string) ([]File, error) {
	files := []File{{Name: "lib", Mode: CpioDir | 0o755}, {Name: "lib/modules", Mode: CpioDir | 0o755}}
	var list bytes.Buffer
	for _, n := range order {
		b, err := os.ReadFile(s.Paths[n])
		if err != nil {
			return nil, fmt.Errorf("mkimage: %w", err)
		}
		files = append(files, File{Name: "lib/modules/" + n + ".ko", Mode: CpioReg | 0o644, Data: b})
		list.WriteString(n + "\n")
	}
	files = append(files, File{Name: "lib/modules/load.order", Mode: CpioReg | 0o644, Data: list.Bytes()})
	return files, nil
}

// DefaultModules are the modules the qemu-arm64 boot stage loads (Debian's
// arm64 kernel builds them as modules): the virtio transports, disk,
// network and console, and the data partition's filesystem.
var DefaultModules = []string{
	"virtio_pci", "virtio_mmio", "virtio_blk", "virtio_net", "virtio_console",
	"ext4", "crc32c_generic",
}
