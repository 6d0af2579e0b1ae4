package sdp

import (
	"slices"
	"testing"
)

// TestKeepCodec: a later offer lists only the running codec, with the
// session's payload type and our parameters, then telephone-event and
// CN; a codec we do not have leaves our list as it is.
func TestKeepCodec(t *testing.T) {
	ours := []Format{
		{PT: 9, Name: "G722", Rate: 8000, Channels: 1},
		{PT: 111, Name: "opus", Rate: 48000, Channels: 2, Fmtp: "useinbandfec=1"},
		{PT: 0, Name: "PCMU", Rate: 8000, Channels: 1},
		{PT: 101, Name: "telephone-event", Rate: 8000, Channels: 1, Fmtp: "0-16"},
		{PT: 13, Name: "CN", Rate: 8000, Channels: 1},
	}
	names := func(fs []Format) (s []string) {
		for _, f := range fs {
			s = append(s, f.Name)
		}
		return s
	}
	// PCMU from a static payload type without a=rtpmap.
	got := KeepCodec(ours, Format{PT: 0})
	if !slices.Equal(names(got), []string{"PCMU", "telephone-event", "CN"}) || got[0].PT != 0 {
		t.Errorf("PCMU session: %+v", got)
	}
	// Opus under the far end's payload type keeps our fmtp.
	got = KeepCodec(ours, Format{PT: 96, Name: "OPUS", Rate: 48000, Channels: 2, Fmtp: "stereo=1"})
	if len(got) != 3 || got[0].PT != 96 || got[0].Fmtp != "useinbandfec=1" || got[0].Name != "opus" {
		t.Errorf("opus session: %+v", got)
	}
	// An extra on the session's payload type is left out.
	got = KeepCodec(ours, Format{PT: 101, Name: "G722", Rate: 8000})
	if !slices.Equal(names(got), []string{"G722", "CN"}) {
		t.Errorf("G.722 on PT 101: %+v", got)
	}
	for _, cur := range []Format{{PT: 18, Name: "G729", Rate: 8000}, {PT: 101, Name: "telephone-event", Rate: 8000}, {PT: 77}} {
		if got := KeepCodec(ours, cur); !slices.Equal(got, ours) {
			t.Errorf("%+v: %+v, want ours unchanged", cur, got)
		}
	}
	if ours[0].PT != 9 || ours[1].PT != 111 {
		t.Error("ours was modified")
	}
}
