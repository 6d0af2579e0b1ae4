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
// nat.ice on and baresip with its ice module (medianat=ice: host and
// STUN candidates, no TURN), both ways, for a few NAT pairs. Media
// starts on the c= addresses at once; phoned's agent checks baresip's
// candidates from its media socket and moves the media to the selected
// pair. A cell passes with audio both ways and a pair selected by
// phoned's agent; the detail says which pair and when.
func iceCells(run func(string, func(*testing.T)), e *env) {
	for _, p := range [][2]NATKind{{PortRestricted, PortRestricted}, {FullCone, Symmetric}, {Symmetric, PortRestricted}} {
		run(fmt.Sprintf("ice/phoned-%s-to-baresip-ice-%s/%s", p[0], p[1], kamName(KamailioNAT)), func(t *testing.T) {
			e.iceCall(t, p[0], p[1], true)
		})
		run(fmt.Sprintf("ice/baresip-ice-%s-to-phoned-%s/%s", p[1], p[0], kamName(KamailioNAT)), func(t *testing.T) {
			e.iceCall(t, p[0], p[1], false)
		})
	}
}

var (
	iceSelectedRE = regexp.MustCompile(`ice: pair selected.*?raddr=(\S+).*?after=(\S+)`)
	iceStartedRE  = regexp.MustCompile(`ice: checks started.*?candidates=(\d+).*?controlling=(\S+)`)
)

// iceCall has phoned (behind pk, nat.ice on) call baresip-ice (behind
// bk), or the reverse when phonedCalls is false.
func (e *env) iceCall(t *testing.T, pk, bk NATKind, phonedCalls bool) {
	start := time.Now()
	name := shortName(t)
	reg := KamailioNAT
	sp, sb := e.site(t, pk), e.site(t, bk)
	ph := &PhonedEndpoint{P: e.startPhonedNAT(t, sp, name+"-p", e.user(), reg, 700, e.natYAML()+"  ice: true\n"), Hz: 700}
	bs := e.start(t, sb, baresipSpec("ice"), name+"-b", e.user(), reg, 1300)
	row := Row{Section: "ice", Phone: "phoned+baresip"}
	var res CallResult
	if phonedCalls {
		row.Scenario = fmt.Sprintf("phoned ice (%s) -> baresip ice (%s) / %s", pk, bk, kamName(reg))
		res = Call(ph, bs, reg, e.timing)
	} else {
		row.Scenario = fmt.Sprintf("baresip ice (%s) -> phoned ice (%s) / %s", bk, pk, kamName(reg))
		res = Call(bs, ph, reg, e.timing)
	}
	log, _ := os.ReadFile(ph.P.Proc.Log)
	started := iceStartedRE.FindSubmatch(log)
	sel := iceSelectedRE.FindSubmatch(log)
	row.Outcome, row.FirstAudio = Fail, res.FirstAudio
	var ice string
	switch {
	case started == nil:
		ice = "phoned did not start ICE (no ICE in baresip's description?)"
	case sel == nil:
		ice = fmt.Sprintf("phoned checked %s candidates (controlling %s), selected none", started[1], started[2])
	default:
		ice = fmt.Sprintf("phoned checked %s candidates (controlling %s), selected %s after %s", started[1], started[2], sel[1], sel[2])
	}
	if strings.Contains(string(log), "media liveness: call moved to the relay") {
		ice += "; liveness moved the call to the relay"
	}
	row.Detail = ice + "; " + res.Detail
	if res.OK && sel != nil {
		row.Outcome = Pass
	}
	e.record(t, row, start)
}
