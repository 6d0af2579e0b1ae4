package natlab

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/deskphone/phone/tools/lab/tier"
)

// The lab's tier name and make target: it runs only when DESKPHONE_TIER
// names the tier (make test-lab sets it; it needs root, network namespaces
// and Debian packages).
const (
	tierName   = "natlab"
	tierTarget = "test-lab"
)

// param is the lab's parameter DESKPHONE_NATLAB_<name>, or "".
func param(name string) string { return tier.Param(tierName, name) }

func needLab(t *testing.T) {
	t.Helper()
	tier.Require(t, tierName, tierTarget)
	if p := os.Getenv("DESKPHONE_NATLAB_PREFIX"); p != "" && p != Prefix {
		// A prefix the lab cannot use would fall back to the default lab's
		// (Check below already makes its probe namespace).
		t.Fatalf("DESKPHONE_NATLAB_PREFIX=%q: a prefix is \"dpl-\" and at most two more characters (e.g. dpl-b-); refusing to run as %q", p, Prefix)
	}
	if err := Check(); err != nil {
		t.Fatalf("%s=%s but the lab cannot run: %v", tier.Env, tierName, err)
	}
}

// env is the shared lab of one TestLab run.
type env struct {
	lab     *Lab
	in      *Internet
	phoned  string
	results *Results
	must    MustPass
	udp     time.Duration // default UDP binding timeout
	n       atomic.Int64  // site counter
	users   atomic.Int64  // account counter
	began   time.Time
	timing  CallTiming // DefaultCallTiming, longest talk from DESKPHONE_NATLAB_TALK
	sinks   sync.Map   // subtest name -> *[]Row of a cell's try
}

