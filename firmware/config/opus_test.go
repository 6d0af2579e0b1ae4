package config

import (
	"slices"
	"testing"
)

// TestOpusCodecName: "opus" (RFC 7587's spelling) is a codec name in any
// case, top level and per line; a build without libopus leaves it out of
// offers at run time rather than refusing the file.
func TestOpusCodecName(t *testing.T) {
	c, err := Parse("phone.yaml", []byte("codecs: [opus, G722, PCMU]\naccounts:\n  - user: \"1001\"\n    domain: pbx.example.com\n    codecs: [Opus, PCMA]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"OPUS", "G722", "PCMU"}; !slices.Equal(c.Codecs, want) {
		t.Errorf("codecs %v, want %v", c.Codecs, want)
	}
	if want := []string{"OPUS", "PCMA"}; !slices.Equal(c.Accounts[0].Codecs, want) {
		t.Errorf("line codecs %v, want %v", c.Accounts[0].Codecs, want)
	}
}
