package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/tools/lab/tier"
)

// Addresses of the tier, all on loopback (ports no other tier uses; a
// busy one fails the test at once, naming it).
const (
	pbxAddr  = "127.0.0.1:31500"
	sipPort  = 31560
	apiAddr  = "127.0.0.1:31580"
	base     = "http://" + apiAddr
	adminPW  = "tier admin pw"
	rightPW  = "pw1001"
	deadline = 170 * time.Second // the whole tier, browser start included
)

// TestWebAdmin drives the web page in headless Chromium against a real
// phoned registered (or not) with tools/pbx: a wrong and a right admin
// password, an account's SIP password changed from wrong to right on the
// accounts page and applied at once (no restart: issue 15), the status
// page showing the line registered, a call to the PBX's echo extension
// placed and hung up on the calls page, and a screenshot of every page.
func TestWebAdmin(t *testing.T) {
	tier.Require(t, "browser", "test-browser")
	chromium := tier.Param("browser", "chromium")
	if chromium == "" {
		var err error
		if chromium, err = exec.LookPath("chromium"); err != nil {
			t.Fatal("chromium not found: `make test-browser` installs it (Debian package chromium)")
		}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	dir := t.TempDir()
	bin := tier.Param("browser", "bin")
	if bin == "" {
		bin = dir
		build := exec.CommandContext(ctx, "go", "build", "-o", dir+"/",
			"github.com/deskphone/phone/firmware/cmd/phoned", "github.com/deskphone/phone/tools/cmd/pbx")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}
	shots := tier.Param("browser", "shots")
	if shots == "" {
		shots = filepath.Join(dir, "shots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	checkFree(t)
	startProc(t, ctx, dir, "pbx", filepath.Join(bin, "pbx"), "-listen", pbxAddr, "-realm", "browser", "-user", "1001:"+rightPW, "-log-level", "warn")
	cfgPath := writeConfig(t, dir)
	startProc(t, ctx, dir, "phoned", filepath.Join(bin, "phoned"), "-config", cfgPath)
	waitFor(t, ctx, "the API", 15*time.Second, func() bool { return status().Registration.State != "" })

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 900))...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	// The first run on bctx starts the browser, which lives as long as
	// bctx: later steps run on contexts derived from it, with their own
	// timeouts, that must not own the browser.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b := &browser{t: t, ctx: bctx, shots: shots}

	// Log in: a wrong password is refused, the right one opens the status page.
	b.do("open the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#password")))
	b.shot("login")
	b.do("wrong admin password", chromedp.SetValue(chromedp.CSS("#password"), "not it"), chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS(".error")))
	b.contains(".error", "Wrong password")
	b.login()
	b.waitJS("the line shows the failed registration", `document.querySelector('#registration')?.textContent === 'failed'`)

	// The account's password, from wrong to right, on the accounts page.
	b.do("accounts page", chromedp.Navigate(base+"/accounts"), chromedp.WaitVisible(chromedp.CSS("#account-0")))
	b.do("change the account's password", chromedp.SetValue(chromedp.CSS(`#account-0 input[name=password]`), rightPW),
		chromedp.Click(chromedp.CSS(`#account-0 button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	b.contains(".flash", "Saved and applied.")
	b.shot("accounts")
	saved, err := config.Load(cfgPath)
	if err != nil || saved.Accounts[0].Password != rightPW {
		t.Fatalf("the config file after the save: %v %+v", err, saved)
	}

	// phoned applies the change while it runs: the line registers with
	// the new password, and the status page (same session) shows it.
	waitFor(t, ctx, "the line registered without a restart", 15*time.Second, func() bool { return status().Registration.State == "registered" })
	b.do("status page", chromedp.Navigate(base+"/status"), chromedp.WaitVisible(chromedp.CSS("#registration")))
	b.waitJS("the line registered", `document.querySelector('#registration')?.textContent === 'registered'`)
	b.shot("status")

	// A call to the echo extension from the calls page.
	b.do("calls page", chromedp.Navigate(base+"/calls"), chromedp.WaitVisible(chromedp.CSS("#dial-to")))
	b.do("dial echo", chromedp.SetValue(chromedp.CSS("#dial-to"), "echo"), chromedp.Click(chromedp.CSS("#dial")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	b.contains(".flash", "Calling echo")
	b.waitJS("the call talking on the page", `[...document.querySelectorAll('#calls .call-state')].some(e => e.textContent === 'talking')`)
	waitFor(t, ctx, "RTP both ways", 10*time.Second, func() bool {
		s := status()
		return len(s.Calls) == 1 && s.Calls[0].RTP.Sent > 50 && s.Calls[0].RTP.Received > 50
	})
	b.do("refresh", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#calls")))
	b.shot("calls")
	b.do("hang up", chromedp.Click(chromedp.CSS("#btn-hangup")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	b.contains(".flash", "Hung up")
	waitFor(t, ctx, "no call left", 10*time.Second, func() bool { return len(status().Calls) == 0 })

	// The other pages.
	for _, p := range []string{"network", "audio", "phonebook", "history", "firmware", "admin"} {
		b.do(p+" page", chromedp.Navigate(base+"/"+p), chromedp.WaitVisible(chromedp.CSS("main h1")))
		b.shot(p)
	}
	// Diagnostics: the SIP trace switched on from the page, then off.
	b.do("diagnostics page", chromedp.Navigate(base+"/diagnostics"), chromedp.WaitVisible(chromedp.CSS("#trace-state")))
	b.contains("#trace-state", "Trace is off")
	// Each click posts and loads the page again; the page before it may
	// show a flash already, so wait for the state text itself.
	traceIs := func(state string) string {
		return `(e => e !== null && e.textContent.includes('` + state + `'))(document.querySelector('#trace-state'))`
	}
	b.do("start the SIP trace", chromedp.Click(chromedp.CSS("#trace-toggle")))
	b.waitLoaded("the trace on", traceIs("Trace is on"))
	b.shot("diagnostics")
	b.do("stop the SIP trace", chromedp.Click(chromedp.CSS("#trace-toggle")))
	b.waitLoaded("the trace off", traceIs("Trace is off"))
	t.Logf("browser tier: %s; screenshots in %s", time.Since(start).Round(100*time.Millisecond), shots)
}

// browser runs steps in one Chromium tab.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (page: %s)", what, err, b.page())
	}
}

// page is the current page's location and text, for failures.
func (b *browser) page() string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	if len(text) > 1500 {
		text = text[:1500]
	}
	return loc + "\n" + text
}

func (b *browser) login() {
	b.t.Helper()
	b.do("log in", chromedp.SetValue(chromedp.CSS("#password"), adminPW), chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#live")))
}

// waitJS waits (30 s at most) until a JavaScript expression is true.
func (b *browser) waitJS(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(200*time.Millisecond))); err != nil {
		b.t.Fatalf("waiting for %s: %v (page: %s)", what, err, b.page())
	}
}

// waitLoaded polls expr until it is true, across the navigation a form's
// post starts (a poll that meets the navigation fails and is tried
// again), for at most 20 s.
func (b *browser) waitLoaded(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: %v (page: %s)", what, err, b.page())
		}
		<-tick.C
	}
}

// contains checks the text of the first element sel matches.
func (b *browser) contains(sel, want string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil || !strings.Contains(got, want) {
		b.t.Fatalf("%s: %q (%v), want %q", sel, got, err, want)
	}
}

// shot saves a PNG of the whole page as <name>.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// proc is a program the test runs.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// stop interrupts the program and waits for it (5 s, then kills it).
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// startProc runs a program until the test ends; its output goes to dir.
func startProc(t *testing.T, ctx context.Context, dir, name, path string, args ...string) *proc {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = logf, logf, dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				if len(b) > 3000 {
					b = b[len(b)-3000:]
				}
				t.Logf("%s log (tail):\n%s", name, b)
			}
		}
	})
	return p
}

// writeConfig writes the phone's config: account 1001 with the wrong
// password, the API (and so the web page) on loopback, an admin password.
func writeConfig(t *testing.T, dir string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(adminPW), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`accounts:
  - user: "1001"
    password: "wrong"
    display_name: Front desk
    domain: 127.0.0.1
    registrar: %s
    expires: 300
ports:
  sip: {min: %d, max: %d}
  media: {min: %d, max: %d}
nat:
  strategies: []
  upnp: false
audio:
  input: "tone:440"
api:
  listen: %s
web:
  password_hash: "%s"
log:
  level: info
`, pbxAddr, sipPort, sipPort+1, sipPort+100, sipPort+199, apiAddr, hash)
	path := filepath.Join(dir, "phone.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// phoneStatus is the part of /api/status the tier reads.
type phoneStatus struct {
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

var client = &http.Client{Timeout: 2 * time.Second}

func status() phoneStatus {
	var s phoneStatus
	res, err := client.Get(base + "/api/status")
	if err != nil {
		return s
	}
	defer res.Body.Close()
	_ = json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&s)
	return s
}

func waitFor(t *testing.T, ctx context.Context, what string, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) || ctx.Err() != nil {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkFree fails the test when one of the tier's ports is taken.
func checkFree(t *testing.T) {
	t.Helper()
	for _, a := range []string{pbxAddr, fmt.Sprintf("127.0.0.1:%d", sipPort), fmt.Sprintf("127.0.0.1:%d", sipPort+1)} {
		c, err := net.ListenPacket("udp", a)
		if err != nil {
			t.Fatalf("UDP %s is taken (another test running?): %v", a, err)
		}
		c.Close()
	}
	ln, err := net.Listen("tcp", apiAddr)
	if err != nil {
		t.Fatalf("TCP %s is taken (another test running?): %v", apiAddr, err)
	}
	ln.Close()
}
