package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/update"
	"github.com/deskphone/phone/tools/flash"
	"github.com/deskphone/phone/tools/lab/tier"
	"github.com/deskphone/phone/tools/pbx"
)

// The provisioning tier (make test-provision): zero-touch provisioning
// against real servers. In a network namespace of its own the test
// makes a tap device for QEMU, runs Debian's dnsmasq on it (DHCP, with
// option 66 naming the provisioning server) and nginx (the files), and
// tools/pbx. The image boots with no config of its own, takes the URL
// from DHCP, fetches its account, registers as that account, then
// updates its firmware from the URL the files name, and rolls a broken
// one back.
const (
	provTier   = "provision"
	provTarget = "test-provision"

	provTap   = "dplprov0"
	provHost  = "10.0.3.1"  // the namespace's side of the tap
	provGuest = "10.0.3.15" // the one address dnsmasq hands out
	provHTTP  = provHost + ":8088"
	// QEMU's default MAC for the first NIC: the phone's own file.
	provMAC = "525400123456"
)

// provParam returns DESKPHONE_PROVISION_<name>.
func provParam(t *testing.T, name string) string {
	t.Helper()
	return tier.MustParam(t, provTier, name, provTarget)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// daemon starts a server process that stays in the foreground, logging
// to dir/name.log; it is killed when the test ends.
func daemon(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
}

// writeFile writes a file the web server serves.
func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // nginx never serves half a file
		t.Fatal(err)
	}
}

type provStatus struct {
	Version string `json:"version"`
	Lines   []struct {
		Account      string `json:"account"`
		Registration struct {
			State string `json:"state"`
		} `json:"registration"`
	} `json:"lines"`
	Provision *struct {
		State    string `json:"state"`
		URL      string `json:"url"`
		Source   string `json:"source"`
		Error    string `json:"error"`
		Firmware string `json:"firmware"`
	} `json:"provision"`
}

func TestProvision(t *testing.T) {
	tier.Require(t, provTier, provTarget)
	if ok, err := isolated(); err != nil || !ok {
		t.Fatalf("not in a network namespace of its own (only loopback allowed): %v", err)
	}
	dir := provParam(t, "IMAGE")
	next, broken := provParam(t, "NEXT"), provParam(t, "BROKEN")
	logDir := provParam(t, "LOGDIR")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()

	// The namespace's network: loopback and the tap QEMU attaches to.
	run(t, "ip", "link", "set", "lo", "up")
	run(t, "ip", "tuntap", "add", "dev", provTap, "mode", "tap")
	run(t, "ip", "addr", "add", provHost+"/24", "dev", provTap)
	run(t, "ip", "link", "set", provTap, "up")

	// nginx serves the files: www/p/phone.yaml, www/p/<mac>.yaml and
	// www/fw/*.upd.
	work := t.TempDir()
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	www := filepath.Join(work, "www")
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[2]s/nginx-error.log info;
events { worker_connections 64; }
http {
  access_log %[2]s/nginx-access.log;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  types { text/yaml yaml; application/octet-stream upd; }
  server {
    listen %[3]s;
    root %[4]s;
  }
}
`, work, logDir, provHTTP, www)
	writeFile(t, filepath.Join(work, "nginx.conf"), conf)
	daemon(t, logDir, "nginx", "-c", filepath.Join(work, "nginx.conf"), "-e", filepath.Join(logDir, "nginx-error.log"))

	// dnsmasq: DHCP only (port=0 turns DNS off), one address, option 66
	// with the provisioning URL.
	daemon(t, logDir, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts",
		"--log-facility=-", "--log-dhcp", "--user=root", "--group=root",
		"--interface="+provTap, "--bind-interfaces", "--dhcp-authoritative",
		"--dhcp-range="+provGuest+","+provGuest+",255.255.255.0,1h",
		"--dhcp-option=3,"+provHost,
		"--dhcp-option=66,http://"+provHTTP+"/p",
		"--dhcp-leasefile="+filepath.Join(work, "leases"), "--pid-file="+filepath.Join(work, "dnsmasq.pid"))

	// The PBX knows only the provisioned account.
	srv, err := pbx.New(pbx.Config{Realm: "pbx.local", Users: map[string]string{"2001": "2001pass"},
		Listen: netip.MustParseAddrPort(provHost + ":5060")})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	common := `# common to every phone
accounts:
  - domain: ` + provHost + `
    registrar: ` + provHost + `:5060
    expires: 300s
nat:
  strategies: []
  upnp: false
provision:
  interval: 1m
`
	writeFile(t, filepath.Join(www, "p", "phone.yaml"), common)
	writeFile(t, filepath.Join(www, "p", provMAC+".yaml"), `accounts:
  - user: "2001"
    password: 2001pass
    display_name: Provisioned phone
`)

	// QEMU on the tap: Start builds user networking; a wrapper swaps
	// in the tap (machine.go stays as the qemu tier has it).
	wrapper := filepath.Join(work, "qemu-tap")
	writeFile(t, wrapper, `#!/bin/sh
for a; do
  shift
  case "$a" in user,id=n0*) a="tap,id=n0,ifname=`+provTap+`,script=no,downscript=no" ;; esac
  set -- "$@" "$a"
