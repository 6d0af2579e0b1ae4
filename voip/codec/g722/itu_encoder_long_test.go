package g722

import "testing"

// The long encoder sequence of G.722 Appendix II: T1C1.XMT (16 416
// words: the Appendix's tones, low-level d.c. and noise, with the QMF
// bypassed) in testdata, checked against ITU-T's CRC-32 for bt1c1.xmt
// by sequence. The codes the encoder makes must match ITU-T's CRC-32 for
// T2R1.COD, and decoding them in the three modes must match the CRC-32s
// of T3L1.RC1-RC3 and T3H1.RC0 (g722-ts-le/bin/00readme-g.722-testvectors-le.txt):
// the encoder, and the decoder on an encoder's own output, bit-exact over
// the whole sequence without carrying the outputs.
var ituEncLongCRC = map[string]uint32{
	"T2R1.COD": 0xD1DAA1D1,
	"T3L1.RC1": 0xED1B3993,
	"T3L1.RC2": 0x8E8C4E2B,
	"T3L1.RC3": 0xB7AA5569,
	"T3H1.RC0": 0xE9250851,
}

func TestITUEncoderT1C1(t *testing.T) {
	in := sequence(t, "T1C1.XMT")
	if len(in) != 16416 {
		t.Fatalf("T1C1.XMT: %d words, want 16416", len(in))
	}
	var low, high band
	low.reset(true)
	high.reset(false)
	codes := make([]uint16, len(in))
	for i, w := range in {
		if w&1 == 1 {
			low.reset(true)
			high.reset(false)
			codes[i] = w
			continue
		}
		x := int32(int16(w) >> 1)
		il := low.encodeLow(x)
		ih := high.encodeHigh(x)
		codes[i] = uint16(ih<<6|il) << 8
	}
	if got, want := crcLE(codes), ituEncLongCRC["T2R1.COD"]; got != want {
		t.Fatalf("T2R1.COD: encoder output CRC-32 %08X, ITU-T publishes %08X", got, want)
	}
	var outH []uint16
	for _, m := range []struct {
		mode Mode
		file string
	}{{Mode1, "T3L1.RC1"}, {Mode2, "T3L1.RC2"}, {Mode3, "T3L1.RC3"}} {
		var lb, hb band
		lb.reset(true)
		hb.reset(false)
		outL := make([]uint16, len(codes))
		outH = make([]uint16, len(codes))
		for i, w := range codes {
			if w&1 == 1 {
				lb.reset(true)
				hb.reset(false)
				outL[i], outH[i] = w, w
				continue
			}
			outL[i] = uint16(lb.decodeLow(int32(w>>8)&0x3f, m.mode) << 1)
			outH[i] = uint16(hb.decodeHigh(int32(w>>14)) << 1)
		}
		if got, want := crcLE(outL), ituEncLongCRC[m.file]; got != want {
			t.Errorf("%s: lower band CRC-32 %08X, ITU-T publishes %08X", m.file, got, want)
		}
	}
	if got, want := crcLE(outH), ituEncLongCRC["T3H1.RC0"]; got != want {
		t.Errorf("T3H1.RC0: higher band CRC-32 %08X, ITU-T publishes %08X", got, want)
	}
}
