package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// seeded is a deterministic reader for keys in tests.
type seeded struct{ b byte }

func (s *seeded) Read(p []byte) (int, error) {
	for i := range p {
		s.b = s.b*31 + 7
		p[i] = s.b
	}
	return len(p), nil
}

func testKey(t testing.TB, seed byte) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	privPEM, pubPEM, err := GenerateKey(&seeded{seed})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func updateManifest(board, version string, bt int64, payload []byte) *Manifest {
	sum := sha256.Sum256(payload)
	return &Manifest{Format: ManifestVersion, Kind: KindUpdate, Board: board, Version: version, BuildTime: bt,
		Parts: []Part{{Name: "root", Size: int64(len(payload)), SHA256: hex.EncodeToString(sum[:])}}}
}

func bundle(t testing.TB, key ed25519.PrivateKey, m *Manifest, payload []byte) []byte {
	t.Helper()
	mb := m.Marshal()
	var buf bytes.Buffer
	if err := WriteBundleHeader(&buf, mb, Sign(key, mb)); err != nil {
		t.Fatal(err)
	}
	buf.Write(payload)
	return buf.Bytes()
}

func TestSignVerify(t *testing.T) {
	priv, pub := testKey(t, 1)
	_, other := testKey(t, 2)
	m := updateManifest("qemu-arm64", "v1.0.0", 100, []byte("root"))
	mb := m.Marshal()
	sig := Sign(priv, mb)
	got, err := Verify(pub, mb, sig)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != "v1.0.0" || got.Board != "qemu-arm64" {
		t.Fatalf("parsed %+v", got)
	}
	if _, err := Verify(other, mb, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other key: %v", err)
	}
	tampered := bytes.Replace(mb, []byte("v1.0.0"), []byte("v9.0.0"), 1)
	if _, err := Verify(pub, tampered, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := Verify(pub, mb, sig[:10]); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("short sig: %v", err)
	}
	if !bytes.Equal(m.Marshal(), mb) {
		t.Fatal("Marshal is not deterministic")
	}
}

func TestKeyParseErrors(t *testing.T) {
	privPEM, pubPEM, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePrivateKey(pubPEM); !errors.Is(err, ErrBadKey) {
		t.Fatalf("public as private: %v", err)
	}
	if _, err := ParsePublicKey(privPEM); !errors.Is(err, ErrBadKey) {
		t.Fatalf("private as public: %v", err)
	}
	if _, err := ParsePublicKey([]byte("junk")); !errors.Is(err, ErrBadKey) {
		t.Fatalf("junk: %v", err)
	}
}

