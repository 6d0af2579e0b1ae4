package portmgr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/deskphone/phone/portmgr"
	"github.com/pion/transport/v4/vnet"
)

// TestValidateRanges: RTC's rules for the SIP and media ranges, each
// broken once, with an error that names the range and the rule; New
// refuses the same configurations.
func TestValidateRanges(t *testing.T) {
	r := func(lo, hi uint16) portmgr.Range { return portmgr.Range{Min: lo, Max: hi} }
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.2"}}) // never bound: New fails first
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		sip, media portmgr.Range
		want       string // "" = valid
	}{
		{"defaults", portmgr.DefaultSIPRange, portmgr.DefaultMediaRange, ""},
		{"smallest", r(1024, 1025), r(65532, 65535), ""},
		{"sip below 1024", r(1023, 1030), r(20000, 20099), "sip range 1023-1030: ports below 1024"},
		{"media below 1024", r(5060, 5069), r(100, 199), "media range 100-199: ports below 1024"},
		{"sip min = max", r(5060, 5060), r(20000, 20099), "sip range 5060-5060: min must be less than max"},
		{"media min > max", r(5060, 5069), r(20099, 20000), "media range 20099-20000: min must be less than max"},
		{"media of 3", r(5060, 5069), r(20000, 20002), "media range 20000-20002: needs at least 4 ports"},
		{"overlap", r(5060, 5069), r(5068, 5099), "sip range 5060-5069 overlaps media range 5068-5099"},
		{"media inside sip", r(5000, 6000), r(5500, 5503), "overlaps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := portmgr.ValidateRanges(tc.sip, tc.media)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid ranges refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, portmgr.ErrBadRange) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ValidateRanges(%v, %v) = %v, want ErrBadRange with %q", tc.sip, tc.media, err, tc.want)
			}
			if _, err := portmgr.New(portmgr.Config{Net: n, SIPPorts: tc.sip, MediaPorts: tc.media}); !errors.Is(err, portmgr.ErrBadRange) {
				t.Fatalf("New accepted %v / %v: %v", tc.sip, tc.media, err)
			}
		})
	}
}
