package mkimage

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/deskphone/phone/firmware/cpio"
	"github.com/deskphone/phone/firmware/update"
)

// Default sizes.
const (
	MiB             = 1 << 20
	DefaultSlotSize = 48 * MiB
	DefaultDataSize = 16 * MiB
	// DefaultCmdline is the kernel command line for the qemu-arm64 board.
	DefaultCmdline = "console=ttyAMA0 panic=10 quiet deskphone.board=qemu-arm64"
	// RPiCmdline is the kernel command line for the rpi board: the
	// console on HDMI and on the UART of GPIO14/15 (the mini UART, ttyS1,
	// with the upstream device trees of the Pi 3 and 4), the last one
	// being /dev/console.
	RPiCmdline = "console=tty1 console=ttyS1,115200 panic=10 quiet deskphone.board=rpi"
)

// Boards.
const (
	BoardQEMU = "qemu-arm64"
	BoardRPi  = "rpi"
)

// Boot partition formats.
const (
	// BootCpio is a newc cpio archive (qemu-arm64: QEMU takes the files
	// as -kernel, -initrd and -append).
	BootCpio = "cpio"
	// BootFAT32 is a FAT32 filesystem, which the Raspberry Pi's firmware
	// reads; the disk then has a hybrid MBR (see writeHybridMBR).
	BootFAT32 = "fat32"
)

// RPiConfig is the Raspberry Pi firmware's config.txt: 64-bit mode, the
// kernel and the boot stage's initramfs, the serial console, and the
// upstream (Debian) device trees, whose file names the firmware derives
// from the board (bcm2837-rpi-3-b.dtb, bcm2711-rpi-4-b.dtb, ...) when
// upstream_kernel=1.
const RPiConfig = `# deskphone firmware image (tools/mkimage); read by the Pi's GPU firmware.
arm_64bit=1
upstream_kernel=1
kernel=vmlinuz
initramfs initrd.img followkernel
cmdline=cmdline.txt
enable_uart=1
disable_splash=1
`

// RPiModules are the modules the rpi boot stage loads (Debian's arm64
// kernel builds them as modules): the SD card (sdhci-iproc on the Pi 4
// and the Pi 3's SDHCI, bcm2835 for the Pi 3's sdhost), USB and its
// Ethernet (dwc2 with its nop PHY, smsc95xx on the Pi 3B, lan78xx on the
// 3B+), the Pi 4's GENET Ethernet with its PHY and MDIO, the Pi 4's USB
// reset controller and xHCI, I²C (with i2c-dev: /dev/i2c-1 for the
// codec) and SPI, the I²S controller and the
// WM8960 codec for the audio HAT (with simple-audio-card for its
// overlay), the PWM (buzzer), the hardware RNG, the watchdog, and the
// data partition's filesystem.
var RPiModules = []string{
	"sdhci_iproc", "bcm2835", "dwc2", "phy_generic", "smsc95xx", "lan78xx",
	"genet", "broadcom", "mdio_bcm_unimac", "reset_raspberrypi", "xhci_pci",
	"i2c_bcm2835", "i2c_dev", "spi_bcm2835", "snd_soc_bcm2835_i2s", "snd_soc_wm8960", "snd_soc_simple_card",
	"pwm_bcm2835", "bcm2835_rng", "bcm2835_wdt", "ext4", "crc32c_generic",
}

// BoardModules returns the modules a board's boot stage loads.
func BoardModules(board string) []string {
	if board == BoardRPi {
		return RPiModules
	}
	return DefaultModules
}

// BoardCmdline returns a board's default kernel command line.
func BoardCmdline(board string) string {
	if board == BoardRPi {
		return RPiCmdline
	}
	return DefaultCmdline
}

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
	// BootFormat is BootCpio or BootFAT32; empty means BootFAT32 for the
	// rpi board and BootCpio otherwise.
	BootFormat string
	// BootFiles are more files for the boot partition (the Pi firmware,
	// device trees, a config.txt replacing RPiConfig).
	BootFiles []File
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
	if err := cpio.Write(&b, files, o.BuildTime); err != nil {
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
	if err := cpio.Write(&b, files, o.BuildTime); err != nil {
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
		o.Cmdline = BoardCmdline(o.Board)
	}
	if o.BootFormat == "" {
		o.BootFormat = BootCpio
		if o.Board == BoardRPi {
			o.BootFormat = BootFAT32
		}
	}
	if o.BootFormat != BootCpio && o.BootFormat != BootFAT32 {
		return nil, fmt.Errorf("mkimage: boot format %q (want %s or %s)", o.BootFormat, BootCpio, BootFAT32)
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
	first := int64(MiB)
	var bootData []byte
	var bootSize int64
	if o.BootFormat == BootFAT32 {
		if bootData, bootSize, err = fatBoot(o, bootFiles, first); err != nil {
			return nil, err
		}
	} else {
		var boot bytes.Buffer
		if err := cpio.Write(&boot, append(bootFiles, o.BootFiles...), o.BuildTime); err != nil {
			return nil, err
		}
		bootData, bootSize = boot.Bytes(), roundUp(int64(boot.Len())+MiB, MiB)
	}

	layout := []struct {
		name string
		size int64
		data []byte
	}{
		{"boot", bootSize, bootData},
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
		gp := gptPart{name: l.name, first: off, end: off + l.size}
		if l.name == "boot" && o.BootFormat == BootFAT32 {
			gp.typ = basicData
		}
		parts = append(parts, gp)
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
	if o.BootFormat == BootFAT32 {
		writeHybridMBR(disk, parts[0], o.Board+"/"+o.Version)
	}
	mb := m.Marshal()
	return &Result{Image: disk, Manifest: mb, Sig: update.Sign(o.Key, mb), Bundle: bundle.Bytes(), Root: root,
		Initrd: initrd, Cmdline: o.Cmdline}, nil
}

// fatBoot returns the FAT32 boot partition: the extra boot files (the Pi
// firmware and device trees), config.txt (RPiConfig unless given), and
// the image's own boot files, sized to fit with 1 MiB to spare. The
// volume ID is the build time, so it is reproducible.
func fatBoot(o Options, own []File, offset int64) ([]byte, int64, error) {
	files := append([]File(nil), o.BootFiles...)
	hasConfig := false
	for _, f := range files {
		if strings.EqualFold(strings.Trim(f.Name, "/"), "config.txt") {
			hasConfig = true
		}
	}
	if !hasConfig {
		files = append(files, File{Name: "config.txt", Mode: CpioReg | 0o644, Data: []byte(RPiConfig)})
	}
	files = append(files, own...)
	size, err := FAT32Size(files, MiB)
	if err != nil {
		return nil, 0, err
	}
	img, err := FAT32(files, size, FATOptions{Label: "BOOT", VolumeID: uint32(o.BuildTime), Time: o.BuildTime, HiddenSectors: uint32(offset / sector)})
	if err != nil {
		return nil, 0, err
	}
	return img, size, nil
}

// DirFiles returns the regular files under dir (and the directories
// holding them) as boot partition entries, in lexical order, named
// relative to dir.
func DirFiles(dir string) ([]File, error) {
	var files []File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			files = append(files, File{Name: rel, Mode: CpioDir | 0o755})
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files = append(files, File{Name: rel, Mode: CpioReg | 0o644, Data: b})
		default:
			return fmt.Errorf("%s: not a regular file or directory", p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mkimage: boot files: %w", err)
	}
	return files, nil
}
