package media

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"

	"github.com/deskphone/phone/voip/codec"
)

// conformance holds the RFC 4733 vectors (provenance in its README.md).
const conformance = "testdata/rfc4733/"

func readConformance(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(conformance + name)
	if err != nil {
		t.Fatalf("RFC 4733 vector missing: %v", err)
	}
	return string(b)
}

func TestDTMFPayloadRFC4733Figure3(t *testing.T) {
	// INDEX.md: Fig. 3 as wire bytes, derived from the figure's fields.
	idx := readConformance(t, "INDEX.md")
	m := regexp.MustCompile("Fig. 3 event payload[^`]*`([0-9a-f ]+)`").FindStringSubmatch(idx)
	if m == nil {
		t.Fatal("Fig. 3 bytes not found in INDEX.md")
	}
	want, err := hex.DecodeString(strings.ReplaceAll(m[1], " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	pl := DTMFPayload{Event: 1, End: true, Volume: 20, Duration: 1760}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 100, SequenceNumber: 18, Timestamp: 11200, SSRC: 0x5234a8},
		Payload: pl.AppendTo(nil)}
	got, _ := p.Marshal()
	if !bytes.Equal(got, want) {
		t.Fatalf("Fig. 3 packet\n got % x\nwant % x", got, want)
	}
	back, err := ParseDTMFPayload(want[12:])
	if err != nil || back != pl {
		t.Fatalf("parsed %+v %v, want %+v", back, err, pl)
	}
}

func TestDTMFPayloadFields(t *testing.T) {
	// R bit set by a sender must be ignored (§2.3.3); volume is 6 bits.
	p, err := ParseDTMFPayload([]byte{11, 0x40 | 0x3F, 0xFF, 0xFE})
	if err != nil || p != (DTMFPayload{Event: 11, Volume: 63, Duration: 0xFFFE}) {
		t.Fatalf("%+v %v", p, err)
	}
	if b := (DTMFPayload{Event: 3, Volume: 0xFF}).AppendTo(nil); b[1] != 0x3F {
		t.Fatalf("R bit or overflow sent: %#x", b[1])
	}
	for _, b := range [][]byte{nil, {1}, {1, 2, 3}} {
		if _, err := ParseDTMFPayload(b); err == nil {
			t.Fatalf("%x parsed", b)
		}
	}
	for i, d := range "0123456789*#ABCD" {
		e, ok := DigitEvent(d)
		if !ok || int(e) != i {
			t.Fatalf("DigitEvent(%q) = %d", d, e)
		}
		if back, ok := EventDigit(e); !ok || back != d {
			t.Fatalf("EventDigit(%d) = %q", e, back)
		}
	}
	if e, ok := DigitEvent('b'); !ok || e != 13 {
		t.Fatal("lower-case b")
	}
	for _, d := range "xE!+ " {
		if _, ok := DigitEvent(d); ok {
			t.Fatalf("%q accepted", d)
		}
	}
	if _, ok := EventDigit(16); ok {
		t.Fatal("flash (16) is not a digit")
	}
}

// table5 reads the rows of RFC 4733 Table 5 (verbatim text): marker,
// timestamp, seq, event, duration, end.
type t5row struct {
	m        bool
	ts       uint32
	seq      uint16
	event    uint8
	duration uint16
	end      bool
}

func table5(t *testing.T) []t5row {
	txt := readConformance(t, "rfc4733_5_examples.txt")
	re := regexp.MustCompile(`(?m)^\s*\|\s*\d+ \| RTP\s+\|\s*"([01])" \|\s*(\d+) \|\s*(\d+) \|\s*(\d+)\s+\|\s*(\d+) \|\s*"([01])" \|`)
	var rows []t5row
	for _, m := range re.FindAllStringSubmatch(txt, -1) {
		n := func(i int) uint64 { v, _ := strconv.ParseUint(m[i], 10, 32); return v }
		rows = append(rows, t5row{m[1] == "1", uint32(n(2)), uint16(n(3)), uint8(n(4)), uint16(n(5)), m[6] == "1"})
	}
	if len(rows) != 14 {
		t.Fatalf("found %d rows of Table 5, want 14", len(rows))
	}
	return rows
}

func TestDTMFReceiveRFC4733Table5(t *testing.T) {
	rows := table5(t)
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c := n.listen("10.0.0.1:4000")
		far := netip.MustParseAddrPort("10.0.0.2:5000")
		s, err := New(Config{Conn: c, Remote: far, Codec: codec.PCMU, DTMFPayloadType: 100, KeepaliveInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		// The table elides packets ("..."): those are lost here.
		for _, r := range rows {
			pl := DTMFPayload{Event: r.event, End: r.end, Duration: r.duration}
			n.deliver(far, c.addr, rtpBytes(100, r.seq, r.ts, 0x5234a8, r.m, pl.AppendTo(nil)))
			time.Sleep(50 * time.Millisecond)
		}
		synctest.Wait()
		want := []DTMFEvent{
			{Digit: '9', Duration: 200 * time.Millisecond, Timestamp: 0},
			{Digit: '1', Duration: 250 * time.Millisecond, Timestamp: 7040},
			{Digit: '1', Duration: 220 * time.Millisecond, Timestamp: 11200},
		}
		for _, w := range want {
			select {
			case e := <-s.DTMF():
				if e.Digit != w.Digit || e.Duration != w.Duration || e.Timestamp != w.Timestamp {
					t.Fatalf("event %+v, want %+v", e, w)
				}
			default:
				t.Fatalf("missing event %q", w.Digit)
			}
		}
		select {
		case e := <-s.DTMF():
			t.Fatalf("extra event %+v", e)
		default:
		}
	})
}

func TestDTMFReceiverRobustness(t *testing.T) {
	now := time.Unix(0, 0)
	type in struct {
		ts    uint32
		p     DTMFPayload
		audio bool // an audio packet at ts instead
	}
	for _, tc := range []struct {
		name string
		in   []in
		want string // digits reported, in order
	}{
		{"only end packets", []in{{100, DTMFPayload{Event: 5, End: true, Duration: 800}, false}, {100, DTMFPayload{Event: 5, End: true, Duration: 800}, false}, {100, DTMFPayload{Event: 5, End: true, Duration: 800}, false}}, "5"},
		{"lost start", []in{{100, DTMFPayload{Event: 7, Duration: 480}, false}, {100, DTMFPayload{Event: 7, End: true, Duration: 800}, false}}, "7"},
		{"no end then next digit", []in{{100, DTMFPayload{Event: 1, Duration: 160}, false}, {100, DTMFPayload{Event: 1, Duration: 320}, false}, {2000, DTMFPayload{Event: 2, Duration: 160}, false}, {2000, DTMFPayload{Event: 2, End: true, Duration: 320}, false}}, "12"},
		{"no end then audio", []in{{100, DTMFPayload{Event: 9, Duration: 320}, false}, {900, DTMFPayload{}, true}}, "9"},
		{"audio inside the event does not end it", []in{{100, DTMFPayload{Event: 9, Duration: 320}, false}, {300, DTMFPayload{}, true}, {100, DTMFPayload{Event: 9, End: true, Duration: 640}, false}}, "9"},
		{"same digit twice", []in{{100, DTMFPayload{Event: 4, End: true, Duration: 400}, false}, {1000, DTMFPayload{Event: 4, End: true, Duration: 400}, false}, {100, DTMFPayload{Event: 4, End: true, Duration: 400}, false}}, "44"},
		{"zero duration ignored", []in{{100, DTMFPayload{Event: 3, End: true}, false}}, ""},
		{"flash ignored", []in{{100, DTMFPayload{Event: 16, End: true, Duration: 800}, false}}, ""},
		{"stray old packet", []in{{5000, DTMFPayload{Event: 1, Duration: 160}, false}, {100, DTMFPayload{Event: 2, Duration: 160}, false}, {5000, DTMFPayload{Event: 1, End: true, Duration: 320}, false}}, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r dtmfReceiver
			var got []rune
			emit := func(e DTMFEvent) { got = append(got, e.Digit) }
			for _, x := range tc.in {
				if x.audio {
					r.audio(x.ts, 8000, now, emit)
				} else {
					r.packet(x.p, x.ts, 8000, now, emit)
				}
			}
			if string(got) != tc.want {
				t.Fatalf("reported %q, want %q", string(got), tc.want)
			}
		})
	}
}

