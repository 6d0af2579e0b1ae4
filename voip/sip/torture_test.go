package sip

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// tortureDir holds the RFC 4475 messages (provenance in its README.md,
// status of each message in its INDEX.md).
const tortureDir = "testdata/rfc4475"

// tortureAllowed lists, per RFC 4475 message, the final responses a UA
// may give; "drop" (no response) is allowed for every invalid message
// and for responses. Valid requests must be answered.
var tortureAllowed = map[string][]int{
	// 3.1.1 valid
	"wsinv.dat": {180, 200, 481, 488}, "intmeth.dat": {501}, "esc01.dat": {180 /* its a=rtpmap:31 LPC has no rate: accepted, video refused */}, "escnull.dat": {405},
	"esc02.dat": {501}, "lwsdisp.dat": {200}, "longreq.dat": {180, 488, 481}, "dblreq.dat": {405},
	"semiuri.dat": {200}, "transports.dat": {200}, "mpart01.dat": {405}, "zeromf.dat": {200},
	"cparam01.dat": {405}, "cparam02.dat": {405}, "regescrt.dat": {405}, "inv2543.dat": {180, 400, 488},
	// 3.1.2 / 3.3 invalid or semantic: rejections we accept.
	"badinv01.dat": {400}, "clerr.dat": {400}, "scalar02.dat": {400}, "quotbal.dat": {400},
	"ltgtruri.dat": {400}, "lwsruri.dat": {400}, "lwsstart.dat": {400}, "trws.dat": {400, 200},
	"escruri.dat": {400, 180, 488}, "baddate.dat": {400, 180, 488}, "regbadct.dat": {400, 405},
	"badaspec.dat": {400, 200}, "baddn.dat": {400, 200}, "badvers.dat": {505, 400},
	"mismatch01.dat": {400}, "mismatch02.dat": {501, 400}, "badbranch.dat": {400, 200},
	"insuf.dat": {400}, "unkscm.dat": {416, 400}, "novelsc.dat": {416, 404, 400},
	"unksm2.dat": {400, 405}, "bext01.dat": {420}, "invut.dat": {415}, "regaut01.dat": {405},
	"multi01.dat": {400}, "mcl01.dat": {400}, "sdp01.dat": {406, 400, 180, 488}, "ncl.dat": {400},
}

// mustAnswer are valid requests a UA has to answer.
var mustAnswer = map[string]bool{"zeromf.dat": true, "esc02.dat": true, "esc01.dat": true, "intmeth.dat": false,
	// valid, and its LWS around "=" must not cost it its From tag
	"wsinv.dat": true,
	// invalid: RFC 4475 §3.1.2 wants these answered 400, not dropped
	"clerr.dat": true, "ncl.dat": true, "scalar02.dat": true, "mismatch01.dat": true, "badvers.dat": true}

// TestTorture delivers every RFC 4475 message raw to the UA's SIP socket
// and checks that the UA neither panics nor answers outside what the RFC
// allows; afterwards the UA still answers OPTIONS.
func TestTorture(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(tortureDir, "*.dat"))
	if len(files) != 49 {
		t.Fatalf("%d RFC 4475 vectors at %s, want 49", len(files), tortureDir)
	}
	for _, f := range files {
		name := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				pn := w.host("10.0.0.2")
				xn := w.host("10.0.0.9")
				w.start()
				newPhone(t, pn, nil)
				conn, err := xn.ListenPacket("udp4", "10.0.0.9:5060")
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				to := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 5060}
				if _, err := conn.WriteTo(data, to); err != nil {
					t.Fatal(err)
				}
				codes := readCodes(t, conn, 40*time.Second)
				final := 0
				for _, c := range codes {
					if c >= 200 || c == 180 {
						final = c
					}
				}
				allowed, known := tortureAllowed[name]
				isResponse := bytes.HasPrefix(data, []byte("SIP/2.0 "))
				switch {
				case isResponse && len(codes) > 0:
					t.Errorf("answered a response with %v", codes)
				case final == 0 && mustAnswer[name]:
					t.Errorf("request was not answered (RFC 4475 wants an answer)")
				case final != 0 && known && !contains(allowed, final):
					t.Errorf("answered %d, allowed %v", final, allowed)
				}
				t.Logf("%s -> %v", name, codes)
				// The UA survived: OPTIONS still gets 200.
				opt := "OPTIONS sip:phone@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKalive\r\n" +
					"Max-Forwards: 70\r\nFrom: <sip:x@10.0.0.9>;tag=1\r\nTo: <sip:phone@10.0.0.2>\r\nCall-ID: alive\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
				conn.WriteTo([]byte(opt), to)
				if got := readCodes(t, conn, 5*time.Second); !contains(got, 200) {
					t.Errorf("UA no longer answers OPTIONS after %s: %v", name, got)
				}
			})
		})
	}
}

// readCodes collects response codes until no message arrives for d (fake time).
func readCodes(t *testing.T, conn net.PacketConn, d time.Duration) []int {
	var codes []int
	buf := make([]byte, 65535)
	for {
		conn.SetReadDeadline(time.Now().Add(d))
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return codes
		}
		m, err := siplib.ParseMessage(append([]byte(nil), buf[:n]...))
		if err != nil {
			// A 400 to a request whose CSeq does not parse copies that
			// CSeq: read its status line.
			var code int
			if _, e := fmt.Sscanf(string(buf[:min(n, 16)]), "SIP/2.0 %d", &code); e == nil && !contains(codes, code) {
				codes = append(codes, code)
			}
			continue
		}
		if r, ok := m.(*siplib.Response); ok {
			if !contains(codes, r.StatusCode) {
				codes = append(codes, r.StatusCode)
			}
		} else if req, ok := m.(*siplib.Request); ok && !strings.EqualFold(string(req.Method), "ACK") {
			// The UA should not send requests here (PRACK for nothing, ...).
			t.Logf("UA sent request %s", req.StartLine())
		}
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
