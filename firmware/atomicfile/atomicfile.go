package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// hooks are the file operations Write uses; tests replace them
// to make a step fail, as a crash or a full disk would.
type hooks struct {
	write  func(f *os.File, data []byte) (int, error)
	sync   func(f *os.File) error
	rename func(oldpath, newpath string) error
}

var fileOps = hooks{
	write:  func(f *os.File, data []byte) (int, error) { return f.Write(data) },
	sync:   func(f *os.File) error { return f.Sync() },
	rename: os.Rename,
}

// Write replaces the file at path with data so that, whatever
// happens (error, crash, power cut), path holds either its old content
// or the new one, never a part. It writes a temporary file in the same
// directory, syncs it, renames it over path and syncs the directory so
// the rename itself is durable. On any error the old file is untouched
// and the temporary file is removed. If path is a symbolic link, the file
// it points to is replaced and the link kept.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
		if real, rerr := filepath.EvalSymlinks(path); rerr == nil {
			path = real
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close() // may already be closed; the error is not interesting
			os.Remove(tmp)
			err = fmt.Errorf("atomicfile: write %s: %w", path, err)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	n, err := fileOps.write(f, data)
	if err == nil && n < len(data) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return err
	}
	if err = fileOps.sync(f); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = fileOps.rename(tmp, path); err != nil {
		return err
	}
	// The new file is in place. Make the rename durable: a directory
	// that cannot be synced is reported, but the file is not rolled back.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("atomicfile: write %s: sync directory: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	// Some filesystems cannot sync a directory; that is not a failure of
	// the write.
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported) {
		err = nil
	}
	return errors.Join(err, d.Close())
}
