package g722

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The ITU-T digital test sequences of G.722 Appendix II in their ASCII
// distribution form (testdata/itu, from the Recommendation's 09/2012
// software package, folder G.722_MB-testvectors/g722-ascii): one line
// per 16 words, four hex digits a word, then a two-digit line check. Each
// file is checked against the CRC-32 that ITU-T publishes for its
// little-endian binary form (00readme-g.722-testvectors-le.txt), so a
// damaged copy fails loudly rather than testing nothing.
var ituCRC = map[string]uint32{
	"T1C1.XMT": 0x0C3BFCA7,
	"T1C2.XMT": 0x2D604685,
	"T2R2.COD": 0x344EA5D0,
	"T3H2.RC0": 0x5330AE2E,
	"T3L2.RC1": 0xAF00F31F,
	"T3L2.RC2": 0x9143E92C,
	"T3L2.RC3": 0xAE855C07,
}

// sequence reads one test sequence as 16-bit words.
func sequence(t *testing.T, name string) []uint16 {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "itu", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var words []uint16
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "/*") {
			continue
		}
		b, err := hex.DecodeString(line)
		if err != nil || len(b)%2 != 1 {
			t.Fatalf("%s:%d: not a line of hex words and a check: %q", name, n, line)
		}
		for i := 0; i+1 < len(b); i += 2 {
			words = append(words, binary.BigEndian.Uint16(b[i:]))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	le := make([]byte, 2*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint16(le[2*i:], w)
	}
	if got, want := crc32.ChecksumIEEE(le), ituCRC[name]; got != want {
		t.Fatalf("%s: CRC-32 %08X, ITU-T publishes %08X: the copy is damaged", name, got, want)
	}
	return words
}

// The test harness of the Recommendation (tstcg722/tstdg722) drives the
// band coders with the QMF bypassed: an input word with bit 0 set resets
// both bands (and is copied through); otherwise the word shifted right
// once is the sample for both bands, and the code comes out in the high
// octet. The decoder's outputs are the reconstructed samples shifted left
// once.

func TestITUEncoder(t *testing.T) {
	in, want := sequence(t, "T1C2.XMT"), sequence(t, "T2R2.COD")
	if len(in) != len(want) {
		t.Fatalf("%d input words, %d reference words", len(in), len(want))
	}
	var low, high band
	low.reset(true)
	high.reset(false)
	for i, w := range in {
		var got uint16
		if w&1 == 1 {
			low.reset(true)
			high.reset(false)
			got = w
		} else {
			x := int32(int16(w) >> 1)
			il := low.encodeLow(x)
			ih := high.encodeHigh(x)
			got = uint16(ih<<6|il) << 8
		}
		if got != want[i] {
			t.Fatalf("word %d: code %04X, reference %04X", i, got, want[i])
		}
	}
}

func TestITUDecoder(t *testing.T) {
	codes, wantHigh := sequence(t, "T2R2.COD"), sequence(t, "T3H2.RC0")
	for _, m := range []struct {
		mode Mode
		file string
	}{{Mode1, "T3L2.RC1"}, {Mode2, "T3L2.RC2"}, {Mode3, "T3L2.RC3"}} {
		t.Run(m.file, func(t *testing.T) {
			wantLow := sequence(t, m.file)
			var low, high band
			low.reset(true)
			high.reset(false)
			for i, w := range codes {
				var gotL, gotH uint16
				if w&1 == 1 {
					low.reset(true)
					high.reset(false)
					gotL, gotH = w, w
				} else {
					gotL = uint16(low.decodeLow(int32(w>>8)&0x3f, m.mode) << 1)
					gotH = uint16(high.decodeHigh(int32(w>>14)) << 1)
				}
				if gotL != wantLow[i] {
					t.Fatalf("word %d (code %04X): lower band %04X, reference %04X", i, w, gotL, wantLow[i])
				}
				if gotH != wantHigh[i] {
					t.Fatalf("word %d (code %04X): higher band %04X, reference %04X", i, w, gotH, wantHigh[i])
				}
			}
		})
	}
}
