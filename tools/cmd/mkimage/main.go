// Command mkimage builds the firmware disk image, its signed manifest and
// the root update bundle (logic in package tools/mkimage):
//
//	mkimage -board qemu-arm64 -version v1.0.0 -kernel vmlinuz -init phoned \
//	  -key bin/keys/dev.key -pub bin/keys/dev.pub -o phone.img -bundle phone.upd
//
// With -loader (the boot stage, firmware/initd/cmd/loader) and
// -modules-dir (the kernel's lib/modules/VERSION) the boot partition also
// holds initrd.img, the boot stage's initramfs with the -modules it loads.
// -boot-files adds a directory's files to the boot partition (for the
// rpi board, whose boot partition is FAT32: the Pi firmware and device
// trees). -bootdir writes vmlinuz, initrd.img and cmdline.txt there too: what a
// bootloader (or QEMU's -kernel/-initrd/-append) takes from the boot
// partition.
//
// It writes phone.img, phone.img.manifest, phone.img.sig and phone.upd.
// The build time is SOURCE_DATE_EPOCH (now when unset). The public key is
// baked into the root as /etc/deskphone/update.pub.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/deskphone/phone/firmware/update"
	"github.com/deskphone/phone/tools/flash"
	"github.com/deskphone/phone/tools/mkimage"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run() error {
	board := flag.String("board", "qemu-arm64", "board name")
	version := flag.String("version", "", "firmware version")
	kernel := flag.String("kernel", "", "kernel image")
	cmdline := flag.String("cmdline", "", "kernel command line (default: the board's, mkimage.BoardCmdline)")
	initPath := flag.String("init", "", "static phoned, /init of the root")
	key := flag.String("key", "bin/keys/dev.key", "signing key")
	pub := flag.String("pub", "bin/keys/dev.pub", "public key baked into the root")
	out := flag.String("o", "phone.img", "disk image")
	bundle := flag.String("bundle", "", "update bundle (default: the image name with .upd)")
	slot := flag.Int64("slot-mib", mkimage.DefaultSlotSize/mkimage.MiB, "root slot size, MiB")
	data := flag.Int64("data-mib", mkimage.DefaultDataSize/mkimage.MiB, "data partition size, MiB")
	loader := flag.String("loader", "", "boot stage binary, /init of the boot partition's initramfs")
	modDir := flag.String("modules-dir", "", "kernel modules directory (lib/modules/VERSION) for the boot stage")
	mods := flag.String("modules", "", "modules the boot stage loads, comma-separated (their dependencies are added; default: the board's, mkimage.BoardModules)")
	bootFiles := flag.String("boot-files", "", "directory whose files also go onto the boot partition (the Raspberry Pi firmware and device trees)")
	bootDir := flag.String("bootdir", "", "also write vmlinuz, initrd.img and cmdline.txt into this directory")
	flag.Parse()
	bt, err := update.BuildTime(os.Getenv("SOURCE_DATE_EPOCH"), time.Now)
	if err != nil {
		return err
	}
	k, err := flash.LoadPrivateKey(*key)
	if err != nil {
		return err
	}
	pubPEM, err := os.ReadFile(*pub)
	if err != nil {
		return err
	}
	kern, err := os.ReadFile(*kernel)
	if err != nil {
		return err
	}
	init, err := os.ReadFile(*initPath)
	if err != nil {
		return err
	}
	o := mkimage.Options{Board: *board, Version: *version, BuildTime: bt, Kernel: kern, Cmdline: *cmdline,
		Init: init, Key: k, SlotSize: *slot * mkimage.MiB, DataSize: *data * mkimage.MiB,
		Extra: []mkimage.File{{Name: "etc/deskphone/update.pub", Mode: mkimage.CpioReg | 0o644, Data: pubPEM}}}
	if *bootFiles != "" {
		if o.BootFiles, err = mkimage.DirFiles(*bootFiles); err != nil {
			return err
		}
	}
	if *mods == "" {
		*mods = strings.Join(mkimage.BoardModules(*board), ",")
	}
	if *loader != "" {
		if o.Loader, err = os.ReadFile(*loader); err != nil {
			return err
		}
		if *modDir != "" {
			set, err := mkimage.IndexModules(*modDir)
			if err != nil {
				return err
			}
			order, err := set.Resolve(strings.Split(*mods, ","))
			if err != nil {
				return err
			}
			if o.Modules, err = set.ModuleFiles(order); err != nil {
				return err
			}
		}
	}
	r, err := mkimage.Build(o)
	if err != nil {
		return err
	}
	if *bootDir != "" {
		if err := os.MkdirAll(*bootDir, 0o755); err != nil {
			return err
		}
		boot := map[string][]byte{"vmlinuz": kern, "cmdline.txt": []byte(r.Cmdline + "\n")}
		if r.Initrd != nil {
			boot["initrd.img"] = r.Initrd
		}
		for name, b := range boot {
			if err := os.WriteFile(filepath.Join(*bootDir, name), b, 0o644); err != nil {
				return err
			}
		}
	}
	if *bundle == "" {
		*bundle = *out + ".upd"
	}
	for _, f := range []struct {
		path string
		b    []byte
	}{{*out, r.Image}, {flash.ManifestPath(*out), r.Manifest}, {flash.SigPath(*out), r.Sig}, {*bundle, r.Bundle}} {
		if err := os.WriteFile(f.path, f.b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%s: %d bytes (root %d bytes in two %d MiB slots); %s: %d bytes\n", *out, len(r.Image), len(r.Root), *slot, *bundle, len(r.Bundle))
	return nil
}
