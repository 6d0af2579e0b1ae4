package natlab

import (
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// DTLS-SRTP against baresip's dtls_srtp module (issue 16): phoned with
// srtp required and srtp_keying dtls behind a port-restricted NAT,
// baresip (mediaenc=dtls_srtp, UDP/TLS/RTP/SAVPF) public. Each calls the
// other; both hear each other by content; phoned's status shows keying
// dtls with a suite; and a capture of phoned's interface shows DTLS
// records and SRTP, and no RTP packet of plain audio's size.

func dtls16Cells(run func(string, func(*testing.T)), e *env) {
	for _, reg := range []string{KamailioPlain, KamailioNAT} {
		run("dtls-srtp/required/"+kamName(reg), func(t *testing.T) { e.dtlsCalls(t, reg) })
	}
}

// wireCount is what a capture shows, for packets from one address (ours)
// and from everyone else (theirs): DTLS records, and RTP packets by
// whether their payload has audio's plain size (20 ms of G.711 or G.722:
// 160 bytes; comfort noise: 1) or that size plus an SRTP tag (4, 10 or
// 16).
// TURN ChannelData (first byte 64..79, RFC 8656 §12.4) is unwrapped.
type wireCount struct {
	DTLS, Plain, SRTP int
}

// countWire reads a capture's UDP payloads with tshark.
func countWire(pcap, ours string) (us, them wireCount, err error) {
	out, err := exec.Command("tshark", "-r", pcap, "-Y", "udp", "-T", "fields", "-e", "ip.src", "-e", "udp.payload").Output()
	if err != nil {
		return us, them, fmt.Errorf("tshark %s: %w", pcap, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		src, payload, _ := strings.Cut(strings.TrimSpace(line), "\t")
		b, err := hex.DecodeString(strings.ReplaceAll(payload, ":", ""))
		if err != nil || len(b) == 0 {
			continue
		}
		w := &them
		if src == ours {
			w = &us
		}
		if b[0] >= 64 && b[0] <= 79 && len(b) > 4 {
			b = b[4:]
		}
		switch {
		case b[0] >= 20 && b[0] <= 63:
			w.DTLS++
		case b[0]>>6 == 2 && len(b) >= 12 && (b[1]&0x7f < 64 || b[1]&0x7f > 95) && b[0]&0x3f == 0:
			// RTP without CSRCs or extension (ours and baresip's).
			switch len(b) - 12 {
			case 160, 1:
				w.Plain++
			case 164, 170, 176, 5, 11, 17:
				w.SRTP++
			}
		}
	}
	return us, them, nil
}

func (e *env) dtlsCalls(t *testing.T, reg string) {
	name := shortName(t)
	e.callsRow(t, "dtls-srtp required phoned, baresip mediaenc=dtls_srtp, both directions / "+kamName(reg), func() (string, error) {
		s := e.site(t, PortRestricted)
		capture, err := s.Capture(name + "-wire")
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.StartPhoned(name+"-p", PhonedOptions{Binary: e.phoned, User: e.user(), Registrar: reg, ToneHz: toneP,
			NAT: e.natYAML(), SRTP: "required", SRTPKeying: "dtls"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Proc.Stop)
		b, err := e.site(t, NoNAT).StartBaresip(name+"-b", BaresipOptions{User: e.user(), Registrar: reg, ToneHz: toneB, MediaEnc: "dtls_srtp"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		if err := registered(p, 1, b); err != nil {
			return "", err
		}
		var detail string
		check := func(dir string) error {
			sec, err := security(p)
			if err != nil {
				return fmt.Errorf("%s: status: %w", dir, err)
			}
			switch {
			case sec == nil || sec.Suite == "" || sec.Keying != "dtls" || sec.KeysInClear:
				return fmt.Errorf("%s: call not shown as DTLS-SRTP: %+v", dir, sec)
			case sec.Unprotected == 0 || sec.AuthFailed > 1:
				// baresip's plain RTCP "PING" may be the one refused.
				return fmt.Errorf("%s: SRTP packets: %+v", dir, sec)
			}
			detail += fmt.Sprintf("%s: %s; ", dir, sec.Suite)
			return nil
		}
		if err := talkBothWays(p, b, reg, check); err != nil {
			return detail, err
		}
		p.Proc.Stop()
		b.Close()
		capture.Stop()
		us, them, err := countWire(s.lab.Dir+"/"+name+"-wire.pcap", s.PhoneIP)
		if err != nil {
			return detail, err
		}
		// baresip 1.0 sends plain RTP on a stream whose DTLS handshake
		// has not finished (docs/srtp.md): counted, phoned drops it.
		detail += fmt.Sprintf("wire from phoned: %d DTLS, %d SRTP, %d plain RTP; from baresip: %d DTLS, %d SRTP, %d plain RTP; ",
			us.DTLS, us.SRTP, us.Plain, them.DTLS, them.SRTP, them.Plain)
		if us.Plain != 0 || us.DTLS == 0 || us.SRTP < 100 || them.SRTP < 100 {
			return detail, fmt.Errorf("wire: phoned %+v, baresip %+v: want DTLS and SRTP, and no plain RTP from phoned", us, them)
		}
		d, err := hears(heardCheck{"phoned", p.WAV, toneB}, heardCheck{"B", b.Recording(), toneP})
		return detail + d, err
	})
}
