package boot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskphone/phone/firmware/cpio"
	"github.com/deskphone/phone/firmware/update"
)

func TestFindPartition(t *testing.T) {
	sys := t.TempDir()
	for dev, ue := range map[string]string{
		"vda":  "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n",
		"vda1": "MAJOR=254\nMINOR=1\nDEVNAME=vda1\nDEVTYPE=partition\nPARTN=1\nPARTNAME=boot\n",
		"vda4": "MAJOR=254\nMINOR=4\nDEVNAME=vda4\nDEVTYPE=partition\nPARTN=4\nPARTNAME=data\n",
		"evil": "DEVNAME=../etc/passwd\nPARTNAME=rootA\n",
	} {
		d := filepath.Join(sys, "class/block", dev)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "uevent"), []byte(ue), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := FindPartition(sys, "/dev", "data"); err != nil || got != "/dev/vda4" {
		t.Fatalf("data: %q %v", got, err)
	}
	if _, err := FindPartition(sys, "/dev", "rootA"); !errors.Is(err, ErrNoPartition) {
		t.Fatalf("rootA (only a bad DEVNAME): %v", err)
	}
	if _, err := FindPartition(sys, "/dev", "rootB"); !errors.Is(err, ErrNoPartition) {
		t.Fatalf("rootB: %v", err)
	}
}

// slotFixture writes two slot "devices" holding root archives a and b.
func slotFixture(t *testing.T, a, b []byte) (dir string, device func(string) (string, error)) {
	dir = t.TempDir()
	for name, data := range map[string][]byte{"A": a, "B": b} {
		// Pad like a partition: zeroes after the archive.
		if err := os.WriteFile(filepath.Join(dir, "slot"+name), append(append([]byte(nil), data...), make([]byte, 4096)...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, func(s string) (string, error) { return filepath.Join(dir, "slot"+s), nil }
}

func archive(t *testing.T, init string) []byte {
	var b bytes.Buffer
	if err := cpio.Write(&b, []cpio.File{
		{Name: "etc", Mode: cpio.Dir | 0o755},
		{Name: "etc/resolv.conf", Mode: cpio.Symlink | 0o777, Data: []byte("/tmp/resolv.conf")},
		{Name: "init", Mode: cpio.Reg | 0o755, Data: []byte(init)},
		{Name: "tmp", Mode: cpio.Dir | 0o1777},
	}, 1); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func manifestFor(root []byte) *update.Manifest {
	s := sha256.Sum256(root)
	return &update.Manifest{Parts: []update.Part{{Name: "root", Size: int64(len(root)), SHA256: hex.EncodeToString(s[:])}}}
}

func slotInfo(root []byte, v string) update.SlotInfo {
	s := sha256.Sum256(root)
	return update.SlotInfo{Version: v, Size: int64(len(root)), SHA256: hex.EncodeToString(s[:])}
}

// TestChoose covers the boot stage's decision: a fresh phone boots A
// (verified against the factory manifest); a trial slot boots once and is
// then rolled back; a trial slot that does not verify is passed over; an
// unreadable record boots A.
func TestChoose(t *testing.T) {
	n, n1 := archive(t, "version N"), archive(t, "version N+1")
	factory := manifestFor(n)

	t.Run("fresh", func(t *testing.T) {
		dir, dev := slotFixture(t, n, n)
		c, err := Choose(filepath.Join(dir, "state.json"), factory, dev)
		if err != nil || c.Slot != "A" || c.Trial || !bytes.Equal(c.Archive, n) {
			t.Fatalf("%+v %v", c, err)
		}
	})
	t.Run("trial then rollback", func(t *testing.T) {
		dir, dev := slotFixture(t, n, n1)
		state := filepath.Join(dir, "state.json")
		if err := update.WriteState(state, &update.State{Committed: "A", Trial: "B", TrialBoots: 1,
			Slots: map[string]update.SlotInfo{"B": slotInfo(n1, "N+1")}}); err != nil {
			t.Fatal(err)
		}
		c, err := Choose(state, factory, dev)
		if err != nil || c.Slot != "B" || !c.Trial || !bytes.Equal(c.Archive, n1) {
			t.Fatalf("trial boot: %+v %v", c, err)
		}
		// Not committed: the next boot (power cut, crash, or Watch's
		// reboot) goes back to A and records the rollback.
		c, err = Choose(state, factory, dev)
		if err != nil || c.Slot != "A" || c.Trial {
			t.Fatalf("after the trial: %+v %v", c, err)
		}
		st, _ := update.ReadState(state)
		if st.RolledBack != "B" || st.Trial != "" {
			t.Fatalf("record %+v", st)
		}
	})
	t.Run("trial slot corrupt", func(t *testing.T) {
		dir, dev := slotFixture(t, n, append(n1[:len(n1)/2:len(n1)/2], make([]byte, len(n1)/2)...))
		state := filepath.Join(dir, "state.json")
		update.WriteState(state, &update.State{Committed: "A", Trial: "B", TrialBoots: 1,
			Slots: map[string]update.SlotInfo{"B": slotInfo(n1, "N+1")}})
		c, err := Choose(state, factory, dev)
		if err != nil || c.Slot != "A" || c.Trial || !bytes.Equal(c.Archive, n) {
			t.Fatalf("%+v %v", c, err)
		}
		if !strings.Contains(strings.Join(c.Notes, "\n"), "instead") {
			t.Fatalf("notes %q", c.Notes)
		}
	})
	t.Run("unreadable record", func(t *testing.T) {
		dir, dev := slotFixture(t, n, n1)
		state := filepath.Join(dir, "state.json")
		os.WriteFile(state, []byte("{garbage"), 0o644)
		c, err := Choose(state, factory, dev)
		if err != nil || c.Slot != "A" || len(c.Notes) == 0 {
			t.Fatalf("%+v %v", c, err)
		}
	})
	t.Run("nothing verifies", func(t *testing.T) {
		dir, dev := slotFixture(t, n1, n1)
		c, err := Choose(filepath.Join(dir, "state.json"), factory, dev)
		if err != nil || c.Slot != "A" {
			t.Fatalf("%+v %v", c, err)
		}
		if files, err := cpio.Read(c.Archive); err != nil || len(files) != 4 {
			t.Fatalf("unverified archive unreadable: %v", err)
		}
	})
}

func TestUnpack(t *testing.T) {
	dir := t.TempDir()
	if err := Unpack(archive(t, "#!init"), dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "init"))
	fi, _ := os.Stat(filepath.Join(dir, "init"))
	if err != nil || string(b) != "#!init" || fi.Mode().Perm() != 0o755 {
		t.Fatalf("init: %q %v %v", b, err, fi.Mode())
	}
	if l, err := os.Readlink(filepath.Join(dir, "etc/resolv.conf")); err != nil || l != "/tmp/resolv.conf" {
		t.Fatalf("symlink %q %v", l, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 {
		t.Fatalf("tmp %v %v", fi.Mode(), err)
	}
	// Names that climb out stay inside.
	var ev bytes.Buffer
	cpio.Write(&ev, []cpio.File{{Name: "../../escape", Mode: cpio.Reg | 0o644, Data: []byte("x")}}, 1)
	if err := Unpack(ev.Bytes(), dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escape")); err != nil {
		t.Fatalf("escape not kept inside: %v", err)
	}
	if err := Unpack([]byte("not cpio"), dir); err == nil {
		t.Fatal("garbage unpacked")
	}
}
