package lean

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/daemon"
	"github.com/deskphone/phone/tools/lab/tier"
)

// params are the tier's knobs (DESKPHONE_LEAN_*), bounded so one run of
// the tier stays within a few minutes.
type params struct {
	runs    int           // interleaved runs (each: one idle window and one call per phone)
	calls   int           // simultaneous calls per phone in a run (the earlier ones held)
	call    time.Duration // call length
	idle    time.Duration // idle window for the context switch count
	quiet   time.Duration // after the runs, every phone idle at once this long (0: no such window)
	expires time.Duration // registration expiry of every phone
	service string        // the PBX service called: tone or echo
	env     []string      // KEY=VALUE added to phoned's environment (GOMAXPROCS, GOGC, ...)
	bin     string        // directory with phoned and pbx; empty builds them
	base    string        // directory with a baseline phoned to run alongside; empty runs none
	baresip string        // the baresip program (another build, or a wrapper that runs one under QEMU)
	out     string        // markdown report; empty writes none
}

func loadParams(t *testing.T) params {
	p := params{runs: 3, calls: 1, call: 20 * time.Second, idle: 12 * time.Second, expires: 300 * time.Second, service: "tone",
		bin: tier.Param("lean", "bin"), base: tier.Param("lean", "base"), out: tier.Param("lean", "out"),
		baresip: tier.Param("lean", "baresip")}
	if p.baresip == "" {
		p.baresip = "baresip"
	}
	if v := tier.Param("lean", "runs"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 8 {
			t.Fatalf("DESKPHONE_LEAN_RUNS=%q: want 1..8", v)
		}
		p.runs = n
	}
	if v := tier.Param("lean", "ports"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 20000 || n%1000 != 0 {
			t.Fatalf("DESKPHONE_LEAN_PORTS=%q: want an offset 0..20000 in thousands", v)
		}
		setPorts(uint16(n))
	}
	if v := tier.Param("lean", "calls"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxCalls {
			t.Fatalf("DESKPHONE_LEAN_CALLS=%q: want 1..%d", v, maxCalls)
		}
		p.calls = n
	}
	// Durations, bounded; the registration expiry in whole seconds (the
	// phones' configs take seconds).
	for _, d := range []struct {
		name   string
		v      *time.Duration
		lo, hi time.Duration
		unit   time.Duration
	}{
		{"call", &p.call, time.Second, time.Minute, 1},
		{"idle", &p.idle, time.Second, time.Minute, 1},
		{"quiet", &p.quiet, 0, 20 * time.Minute, 1},
		{"expires", &p.expires, time.Minute, time.Hour, time.Second},
	} {
		if v := tier.Param("lean", d.name); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil || x < d.lo || x > d.hi || x%d.unit != 0 {
				step := ""
				if d.unit > 1 {
					step = fmt.Sprintf(", in steps of %v", d.unit)
				}
				t.Fatalf("%s=%q: want %v..%v%s", tier.ParamName("lean", d.name), v, d.lo, d.hi, step)
			}
			*d.v = x
		}
	}
	for _, kv := range strings.Fields(tier.Param("lean", "env")) {
		if k, _, ok := strings.Cut(kv, "="); !ok || !strings.HasPrefix(k, "GO") {
			t.Fatalf("DESKPHONE_LEAN_ENV: %q is not a GO...=value setting", kv)
		}
		p.env = append(p.env, kv)
	}
	if v := tier.Param("lean", "service"); v != "" {
		if v != "tone" && v != "echo" {
			t.Fatalf("DESKPHONE_LEAN_SERVICE=%q: want tone or echo", v)
		}
		p.service = v
	}
	return p
}

// sample is one phone's figures in one run.
type sample struct {
	cpu       time.Duration // utime+stime over the call, setup to teardown
	packets   int           // RTP packets the phone sent and received in the call (from the capture)
	idleSw    float64       // context switches per idle minute
	idleMaj   float64       // major page faults per idle minute
	callMaj   int64         // major page faults over the call, setup to teardown
	callSw    float64       // context switches per second in the established call
	idleMem   memory        // before the call
	callMem   memory        // the largest VmRSS seen in the call (with its RssAnon, Pss)
	afterMem  memory        // idle again after the call
	firstRTP  time.Duration // 200 OK reaching the phone -> its first RTP packet; <0 unknown
	callSetup time.Duration // dial -> established, as the driver saw it
}

