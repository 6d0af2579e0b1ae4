package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestSRTPSuites: srtp_suites takes the three suites in any order (case
// folded), refuses unknown and repeated names with file:line: field,
// survives Marshal and Clone, and is absent (the default) when not set.
func TestSRTPSuites(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want []string
		err  string
	}{
		{"", nil, ""},
		{"srtp_suites: [aes_cm_128_hmac_sha1_32]\n", []string{"AES_CM_128_HMAC_SHA1_32"}, ""},
		{"srtp_suites: [AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM]\n", []string{"AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"}, ""},
		{"srtp_suites: [AES_256_CM_HMAC_SHA1_80]\n", nil, `phone.yaml:5: accounts[0].srtp_suites[0]: "AES_256_CM_HMAC_SHA1_80" is not one of AEAD_AES_128_GCM, AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32`},
		{"srtp_suites:\n      - AEAD_AES_128_GCM\n      - AEAD_AES_128_GCM\n", nil, `phone.yaml:7: accounts[0].srtp_suites[1]: "AEAD_AES_128_GCM" is listed twice`},
	} {
		c, err := Parse("phone.yaml", []byte("accounts:\n  - user: a\n    domain: example.com\n    srtp: off\n    "+tc.yaml))
		if tc.err != "" {
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.yaml, err)
			continue
		}
		if got := c.Accounts[0].SRTPSuites; !slices.Equal(got, tc.want) {
			t.Errorf("%q: suites %v, want %v", tc.yaml, got, tc.want)
		}
		out, err := Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(string(out), "srtp_suites"); has != (tc.want != nil) {
			t.Errorf("%q: marshal has srtp_suites %v:\n%s", tc.yaml, has, out)
		}
		back, err := Parse("again.yaml", out)
		if err != nil || !slices.Equal(back.Accounts[0].SRTPSuites, tc.want) {
			t.Errorf("%q: round trip %v %v", tc.yaml, back.Accounts[0].SRTPSuites, err)
		}
		if cl := c.Clone(); len(tc.want) > 0 {
			cl.Accounts[0].SRTPSuites[0] = "x"
			if c.Accounts[0].SRTPSuites[0] == "x" {
				t.Errorf("%q: Clone shares the suite list", tc.yaml)
			}
		}
	}
}
