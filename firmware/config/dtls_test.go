package config

import (
	"errors"
	"strings"
	"testing"
)

// TestSRTPKeying: srtp_keying takes sdes, dtls or both; dtls needs no TLS
// signalling (no keys travel in the SDP), sdes and both still do; the
// key survives Marshal.
func TestSRTPKeying(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		err  string
	}{
		{"srtp: required\n    srtp_keying: dtls\n", ""},
		{"srtp: optional\n    srtp_keying: DTLS\n", ""},
		{"srtp: required\n    srtp_keying: both\n", "accounts[0].srtp: required needs transport tls"},
		{"srtp: required\n    srtp_keying: sdes\n    srtp_over_insecure: true\n", ""},
		{"srtp: required\n    srtp_keying: zrtp\n", `phone.yaml:5: accounts[0].srtp_keying: "zrtp" is not one of sdes, dtls, both`},
	} {
		c, err := Parse("phone.yaml", []byte("accounts:\n  - user: a\n    domain: example.com\n    "+tc.yaml))
		if tc.err == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.yaml, err)
				continue
			}
			out, err := Marshal(c)
			if err != nil || !strings.Contains(string(out), "srtp_keying: "+strings.ToLower(c.Accounts[0].SRTPKeying)) {
				t.Errorf("%q: marshal %v:\n%s", tc.yaml, err, out)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.err)
		}
	}
}
