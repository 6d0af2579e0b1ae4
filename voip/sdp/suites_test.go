package sdp

import (
	"errors"
	"slices"
	"testing"
)

func TestCheckSuites(t *testing.T) {
	for _, ok := range [][]string{nil, {SuiteAES128CMSHA1_32}, {SuiteAES128CMSHA1_80, SuiteAEADAES128GCM}, Suites} {
		if err := CheckSuites(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	if err := CheckSuites([]string{"AES_256_CM_HMAC_SHA1_80"}); !errors.Is(err, ErrUnknownSuite) {
		t.Errorf("unknown suite: %v", err)
	}
	if err := CheckSuites([]string{SuiteAES128CMSHA1_80, SuiteAES128CMSHA1_80}); err == nil {
		t.Error("a suite listed twice passed")
	}
	if got := SuitesOr(nil); !slices.Equal(got, Suites) || &got[0] == &Suites[0] {
		t.Errorf("SuitesOr(nil) = %v, want a copy of Suites", got)
	}
}

// keysFor returns test keys for the suites named, in that order.
func keysFor(t *testing.T, fill byte, suites ...string) []Crypto {
	var out []Crypto
	for _, s := range suites {
		for _, c := range testKeys(t, fill) {
			if c.Suite == s {
				out = append(out, c)
			}
		}
	}
	return out
}

// TestSuiteLists: a line's suite list decides what it offers, in its
// order, and what its answer takes (the first of the offer's lines whose
// suite it lists); with none in common a required line refuses and an
// optional one answers plain.
func TestSuiteLists(t *testing.T) {
	off := srtpLocal(t, 4000, SRTPOptional, 1)
	off.Crypto = keysFor(t, 1, SuiteAES128CMSHA1_32, SuiteAES128CMSHA1_80)
	offer, err := Parse(Offer(off).Marshal())
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := offer.Media[0].Cryptos()
	if len(cs) != 2 || cs[0].Suite != SuiteAES128CMSHA1_32 || cs[0].Tag != 1 || cs[1].Suite != SuiteAES128CMSHA1_80 || cs[1].Tag != 2 {
		t.Fatalf("offer's a=crypto lines: %v", cs)
	}
	for _, tc := range []struct {
		name   string
		policy Policy
		suites []string
		want   string // "" plain
		err    error
	}{
		{"answerer's own order does not matter", SRTPRequired, []string{SuiteAEADAES128GCM, SuiteAES128CMSHA1_80, SuiteAES128CMSHA1_32}, SuiteAES128CMSHA1_32, nil},
		{"only the second offered", SRTPRequired, []string{SuiteAES128CMSHA1_80}, SuiteAES128CMSHA1_80, nil},
		{"none in common, required", SRTPRequired, []string{SuiteAEADAES128GCM}, "", ErrInsecure},
		{"none in common, optional", SRTPOptional, []string{SuiteAEADAES128GCM}, "", nil},
	} {
		ans := srtpLocal(t, 5000, tc.policy, 2)
		ans.Crypto = keysFor(t, 2, tc.suites...)
		on, an, err := srtpRoundTrip(t, off, ans)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if on.SRTP.Suite != tc.want || an.SRTP.Suite != tc.want {
			t.Errorf("%s: offerer %v answerer %v, want %q", tc.name, on.SRTP, an.SRTP, tc.want)
		}
	}
}
