package qemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/ui"
	"github.com/deskphone/phone/firmware/update"
	"github.com/deskphone/phone/hal/termpanel"
	"github.com/deskphone/phone/tools/flash"
	"github.com/deskphone/phone/tools/lab/tier"
	"github.com/deskphone/phone/tools/mkimage"
	"github.com/deskphone/phone/tools/pbx"
)

// initdFactoryResetCode is initd.FactoryResetCode (not imported: the
// test speaks to the phone only through its interfaces).
const initdFactoryResetCode = "**73738"

// Host ports forwarded to the guest's API, update agent and front panel.
const (
	apiPort    = 18080
	updatePort = 18081
	panelPort  = 17000
	screenPort = 17080 // board/qemu's screen stream (hal/termpanel)
)

// The tier's name and make target: the test runs only when DESKPHONE_TIER
// names "qemu" (make test-qemu sets it, inside a loopback-only network
// namespace).
const (
	tierName   = "qemu"
	tierTarget = "test-qemu"
)

// env returns the tier's required parameter DESKPHONE_QEMU_<name>, or
// fails the test.
func env(t *testing.T, name string) string {
	t.Helper()
	return tier.MustParam(t, tierName, name, tierTarget)
}

// isolated reports whether this process sees loopback interfaces only.
func isolated() (bool, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return false, err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			return false, nil
		}
	}
	return true, nil
}

