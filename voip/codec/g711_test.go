package codec

import (
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// vectors holds the ITU-T G.191 STL G.711 reference files and the per-code
// table derived from them (provenance in its README.md).
var vectors = filepath.Join("testdata", "g711")

// stlCRC is the CRC-32 of each STL file as the STL README lists it
// (little-endian column), so a damaged copy fails loudly.
var stlCRC = map[string]uint32{
	"sweep.src":   0xC8BA7682,
	"sweep-r.a":   0x74719FE4,
	"sweep-r.u":   0xCD170E15,
	"sweep-r.rea": 0xABCEAA69,
	"sweep-r.a-a": 0xABCEAA69,
	"sweep-r.reu": 0x63641C01,
	"sweep-r.u-u": 0x63641C01,
}

// readSTL reads one STL test file (stored gzip-compressed): 65536
// little-endian 16-bit words.
func readSTL(t *testing.T, name string) []int16 {
	t.Helper()
	f, err := os.Open(filepath.Join(vectors, name+".gz"))
	if err != nil {
		t.Fatalf("ITU-T STL vector missing: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(b) != 131072 {
		t.Fatalf("%s: %d bytes, want 131072", name, len(b))
	}
	if got, want := crc32.ChecksumIEEE(b), stlCRC[name]; got != want {
		t.Fatalf("%s: CRC-32 %08X, want %08X (the STL README's)", name, got, want)
	}
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

func TestSTLSweepInput(t *testing.T) {
	src := readSTL(t, "sweep.src")
	for i, x := range src {
		if int(x) != i-32768 {
			t.Fatalf("sweep.src[%d] = %d, want %d (byte order?)", i, x, i-32768)
		}
	}
}

// TestSTLEncode checks every 16-bit input against the STL encoded files,
// through the table path (Codec.Encode), the single-sample functions and
// the reference algorithms.
func TestSTLEncode(t *testing.T) {
	src := readSTL(t, "sweep.src")
	for _, tc := range []struct {
		file   string
		codec  Codec
		single func(int16) byte
		ref    func(int16) byte
	}{
		{"sweep-r.u", PCMU, LinearToUlaw, refUlawCompress},
		{"sweep-r.a", PCMA, LinearToAlaw, refAlawCompress},
	} {
		t.Run(tc.codec.Name(), func(t *testing.T) {
			want := readSTL(t, tc.file)
			got := tc.codec.Encode(nil, src)
			if len(got) != len(src) {
				t.Fatalf("Encode returned %d bytes for %d samples", len(got), len(src))
			}
			bad := 0
			for i, x := range src {
				w := want[i]
				if w < 0 || w > 255 {
					t.Fatalf("%s[%d] = %d: not a code byte", tc.file, i, w)
				}
				if got[i] != byte(w) || tc.single(x) != byte(w) || tc.ref(x) != byte(w) {
					if bad++; bad <= 10 {
						t.Errorf("encode(%d) = table %#02x single %#02x ref %#02x, STL %#02x",
							x, got[i], tc.single(x), tc.ref(x), w)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of 65536 inputs differ from %s", bad, tc.file)
			}
		})
	}
}

// TestSTLDecode checks decode(encode(x)) against the STL lili/loli files
// for every input, which covers all 256 codes of each law.
func TestSTLDecode(t *testing.T) {
	src := readSTL(t, "sweep.src")
	for _, tc := range []struct {
		files  []string
		codec  Codec
		single func(byte) int16
	}{
		{[]string{"sweep-r.u-u", "sweep-r.reu"}, PCMU, UlawToLinear},
		{[]string{"sweep-r.a-a", "sweep-r.rea"}, PCMA, AlawToLinear},
	} {
		for _, f := range tc.files {
			t.Run(tc.codec.Name()+"/"+f, func(t *testing.T) {
				want := readSTL(t, f)
				codes := tc.codec.Encode(nil, src)
				got := tc.codec.Decode(nil, codes)
				seen := map[byte]bool{}
				bad := 0
				for i := range src {
					seen[codes[i]] = true
					if got[i] != want[i] || tc.single(codes[i]) != want[i] {
						if bad++; bad <= 10 {
							t.Errorf("decode(%#02x) = %d, STL %d", codes[i], got[i], want[i])
						}
					}
				}
				if len(seen) != 256 {
					t.Errorf("sweep reached %d codes, want 256", len(seen))
				}
			})
		}
	}
}

// TestCodeTableCSV checks each code's decoded value and the exact input
// range that encodes to it, from the per-code CSV derived from the STL.
func TestCodeTableCSV(t *testing.T) {
	f, err := os.Open(filepath.Join(vectors, "g711_code_table_from_itu_stl.csv"))
	if err != nil {
		t.Fatalf("code table missing: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 257 {
		t.Fatalf("%d rows, want header + 256", len(rows))
	}
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("bad number %q: %v", s, err)
		}
		return n
	}
	for _, r := range rows[1:] {
		code := byte(num(r[1]))
		check := func(law string, dec func(byte) int16, enc func(int16) byte, v, lo, hi string) {
			if got, want := int(dec(code)), num(v); got != want {
				t.Errorf("%s decode(%#02x) = %d, want %d", law, code, got, want)
			}
			l, h := num(lo), num(hi)
			for _, x := range []int{l, (l + h) / 2, h} {
				if got := enc(int16(x)); got != code {
					t.Errorf("%s encode(%d) = %#02x, want %#02x", law, x, got, code)
				}
			}
			if l > -32768 && enc(int16(l-1)) == code {
				t.Errorf("%s encode(%d) = %#02x, outside its range", law, l-1, code)
			}
			if h < 32767 && enc(int16(h+1)) == code {
				t.Errorf("%s encode(%d) = %#02x, outside its range", law, h+1, code)
			}
		}
		check("A-law", AlawToLinear, LinearToAlaw, r[2], r[3], r[4])
		check("µ-law", UlawToLinear, LinearToUlaw, r[5], r[6], r[7])
	}
}

// TestSelectedValues pins a few values from the vectors' INDEX.md, so a
// failure names a value a reader can check by hand.
func TestSelectedValues(t *testing.T) {
	for _, c := range []struct {
		x    int16
		a    byte
		aDec int16
		u    byte
		uDec int16
	}{
		{0, 0xD5, 8, 0xFF, 0},
		{-1, 0x55, -8, 0x7F, 0},
		{4, 0xD5, 8, 0xFE, 8},
		{-8, 0x55, -8, 0x7E, -8},
		{-17, 0x54, -24, 0x7D, -16},
		{100, 0xD3, 104, 0xF2, 104},
		{-100, 0x53, -104, 0x73, -96},
		{1000, 0xFA, 1008, 0xCE, 988},
		{-1000, 0x7A, -1008, 0x4E, -988},
		{4096, 0x85, 4224, 0xAF, 4092},
		{8192, 0xB5, 8448, 0x9F, 8316},
		{16384, 0xA5, 16896, 0x8F, 16764},
		{-16384, 0x3A, -16128, 0x0F, -16764},
		{32767, 0xAA, 32256, 0x80, 32124},
		{-32768, 0x2A, -32256, 0x00, -32124},
	} {
		if got := LinearToAlaw(c.x); got != c.a {
			t.Errorf("LinearToAlaw(%d) = %#02x, want %#02x", c.x, got, c.a)
		}
		if got := AlawToLinear(c.a); got != c.aDec {
			t.Errorf("AlawToLinear(%#02x) = %d, want %d", c.a, got, c.aDec)
		}
		if got := LinearToUlaw(c.x); got != c.u {
			t.Errorf("LinearToUlaw(%d) = %#02x, want %#02x", c.x, got, c.u)
		}
		if got := UlawToLinear(c.u); got != c.uDec {
			t.Errorf("UlawToLinear(%#02x) = %d, want %d", c.u, got, c.uDec)
		}
	}
}

// TestReencodeStable checks that decoding a code and encoding the result
// gives the code back, except µ-law's negative zero (0x7F decodes to 0,
// which encodes as positive zero 0xFF).
func TestReencodeStable(t *testing.T) {
	for i := range 256 {
		b := byte(i)
		if got := LinearToAlaw(AlawToLinear(b)); got != b {
			t.Errorf("A-law %#02x -> %d -> %#02x", b, AlawToLinear(b), got)
		}
		want := b
		if b == 0x7F {
			want = 0xFF
		}
		if got := LinearToUlaw(UlawToLinear(b)); got != want {
			t.Errorf("µ-law %#02x -> %d -> %#02x, want %#02x", b, UlawToLinear(b), got, want)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, c := range []struct {
		name string
		pt   uint8
		want Codec
	}{{"PCMU", 0, PCMU}, {"pcmu", 0, PCMU}, {"PCMA", 8, PCMA}, {"pcmA", 8, PCMA}} {
		got, ok := ByName(c.name)
		if !ok || got != c.want {
			t.Errorf("ByName(%q) = %v, %v", c.name, got, ok)
		}
		if got.PayloadType() != c.pt || got.ClockRate() != 8000 {
			t.Errorf("%s: PT %d rate %d", got.Name(), got.PayloadType(), got.ClockRate())
		}
		got, ok = ByPayloadType(c.pt)
		if !ok || got != c.want {
			t.Errorf("ByPayloadType(%d) = %v, %v", c.pt, got, ok)
		}
	}
	// G.722 is stateful: each lookup is a codec of its own.
	a, ok1 := ByName("g722")
	b, ok2 := ByPayloadType(9)
	if !ok1 || !ok2 || a == b || a.Name() != "G722" || a.ClockRate() != 8000 || a.SampleRate() != 16000 || b.PayloadType() != 9 {
		t.Errorf("G722 lookups: %v %v, %v %v", a, ok1, b, ok2)
	}
	for _, n := range []string{"", "G7221", "PCM", "telephone-event"} {
		if c, ok := ByName(n); ok {
			t.Errorf("ByName(%q) = %v, want none", n, c)
		}
	}
	for _, pt := range []uint8{1, 3, 18, 101, 255} {
		if c, ok := ByPayloadType(pt); ok {
			t.Errorf("ByPayloadType(%d) = %v, want none", pt, c)
		}
	}
}

// TestAppend checks that Encode and Decode append after existing content
// and do not allocate into a presized dst.
func TestAppend(t *testing.T) {
	pcm := []int16{0, 1000, -1000, 32767}
	for _, c := range []Codec{PCMU, PCMA} {
		enc := c.Encode([]byte{0xAB}, pcm)
		if len(enc) != 5 || enc[0] != 0xAB {
			t.Fatalf("%s Encode did not append: %x", c.Name(), enc)
		}
		dec := c.Decode([]int16{7}, enc[1:])
		if len(dec) != 5 || dec[0] != 7 {
			t.Fatalf("%s Decode did not append: %v", c.Name(), dec)
		}
		for i, s := range pcm {
			if d := dec[i+1] - s; d > 1100 || d < -1100 {
				t.Errorf("%s round trip %d -> %d", c.Name(), s, dec[i+1])
			}
		}
		frame := make([]int16, 160)
		bdst := make([]byte, 0, 160)
		sdst := make([]int16, 0, 160)
		if n := testing.AllocsPerRun(100, func() { _ = c.Encode(bdst[:0], frame) }); n != 0 {
			t.Errorf("%s Encode: %v allocs", c.Name(), n)
		}
		if n := testing.AllocsPerRun(100, func() { _ = c.Decode(sdst[:0], bdst[:160]) }); n != 0 {
			t.Errorf("%s Decode: %v allocs", c.Name(), n)
		}
	}
}

func benchFrame() []int16 {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i*409 - 32768) // spread over the range
	}
	return pcm
}

func benchEncode(b *testing.B, c Codec) {
	pcm := benchFrame()
	dst := make([]byte, 0, len(pcm))
	b.ReportAllocs()
	b.SetBytes(int64(len(pcm)) * 2)
	for b.Loop() {
		dst = c.Encode(dst[:0], pcm)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pcm)), "ns/sample")
}

func benchDecode(b *testing.B, c Codec) {
	payload := c.Encode(nil, benchFrame())
	dst := make([]int16, 0, len(payload))
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		dst = c.Decode(dst[:0], payload)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(payload)), "ns/sample")
}

// The benchmarks work on one 20 ms frame (160 samples) and report the
// cost per sample.
func BenchmarkEncodePCMU(b *testing.B) { benchEncode(b, PCMU) }
func BenchmarkEncodePCMA(b *testing.B) { benchEncode(b, PCMA) }
func BenchmarkDecodePCMU(b *testing.B) { benchDecode(b, PCMU) }
func BenchmarkDecodePCMA(b *testing.B) { benchDecode(b, PCMA) }