func TestSendDTMFWire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c, peer := n.listen("10.0.0.1:4000"), n.listen("10.0.0.2:5000")
		s, err := New(Config{Conn: c, Remote: peer.addr, Codec: codec.PCMU, DTMFPayloadType: 101, KeepaliveInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		f := make([]int16, 160)
		s.WriteFrame(f)
		s.WriteFrame(f)
		start := time.Now()
		if err := s.SendDTMF(t.Context(), '5', 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		s.WriteFrame(f)
		sent := c.sentPkts()
		var ps []rtp.Packet
		var at []time.Time
		for _, m := range sent {
			if isRTCP(m.b) {
				continue
			}
			var p rtp.Packet
			p.Unmarshal(m.b)
			ps = append(ps, p)
			at = append(at, m.at)
		}
		if len(ps) != 2+7+1 {
			t.Fatalf("%d packets, want 2 audio + 7 DTMF + 1 audio", len(ps))
		}
		ev := ps[2:9]
		durs := []uint16{160, 320, 480, 640, 800, 800, 800}
		for i, p := range ev {
			pl, err := ParseDTMFPayload(p.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if p.PayloadType != 101 || p.Timestamp != ps[1].Timestamp+160 || p.SequenceNumber != ps[0].SequenceNumber+uint16(2+i) {
				t.Fatalf("DTMF packet %d header %+v", i, p.Header)
			}
			if p.Marker != (i == 0) {
				t.Fatalf("DTMF packet %d marker %v", i, p.Marker)
			}
			if pl.Event != 5 || pl.Duration != durs[i] || pl.End != (i >= 4) || pl.Volume != 10 || len(p.Payload) != 4 {
				t.Fatalf("DTMF packet %d payload %+v", i, pl)
			}
			// One update per ptime.
			if d := at[2+i].Sub(start); d != time.Duration(i)*20*time.Millisecond {
				t.Fatalf("DTMF packet %d sent at +%v", i, d)
			}
		}
		after := ps[9]
		if after.PayloadType != 0 || !after.Marker || int32(after.Timestamp-(ev[0].Timestamp+800)) < 0 {
			t.Fatalf("audio after DTMF %+v", after.Header)
		}
	})
}

func TestSendDTMFCancelAndErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		c, peer := n.listen("10.0.0.1:4000"), n.listen("10.0.0.2:5000")
		s, err := New(Config{Conn: c, Remote: peer.addr, Codec: codec.PCMU, DTMFPayloadType: 101, KeepaliveInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if err := s.SendDTMF(ctx, '#', time.Second); err != context.DeadlineExceeded {
			t.Fatalf("cancelled SendDTMF: %v", err)
		}
		ps := rtpSent(t, c)
		last, _ := ParseDTMFPayload(ps[len(ps)-1].Payload)
		if len(ps) < 3 || !last.End || last.Duration >= 8000 || last.Event != 11 {
			t.Fatalf("after cancel: %d packets, last %+v", len(ps), last)
		}
		ends := 0
		for _, p := range ps {
			if pl, _ := ParseDTMFPayload(p.Payload); pl.End {
				ends++
			}
		}
		if ends != 3 {
			t.Fatalf("%d end packets after cancel, want 3", ends)
		}
		if err := s.SendDTMF(t.Context(), 'x', time.Second); err == nil {
			t.Fatal("bad digit accepted")
		}
		s.SetDirection(RecvOnly)
		if err := s.SendDTMF(t.Context(), '1', time.Second); err != ErrNotSending {
			t.Fatalf("sending while recvonly: %v", err)
		}
		s2, _ := New(Config{Conn: n.listen("10.0.0.1:4002"), Remote: peer.addr, Codec: codec.PCMU})
		defer s2.Close()
		if err := s2.SendDTMF(t.Context(), '1', time.Second); err != ErrNoDTMF {
			t.Fatalf("no telephone-event PT: %v", err)
		}
	})
}

func TestDTMFBothWays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, _, _ := newPair(t, n, nil)
		defer a.Close()
		defer b.Close()
		errs := make(chan error, 2)
		go func() { errs <- a.SendDTMF(t.Context(), '1', 120*time.Millisecond) }()
		go func() { errs <- b.SendDTMF(t.Context(), '#', 200*time.Millisecond) }()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		for _, c := range []struct {
			s     *Session
			digit rune
			d     time.Duration
		}{{b, '1', 120 * time.Millisecond}, {a, '#', 200 * time.Millisecond}} {
			select {
			case e := <-c.s.DTMF():
				if e.Digit != c.digit || e.Duration != c.d {
					t.Fatalf("got %q %v, want %q %v", e.Digit, e.Duration, c.digit, c.d)
				}
			default:
				t.Fatalf("no event for %q", c.digit)
			}
			select {
			case e := <-c.s.DTMF():
				t.Fatalf("duplicate event %+v", e)
			default:
			}
		}
	})
}
