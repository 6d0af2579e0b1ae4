package srtp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/deskphone/phone/voip/sdp"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func key(t testing.TB, suite string, fill byte) []byte {
	k, s, ok := sdp.SuiteKeyLen(suite)
	if !ok {
		t.Fatalf("suite %s", suite)
	}
	b := make([]byte, k+s)
	for i := range b {
		b[i] = fill + byte(i)
	}
	return b
}

// pair returns the two ends of a stream: a sends with its key, b
// decrypts with it, and the other way round.
func pair(t testing.TB, suite string, ka, kb []byte) (*Session, *Session) {
	t.Helper()
	a, err := New(sdp.SRTP{Suite: suite, Local: sdp.Crypto{Suite: suite, Key: ka}, Remote: sdp.Crypto{Suite: suite, Key: kb}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(sdp.SRTP{Suite: suite, Local: sdp.Crypto{Suite: suite, Key: kb}, Remote: sdp.Crypto{Suite: suite, Key: ka}})
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func rtpPacket(t testing.TB, seq uint16, payload []byte) []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0xdecafbad}, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKnownAnswerAESCM checks a protected packet byte for byte against
// an independent RFC 3711 construction (AES-CM §4.1.1, HMAC-SHA1 §4.2)
// over the session keys RFC 3711 Appendix B.3 derives from its master
// key and salt: so the key derivation, keystream, IV and tag are all
// those of the RFC.
func TestKnownAnswerAESCM(t *testing.T) {
	master := append(unhex(t, "E1F97A0D3E018BE0D64FA32C06DE4139"), unhex(t, "0EC675AD498AFEEBB6960B3AABE6")...)
	encKey := unhex(t, "C61E7A93744F39EE10734AFE3FF7A087")
	salt := unhex(t, "30CBBC08863D8C85D49DB34A9AE1")
	authKey := unhex(t, "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
	for _, tc := range []struct {
		suite  string
		tagLen int
	}{{sdp.SuiteAES128CMSHA1_80, 10}, {sdp.SuiteAES128CMSHA1_32, 4}} {
		s, err := New(sdp.SRTP{Suite: tc.suite, Local: sdp.Crypto{Key: master}, Remote: sdp.Crypto{Key: master}})
		if err != nil {
			t.Fatal(err)
		}
		payload := bytes.Repeat([]byte{0xab}, 160)
		plain := rtpPacket(t, 0x1234, payload)
		got, err := s.ProtectRTP(nil, plain)
		if err != nil {
			t.Fatal(err)
		}
		// IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16).
		var iv [16]byte
		copy(iv[:14], salt)
		ssrc := binary.BigEndian.Uint32(plain[8:])
		for i := range 4 {
			iv[4+i] ^= byte(ssrc >> (24 - 8*i))
		}
		iv[12] ^= 0x12 // index 0x1234, ROC 0
		iv[13] ^= 0x34
		blk, _ := aes.NewCipher(encKey)
		want := bytes.Clone(plain)
		cipher.NewCTR(blk, iv[:]).XORKeyStream(want[12:], want[12:])
		mac := hmac.New(sha1.New, authKey)
		mac.Write(want)
		mac.Write([]byte{0, 0, 0, 0}) // ROC
		want = append(want, mac.Sum(nil)[:tc.tagLen]...)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s:\n got %x\nwant %x", tc.suite, got, want)
		}
		back, err := s.UnprotectRTP(nil, got)
		if err != nil || !bytes.Equal(back, plain) {
			t.Fatalf("%s: unprotect %v", tc.suite, err)
		}
	}
}

func TestRoundTripTamperReplay(t *testing.T) {
	for _, suite := range sdp.Suites {
		t.Run(suite, func(t *testing.T) {
			a, b := pair(t, suite, key(t, suite, 1), key(t, suite, 100))
			payload := bytes.Repeat([]byte{0x55}, 160)
			for seq := uint16(65530); seq != 10; seq++ { // across the rollover
				plain := rtpPacket(t, seq, payload)
				sec, err := a.ProtectRTP(make([]byte, 0, 1500), plain)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(sec, payload[:16]) {
					t.Fatal("payload in the clear")
				}
				wire := bytes.Clone(sec)
				bad := bytes.Clone(sec)
				bad[len(bad)/2] ^= 1
				if _, err := b.UnprotectRTP(nil, bad); !errors.Is(err, ErrAuth) {
					t.Fatalf("tampered: %v", err)
				}
				got, err := b.UnprotectRTP(sec[:0], sec) // in place
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("seq %d: %v", seq, err)
				}
				if _, err := b.UnprotectRTP(nil, wire); !errors.Is(err, ErrReplay) {
					t.Fatalf("replay: %v", err)
				}
			}
			// RTCP both ways.
			rr, _ := (&rtcp.ReceiverReport{SSRC: 7}).Marshal()
			sec, err := b.ProtectRTCP(nil, rr)
			if err != nil {
				t.Fatal(err)
			}
			wire := bytes.Clone(sec)
			got, err := a.UnprotectRTCP(nil, sec)
			if err != nil || !bytes.Equal(got, rr) {
				t.Fatalf("rtcp: %v", err)
			}
			if _, err := a.UnprotectRTCP(nil, wire); !errors.Is(err, ErrReplay) {
				t.Fatalf("rtcp replay: %v", err)
			}
			st := b.Stats()
			if st.Unprotected != 16 || st.Replayed != 16 || st.AuthFailed != 16 || st.Suite != suite || st.Keying != "sdes" || st.Protected != 1 {
				t.Fatalf("stats %+v", st)
			}
			// Garbage and a wrong key are refused.
			c, _ := pair(t, suite, key(t, suite, 9), key(t, suite, 100))
			sec, _ = c.ProtectRTP(nil, rtpPacket(t, 100, payload))
			if _, err := b.UnprotectRTP(nil, sec); !errors.Is(err, ErrAuth) {
				t.Fatalf("wrong key: %v", err)
			}
			for _, g := range [][]byte{nil, {0x80}, rtpPacket(t, 200, nil), bytes.Repeat([]byte{0x80}, 40)} {
				if _, err := b.UnprotectRTP(nil, g); !errors.Is(err, ErrAuth) {
					t.Fatalf("garbage %x: %v", g, err)
				}
			}
		})
	}
}

func TestRekey(t *testing.T) {
	suite := sdp.SuiteAES128CMSHA1_80
	k1, k2 := key(t, suite, 1), key(t, suite, 100)
	a, b := pair(t, suite, k1, k2)
	payload := []byte("hello")
	send := func(s *Session, seq uint16) []byte {
		sec, err := s.ProtectRTP(nil, rtpPacket(t, seq, payload))
		if err != nil {
			t.Fatal(err)
		}
		return sec
	}
	if _, err := b.UnprotectRTP(nil, send(a, 1)); err != nil {
		t.Fatal(err)
	}
	inFlight := send(a, 2) // under the old key
	// a's new key; b learns it from the answer.
	k3 := key(t, sdp.SuiteAEADAES128GCM, 50)
	newA := sdp.SRTP{Suite: sdp.SuiteAEADAES128GCM, Local: sdp.Crypto{Key: k3}, Remote: sdp.Crypto{Key: key(t, sdp.SuiteAEADAES128GCM, 150)}}
	if err := a.Rekey(newA); err != nil {
		t.Fatal(err)
	}
	if err := b.Rekey(sdp.SRTP{Suite: newA.Suite, Local: newA.Remote, Remote: newA.Local}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UnprotectRTP(nil, inFlight); err != nil {
		t.Fatalf("old key in flight: %v", err)
	}
	if _, err := b.UnprotectRTP(nil, send(a, 3)); err != nil {
		t.Fatalf("new key: %v", err)
	}
	// Once the new key is heard the old one is gone.
	old, _ := pair(t, suite, k1, k2)
	stale, _ := old.ProtectRTP(nil, rtpPacket(t, 4, payload))
	if _, err := b.UnprotectRTP(nil, stale); !errors.Is(err, ErrAuth) {
		t.Fatalf("old key after the new one was heard: %v", err)
	}
	if st := b.Stats(); st.Rekeys != 1 || st.Suite != sdp.SuiteAEADAES128GCM {
		t.Fatalf("%+v", st)
	}
	if err := b.Rekey(sdp.SRTP{}); !errors.Is(err, ErrNotSecured) {
		t.Fatalf("downgrade: %v", err)
	}
}

func TestLifetimeAndMKI(t *testing.T) {
	suite := sdp.SuiteAES128CMSHA1_32
	k1, k2 := key(t, suite, 1), key(t, suite, 100)
	a, err := New(sdp.SRTP{Suite: suite, Local: sdp.Crypto{Key: k1}, Remote: sdp.Crypto{Key: k2}})
	if err != nil {
		t.Fatal(err)
	}
	// The peer sends with MKI 1:4 and a lifetime of 2 packets.
	b, err := New(sdp.SRTP{Suite: suite, Local: sdp.Crypto{Key: k2, MKI: []byte{0, 0, 0, 1}}, Remote: sdp.Crypto{Key: k1}})
	if err != nil || b == nil {
		t.Fatal(err)
	}
	peerOut, err := context(suite, sdp.Crypto{Key: k2, MKI: []byte{0, 0, 0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := New(sdp.SRTP{Suite: suite, Local: sdp.Crypto{Key: k1}, Remote: sdp.Crypto{Key: k2, MKI: []byte{0, 0, 0, 1}, Lifetime: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint16(1); seq <= 3; seq++ {
		sec, err := peerOut.EncryptRTP(nil, rtpPacket(t, seq, []byte("x")), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a2.UnprotectRTP(nil, sec)
		if seq <= 2 && err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		if seq == 3 && !errors.Is(err, ErrExpired) {
			t.Fatalf("beyond lifetime: %v", err)
		}
		// Without the MKI configured, the packet does not authenticate.
		if _, err := a.UnprotectRTP(nil, sec); err == nil {
			t.Fatal("MKI packet accepted by a context without MKI")
		}
	}
	if st := a2.Stats(); st.Expired != 1 || st.Unprotected != 2 {
		t.Fatalf("%+v", st)
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := New(sdp.SRTP{}); !errors.Is(err, ErrNotSecured) {
		t.Fatal(err)
	}
	if _, err := New(sdp.SRTP{Suite: "NULL", Local: sdp.Crypto{Key: make([]byte, 30)}, Remote: sdp.Crypto{Key: make([]byte, 30)}}); !errors.Is(err, sdp.ErrUnknownSuite) {
		t.Fatal(err)
	}
	if _, err := New(sdp.SRTP{Suite: sdp.SuiteAEADAES128GCM, Local: sdp.Crypto{Key: make([]byte, 30)}, Remote: sdp.Crypto{Key: make([]byte, 28)}}); !errors.Is(err, sdp.ErrCrypto) {
		t.Fatal(err)
	}
}

func BenchmarkProtect(b *testing.B) {
	for _, suite := range sdp.Suites {
		b.Run(suite, func(b *testing.B) {
			s, _ := pair(b, suite, key(b, suite, 1), key(b, suite, 2))
			plain := rtpPacket(b, 1, make([]byte, 160))
			dst := make([]byte, 0, 1500)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				binary.BigEndian.PutUint16(plain[2:], uint16(i))
				if _, err := s.ProtectRTP(dst, plain); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnprotect(b *testing.B) {
	for _, suite := range sdp.Suites {
		b.Run(suite, func(b *testing.B) {
			a, r := pair(b, suite, key(b, suite, 1), key(b, suite, 2))
			const n = 4096
			pkts := make([][]byte, n)
			for i := range pkts {
				pkts[i], _ = a.ProtectRTP(nil, rtpPacket(b, uint16(i), make([]byte, 160)))
			}
			buf := make([]byte, 1500)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == n {
					b.StopTimer()
					a, r = pair(b, suite, key(b, suite, 1), key(b, suite, 2))
					for j := range pkts {
						pkts[j], _ = a.ProtectRTP(pkts[j][:0], rtpPacket(b, uint16(j), make([]byte, 160)))
					}
					i = 0
					b.StartTimer()
				}
				p := pkts[i]
				copy(buf, p)
				if _, err := r.UnprotectRTP(buf[:0], buf[:len(p)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
