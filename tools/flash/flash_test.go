package flash

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/update"
)

func keys(t *testing.T) (priv, pub string, pk ed25519.PublicKey) {
	t.Helper()
	dir := t.TempDir()
	priv, pub = filepath.Join(dir, "k", "dev.key"), filepath.Join(dir, "k", "dev.pub")
	if err := Keygen(priv, pub); err != nil {
		t.Fatal(err)
	}
	if err := Keygen(priv, pub); err == nil {
		t.Fatal("keygen overwrote a key")
	}
	fi, _ := os.Stat(priv)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v", fi.Mode())
	}
	pk, err := LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub, pk
}

func makeBundle(t *testing.T, keyPath, dir, board, version string, bt int64, payload []byte) string {
	t.Helper()
	key, err := LoadPrivateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	m := &update.Manifest{Format: update.ManifestVersion, Kind: update.KindUpdate, Board: board, Version: version, BuildTime: bt,
		Parts: []update.Part{{Name: "root", Size: int64(len(payload)), SHA256: hex.EncodeToString(sum[:])}}}
	mb := m.Marshal()
	var buf bytes.Buffer
	if err := update.WriteBundleHeader(&buf, mb, update.Sign(key, mb)); err != nil {
		t.Fatal(err)
	}
	buf.Write(payload)
	path := filepath.Join(dir, version+".upd")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakePhone is a phone in-process: the real update agent over two slot
// files, with reboots simulated: after an accepted push the next status
// request finds the phone down, then it boots (update.Boot) the chosen
// slot and runs whatever version that slot holds. A slot whose content
// starts with "broken" never becomes healthy, so its trial is given up
// (its watchdog reboots it) and the phone boots again.
type fakePhone struct {
	t   *testing.T
	dir string
	pub ed25519.PublicKey

	mu      sync.Mutex // guards following
	agent   *update.Agent
	reboot  bool
	boots   int
	version string
}

const token = "tok"

func newFakePhone(t *testing.T, pub ed25519.PublicKey) *fakePhone {
	f := &fakePhone{t: t, dir: t.TempDir(), pub: pub}
	for _, s := range []string{"A", "B"} {
		os.WriteFile(filepath.Join(f.dir, "root"+s), []byte("v1.0.0 root"), 0o644)
	}
	st := &update.State{Committed: "A", Slots: map[string]update.SlotInfo{"A": {Version: "v1.0.0", BuildTime: 100}}}
	if err := update.WriteState(f.statePath(), st); err != nil {
		t.Fatal(err)
	}
	f.bootLocked()
	return f
}

func (f *fakePhone) statePath() string { return filepath.Join(f.dir, "ab.json") }

func (f *fakePhone) bootLocked() {
	f.boots++
	slot, trial, err := update.Boot(f.statePath())
	if err != nil {
		f.t.Error(err)
	}
	content, _ := os.ReadFile(filepath.Join(f.dir, "root"+slot))
	st, _ := update.ReadState(f.statePath())
	info := st.Slots[slot]
	if trial && strings.HasPrefix(string(content), "broken") {
		// Never healthy: the watchdog reboots the phone.
		f.bootLocked()
		return
	}
	if trial {
		if err := update.Commit(f.statePath(), slot); err != nil {
			f.t.Error(err)
		}
	}
	a, err := update.NewAgent(update.Config{Board: "qemu-arm64", Version: info.Version, BuildTime: info.BuildTime, PublicKey: f.pub,
		Token: token, Slots: map[string]string{"A": filepath.Join(f.dir, "rootA"), "B": filepath.Join(f.dir, "rootB")},
		StatePath: f.statePath(), Booted: slot, Reboot: func() { f.reboot = true }})
	if err != nil {
		f.t.Fatal(err)
	}
	f.agent, f.version = a, info.Version
}

func (f *fakePhone) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reboot && r.Method == "GET" {
		f.reboot = false
		f.bootLocked()
		http.Error(w, "rebooting", http.StatusServiceUnavailable)
		return
	}
	f.agent.ServeHTTP(w, r)
}

