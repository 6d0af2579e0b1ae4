package atomicfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// setOps replaces the file operations for one test.
func setOps(t *testing.T, h hooks) {
	t.Helper()
	old := fileOps
	if h.write == nil {
		h.write = old.write
	}
	if h.sync == nil {
		h.sync = old.sync
	}
	if h.rename == nil {
		h.rename = old.rename
	}
	fileOps = h
	t.Cleanup(func() { fileOps = old })
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "phone.yaml")
	if err := Write(path, []byte("first\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("second\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "second\n" {
		t.Fatalf("content = %q, %v", data, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if names := dirNames(t, dir); len(names) != 1 || names[0] != "phone.yaml" {
		t.Errorf("directory holds %v, want only phone.yaml", names)
	}
}

func TestWriteRelative(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := Write("phone.yaml", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile("phone.yaml"); string(data) != "x" {
		t.Errorf("content = %q", data)
	}
}

// TestWriteFailures makes each step fail, as a full disk or an
// I/O error would, and checks that the old file is intact and no
// temporary file is left behind.
func TestWriteFailures(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name string
		h    hooks
	}{
		{"write fails half way", hooks{write: func(f *os.File, data []byte) (int, error) {
			n, _ := f.Write(data[:len(data)/2])
			return n, errBoom
		}}},
		{"short write", hooks{write: func(f *os.File, data []byte) (int, error) {
			return f.Write(data[:len(data)/2])
		}}},
		{"sync fails", hooks{sync: func(*os.File) error { return errBoom }}},
		{"rename fails", hooks{rename: func(string, string) error { return errBoom }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "phone.yaml")
			old := []byte("board: sim\n")
			if err := os.WriteFile(path, old, 0o600); err != nil {
				t.Fatal(err)
			}
			setOps(t, tt.h)
			err := Write(path, []byte(strings.Repeat("new content\n", 1000)), 0o600)
			if err == nil {
				t.Fatal("Write succeeded")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if data, _ := os.ReadFile(path); string(data) != string(old) {
				t.Errorf("old file changed to %d bytes", len(data))
			}
			if names := dirNames(t, dir); len(names) != 1 {
				t.Errorf("directory holds %v, want only phone.yaml", names)
			}
		})
	}
}

// TestCrashMidWrite kills a process in the middle of writing (no
// deferred cleanup runs, as in a power cut) and checks that the file
// still holds its old content, then that the next write succeeds.
func TestCrashMidWrite(t *testing.T) {
	if path := os.Getenv("ATOMICFILE_TEST_CRASH_PATH"); path != "" {
		fileOps.write = func(f *os.File, data []byte) (int, error) {
			f.Write(data[:len(data)/2])
			f.Sync()
			os.Exit(7) // crash
			return 0, nil
		}
		Write(path, []byte(strings.Repeat("new\n", 1000)), 0o600)
		os.Exit(0) // not reached if the hook ran
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "phone.yaml")
	old := []byte("board: sim\n")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashMidWrite$")
	cmd.Env = append(os.Environ(), "ATOMICFILE_TEST_CRASH_PATH="+path)
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("helper process: %v, want exit status 7", err)
	}
	if data, _ := os.ReadFile(path); string(data) != string(old) {
		t.Fatalf("after the crash the file holds %q, want the old content", data)
	}
	// The half-written temporary file is the only trace; it is never
	// read in place of the real file.
	if names := dirNames(t, dir); len(names) != 2 {
		t.Errorf("directory holds %v, want phone.yaml and one temporary file", names)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "board: sim\n" {
		t.Errorf("read after crash = %q, %v", data, err)
	}
	if err := Write(path, []byte("board: rpi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "board: rpi\n" {
		t.Errorf("content = %q", data)
	}
}

func TestWriteReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: directory permissions are not enforced (see TestWriteUnwritableDir)")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "phone.yaml")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	if err := Write(path, []byte("new"), 0o600); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("err = %v, want ErrPermission", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Errorf("content = %q", data)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v", names)
	}
}

// TestWriteUnwritableDir covers directories no one may create
// files in, which also holds for root.
func TestWriteUnwritableDir(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]string{
		"missing directory":     filepath.Join(dir, "nope", "phone.yaml"),
		"parent is a file":      filepath.Join(dir, "file", "phone.yaml"),
		"target is a directory": filepath.Join(dir, "sub"),
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/proc/self"); err == nil {
		tests["procfs"] = "/proc/phone.yaml"
	}
	for name, path := range tests {
		t.Run(name, func(t *testing.T) {
			if err := Write(path, []byte("new"), 0o600); err == nil {
				t.Fatal("Write succeeded")
			}
		})
	}
	if names := dirNames(t, dir); len(names) != 2 {
		t.Errorf("directory holds %v, want only file and sub", names)
	}
	if names := dirNames(t, filepath.Join(dir, "sub")); len(names) != 0 {
		t.Errorf("sub holds %v", names)
	}
}

func TestWriteSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "data", "phone.yaml")
	if err := os.Mkdir(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "phone.yaml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := Write(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi, err)
	}
	if data, _ := os.ReadFile(real); string(data) != "new" {
		t.Errorf("target holds %q", data)
	}
}
