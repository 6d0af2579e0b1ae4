package boot

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/deskphone/phone/firmware/cpio"
	"github.com/deskphone/phone/firmware/update"
)

// Well-known paths on the phone.
const (
	// DataDir is where the data partition is mounted.
	DataDir = "/perm"
	// StatePath is the A/B record on the data partition.
	StatePath = DataDir + "/update/state.json"
	// FactoryManifestPath is the update manifest of the factory root, in
	// the boot stage's initramfs.
	FactoryManifestPath = "/etc/deskphone/update.manifest"
)

// Environment the boot stage hands to the slot's /init.
const (
	EnvSlot  = "DESKPHONE_SLOT"  // "A" or "B"
	EnvTrial = "DESKPHONE_TRIAL" // "1" on a trial boot
)

// Partition names in the GPT (tools/mkimage).
const (
	PartBoot  = "boot"
	PartRootA = "rootA"
	PartRootB = "rootB"
	PartData  = "data"
)

// SlotPartition returns the partition name of a slot.
func SlotPartition(slot string) string {
	if slot == update.SlotB {
		return PartRootB
	}
	return PartRootA
}

// FindPartition returns the device node (under devDir) of the partition
// whose GPT name is name, from the kernel's uevent files
// (sysfs/class/block/*/uevent: DEVNAME=vda4, PARTNAME=data).
func FindPartition(sysfs, devDir, name string) (string, error) {
	ues, err := filepath.Glob(filepath.Join(sysfs, "class/block/*/uevent"))
	if err != nil {
		return "", err
	}
	for _, ue := range ues {
		b, err := os.ReadFile(ue)
		if err != nil {
			continue
		}
		kv := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				kv[k] = v
			}
		}
		if kv["PARTNAME"] == name && kv["DEVNAME"] != "" && !strings.Contains(kv["DEVNAME"], "..") {
			return filepath.Join(devDir, kv["DEVNAME"]), nil
		}
	}
	return "", fmt.Errorf("%w: %q", ErrNoPartition, name)
}

// SlotSource says what a slot should hold.
type SlotSource struct {
	Size   int64
	SHA256 string
}

// Expected returns what slot should hold: the A/B record's entry when it
// has one (written by the update agent), else the factory root's
// manifest (both slots hold the factory root until an update).
func Expected(st *update.State, slot string, factory *update.Manifest) (SlotSource, bool) {
	if st != nil {
		if si, ok := st.Slots[slot]; ok && si.SHA256 != "" && si.Size > 0 {
			return SlotSource{Size: si.Size, SHA256: si.SHA256}, true
		}
	}
	if factory != nil {
		if p, ok := factory.Part("root"); ok && p.SHA256 != "" {
			return SlotSource{Size: p.Size, SHA256: p.SHA256}, true
		}
	}
	return SlotSource{}, false
}

// ReadSlot reads a slot's archive (want.Size bytes from the start of dev)
// and checks its SHA-256.
func ReadSlot(dev string, want SlotSource) ([]byte, error) {
	f, err := os.Open(dev)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, want.Size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadSlot, dev, err)
	}
	if got := sha256Hex(b); !update.Equal(got, want.SHA256) {
		return nil, fmt.Errorf("%w: %s: sha256 %s, want %s", ErrBadSlot, dev, got, want.SHA256)
	}
	return b, nil
}

// Unpack writes a cpio archive's entries under dir: directories, regular
// files and symbolic links (other types are skipped). Names that would
// leave dir are refused.
func Unpack(archive []byte, dir string) error {
	files, err := cpio.Read(archive)
	if err != nil {
		return err
	}
	for _, f := range files {
		name := filepath.Clean("/" + f.Name)
		if name == "/" {
			continue
		}
		p := filepath.Join(dir, name)
		perm := os.FileMode(f.Mode & 0o777)
		switch f.Mode & 0o170000 {
		case cpio.Dir:
			if err := os.MkdirAll(p, perm); err != nil {
				return err
			}
			if f.Mode&0o1000 != 0 {
				perm |= os.ModeSticky
			}
			if err := os.Chmod(p, perm); err != nil {
				return err
			}
		case cpio.Reg:
			if err := os.WriteFile(p, f.Data, perm); err != nil {
				return err
			}
			if err := os.Chmod(p, perm); err != nil {
				return err
			}
		case cpio.Symlink:
			if err := os.Symlink(string(f.Data), p); err != nil {
				return err
			}
		}
	}
	return nil
}

// Choice is the boot stage's decision.
type Choice struct {
	Slot  string
	Trial bool
	// Archive is the verified root archive of Slot.
	Archive []byte
	// Notes explain fallbacks, for the console.
	Notes []string
}

// Choose picks the slot to boot: update.Boot on the record at statePath
// (which uses up one boot of a trial slot before it starts), then reads
// and verifies that slot through read (a function of the slot name
// returning its device). A slot that does not verify is passed over for
// the other one (a trial boot then becomes a plain boot of the committed
// slot). When neither verifies, the chosen slot is booted unverified: a
// phone that may work beats one that surely does not. A missing or
// unreadable record boots slot A.
func Choose(statePath string, factory *update.Manifest, device func(slot string) (string, error)) (*Choice, error) {
	c := &Choice{}
	slot, trial, err := update.Boot(statePath)
	if err != nil {
		c.Notes = append(c.Notes, fmt.Sprintf("A/B record: %v (booting %s)", err, slot))
	}
	st, _ := update.ReadState(statePath)
	try := func(s string) ([]byte, error) {
		dev, err := device(s)
		if err != nil {
			return nil, err
		}
		want, ok := Expected(st, s, factory)
		if !ok {
			return nil, fmt.Errorf("%w: nothing says what slot %s holds", ErrBadSlot, s)
		}
		return ReadSlot(dev, want)
	}
	b, err := try(slot)
	if err == nil {
		c.Slot, c.Trial, c.Archive = slot, trial, b
		return c, nil
	}
	c.Notes = append(c.Notes, fmt.Sprintf("slot %s: %v", slot, err))
	other := update.Other(slot)
	if b, err2 := try(other); err2 == nil {
		c.Notes = append(c.Notes, fmt.Sprintf("booting slot %s instead", other))
		c.Slot, c.Archive = other, b
		return c, nil
	} else {
		c.Notes = append(c.Notes, fmt.Sprintf("slot %s: %v", other, err2))
	}
	// Neither verifies: boot the chosen slot's archive as it is.
	dev, derr := device(slot)
	if derr != nil {
		return c, errors.Join(err, derr)
	}
	raw, rerr := os.ReadFile(dev)
	if rerr != nil {
		return c, errors.Join(err, rerr)
	}
	c.Notes = append(c.Notes, fmt.Sprintf("booting slot %s unverified", slot))
	c.Slot, c.Trial, c.Archive = slot, trial, raw
	return c, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
