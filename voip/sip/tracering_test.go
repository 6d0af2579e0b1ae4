package sip

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"

	siplib "github.com/emiago/sipgo/sip"
)

// TestTraceRegister: with the trace on, a registration's messages are
// recorded both ways with their addresses, the digest response redacted.
func TestTraceRegister(t *testing.T) {
	if os.Getenv("SIPDEBUG") != "" {
		t.Skip("SIPDEBUG hands sipgo's hook to trace_test.go's printer instead of DefaultTrace")
	}
	synctest.Test(t, func(t *testing.T) {
		DefaultTrace.Clear()
		DefaultTrace.SetEnabled(true)
		defer func() { DefaultTrace.SetEnabled(false); DefaultTrace.Clear() }()
		rs := &registrarScript{realm: "r", user: "alice", password: "secret", algorithm: "MD5"}
		_, reg, p := regSetup(t, rs, nil)
		p.waitReg(t, RegRegistered)
		regs := reg.requests(siplib.REGISTER)
		if len(regs) != 2 {
			t.Fatalf("%d REGISTERs, want 2", len(regs))
		}
		auth := regs[1].GetHeader("Authorization").Value()
		resp := regexp.MustCompile(`response="([0-9a-f]+)"`).FindStringSubmatch(auth)
		if resp == nil {
			t.Fatalf("no response in %q", auth)
		}
		var out, in401, in200 int
		for _, e := range DefaultTrace.Entries() {
			if bytes.Contains(e.Msg, []byte(resp[1])) {
				t.Errorf("digest response %s in the trace:\n%s", resp[1], e.Msg)
			}
			if e.Transport != "UDP" || !strings.HasPrefix(e.Remote, "10.0.0.1:5060") || !strings.HasPrefix(e.Local, "10.0.0.2:") {
				t.Errorf("entry %s %s %s", e.Transport, e.Local, e.Remote)
			}
			switch {
			case e.Out && bytes.HasPrefix(e.Msg, []byte("REGISTER ")):
				out++
				if out == 2 && !bytes.Contains(e.Msg, []byte(`response="<redacted>"`)) {
					t.Errorf("second REGISTER without its redacted response:\n%s", e.Msg)
				}
			case !e.Out && bytes.HasPrefix(e.Msg, []byte("SIP/2.0 401")):
				in401++
			case !e.Out && bytes.HasPrefix(e.Msg, []byte("SIP/2.0 200")):
				in200++
			}
		}
		if out != 2 || in401 != 1 || in200 != 1 {
			t.Errorf("recorded %d REGISTERs out, %d 401 and %d 200 in; want 2, 1, 1", out, in401, in200)
		}
		var b bytes.Buffer
		if err := DefaultTrace.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), " out UDP 10.0.0.2:") || !strings.Contains(b.String(), " -> 10.0.0.1:5060 (") {
			t.Errorf("text:\n%s", b.String())
		}
	})
}

func TestTraceOffRing(t *testing.T) {
	tr := NewTrace(3)
	tr.Record(true, "UDP", "a", "b", []byte("OPTIONS 0"))
	if st := tr.State(); st.Messages != 0 || st.Enabled {
		t.Fatalf("off, yet recorded: %+v", st)
	}
	tr.SetEnabled(true)
	for _, m := range []string{"m1", "m2", "m3", "m4", ""} {
		tr.Record(false, "TCP", "a", "b", []byte(m))
	}
	es := tr.Entries()
	if len(es) != 3 || string(es[0].Msg) != "m2" || string(es[2].Msg) != "m4" {
		t.Errorf("entries %v", es)
	}
	if st := tr.State(); st != (TraceState{Enabled: true, Messages: 3, Capacity: 3, Recorded: 4}) {
		t.Errorf("state %+v", st)
	}
	big := bytes.Repeat([]byte("x"), TraceMessageMax+10)
	tr.Record(true, "UDP", "a", "b", big)
	if e := tr.Entries()[2]; e.Size != len(big) || len(e.Msg) != TraceMessageMax {
		t.Errorf("big message: size %d, kept %d", e.Size, len(e.Msg))
	}
	tr.Clear()
	if st := tr.State(); st.Messages != 0 || st.Recorded != 0 || !st.Enabled {
		t.Errorf("after Clear %+v", st)
	}
}

var redactCases = []struct{ in, want string }{
	{"REGISTER sip:r SIP/2.0\r\nAuthorization: Digest username=\"alice\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"0123abcd\", algorithm=MD5\r\nContent-Length: 0\r\n\r\n",
		"REGISTER sip:r SIP/2.0\r\nAuthorization: Digest username=\"alice\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"<redacted>\", algorithm=MD5\r\nContent-Length: 0\r\n\r\n"},
	{"INVITE sip:b SIP/2.0\r\nproxy-authorization : Digest username=\"a\",\r\n  RESPONSE = 99ff,nonce=\"x\"\r\nX-Response: response=keep\r\n",
		"INVITE sip:b SIP/2.0\r\nproxy-authorization : Digest username=\"a\",\r\n  RESPONSE = \"<redacted>\",nonce=\"x\"\r\nX-Response: response=keep\r\n"},
	{"v=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4;inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo1MjM0|2^20|2:4 FEC_ORDER=FEC_SRTP\r\n",
		"v=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<redacted>;inline:<redacted> FEC_ORDER=FEC_SRTP\r\n"},
	{"a=key-mgmt:mikey AQAFgM0XflABAAAAAAAAAAAAAAsAyO\r\nm=audio 1 RTP/SAVP 0\r\n",
		"a=key-mgmt:mikey <redacted>\r\nm=audio 1 RTP/SAVP 0\r\n"},
	{"Authorization: Digest response=\"cut-in-the-middl", "Authorization: Digest response=\"<redacted>\""},
}

func TestRedact(t *testing.T) {
	for _, c := range redactCases {
		if got := string(Redact([]byte(c.in))); got != c.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// FuzzRedact: any input is answered without a panic, redacting twice
// changes nothing more, and no digest response survives.
func FuzzRedact(f *testing.F) {
	for _, c := range redactCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		once := Redact(b)
		if twice := Redact(once); !bytes.Equal(once, twice) {
			t.Fatalf("not idempotent: %q -> %q -> %q", b, once, twice)
		}
		for _, l := range bytes.Split(once, []byte("\n")) {
			if authHeaderRE.Match(l) {
				for _, m := range responseRE.FindAllSubmatch(l, -1) {
					if v := string(m[2]); v != `"<redacted>"` {
						t.Fatalf("response %q left in %q", v, l)
					}
				}
			}
		}
	})
}
