package flood

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskphone/phone/tools/lab/tier"
)

// Ports and addresses of the tier, all on loopback. The PBX and both
// phones are on 127.0.0.1; the flooders send from 127.0.0.3-5, which
// are loopback too but not the PBX, so the phone treats them as
// strangers.
const (
	pbxAddr   = "127.0.0.1:27000"
	phoneA    = 27060 // 1001, the flooded phone
	phoneB    = 27260 // 1002, the legitimate caller
	apiA      = "127.0.0.1:27080"
	apiB      = "127.0.0.1:27280"
	sippLocal = 27500
)

// params are the tier's knobs (DESKPHONE_FLOOD_*).
type params struct {
	rate     int           // requests a second, all flooders together
	duration time.Duration // flood length
	maxRSS   int64         // bytes the phone may reach during the flood
	recover  time.Duration // how soon after the flood RSS must be back
	bin      string        // directory with phoned and pbx; empty builds them
	out      string        // CSV of the RSS curve; empty writes none
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", name, v)
	}
	return d
}

func loadParams(t *testing.T) params {
	p := params{
		rate:     envInt(t, "DESKPHONE_FLOOD_RATE", 2000),
		duration: envDuration(t, "DESKPHONE_FLOOD_DURATION", 30*time.Second),
		maxRSS:   int64(envInt(t, "DESKPHONE_FLOOD_MAX_RSS_MB", 40)) << 20,
		recover:  envDuration(t, "DESKPHONE_FLOOD_RECOVER", 60*time.Second),
		bin:      os.Getenv("DESKPHONE_FLOOD_BIN"),
		out:      os.Getenv("DESKPHONE_FLOOD_OUT"),
	}
	// Bounded: the whole tier stays under four minutes.
	if p.duration > 60*time.Second || p.recover > 90*time.Second || p.rate > 10000 {
		t.Fatalf("flood bounds: duration %s (max 60s), recover %s (max 90s), rate %d (max 10000)", p.duration, p.recover, p.rate)
	}
	return p
}

