package provision

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/deskphone/phone/firmware/update"
)

const testBoard = "qemu-arm64"

func signedBundle(t *testing.T, key ed25519.PrivateKey, version string, payload []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(payload)
	m := &update.Manifest{Format: update.ManifestVersion, Kind: update.KindUpdate, Board: testBoard, Version: version, BuildTime: 200,
		Parts: []update.Part{{Name: "root", Size: int64(len(payload)), SHA256: hex.EncodeToString(sum[:])}}}
	mb := m.Marshal()
	var buf bytes.Buffer
	if err := update.WriteBundleHeader(&buf, mb, update.Sign(key, mb)); err != nil {
		t.Fatal(err)
	}
	buf.Write(payload)
	return buf.Bytes()
}

// device is a phone's update side: a real update.Agent on slot files,
// served over HTTP as initd serves it.
type device struct {
	dir, state string
	reboots    atomic.Int32
	srv        *httptest.Server
	inst       *AgentInstaller
}

func newDevice(t *testing.T, pub ed25519.PublicKey) *device {
	t.Helper()
	d := &device{dir: t.TempDir()}
	d.state = filepath.Join(d.dir, "ab.json")
	slots := map[string]string{update.SlotA: filepath.Join(d.dir, "rootA"), update.SlotB: filepath.Join(d.dir, "rootB")}
	for _, p := range slots {
		if err := os.WriteFile(p, []byte("old root"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, err := update.NewAgent(update.Config{Board: testBoard, Version: "v1.0.0", BuildTime: 100, PublicKey: pub,
		Token: "device-token-0123456789abcdef", Slots: slots, StatePath: d.state, Booted: update.SlotA,
		MaxSlotSize: 1 << 20, Reboot: func() { d.reboots.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	d.srv = httptest.NewServer(a)
	t.Cleanup(d.srv.Close)
	d.inst = &AgentInstaller{URL: d.srv.URL, Token: "device-token-0123456789abcdef"}
	return d
}

func (d *device) abState(t *testing.T) *update.State {
	t.Helper()
	s, err := update.ReadState(d.state)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFirmwarePullTrialAndRollback(t *testing.T) {
	privPEM, pubPEM, err := update.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := update.ParsePrivateKey(privPEM)
	pub, _ := update.ParsePublicKey(pubPEM)
	otherPrivPEM, _, _ := update.GenerateKey(nil)
	otherPriv, _ := update.ParsePrivateKey(otherPrivPEM)

	payload := []byte("new root v2")
	bundles := map[string][]byte{
		"v2.bundle":     signedBundle(t, priv, "v2.0.0", payload),
		"forged.bundle": signedBundle(t, otherPriv, "v3.0.0", []byte("evil root")),
	}
	var bundleGets atomic.Int32
	fs := newFiles()
	mux := http.NewServeMux()
	mux.Handle("/p/", fs)
	mux.HandleFunc("/fw/{name}", func(w http.ResponseWriter, r *http.Request) {
		bundleGets.Add(1)
		b, ok := bundles[r.PathValue("name")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	fw := func(name, version string) string {
		return "firmware:\n  url: " + srv.URL + "/fw/" + name + "\n  version: " + version + "\n"
	}

	d := newDevice(t, pub)
	fs.set("phone.yaml", common+fw("v2.bundle", "v2.0.0"))
	fs.set("0011223344aa.yaml", perPhone)
	st := newMemStore()
	p := newProv(t, st, srv.URL+"/p", func(c *Config) { c.Installer = d.inst })
	if err := p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	ab := d.abState(t)
	if ab.Trial != update.SlotB || ab.Slots[update.SlotB].Version != "v2.0.0" || d.reboots.Load() != 1 {
		t.Fatalf("after the pull: %+v, reboots %d", ab, d.reboots.Load())
	}
	got, _ := os.ReadFile(filepath.Join(d.dir, "rootB"))
	if !bytes.Equal(got[:len(payload)], payload) {
		t.Error("slot B does not hold the bundle's root")
	}
	if !strings.Contains(p.Status().Firmware, "installed v2.0.0") {
		t.Errorf("status %+v", p.Status())
	}

	// The trial boot fails: the boot stage rolls back to A.
	for range 2 {
		if _, _, err := update.Boot(d.state); err != nil {
			t.Fatal(err)
		}
	}
	if ab := d.abState(t); ab.Committed != update.SlotA || ab.RolledBack != update.SlotB {
		t.Fatalf("no rollback: %+v", ab)
	}
	// The phone runs v1.0.0 again; a new phoned checks again and does
	// not fetch the version it rolled back.
	gets := bundleGets.Load()
	p2 := newProv(t, st, srv.URL+"/p", func(c *Config) { c.Installer = d.inst })
	if err := p2.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if bundleGets.Load() != gets || d.reboots.Load() != 1 || !strings.Contains(p2.Status().Firmware, "rolled back") {
		t.Errorf("rolled-back version fetched again: gets %d→%d, reboots %d, status %q", gets, bundleGets.Load(), d.reboots.Load(), p2.Status().Firmware)
	}

	// A bundle with a bad signature changes nothing, and is not fetched
	// again while the provisioned URL and version stay the same.
	before, _ := os.ReadFile(d.state)
	fs.set("phone.yaml", common+fw("forged.bundle", "v3.0.0"))
	if err := p2.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(d.state)
	if !bytes.Equal(before, after) || d.reboots.Load() != 1 {
		t.Errorf("a forged bundle changed the A/B record:\n%s\n%s", before, after)
	}
	if s := p2.Status().Firmware; !strings.Contains(s, "v3.0.0 not installed") || !strings.Contains(s, "signature") {
		t.Errorf("status %q", s)
	}
	gets = bundleGets.Load()
	fs.set("0011223344aa.yaml", perPhone+"    display_name: x\n")
	if err := p2.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if bundleGets.Load() != gets {
		t.Error("a refused bundle was fetched again")
	}
}

func TestFirmwareSameVersionNotFetched(t *testing.T) {
	var gets atomic.Int32
	fs := newFiles()
	mux := http.NewServeMux()
	mux.Handle("/p/", fs)
	mux.HandleFunc("/fw", func(w http.ResponseWriter, r *http.Request) { gets.Add(1) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	fs.set("phone.yaml", common+"firmware: {url: "+srv.URL+"/fw, version: v1.0.0}\n")
	fs.set("0011223344aa.yaml", perPhone)
	d := newDevice(t, make(ed25519.PublicKey, ed25519.PublicKeySize))
	p := newProv(t, newMemStore(), srv.URL+"/p", func(c *Config) { c.Installer = d.inst })
	if err := p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if gets.Load() != 0 {
		t.Error("the running version was fetched")
	}
}

// A bundle download that fails (the file is not there yet) is tried
// again at the next check, even when the config files did not change.
func TestFirmwareDownloadRetried(t *testing.T) {
	privPEM, pubPEM, err := update.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := update.ParsePrivateKey(privPEM)
	pub, _ := update.ParsePublicKey(pubPEM)
	var ready atomic.Bool
	b := signedBundle(t, priv, "v2.0.0", []byte("root v2"))
	fs := newFiles()
	mux := http.NewServeMux()
	mux.Handle("/p/", fs)
	mux.HandleFunc("/fw", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	fs.set("phone.yaml", common+"firmware: {url: "+srv.URL+"/fw, version: v2.0.0}\n")
	fs.set("0011223344aa.yaml", perPhone)
	d := newDevice(t, pub)
	p := newProv(t, newMemStore(), srv.URL+"/p", func(c *Config) { c.Installer = d.inst })
	if err := p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d.reboots.Load() != 0 || !strings.Contains(p.Status().Firmware, "404") {
		t.Fatalf("status %q", p.Status().Firmware)
	}
	ready.Store(true)
	if err := p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d.reboots.Load() != 1 || d.abState(t).Trial != update.SlotB {
		t.Fatalf("not installed at the next check: %q", p.Status().Firmware)
	}
}