done
exec qemu-system-aarch64 "$@"
`)
	if err := os.Chmod(wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(work, "phone.img")
	if err := CopyFile(disk, filepath.Join(dir, "phone.img")); err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline.txt"))
	if err != nil {
		t.Fatal(err)
	}
	console, err := os.Create(filepath.Join(logDir, "provision-console.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer console.Close()
	start := time.Now()
	m, err := Start(ctx, MachineConfig{QEMU: wrapper,
		Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd.img"), Disk: disk,
		Cmdline: strings.TrimSpace(string(cmdline)) + " deskphone.trial_deadline=60s", Console: console})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("console (last 80 lines):\n%s", m.Tail(80))
		}
		select {
		case <-m.Done():
		default:
			m.Kill()
		}
	}()

	line, _, err := m.WaitFor(ctx, 0, "deskphone: device token ")
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(line[strings.Index(line, "device token ")+len("device token "):])
	hc := &http.Client{Timeout: 10 * time.Second}
	status := func(ctx context.Context) (provStatus, error) {
		var st provStatus
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+provGuest+":8080/api/status", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			return st, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return st, fmt.Errorf("status: %s", resp.Status)
		}
		return st, json.NewDecoder(resp.Body).Decode(&st)
	}

	// No config of its own: DHCP names the server, the phone fetches its
	// account and registers as 2001 (only the PBX's user).
	var st provStatus
	if err := poll(ctx, 4*time.Minute, 2*time.Second, func(ctx context.Context) (bool, error) {
		var err error
		st, err = status(ctx)
		return err == nil && len(st.Lines) == 1 && st.Lines[0].Account == "2001@"+provHost && st.Lines[0].Registration.State == "registered" &&
			st.Provision != nil && st.Provision.State == "ok", err
	}); err != nil {
		t.Fatalf("not registered with the provisioned account, or provisioning not ok: %v (status %+v, provision %+v)", err, st, st.Provision)
	}
	if len(srv.Bindings("2001")) == 0 {
		t.Fatal("the PBX has no binding for 2001")
	}
	if st.Provision == nil || st.Provision.Source != "dhcp" || st.Provision.URL != "http://"+provHTTP+"/p" || st.Provision.State != "ok" {
		t.Fatalf("provisioning status: %+v", st.Provision)
	}
	t.Logf("boot with no config -> DHCP option 66 -> %s -> registered as 2001: %.1f s", st.Provision.URL, time.Since(start).Seconds())

	agent := provGuest + ":8081"
	abStatus := func() update.Status {
		t.Helper()
		sctx, c := context.WithTimeout(ctx, 10*time.Second)
		defer c()
		s, err := flash.Status(sctx, hc, agent, token)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := abStatus()
	if before.Slot != update.SlotA || before.Version != "v1.0.0" {
		t.Fatalf("fresh phone: %+v", before)
	}
	bt := before.BuildTime + 1

	// Firmware pull: the files name v1.0.1; the phone fetches it at its
	// next check (provision.interval 1m), installs it, boots it on trial
	// and commits it.
	if err := os.MkdirAll(filepath.Join(www, "fw"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyTo := func(src, name string) string {
		if err := CopyFile(filepath.Join(www, "fw", name), src); err != nil {
			t.Fatal(err)
		}
		return "http://" + provHTTP + "/fw/" + name
	}
	setBundleEnv(t)
	u := copyTo(bundle(t, dir, "v1.0.1", bt, next), "v1.0.1.upd")
	pullStart := time.Now()
	mark := m.Mark()
	writeFile(t, filepath.Join(www, "p", "phone.yaml"), common+"firmware:\n  url: "+u+"\n  version: v1.0.1\n")
	if _, mark, err = m.WaitFor(ctx, mark, "deskphone: slot B committed"); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, 2*time.Minute, 2*time.Second, func(ctx context.Context) (bool, error) {
		var err error
		st, err = status(ctx)
		return err == nil && st.Version == "v1.0.1" && len(st.Lines) == 1 && st.Lines[0].Registration.State == "registered", err
	}); err != nil {
		t.Fatalf("v1.0.1 not registered: %v (%+v)", err, st)
	}
	t.Logf("provisioned firmware v1.0.1 pulled, trial-booted and committed in slot B: %.1f s after the file changed", time.Since(pullStart).Seconds())

	// A broken v1.0.2 (its phoned crashes at every start): pulled,
	// trial-booted, rolled back to v1.0.1; the phone does not pull it
	// again.
	u = copyTo(bundle(t, dir, "v1.0.2", bt+1, broken), "v1.0.2.upd")
	pullStart = time.Now()
	writeFile(t, filepath.Join(www, "p", "phone.yaml"), common+"firmware:\n  url: "+u+"\n  version: v1.0.2\n")
	if _, _, err = m.WaitFor(ctx, mark, "trial boot not healthy in time"); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, 4*time.Minute, 2*time.Second, func(ctx context.Context) (bool, error) {
		var err error
		st, err = status(ctx)
		return err == nil && st.Version == "v1.0.1" && st.Provision != nil && strings.Contains(st.Provision.Firmware, "rolled back"), err
	}); err != nil {
		t.Fatalf("after the broken pull: %v (%+v)", err, st)
	}
	after := abStatus()
	if after.Version != "v1.0.1" || after.Slot != update.SlotB || after.State == nil || after.State.RolledBack != update.SlotA {
		t.Fatalf("after the rollback: %+v", after)
	}
	t.Logf("broken v1.0.2 pulled, rolled back to v1.0.1 after %.1f s; not pulled again: %q", time.Since(pullStart).Seconds(), st.Provision.Firmware)
	if st.Lines[0].Registration.State != "registered" {
		t.Fatalf("not registered after the rollback: %+v", st)
	}

	// Unchanged files cost a 304 each (If-None-Match / If-Modified-Since).
	if err := poll(ctx, 3*time.Minute, 2*time.Second, func(context.Context) (bool, error) {
		b, err := os.ReadFile(filepath.Join(logDir, "nginx-access.log"))
		return err == nil && strings.Contains(string(b), `"GET /p/phone.yaml HTTP/1.1" 304`), err
	}); err != nil {
		t.Fatalf("no conditional request answered 304: %v", err)
	}

	// A bad per-phone file changes nothing and is reported with its URL
	// and line; the phone stays registered as before.
	writeFile(t, filepath.Join(www, "p", provMAC+".yaml"), "accounts:\n  - user: \"2001\"\n    transport: pigeon\n")
	want := "http://" + provHTTP + "/p/" + provMAC + ".yaml:3: accounts[0].transport"
	if err := poll(ctx, 3*time.Minute, 2*time.Second, func(ctx context.Context) (bool, error) {
		var err error
		st, err = status(ctx)
		return err == nil && st.Provision != nil && st.Provision.State == "error" && strings.Contains(st.Provision.Error, want), err
	}); err != nil {
		t.Fatalf("bad file not reported: %v (%+v)", err, st.Provision)
	}
	if len(st.Lines) != 1 || st.Lines[0].Account != "2001@"+provHost || st.Lines[0].Registration.State != "registered" || st.Version != "v1.0.1" {
		t.Fatalf("a bad file changed the phone: %+v", st)
	}
	t.Logf("bad provisioned file refused, phone unchanged: %q", st.Provision.Error)
}

// setBundleEnv lets bundle() (qemu_test.go) find the signing key under
// the qemu tier's parameter names.
func setBundleEnv(t *testing.T) {
	t.Helper()
	for _, n := range []string{"KEY", "PUB"} {
		t.Setenv(tier.ParamName(tierName, n), provParam(t, n))
	}
}
