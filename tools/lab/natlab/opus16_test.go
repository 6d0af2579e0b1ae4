package natlab

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// Opus (issue 16): phoned built with Opus (cgo, -tags opus: make
// build-opus, bin/opus/phoned, passed as DESKPHONE_NATLAB_PHONED_OPUS),
// offering Opus only on a 16 kHz sim board, against baresip with its
// opus module (Debian's baresip 1.0). phoned's 6 kHz tone is beyond
// G.711's band, so baresip hears it only if the call is wideband Opus end
// to end.
const toneOpus = 6000

// baresipOpus loads baresip's opus module, mono, with in-band FEC, at the
// bit rate phoned asks for.
const baresipOpus = `module			opus.so
opus_bitrate		24000
opus_stereo		no
opus_sprop_stereo	no
opus_inbandfec		yes
`

func opusCells(run func(string, func(*testing.T)), e *env) {
	for _, reg := range []string{KamailioPlain, KamailioNAT} {
		run("opus/"+kamName(reg), func(t *testing.T) { e.opusCalls(t, reg) })
	}
}

// opusPhoned returns the phoned binary for the opus cells, or why there
// is none: it must be built with cgo and the "opus" tag (its build
// information says so).
func (e *env) opusPhoned() (string, error) {
	bin := os.Getenv("DESKPHONE_NATLAB_PHONED_OPUS")
	if bin == "" {
		bin = e.phoned
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("%s: %w", bin, err)
	}
	var tags, cgo string
	for _, s := range bi.Settings {
		switch s.Key {
		case "-tags":
			tags = s.Value
		case "CGO_ENABLED":
			cgo = s.Value
		}
	}
	if cgo != "1" || !slices.Contains(strings.Split(tags, ","), "opus") {
		return "", fmt.Errorf("%s has no Opus (CGO_ENABLED=%q, tags %q): make build-opus and set DESKPHONE_NATLAB_PHONED_OPUS=bin/opus/phoned", bin, cgo, tags)
	}
	return bin, nil
}

// opusCalls: phoned (port-restricted NAT) calls baresip, then baresip
// calls phoned; each call is Opus in phoned's status and both ends hear
// the other by content, phoned's 6 kHz tone included.
func (e *env) opusCalls(t *testing.T, reg string) {
	name := shortName(t)
	scenario := "opus phoned (16 kHz) vs baresip opus, both directions / " + kamName(reg)
	bin, err := e.opusPhoned()
	if err != nil {
		e.record(t, Row{Section: "calls", Scenario: scenario, Phone: "phoned+baresip", Outcome: Skip, Detail: err.Error()}, time.Now())
		t.Skip(err)
	}
	e.callsRow(t, scenario, func() (string, error) {
		_, p, b, err := e.phonedAndBaresip(t, name, reg, PhonedOptions{Binary: bin, ToneHz: toneOpus, Codecs: "[OPUS]", SampleRate: 16000},
			BaresipOptions{Config: baresipOpus})
		if err != nil {
			return "", err
		}
		var detail string
		check := func(dir string) error {
			c, err := callCodec(p)
			if err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			if c != "opus" {
				return fmt.Errorf("%s: call in %q, want opus", dir, c)
			}
			detail += dir + ": opus; "
			return nil
		}
		if err := talkBothWays(p, b, reg, check); err != nil {
			return detail, err
		}
		p.Proc.Stop()
		b.Close()
		d, err := hears(heardCheck{"phoned", p.WAV, toneB}, heardCheck{"B", b.Recording(), toneOpus})
		return detail + d, err
	})
}