func TestManifestValidate(t *testing.T) {
	good := updateManifest("b", "1", 0, nil)
	cases := map[string]func(m *Manifest){
		"format":     func(m *Manifest) { m.Format = 2 },
		"kind":       func(m *Manifest) { m.Kind = "x" },
		"board":      func(m *Manifest) { m.Board = "" },
		"version":    func(m *Manifest) { m.Version = "" },
		"no parts":   func(m *Manifest) { m.Parts = nil },
		"dup part":   func(m *Manifest) { m.Parts = append(m.Parts, m.Parts[0]) },
		"bad sha":    func(m *Manifest) { m.Parts[0].SHA256 = "abc" },
		"upper sha":  func(m *Manifest) { m.Parts[0].SHA256 = strings.ToUpper(m.Parts[0].SHA256) },
		"neg size":   func(m *Manifest) { m.Parts[0].Size = -1 },
		"no root":    func(m *Manifest) { m.Parts[0].Name = "boot" },
		"root no sh": func(m *Manifest) { m.Parts[0].SHA256 = "" },
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range cases {
		m := updateManifest("b", "1", 0, nil)
		mut(m)
		if err := m.Validate(); !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseManifest([]byte(`{"format":1,"extra":1}`)); !errors.Is(err, ErrBadManifest) {
		t.Errorf("unknown field: %v", err)
	}
}

func TestNewer(t *testing.T) {
	cases := []struct {
		cv    string
		ct    int64
		rv    string
		rt    int64
		newer bool
	}{
		{"v1.2.0", 0, "v1.1.9", 0, true},
		{"v1.10.0", 0, "v1.9.0", 0, true},
		{"v1.1.0", 9, "v1.2.0", 0, false},
		{"v1.0.0", 0, "v1.0.0-rc1", 0, true},
		{"v1.0.0-rc1", 0, "v1.0.0", 0, false},
		{"v1.0.0-rc2", 0, "v1.0.0-rc1", 0, true},
		// SemVer 2.0 §11: numeric pre-release identifiers compare as
		// numbers, so rc.9 is older than rc.10 (the floor must refuse it).
		{"v1.0.0-rc.10", 0, "v1.0.0-rc.9", 0, true},
		{"v1.0.0-rc.9", 0, "v1.0.0-rc.10", 0, false},
		{"v1.0.0-alpha.1", 0, "v1.0.0-alpha", 0, true},
		{"v1.0.0-alpha", 0, "v1.0.0-alpha.1", 0, false},
		{"v1.0.0-alpha", 0, "v1.0.0-1", 0, true},
		{"v1.0.0-beta.2", 0, "v1.0.0-alpha.10", 0, true},
		{"v1.0.0", 0, "v1.0.0", 5, false},
		{"abc123", 200, "def456", 100, true},
		{"abc123", 100, "def456", 200, false},
		{"abc123", 300, "abc123", 100, false},
		{"v1.0.0", 200, "dev", 100, true},
	}
	for _, c := range cases {
		if got := Newer(c.cv, c.ct, c.rv, c.rt); got != c.newer {
			t.Errorf("Newer(%s@%d, %s@%d) = %v", c.cv, c.ct, c.rv, c.rt, got)
		}
	}
}

func TestBuildTime(t *testing.T) {
	now := func() time.Time { return time.Unix(42, 0) }
	if v, err := BuildTime("", now); err != nil || v != 42 {
		t.Fatalf("empty: %d %v", v, err)
	}
	if v, err := BuildTime("1700000000", now); err != nil || v != 1700000000 {
		t.Fatalf("set: %d %v", v, err)
	}
	for _, bad := range []string{"x", "-1", "1.5"} {
		if _, err := BuildTime(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// phone is a device under test: two slot files, a state file, an agent.
type phone struct {
	dir     string
	slots   map[string]string
	state   string
	agent   *Agent
	reboots atomic.Int32
}

const testToken = "s3cret-token"

func newPhone(t *testing.T, pub ed25519.PublicKey, version string, bt int64) *phone {
	t.Helper()
	dir := t.TempDir()
	p := &phone{dir: dir, slots: map[string]string{SlotA: filepath.Join(dir, "rootA"), SlotB: filepath.Join(dir, "rootB")}, state: filepath.Join(dir, "ab.json")}
	for _, s := range []string{SlotA, SlotB} {
		if err := os.WriteFile(p.slots[s], []byte("running image "+s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	booted, _, err := Boot(p.state)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAgent(Config{Board: "qemu-arm64", Version: version, BuildTime: bt, PublicKey: pub, Token: testToken,
		Slots: p.slots, StatePath: p.state, Booted: booted, MaxSlotSize: 1 << 20, Reboot: func() { p.reboots.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	p.agent = a
	return p
}

func (p *phone) slot(t *testing.T, s string) string {
	b, err := os.ReadFile(p.slots[s])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func post(t *testing.T, url string, body io.Reader, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer resp.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

func TestPushUpdate(t *testing.T) {
	priv, pub := testKey(t, 1)
	p := newPhone(t, pub, "v1.0.0", 100)
	srv := httptest.NewServer(p.agent)
	defer srv.Close()
	payload := bytes.Repeat([]byte("new root "), 5000)
	b := bundle(t, priv, updateManifest("qemu-arm64", "v1.1.0", 200, payload), payload)
	code, res := post(t, srv.URL+"/update", bytes.NewReader(b), testToken)
	if code != 200 {
		t.Fatalf("push: %d %v", code, res)
	}
	sum := sha256.Sum256(payload)
	if res["sha256"] != hex.EncodeToString(sum[:]) || res["slot"] != "B" || res["reboot"] != true {
		t.Fatalf("result %v", res)
	}
	if p.slot(t, SlotB) != string(payload) {
		t.Fatal("slot B does not hold the payload")
	}
	if p.slot(t, SlotA) != "running image A" {
		t.Fatal("active slot A was written")
	}
	srv.Close() // waits for the handler, which reboots after answering
	if n := p.reboots.Load(); n != 1 {
		t.Fatalf("reboots %d", n)
	}
	st, err := ReadState(p.state)
	if err != nil {
		t.Fatal(err)
	}
	if st.Committed != SlotA || st.Trial != SlotB || st.TrialBoots != DefaultTrialBoots || st.Slots[SlotB].Version != "v1.1.0" {
		t.Fatalf("state %+v", st)
	}
	// A second push while B waits for its trial boot goes to B again
	// (A stays committed): allowed and still never touches A.
	srv = httptest.NewServer(p.agent)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/update/status", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var status Status
	if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if status.Slot != SlotA || status.Trial || status.Version != "v1.0.0" || status.State.Trial != SlotB {
		t.Fatalf("status %+v", status)
	}
}

// TestPushRefused checks every refusal leaves both slots and the state
// as they were.
func TestPushRefused(t *testing.T) {
	priv, pub := testKey(t, 1)
	other, _ := testKey(t, 2)
	payload := bytes.Repeat([]byte{0xAB}, 70000)
	good := updateManifest("qemu-arm64", "v1.1.0", 200, payload)
	wrongSum := updateManifest("qemu-arm64", "v1.1.0", 200, payload)
	wrongSum.Parts[0].SHA256 = strings.Repeat("0", 64)
	big := bytes.Repeat([]byte{1}, 2<<20)
	cases := []struct {
		name  string
		body  []byte
		token string
		query string
		code  int
		want  error
	}{
		{"no token", bundle(t, priv, good, payload), "", "", 401, ErrUnauthorized},
		{"wrong token", bundle(t, priv, good, payload), "nope", "", 401, ErrUnauthorized},
		{"wrong board", bundle(t, priv, updateManifest("rpi", "v1.1.0", 200, payload), payload), testToken, "", 400, ErrWrongBoard},
		{"bad signature", bundle(t, other, good, payload), testToken, "", 403, ErrBadSignature},
		{"downgrade", bundle(t, priv, updateManifest("qemu-arm64", "v0.9.0", 300, payload), payload), testToken, "", 409, ErrDowngrade},
		{"truncated", bundle(t, priv, good, payload)[:1000], testToken, "", 400, ErrTruncated},
		{"too long", append(bundle(t, priv, good, payload), 'x'), testToken, "", 400, ErrTooLong},
		{"digest", bundle(t, priv, wrongSum, payload), testToken, "", 400, ErrDigest},
		{"not a bundle", []byte("GET / HTTP/1.0\r\n\r\n"), testToken, "", 400, ErrBadBundle},
		{"too large", bundle(t, priv, updateManifest("qemu-arm64", "v1.1.0", 200, big), big), testToken, "", 413, ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPhone(t, pub, "v1.0.0", 100)
			srv := httptest.NewServer(p.agent)
			defer srv.Close()
			before, _ := os.ReadFile(p.state)
			code, res := post(t, srv.URL+"/update"+c.query, bytes.NewReader(c.body), c.token)
			if code != c.code {
				t.Fatalf("code %d, want %d (%v)", code, c.code, res)
			}
			msg, _ := res["error"].(string)
			if !strings.Contains(msg, strings.TrimPrefix(c.want.Error(), "update: ")) {
				t.Fatalf("error %q, want %q", msg, c.want)
			}
			if p.slot(t, SlotA) != "running image A" {
				t.Fatal("active slot written")
			}
			after, _ := os.ReadFile(p.state)
			if !bytes.Equal(before, after) {
				t.Fatalf("state changed: %s -> %s", before, after)
			}
			if slot, trial, _ := Boot(p.state); slot != SlotA || trial {
				t.Fatalf("next boot %s trial=%v", slot, trial)
			}
			srv.Close()
			if p.reboots.Load() != 0 {
				t.Fatal("rebooted")
			}
		})
	}
}

// TestDowngradeAllowed: after a factory reset lowered the version floor,
// allow-downgrade installs an older signed build (and only with it).
func TestDowngradeAllowed(t *testing.T) {
	priv, pub := testKey(t, 1)
	p := newPhone(t, pub, "v1.0.0", 100)
	if err := LowerFloor(p.state); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.agent)
	defer srv.Close()
	payload := []byte("old")
	b := bundle(t, priv, updateManifest("qemu-arm64", "v0.9.0", 50, payload), payload)
	if code, res := post(t, srv.URL+"/update", bytes.NewReader(b), testToken); code != http.StatusConflict {
		t.Fatalf("without allow-downgrade: %d %v", code, res)
	}
	if code, res := post(t, srv.URL+"/update?allow-downgrade=1", bytes.NewReader(b), testToken); code != 200 {
		t.Fatalf("%d %v", code, res)
	}
}

// cutReader gives n bytes, then fails, as a dropped connection does.
type cutReader struct {
	r io.Reader
	n int
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("connection cut")
	}
	if len(p) > c.n {
		p = p[:c.n]
	}
	k, err := c.r.Read(p)
	c.n -= k
	return k, err
}

// TestPushCutHalfWay sends half a bundle and drops the connection: the
// phone keeps running N and boots N again.
func TestPushCutHalfWay(t *testing.T) {
	priv, pub := testKey(t, 1)
	p := newPhone(t, pub, "v1.0.0", 100)
	srv := httptest.NewServer(p.agent)
	defer srv.Close()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<14)
	b := bundle(t, priv, updateManifest("qemu-arm64", "v1.1.0", 200, payload), payload)
	req, _ := http.NewRequest("POST", srv.URL+"/update", &cutReader{r: bytes.NewReader(b), n: len(b) / 2})
	req.ContentLength = int64(len(b))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a cut push got an answer: %s", resp.Status)
	}
	// The server finishes the refused request before the state is read.
	srv.Close()
	if slot, trial, err := Boot(p.state); slot != SlotA || trial || err != nil {
		t.Fatalf("boot %s %v %v", slot, trial, err)
	}
	if p.slot(t, SlotA) != "running image A" || p.reboots.Load() != 0 {
		t.Fatal("active slot touched or rebooted")
	}
}

// TestTrialCommit: N+1 boots on trial, becomes healthy, is committed and
// stays.
func TestTrialCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		priv, pub := testKey(t, 1)
		p := newPhone(t, pub, "v1.0.0", 100)
		payload := []byte("v1.1.0 root")
		b := bundle(t, priv, updateManifest("qemu-arm64", "v1.1.0", 200, payload), payload)
		if _, err := p.agent.Install(nil, bytes.NewReader(b), false); err != nil {
			t.Fatal(err)
		}
		slot, trial, err := Boot(p.state)
		if slot != SlotB || !trial || err != nil {
			t.Fatalf("boot %s %v %v", slot, trial, err)
		}
		healthy := make(chan struct{})
		done := make(chan bool)
		go func() {
			ok, err := Watch(context.Background(), p.state, slot, time.Minute, healthy, func() { t.Error("rebooted") })
			if err != nil {
				t.Error(err)
			}
			done <- ok
		}()
		time.Sleep(30 * time.Second) // fake time in the bubble: healthy after 30 s
		close(healthy)
		if !<-done {
			t.Fatal("not committed")
		}
		for range 3 {
			if slot, trial, _ := Boot(p.state); slot != SlotB || trial {
				t.Fatalf("after commit: %s %v", slot, trial)
			}
		}
	})
}

// TestTrialRollback: a broken N+1 never becomes healthy; the watchdog
// reboots and the phone comes back on N by itself. A kernel that hangs
// (no Watch at all) is covered too: the next boot still returns to N.
func TestTrialRollback(t *testing.T) {
	for _, hang := range []bool{false, true} {
		t.Run(fmt.Sprintf("hang=%v", hang), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				priv, pub := testKey(t, 1)
				p := newPhone(t, pub, "v1.0.0", 100)
				payload := []byte("broken v1.1.0")
				b := bundle(t, priv, updateManifest("qemu-arm64", "v1.1.0", 200, payload), payload)
				if _, err := p.agent.Install(nil, bytes.NewReader(b), false); err != nil {
					t.Fatal(err)
				}
				slot, trial, _ := Boot(p.state)
				if slot != SlotB || !trial {
					t.Fatalf("first boot %s %v", slot, trial)
				}
				if !hang {
					rebooted := false
					ok, err := Watch(context.Background(), p.state, slot, 2*time.Minute, make(chan struct{}), func() { rebooted = true })
					if ok || err != nil || !rebooted {
						t.Fatalf("watch: committed=%v err=%v rebooted=%v", ok, err, rebooted)
					}
				}
				slot, trial, _ = Boot(p.state)
				if slot != SlotA || trial {
					t.Fatalf("after failed trial: %s %v", slot, trial)
				}
				st, _ := ReadState(p.state)
				if st.RolledBack != SlotB || st.Trial != "" || st.Committed != SlotA {
					t.Fatalf("state %+v", st)
				}
				// Watch on a committed boot does nothing.
				if ok, err := Watch(context.Background(), p.state, SlotA, time.Second, nil, func() { t.Error("reboot") }); ok || err != nil {
					t.Fatalf("watch on committed: %v %v", ok, err)
				}
			})
		})
	}
}

func TestStateErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ab.json")
	for _, bad := range []string{"{", `{"committed":"C"}`, `{"committed":"A","trial":"A"}`, `{"committed":"A","trial_boots":-1}`} {
		os.WriteFile(path, []byte(bad), 0o644)
		if _, err := ReadState(path); !errors.Is(err, ErrBadState) {
			t.Errorf("%s: %v", bad, err)
		}
		if slot, trial, err := Boot(path); slot != SlotA || trial || err == nil {
			t.Errorf("boot on %s: %s %v %v", bad, slot, trial, err)
		}
	}
	if err := WriteState(path, &State{Committed: "Z"}); !errors.Is(err, ErrBadState) {
		t.Fatal(err)
	}
}

func TestNewAgentErrors(t *testing.T) {
	_, pub := testKey(t, 1)
	good := Config{Board: "b", Version: "1", PublicKey: pub, Token: "t", Slots: map[string]string{"A": "a", "B": "b"}, StatePath: "s", Booted: "A"}
	if _, err := NewAgent(good); err != nil {
		t.Fatal(err)
	}
	muts := []func(c *Config){
		func(c *Config) { c.Board = "" },
		func(c *Config) { c.PublicKey = nil },
		func(c *Config) { c.Token = "" },
		func(c *Config) { c.Slots = nil },
		func(c *Config) { c.StatePath = "" },
		func(c *Config) { c.Booted = "C" },
	}
	for i, m := range muts {
		c := good
		m(&c)
		if _, err := NewAgent(c); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}

func TestPushWhileOnTrial(t *testing.T) {
	priv, pub := testKey(t, 1)
	p := newPhone(t, pub, "v1.0.0", 100)
	payload := []byte("v1.1.0")
	if _, err := p.agent.Install(nil, bytes.NewReader(bundle(t, priv, updateManifest("qemu-arm64", "v1.1.0", 200, payload), payload)), false); err != nil {
		t.Fatal(err)
	}
	slot, _, _ := Boot(p.state) // B on trial
	a, err := NewAgent(Config{Board: "qemu-arm64", Version: "v1.1.0", BuildTime: 200, PublicKey: pub, Token: testToken, Slots: p.slots, StatePath: p.state, Booted: slot})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Status().Trial {
		t.Fatal("status does not show the trial")
	}
	p2 := []byte("v1.2.0")
	_, err = a.Install(nil, bytes.NewReader(bundle(t, priv, updateManifest("qemu-arm64", "v1.2.0", 300, p2), p2)), false)
	if !errors.Is(err, ErrTrialPending) {
		t.Fatalf("push on trial: %v", err)
	}
	if p.slot(t, SlotA) != "running image A" {
		t.Fatal("committed slot A written while on trial")
	}
}