func TestLab(t *testing.T) {
	needLab(t)
	root, _ := filepath.Abs(filepath.Join("..", "..", "..")) // the repository
	phoned := param("PHONED")
	if phoned == "" {
		phoned = filepath.Join(root, "bin", "phoned")
	}
	if _, err := os.Stat(phoned); err != nil {
		t.Fatalf("phoned binary: %v (make build)", err)
	}
	dir := param("DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	lock, err := Lock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	l, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if gone, _ := Clean(); len(gone) > 0 {
		t.Logf("removed leftover namespaces: %v", gone)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("lab close: %v", err)
		}
	})
	// An interrupted run (SIGINT, SIGTERM) still stops every process and
	// removes every namespace before it exits.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	sigStop := make(chan struct{})
	sigDone := make(chan struct{})
	go func() {
		defer close(sigDone)
		select {
		case s := <-sig:
			fmt.Fprintf(os.Stderr, "lab: %v: stopping processes, removing namespaces\n", s)
			_ = l.Close()
			os.Exit(2)
		case <-sigStop:
		}
	}()
	t.Cleanup(func() { signal.Stop(sig); close(sigStop); <-sigDone })
	in, err := l.NewInternet()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Kamailio(KamailioPlain, false); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Kamailio(KamailioNAT, true); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Coturn(); err != nil {
		t.Fatal(err)
	}
	pbxBin := param("PBX")
	if pbxBin == "" {
		pbxBin = filepath.Join(root, "bin", "pbx")
	}
	if _, err := in.PBX(pbxBin); err != nil {
		t.Fatal(err)
	}
	mp, err := os.ReadFile("mustpass.txt")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{began: time.Now(), lab: l, in: in, phoned: phoned, results: &Results{}, must: ParseMustPass(string(mp)), udp: 30 * time.Second}
	e.timing = DefaultCallTiming
	if v := param("TALK"); v != "" { // a longer talk period, for development
		if e.timing.MaxTalk, err = time.ParseDuration(v); err != nil {
			t.Fatalf("DESKPHONE_NATLAB_TALK: %v", err)
		}
	}
	t.Cleanup(func() { e.writeTable(t, root) })

	// DESKPHONE_NATLAB_ONLY, a regular expression, picks subtests by name (development).
	only, err := regexp.Compile(param("ONLY"))
	if err != nil {
		t.Fatalf("DESKPHONE_NATLAB_ONLY: %v", err)
	}
	// Every cell builds its own sites, so cells run side by side, as many
	// as -parallel allows (make test-lab: 2); they start once this
	// function has queued them all, and the lab closes after the last.
	run := func(name string, f func(t *testing.T)) {
		if !only.MatchString(name) {
			return
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e.cell(t, f)
		})
	}
	kinds := []NATKind{FullCone, RestrictedCone, PortRestricted, Symmetric, DoubleNAT, ALG}
	for _, k := range kinds {
		run("nat-behaviour/"+string(k), func(t *testing.T) { e.natBehaviour(t, k) })
	}
	for _, k := range kinds {
		for _, reg := range []string{KamailioPlain, KamailioNAT} {
			run(fmt.Sprintf("register/%s/%s", k, kamName(reg)), func(t *testing.T) { e.register(t, k, reg) })
		}
	}
	for _, k := range kinds {
		for _, reg := range []string{KamailioPlain, KamailioNAT} {
			run(fmt.Sprintf("register-baresip/%s/%s", k, kamName(reg)), func(t *testing.T) { e.registerBaresip(t, k, reg) })
		}
	}
	run("alg/detected", func(t *testing.T) { e.algReport(t) })
	run("keepalive/port-restricted-5s-timeout", func(t *testing.T) { e.keepalive(t) })
	run("reboot/registration", func(t *testing.T) { e.rebootRegistration(t) })
	run("reboot/mid-call", func(t *testing.T) { e.rebootCall(t) })
	run("reboot/keep-ports", func(t *testing.T) { e.rebootKeepPorts(t) })
	run("lifetime/port-restricted", func(t *testing.T) { e.lifetime(t) })
	relayFallbackCells(run, e)
	ipv6Cells(run, e)
	pbx17Cells(run, e)      // issue 17: presence, DNS (pbx17_test.go)
	v6turn17Cells(run, e)   // issue 17: dual stack, TURN over IPv6 (v6turn17_test.go)
	dtls16Cells(run, e)     // issue 16: DTLS-SRTP against baresip (dtls16_test.go)
	srtp16bCells(run, e)    // issue 16: each SRTP suite against baresip (srtp16b_test.go)
	privateSDPCells(run, e) // nat14b_test.go
	fw443Cells(run, e)      // issue 14 item 5: TCP 443 only, two phones behind one NAT (fw443_test.go)
	iceCells(run, e)        // ice14_test.go
	// Several calls, transfer and lines against baresip (issue 13).
	for _, reg := range []string{KamailioPlain, KamailioNAT} {
		run("calls/transfer-by-phoned/"+kamName(reg), func(t *testing.T) { e.transferByPhoned(t, reg) })
		run("calls/transfer-of-phoned/"+kamName(reg), func(t *testing.T) { e.transferOfPhoned(t, reg) })
		run("calls/call-waiting/"+kamName(reg), func(t *testing.T) { e.callWaiting(t, reg) })
	}
	run("calls/two-lines", func(t *testing.T) { e.twoLines(t) })
	run("config/live-password", func(t *testing.T) { e.liveConfig(t) }) // live15_test.go
	// SRTP with SDES keys against baresip's srtp module (issue 16).
	for _, reg := range []string{KamailioPlain, KamailioNAT} {
		run("srtp/required/"+kamName(reg), func(t *testing.T) { e.srtpCalls(t, reg, "required", "srtp-mand", true) })
		run("srtp/optional-best-effort/"+kamName(reg), func(t *testing.T) { e.srtpCalls(t, reg, "optional", "srtp", true) })
		run("srtp/optional-vs-plain/"+kamName(reg), func(t *testing.T) { e.srtpCalls(t, reg, "optional", "", false) })
		run("srtp/required-vs-plain/"+kamName(reg), func(t *testing.T) { e.srtpRefused(t, reg) })
		run("g722/"+kamName(reg), func(t *testing.T) { e.widebandCalls(t, reg) })
	}
	opusCells(run, e) // issue 16: opus16_test.go
	for _, k := range []NATKind{PortRestricted, Symmetric} {
		for _, reg := range []string{KamailioPlain, KamailioNAT} {
			run(fmt.Sprintf("early-media/%s/%s", k, kamName(reg)), func(t *testing.T) { e.earlyMedia(t, k, reg) })
		}
	}
	// phoned to phoned: every ordered pair of kinds, and every kind with a
	// public phone both ways, with both registrars.
	for _, reg := range []string{KamailioPlain, KamailioNAT} {
		for _, pair := range callPairs(kinds) {
			run(fmt.Sprintf("call/%s-to-%s/%s", pair[0], pair[1], kamName(reg)), func(t *testing.T) {
				e.call(t, "call phoned-phoned", pair[0], pair[1], reg, phonedSpec, phonedSpec)
			})
		}
	}
	// phoned and baresip: phoned behind every kind with baresip public,
	// both ways, both registrars; and phoned behind the cone and symmetric
	// kinds with baresip (STUN) behind a port-restricted NAT.
	for _, reg := range []string{KamailioPlain, KamailioNAT} {
		for _, k := range kinds {
			run(fmt.Sprintf("call-baresip/%s-to-none/%s", k, kamName(reg)), func(t *testing.T) {
				e.call(t, "call phoned-baresip", k, NoNAT, reg, phonedSpec, baresipSpec(""))
			})
			run(fmt.Sprintf("call-baresip/none-to-%s/%s", k, kamName(reg)), func(t *testing.T) {
				e.call(t, "call phoned-baresip", NoNAT, k, reg, baresipSpec(""), phonedSpec)
			})
		}
	}
	for _, k := range matrixKinds {
		run(fmt.Sprintf("call-baresip/%s-to-port-restricted-stun/%s", k, kamName(KamailioPlain)), func(t *testing.T) {
			e.call(t, "call phoned-baresip", k, PortRestricted, KamailioPlain, phonedSpec, baresipSpec("stun"))
		})
		run(fmt.Sprintf("call-baresip/port-restricted-stun-to-%s/%s", k, kamName(KamailioPlain)), func(t *testing.T) {
			e.call(t, "call phoned-baresip", PortRestricted, k, KamailioPlain, baresipSpec("stun"), phonedSpec)
		})
	}
	// baresip in place of phoned on both NAT sides, in each of its media
	// NAT variants, with both registrars.
	for _, reg := range []string{KamailioPlain, KamailioNAT} {
		for _, mn := range MediaNATs {
			for _, a := range matrixKinds {
				for _, b := range matrixKinds {
					label := strings.ReplaceAll(BaresipLabel(mn), " ", "-")
					run(fmt.Sprintf("call-%s/%s-to-%s/%s", label, a, b, kamName(reg)), func(t *testing.T) {
						e.call(t, "call baresip-baresip", a, b, reg, baresipSpec(mn), baresipSpec(mn))
					})
				}
			}
		}
	}
}

