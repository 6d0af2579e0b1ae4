//go:build linux

package boot

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/deskphone/phone/firmware/initd/ext4"
)

// Mount mounts fstype at target unless something is mounted there
// already (EBUSY: the boot stage moved it here).
func Mount(source, target, fstype string, flags uintptr, data string) error {
	if err := os.MkdirAll(target, 0o755); err != nil && !errors.Is(err, unix.EROFS) {
		return err
	}
	err := unix.Mount(source, target, fstype, flags, data)
	if err == nil || errors.Is(err, unix.EBUSY) {
		return nil
	}
	return fmt.Errorf("boot: mount %s on %s: %w", fstype, target, err)
}

// MountBasics mounts /proc, /sys and /dev (devtmpfs), those the boot stage
// has not moved here already.
func MountBasics() error {
	return errors.Join(
		Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""),
		Mount("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""),
		Mount("devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"),
	)
}

// IsMountPoint reports whether dir is a mount point (per
// /proc/self/mountinfo).
func IsMountPoint(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) > 4 && fs[4] == dir {
			return true
		}
	}
	return false
}

// LoadModules loads the modules listed in dir/load.order (one name a line,
// dependencies first) with finit_module(2). Modules already loaded are
// fine; a failing module is reported and the rest still loaded.
func LoadModules(dir string, log *slog.Logger) error {
	b, err := os.ReadFile(filepath.Join(dir, "load.order"))
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range strings.Fields(string(b)) {
		f, err := os.Open(filepath.Join(dir, name+".ko"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("module %s: %w", name, err))
			continue
		}
		log.Debug("module loaded", "module", name)
	}
	return errors.Join(errs...)
}

// WaitPartition waits (polling sysfs, the disk driver probes
// asynchronously) up to timeout for a partition.
func WaitPartition(name string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		dev, err := FindPartition("/sys", "/dev", name)
		if err == nil {
			if _, serr := os.Stat(dev); serr == nil {
				return dev, nil
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%w: %s has no device node", ErrNoPartition, dev)
			}
			return "", err
		}
		time.Sleep(50 * time.Millisecond) // polling the kernel, not synchronising goroutines
	}
}

// MountData mounts the data partition (ext4) on target, making its
// filesystem first when the partition is blank. A partition that holds a
// filesystem which does not mount is not reformatted (that would lose the
// phone's config): the error is returned.
func MountData(dev, target string, log *slog.Logger) error {
	if IsMountPoint(target) {
		return nil
	}
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("boot: data partition: %w", err)
	}
	if !ext4.Detect(f) {
		size, err := f.Seek(0, 2)
		if err == nil {
			var o ext4.Options
			o.Label = "deskphone-data"
			_, _ = rand.Read(o.UUID[:])
			o.UUID[6] = o.UUID[6]&0x0f | 0x40
			o.UUID[8] = o.UUID[8]&0x3f | 0x80
			o.Time = uint32(time.Now().Unix())
			log.Info("data partition is blank: making its filesystem", "dev", dev, "bytes", size)
			err = ext4.Format(f, size, o)
		}
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("boot: format %s: %w", dev, err)
		}
	}
	f.Close()
	if err := os.MkdirAll(target, 0o755); err != nil && !errors.Is(err, unix.EROFS) {
		return err
	}
	// data=ordered (the default) with the journal: after a power cut the
	// journal is replayed and a file written with write, fsync, rename,
	// fsync(dir) is either the old or the new one.
	if err := unix.Mount(dev, target, "ext4", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOATIME, "errors=remount-ro"); err != nil {
		return fmt.Errorf("boot: mount %s on %s: %w", dev, target, err)
	}
	return nil
}

// SwitchRoot makes newRoot the root (moving /dev, /proc, /sys and the data
// partition into it), then executes init there with env. It returns only
// on failure.
func SwitchRoot(newRoot, init string, env []string) error {
	for _, m := range []string{"/dev", "/proc", "/sys", DataDir} {
		if !IsMountPoint(m) {
			continue
		}
		if err := unix.Mount(m, filepath.Join(newRoot, m), "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("boot: move %s: %w", m, err)
		}
	}
	// The root is read-only: nothing but an update changes a slot.
	if err := unix.Mount("", newRoot, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("boot: remount %s read-only: %w", newRoot, err)
	}
	if err := unix.Chdir(newRoot); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("boot: move %s to /: %w", newRoot, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("boot: chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	return unix.Exec(init, []string{init}, env)
}
