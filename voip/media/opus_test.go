//go:build cgo && opus

package media

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/voip/codec"
)

func opusCodec(t *testing.T) codec.Codec {
	t.Helper()
	c, ok := codec.ByName("opus")
	if !ok {
		t.Fatal("no Opus in an opus build")
	}
	return c
}

// TestOpusCall: an Opus session carries a 6 kHz tone one way and 1 kHz
// the other; its RTP clock is 48000 Hz (a 20 ms packet advances the
// timestamp by 960) while the audio is 16 kHz (320 samples a frame).
func TestOpusCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, ca, _ := newPair(t, n, func(a, b *Config) {
			a.Codec, b.Codec = opusCodec(t), opusCodec(t)
			a.PayloadType, b.PayloadType = 111, 111
		})
		defer a.Close()
		defer b.Close()
		outA, outB := call(t, a, b, wideband, wideband, wideband, wideband, 6000, 1000, 2*time.Second)
		heard(t, "b", outB, 16000, 6000, 2000)
		heard(t, "a", outA, 16000, 1000, 6000)
		ps := rtpSent(t, ca)
		if len(ps) < 50 {
			t.Fatalf("%d packets sent", len(ps))
		}
		for i := 1; i < len(ps); i++ {
			if p := ps[i]; p.PayloadType != 111 || len(p.Payload) == 0 || len(p.Payload) > 120 || p.Timestamp-ps[i-1].Timestamp != 960 {
				t.Fatalf("packet %d: PT %d, %d octets, timestamp step %d; want 111, 1..120, 960",
					i, p.PayloadType, len(p.Payload), p.Timestamp-ps[i-1].Timestamp)
			}
		}
		if st := b.Stats(); st.Jitterbuf.Concealed > 0 || st.Dropped > 0 {
			t.Errorf("b concealed %d samples, dropped %d packets on a clean path", st.Jitterbuf.Concealed, st.Dropped)
		}
	})
}

// TestOpusCallNarrowbandDevice: an Opus call where one phone's devices run
// at 8 kHz still carries a 1 kHz tone both ways.
func TestOpusCallNarrowbandDevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, _, _ := newPair(t, n, func(a, b *Config) {
			a.Codec, b.Codec = opusCodec(t), opusCodec(t)
			a.PayloadType, b.PayloadType = 111, 111
			a.DeviceRate = 8000
		})
		defer a.Close()
		defer b.Close()
		outA, outB := call(t, a, b, hal.Narrowband, wideband, hal.Narrowband, wideband, 1000, 1500, 2*time.Second)
		heard(t, "b (wideband)", outB, 16000, 1000, 1500)
		heard(t, "a (narrowband)", outA, 8000, 1500, 1000)
	})
}

// TestOpusDTMF: RFC 4733 events ride the codec's 48 kHz clock and keep
// their durations.
func TestOpusDTMF(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, ca, _ := newPair(t, n, func(a, b *Config) {
			a.Codec, b.Codec = opusCodec(t), opusCodec(t)
			a.PayloadType, b.PayloadType = 111, 111
		})
		defer a.Close()
		defer b.Close()
		if err := a.SendDTMF(t.Context(), '5', 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case e := <-b.DTMF():
			if e.Digit != '5' || e.Duration != 200*time.Millisecond {
				t.Fatalf("got %q %v, want '5' 200ms", e.Digit, e.Duration)
			}
		default:
			t.Fatal("no event")
		}
		ps := rtpSent(t, ca)
		last, err := ParseDTMFPayload(ps[len(ps)-1].Payload)
		if err != nil || last.Duration != 9600 {
			t.Errorf("end packet duration %d ticks (%v), want 9600 (200 ms at 48 kHz)", last.Duration, err)
		}
	})
}

// TestOpusFEC: with every 10th audio packet from a lost, b recovers each
// lost frame from the next packet's in-band FEC (nothing to conceal) and
// still hears the tone.
func TestOpusFEC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, ca, _ := newPair(t, n, func(a, b *Config) {
			a.Codec, b.Codec = opusCodec(t), opusCodec(t)
			a.PayloadType, b.PayloadType = 111, 111
		})
		defer a.Close()
		defer b.Close()
		var lost int
		k := 0
		n.mu.Lock()
		n.filter = func(from, to netip.AddrPort, p []byte) bool {
			if from != ca.addr || isRTCP(p) {
				return true
			}
			k++
			if k > 20 && k%10 == 0 {
				lost++
				return false
			}
			return true
		}
		n.mu.Unlock()
		_, outB := call(t, a, b, wideband, wideband, wideband, wideband, 1000, 3000, 2*time.Second)
		heard(t, "b", outB, 16000, 1000, 3000)
		st := b.Stats()
		t.Logf("lost %d, recovered %d, concealed %d samples", lost, st.FECRecovered, st.Jitterbuf.Concealed)
		if lost == 0 || st.FECRecovered != uint64(lost) {
			t.Errorf("%d packets lost, %d recovered from FEC", lost, st.FECRecovered)
		}
		if st.Jitterbuf.Concealed > 0 {
			t.Errorf("%d samples concealed although every loss was recoverable", st.Jitterbuf.Concealed)
		}
	})
}

// TestOpusBurstLoss: with three packets in a row lost now and then, the
// first two are concealed by libopus and the third rebuilt from FEC, all
// on arrival of the next packet: the jitter buffer conceals nothing.
func TestOpusBurstLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, b, ca, _ := newPair(t, n, func(a, b *Config) {
			a.Codec, b.Codec = opusCodec(t), opusCodec(t)
			a.PayloadType, b.PayloadType = 111, 111
			b.MinDelay = 100 * time.Millisecond // the gap is 60 ms: it must not be due before the next packet
		})
		defer a.Close()
		defer b.Close()
		var gaps int
		k := 0
		n.mu.Lock()
		n.filter = func(from, to netip.AddrPort, p []byte) bool {
			if from != ca.addr || isRTCP(p) {
				return true
			}
			k++
			if k > 20 && k%15 == 0 {
				gaps++
			}
			return k <= 20 || k%15 > 2
		}
		n.mu.Unlock()
		_, outB := call(t, a, b, wideband, wideband, wideband, wideband, 1000, 3000, 2*time.Second)
		heard(t, "b", outB, 16000, 1000, 3000)
		st := b.Stats()
		t.Logf("%d gaps of 3: recovered %d, codec concealed %d, jitter buffer concealed %d samples",
			gaps, st.FECRecovered, st.CodecConcealed, st.Jitterbuf.Concealed)
		if gaps == 0 || st.FECRecovered != uint64(gaps) || st.CodecConcealed != uint64(2*gaps) {
			t.Errorf("%d gaps: %d recovered, %d concealed by the codec; want %d, %d", gaps, st.FECRecovered, st.CodecConcealed, gaps, 2*gaps)
		}
		if st.Jitterbuf.Concealed > 0 {
			t.Errorf("the jitter buffer concealed %d samples", st.Jitterbuf.Concealed)
		}
	})
}