// matrixKinds are the four classic NAT behaviours of the side-by-side
// table (16 ordered combinations).
var matrixKinds = SideBySideKinds

func kamName(addr string) string {
	if addr == KamailioNAT {
		return "kamailio-nathelper"
	}
	return "kamailio-plain"
}

// callPairs is every ordered pair of kinds (the first one calls) and
// every kind with a public phone, both ways.
func callPairs(kinds []NATKind) [][2]NATKind {
	var out [][2]NATKind
	for _, k := range kinds {
		out = append(out, [2]NATKind{k, NoNAT}, [2]NATKind{NoNAT, k})
	}
	for _, a := range kinds {
		for _, b := range kinds {
			out = append(out, [2]NATKind{a, b})
		}
	}
	return out
}

// record adds a result row and fails the test only when the cell is
// listed in mustpass.txt.
func (e *env) record(t *testing.T, row Row, start time.Time) {
	t.Helper()
	row.Seconds = time.Since(start).Seconds()
	if sink, ok := e.sinks.Load(t.Name()); ok {
		*sink.(*[]Row) = append(*sink.(*[]Row), row)
		return
	}
	e.publish(t, row)
}

// publish adds a row to the results and fails the test when it is a
// failing must-pass cell.
func (e *env) publish(t *testing.T, row Row) {
	t.Helper()
	line := e.results.Add(row)
	t.Log(line)
	fmt.Println(line)
	if row.Outcome == Fail && e.must[row.Key()] {
		t.Errorf("must-pass cell failed: %s", row.Key())
	}
}