// TestLeanSideBySide runs the side-by-side comparison of issue 19 and
// reports it. It fails only when a phone cannot register or call.
func TestLeanSideBySide(t *testing.T) {
	tier.Require(t, "lean", "bench-lean")
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc and captures on lo")
	}
	p := loadParams(t)
	if _, err := exec.LookPath(p.baresip); err != nil {
		t.Fatalf("%s not found: `make bench-lean` installs baresip", p.baresip)
	}
	budget := time.Duration(p.runs)*3*(p.call+p.idle+time.Duration(p.calls)*10*time.Second) + daemon.PageOutAfter + time.Minute + callTail + p.quiet
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	dir := t.TempDir()
	bin := p.bin
	if bin == "" {
		bin = dir
		build := exec.CommandContext(ctx, "go", "build", "-tags", "sysmonsleep", "-ldflags", "-checklinkname=0", "-o", dir+"/",
			"github.com/deskphone/phone/firmware/cmd/phoned", "github.com/deskphone/phone/tools/cmd/pbx")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}
	// As a device's: the phoned binaries clean on storage and out of the
	// page cache (bootBinary), for both phoned and the baseline.
	bootBinary(t, filepath.Join(bin, "phoned"))
	if p.base != "" {
		bootBinary(t, filepath.Join(p.base, "phoned"))
	}
	cp, err := startCapture()
	if err != nil {
		t.Logf("no capture, so no first-RTP figure: %v", err)
	} else {
		defer cp.close()
	}

	startProc(t, ctx, dir, nil, "pbx", filepath.Join(bin, "pbx"), "-listen", fmt.Sprintf("127.0.0.1:%d", pbxPort),
		"-realm", "lean", "-user", "2001:pw2001", "-user", "2002:pw2002", "-user", "2003:pw2003", "-log-level", "warn")
	time.Sleep(300 * time.Millisecond) // the PBX binds; bounded, and the phones retry anyway
	started := time.Now()
	phones := []phone{startPhoned(t, ctx, dir, bin, "phoned", "2001", 0, p.env, p.expires), startBaresip(t, ctx, dir, p.baresip, p.expires)}
	if p.base != "" {
		phones = append(phones, startPhoned(t, ctx, dir, p.base, "baseline", "2003", baseOffset, p.env, p.expires))
	}

	// One short warm-up call each: a phone's normal is idle after calls.
	for _, ph := range phones {
		if err := ph.call(ctx, p.service); err != nil {
			t.Fatalf("warm-up: %v", err)
		}
		time.Sleep(2 * time.Second)
		if err := ph.hangup(ctx); err != nil {
			t.Fatalf("warm-up: %v", err)
		}
	}

	// The windows count a phone that has settled, not its start-up:
	// phoned drops its start-up pages once, daemon.PageOutAfter after
	// it starts, and the pages it then uses again fault back in (about
	// 60 switches in one second, once per boot).
	time.Sleep(time.Until(started.Add(daemon.PageOutAfter + settle)))

	res := map[string][]sample{}
	lastCall := map[string]time.Time{} // when each phone's last call ended
	for run := range p.runs {
		// Each phone takes each place in the order equally often
		// (rotated, run after run): the phone first in a run has its
		// window soonest after its own last call (settle), the others
		// a call or two later.
		order := append(slices.Clone(phones[run%len(phones):]), phones[:run%len(phones)]...)
		for _, ph := range order {
			// The idle window counts an idle phone, not the end of its
			// last call (the phone first in a run ended its call just
			// before): phoned's after-call collection and the port
			// manager's return of the media pair run in the 1.5 s after
			// a hangup.
			time.Sleep(time.Until(lastCall[ph.name()].Add(settle)))
			s, err := measure(ctx, ph, cp, p)
			lastCall[ph.name()] = time.Now()
			if err != nil {
				t.Fatalf("run %d, %s: %v", run+1, ph.name(), err)
			}
			t.Logf("run %d %-8s cpu %v, %d packets, %.0f sw/s in call, idle %.0f sw/min %.0f majflt/min, majflt in call %d, RSS idle %d/in call %d/after %d kB (anon %d/%d/%d), first RTP %v, setup %v",
				run+1, ph.name(), s.cpu, s.packets, s.callSw, s.idleSw, s.idleMaj, s.callMaj, s.idleMem.rss, s.callMem.rss, s.afterMem.rss,
				s.idleMem.anon, s.callMem.anon, s.afterMem.anon, s.firstRTP, s.callSetup)
			res[ph.name()] = append(res[ph.name()], s)
		}
	}
	var qs, tail map[string]quietSample
	if p.quiet > 0 {
		var last time.Time
		for _, at := range lastCall {
			if at.After(last) {
				last = at
			}
		}
		// The call's tail first (its transactions' timers, the runtime
		// settling after the hangup), counted apart, then the idle phone.
		time.Sleep(time.Until(last.Add(settle)))
		if tail, err = quietWindow(ctx, phones, cp, callTail); err != nil {
			t.Fatalf("call tail: %v", err)
		}
		if qs, err = quietWindow(ctx, phones, cp, p.quiet); err != nil {
			t.Fatalf("quiet window: %v", err)
		}
		for _, ph := range phones {
			q, tq := qs[ph.name()], tail[ph.name()]
			t.Logf("quiet %-8s %d switches in %v (%.1f a minute; sysmon %d), %d REGISTERs; before it, the call's tail: %d switches (sysmon %d)",
				ph.name(), q.switches, p.quiet, q.perMinute(p.quiet), q.sysmon, q.registers, tq.switches, tq.sysmon)
		}
	}
	rep := report(p, res, qs, tail)
	t.Logf("\n%s", rep)
	if p.out != "" {
		if err := os.WriteFile(p.out, []byte(rep), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// quietSample is one phone's count over the quiet window.
type quietSample struct {
	switches  int64 // context switches, every thread, voluntary and not
	sysmon    int64 // of them, the Go runtime's monitor thread's (-1: not a Go phone, or not found)
	registers int   // REGISTER requests the phone sent (refreshes and their challenged retries)
}

func (q quietSample) perMinute(d time.Duration) float64 {
	return float64(q.switches) * float64(time.Minute) / float64(d)
}

// quietWindow leaves every phone idle at once for d and counts each
// one's context switches and REGISTERs: long enough to hold each phone's
// registration refreshes and whatever else wakes it less often than the
// short windows see (issue 19's wake-ups per idle minute, the honest
// way: the short windows seldom hold a refresh).
func quietWindow(ctx context.Context, phones []phone, cp *capture, d time.Duration) (map[string]quietSample, error) {
	// Go's floor, apart from what the phone's own code wakes for: each
	// Go phone's sysmon thread, found before the window opens.
	sysmon := map[string]int{}
	for _, ph := range phones {
		if _, isGo := ph.(*phoned); isGo {
			sysmon[ph.name()] = findSysmon(ph.pid())
		}
	}
	th0 := map[string]map[int]int64{}
	for _, ph := range phones {
		th, err := threadSwitches(ph.pid())
		if err != nil {
			return nil, err
		}
		th0[ph.name()] = th
	}
	if cp != nil {
		cp.reset()
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := map[string]quietSample{}
	var evs []udpEvent
	if cp != nil {
		evs = cp.snapshot()
	}
	for _, ph := range phones {
		th, err := threadSwitches(ph.pid())
		if err != nil {
			return nil, err
		}
		q := quietSample{switches: sum(th) - sum(th0[ph.name()]), sysmon: -1, registers: registers(evs, ph.sipPort())}
		if tid := sysmon[ph.name()]; tid != 0 {
			q.sysmon = th[tid] - th0[ph.name()][tid]
		}
		out[ph.name()] = q
	}
	return out, nil
}

// registers counts the REGISTER requests sent from port to the PBX:
// each datagram once (loopback shows it twice; its first 400 bytes hold
// the Via branch and CSeq, which differ from request to request).
func registers(evs []udpEvent, port uint16) int {
	seen := map[string]bool{}
	for _, e := range evs {
		if e.src == port && e.dst == pbxPort && bytes.HasPrefix(e.head, []byte("REGISTER ")) {
			seen[string(e.head)] = true
		}
	}
	return len(seen)
}

// settle is the least time from a phone's last call to its idle window.
const settle = 5 * time.Second

// callTail is how long after settle the quiet window waits, counting the
// last call's tail apart: the call's SIP transactions end within 64*T1
// (32 s) of the hangup, and a Go phone's sysmon, its back-off reset by
// the hangup's work, spends its next fast looks in that time.
const callTail = 55 * time.Second

// measure takes one phone through an idle window and one call.
func measure(ctx context.Context, ph phone, cp *capture, p params) (sample, error) {
	var s sample
	pid := ph.pid()
	var err error
	if s.idleMem, err = readMemory(pid); err != nil {
		return s, err
	}
	sw0, err := ctxSwitches(pid)
	if err != nil {
		return s, err
	}
	maj0, err := majorFaults(pid)
	if err != nil {
		return s, err
	}
	time.Sleep(p.idle) // the measurement itself: nothing touches the phones
	sw1, err := ctxSwitches(pid)
	if err != nil {
		return s, err
	}
	maj1, err := majorFaults(pid)
	if err != nil {
		return s, err
	}
	s.idleSw = float64(sw1-sw0) * float64(time.Minute) / float64(p.idle)
	s.idleMaj = float64(maj1-maj0) * float64(time.Minute) / float64(p.idle)

	if cp != nil {
		cp.reset()
	}
	cpu0, err := cpuTime(pid)
	if err != nil {
		return s, err
	}
	t0 := time.Now()
	for range p.calls {
		if err := ph.call(ctx, p.service); err != nil {
			return s, err
		}
	}
	s.callSetup = time.Since(t0)
	// Context switches are counted per thread, and a thread's count goes
	// with it: the window runs while the call's threads (baresip's audio
	// source) live, from just after the call is up to just before the
	// hangup.
	csw0, err := ctxSwitches(pid)
	if err != nil {
		return s, err
	}
	tsw := time.Now()
	end := time.Now().Add(p.call - s.callSetup)
	for time.Now().Before(end) {
		if m, err := readMemory(pid); err == nil && m.rss > s.callMem.rss {
			s.callMem = m
		}
		time.Sleep(min(500*time.Millisecond, time.Until(end)))
	}
	if csw1, err := ctxSwitches(pid); err == nil {
		s.callSw = float64(csw1-csw0) / time.Since(tsw).Seconds()
	}
	if err := ph.hangup(ctx); err != nil {
		return s, err
	}
	time.Sleep(500 * time.Millisecond) // let the teardown's work land in the count
	cpu1, err := cpuTime(pid)
	if err != nil {
		return s, err
	}
	s.cpu = cpu1 - cpu0
	if maj2, err := majorFaults(pid); err == nil {
		s.callMaj = maj2 - maj1
	}
	s.afterMem, _ = readMemory(pid)
	s.firstRTP = -1
	if cp != nil {
		s.firstRTP, s.packets = firstRTP(cp.snapshot(), ph)
	}
	return s, nil
}

// firstRTP finds the 2xx to the phone's INVITE and the phone's first
// audio RTP packet after it; it also counts the RTP packets the phone
// sent and received (each seen once).
func firstRTP(evs []udpEvent, ph phone) (time.Duration, int) {
	lo, hi := ph.mediaPorts()
	inRange := func(port uint16) bool { return port >= lo && port <= hi }
	var ok time.Time
	var first time.Time
	seen := map[string]bool{}
	packets := 0
	for _, e := range evs {
		if e.dst == ph.sipPort() && e.src == pbxPort && bytes.HasPrefix(e.head, []byte("SIP/2.0 200")) &&
			bytes.Contains(bytes.ToUpper(e.head), []byte(" INVITE\r\n")) && ok.IsZero() {
			ok = e.at
		}
		if len(e.head) < 12 || e.head[0]>>6 != 2 {
			continue
		}
		if pt := e.head[1] & 0x7F; pt >= 64 && pt <= 95 {
			continue // RTCP
		}
		if !inRange(e.src) && !inRange(e.dst) {
			continue
		}
		// Loopback shows each datagram twice: count it once.
		key := fmt.Sprintf("%d>%d:%x", e.src, e.dst, e.head[2:12])
		if seen[key] {
			continue
		}
		seen[key] = true
		packets++
		if inRange(e.src) && !ok.IsZero() && first.IsZero() && e.head[1]&0x7F == 0 {
			first = e.at
		}
	}
	if ok.IsZero() || first.IsZero() {
		return -1, packets
	}
	return first.Sub(ok), packets
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func pick[T any](ss []sample, f func(sample) T) []T {
	out := make([]T, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

// report is the markdown table: medians and ranges, phoned against
// baresip, and against the baseline phoned when one ran.
func report(p params, res map[string][]sample, qs, tail map[string]quietSample) string {
	var b strings.Builder
	env := "none"
	if len(p.env) > 0 {
		env = strings.Join(p.env, " ")
	}
	fmt.Fprintf(&b, "%d interleaved runs (the order rotated run after run), %s calls to the PBX's %s service, %s idle windows (starting at least %s after the phone's last call and after phoned's start-up page-out), PCMU 20 ms, loopback, registrations of %v; phoned's extra environment: %s; %d CPUs\n\n",
		p.runs, p.call, p.service, p.idle, settle, p.expires, env, runtime.NumCPU())
	per := "call"
	if p.calls > 1 {
		per = fmt.Sprintf("%d calls", p.calls)
		fmt.Fprintf(&b, "Each phone holds %d calls at once: it places them one after another, each new call holding the one before (phoned does so itself; baresip is told `hold` before each `dial`), so in the window one call talks and %d are held; \"per %s\" is the whole window, set-up to teardown.\n\n",
			p.calls, p.calls-1, per)
	}
	cols := []string{"phoned", "baresip"}
	_, withBase := res["baseline"]
	if withBase {
		cols = []string{"baseline", "phoned", "baresip"}
	}
	b.WriteString("| figure (median, range) |")
	for _, c := range cols {
		fmt.Fprintf(&b, " %s |", c)
	}
	b.WriteString(" phoned / baresip |")
	if withBase {
		b.WriteString(" phoned / baseline |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(cols)+1))
	if withBase {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	ratio := func(a, c float64) string {
		switch {
		case c == 0 && a > 0:
			return "∞"
		case c > 0:
			return fmt.Sprintf("%.2f×", a/c)
		}
		return "–"
	}
	row := func(name string, f func(sample) float64, unit string, prec int) {
		fmt.Fprintf(&b, "| %s |", name)
		med := map[string]float64{}
		for _, c := range cols {
			xs := pick(res[c], f)
			med[c] = median(xs)
			fmt.Fprintf(&b, " %.*f %s (%.*f–%.*f) |", prec, median(xs), unit, prec, slices.Min(xs), prec, slices.Max(xs))
		}
		fmt.Fprintf(&b, " %s |", ratio(med["phoned"], med["baresip"]))
		if withBase {
			fmt.Fprintf(&b, " %s |", ratio(med["phoned"], med["baseline"]))
		}
		b.WriteString("\n")
	}
	row("CPU per "+per+" (utime+stime)", func(s sample) float64 { return s.cpu.Seconds() }, "s", 2)
	counted := true
	for _, c := range cols {
		for _, x := range res[c] {
			counted = counted && x.packets > 0
		}
	}
	if counted {
		row("RTP packets per "+per+" (sent+received, as captured)", func(s sample) float64 { return float64(s.packets) }, "", 0)
		row("CPU per RTP packet (sent+received, as captured)", func(s sample) float64 {
			return float64(s.cpu.Microseconds()) / float64(s.packets)
		}, "µs", 0)
	}
	row("context switches per second in a call", func(s sample) float64 { return s.callSw }, "", 0)
	row("context switches per idle minute", func(s sample) float64 { return s.idleSw }, "", 0)
	row("major page faults per idle minute", func(s sample) float64 { return s.idleMaj }, "", 0)
	row("major page faults per "+per, func(s sample) float64 { return float64(s.callMaj) }, "", 0)
	row("VmRSS idle", func(s sample) float64 { return float64(s.idleMem.rss) / 1024 }, "MB", 1)
	row("VmRSS in call (max)", func(s sample) float64 { return float64(s.callMem.rss) / 1024 }, "MB", 1)
	row("RssAnon in call", func(s sample) float64 { return float64(s.callMem.anon) / 1024 }, "MB", 2)
	row("Pss in call", func(s sample) float64 { return float64(s.callMem.pss) / 1024 }, "MB", 1)
	captured := true
	for _, c := range cols {
		for _, x := range res[c] {
			captured = captured && x.firstRTP >= 0
		}
	}
	if captured { // not without root (no capture), nor when a 2xx or RTP went unseen
		row("200 OK → first RTP", func(s sample) float64 { return float64(s.firstRTP.Microseconds()) / 1000 }, "ms", 1)
	} else {
		b.WriteString("| 200 OK → first RTP | not captured (needs root) or not seen in every run | | | |\n")
	}
	b.WriteString("\nRssAnon after each call (growth call to call), kB:\n\n")
	for _, name := range cols {
		fmt.Fprintf(&b, "- %s: %v\n", name, pick(res[name], func(s sample) int64 { return s.afterMem.anon }))
	}
	if len(qs) > 0 {
		// The short windows above seldom hold a registration refresh;
		// this one holds every phone's, all idle at once.
		fmt.Fprintf(&b, "\nEvery phone idle at once for %v after the runs, from %v after the last call (registrations of %v; each REGISTER counted, challenged retries too); the call's tail, from %v to %v after it, counted apart:\n\n",
			p.quiet, settle+callTail, p.expires, settle, settle+callTail)
		b.WriteString("| quiet window |")
		for _, c := range cols {
			fmt.Fprintf(&b, " %s |", c)
		}
		b.WriteString(" phoned / baresip |\n|---|" + strings.Repeat("---|", len(cols)+1) + "\n")
		// qrow writes a row: each phone's figure (– where it has none)
		// and, with withRatio, phoned's against baresip's.
		qrow := func(label, format string, withRatio bool, f func(q quietSample) (float64, bool), m map[string]quietSample) {
			fmt.Fprintf(&b, "| %s |", label)
			for _, c := range cols {
				if v, ok := f(m[c]); ok {
					fmt.Fprintf(&b, " "+format+" |", v)
				} else {
					b.WriteString(" – |")
				}
			}
			if withRatio {
				ph, _ := f(m["phoned"])
				bs, _ := f(m["baresip"])
				fmt.Fprintf(&b, " %s |\n", ratio(ph, bs))
			} else {
				b.WriteString(" |\n")
			}
		}
		count := func(q quietSample) (float64, bool) { return float64(q.switches), true }
		sysmon := func(q quietSample) (float64, bool) { return float64(q.sysmon), q.sysmon >= 0 }
		perMin := func(n int64) float64 { return quietSample{switches: n}.perMinute(p.quiet) }
		qrow("the call's tail: context switches", "%.0f", true, count, tail)
		qrow("the call's tail: of them, Go's sysmon thread", "%.0f", false, sysmon, tail)
		qrow("quiet window: context switches per minute", "%.1f", true, func(q quietSample) (float64, bool) { return perMin(q.switches), true }, qs)
		qrow("of them, Go's sysmon thread", "%.1f", false, func(q quietSample) (float64, bool) { return perMin(q.sysmon), q.sysmon >= 0 }, qs)
		qrow("without sysmon", "%.1f", true, func(q quietSample) (float64, bool) { return perMin(q.switches - max(q.sysmon, 0)), true }, qs)
		qrow("REGISTERs sent", "%.0f", false, func(q quietSample) (float64, bool) { return float64(q.registers), true }, qs)
	}
	return b.String()
}
