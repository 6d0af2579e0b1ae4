package dtlssrtp

import (
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/pion/dtls/v3"

	"github.com/deskphone/phone/voip/sdp"
)

// TestProfilesFor: a line's suite list gives the use_srtp profiles in
// its order; a profile outside the list is not ours.
func TestProfilesFor(t *testing.T) {
	got := profilesFor(sdp.SuitesOr(nil))
	want := []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80, dtls.SRTP_AES128_CM_HMAC_SHA1_32}
	if !slices.Equal(got, want) {
		t.Fatalf("default profiles %v", got)
	}
	one := profilesFor([]string{sdp.SuiteAES128CMSHA1_32, sdp.SuiteAES128CMSHA1_80})
	if !slices.Equal(one, []dtls.SRTPProtectionProfile{dtls.SRTP_AES128_CM_HMAC_SHA1_32, dtls.SRTP_AES128_CM_HMAC_SHA1_80}) {
		t.Fatalf("profiles %v", one)
	}
	if _, ok := suiteOf(dtls.SRTP_AEAD_AES_128_GCM, one); ok {
		t.Fatal("a profile outside the list was taken")
	}
	if s, ok := suiteOf(dtls.SRTP_AES128_CM_HMAC_SHA1_32, one); !ok || s != sdp.SuiteAES128CMSHA1_32 {
		t.Fatalf("suiteOf: %q %v", s, ok)
	}
	cert, err := NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_, err = New(Config{Conn: pc, Certificate: cert, Role: sdp.SetupActive,
		Fingerprints: []sdp.Fingerprint{cert.Fingerprint()}, Suites: []string{"NULL"}})
	if !errors.Is(err, ErrBadConfig) {
		t.Fatalf("unknown suite: %v", err)
	}
}