// cell runs one cell in a subtest "try1" with fresh sites and phones. A
// must-pass cell that fails gets one more try ("try2"), and the second
// result is the one reported, with the first failure in its detail: the
// lab runs on a shared 2-core machine, and one late packet must not fail
// CI, while a regression fails both tries.
func (e *env) cell(t *testing.T, f func(t *testing.T)) {
	var first []Row
	for try := 1; try <= 2; try++ {
		var rows []Row
		t.Run(fmt.Sprintf("try%d", try), func(t *testing.T) {
			e.sinks.Store(t.Name(), &rows)
			defer e.sinks.Delete(t.Name())
			f(t)
		})
		retry := false
		for _, row := range rows {
			retry = retry || (row.Outcome == Fail && e.must[row.Key()])
		}
		if try == 1 && retry {
			first = rows
			for _, row := range rows {
				t.Logf("first try failed, trying again: %s: %s", row.Key(), row.Detail)
			}
			continue
		}
		for _, row := range rows {
			for _, fr := range first {
				if fr.Key() == row.Key() {
					row.Detail += "; first try FAIL: " + fr.Detail
				}
			}
			e.publish(t, row)
		}
		return
	}
}

// user returns a fresh account name: cells run side by side on the same
// registrars, and a shared name would fork calls to another cell's phone.
func (e *env) user() string { return fmt.Sprint(2000 + e.users.Add(1)) }

func (e *env) site(t *testing.T, kind NATKind) *Site {
	t.Helper()
	return e.siteTimeout(t, kind, e.udp)
}

func (e *env) siteTimeout(t *testing.T, kind NATKind, udp time.Duration) *Site {
	t.Helper()
	n := e.n.Add(1)
	s, err := e.in.AddSite(fmt.Sprintf("s%d", n), kind, udp)
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the cleanups that stop the
	// site's phones.
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("site close: %v", err)
		}
	})
	if param("PCAP") == "1" {
		p, err := s.Capture(fmt.Sprintf("%s-%s", shortName(t), s.Name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop)
	}
	return s
}

func (e *env) natYAML() string {
	return fmt.Sprintf("  stun_servers: [\"%s:3478\"]\n  turn: {server: \"%s:3478\", username: %s, password: %s}\n",
		STUN1, STUN1, TURNUser, TURNPassword)
}

func (e *env) startPhoned(t *testing.T, s *Site, name, user, reg string, hz int) *Phoned {
	t.Helper()
	return e.startPhonedNAT(t, s, name, user, reg, hz, e.natYAML())
}

func (e *env) startPhonedNAT(t *testing.T, s *Site, name, user, reg string, hz int, nat string) *Phoned {
	t.Helper()
	p, err := s.StartPhoned(name, PhonedOptions{Binary: e.phoned, User: user, Registrar: reg, ToneHz: hz, NAT: nat})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Proc.Stop)
	return p
}

func (e *env) register(t *testing.T, kind NATKind, reg string) {
	start := time.Now()
	s := e.site(t, kind)
	p := e.startPhoned(t, s, shortName(t), e.user(), reg, 700)
	st, ok := p.WaitFor(context.Background(), 10*time.Second, Registered)
	row := Row{Section: "registration", Scenario: fmt.Sprintf("%s / %s", kind, kamName(reg)), Phone: "phoned"}
	switch {
	case st == nil:
		row.Outcome, row.Detail = Fail, "no status"
	case ok:
		row.Outcome = Pass
		if s2, _ := p.WaitFor(context.Background(), 8*time.Second, ReportSettled); s2 != nil {
			st = s2
		}
		row.Detail = fmt.Sprintf("contact %s, received %s; %s", st.Registration.Contact, st.Registration.Received, st.NAT)
	default:
		row.Outcome = Fail
		row.Detail = fmt.Sprintf("state %s %d %s after 10 s", st.Registration.State, st.Registration.Code, st.Registration.Reason)
	}
	e.record(t, row, start)
}

