package opus

import (
	"errors"
	"testing"
)

func TestParseFmtp(t *testing.T) {
	p, err := ParseFmtp("maxplaybackrate=16000; sprop-maxcapturerate=16000;maxaveragebitrate=20000; stereo=1;sprop-stereo=0; cbr=1; useinbandfec=1; usedtx=1; x-unknown=7")
	if err != nil {
		t.Fatal(err)
	}
	want := Params{MaxPlaybackRate: 16000, SpropMaxCaptureRate: 16000, MaxAverageBitrate: 20000,
		Stereo: true, CBR: true, UseInbandFEC: true, UseDTX: true}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	if p.Bitrate() != 20000 {
		t.Errorf("bitrate %d", p.Bitrate())
	}
	p, err = ParseFmtp("maxaveragebitrate=99; useinbandfec=yes; stereo; usedtx=1")
	if !errors.Is(err, ErrFmtp) {
		t.Fatalf("err %v", err)
	}
	if p != (Params{UseDTX: true}) {
		t.Errorf("the valid parameter was lost: %+v", p)
	}
	t.Log(err)
	if (Params{}).Bitrate() != DefaultBitrate || (Params{MaxAverageBitrate: 64000}).Bitrate() != DefaultBitrate {
		t.Error("default bit rate")
	}
}

// TestLocalRoundTrip: our a=fmtp reads back as what we meant.
func TestLocalRoundTrip(t *testing.T) {
	s := Local.String()
	const want = "maxplaybackrate=16000; sprop-maxcapturerate=16000; maxaveragebitrate=24000; stereo=0; sprop-stereo=0; useinbandfec=1"
	if s != want {
		t.Errorf("Local is %q, want %q", s, want)
	}
	p, err := ParseFmtp(s)
	if err != nil || p != Local {
		t.Errorf("%q reads back as %+v, %v", s, p, err)
	}
}

// FuzzParseFmtp: any input gives Params whose values are in range and
// that survive String and ParseFmtp; never a panic.
func FuzzParseFmtp(f *testing.F) {
	for _, s := range []string{Local.String(), "", ";;", "useinbandfec=1", "maxaveragebitrate=510001", "STEREO = 1 ; x=y=z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, _ := ParseFmtp(s)
		if p.MaxAverageBitrate != 0 && (p.MaxAverageBitrate < MinBitrate || p.MaxAverageBitrate > MaxBitrate) {
			t.Fatalf("bit rate %d from %q", p.MaxAverageBitrate, s)
		}
		if b := p.Bitrate(); b < MinBitrate || b > DefaultBitrate {
			t.Fatalf("encoder bit rate %d from %q", b, s)
		}
		q, err := ParseFmtp(p.String())
		if err != nil || q != p {
			t.Fatalf("%q: %+v formats as %q, reads back as %+v, %v", s, p, p.String(), q, err)
		}
	})
}
