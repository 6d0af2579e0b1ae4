package sip

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// hostileDir holds the hostile-message corpus (see its README.md).
const hostileDir = "testdata/hostile"

// hostileUDP is the answer each corpus message gets over UDP: a final
// status code, or 0 for "dropped" (nothing can or should answer it).
var hostileUDP = map[string]int{
	"cl-beyond-body.sip":         400,
	"cl-negative.sip":            400,
	"cl-not-a-number.sip":        400,
	"cl-overflow.sip":            400,
	"cseq-empty-invite.sip":      400,
	"cseq-no-number-invite.sip":  400,
	"cseq-no-method.sip":         400,
	"cseq-overflow.sip":          400,
	"cseq-negative.sip":          400,
	"cseq-method-mismatch.sip":   400,
	"cseq-missing-invite.sip":    400,
	"version-7.sip":              505,
	"lws-around-equals.sip":      200,
	"via-chain-big-response.sip": 200,
	"no-via.sip":                 400, // sipgo answers the source statelessly
	"garbage.bin":                0,
	"crlf-only.sip":              0,
	"start-line-only.sip":        400, // likewise
	"header-no-colon.sip":        400,
	"nul-in-headers.sip":         200,
	"response-stray.sip":         0,
	"oversized.sip":              0, // over sipgo's 32 KiB UDP read: dropped and counted
}

func hostileFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(hostileDir, "*"))
	out := map[string][]byte{}
	for _, f := range files {
		name := filepath.Base(f)
		if name == "README.md" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := hostileUDP[name]; !ok {
			t.Errorf("%s: no expected answer in hostileUDP", name)
		}
		out[name] = b
	}
	if len(out) < len(hostileUDP) {
		t.Fatalf("%d corpus files in %s, want %d", len(out), hostileDir, len(hostileUDP))
	}
	return out
}

// TestHostileCorpusUDP replays each hostile message from a stranger to a
// registered phone over UDP: it gets its listed answer (never a ring),
// and afterwards the phone still answers OPTIONS and is registered.
func TestHostileCorpusUDP(t *testing.T) {
	for name, data := range hostileFiles(t) {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, _, x := registeredPhone(t, nil)
				x.send(data)
				codes := readCodes(t, x.conn, 5*time.Second)
				final := 0
				for _, c := range codes {
					if c >= 200 {
						final = c
					}
				}
				if want := hostileUDP[name]; final != want {
					t.Errorf("answered %v, want %d (0: dropped)", codes, want)
				}
				if contains(codes, 180) || len(p.ua.Calls()) != 0 {
					t.Errorf("the message rang the phone (%v)", codes)
				}
				if !x.options(5 * time.Second) {
					t.Fatal("the phone no longer answers OPTIONS")
				}
				if st := p.ua.Registration(); st.State != RegRegistered {
					t.Errorf("registration %s after the message", st.State)
				}
				if st := p.ua.Transport(); st.State != TransportUp || st.Restarts != 0 {
					t.Errorf("transport %+v after the message", st)
				}
			})
		})
	}
}

// TestHostileCorpusTCP replays each hostile message from the registrar
// over the phone's TCP flow. Whatever the phone makes of it (an answer,
// or a dropped connection when the stream cannot be parsed on), it never
// rings, and afterwards it is registered and answers OPTIONS on its flow.
func TestHostileCorpusTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	files := hostileFiles(t)
	r := newTCPRegistrar(t)
	p := tcpPhone(t, r, 45660)
	p.waitReg(t, RegRegistered)
	for name, data := range files {
		start := time.Now()
		if _, err := r.latest().Write(data); err != nil {
			t.Fatalf("%s: write: %v", name, err)
		}
		if !tcpAlive(t, p, r, name) {
			t.Fatalf("after %s: the phone is not registered and answering on its flow", name)
		}
		if len(p.ua.Calls()) != 0 {
			t.Errorf("%s rang the phone", name)
		}
		t.Logf("%s: alive after %v, transport %+v", name, time.Since(start).Round(time.Millisecond), p.ua.Transport())
	}
}