// TestFloodMemory floods a real phoned (registered with tools/pbx) with
// OPTIONS, REGISTER and strangers' INVITEs from sipp, records its RSS
// from /proc/PID/status, places a legitimate call through the PBX in the
// middle of the flood, and checks that RSS stays under the bound, the
// call connects with audio, and memory is back after the flood.
func TestFloodMemory(t *testing.T) {
	tier.Require(t, "flood", "test-flood")
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/PID/status")
	}
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal("sipp not found: `make test-flood` installs it (Debian package sip-tester)")
	}
	p := loadParams(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := p.bin
	if bin == "" {
		bin = dir
		build := exec.CommandContext(ctx, "go", "build", "-o", dir+"/",
			"github.com/deskphone/phone/firmware/cmd/phoned", "github.com/deskphone/phone/tools/cmd/pbx")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}

	start(t, ctx, dir, "pbx", filepath.Join(bin, "pbx"), "-listen", pbxAddr, "-realm", "flood",
		"-user", "1001:pw1001", "-user", "1002:pw1002", "-log-level", "warn")
	a := start(t, ctx, dir, "phoned-1001", filepath.Join(bin, "phoned"), "-config", writeConfig(t, dir, "1001", phoneA, apiA))
	start(t, ctx, dir, "phoned-1002", filepath.Join(bin, "phoned"), "-config", writeConfig(t, dir, "1002", phoneB, apiB))
	waitFor(t, ctx, "both phones registered", 20*time.Second, func() bool {
		return status(apiA).Registration.State == "registered" && status(apiB).Registration.State == "registered"
	})

	// The phone's normal: after a call, idle. A Go process keeps the
	// memory its first call needed (heap headroom, media buffers), so
	// the baseline is taken after one.
	if ok, err := legitCall(ctx); !ok {
		t.Fatalf("warm-up call before the flood: %v", err)
	}
	rec := &recorder{pid: a.Process.Pid, t0: time.Now()}
	stopRec := rec.run(250 * time.Millisecond)
	defer stopRec()
	time.Sleep(3 * time.Second) // the baseline: bounded, and only for the record
	baseline := rec.max("baseline")

	// The flood: OPTIONS and REGISTER at 45 % of the rate each, strangers'
	// INVITEs at 10 %, each from its own loopback address.
	rec.mark("flood")
	floodStart := time.Now()
	var wg sync.WaitGroup
	for i, f := range []struct {
		scen, src string
		share     int
	}{{"options.xml", "127.0.0.3", 45}, {"register.xml", "127.0.0.4", 45}, {"invite.xml", "127.0.0.5", 10}} {
		rate := p.rate * f.share / 100
		n := rate * int(p.duration/time.Second)
		args := []string{fmt.Sprintf("127.0.0.1:%d", phoneA), "-sf", filepath.Join("testdata", f.scen), "-s", "1001",
			"-i", f.src, "-p", strconv.Itoa(sippLocal + i), "-mi", f.src, "-mp", strconv.Itoa(sippLocal + 100 + 10*i),
			"-r", strconv.Itoa(rate), "-m", strconv.Itoa(n), "-timeout", strconv.Itoa(int((p.duration+15*time.Second)/time.Second)) + "s",
			"-nostdin", "-max_socket", "64"}
		logf, err := os.Create(filepath.Join(dir, "sipp-"+f.scen+".log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, sipp, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer logf.Close()
			if err := cmd.Wait(); err != nil {
				t.Logf("sipp %s: %v", f.scen, err)
			}
		}()
	}

	// A legitimate call through the PBX in the middle of the flood.
	time.Sleep(p.duration / 3)
	connected, callErr := legitCall(ctx)
	wg.Wait()
	floodTime := time.Since(floodStart)
	rec.mark("after")
	peak := rec.max("flood")
	adm := status(apiA).Admission

	// Recovery: RSS back near the baseline within p.recover.
	back := max(baseline+baseline/5, baseline+4<<20)
	recovered := time.Duration(-1)
	recStart := time.Now()
	for time.Since(recStart) < p.recover {
		if rss := rec.last(); rss > 0 && rss <= back {
			recovered = time.Since(recStart)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	stopRec()
	end := rec.last()

	t.Logf("flood: %d requests/s for %s (sipp ran %s); admission %+v", p.rate, p.duration, floodTime.Round(time.Second), adm)
	backAfter := "never"
	if recovered >= 0 {
		backAfter = recovered.Round(100 * time.Millisecond).String()
	}
	t.Logf("RSS: baseline %s, peak during the flood %s (bound %s), end %s; back under %s after the flood: %s",
		mb(baseline), mb(peak), mb(p.maxRSS), mb(end), mb(back), backAfter)
	t.Logf("legitimate call during the flood: connected=%v err=%v", connected, callErr)
	t.Logf("RSS curve (s, MB):\n%s", rec.curve())
	if p.out != "" {
		if err := os.WriteFile(p.out, []byte(rec.csv()), 0o644); err != nil {
			t.Error(err)
		}
	}

	if adm.RateLimited+adm.Forbidden == 0 {
		t.Error("the phone turned nothing away: did the flood reach it?")
	}
	if peak >= p.maxRSS {
		t.Errorf("RSS peaked at %s during the flood, want under %s", mb(peak), mb(p.maxRSS))
	}
	if !connected {
		t.Errorf("the legitimate call during the flood did not connect: %v", callErr)
	}
	if recovered < 0 {
		t.Errorf("RSS %s still above %s %s after the flood", mb(end), mb(back), p.recover)
	}
}

func mb(n int64) string { return fmt.Sprintf("%.1fMB", float64(n)/(1<<20)) }

// start runs a program until the test ends; its output goes to dir.
func start(t *testing.T, ctx context.Context, dir, name, path string, args ...string) *exec.Cmd {
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
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("%s log (tail):\n%s", name, tail(b, 3000))
			}
		}
	})
	return cmd
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func writeConfig(t *testing.T, dir, user string, sipPort int, api string) string {
	t.Helper()
	cfg := fmt.Sprintf(`accounts:
  - user: "%[1]s"
    password: "pw%[1]s"
    domain: 127.0.0.1
    registrar: %[2]s
    expires: 300
ports:
  sip: {min: %[3]d, max: %[4]d}
  media: {min: %[5]d, max: %[6]d}
nat:
  strategies: []
  upnp: false
audio:
  input: "tone:440"
api:
  listen: %[7]s
log:
  level: info
`, user, pbxAddr, sipPort, sipPort+1, sipPort+100, sipPort+199, api)
	path := filepath.Join(dir, "phone-"+user+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// phoneStatus is the part of /api/status the tier reads.
type phoneStatus struct {
	Phone struct {
		State string `json:"state"`
	} `json:"phone"`
	Registration struct {
		State string
	} `json:"registration"`
	Calls []struct {
		State string `json:"state"`
		RTP   struct {
			Sent     uint64 `json:"sent"`
			Received uint64 `json:"received"`
		} `json:"rtp"`
	} `json:"calls"`
	Admission struct {
		RateLimited uint64 `json:"rate_limited"`
		Forbidden   uint64 `json:"forbidden"`
		NotFound    uint64 `json:"not_found"`
		Overloaded  uint64 `json:"overloaded"`
		Busy        uint64 `json:"busy"`
	} `json:"admission"`
}

var client = &http.Client{Timeout: 2 * time.Second}

func status(api string) phoneStatus {
	var s phoneStatus
	res, err := client.Get("http://" + api + "/api/status")
	if err != nil {
		return s
	}
	defer res.Body.Close()
	json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&s)
	return s
}

func post(api, path, body string) error {
	req, err := http.NewRequest("POST", "http://"+api+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("POST %s: %s %s", path, res.Status, bytes.TrimSpace(b))
	}
	return nil
}

// legitCall has 1002 call 1001 through the PBX, 1001 answer, and waits
// for audio both ways; then hangs up and waits for both to be idle.
func legitCall(ctx context.Context) (bool, error) {
	defer poll(ctx, 5*time.Second, func() bool {
		return status(apiA).Phone.State == "idle" && status(apiB).Phone.State == "idle"
	})
	if err := post(apiB, "/api/call", `{"to":"1001"}`); err != nil {
		return false, err
	}
	// Both hang up: after the far end's BYE a desk phone plays busy until
	// its own hangup.
	defer post(apiA, "/api/hangup", "")
	defer post(apiB, "/api/hangup", "")
	ok := poll(ctx, 10*time.Second, func() bool { return status(apiA).Phone.State == "ringing" })
	if !ok {
		return false, fmt.Errorf("1001 never rang (state %q, caller %q)", status(apiA).Phone.State, status(apiB).Phone.State)
	}
	if err := post(apiA, "/api/answer", ""); err != nil {
		return false, err
	}
	ok = poll(ctx, 10*time.Second, func() bool {
		sa, sb := status(apiA), status(apiB)
		return len(sa.Calls) == 1 && len(sb.Calls) == 1 && sa.Calls[0].State == "talking" && sb.Calls[0].State == "talking" &&
			sa.Calls[0].RTP.Received > 50 && sb.Calls[0].RTP.Received > 50
	})
	if !ok {
		return false, fmt.Errorf("no two-way call: 1001 %+v, 1002 %+v", status(apiA).Calls, status(apiB).Calls)
	}
	return true, nil
}

func poll(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

func waitFor(t *testing.T, ctx context.Context, what string, d time.Duration, cond func() bool) {
	t.Helper()
	if !poll(ctx, d, cond) {
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// recorder samples a process's RSS from /proc/PID/status.
type recorder struct {
	pid int
	t0  time.Time

	mu      sync.Mutex // guards following
	samples []sample
	phase   string
}

type sample struct {
	at    time.Duration
	rss   int64
	phase string
}

func (r *recorder) run(every time.Duration) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	r.mark("baseline")
	go func() {
		defer close(stopped)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if rss, err := readRSS(r.pid); err == nil {
				r.mu.Lock()
				r.samples = append(r.samples, sample{time.Since(r.t0), rss, r.phase})
				r.mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-stopped }) }
}

func (r *recorder) mark(phase string) {
	r.mu.Lock()
	r.phase = phase
	r.mu.Unlock()
}

func (r *recorder) max(phase string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m int64
	for _, s := range r.samples {
		if s.phase == phase && s.rss > m {
			m = s.rss
		}
	}
	return m
}

func (r *recorder) last() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) == 0 {
		return 0
	}
	return r.samples[len(r.samples)-1].rss
}

// curve is the samples thinned to one a second.
func (r *recorder) curve() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	next := time.Duration(0)
	for _, s := range r.samples {
		if s.at >= next {
			fmt.Fprintf(&b, "  %5.1f %6.1f %s\n", s.at.Seconds(), float64(s.rss)/(1<<20), s.phase)
			next = s.at.Truncate(time.Second) + time.Second
		}
	}
	return b.String()
}

func (r *recorder) csv() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	b.WriteString("seconds,rss_bytes,phase\n")
	for _, s := range r.samples {
		fmt.Fprintf(&b, "%.3f,%d,%s\n", s.at.Seconds(), s.rss, s.phase)
	}
	return b.String()
}

// readRSS is VmRSS of pid in bytes.
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