func TestPushUpdateAndRollback(t *testing.T) {
	priv, _, pub := keys(t)
	dir := t.TempDir()
	phone := newFakePhone(t, pub)
	srv := httptest.NewServer(phone)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	opts := func(bundle string) PushOptions {
		return PushOptions{Bundle: bundle, Host: host, Token: token, Poll: time.Millisecond, Wait: 10 * time.Second, Progress: &bytes.Buffer{}}
	}

	// N -> N+1: accepted, rebooted, committed.
	good := makeBundle(t, priv, dir, "qemu-arm64", "v1.1.0", 200, bytes.Repeat([]byte("v1.1.0 root "), 10000))
	o := opts(good)
	res, err := Push(context.Background(), o)
	if err != nil {
		t.Fatalf("push: %v\n%s", err, o.Progress)
	}
	if res.After.Version != "v1.1.0" || res.After.Slot != "B" || res.After.Trial {
		t.Fatalf("after: %+v", res.After)
	}
	out := o.Progress.(*bytes.Buffer).String()
	for _, want := range []string{"push", "MiB/s", "ETA", "committed", "slot B"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}

	// N+1 -> a broken N+2: the phone rolls back to N+1 by itself.
	broken := makeBundle(t, priv, dir, "qemu-arm64", "v1.2.0", 300, []byte("broken v1.2.0"))
	_, err = Push(context.Background(), opts(broken))
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("broken push: %v", err)
	}
	if phone.version != "v1.1.0" {
		t.Fatalf("phone runs %s", phone.version)
	}

	// Refusals: downgrade, wrong token, wrong board.
	old := makeBundle(t, priv, dir, "qemu-arm64", "v0.9.0", 50, []byte("old"))
	if _, err := Push(context.Background(), opts(old)); !errors.Is(err, ErrPushRefused) || !strings.Contains(err.Error(), "downgrade") {
		t.Fatalf("downgrade: %v", err)
	}
	o = opts(good)
	o.Token = "wrong"
	if _, err := Push(context.Background(), o); !errors.Is(err, ErrPushRefused) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v", err)
	}
	rpi := makeBundle(t, priv, dir, "rpi", "v2.0.0", 400, []byte("pi"))
	if _, err := Push(context.Background(), opts(rpi)); !errors.Is(err, update.ErrWrongBoard) {
		t.Fatalf("wrong board: %v", err)
	}
	if phone.version != "v1.1.0" {
		t.Fatalf("phone runs %s after refusals", phone.version)
	}
}

func TestSignVerifyImage(t *testing.T) {
	priv, _, pub := keys(t)
	_, _, otherPub := keys(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "phone.img")
	data := bytes.Repeat([]byte("disk"), 4096)
	os.WriteFile(img, data, 0o644)
	sum := sha256.Sum256(data[1024:3072])
	m := &update.Manifest{Format: 1, Kind: update.KindImage, Board: "qemu-arm64", Version: "v1", BuildTime: 1,
		Parts: []update.Part{{Name: "rootA", Offset: 1024, Size: 2048, SHA256: hex.EncodeToString(sum[:])}, {Name: "data", Offset: 3072, Size: 100}}}
	os.WriteFile(ManifestPath(img), m.Marshal(), 0o644)
	if err := SignFile(priv, ManifestPath(img), SigPath(img)); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyImage(pub, img); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyImage(otherPub, img); !errors.Is(err, update.ErrBadSignature) {
		t.Fatalf("other key: %v", err)
	}
	data[2000] ^= 1
	os.WriteFile(img, data, 0o644)
	if _, err := VerifyImage(pub, img); !errors.Is(err, update.ErrDigest) {
		t.Fatalf("corrupt: %v", err)
	}
	// A bundle verifies too; a bundle with a byte changed does not.
	b := makeBundle(t, priv, dir, "qemu-arm64", "v2", 2, []byte("root"))
	if _, err := VerifyImage(pub, b); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(b)
	raw[len(raw)-1] ^= 1
	os.WriteFile(b, raw, 0o644)
	if _, err := VerifyImage(pub, b); !errors.Is(err, update.ErrDigest) {
		t.Fatalf("corrupt bundle: %v", err)
	}
}

