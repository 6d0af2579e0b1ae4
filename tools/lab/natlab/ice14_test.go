package natlab

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// iceCells are issue 14's ICE item against a real far end: phoned with
// nat.ice on (and the lab's TURN relay, offered as a relayed candidate)
// and baresip with its ice module (medianat=ice: host and STUN
// candidates, no TURN), both ways, for every pair of the NAT matrix
// (phoned behind one kind, baresip behind another). Phoned
// port-restricted against baresip symmetric needs phoned's relayed
// candidate. Media
// starts on the c= addresses at once; phoned's agent checks baresip's
// candidates from its media socket and moves the media to the selected
// pair. A cell passes with audio both ways and a pair selected by
// phoned's agent; the detail says which pair and when. The control
// (ice-off/) is the port-restricted pair with phoned's nat.ice off:
// today's phoned against baresip's ICE.
func iceCells(run func(string, func(*testing.T)), e *env) {
	var pairs [][2]NATKind
	for _, pk := range matrixKinds {
		for _, bk := range matrixKinds {
			pairs = append(pairs, [2]NATKind{pk, bk})
		}
	}
	for _, p := range pairs {
		run(fmt.Sprintf("ice/phoned-%s-to-baresip-ice-%s/%s", p[0], p[1], kamName(KamailioNAT)), func(t *testing.T) {
			e.iceCall(t, p[0], p[1], true, true)
		})
		run(fmt.Sprintf("ice/baresip-ice-%s-to-phoned-%s/%s", p[1], p[0], kamName(KamailioNAT)), func(t *testing.T) {
			e.iceCall(t, p[0], p[1], false, true)
		})
	}
	run(fmt.Sprintf("ice-off/phoned-%s-to-baresip-ice-%s/%s", PortRestricted, PortRestricted, kamName(KamailioNAT)), func(t *testing.T) {
		e.iceCall(t, PortRestricted, PortRestricted, true, false)
	})
	run(fmt.Sprintf("ice-off/baresip-ice-%s-to-phoned-%s/%s", PortRestricted, PortRestricted, kamName(KamailioNAT)), func(t *testing.T) {
		e.iceCall(t, PortRestricted, PortRestricted, false, false)
	})
}

// iceMaxTalk is how long after the answer an ICE cell's call may run
// before its audio is judged.
const iceMaxTalk = 20 * time.Second

var (
	iceSelectedRE = regexp.MustCompile(`ice: pair selected.*?raddr=(\S+).*?relayed=(\S+).*?after=(\S+)`)
	iceStartedRE  = regexp.MustCompile(`ice: checks started.*?candidates=(\d+).*?controlling=(\S+)`)
)

// iceCall has phoned (behind pk, nat.ice as ice says) call baresip-ice
// (behind bk), or the reverse when phonedCalls is false.
func (e *env) iceCall(t *testing.T, pk, bk NATKind, phonedCalls, ice bool) {
	start := time.Now()
	name := shortName(t)
	reg := KamailioNAT
	sp, sb := e.site(t, pk), e.site(t, bk)
	nat := e.natYAML()
	if ice {
		nat += "  ice: true\n"
	} else if os.Getenv(ForceICEEnv) == "1" {
		nat += "  ice: false\n" // the ice-off control stays off
	}
	ph := &PhonedEndpoint{P: e.startPhonedNAT(t, sp, name+"-p", e.user(), reg, 700, nat), Hz: 700}
	bs := e.start(t, sb, baresipSpec("ice"), name+"-b", e.user(), reg, 1300)
	row := Row{Section: "ice", Phone: "phoned+baresip"}
	label := "phoned ice"
	if !ice {
		label = "phoned ice off"
	}
	// baresip reaches a relayed candidate last, seconds after the answer
	// (9.4 to 9.5 s to first audio where only phoned's relay serves):
	// the call may run longer before it is judged. Cells that get audio
	// sooner end 3 s after it as before.
	tm := e.timing
	if ice {
		tm.MaxTalk = max(tm.MaxTalk, iceMaxTalk)
	}
	var res CallResult
	if phonedCalls {
		row.Scenario = fmt.Sprintf("%s (%s) -> baresip ice (%s) / %s", label, pk, bk, kamName(reg))
		res = Call(ph, bs, reg, tm)
	} else {
		row.Scenario = fmt.Sprintf("baresip ice (%s) -> %s (%s) / %s", bk, label, pk, kamName(reg))
		res = Call(bs, ph, reg, tm)
	}
	log, _ := os.ReadFile(ph.P.Proc.Log)
	started := iceStartedRE.FindSubmatch(log)
	sel := iceSelectedRE.FindSubmatch(log)
	row.Outcome, row.FirstAudio = Fail, res.FirstAudio
	var detail string
	switch {
	case !ice:
		detail = "phoned's nat.ice off"
	case started == nil:
		detail = "phoned did not start ICE (no ICE in baresip's description?)"
	case sel == nil:
		detail = fmt.Sprintf("phoned checked %s candidates (controlling %s), selected none", started[1], started[2])
	default:
		via := ""
		if string(sel[2]) == "true" {
			via = " through its relay"
		}
		detail = fmt.Sprintf("phoned checked %s candidates (controlling %s), selected %s%s after %s", started[1], started[2], sel[1], via, sel[3])
	}
	if strings.Contains(string(log), "media liveness: call moved to the relay") {
		detail += "; liveness moved the call to the relay"
	}
	row.Detail = detail + "; " + res.Detail
	if res.OK && (sel != nil || !ice) {
		row.Outcome = Pass
	}
	e.record(t, row, start)
}
