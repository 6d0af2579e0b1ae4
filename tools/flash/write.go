package flash

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/deskphone/phone/firmware/update"
)

// WriteOptions configures Write.
type WriteOptions struct {
	// Image is the disk image; IMAGE.manifest and IMAGE.sig go with it.
	Image string
	// Device is the target: a block device (an SD card) or a file.
	Device string
	// PublicKey checks the image's signature before anything is written.
	PublicKey ed25519.PublicKey
	// Progress, when non-nil, receives progress lines (write, verify).
	Progress io.Writer
	// Board, when set, must match the manifest's board.
	Board string
	// Safety, when nil, is DefaultSafety (the running system's /proc and
	// /sys).
	Safety *Safety
}

// WriteResult reports a finished write.
type WriteResult struct {
	Manifest *update.Manifest
	Bytes    int64
	SHA256   string // of the image, equal to the read-back
}

// Write checks the image's signature, refuses an unsafe target, writes
// the image with progress, syncs, and reads it back to compare.
func Write(ctx context.Context, o WriteOptions) (*WriteResult, error) {
	m, err := VerifyImage(o.PublicKey, o.Image)
	if err != nil {
		return nil, err
	}
	if o.Board != "" && m.Board != o.Board {
		return nil, fmt.Errorf("%w: image for %q, not %q", update.ErrWrongBoard, m.Board, o.Board)
	}
	s := o.Safety
	if s == nil {
		s = DefaultSafety()
	}
	if err := s.Check(o.Device); err != nil {
		return nil, err
	}
	src, err := os.Open(o.Image)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	flags := os.O_WRONLY
	if dfi, err := os.Stat(o.Device); err != nil || dfi.Mode().IsRegular() {
		flags |= os.O_CREATE | os.O_TRUNC
	}
	dst, err := os.OpenFile(o.Device, flags, 0o644)
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	if dfi, err := dst.Stat(); err == nil && dfi.Mode()&os.ModeDevice != 0 {
		devSize, err := dst.Seek(0, io.SeekEnd)
		if err != nil {
			return nil, err
		}
		if devSize < size {
			return nil, fmt.Errorf("flash: %s holds %d bytes, the image needs %d", o.Device, devSize, size)
		}
		if _, err := dst.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
	}
	h := sha256.New()
	wp := &Progress{W: o.Progress, Label: "write ", Total: size}
	if _, err := copyCtx(ctx, io.MultiWriter(dst, h), &progressReader{r: src, p: wp}); err != nil {
		return nil, fmt.Errorf("flash: write %s: %w", o.Device, err)
	}
	if err := dst.Sync(); err != nil {
		return nil, fmt.Errorf("flash: sync %s: %w", o.Device, err)
	}
	want := hex.EncodeToString(h.Sum(nil))
	// Read back through a fresh descriptor; on a block device drop the
	// page cache first so the card's content, not our own writes, is read.
	if fi, err := dst.Stat(); err == nil && fi.Mode()&os.ModeDevice != 0 {
		_ = unix.Fadvise(int(dst.Fd()), 0, 0, unix.FADV_DONTNEED)
	}
	rb, err := os.Open(o.Device)
	if err != nil {
		return nil, err
	}
	defer rb.Close()
	h.Reset()
	vp := &Progress{W: o.Progress, Label: "verify", Total: size}
	n, err := copyCtx(ctx, h, &progressReader{r: io.LimitReader(rb, size), p: vp})
	if err != nil {
		return nil, fmt.Errorf("flash: read back %s: %w", o.Device, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != size || got != want {
		return nil, fmt.Errorf("%w: %s: read %d bytes, sha256 %s, wrote %s", ErrVerify, o.Device, n, got, want)
	}
	return &WriteResult{Manifest: m, Bytes: size, SHA256: want}, nil
}

// copyCtx copies in 1 MiB blocks, stopping when ctx is done.
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := io.ReadFull(src, buf)
		if k > 0 {
			w, err := dst.Write(buf[:k])
			n += int64(w)
			if err != nil {
				return n, err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// Safety decides whether a device may be written. Its paths point at
// /proc and /sys; tests point them at a fake tree.
type Safety struct {
	// Mounts is /proc/mounts; Swaps is /proc/swaps.
	Mounts, Swaps string
	// Sys is /sys.
	Sys string
	// DevNum returns the major and minor number of a device node, and
	// false for anything that is not a block device.
	DevNum func(path string) (major, minor uint32, ok bool)
}

// DefaultSafety looks at the running system.
func DefaultSafety() *Safety {
	return &Safety{Mounts: "/proc/mounts", Swaps: "/proc/swaps", Sys: "/sys", DevNum: devNum}
}

func devNum(path string) (uint32, uint32, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return 0, 0, false
	}
	return unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)), true
}

// disk returns the whole disk a block device belongs to ("sda" for
// /dev/sda2), from /sys/dev/block/MAJ:MIN.
func (s *Safety) disk(path string) (string, bool) {
	maj, mnr, ok := s.DevNum(path)
	if !ok {
		return "", false
	}
	link, err := filepath.EvalSymlinks(filepath.Join(s.Sys, "dev", "block", fmt.Sprintf("%d:%d", maj, mnr)))
	if err != nil {
		return "", false
	}
	if _, err := os.Stat(filepath.Join(link, "partition")); err == nil {
		link = filepath.Dir(link)
	}
	return filepath.Base(link), true
}

// Check returns ErrUnsafeTarget when path is a block device on a disk with
// a mounted filesystem or active swap (the system disk always has one), or
// a disk used by device-mapper, LVM or RAID (holders). A regular file, or
// a path that does not exist yet, is safe unless it is mounted on.
func (s *Safety) Check(path string) error {
	disk, isDev := s.disk(path)
	if !isDev {
		if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
			return fmt.Errorf("flash: %s is neither a block device nor a regular file", path)
		}
		return nil
	}
	if holders, _ := os.ReadDir(filepath.Join(s.Sys, "block", disk, "holders")); len(holders) > 0 {
		return fmt.Errorf("%w: %s is used by %s", ErrUnsafeTarget, disk, holders[0].Name())
	}
	for _, file := range []string{s.Mounts, s.Swaps} {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("flash: cannot tell whether %s is in use: %w", path, err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 || !strings.HasPrefix(fields[0], "/") {
				continue
			}
			if d, ok := s.disk(fields[0]); ok && d == disk {
				f.Close()
				return fmt.Errorf("%w: %s (disk %s) has %s in use at %s", ErrUnsafeTarget, path, disk, fields[0], fields[1])
			}
		}
		f.Close()
	}
	return nil
}
