package mkimage

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/deskphone/phone/firmware/update"
)

// Default sizes.
const (
	MiB             = 1 << 20
	DefaultSlotSize = 48 * MiB
	DefaultDataSize = 16 * MiB
	// DefaultCmdline is the kernel command line for the qemu-arm64 board.
	DefaultCmdline = "console=ttyAMA0 panic=10 quiet deskphone.board=qemu-arm64"
)

// Options describes an image.
type Options struct {
	Board, Version string
	// BuildTime is the Unix time recorded in the manifest and as every
	// file's mtime (SOURCE_DATE_EPOCH).
	BuildTime int64
	// Kernel is the kernel image; Cmdline its command line.
	Kernel  []byte
	Cmdline string
	// Init is the static phoned, /init of the root slot.
	Init []byte
	// Extra files for the root slot (e.g. "etc/deskphone/update.pub").
	Extra []File
	// SlotSize and DataSize are partition sizes (defaults above); the
	// boot partition is sized to its content.
	SlotSize, DataSize int64
	// Key signs the manifests.
	Key ed25519.PrivateKey
	// Loader is the boot stage (firmware/initd/cmd/loader), /init of the
	// initramfs on the boot partition; Modules are the kernel modules it
	// loads (see ModuleSet.ModuleFiles). Without a Loader the boot
	// partition holds no initramfs.
	Loader  []byte
	Modules []File
}

// Result is what Build produced.
type Result struct {
	// Image is the disk; Manifest and Sig go beside it.
	Image, Manifest, Sig []byte
	// Bundle is the signed update bundle of the root slot.
	Bundle []byte
	// Root is the root slot's archive.
	Root []byte
	// Initrd is the boot stage's initramfs (nil without Options.Loader),
	// also stored as initrd.img on the boot partition.
	Initrd []byte
	// Cmdline is the kernel command line stored as cmdline.txt.
	Cmdline string
}

