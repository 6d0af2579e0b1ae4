package jitter

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// constDecode turns every payload byte c into the sample c*100, so a
// packet whose bytes are all k plays as the constant 100*k.
func constDecode(dst []int16, p []byte) []int16 {
	for _, c := range p {
		dst = append(dst, int16(c)*100)
	}
	return dst
}

type pkt struct {
	seq    uint16
	ts     uint32
	marker bool
	val    byte
	n      int
	at     time.Duration // arrival, from the start
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// stream makes count packets of n samples (ptime = n/8 ms) carrying the
// values 1, 2, 3... arriving on time.
func stream(count, n int, seq0 uint16, ts0 uint32) []pkt {
	var ps []pkt
	for k := range count {
		ps = append(ps, pkt{
			seq: seq0 + uint16(k), ts: ts0 + uint32(k*n), val: byte(k%250 + 1), n: n,
			marker: k == 0, at: time.Duration(k*n) * time.Second / 8000,
		})
	}
	return ps
}

// play delivers the packets at their arrival times and pulls frames of
// frame samples every frame/8000 s (offset by half a frame) until until.
// It returns the concatenated output.
func play(t *testing.T, b *Buffer, ps []pkt, frame int, until time.Duration) []int16 {
	t.Helper()
	ps = slices.Clone(ps)
	slices.SortStableFunc(ps, func(a, b pkt) int { return int(a.at - b.at) })
	var out []int16
	buf := make([]int16, frame)
	period := time.Duration(frame) * time.Second / 8000
	payload := make([]byte, 2000)
	i := 0
	for pull := period / 2; pull < until; pull += period {
		for i < len(ps) && ps[i].at <= pull {
			p := ps[i]
			for j := range p.n {
				payload[j] = p.val
			}
			b.Push(p.seq, p.ts, p.marker, payload[:p.n], t0.Add(p.at))
			i++
		}
		b.NextFrame(buf)
		out = append(out, buf...)
	}
	return out
}

func newBuf(t *testing.T) *Buffer {
	t.Helper()
	b, err := New(Config{Decode: constDecode})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// want concatenates the packets' sample values in timestamp order.
func want(ps []pkt) []int16 {
	var w []int16
	for _, p := range ps {
		for range p.n {
			w = append(w, int16(p.val)*100)
		}
	}
	return w
}

// trimLead drops leading zeros (the pre-roll silence).
func trimLead(s []int16) []int16 {
	for i, v := range s {
		if v != 0 {
			return s[i:]
		}
	}
	return nil
}

func TestInOrder(t *testing.T) {
	b := newBuf(t)
	ps := stream(50, 160, 1000, 5000)
	out := trimLead(play(t, b, ps, 160, 1200*time.Millisecond))
	w := want(ps)
	if len(out) < len(w) || !slices.Equal(out[:len(w)], w) {
		t.Fatalf("output differs from the stream:\n got %v\nwant %v", out[:min(len(out), 400)], w[:400])
	}
	st := b.Stats()
	// The only concealment is the 60 ms fade after the stream ends.
	if st.Late != 0 || st.Concealed != 480 || st.Pushed != 50 || st.Stretched != 0 || st.Skipped != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st.Target != 30*time.Millisecond {
		t.Errorf("target %v, want 30ms (1.5 packets, no jitter)", st.Target)
	}
}

func TestReorderAndDuplicates(t *testing.T) {
	b := newBuf(t)
	ps := stream(50, 160, 1000, 5000)
	// 5 and 6 swap, arriving 2 ms apart; 7 comes twice; 20 overtaken by 21.
	ps[5].at, ps[6].at = ps[6].at, ps[5].at+2*time.Millisecond
	dup := ps[7]
	dup.at += 5 * time.Millisecond
	ps = append(ps, dup)
	dup.at += 200 * time.Millisecond // long after it was played
	ps = append(ps, dup)
	ps[20].at = ps[21].at + time.Millisecond
	out := trimLead(play(t, b, ps, 160, 1200*time.Millisecond))
	w := want(ps[:50])
	if len(out) < len(w) || !slices.Equal(out[:len(w)], w) {
		t.Fatalf("reordered output differs:\n got %v\nwant %v", out[:min(len(out), 600)], w[:600])
	}
	if st := b.Stats(); st.Duplicates != 2 || st.Late != 0 || st.Stretched != 0 {
		t.Fatalf("stats %+v, want 2 duplicates, 0 late, no growth", st)
	}
}

func TestSequenceAndTimestampWrap(t *testing.T) {
	b := newBuf(t)
	ps := stream(40, 160, 65530, 0xFFFFFFFF-800)
	ps[8].at, ps[9].at = ps[9].at, ps[8].at // reorder across the seq wrap
	out := trimLead(play(t, b, ps, 160, 1000*time.Millisecond))
	w := want(ps)
	if len(out) < len(w) || !slices.Equal(out[:len(w)], w) {
		t.Fatalf("output across the wrap differs")
	}
}

func TestAnyPtime(t *testing.T) {
	// 30 ms packets pulled in 20 ms frames, and 10 ms packets pulled in 20 ms.
	for _, n := range []int{240, 80} {
		b := newBuf(t)
		ps := stream(40, n, 7, 100)
		out := trimLead(play(t, b, ps, 160, time.Duration(40*n+1600)*time.Second/8000))
		w := want(ps)
		if len(out) < len(w) || !slices.Equal(out[:len(w)], w) {
			t.Fatalf("ptime %d samples: output differs", n)
		}
	}
}

func TestLossConcealment(t *testing.T) {
	b := newBuf(t)
	ps := stream(50, 160, 1000, 5000)
	lost := ps[10]
	ps = slices.Delete(ps, 10, 11)
	out := trimLead(play(t, b, ps, 160, 1200*time.Millisecond))
	// Locate packet 10's samples: the output starts at packet 0.
	at := 10 * 160
	prev := int16(ps[9].val) * 100 // value of packet 9 (index 9 is still packet 9)
	if ps[9].val != lost.val-1 {
		t.Fatal("test setup")
	}
	seg := out[at : at+160]
	// First 10 ms: the last pitch period repeated at full level.
	for i, v := range seg[:80] {
		if v != prev {
			t.Fatalf("concealed sample %d = %d, want %d (repeat)", i, v, prev)
		}
	}
	// Then fading: strictly below the last value, never above.
	if seg[159] >= prev || seg[159] <= 0 {
		t.Fatalf("concealment at 20 ms = %d, want attenuated below %d", seg[159], prev)
	}
	for i := 81; i < 160; i++ {
		if seg[i] > seg[i-1] {
			t.Fatalf("concealment not fading at %d: %d > %d", i, seg[i], seg[i-1])
		}
	}
	// Packet 11 resumes after a 4 ms cross-fade.
	next := out[at+160 : at+320]
	v11 := int16(lost.val+1) * 100
	for i, v := range next[32:] {
		if v != v11 {
			t.Fatalf("after loss sample %d = %d, want %d", i+32, v, v11)
		}
	}
	// 160 for the lost packet, 480 for the fade after the stream ends.
	if st := b.Stats(); st.Concealed != 160+480 {
		t.Fatalf("concealed %d samples, want 640", st.Concealed)
	}
}

func TestLongLossFadesToSilence(t *testing.T) {
	b := newBuf(t)
	ps := stream(50, 160, 1000, 5000)
	ps = slices.Delete(ps, 10, 15) // 100 ms gone
	out := trimLead(play(t, b, ps, 160, 1200*time.Millisecond))
	at := 10 * 160
	for i := 480; i < 800; i++ { // 60 ms .. 100 ms into the gap
		if out[at+i] != 0 {
			t.Fatalf("sample %d ms into the loss = %d, want silence", i/8, out[at+i])
		}
	}
	if out[at] == 0 {
		t.Fatal("no concealment at the start of the loss")
	}
	if got, w := out[at+800+40], int16(16)*100; got != w {
		t.Fatalf("after the loss %d, want %d", got, w)
	}
}

func TestLatePacketGrowsDelay(t *testing.T) {
	b := newBuf(t)
	ps := stream(100, 160, 1000, 5000)
	// From packet 20 on the path is 60 ms slower.
	for i := 20; i < len(ps); i++ {
		ps[i].at += 60 * time.Millisecond
	}
	out := trimLead(play(t, b, ps, 160, 2500*time.Millisecond))
	st := b.Stats()
	if st.Late == 0 || st.Late > 3 {
		t.Fatalf("late %d, want 1..3 (then the buffer has grown)", st.Late)
	}
	if st.Stretched == 0 || st.Target < 60*time.Millisecond {
		t.Fatalf("target %v stretched %d: did not grow", st.Target, st.Stretched)
	}
	// The tail of the stream plays intact: values of packets 40..99 appear in order.
	tail := want(ps[40:])
	if i := indexOf(out, tail); i < 0 {
		t.Fatal("tail of the stream not played intact after growing")
	}
}

func indexOf(s, sub []int16) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if slices.Equal(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func TestJitterAdaptsUpThenDown(t *testing.T) {
	b := newBuf(t)
	r := rand.New(rand.NewPCG(1, 2))
	ps := stream(3000, 160, 0, 0) // 60 s
	for i := range ps {
		if i < 500 { // 10 s of ±40 ms jitter, then a clean network
			ps[i].at += time.Duration(r.IntN(80)) * time.Millisecond
		}
	}
	var peak time.Duration
	ps1 := ps[:500]
	play(t, b, ps1, 160, 10*time.Second)
	peak = b.Stats().Target
	if peak < 100*time.Millisecond {
		t.Fatalf("target %v under 80 ms of jitter, want >= 100ms", peak)
	}
	st1 := b.Stats()
	// The clean part: continue the same buffer (arrival times continue).
	play2(t, b, ps[500:], 10*time.Second, 60*time.Second)
	st := b.Stats()
	if st.Target >= peak/2 {
		t.Fatalf("target stayed at %v (peak %v) after 50 s without jitter", st.Target, peak)
	}
	if st.Delay > st.Target+40*time.Millisecond {
		t.Fatalf("delay %v did not shrink toward target %v", st.Delay, st.Target)
	}
	if st.Late != st1.Late {
		t.Fatalf("late packets on a clean network: %d -> %d", st1.Late, st.Late)
	}
	if st.Skipped == 0 {
		t.Fatal("never skipped to shrink the delay")
	}
}

// play2 continues play for pulls in [from, until).
func play2(t *testing.T, b *Buffer, ps []pkt, from, until time.Duration) {
	t.Helper()
	buf := make([]int16, 160)
	payload := make([]byte, 160)
	i := 0
	for pull := from + 10*time.Millisecond; pull < until; pull += 20 * time.Millisecond {
		for i < len(ps) && ps[i].at <= pull {
			for j := range payload {
				payload[j] = ps[i].val
			}
			b.Push(ps[i].seq, ps[i].ts, false, payload, t0.Add(ps[i].at))
			i++
		}
		b.NextFrame(buf)
	}
}

func TestResyncOnTimestampJump(t *testing.T) {
	b := newBuf(t)
	ps := stream(20, 160, 0, 0)
	more := stream(20, 160, 20, 9_000_000) // restarted stream, no marker
	for i := range more {
		more[i].at += 400 * time.Millisecond
		more[i].val = byte(100 + i)
		more[i].marker = false
	}
	out := play(t, b, append(ps, more...), 160, 1200*time.Millisecond)
	if b.Stats().Resyncs != 1 {
		t.Fatalf("resyncs %d, want 1", b.Stats().Resyncs)
	}
	// The first 4 ms of the new stream are cross-faded from concealment.
	if indexOf(out, want(more)[32:]) < 0 {
		t.Fatal("restarted stream not played")
	}
}

func TestSenderClockStallResyncs(t *testing.T) {
	b := newBuf(t)
	ps := stream(20, 160, 0, 0)
	// After a 1 s pause the sender resumes with timestamps that did not
	// advance (and no marker): everything would be late forever.
	more := stream(30, 160, 20, 20*160)
	for i := range more {
		more[i].at += 20*20*time.Millisecond + time.Second
		more[i].val = byte(100 + i)
		more[i].marker = false
	}
	out := play(t, b, append(ps, more...), 160, 2500*time.Millisecond)
	st := b.Stats()
	if st.Resyncs != 1 || st.Late != maxLateRun {
		t.Fatalf("resyncs %d late %d, want 1 and %d", st.Resyncs, st.Late, maxLateRun)
	}
	if indexOf(out, want(more[maxLateRun+1:])) < 0 {
		t.Fatal("stream after the stall not played")
	}
}

func TestJumpAheadWhileIdleReanchors(t *testing.T) {
	b := newBuf(t)
	ps := stream(10, 160, 0, 0)
	// After 200 ms of silence the timestamps jump 3 s ahead, no marker.
	more := stream(20, 160, 10, 10*160+3*8000)
	for i := range more {
		more[i].at += 400 * time.Millisecond
		more[i].val = byte(50 + i)
		more[i].marker = false
	}
	out := play(t, b, append(ps, more...), 160, 1200*time.Millisecond)
	if b.Stats().Resyncs != 1 {
		t.Fatalf("resyncs %d", b.Stats().Resyncs)
	}
	// Played within about the target delay, not 3 s later.
	i := indexOf(out, want(more)[32:])
	if i < 0 || i > (400+60)*8 {
		t.Fatalf("jumped stream starts at sample %d", i)
	}
}

func TestSilenceBeforeFirstPacket(t *testing.T) {
	b := newBuf(t)
	dst := []int16{1, 2, 3}
	b.NextFrame(dst)
	if !slices.Equal(dst, []int16{0, 0, 0}) {
		t.Fatal("not silence before any packet")
	}
	if r := b.Push(1, 1, false, nil, t0); r != Invalid {
		t.Fatalf("empty payload: %v", r)
	}
}

func TestNewNeedsDecoder(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without Decode succeeded")
	}
}

func BenchmarkPushPop(b *testing.B) {
	buf, _ := New(Config{Decode: constDecode})
	payload := make([]byte, 160)
	frame := make([]int16, 160)
	b.ReportAllocs()
	var seq uint16
	var ts uint32
	at := t0
	for b.Loop() {
		buf.Push(seq, ts, false, payload, at)
		buf.NextFrame(frame)
		seq++
		ts += 160
		at = at.Add(20 * time.Millisecond)
	}
}

// TestSmallFootprint: a buffer for 20 ms PCMU packets holds slot buffers
// the size of those packets, not of the largest packet allowed, and
// once every slot was used a packet costs no allocation.
func TestSmallFootprint(t *testing.T) {
	dec := func(dst []int16, p []byte) []int16 { // grows once, as voip/codec's do
		dst = slices.Grow(dst, len(p))
		for _, v := range p {
			dst = append(dst, int16(v))
		}
		return dst
	}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	b, err := New(Config{ClockRate: 8000, Decode: dec})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 160)
	now := time.Unix(0, 0)
	out := make([]int16, 160)
	var seq uint16
	var ts uint32
	step := func() {
		b.Push(seq, ts, seq == 0, payload, now)
		b.NextFrame(out)
		seq++
		ts += 160
		now = now.Add(20 * time.Millisecond)
	}
	for range 2 * nSlots {
		step()
	}
	runtime.ReadMemStats(&ms1)
	if grown := ms1.TotalAlloc - ms0.TotalAlloc; grown > 64<<10 {
		t.Fatalf("a buffer and %d packets allocated %d bytes, want under 64 KB", 2*nSlots, grown)
	}
	if n := testing.AllocsPerRun(200, step); n != 0 {
		t.Fatalf("%.1f allocations per packet once every slot was used", n)
	}
	runtime.KeepAlive(b)
}