// bundle builds a signed update bundle of init as version, with the same
// key, kernel and public key as the image under test.
func bundle(t *testing.T, dir, version string, bt int64, init string) string {
	t.Helper()
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	key, err := flash.LoadPrivateKey(env(t, "KEY"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := mkimage.Build(mkimage.Options{Board: "qemu-arm64", Version: version, BuildTime: bt,
		Kernel: read(filepath.Join(dir, "vmlinuz")), Init: read(init), Key: key,
		Extra: []mkimage.File{{Name: "etc/deskphone/update.pub", Mode: mkimage.CpioReg | 0o644, Data: read(env(t, "PUB"))}}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), version+".upd")
	if err := os.WriteFile(p, r.Bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// phoneAPI talks to the phone's local API through the port forward.
type phoneAPI struct {
	token string
	c     *http.Client
}

type apiStatus struct {
	Version      string `json:"version"`
	Registration struct {
		State string `json:"state"`
	} `json:"registration"`
	Calls []struct {
		State string `json:"state"`
		RTP   struct {
			Sent     uint64 `json:"sent"`
			Received uint64 `json:"received"`
		} `json:"rtp"`
	} `json:"calls"`
}

func (p *phoneAPI) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	port := apiPort
	if strings.HasPrefix(path, "/system/") || strings.HasPrefix(path, "/update") {
		port = updatePort
	}
	req, err := http.NewRequestWithContext(ctx, method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json") // the API refuses other POSTs
	}
	resp, err := p.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// poll calls f every interval until it returns true or d passes.
func poll(ctx context.Context, d, interval time.Duration, f func(ctx context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		ok, err := f(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not within %v (last error: %v)", d, last)
		case <-t.C:
		}
	}
}

// TestQEMU boots the image, registers, calls echo with RTP both ways,
// then updates: N to N+1 succeeds, a broken N+2 rolls back, a push cut
// off half-way changes nothing; then powers off.
func TestQEMU(t *testing.T) {
	tier.Require(t, tierName, tierTarget)
	if ok, err := isolated(); err != nil || !ok {
		t.Fatalf("not in an isolated network namespace (only loopback allowed): %v", err)
	}
	dir := env(t, "IMAGE")
	next := env(t, "NEXT")
	broken := env(t, "BROKEN")
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()

	// The PBX the phone registers to: 10.0.2.2:5060 in the guest is
	// 127.0.0.1:5060 here. It advertises 10.0.2.2 (in SDP and
	// Record-Route): the address the guest reaches it at.
	srv, err := pbx.New(pbx.Config{Realm: "pbx.local", Users: map[string]string{"1001": "1001pass"},
		Listen: netip.MustParseAddrPort("127.0.0.1:5060"), NATFix: true, Advertise: netip.MustParseAddr("10.0.2.2")})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	disk := filepath.Join(t.TempDir(), "phone.img")
	if err := CopyFile(disk, filepath.Join(dir, "phone.img")); err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline.txt"))
	if err != nil {
		t.Fatal(err)
	}
	console, err := os.Create(filepath.Join(env(t, "LOGDIR"), "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer console.Close()
	cfg := MachineConfig{
		Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd.img"), Disk: disk,
		// A short trial deadline keeps the rollback case quick; a good
		// update is healthy within seconds.
		Cmdline:  strings.TrimSpace(string(cmdline)) + " deskphone.trial_deadline=60s",
		Forwards: []Forward{{apiPort, 8080}, {updatePort, 8081}, {panelPort, 7000}, {screenPort, 7080}},
		Console:  console,
	}
	start := time.Now()
	m, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("console (last 60 lines):\n%s", m.Tail(60))
		}
		select {
		case <-m.Done():
		default:
			m.Kill()
		}
	}()

	// Boot to registered.
	line, mark, err := m.WaitFor(ctx, 0, "deskphone: device token ")
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(line[strings.Index(line, "device token ")+len("device token "):])
	api := &phoneAPI{token: token, c: &http.Client{Timeout: 10 * time.Second}}
	bctx, bcancel := context.WithTimeout(ctx, 3*time.Minute)
	line, mark, err = m.WaitFor(bctx, mark, "deskphone: healthy (registration registered)")
	bcancel()
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	t.Logf("boot to registered: %.1f s wall (QEMU start to registered), console: %q", wall.Seconds(), line)
	var st apiStatus
	if err := poll(ctx, 30*time.Second, time.Second, func(ctx context.Context) (bool, error) {
		err := api.do(ctx, "GET", "/api/status", nil, &st)
		return err == nil && st.Registration.State == "registered", err
	}); err != nil {
		t.Fatalf("API status: %v", err)
	}
	// The screen stream (what a person watching the emulated phone sees)
	// shows the idle screen with the line registered (issue 18).
	if err := idleScreen(ctx, fmt.Sprintf("127.0.0.1:%d", screenPort)); err != nil {
		t.Fatal(err)
	}

	// A call to echo: RTP both ways.
	if err := api.do(ctx, "POST", "/api/call", map[string]string{"to": "echo"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, 60*time.Second, time.Second, func(ctx context.Context) (bool, error) {
		err := api.do(ctx, "GET", "/api/status", nil, &st)
		return err == nil && len(st.Calls) == 1 && st.Calls[0].RTP.Sent > 50 && st.Calls[0].RTP.Received > 50, err
	}); err != nil {
		t.Fatalf("echo call: RTP did not flow both ways: %v (status %+v)", err, st)
	}
	t.Logf("echo call: state %s, RTP sent %d, received %d", st.Calls[0].State, st.Calls[0].RTP.Sent, st.Calls[0].RTP.Received)
	if err := api.do(ctx, "POST", "/api/hangup", nil, nil); err != nil {
		t.Fatal(err)
	}

	status := func() update.Status {
		t.Helper()
		sctx, c := context.WithTimeout(ctx, 10*time.Second)
		defer c()
		s, err := flash.Status(sctx, api.c, fmt.Sprintf("127.0.0.1:%d", updatePort), api.token)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := status()
	if before.Slot != update.SlotA || before.Trial {
		t.Fatalf("fresh phone: %+v", before)
	}
	bt := before.BuildTime + 1
	host := fmt.Sprintf("127.0.0.1:%d", updatePort)
	nextVersion := "v1.0.1"

	// N -> N+1.
	var progress strings.Builder
	pushStart := time.Now()
	res, err := flash.Push(ctx, flash.PushOptions{Bundle: bundle(t, dir, nextVersion, bt, next), Host: host, Token: token,
		Progress: &progress, Wait: 4 * time.Minute, Poll: 2 * time.Second, Client: api.c})
	if err != nil {
		t.Fatalf("push N+1: %v\n%s", err, progress.String())
	}
	if res.After.Version != nextVersion || res.After.Slot != update.SlotB || res.After.Trial {
		t.Fatalf("after N+1: %+v", res.After)
	}
	t.Logf("push N -> N+1 (%s): back and committed in slot %s after %.1f s", nextVersion, res.After.Slot, time.Since(pushStart).Seconds())
	if _, _, err = m.WaitFor(ctx, mark, "deskphone: slot B committed"); err != nil {
		t.Fatal(err)
	}

	// A broken N+2 (the phone crashes at every start): rolled back to
	// N+1 by itself once its trial deadline passes.
	pushStart = time.Now()
	progress.Reset()
	_, err = flash.Push(ctx, flash.PushOptions{Bundle: bundle(t, dir, "v1.0.2", bt+1, broken), Host: host, Token: token,
		Progress: &progress, Wait: 5 * time.Minute, Poll: 2 * time.Second, Client: api.c})
	if !errors.Is(err, flash.ErrRolledBack) {
		t.Fatalf("broken push: want a rollback, got %v\n%s", err, progress.String())
	}
	after := status()
	if after.Version != nextVersion || after.Slot != update.SlotB || after.State == nil || after.State.RolledBack != update.SlotA {
		t.Fatalf("after the rollback: %+v", after)
	}
	t.Logf("push of a broken N+2: rolled back to %s (slot %s) after %.1f s", after.Version, after.Slot, time.Since(pushStart).Seconds())
	if err := poll(ctx, 60*time.Second, time.Second, func(ctx context.Context) (bool, error) {
		err := api.do(ctx, "GET", "/api/status", nil, &st)
		return err == nil && st.Registration.State == "registered" && st.Version == nextVersion, err
	}); err != nil {
		t.Fatalf("not registered after the rollback: %v", err)
	}

	// A push cut off half-way: refused, nothing changes, no reboot.
	b, err := os.ReadFile(bundle(t, dir, "v1.0.3", bt+2, next))
	if err != nil {
		t.Fatal(err)
	}
	mark = m.Mark()
	if err := cutPush(ctx, host, token, b, len(b)/2); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	_, mark, err = m.WaitFor(wctx, mark, "update refused")
	wcancel()
	if err != nil {
		t.Fatalf("the agent did not refuse a cut push: %v", err)
	}
	cut := status()
	if cut.Version != nextVersion || cut.Slot != update.SlotB || cut.Trial || cut.State.Trial != "" {
		t.Fatalf("after a cut push: %+v", cut)
	}
	if err := api.do(ctx, "GET", "/api/status", nil, &st); err != nil || st.Registration.State != "registered" {
		t.Fatalf("after a cut push: %v %+v", err, st)
	}
	wctx, wcancel = context.WithTimeout(ctx, 5*time.Second)
	_, _, err = m.WaitFor(wctx, mark, "deskphone: reboot")
	wcancel()
	if err == nil {
		t.Fatal("the phone rebooted after a cut push")
	}
	t.Logf("push cut off at %d of %d bytes: refused, still %s in slot %s", len(b)/2, len(b), cut.Version, cut.Slot)

	// Factory reset from the keypad, through the front panel (board/qemu's
	// line protocol on the forwarded port): off-hook, **73738#. The
	// phone exits, initd wipes config and token and reboots; the phone
	// comes back with a new token and the default config, on the same
	// firmware.
	mark = m.Mark()
	if err := panel(ctx, fmt.Sprintf("127.0.0.1:%d", panelPort), "hook off", "dial "+initdFactoryResetCode+"#"); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer rcancel()
	if _, mark, err = m.WaitFor(rctx, mark, "deskphone: factory reset"); err != nil {
		t.Fatal(err)
	}
	if line, mark, err = m.WaitFor(rctx, mark, "deskphone: device token "); err != nil {
		t.Fatal(err)
	}
	newToken := strings.TrimSpace(line[strings.Index(line, "device token ")+len("device token "):])
	if newToken == token {
		t.Fatal("the token survived a factory reset")
	}
	api.token = newToken
	if _, _, err = m.WaitFor(rctx, mark, "deskphone: healthy (registration registered)"); err != nil {
		t.Fatal(err)
	}
	if reset := status(); reset.Version != nextVersion || reset.Slot != update.SlotB {
		t.Fatalf("after a factory reset: %+v", reset)
	}
	t.Logf("factory reset from the keypad: new token, registered again on %s", nextVersion)

	// Power off: the phone un-registers, QEMU exits.
	if err := api.do(ctx, "POST", "/system/poweroff", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitExit(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("powered off; total %.1f s", time.Since(start).Seconds())
}

// cutPush sends the first n bytes of a bundle as a POST /update that
// promises all of it, then closes the connection.
func cutPush(ctx context.Context, host, token string, b []byte, n int) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /update HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", host, token, len(b))
	if _, err := c.Write(b[:n]); err != nil {
		return err
	}
	return nil
}

// panel sends front-panel commands (hal/serialio protocol) and checks
// each is answered "ok" (state reports such as "led ..." may come in
// between).
func panel(ctx context.Context, addr string, cmds ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	r := bufio.NewReader(c)
	for _, cmd := range cmds {
		if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
			return err
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("panel %q: %w", cmd, err)
			}
			line = strings.TrimSpace(line)
			if line == "ok" {
				break
			}
			if strings.HasPrefix(line, "err") {
				return fmt.Errorf("panel %q: %s", cmd, line)
			}
		}
	}
	return nil
}

// idleScreen reads the screen stream at addr until a frame shows the
// status bar's registered-line icon and not the failed one (15 s at
// most): the registered idle screen.
func idleScreen(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("screen stream: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	r := bufio.NewReader(c)
	var last *image.Gray
	for {
		f, err := termpanel.ReadFrame(r)
		if err != nil {
			if last != nil {
				return fmt.Errorf("screen stream: no registered idle screen; the last frame:\n%s", dumpGray(last))
			}
			return fmt.Errorf("screen stream: %w", err)
		}
		last = f
		if ui.Shows(f, string(ui.IconRegistered)) && !ui.Shows(f, string(ui.IconRegFailed)) {
			return nil
		}
	}
}

// dumpGray draws a frame as text, '#' lit.
func dumpGray(img *image.Gray) string {
	var b strings.Builder
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		for x := img.Rect.Min.X; x < img.Rect.Max.X; x++ {
			if img.GrayAt(x, y).Y != 0 {
				b.WriteByte('#')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
