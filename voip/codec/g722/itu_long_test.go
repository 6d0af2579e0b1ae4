package g722

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// The long decoder sequence of G.722 Appendix II, T1D3.COD (16 416
// words), is made of codes an encoder never produces (lower-band codes 0
// to 3 among them), which the short sequences do not reach. It is so
// regular that it is rebuilt here from its structure rather than kept in
// testdata, and the rebuilt sequence must match the CRC-32 ITU-T
// publishes for bt1d3.cod (g722-ts-le/bin/00readme-g.722-testvectors-le.txt),
// so it is the genuine sequence, word for word. The decoder's outputs are
// checked against the published CRC-32s of bt3l3.rc1..rc3 and bt3h3.rc0:
// bit-exact without storing them.
//
// Structure (read from the ASCII distribution, G.722_MB-testvectors/
// g722-ascii/T1D3.COD): a line of 16 reset words (0x0001) at each end;
// between them, code words 0bTTTLLLLL_00000000 where L, the low five bits
// of the 8-bit code, walks down from 31 to 0: 17 lines at 31, then for
// each lower L 15 lines alternating new and old L (new first and last)
// and 17 lines at the new L; then 15 lines alternating 3 and 0. T, the
// top three bits, follows a periodic pattern over the words of a block,
// one pattern for each four steps of L: a block starts with the 17
// steady lines at L = 31, 27, 23, ..., 3.

// crcT1D3 is ITU-T's CRC-32 of bt1d3.cod (little-endian words).
const crcT1D3 = 0x7398964F

// ituLongCRC are ITU-T's CRC-32s of the decoder outputs for T1D3.COD.
var ituLongCRC = map[string]uint32{
	"T3L3.RC1": 0xA5374659,
	"T3L3.RC2": 0x687B250A,
	"T3L3.RC3": 0x3605736B,
	"T3H3.RC0": 0x3731AD7F,
}

// t1d3Tops are the top-three-bit patterns of the eight blocks.
var t1d3Tops = [8][]uint16{
	{2, 2, 7},
	{7, 7, 7, 7, 2, 2, 2, 2, 7, 7, 7, 7, 2, 2, 2, 2, 5, 5, 5, 5, 0, 0, 0, 0, 5, 5, 5, 5, 0, 0, 0, 0},
	{5},
	{7, 7, 2, 2, 7, 7, 2, 2, 5, 5, 0, 0, 5, 5, 0, 0},
	{5, 0},
	{2, 2, 2, 2, 0, 5, 0, 0},
	{2, 2, 7, 2, 7},
	{7, 7, 0, 0, 2, 7, 5, 0, 2, 2, 5, 5, 2, 2, 0, 5, 7, 2, 0, 0},
}

// t1d3 rebuilds T1D3.COD.
func t1d3() []uint16 {
	const lineWords = 16
	var words []uint16
	reset := func() {
		for range lineWords {
			words = append(words, 1)
		}
	}
	block, phase := -1, 0
	line := func(l int) {
		top := t1d3Tops[block]
		for range lineWords {
			words = append(words, (top[phase%len(top)]<<5|uint16(l))<<8)
			phase++
		}
	}
	steady := func(l int) {
		if (31-l)%4 == 0 { // a new block begins with its steady lines
			block, phase = (31-l)/4, 0
		}
		for range 17 {
			line(l)
		}
	}
	alternate := func(newL, oldL int) {
		for i := range 15 {
			if i%2 == 0 {
				line(newL)
			} else {
				line(oldL)
			}
		}
	}
	reset()
	steady(31)
	for l := 30; l >= 0; l-- {
		alternate(l, l+1)
		steady(l)
	}
	alternate(3, 0)
	reset()
	return words
}

func crcLE(words []uint16) uint32 {
	b := make([]byte, 2*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint16(b[2*i:], w)
	}
	return crc32.ChecksumIEEE(b)
}

func TestITUDecoderT1D3(t *testing.T) {
	codes := t1d3()
	if len(codes) != 16416 || crcLE(codes) != crcT1D3 {
		t.Fatalf("rebuilt T1D3.COD: %d words, CRC-32 %08X; ITU-T publishes 16416 words, %08X", len(codes), crcLE(codes), uint32(crcT1D3))
	}
	var high []uint16
	for _, m := range []struct {
		mode Mode
		file string
	}{{Mode1, "T3L3.RC1"}, {Mode2, "T3L3.RC2"}, {Mode3, "T3L3.RC3"}} {
		var low, hb band
		low.reset(true)
		hb.reset(false)
		outL := make([]uint16, len(codes))
		outH := make([]uint16, len(codes))
		for i, w := range codes {
			if w&1 == 1 {
				low.reset(true)
				hb.reset(false)
				outL[i], outH[i] = w, w
				continue
			}
			outL[i] = uint16(low.decodeLow(int32(w>>8)&0x3f, m.mode) << 1)
			outH[i] = uint16(hb.decodeHigh(int32(w>>14)) << 1)
		}
		if got, want := crcLE(outL), ituLongCRC[m.file]; got != want {
			t.Errorf("%s: lower band CRC-32 %08X, ITU-T publishes %08X", m.file, got, want)
		}
		high = outH
	}
	if got, want := crcLE(high), ituLongCRC["T3H3.RC0"]; got != want {
		t.Errorf("T3H3.RC0: higher band CRC-32 %08X, ITU-T publishes %08X", got, want)
	}
}
