package jitter

import (
	"encoding/binary"
	"testing"
	"time"
)

// FuzzBuffer drives the buffer with an arbitrary schedule: each 8-byte
// record is a push (seq, ts delta, marker, length, arrival delta) or a pull
// of a frame of arbitrary size. It must never panic, and every pull must
// return samples that came from a packet, concealment or silence.
func FuzzBuffer(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 160, 0, 20, 0, 1, 0, 1, 160, 160, 0, 20, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 80, 1, 10, 0, 0, 0, 0, 0, 240, 0, 30, 1, 3, 0, 0, 0, 0, 0, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := New(Config{Decode: constDecode, MaxPacketSamples: 480})
		if err != nil {
			t.Fatal(err)
		}
		at := t0
		var ts uint32
		payload := make([]byte, 1024)
		for i := range payload {
			payload[i] = 1 // every received sample is 100
		}
		dst := make([]int16, 2048)
		for len(data) >= 8 {
			r := data[:8]
			data = data[8:]
			at = at.Add(time.Duration(r[6]) * time.Millisecond)
			if r[7]&1 == 0 {
				seq := binary.BigEndian.Uint16(r[0:2])
				ts += uint32(int32(int16(binary.BigEndian.Uint16(r[2:4])))) * 8
				n := int(r[4]) * 4
				b.Push(seq, ts, r[5]&1 == 1, payload[:n], at)
				continue
			}
			out := dst[:int(r[4])*8]
			b.NextFrame(out)
			for _, v := range out {
				if v > 100 || v < 0 {
					t.Fatalf("sample %d from packets of 100", v)
				}
			}
		}
		_ = b.Stats()
	})
}