// InitrdFS returns the boot stage's initramfs: /init = the loader, the
// kernel modules, /dev/console (the kernel opens it for init's standard
// streams), the mount points the loader uses, and the manifest of the
// factory root (so the loader can verify a slot the A/B record says
// nothing about).
func InitrdFS(o Options, updateManifest []byte) ([]byte, error) {
	files := []File{
		{Name: "dev", Mode: CpioDir | 0o755},
		{Name: "dev/console", Mode: CpioChar | 0o600, Major: 5, Minor: 1},
		{Name: "etc", Mode: CpioDir | 0o755},
		{Name: "etc/deskphone", Mode: CpioDir | 0o755},
		{Name: "etc/deskphone/update.manifest", Mode: CpioReg | 0o644, Data: updateManifest},
		{Name: "init", Mode: CpioReg | 0o755, Data: o.Loader},
		{Name: "newroot", Mode: CpioDir | 0o755},
		{Name: "perm", Mode: CpioDir | 0o755},
		{Name: "proc", Mode: CpioDir | 0o555},
		{Name: "sys", Mode: CpioDir | 0o555},
	}
	files = append(files, o.Modules...)
	var b bytes.Buffer
	if err := WriteCpio(&b, files, o.BuildTime); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// RootFS returns the root slot archive: /init, the directories initd
// mounts on, and the extra files.
func RootFS(o Options) ([]byte, error) {
	files := []File{
		{Name: "dev", Mode: CpioDir | 0o755},
		{Name: "etc", Mode: CpioDir | 0o755},
		{Name: "etc/deskphone", Mode: CpioDir | 0o755},
		// The root is read-only: initd writes the resolver's
		// configuration into /tmp.
		{Name: "etc/resolv.conf", Mode: CpioSymlink | 0o777, Data: []byte("/tmp/resolv.conf")},
		{Name: "init", Mode: CpioReg | 0o755, Data: o.Init},
		{Name: "perm", Mode: CpioDir | 0o755},
		{Name: "proc", Mode: CpioDir | 0o555},
		{Name: "sys", Mode: CpioDir | 0o555},
		{Name: "tmp", Mode: CpioDir | 0o1777},
	}
	files = append(files, o.Extra...)
	var b bytes.Buffer
	if err := WriteCpio(&b, files, o.BuildTime); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Build makes the disk image, its signed manifest and the update bundle.
func Build(o Options) (*Result, error) {
	if o.Board == "" || o.Version == "" || len(o.Kernel) == 0 || len(o.Init) == 0 || len(o.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("mkimage: Board, Version, Kernel, Init and Key are required")
	}
	if o.SlotSize == 0 {
		o.SlotSize = DefaultSlotSize
	}
	if o.DataSize == 0 {
		o.DataSize = DefaultDataSize
	}
	if o.Cmdline == "" {
		o.Cmdline = DefaultCmdline
	}
	root, err := RootFS(o)
	if err != nil {
		return nil, err
	}
	if int64(len(root)) > o.SlotSize {
		return nil, fmt.Errorf("%w: root %d bytes, slot %d", ErrTooBig, len(root), o.SlotSize)
	}
	rootSum := sha256.Sum256(root)
	rootHex := hex.EncodeToString(rootSum[:])

	// The update bundle.
	um := &update.Manifest{Format: update.ManifestVersion, Kind: update.KindUpdate, Board: o.Board, Version: o.Version,
		BuildTime: o.BuildTime, Parts: []update.Part{{Name: "root", Size: int64(len(root)), SHA256: rootHex}}}
	umb := um.Marshal()
	var bundle bytes.Buffer
	if err := update.WriteBundleHeader(&bundle, umb, update.Sign(o.Key, umb)); err != nil {
		return nil, err
	}
	bundle.Write(root)

	bootFiles := []File{{Name: "cmdline.txt", Mode: CpioReg | 0o644, Data: []byte(o.Cmdline + "\n")}}
	var initrd []byte
	if len(o.Loader) > 0 {
		if initrd, err = InitrdFS(o, umb); err != nil {
			return nil, err
		}
		bootFiles = append(bootFiles, File{Name: "initrd.img", Mode: CpioReg | 0o644, Data: initrd})
	}
	bootFiles = append(bootFiles,
		File{Name: "update.manifest", Mode: CpioReg | 0o644, Data: umb},
		File{Name: "vmlinuz", Mode: CpioReg | 0o644, Data: o.Kernel})
	var boot bytes.Buffer
	if err := WriteCpio(&boot, bootFiles, o.BuildTime); err != nil {
		return nil, err
	}
	bootSize := roundUp(int64(boot.Len())+MiB, MiB)

	first := int64(MiB)
	layout := []struct {
		name string
		size int64
		data []byte
	}{
		{"boot", bootSize, boot.Bytes()},
		{"rootA", o.SlotSize, root},
		{"rootB", o.SlotSize, root},
		{"data", o.DataSize, nil},
	}
	total := first
	for _, l := range layout {
		total += l.size
	}
	total += MiB // room for the backup GPT, aligned
	disk := make([]byte, total)
	var parts []gptPart
	m := &update.Manifest{Format: update.ManifestVersion, Kind: update.KindImage, Board: o.Board, Version: o.Version, BuildTime: o.BuildTime}
	off := first
	for _, l := range layout {
		copy(disk[off:], l.data)
		parts = append(parts, gptPart{name: l.name, first: off, end: off + l.size})
		p := update.Part{Name: l.name, Offset: off, Size: l.size}
		if l.name != "data" {
			// The whole partition is hashed, padding included: what
			// flash verify and a phone reading back see.
			s := sha256.Sum256(disk[off : off+l.size])
			p.SHA256 = hex.EncodeToString(s[:])
		}
		m.Parts = append(m.Parts, p)
		off += l.size
	}
	writeGPT(disk, parts, o.Board+"/"+o.Version)
	mb := m.Marshal()
	return &Result{Image: disk, Manifest: mb, Sig: update.Sign(o.Key, mb), Bundle: bundle.Bytes(), Root: root,
		Initrd: initrd, Cmdline: o.Cmdline}, nil
}