// tcpAlive waits (boundedly) until the phone is registered and answers an
// OPTIONS the registrar sends on the phone's latest connection.
func tcpAlive(t *testing.T, p *phone, r *tcpRegistrar, tag string) bool {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		if p.ua.Registration().State != RegRegistered {
			time.Sleep(20 * time.Millisecond) // polling a real-time loopback flow; bounded by deadline
			continue
		}
		c := r.latest()
		id := fmt.Sprintf("alive-%s-%d", strings.TrimSuffix(tag, filepath.Ext(tag)), i)
		opt := "OPTIONS sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP " + c.LocalAddr().String() + ";branch=z9hG4bK" + id + "\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: " + id + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
		if _, err := c.Write([]byte(opt)); err != nil {
			continue
		}
		wait := time.After(2 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
	read:
		for {
			select {
			case res := <-r.resps:
				if res.CallID() != nil && res.CallID().Value() == id && res.StatusCode == 200 {
					tick.Stop()
					return true
				}
			case <-tick.C:
				if r.latest() != c {
					break read // the flow was rebuilt: ask on the new one
				}
			case <-wait:
				break read
			}
		}
		tick.Stop()
	}
	return false
}

// FuzzPreparse: the pre-parse validation takes any datagram without a
// panic (with no socket to answer on), keeps at most 100 header lines,
// passes on only requests that parse, and the parser keeps no LWS around
// From and To parameters' "=".
func FuzzPreparse(f *testing.F) {
	for _, dir := range []string{hostileDir, tortureDir} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && !strings.HasSuffix(p, ".md") {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = looksLikeRequest(data)
		if n := len(headerLines(data)); n > 100 {
			t.Fatalf("%d header lines kept", n)
		}
		u := &UA{log: slog.New(slog.DiscardHandler)}
		out := u.preparse(siplib.TransportReadProps{Transport: "UDP"}, data)
		if out != nil && len(bytes.Trim(data, "\r\n")) > 0 && !bytes.HasPrefix(data, []byte("SIP/")) {
			if _, err := preparser.ParseSIP(out); err != nil {
				t.Fatalf("passed on a request that does not parse: %v", err)
			}
		}
		if msg, err := preparser.ParseSIP(data); err == nil {
			var ps []siplib.HeaderParams
			if f := msg.From(); f != nil {
				ps = append(ps, f.Params)
			}
			if to := msg.To(); to != nil {
				ps = append(ps, to.Params)
			}
			for _, p := range ps {
				for _, kv := range p {
					if kv.K != strings.TrimSpace(kv.K) || kv.V != strings.TrimSpace(kv.V) {
						t.Fatalf("LWS kept around parameter %q=%q", kv.K, kv.V)
					}
				}
			}
		}
	})
}

// BenchmarkPreparse is the cost the pre-parse validation adds to each
// UDP request (an INVITE with SDP) before sipgo parses it again.
func BenchmarkPreparse(b *testing.B) {
	body := "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
	data := []byte("INVITE sip:alice@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKbench;rport\r\n" +
		"Max-Forwards: 70\r\nFrom: \"Bob\" <sip:bob@10.0.0.9>;tag=1928301774\r\nTo: <sip:alice@10.0.0.2>\r\n" +
		"Call-ID: a84b4c76e66710@10.0.0.9\r\nCSeq: 314159 INVITE\r\nContact: <sip:bob@10.0.0.9:5060>\r\n" +
		"Content-Type: application/sdp\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body)
	u := &UA{}
	props := siplib.TransportReadProps{Transport: "UDP"}
	b.ReportAllocs()
	for b.Loop() {
		if out := u.preparse(props, data); len(out) == 0 {
			b.Fatal("dropped")
		}
	}
}

// TestTortureOverTCP: RFC 4475 messages that must be answered 400
// (mismatch01: CSeq method differs from the request's) or accepted
// (wsinv: valid, LWS everywhere) get that answer over the TCP flow too.
func TestTortureOverTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	r := newTCPRegistrar(t)
	p := tcpPhone(t, r, 45860)
	p.waitReg(t, RegRegistered)
	for name, want := range map[string][]int{"mismatch01.dat": {400}, "wsinv.dat": {180, 200, 481, 488}} {
		data, err := os.ReadFile(filepath.Join(tortureDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.latest().Write(data); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(10 * time.Second)
	wait:
		for {
			select {
			case res := <-r.resps:
				if res.CSeq() == nil || res.IsProvisional() && res.StatusCode != 180 {
					continue
				}
				if !contains(want, res.StatusCode) {
					t.Errorf("%s over TCP: answered %d, want one of %v", name, res.StatusCode, want)
				}
				break wait
			case <-timeout:
				t.Errorf("%s over TCP: no answer", name)
				break wait
			}
		}
	}
}
