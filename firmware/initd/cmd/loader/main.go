//go:build linux

// Command loader is the boot stage: /init of the initramfs on the boot
// partition (built by tools/mkimage). It loads the kernel modules, finds
// the disk's partitions by GPT name, mounts the data partition (making its
// filesystem when blank), picks the root slot from the A/B record
// (update.Boot, via boot.Choose), verifies it, unpacks it into a
// read-only tmpfs and switches to it, handing the slot's /init (phoned)
// the slot name and trial flag in its environment.
//
// When something fails it says so on the console and reboots after a
// pause, so a transient fault does not leave a dead phone. It is built
// only for Linux (elsewhere the package is empty).
package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/deskphone/phone/firmware/initd/boot"
	"github.com/deskphone/phone/firmware/update"
)

const newRoot = "/newroot"

func main() {
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo})).With("component", "loader")
	if err := run(log); err != nil {
		log.Error("boot failed; rebooting in 10 s", "err", err)
		time.Sleep(10 * time.Second)
		unix.Sync()
		_ = unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	start := time.Now()
	if err := boot.MountBasics(); err != nil {
		return err
	}
	if err := boot.LoadModules("/lib/modules", log); err != nil {
		log.Warn("modules", "err", err)
	}
	dev := func(slot string) (string, error) {
		return boot.WaitPartition(boot.SlotPartition(slot), 30*time.Second)
	}
	data, err := boot.WaitPartition(boot.PartData, 30*time.Second)
	if err != nil {
		return err
	}
	log.Info("data partition", "dev", data)
	if err := boot.MountData(data, boot.DataDir, log); err != nil {
		// Without the data partition the record cannot be read: boot
		// the committed slot of a fresh phone (A); initd runs without
		// persistent storage and says so.
		log.Error("data partition", "err", err)
	} else if err := os.MkdirAll(boot.DataDir+"/update", 0o755); err != nil {
		log.Error("data partition", "err", err)
	}
	var factory *update.Manifest
	if b, err := os.ReadFile(boot.FactoryManifestPath); err == nil {
		factory, _ = update.ParseManifest(b)
	}
	c, err := boot.Choose(boot.StatePath, factory, dev)
	for _, n := range c.Notes {
		log.Warn(n)
	}
	if err != nil {
		return err
	}
	log.Info("booting", "slot", c.Slot, "trial", c.Trial, "bytes", len(c.Archive), "took", time.Since(start).Round(time.Millisecond))
	if err := unix.Mount("tmpfs", newRoot, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("tmpfs: %w", err)
	}
	if err := boot.Unpack(c.Archive, newRoot); err != nil {
		return fmt.Errorf("unpack slot %s: %w", c.Slot, err)
	}
	c.Archive = nil
	// Free what the initramfs no longer needs before it is hidden.
	_ = os.RemoveAll("/lib/modules")
	trial := "0"
	if c.Trial {
		trial = "1"
	}
	env := []string{boot.EnvSlot + "=" + c.Slot, boot.EnvTrial + "=" + trial, "PATH=/", "HOME=/"}
	return boot.SwitchRoot(newRoot, "/init", env)
}
