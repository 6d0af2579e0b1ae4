package ext4

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestFormatExt4Fsck formats a file and has e2fsck check it (skipped
// where e2fsprogs is missing): a clean, journalled filesystem with the
// root directory and lost+found.
func TestFormatExt4Fsck(t *testing.T) {
	for _, mib := range []int64{5, 16, 32, 128} {
		path := filepath.Join(t.TempDir(), "data.img")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		size := mib << 20
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		if Detect(f) {
			t.Fatal("a zeroed file looks formatted")
		}
		if err := Format(f, size, Options{Label: "data", UUID: [16]byte{1, 2, 3}, Time: 1700000000}); err != nil {
			t.Fatal(err)
		}
		if !Detect(f) {
			t.Fatal("formatted file has no ext4 magic")
		}
		f.Close()
		fsck, err := exec.LookPath("e2fsck")
		if err != nil {
			if _, err = os.Stat("/usr/sbin/e2fsck"); err != nil {
				t.Skip("e2fsck not installed: format not checked")
			}
			fsck = "/usr/sbin/e2fsck"
		}
		out, err := exec.Command(fsck, "-f", "-n", path).CombinedOutput()
		if err != nil {
			t.Fatalf("%d MiB: e2fsck: %v\n%s", mib, err, out)
		}
		if !bytes.Contains(out, []byte("11/")) {
			t.Fatalf("%d MiB: e2fsck summary: %s", mib, out)
		}
		if dumpe2fs, err := exec.LookPath("dumpe2fs"); err == nil {
			out, _ := exec.Command(dumpe2fs, "-h", path).CombinedOutput()
			if !bytes.Contains(out, []byte("has_journal")) || !bytes.Contains(out, []byte("Total journal size:")) {
				t.Fatalf("no journal: %s", out)
			}
		}
	}
}

func TestFormatExt4Sizes(t *testing.T) {
	var b writerAt
	if err := Format(&b, 1<<20, Options{}); err == nil {
		t.Fatal("1 MiB accepted")
	}
	if err := Format(&b, 1<<30, Options{}); err == nil {
		t.Fatal("1 GiB accepted")
	}
	if err := Format(&b, 16<<20, Options{Label: "a label longer than sixteen"}); err == nil {
		t.Fatal("long label accepted")
	}
}

type writerAt struct{ b []byte }

func (w *writerAt) WriteAt(p []byte, off int64) (int, error) {
	if n := off + int64(len(p)); n > int64(len(w.b)) {
		w.b = append(w.b, make([]byte, n-int64(len(w.b)))...)
	}
	return copy(w.b[off:], p), nil
}