func signedImage(t *testing.T, priv, dir string, data []byte) string {
	img := filepath.Join(dir, "phone.img")
	os.WriteFile(img, data, 0o644)
	sum := sha256.Sum256(data)
	m := &update.Manifest{Format: 1, Kind: update.KindImage, Board: "qemu-arm64", Version: "v1", BuildTime: 1,
		Parts: []update.Part{{Name: "all", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}}}
	os.WriteFile(ManifestPath(img), m.Marshal(), 0o644)
	if err := SignFile(priv, ManifestPath(img), SigPath(img)); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestWriteFile(t *testing.T) {
	priv, _, pub := keys(t)
	dir := t.TempDir()
	data := bytes.Repeat([]byte("0123456789"), 300000)
	img := signedImage(t, priv, dir, data)
	target := filepath.Join(dir, "sdcard.bin")
	os.WriteFile(target, bytes.Repeat([]byte{0xff}, 5<<20), 0o644) // old content, longer
	var out bytes.Buffer
	res, err := Write(context.Background(), WriteOptions{Image: img, Device: target, PublicKey: pub, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(target)
	if !bytes.Equal(got, data) || res.Bytes != int64(len(data)) {
		t.Fatal("target does not hold the image")
	}
	for _, want := range []string{"write", "verify", "100%", "ETA"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q: %q", want, out.String())
		}
	}
	// A tampered image is refused before the target is touched.
	os.WriteFile(target, []byte("keep"), 0o644)
	bad := append([]byte(nil), data...)
	bad[5] ^= 1
	os.WriteFile(img, bad, 0o644)
	if _, err := Write(context.Background(), WriteOptions{Image: img, Device: target, PublicKey: pub}); !errors.Is(err, update.ErrDigest) {
		t.Fatalf("tampered: %v", err)
	}
	if got, _ := os.ReadFile(target); string(got) != "keep" {
		t.Fatal("target written for a bad image")
	}
	// Wrong board.
	os.WriteFile(img, data, 0o644)
	if _, err := Write(context.Background(), WriteOptions{Image: img, Device: target, PublicKey: pub, Board: "rpi"}); !errors.Is(err, update.ErrWrongBoard) {
		t.Fatalf("board: %v", err)
	}
}

// fakeSys builds a /sys and /proc/mounts where sda (8:0, partitions 8:1,
// 8:2) holds the root filesystem, sdb (8:16, partition 8:17) is a free SD
// card, and sdc (8:32) is an LVM physical volume.
func fakeSys(t *testing.T) *Safety {
	root := t.TempDir()
	sys := filepath.Join(root, "sys")
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(sys, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := func(num, target string) {
		mk("dev/block")
		if err := os.Symlink(filepath.Join(sys, target), filepath.Join(sys, "dev/block", num)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"sda", "sdb", "sdc"} {
		mk("devices/" + d + "/holders")
		mk("block")
		os.Symlink(filepath.Join(sys, "devices", d), filepath.Join(sys, "block", d))
	}
	for _, p := range []string{"sda/sda1", "sda/sda2", "sdb/sdb1"} {
		mk("devices/" + p)
		os.WriteFile(filepath.Join(sys, "devices", p, "partition"), []byte("1"), 0o644)
	}
	mk("devices/sdc/holders/dm-0")
	link("8:0", "devices/sda")
	link("8:1", "devices/sda/sda1")
	link("8:2", "devices/sda/sda2")
	link("8:16", "devices/sdb")
	link("8:17", "devices/sdb/sdb1")
	link("8:32", "devices/sdc")
	mounts := filepath.Join(root, "mounts")
	os.WriteFile(mounts, []byte("proc /proc proc rw 0 0\n/dev/sda2 / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n"), 0o644)
	swaps := filepath.Join(root, "swaps")
	os.WriteFile(swaps, []byte("Filename Type Size Used Priority\n"), 0o644)
	nums := map[string][2]uint32{"/dev/sda": {8, 0}, "/dev/sda1": {8, 1}, "/dev/sda2": {8, 2}, "/dev/sdb": {8, 16}, "/dev/sdb1": {8, 17}, "/dev/sdc": {8, 32}}
	return &Safety{Mounts: mounts, Swaps: swaps, Sys: sys, DevNum: func(p string) (uint32, uint32, bool) {
		n, ok := nums[p]
		return n[0], n[1], ok
	}}
}

func TestSafety(t *testing.T) {
	s := fakeSys(t)
	for _, dev := range []string{"/dev/sda", "/dev/sda1", "/dev/sdc"} {
		if err := s.Check(dev); !errors.Is(err, ErrUnsafeTarget) {
			t.Errorf("%s: %v", dev, err)
		}
	}
	if err := s.Check("/dev/sdb"); err != nil {
		t.Errorf("free card: %v", err)
	}
	if err := s.Check(filepath.Join(t.TempDir(), "new.img")); err != nil {
		t.Errorf("new file: %v", err)
	}
	// The card gets mounted: now refused.
	os.WriteFile(s.Mounts, []byte("/dev/sdb1 /media/card vfat rw 0 0\n"), 0o644)
	if err := s.Check("/dev/sdb"); !errors.Is(err, ErrUnsafeTarget) {
		t.Errorf("mounted card: %v", err)
	}
	// On this machine the disk holding / is refused whatever it is.
	if err := DefaultSafety().Check("/"); err == nil {
		t.Error("a directory accepted as a target")
	}
}
