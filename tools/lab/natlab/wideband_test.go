package natlab

import (
	"encoding/json"
	"fmt"
	"testing"
)

// Wideband (issue 16): phoned offering G.722 only, on a 16 kHz sim board,
// against baresip with its g722 module (Debian's baresip 1.0). phoned's
// tone is above G.711's band, so baresip hears it only if the call is
// wideband end to end.
const toneWide = 5000

// callCodec returns the codec of phoned's first call.
func callCodec(p *Phoned) (string, error) {
	res, err := p.client.Get("http://127.0.0.1:8080/api/status")
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var st struct {
		Calls []struct {
			Codec string `json:"codec"`
		} `json:"calls"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return "", err
	}
	if len(st.Calls) == 0 {
		return "", fmt.Errorf("no call in status")
	}
	return st.Calls[0].Codec, nil
}

// widebandCalls: phoned (port-restricted NAT) calls baresip, then baresip
// calls phoned; each call is G.722 in phoned's status and both ends hear
// the other by content, phoned's 5 kHz tone included.
func (e *env) widebandCalls(t *testing.T, reg string) {
	name := shortName(t)
	e.callsRow(t, "g722 phoned (16 kHz) vs baresip g722, both directions / "+kamName(reg), func() (string, error) {
		s := e.site(t, PortRestricted)
		p, err := s.StartPhoned(name+"-p", PhonedOptions{Binary: e.phoned, User: e.user(), Registrar: reg, ToneHz: toneWide,
			NAT: e.natYAML(), Codecs: "[G722]", SampleRate: 16000})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Proc.Stop)
		b := e.startBaresip(t, e.site(t, NoNAT), name+"-b", e.user(), reg, toneB)
		if err := registered(p, 1, b); err != nil {
			return "", err
		}
		var detail string
		check := func(dir string) error {
			c, err := callCodec(p)
			if err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			if c != "G722" {
				return fmt.Errorf("%s: call in %q, want G722", dir, c)
			}
			detail += dir + ": G722; "
			return nil
		}
		if err := talkBothWays(p, b, reg, check); err != nil {
			return detail, err
		}
		p.Proc.Stop()
		b.Close()
		d, err := hears(heardCheck{"phoned", p.WAV, toneB}, heardCheck{"B", b.Recording(), toneWide})
		return detail + d, err
	})
}
