package sip

import (
	"testing"

	"github.com/deskphone/phone/voip/codec"
	"github.com/deskphone/phone/voip/sdp"
)

// TestExtraDTMF: Opus's 48 kHz clock gets its own telephone-event, on a
// free dynamic payload type; 8 kHz codecs share the configured one.
func TestExtraDTMF(t *testing.T) {
	ours := []sdp.Format{
		{PT: 111, Name: "opus", Rate: 48000, Channels: 2},
		{PT: 9, Name: "G722", Rate: 8000, Channels: 1},
		{PT: 96, Name: "telephone-event", Rate: 8000, Channels: 1},
	}
	got := extraDTMF(ours, 96)
	if len(got) != 1 || got[0].Rate != 48000 || got[0].PT != 97 || got[0].Fmtp != "0-16" {
		t.Fatalf("got %+v, want telephone-event/48000 on PT 97", got)
	}
	if got := extraDTMF(ours[1:], 96); len(got) != 0 {
		t.Errorf("narrowband clocks only: %+v", got)
	}
	if f := codecFormat(codec.PCMU, nil, 111); f.PT != 0 || f.Channels != 1 || f.Fmtp != "" || f.Rate != 8000 {
		t.Errorf("PCMU: %+v", f)
	}
	if cod, ok := codec.ByName("opus"); ok {
		if f := codecFormat(cod, nil, 101); f.PT != 111 || f.Name != "opus" || f.Rate != 48000 || f.Channels != 2 || f.Fmtp == "" {
			t.Errorf("opus: %+v", f)
		}
		if f := codecFormat(cod, nil, 111); f.PT != 112 {
			t.Errorf("opus with telephone-event on 111: PT %d, want 112", f.PT)
		}
	}
}