// endpointSpec says which phone to start on one side of a call.
type endpointSpec struct {
	baresip  bool
	medianat string
}

var phonedSpec = endpointSpec{}

func baresipSpec(medianat string) endpointSpec {
	return endpointSpec{baresip: true, medianat: medianat}
}

func (sp endpointSpec) label() string {
	if sp.baresip {
		return BaresipLabel(sp.medianat)
	}
	return "phoned"
}

// start starts the phone of spec in site s.
func (e *env) start(t *testing.T, s *Site, sp endpointSpec, name, user, reg string, hz int) Endpoint {
	t.Helper()
	if !sp.baresip {
		return &PhonedEndpoint{P: e.startPhoned(t, s, name, user, reg, hz), Hz: float64(hz)}
	}
	b, err := s.StartBaresip(name, BaresipOptions{User: user, Registrar: reg, MediaNAT: sp.medianat, ToneHz: hz})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return &BaresipEndpoint{B: b, Hz: float64(hz), MediaNAT: sp.medianat}
}

// call runs one call from a phone of spec ca behind a NAT of kind a to
// one of spec cb behind kind b, both registered at reg, and checks audio
// both ways by content: the caller sends 700 Hz, the callee 1300 Hz, and
// each recording must hold the other's tone for 1.5 of the 3 s of talk.
func (e *env) call(t *testing.T, section string, a, b NATKind, reg string, ca, cb endpointSpec) {
	start := time.Now()
	name := shortName(t)
	scenario := fmt.Sprintf("%s -> %s / %s", a, b, kamName(reg))
	phone := ca.label()
	if ca != cb {
		scenario = fmt.Sprintf("%s (%s) -> %s (%s) / %s", ca.label(), a, cb.label(), b, kamName(reg))
		phone = "phoned+baresip"
	}
	row := Row{Section: section, Scenario: scenario, Phone: phone}
	sa, sb := e.site(t, a), e.site(t, b)
	pa := e.start(t, sa, ca, name+"-a", e.user(), reg, 700)
	pb := e.start(t, sb, cb, name+"-b", e.user(), reg, 1300)
	res := Call(pa, pb, reg, e.timing)
	row.Outcome, row.Detail, row.FirstAudio = Fail, res.Detail, res.FirstAudio
	if res.OK {
		row.Outcome = Pass
	}
	e.record(t, row, start)
}

func (e *env) writeTable(t *testing.T, root string) {
	out := param("MATRIX")
	if out == "" {
		return
	}
	var b strings.Builder
	e.results.WriteMarkdown(&b, time.Since(e.began))
	if err := writeMatrix(filepath.Join(root, out), b.String()); err != nil {
		t.Errorf("write %s: %v", out, err)
	}
}

// registerBaresip is the registration row for baresip (medianat=stun, as
// Debian ships its modules) behind a NAT of the given kind.
func (e *env) registerBaresip(t *testing.T, kind NATKind, reg string) {
	start := time.Now()
	s := e.site(t, kind)
	b, err := s.StartBaresip(shortName(t), BaresipOptions{User: e.user(), Registrar: reg, MediaNAT: "stun", ToneHz: 700})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ok, detail := b.WaitRegistered(10 * time.Second)
	row := Row{Section: "registration", Scenario: fmt.Sprintf("%s / %s", kind, kamName(reg)), Phone: "baresip", Outcome: Fail, Detail: detail}
	if ok {
		row.Outcome = Pass
	}
	e.record(t, row, start)
}
